import { format } from 'node:util'
import { errorTable } from '../schemas/protocol.js'
import { codedError, ErrorCodes, type VixError } from './errors.js'
import { redactCredentials } from './redact.js'

/** A dependency is up (reached) or down (unreachable, or not reached yet). */
export type DependencyState = 'up' | 'down'

/** What a dependency is, for readiness answers, metric labels and the one log line of an outage. */
export interface DependencySpec {
  /** Its name in `GET /ws/ready` and in the `dependency` metric label: `redis`, `postgres`. */
  name: string
  /** What it is, in words: `Redis`, `PostgreSQL`. */
  label: string
  /** The option that configures it: `broker.redis`, `store.postgres`. */
  option: string
  /** Its URL when given as one: logged with the password redacted, and the environment variable that holds it is named. */
  url?: string
}

/** The readiness of the node: every dependency up and not shutting down. */
export interface Readiness {
  ready: boolean
  shuttingDown: boolean
  dependencies: Record<string, DependencyState>
}

/** What health logs through (an outage, a recovery): the hub's `Logger` fits. Declared here so health imports no hub module. */
export interface HealthLogger {
  warn: (obj: unknown, msg?: string) => void
  error: (obj: unknown, msg?: string) => void
}

export interface HealthOptions {
  logger?: HealthLogger
  /** Boot fails with `VIX_ERR_DEPENDENCY_UNAVAILABLE` when a dependency cannot be reached at boot (default false: stay up and retry). */
  failFast?: boolean
  /** True once shutdown was requested: readiness goes down. */
  stopping?: () => boolean
}

const silent: HealthLogger = { warn () {}, error () {} }

/** Whether `value` is `url`, or a comma-separated list that holds it (`REDIS_URLS`). */
const holds = (value: string | undefined, url: string): boolean => value === url || (value?.includes(',') === true && value.split(',').some((item) => item.trim() === url))

/**
 * The name of the environment variable whose value is `url` (or a
 * comma-separated list holding it), if one is: the one log line of an outage
 * names where the URL came from. Conventional names first (`REDIS_URL`,
 * `DATABASE_URL`), then any.
 *
 * @example
 * environmentVariableOf('redis://127.0.0.1:6379', ['REDIS_URL']) // 'REDIS_URL' when REDIS_URL holds it
 */
export function environmentVariableOf (url: string | undefined, preferred: readonly string[] = [], env: Record<string, string | undefined> = process.env): string | undefined {
  if (url === undefined || url === '') return undefined
  for (const name of preferred) if (holds(env[name], url)) return name
  for (const [name, value] of Object.entries(env)) if (holds(value, url)) return name
  return undefined
}

/** Conventional environment variables of each dependency, tried first. */
const conventionalVariables: Record<string, readonly string[]> = { redis: ['REDIS_URL'], postgres: ['DATABASE_URL'] }

/** What a broker's connection counts besides up and down: its `vix_broker_link_*` metrics. */
export interface LinkCounts {
  readonly errors: number
  readonly resubscriptions: number
}

/**
 * One dependency's state. Its owner (the Redis broker, the PostgreSQL
 * monitor) reports `up()` and `down(error)`; the first `down` of an outage
 * logs one coded error (`VIX_ERR_DEPENDENCY_UNAVAILABLE`) naming the option
 * and the environment variable, password redacted, and counts an outage;
 * later `down`s of the same outage are silent.
 */
export class Dependency {
  private current: DependencyState = 'down'
  private inOutage = false
  /** Outages since start (the first failure to reach it at boot is one). */
  outages = 0
  /** A broker's connection: its counts (absent for the store). */
  link: LinkCounts | undefined
  readonly variable: string | undefined

  constructor (readonly spec: DependencySpec, private readonly logger: HealthLogger) {
    this.variable = environmentVariableOf(spec.url, conventionalVariables[spec.name])
  }

  get state (): DependencyState {
    return this.current
  }

  /** Where it is configured, for messages: `broker.redis, REDIS_URL=redis://:[redacted]@host:6379`. */
  get where (): string {
    const url = this.spec.url === undefined ? undefined : redactCredentials(this.spec.url)
    if (url === undefined) return this.spec.option
    return this.variable === undefined ? `${this.spec.option} = ${url}` : `${this.spec.option}, ${this.variable}=${url}`
  }

  /** The coded error of this dependency being unreachable because of `cause`. */
  unavailable (cause: unknown): VixError {
    const error = this.described(cause)
    error.cause = cause
    return error
  }

