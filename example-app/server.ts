import closeWithGrace from 'close-with-grace'
import { buildExampleApp } from './app.js'
import { addressInUseHint, baseUrlOf, startBanner } from './banner.js'

const host = process.env.HOST ?? '127.0.0.1'
const port = Number(process.env.PORT ?? 8080)

let app: Awaited<ReturnType<typeof buildExampleApp>>
try {
  app = await buildExampleApp({ logger: true })
} catch (error) {
  // A bad variable, or Redis / PostgreSQL unreachable with VIX_FAIL_FAST=1: one line with the code, then exit 1.
  const { code, message } = error as { code?: string, message?: string }
  process.stderr.write(`${JSON.stringify({ level: 60, time: Date.now(), code, msg: `boot failed: ${message ?? String(error)}` })}\n`)
  process.exit(1)
}

const closeListeners = closeWithGrace({ delay: 15_000 }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

try {
  await app.listen({ host, port })
} catch (error) {
  if ((error as { code?: string }).code !== 'EADDRINUSE') throw error
  // The port is taken: say what to do (one line, as a boot failure), close what was opened, exit 1.
  closeListeners.uninstall()
  process.stderr.write(`${JSON.stringify({ level: 60, time: Date.now(), code: 'EADDRINUSE', msg: addressInUseHint(host, port) })}\n`)
  await app.close()
  process.exit(1)
}
// For the person who ran `npm start` (stderr, so stdout stays one JSON log line each).
const address = app.server.address()
process.stderr.write(startBanner(baseUrlOf(host, typeof address === 'object' && address !== null ? address.port : port), process.env))
