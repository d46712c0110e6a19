import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { freePort, redisAvailable } from './redis.js'
import { waitFor } from './wait.js'

const run = promisify(execFile)

/** One server of the cluster as `CLUSTER NODES` describes it. */
export interface ClusterNode { id: string, port: number, master: boolean, masterId: string | undefined, slots: Array<[number, number]> }

/** A short-lived admin connection to one server: `fn` runs, the connection is closed. */
async function onServer<T> (port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  try {
    await client.connect()
    return await fn(client)
  } finally {
    client.disconnect()
  }
}

function parseNodes (text: string): ClusterNode[] {
  return text.trim().split('\n').filter((line) => !line.includes('fail') && !line.includes('noaddr')).map((line) => {
    const [id, address, flags, masterId, , , , , ...slots] = line.split(' ')
    return {
      id,
      port: Number(address.split('@')[0].split(':')[1]),
      master: flags.includes('master'),
      masterId: masterId === '-' ? undefined : masterId,
      slots: slots.filter((slot) => !slot.startsWith('[')).map((slot) => {
        const [from, to] = slot.split('-').map(Number)
        return [from, to ?? from] as [number, number]
      })
    }
  })
}

/**
 * A Redis Cluster of the test's own: `masters` redis-servers (and `replicas`
 * per master) with `--cluster-enabled yes` on free ports, in a temp dir,
 * joined by `redis-cli --cluster create`. The shared Redis is never touched;
 * `stop()` kills every server and removes the dir.
 *
 * @example
 * const cluster = await PrivateRedisCluster.start({ masters: 3, replicas: 1 })
 * t.teardown(() => cluster.stop())
 */
export class PrivateRedisCluster {
  private readonly processes: ChildProcess[] = []

  private constructor (readonly ports: number[], readonly dir: string, private replicaCount: number) {}

