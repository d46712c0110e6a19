import closeWithGrace from 'close-with-grace'
import { buildExampleApp } from './app.js'

const host = process.env.HOST ?? '127.0.0.1'
const port = Number(process.env.PORT ?? 8080)

const app = await buildExampleApp({ logger: true })

closeWithGrace({ delay: 15_000 }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

await app.listen({ host, port })
