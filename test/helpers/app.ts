import Fastify, { type FastifyInstance } from 'fastify'
import { join } from 'node:path'
import vixRealtime, { type VixRealtimeOptions } from '../../plugins/index.js'
import { buildExampleApp } from '../../example-app/app.js'

export interface Teardown { teardown: (fn: () => unknown) => void }

/** Build an app with the umbrella plugin, listening on 127.0.0.1:0, closed after the test. */
export async function build (t: Teardown, options: VixRealtimeOptions = {}, setup?: (app: FastifyInstance) => void | Promise<void>): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(vixRealtime, options)
  await setup?.(app)
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

export function baseUrl (app: FastifyInstance, protocol: 'http' | 'ws' = 'http'): string {
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('app is not listening on TCP')
  return `${protocol}://127.0.0.1:${address.port}`
}

/** The example app with its store in the test's directory, listening on 127.0.0.1:0, closed after the test. */
export async function startExampleApp (t: Teardown & { testdir: () => string }, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await buildExampleApp({ env: { VIX_STORE_PATH: join(t.testdir(), 'messages.db'), ...env } })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}
