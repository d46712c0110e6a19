interface Reporter {
  fail: (message: string) => unknown
  comment: (message: string) => unknown
  skip: (name: string, fn: () => void) => unknown
}

/**
 * Skip-or-fail for a test that needs something outside Node (a browser, a
 * database): with it, run; without it, skip with the reason printed, unless
 * `VIX_REQUIRE_SERVICES=1` (CI), where a missing service fails the test.
 *
 * @example
 * if (!requireService(t, 'chromium', existsSync('/usr/bin/chromium'), '/usr/bin/chromium is not installed')) return
 */
export function requireService (t: Reporter, name: string, available: boolean, reason: string): boolean {
  if (available) return true
  if (process.env.VIX_REQUIRE_SERVICES === '1') t.fail(`${name} is required (VIX_REQUIRE_SERVICES=1) but ${reason}`)
  else {
    t.comment(`skipping: ${name} unavailable: ${reason}`)
    t.skip(`${name} unavailable: ${reason}`, () => {})
  }
  return false
}
