import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { Redis } from 'ioredis'
import { freePort } from '../helpers/redis.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { delay } from '../helpers/wait.js'

/** Where the shared services are (never stopped, never reconfigured: each node reaches them through its own proxies). */
export interface Services { redisUrl: string, postgresUrl: string }

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * A database of the run's own on the shared PostgreSQL server:
 * `vix_chaos_<seed>_<pid>`, created at the start and dropped at the end.
 */
export class RunDatabase {
  private constructor (readonly name: string, private readonly adminUrl: string) {}

  static async create (postgresUrl: string, seed: number): Promise<RunDatabase> {
    const admin = new URL(postgresUrl)
    admin.pathname = '/postgres'
    const database = new RunDatabase(`vix_chaos_${seed}_${process.pid}`, admin.toString())
    await database.dropOrphans()
    await database.run(`DROP DATABASE IF EXISTS ${database.name} WITH (FORCE)`)
    await database.run(`CREATE DATABASE ${database.name}`)
    return database
  }

  /** Drop the databases of runs whose process is gone (one killed before it could clean up). */
  private async dropOrphans (): Promise<void> {
    const client = new pg.Client({ connectionString: this.adminUrl, connectionTimeoutMillis: 5000 })
    await client.connect()
    try {
      const { rows } = await client.query<{ name: string }>("SELECT datname AS name FROM pg_database WHERE datname ~ '^vix_chaos_[0-9]+_[0-9]+$'")
      for (const { name } of rows) {
        const pid = Number(name.split('_').at(-1))
        if (pid !== process.pid && !alive(pid)) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      }
    } finally {
      await client.end().catch(() => {})
    }
  }

  /** Its URL through `port` (a node's proxy) instead of the server's own. */
  urlThrough (port: number): string {
    const url = new URL(this.adminUrl)
    url.host = `127.0.0.1:${port}`
    url.pathname = `/${this.name}`
    return url.toString()
  }

  async drop (): Promise<void> {
    await this.run(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`)
  }

  private async run (sql: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.adminUrl, connectionTimeoutMillis: 5000 })
    await client.connect()
    try {
      await client.query(sql)
    } finally {
      await client.end().catch(() => {})
    }
  }
}

/** Delete the run's keys from the shared Redis (presence and the like): only those under its prefix. */
export async function deleteRedisPrefix (redisUrl: string, prefix: string): Promise<void> {
  const client = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  try {
    await client.connect()
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      if (keys.length > 0) await client.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    client.disconnect()
  }
}

/**
 * Source of a module each node imports first: when its stdin ends (the
 * harness died, even by SIGKILL, and could not clean up) the node kills
 * itself, so a broken run leaves no process behind. Unref'd: it never keeps a
 * node alive that is closing by itself.
 */
export const watchdogModule = `process.stdin.on('end', () => { process.kill(process.pid, 'SIGKILL') })
process.stdin.on('error', () => { process.kill(process.pid, 'SIGKILL') })
process.stdin.resume()
process.stdin.unref?.()
`

export type NodeState = 'starting' | 'up' | 'stopped' | 'down'

/** What a node said at exit, for the report. */
export interface NodeExit {
  node: string
  code: number | null
  signal: string | null
  at: number
  /** The harness killed it (a fault, or the end of the run). */
  expected: boolean
  /** It was serving (not still booting) when it exited. */
  wasServing: boolean
}

/**
 * One example-app process on a fixed port, with its own Redis and
 * PostgreSQL proxies: killed, stopped and restarted on the same port by the
 * fault injector; its output goes to a log file of the run.
 */
export class ChaosNode {
  state: NodeState = 'down'
  private child: ChildProcess | null = null
  private exited: Promise<void> = Promise.resolve()
  private expectExit = false
  private readonly log: WriteStream
  /** Starts of this node (the first included). */
  starts = 0

  constructor (
    readonly index: number,
    readonly name: string,
    readonly port: number,
    readonly redis: TcpProxy,
    readonly postgres: TcpProxy,
    private readonly bundle: string,
    private readonly env: Record<string, string>,
    private readonly execArgv: readonly string[],
    logDir: string,
    private readonly onExit: (exit: NodeExit) => void
  ) {
    this.log = createWriteStream(join(logDir, `node-${name}.log`))
  }

  get base (): string {
    return `http://127.0.0.1:${this.port}`
  }

  get ws (): string {
    return `ws://127.0.0.1:${this.port}/ws`
  }

  get pid (): number | undefined {
    return this.child?.pid
  }

  proxy (dependency: 'redis' | 'pg'): TcpProxy {
    return dependency === 'redis' ? this.redis : this.postgres
  }

  /**
   * Start the process and resolve once it answers `GET /ws` with 426. A
   * process that exits while booting (a dependency down at boot) is started
   * again after a pause, until `deadline`.
   */
  async start (deadline: number): Promise<void> {
    this.state = 'starting'
    for (let attempt = 1; ; attempt++) {
      this.spawnProcess()
      if (await this.listening(deadline)) {
        this.state = 'up'
        return
      }
      if (Date.now() > deadline) {
        this.state = 'down'
        throw new Error(`node ${this.name} did not start before the deadline (attempt ${attempt})`)
      }
      await delay(Math.min(250 * attempt, 2000))
    }
  }

  private spawnProcess (): void {
    this.starts++
    this.expectExit = false
    const child = spawn(process.execPath, [...this.execArgv, this.bundle], {
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      // stdin stays open for the watchdog (`watchdogModule`): it ends when the harness dies.
      stdio: ['pipe', 'pipe', 'pipe']
    })
    this.child = child
    child.stdin?.on('error', () => {})
    this.log.write(`--- start ${this.starts} pid ${String(child.pid)} at ${new Date().toISOString()}\n`)
    child.stdout?.pipe(this.log, { end: false })
    child.stderr?.pipe(this.log, { end: false })
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.log.write(`--- exit code ${String(code)} signal ${String(signal)} at ${new Date().toISOString()}\n`)
        const wasServing = this.child === child && (this.state === 'up' || this.state === 'stopped')
        if (this.child === child) {
          this.child = null
          this.state = 'down'
        }
        this.onExit({ node: this.name, code, signal, at: Date.now(), expected: this.expectExit, wasServing })
        resolve()
      })
    })
  }

  /** Up (426 on `/ws`) before `deadline`? False as soon as the process exits. */
  private async listening (deadline: number): Promise<boolean> {
    const child = this.child
    while (Date.now() < deadline) {
      if (child === null || child.exitCode !== null || child.signalCode !== null) return false
      try {
        const response = await fetch(`${this.base}/ws`, { signal: AbortSignal.timeout(2000) })
        await response.body?.cancel()
        if (response.status === 426) return true
      } catch {}
      await delay(100)
    }
    return false
  }

  /** Send `signal` and resolve once the process exited (SIGKILL after `graceMs`). */
  async kill (signal: 'SIGKILL' | 'SIGTERM', graceMs = 20_000): Promise<void> {
    const child = this.child
    if (child === null) return
    this.expectExit = true
    if (this.state === 'stopped') child.kill('SIGCONT')
    child.kill(signal)
    const timer = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
    await this.exited
    clearTimeout(timer)
  }

  stop (): void {
    if (this.child === null || this.state !== 'up') return
    this.child.kill('SIGSTOP')
    this.state = 'stopped'
  }

  resume (): void {
    if (this.child === null || this.state !== 'stopped') return
    this.child.kill('SIGCONT')
    this.state = 'up'
  }

  /** `GET /ws/ready` when the server has it (200: every dependency up); otherwise up means listening. */
  async ready (): Promise<boolean> {
    if (this.state !== 'up') return false
    try {
      const response = await fetch(`${this.base}/ws/ready`, { signal: AbortSignal.timeout(2000) })
      await response.body?.cancel()
      if (response.status === 404) return await this.listening(Date.now() + 2000)
      return response.status === 200
    } catch {
      return false
    }
  }

  /** End the process for good (SIGCONT first if stopped), and close its log. */
  async destroy (): Promise<void> {
    await this.kill('SIGKILL')
    await new Promise((resolve) => this.log.end(resolve))
  }
}

