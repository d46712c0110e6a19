import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'
import { waitFor } from './wait.js'

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

/** A port free right now: listen on :0, note it, close. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * A redis-server of the test's own on a free port, without persistence, that
 * can be stopped and started again on the same port (an outage). The shared
 * Redis is never touched.
 */
export class PrivateRedis {
  private process: ChildProcess | undefined
  constructor (readonly port: number) {}

  static async start (): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort())
    await redis.start()
    return redis
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start (): Promise<void> {
    this.process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    await waitFor(async () => (await redisAvailable(this.url)).ok, { timeout: 10_000, interval: 50, message: `redis-server on ${this.port} did not start` })
  }

  async stop (): Promise<void> {
    const child = this.process
    if (child === undefined || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
}
