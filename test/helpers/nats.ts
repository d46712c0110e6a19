import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { PrivateServer } from './private-server.js'

/** The shared test NATS; `VIX_TEST_NATS_URL` overrides it. Never stopped by a test: outages go through a `TcpProxy`. */
export const natsUrl = process.env.VIX_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

/** The port of `natsUrl`, for a `TcpProxy` in front of it. */
export const natsPort = Number(new URL(natsUrl).port === '' ? 4222 : new URL(natsUrl).port)

/** Whether a NATS server answers (its greeting is an `INFO` line), with the reason when not (for `requireService`). */
export async function natsAvailable (url = natsUrl): Promise<{ ok: boolean, reason: string }> {
  const { hostname, port } = new URL(url)
  return await new Promise((resolve) => {
    const socket = connect(Number(port === '' ? 4222 : port), hostname)
    const done = (ok: boolean, reason: string): void => { socket.destroy(); resolve({ ok, reason }) }
    socket.setTimeout(2000, () => { done(false, `${url} does not answer (timeout)`) })
    socket.once('data', (data) => {
      done(data.toString().startsWith('INFO '), `${url} answers, but not as NATS`)
    })
    socket.once('error', (error) => { done(false, `${url} does not answer (${error.message})`) })
  })
}

/** A subject prefix no other test run uses. */
export function uniqueNatsPrefix (): string {
  return `vixtest.${process.pid}.${randomBytes(4).toString('hex')}.`
}

/**
 * A nats-server of the test's own (`/usr/sbin/nats-server` or on PATH) on a
 * free port, that can be stopped and started again on the same port (a
 * restart). The shared NATS is never touched.
 *
 * @example
 * const server = await PrivateNats.start()
 * t.teardown(() => server.stop())
 */
export class PrivateNats extends PrivateServer {
  get url (): string {
    return `nats://127.0.0.1:${this.port}`
  }

  protected command (): [string, string[]] {
    return [existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server', ['-a', '127.0.0.1', '-p', String(this.port)]]
  }

  protected async answers (): Promise<boolean> {
    return (await natsAvailable(this.url)).ok
  }
}
