import type { Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import vixRealtime, { type VixRealtimeOptions } from '../../plugins/index.js'
import { connect, type ConnectOptions, type TestClient, type TestTransport } from '../../lib/testing/index.js'

export const transports: readonly TestTransport[] = ['websocket', 'polling']

/** What a test body gets for one transport: clients of that transport (closed after the test) and room names of its own. */
export interface OnTransport {
  transport: TestTransport
  /** An in-process client of this transport on `app`, closed at the test's end. */
  connect: (app: FastifyInstance, options?: Omit<ConnectOptions, 'transport'>) => Promise<TestClient>
  /** `name` made unique to this test and transport, so tests can share one app. */
  room: (name: string) => string
}

let rooms = 0

/** One test body, run once per transport (`name [websocket]`, `name [polling]`). */
export function onBothTransports (t: Test, name: string, body: (t: Test, on: OnTransport) => Promise<void>): void {
  for (const transport of transports) {
    t.test(`${name} [${transport}]`, async (t) => {
      const suffix = `${transport}-${++rooms}`
      await body(t, {
        transport,
        connect: async (app, options = {}) => {
          const client = await connect(app, { ...options, transport })
          t.teardown(() => client.close())
          return client
        },
        room: (room) => `${room}-${suffix}`
      })
    })
  }
}

/** A readied app with vix-realtime and `options` (then `setup`), without docs and metrics (nothing these tests read), not listening: the in-process client needs no port. */
export async function inProcessApp (options: VixRealtimeOptions = {}, setup?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(vixRealtime, { docs: false, metrics: false, ...options })
  setup?.(app)
  await app.ready()
  return app
}