export interface ClusterOptions {
  services: Services
  database: RunDatabase
  bundle: string
  logDir: string
  nodes: number
  redisPrefix: string
  /** Extra environment of every node. */
  env?: Record<string, string>
  /** Node options before the bundle (the watchdog's `--import`). */
  execArgv?: readonly string[]
  onExit: (exit: NodeExit) => void
}

/** Start `nodes` example-app processes, each with its own two proxies; the first alone (it creates the schema), then the others. */
export async function startCluster (options: ClusterOptions, deadline: number): Promise<ChaosNode[]> {
  const redisTarget = new URL(options.services.redisUrl)
  const nodes: ChaosNode[] = []
  for (let index = 0; index < options.nodes; index++) {
    const redis = await TcpProxy.start(Number(redisTarget.port || 6379), redisTarget.hostname)
    const postgres = await TcpProxy.start(Number(new URL(options.services.postgresUrl).port || 5432), new URL(options.services.postgresUrl).hostname)
    const redisUrl = new URL(options.services.redisUrl)
    redisUrl.host = `127.0.0.1:${redis.port}`
    const env = {
      REDIS_URL: redisUrl.toString(),
      VIX_REDIS_PREFIX: options.redisPrefix,
      DATABASE_URL: options.database.urlThrough(postgres.port),
      // The chaos clients publish faster than a chat user; the limits are not what this run tests.
      VIX_RATE_LIMIT: 'off',
      VIX_MAX_CONNECTIONS_PER_IP: 'off',
      ...options.env
    }
    const name = String.fromCharCode(97 + index)
    nodes.push(new ChaosNode(index, name, await freePort(), redis, postgres, options.bundle, env, options.execArgv ?? [], options.logDir, options.onExit))
  }
  await nodes[0].start(deadline)
  await Promise.all(nodes.slice(1).map(async (node) => { await node.start(deadline) }))
  return nodes
}

/** Kill every node and close every proxy: whatever state the run ended in. */
export async function stopCluster (nodes: readonly ChaosNode[]): Promise<void> {
  await Promise.allSettled(nodes.map(async (node) => {
    await node.destroy()
    await Promise.allSettled([node.redis.close(), node.postgres.close()])
  }))
}
