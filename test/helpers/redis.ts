import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { PrivateServer } from './private-server.js'

/** The shared test Redis; `VIX_TEST_REDIS_URL` overrides it. */
export const redisUrl = process.env.VIX_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Whether Redis answers, with the reason when not (for `requireService`). */
export async function redisAvailable (url = redisUrl): Promise<{ ok: boolean, reason: string }> {
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 2000, maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
    return { ok: true, reason: '' }
  } catch (error) {
    return { ok: false, reason: `${url} does not answer (${(error as Error).message})` }
  } finally {
    client.disconnect()
  }
}

/** A channel prefix no other test run uses. */
export function uniquePrefix (): string {
  return `vixtest:${process.pid}:${randomBytes(4).toString('hex')}:`
}

export { freePort } from './private-server.js'

/**
 * A redis-server of the test's own on a free port, without persistence, that
 * can be stopped and started again on the same port (an outage). The shared
 * Redis is never touched.
 */
export class PrivateRedis extends PrivateServer {
  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  protected command (): [string, string[]] {
    return ['redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']]
  }

  protected async answers (): Promise<boolean> {
    return (await redisAvailable(this.url)).ok
  }
}