  /** The coded error without its cause: what is logged (the cause's own fields could carry the URL). */
  private described (cause: unknown): VixError {
    // The store's own coded error wraps the driver's: name the driver's reason.
    const wrapped = cause as { code?: unknown, cause?: unknown } | null
    if (wrapped?.code === ErrorCodes.STORE_UNAVAILABLE && wrapped.cause !== undefined) cause = wrapped.cause
    const reason = cause instanceof Error ? cause.message : String(cause)
    const error = codedError(ErrorCodes.DEPENDENCY_UNAVAILABLE, `${this.spec.label} unreachable (${this.where}): ${reason === '' ? 'no answer' : reason}`)
    const causeCode = (cause as { code?: unknown } | null)?.code
    if (typeof causeCode === 'string') (error as VixError & { causeCode?: string }).causeCode = causeCode
    return error
  }

  up (): void {
    const wasOut = this.inOutage
    this.current = 'up'
    this.inOutage = false
    if (wasOut) this.logger.warn({ dependency: this.spec.name, option: this.spec.option }, `vix-realtime: ${this.spec.label} reachable again (${this.where})`)
  }

  down (cause: unknown): void {
    this.current = 'down'
    if (this.inOutage) return
    this.inOutage = true
    this.outages++
    const error = this.described(cause)
    this.logger.error({ err: error, code: error.code, dependency: this.spec.name, option: this.spec.option, env: this.variable },
      `vix-realtime: ${error.message}; the node stays up and retries`)
  }
}

/**
 * The node's dependencies (Redis, PostgreSQL), each reporting up or down,
 * and the readiness they make: `GET /ws/ready` answers from it, the metrics
 * read it at scrape time. A node with neither (one process, SQLite) is ready
 * while it is not shutting down.
 *
 * @example
 * const redis = health.add({ name: 'redis', label: 'Redis', option: 'broker.redis', url })
 * redis.down(error) // logs once per outage
 * health.readiness() // { ready: false, shuttingDown: false, dependencies: { redis: 'down' } }
 */
export class Health {
  private readonly dependencies = new Map<string, Dependency>()
  private readonly logger: HealthLogger

  constructor (private readonly options: HealthOptions = {}) {
    this.logger = options.logger ?? silent
  }

  /** Whether boot fails when a dependency cannot be reached (the `failFast` option). */
  get failFast (): boolean {
    return this.options.failFast === true
  }

  /** Register a dependency (down until its owner reports it up); a second one of the same name replaces it. */
  add (spec: DependencySpec): Dependency {
    const dependency = new Dependency(spec, this.logger)
    this.dependencies.set(spec.name, dependency)
    return dependency
  }

  get (name: string): Dependency | undefined {
    return this.dependencies.get(name)
  }

  /** Every registered dependency, in registration order. */
  list (): Dependency[] {
    return [...this.dependencies.values()]
  }

  readiness (): Readiness {
    const dependencies: Record<string, DependencyState> = {}
    let allUp = true
    for (const [name, dependency] of this.dependencies) {
      dependencies[name] = dependency.state
      if (dependency.state !== 'up') allUp = false
    }
    const shuttingDown = this.options.stopping?.() ?? false
    return { ready: allUp && !shuttingDown, shuttingDown, dependencies }
  }
}

/** The body of a 503 of `GET /ws/ready`: the shared error body (`VIX_ERR_NOT_READY`) with the readiness fields. */
export interface NotReadyBody {
  statusCode: 503
  code: 'VIX_ERR_NOT_READY'
  error: 'Service Unavailable'
  message: string
  status: 'not_ready'
  dependencies: Record<string, DependencyState>
  shuttingDown?: true
}

/** The answer of `GET /ws/ready` for a readiness: 200 `ready`, or 503 `not_ready` with `VIX_ERR_NOT_READY`. */
export function readinessAnswer (readiness: Readiness): { statusCode: 200, body: { status: 'ready', dependencies: Record<string, DependencyState> } } | { statusCode: 503, body: NotReadyBody } {
  const { dependencies } = readiness
  if (readiness.ready) return { statusCode: 200, body: { status: 'ready', dependencies } }
  const reasons = Object.entries(dependencies).filter(([, state]) => state === 'down').map(([name]) => `${name} down`)
  if (readiness.shuttingDown) reasons.unshift('shutting down')
  const body: NotReadyBody = {
    statusCode: 503,
    code: ErrorCodes.NOT_READY,
    error: 'Service Unavailable',
    message: format(errorTable.NOT_READY.message, reasons.join(', ')),
    status: 'not_ready',
    dependencies
  }
  if (readiness.shuttingDown) body.shuttingDown = true
  return { statusCode: 503, body }
}
