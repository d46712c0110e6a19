import { fileURLToPath } from 'node:url'
import { bundleForChild, startNode, type NodeProcess } from './child.js'
import { connectUrl, type TestClient } from './ws-client.js'

const serverFile = fileURLToPath(new URL('../../example-app/server.ts', import.meta.url))

interface ClusterTest { teardown: (fn: () => unknown) => void, testdir: () => string }

/**
 * Example-app nodes in processes of their own, sharing `env` (broker and
 * store variables): the first starts alone (it creates the store's schema,
 * the others find it), then the rest together. Killed at the end of the test.
 *
 * @example
 * const nodes = await startExampleCluster(t, { NATS_URL: natsUrl, DATABASE_URL: postgresUrl }, ['a', 'b', 'c'])
 */
export async function startExampleCluster (t: ClusterTest, env: Record<string, string>, names: string[]): Promise<NodeProcess[]> {
  const bundle = await bundleForChild(serverFile, t.testdir())
  const [first, ...rest] = names
  const nodes = [await startNode(t, bundle, first, env)]
  nodes.push(...await Promise.all(rest.map(async (name) => await startNode(t, bundle, name, env))))
  return nodes
}

/** `perNode` WebSocket clients on each node, every one joined to `room`, closed at the end of the test; node by node. */
export async function membersOn (t: ClusterTest, nodes: NodeProcess[], room: string, perNode: number): Promise<TestClient[]> {
  return await Promise.all(nodes.flatMap((node) => Array.from({ length: perNode }, async () => {
    const client = await connectUrl(node.ws)
    t.teardown(() => { client.close() })
    await client.join(room)
    return client
  })))
}

/** The ids of `room`'s history as `node` answers `GET /ws/history`: the one stored order every client must see. */
export async function storedOrder (node: NodeProcess, room: string, limit = 100): Promise<string[]> {
  const history = await (await fetch(`${node.base}/ws/history?room=${encodeURIComponent(room)}&limit=${limit}`)).json() as { messages: Array<{ id: string }> }
  return history.messages.map((m) => m.id)
}
