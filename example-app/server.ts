import closeWithGrace from 'close-with-grace'
import { buildExampleApp } from './app.js'

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

closeWithGrace({ delay: 15_000 }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

await app.listen({ host, port })
