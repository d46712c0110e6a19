import type { FastifyInstance } from 'fastify'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { packageRoot } from '../lib/client-script.js'

/** The chat page's files: route → file in example-app/public and its type. */
const files: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/chat.css': ['chat.css', 'text/css; charset=utf-8'],
  '/chat.js': ['chat.js', 'text/javascript; charset=utf-8']
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
}
