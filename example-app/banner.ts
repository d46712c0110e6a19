/** A URL with its password hidden, for printing; what does not parse is printed as given. */
function printable (raw: string): string {
  try {
    const url = new URL(raw)
    if (url.password !== '') url.password = '***'
    return url.toString()
  } catch {
    return raw
  }
}

const nonEmpty = (value: string | undefined): string | undefined => value === undefined || value === '' ? undefined : value

/** The store the example app uses with `env` (as `buildExampleApp` picks it). */
export function storeOf (env: Record<string, string | undefined>): string {
  const database = nonEmpty(env.DATABASE_URL)
  if (database !== undefined) return `PostgreSQL ${printable(database)}, schema ${nonEmpty(env.VIX_PG_SCHEMA) ?? 'public'} (DATABASE_URL)`
  return `SQLite ${env.VIX_STORE_PATH ?? './data/messages.db'} (VIX_STORE_PATH; DATABASE_URL for PostgreSQL)`
}

/** The broker the example app uses with `env`. */
export function brokerOf (env: Record<string, string | undefined>): string {
  const redis = nonEmpty(env.REDIS_URL)
  if (redis !== undefined) return `Redis ${printable(redis)}${nonEmpty(env.VIX_REDIS_PREFIX) === undefined ? '' : `, prefix ${env.VIX_REDIS_PREFIX as string}`} (REDIS_URL)`
  const redisUrls = nonEmpty(env.REDIS_URLS)
  if (redisUrls !== undefined) return `Redis, ${redisUrls.split(',').length} servers ${redisUrls.split(',').map((url) => printable(url.trim())).join(' ')}${nonEmpty(env.VIX_REDIS_PREFIX) === undefined ? '' : `, prefix ${env.VIX_REDIS_PREFIX as string}`} (REDIS_URLS)`
  const seeds = nonEmpty(env.REDIS_CLUSTER)
  if (seeds !== undefined) return `Redis Cluster, sharded, seeds ${seeds.split(',').map((seed) => seed.trim()).join(' ')}${nonEmpty(env.VIX_REDIS_PREFIX) === undefined ? '' : `, prefix ${env.VIX_REDIS_PREFIX as string}`} (REDIS_CLUSTER)`
  const nats = nonEmpty(env.NATS_URL)
  if (nats !== undefined) return `NATS ${printable(nats)}${nonEmpty(env.VIX_NATS_PREFIX) === undefined ? '' : `, prefix ${env.VIX_NATS_PREFIX as string}`} (NATS_URL)`
  return 'in process: this node only (REDIS_URL, REDIS_URLS, REDIS_CLUSTER or NATS_URL to fan out)'
}

/** The base URL to print for a listening `host:port`: a wildcard host is reached as localhost. */
export function baseUrlOf (host: string, port: number): string {
  const reachable = ['0.0.0.0', '::', ''].includes(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host
  return `http://${reachable}:${port}`
}

/**
 * What `npm start` prints once it listens: where to go, which store and which broker.
 *
 * @example
 * startBanner('http://127.0.0.1:8080', process.env)
 */
export function startBanner (base: string, env: Record<string, string | undefined>): string {
  return [
    `vix-realtime example app listening on ${base}`,
    `  chat     ${base}/`,
    `  docs     ${base}/docs  (OpenAPI ${base}/docs/json, AsyncAPI ${base}/docs/asyncapi.json)`,
    `  metrics  ${base}/metrics`,
    `  store    ${storeOf(env)}`,
    `  broker   ${brokerOf(env)}`,
    ''
  ].join('\n')
}

/** What to do when the port is taken (`EADDRINUSE`). */
export function addressInUseHint (host: string, port: number): string {
  return `Port ${port} on ${host} is already in use (another npm start?). Stop that process, or start on another port: PORT=${port + 1} npm start`
}
