import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { optionalPackage } from '../lib/optional.js'

t.test('a missing driver fails with VIX_ERR_INVALID_OPTION naming the option and the package to install', async (t) => {
  const load = optionalPackage('vix-no-such-driver', 'store.postgres')
  t.throws(load, { code: 'VIX_ERR_INVALID_OPTION', message: /"store\.postgres".*"vix-no-such-driver".*npm install vix-no-such-driver/ })
})

t.test('an installed driver is loaded once, on the first call', async (t) => {
  const load = optionalPackage<typeof import('pg')>('pg', 'store.postgres')
  const pg = load()
  t.type(pg.Pool, 'function')
  t.equal(load(), pg)
})

t.test('any other load error is thrown as it is', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vix-optional-'))
  const broken = join(dir, 'broken.cjs')
  writeFileSync(broken, 'throw new Error("driver broke at load")')
  t.throws(optionalPackage(broken, 'store'), { message: 'driver broke at load' })
  // A driver that is there but misses one of its own dependencies is not reported as the driver missing.
  const incomplete = join(dir, 'incomplete.cjs')
  writeFileSync(incomplete, 'require("vix-missing-transitive")')
  t.throws(optionalPackage(incomplete, 'store'), { code: 'MODULE_NOT_FOUND', message: /vix-missing-transitive/ })
})
