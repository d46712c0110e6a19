import type { FastifyInstance } from 'fastify'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { packageRoot } from '../lib/client-script.js'

/** The chat page's files: route → file in example-app/public and its type. */
const files: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/chat.css': ['chat.css', 'text/css; charset=utf-8'],
  '/chat.js': ['chat.js', 'text/javascript; charset=utf-8'],
  // The React version of the page (its script is built: see registerReactBundle).
  '/react': ['react.html', 'text/html; charset=utf-8']
}

/**
 * Serve the chat page (example-app/public) at `/`. Located from the project
 * root, so a bundle of the example app (the process tests) finds it too. The
 * files are read at boot; `no-cache` makes browsers revalidate them.
 */
export async function registerChatPage (app: FastifyInstance): Promise<void> {
  const dir = join(packageRoot(import.meta.url), 'example-app', 'public')
  for (const [url, [file, type]] of Object.entries(files)) {
    const body = await readFile(join(dir, file))
    // Not part of the realtime API: kept out of /docs.
    app.get(url, { schema: { hide: true } }, async (_request, reply) => await reply.type(type).header('cache-control', 'no-cache').send(body))
  }
  registerReactBundle(app, join(dir, 'build', 'react-chat.js'))
}

/**
 * `/react-chat.js`: the React page's bundle, built by `npm run build:example`
 * (run before `npm start` and `npm test`). Read on each request, so a build
 * made while the server runs is served; 404 naming the command until then.
 */
function registerReactBundle (app: FastifyInstance, file: string): void {
  app.get('/react-chat.js', { schema: { hide: true } }, async (_request, reply) => {
    const body = await readFile(file).catch(() => undefined)
    if (body === undefined) return await reply.code(404).type('text/plain; charset=utf-8').send('The React page is not built: run npm run build:example\n')
    return await reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(body)
  })
}
