import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { requireService } from './services.js'

/** Debian's Chromium (`.ci/run` installs it when missing). */
export const chromiumPath = '/usr/bin/chromium'

const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync'
]

/** Screenshots and other browser-test artifacts: `test-artifacts/` at the project root (git-ignored). */
export const artifactsDir = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))

type Reporter = Parameters<typeof requireService>[0] & { teardown: (fn: () => unknown) => void }

/**
 * One headless Chromium for a test file (each page in a context of its own
 * is as isolated as a separate browser, and far cheaper), closed at the end.
 * Resolves to undefined, with the skip or failure reported, when Chromium is
 * not installed.
 *
 * @example
 * const browser = await launchChromium(t)
 * if (browser === undefined) return
 * const page = await (await browser.newContext()).newPage()
 */
export async function launchChromium (t: Reporter): Promise<Browser | undefined> {
  if (!requireService(t, 'chromium', existsSync(chromiumPath), `${chromiumPath} is not installed (apt-get install chromium)`)) return undefined
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs })
  t.teardown(() => browser.close())
  return browser
}

/** Save a screenshot of `page` (the viewport, or the whole page) as `test-artifacts/<name>`; resolves to its path. */
export async function saveScreenshot (page: Page, name: string, fullPage = false): Promise<string> {
  await mkdir(artifactsDir, { recursive: true })
  const path = join(artifactsDir, name)
  await page.screenshot({ path, fullPage })
  return path
}
