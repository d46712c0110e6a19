import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { waitFor } from './wait.js'

/** A port free right now: listen on :0, note it, close. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * A server process of the test's own (redis-server, nats-server) on a port
 * picked by the test, that can be killed and started again on the same port
 * (an outage, a restart). Subclasses say what to run and how to tell it
 * answers; the shared servers are never touched.
 *
 * @example
 * class PrivateRedis extends PrivateServer { ... }
 * const redis = await PrivateRedis.start() // on a free port
 * await redis.stop(); await redis.start()
 */
export abstract class PrivateServer {
  private process: ChildProcess | undefined
  constructor (readonly port: number) {}

  /** A new one on a free port, started. */
  static async start<T extends PrivateServer> (this: new (port: number) => T): Promise<T> {
    const server = new this(await freePort())
    await server.start()
    return server
  }

  abstract get url (): string
  /** The binary and its arguments. */
  protected abstract command (): [string, string[]]
  /** Whether it answers at `url`. */
  protected abstract answers (): Promise<boolean>

  async start (): Promise<void> {
    const [binary, args] = this.command()
    const child = spawn(binary, args, { stdio: 'ignore' })
    this.process = child
    const failed = new Promise<never>((resolve, reject) => { child.once('error', reject) })
    await Promise.race([failed, waitFor(async () => await this.answers(), { timeout: 10_000, interval: 50, message: `${binary} on ${this.port} did not start` })])
  }

  /** SIGKILL, as a crash: nothing is flushed or said goodbye. */
  async stop (): Promise<void> {
    const child = this.process
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
}