  static async start ({ masters = 3, replicas = 0 } = {}): Promise<PrivateRedisCluster> {
    const count = masters * (1 + replicas)
    const ports = await Promise.all(Array.from({ length: count }, async () => await freePort()))
    const cluster = new PrivateRedisCluster(ports, await mkdtemp(join(tmpdir(), 'vix-redis-cluster-')), masters * replicas)
    try {
      for (const port of ports) {
        cluster.processes.push(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
          '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000', '--dir', cluster.dir], { stdio: 'ignore' }))
      }
      for (const port of ports) {
        await waitFor(async () => (await redisAvailable(`redis://127.0.0.1:${port}`)).ok, { timeout: 10_000, interval: 50, message: `redis-server on ${port} did not start` })
      }
      await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 })
      await cluster.settled()
    } catch (error) {
      await cluster.stop()
      throw error
    }
    return cluster
  }

  /** `host:port` of every server: the seeds a broker is given. */
  get seeds (): string[] {
    return this.ports.map((port) => `127.0.0.1:${port}`)
  }

  /** Every server sees the cluster ok, every slot covered, the same masters, and every replica in place. */
  async settled (timeout = 20_000): Promise<void> {
    await waitFor(async () => {
      const views = await Promise.all(this.ports.map(async (port) => await onServer(port, async (client) => {
        const info = await client.cluster('INFO') as string
        const nodes = parseNodes(await client.cluster('NODES') as string)
        const replicas = nodes.filter((node) => node.masterId !== undefined).length
        return { ok: info.includes('cluster_state:ok') && replicas === this.replicaCount, masters: nodes.filter((node) => node.master && node.slots.length > 0).map((node) => node.id).sort().join() }
      }).catch(() => ({ ok: false, masters: '' }))))
      return views.every((view) => view.ok && view.masters === views[0].masters)
    }, { timeout, interval: 100, message: 'the private Redis Cluster did not settle' })
  }

  /** The servers as one of them sees them now. */
  async nodes (): Promise<ClusterNode[]> {
    return parseNodes(await onServer(this.ports[0], async (client) => await client.cluster('NODES') as string))
  }

  /** The master serving `slot`. */
  async ownerOf (slot: number): Promise<ClusterNode> {
    const owner = (await this.nodes()).find((node) => node.master && node.slots.some(([from, to]) => slot >= from && slot <= to))
    if (owner === undefined) throw new Error(`no master serves slot ${slot}`)
    return owner
  }

  /** A manual `CLUSTER FAILOVER` on a replica of `master`: it becomes master, `master` its replica. Resolves once every server agrees. */
  async failover (master: ClusterNode): Promise<ClusterNode> {
    const replica = (await this.nodes()).find((node) => node.masterId === master.id)
    if (replica === undefined) throw new Error(`master ${master.port} has no replica`)
    await onServer(replica.port, async (client) => await client.cluster('FAILOVER'))
    await waitFor(async () => (await this.nodes()).find((node) => node.id === replica.id)?.master === true, { timeout: 10_000, interval: 50, message: 'the replica did not take over' })
    await this.settled()
    return replica
  }

  /** SIGKILL master `master` (a crash): its replica takes over once the others agree it failed. Resolves with the new master. */
  async crash (master: ClusterNode): Promise<ClusterNode> {
    const replica = (await this.nodes()).find((node) => node.masterId === master.id)
    if (replica === undefined) throw new Error(`master ${master.port} has no replica`)
    const child = this.processes[this.ports.indexOf(master.port)]
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
    this.ports.splice(this.ports.indexOf(master.port), 1)
    this.processes.splice(this.processes.indexOf(child), 1)
    this.replicaCount--
    await waitFor(async () => (await this.nodes()).find((node) => node.id === replica.id)?.master === true, { timeout: 15_000, interval: 100, message: 'the replica did not take over' })
    await this.settled()
    return replica
  }

  /** Move one `slot` (with its keys, if any) to master `to`, as `redis-cli --cluster reshard` does: SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE everywhere. */
  async migrate (slot: number, to: ClusterNode): Promise<void> {
    const from = await this.ownerOf(slot)
    if (from.id === to.id) return
    await onServer(to.port, async (client) => await client.cluster('SETSLOT', slot, 'IMPORTING', from.id))
    await onServer(from.port, async (client) => {
      await client.cluster('SETSLOT', slot, 'MIGRATING', to.id)
      for (;;) {
        const keys = await client.cluster('GETKEYSINSLOT', slot, 100) as string[]
        if (keys.length === 0) break
        await client.call('MIGRATE', '127.0.0.1', String(to.port), '', '0', '5000', 'KEYS', ...keys)
      }
    })
    for (const node of [to, from]) await onServer(node.port, async (client) => await client.cluster('SETSLOT', slot, 'NODE', to.id))
    for (const node of (await this.nodes()).filter((node) => node.master && node.id !== to.id && node.id !== from.id)) {
      await onServer(node.port, async (client) => await client.cluster('SETSLOT', slot, 'NODE', to.id))
    }
    await this.settled()
  }

  /** How many SPUBLISH each master has run (its `INFO commandstats`), by port. */
  async spublishCalls (): Promise<Map<number, number>> {
    const calls = new Map<number, number>()
    for (const node of (await this.nodes()).filter((node) => node.master)) {
      const stats = await onServer(node.port, async (client) => await client.info('commandstats'))
      calls.set(node.port, Number(/cmdstat_spublish:calls=(\d+)/.exec(stats)?.[1] ?? 0))
    }
    return calls
  }

  /** `CLIENT PAUSE ms ALL` on `node`: it answers no client command for `ms` (a stalled server). */
  async pause (node: ClusterNode, ms: number): Promise<void> {
    await onServer(node.port, async (client) => await client.call('CLIENT', 'PAUSE', String(ms), 'ALL'))
  }

  /** The slot the cluster computes for `key` (`CLUSTER KEYSLOT`). */
  async keySlot (key: string): Promise<number> {
    return await onServer(this.ports[0], async (client) => Number(await client.cluster('KEYSLOT', key)))
  }

  /** Subscribers of a shard `channel` on the master that owns it (`PUBSUB SHARDNUMSUB`). */
  async shardSubscribers (channel: string, slot: number): Promise<number> {
    const owner = await this.ownerOf(slot)
    const reply = await onServer(owner.port, async (client) => await client.call('PUBSUB', 'SHARDNUMSUB', channel) as [string, number])
    return Number(reply[1])
  }

  async stop (): Promise<void> {
    await Promise.all(this.processes.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }))
    await rm(this.dir, { recursive: true, force: true })
  }
}
