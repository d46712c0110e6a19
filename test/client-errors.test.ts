import t from 'tap'
import WebSocket from 'ws'
import { ClientErrorCodes, VixClient, VixClientError, type VixClientErrorCode, type VixClientOptions } from '../lib/client/index.js'
import { codeOf } from '../lib/client/errors.js'
import { baseUrl, build } from './helpers/app.js'
import { nextEvent } from './helpers/wait.js'

// Every path that emits `error` hands listeners a VixClientError with a VIX_ERR_* code,
// as the `error` event's type says. Against a real server unless noted.

type App = Awaited<ReturnType<typeof build>>

function client (t: { teardown: (fn: () => unknown) => void }, app: App, options: Partial<VixClientOptions> = {}): VixClient {
  const vix = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, longPolling: false, autoUnref: true, ...options })
  t.teardown(() => { vix.close() })
  return vix
}

/** The next `error` event, checked to be a VixClientError with `code`. */
async function nextError (t: { ok: (value: unknown, message: string) => void, equal: (a: unknown, b: unknown, message: string) => void }, vix: VixClient, code: VixClientErrorCode, trigger: () => unknown): Promise<VixClientError> {
  const [[error]] = await Promise.all([nextEvent(vix, 'error', (e: VixClientError) => e.code === code), Promise.resolve(trigger())])
  t.ok(error instanceof VixClientError, `${code}: a VixClientError`)
  t.equal(error.code, code, `${code}: the code`)
  return error
}

t.test('an error frame nobody waits for is emitted with the server code', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const vix = client(t, app)
  const codes: VixClientErrorCode[] = []
  // Typed, not only at run time: `error.code` does not type-check on a plain Error.
  vix.on('error', (error) => { codes.push(error.code) })
  await vix.connect()
  const unknown = await nextError(t, vix, 'VIX_ERR_UNKNOWN_TYPE', () => vix.send({ type: 'no.such.type', payload: {} }))
  t.match(unknown.message, /no\.such\.type/)
  const notInRoom = await nextError(t, vix, 'VIX_ERR_NOT_IN_ROOM', () => vix.send({ type: 'chat.message', room: 'elsewhere', payload: {} }))
  t.equal(notInRoom.id, undefined, 'no request id: nobody waited for it')
  t.same(codes, ['VIX_ERR_UNKNOWN_TYPE', 'VIX_ERR_NOT_IN_ROOM'])
})

t.test('a refused upgrade, then reconnection given up, are both VixClientErrors', async (t) => {
  const app = await build(t, { authenticate: () => null })
  const vix = client(t, app, { reconnect: false })
  const refused = nextError(t, vix, ClientErrorCodes.CONNECT, () => {})
  const gaveUp = nextError(t, vix, ClientErrorCodes.RECONNECT_FAILED, () => {})
  await t.rejects(vix.connect(), { code: ClientErrorCodes.CLOSED })
  t.equal((await refused).status, 401)
  t.match((await gaveUp).message, /reconnect is off/)
})

t.test('a listener that throws is reported as VIX_ERR_CLIENT_LISTENER with what it threw as cause', async (t) => {
  const app = await build(t)
  const vix = client(t, app)
  await vix.connect()
  const thrown = new TypeError('render failed')
  const offError = vix.on('boom', () => { throw thrown })
  const fromError = await nextError(t, vix, ClientErrorCodes.LISTENER, () => app.realtime.publish({ type: 'boom' }))
  t.equal(fromError.message, 'render failed', "the listener's own message")
  t.equal(fromError.cause, thrown)
  offError()

  // eslint-disable-next-line no-throw-literal
  vix.on('open', () => { throw 'not an Error' })
  const dropped = nextError(t, vix, ClientErrorCodes.LISTENER, () => {})
  for (const session of app.realtime.sessions.values()) session.transport.terminate()
  const fromValue = await dropped
  t.equal(fromValue.cause, 'not an Error')
  t.match(fromValue.message, /"open" listener threw not an Error/)
})

t.test('long polling: an HTTP refusal of a send nobody waits for, and a binary send, are VixClientErrors', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const vix = client(t, app, { WebSocket: undefined as any, transports: ['polling'], longPolling: { wait: 200 } })
  await vix.connect()
  const refused = await nextError(t, vix, 'VIX_ERR_UNKNOWN_TYPE', () => vix.send({ type: 'no.such.type', payload: {} }))
  t.equal(refused.status, 400, 'with the HTTP status')
  await nextError(t, vix, ClientErrorCodes.UNSUPPORTED, () => vix.send(new Uint8Array([1])))
})

t.test('codes are taken from frames and bodies only when they are VIX_ERR_* codes', async (t) => {
  t.equal(codeOf('VIX_ERR_FORBIDDEN', ClientErrorCodes.HTTP), 'VIX_ERR_FORBIDDEN')
  t.equal(codeOf('FST_ERR_CTP_INVALID_MEDIA_TYPE', ClientErrorCodes.HTTP), ClientErrorCodes.HTTP, "a proxy's or another framework's code")
  t.equal(codeOf('vix_err_forbidden', ClientErrorCodes.INTERNAL), ClientErrorCodes.INTERNAL)
  t.equal(codeOf(403, ClientErrorCodes.INTERNAL), ClientErrorCodes.INTERNAL)
  t.equal(codeOf(undefined, ClientErrorCodes.HTTP), ClientErrorCodes.HTTP)
})
