import { createHash, randomBytes } from 'node:crypto'
import pg from 'pg'

/** The shared test database (trust auth); `VIX_TEST_DATABASE_URL` overrides it. */
export const postgresUrl = process.env.VIX_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Whether PostgreSQL answers, with the reason when not (for `requireService`). */
export async function postgresAvailable (url = postgresUrl): Promise<{ ok: boolean, reason: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return { ok: true, reason: '' }
  } catch (error) {
    return { ok: false, reason: `${url} does not answer (${(error as Error).message})` }
  } finally {
    await client.end().catch(() => {})
  }
}

/** One name per test run, so runs (and parallel test files) never share a schema. */
const run = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`

/** A schema name unique to this run and `key` (e.g. a test's directory): the same key gives the same schema within a run. */
export function schemaFor (key: string): string {
  return `vix_t_${run}_${createHash('sha1').update(key).digest('hex').slice(0, 10)}`
}

/** Drop every schema this run created (a teardown of the test file). */
export async function dropRunSchemas (url = postgresUrl): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ name: string }>('SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE $1', [`vix_t_${run}_%`])
    for (const { name } of rows) await client.query(`DROP SCHEMA "${name}" CASCADE`)
  } finally {
    await client.end()
  }
}
