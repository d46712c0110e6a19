import { messagesExtensionKey, websocketExtensionKey, type DocumentedMessage } from '../openapi/catalogue.js'
import { componentRef, uniqueName, type OpenApiDocument } from '../openapi/document.js'
import { documentedOperations } from '../openapi/operations.js'
import { literalUnionsAsEnums } from '../openapi/enums.js'
import { JsonMessage, sharedSchemas } from '../../schemas/message.js'
import { PollResponse } from '../../schemas/long-polling.js'
import { entryMessages, genericAck, protocolMessages, type AsyncApiMessage } from './messages.js'

/** What the AsyncAPI document is built from besides the OpenAPI one. */
export interface AsyncApiContext {
  info: { title: string, version: string, description?: string }
  /** `host[:port]` the clients reach the server at (the request's `Host`). */
  host: string
  /** Whether that is over TLS (`wss`/`https`). */
  secure: boolean
  /** Absolute URL of the OpenAPI document, when it is served. */
  openapiUrl?: string
  /** Presence is on: document `presence.state` and `presence.diff`. */
  presence: boolean
}

/** The loose shape of an AsyncAPI 3.0 document: what vix-realtime writes. */
export interface AsyncApiDocument {
  asyncapi: '3.0.0'
  info: Record<string, unknown>
  defaultContentType: string
  servers: Record<string, Record<string, unknown>>
  channels: Record<string, Record<string, any>>
  operations: Record<string, Record<string, any>>
  components: { schemas: Record<string, unknown>, messages: Record<string, AsyncApiMessage> }
}

export const channelName = 'realtime'
const channelRef = { $ref: `#/channels/${channelName}` }
const messageRef = (key: string): { $ref: string } => ({ $ref: `#/channels/${channelName}/messages/${key}` })

/** Every `$ref` to a component schema in `value`, by component name. */
function referencedSchemas (value: unknown, found: Set<string>): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) referencedSchemas(item, found)
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith('#/components/schemas/')) found.add(child.slice('#/components/schemas/'.length))
      else referencedSchemas(child, found)
    }
  }
  return found
}

/** The shared schemas as components, for a document that lacks them (docs without a hub). */
const sharedComponents: Record<string, unknown> = Object.fromEntries(sharedSchemas.map((schema) => {
  const { $id, ...component } = JSON.parse(JSON.stringify(schema))
  return [$id, component]
}))

/** The component schemas `messages` use, with the ones those use in turn, copied from the OpenAPI document. */
function reachableSchemas (openapi: OpenApiDocument, messages: object): Record<string, unknown> {
  const all = { ...sharedComponents, ...openapi.components?.schemas }
  const schemas: Record<string, unknown> = {}
  const pending = [...referencedSchemas(messages, new Set())]
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (Object.hasOwn(schemas, name) || !Object.hasOwn(all, name)) continue
    schemas[name] = literalUnionsAsEnums(structuredClone(all[name]))
    pending.push(...referencedSchemas(schemas[name], new Set()))
  }
  return schemas
}

/** The HTTP operations carrying the same frames: a body of client frames (`POST /ws/send`), an answer of server frames (`GET /ws/poll`), an event stream of them (`GET /ws/sse`). */
function httpOperations (openapi: OpenApiDocument): { sends: string[], polls: string[], streams: string[] } {
  const clientRef = componentRef(JsonMessage.$id).$ref
  const pollRef = componentRef(PollResponse.$id).$ref
  const found = { sends: [] as string[], polls: [] as string[], streams: [] as string[] }
  for (const [name, operation] of documentedOperations(openapi)) {
    if (operation.requestBody?.content?.['application/json']?.schema?.$ref === clientRef) found.sends.push(`\`${name}\` sends client frames (the body is one)`)
    if (operation.responses?.['200']?.content?.['application/json']?.schema?.$ref === pollRef) found.polls.push(`\`${name}\` receives the server frames (\`messages\`)`)
    if (operation.responses?.['200']?.content?.['text/event-stream'] !== undefined) found.streams.push(`\`${name}\` streams the server frames (one \`data:\` line of JSON each, \`id:\` a resume cursor)`)
  }
  return found
}

/** An HTTP server of the same messages, its routes described in the OpenAPI document. */
function httpServer (context: AsyncApiContext, description: string): Record<string, unknown> {
  const server: Record<string, unknown> = { host: context.host, protocol: context.secure ? 'https' : 'http', description: `${description}. The routes are described in the OpenAPI document.` }
  if (context.openapiUrl !== undefined) server.externalDocs = { description: 'OpenAPI 3.1 document of the HTTP routes', url: context.openapiUrl }
  return server
}

/** Servers: the WebSocket endpoint and, when they are on, the long-poll fallback and the SSE stream carrying the same messages. */
function serversOf (context: AsyncApiContext, http: ReturnType<typeof httpOperations>): Record<string, Record<string, unknown>> {
  const servers: Record<string, Record<string, unknown>> = {
    websocket: { host: context.host, protocol: context.secure ? 'wss' : 'ws', description: 'The realtime WebSocket endpoint: one JSON text frame per message.' }
  }
  if (http.polls.length > 0) servers.longPolling = httpServer(context, `The long-polling fallback carries the same messages over HTTP: ${[...http.polls, ...http.sends].join('; ')}`)
  if (http.streams.length > 0) servers.sse = httpServer(context, `Server-Sent Events carry the same messages: ${[...http.streams, ...http.sends].join('; ')}`)
  return servers
}

function operation (action: 'send' | 'receive', title: string, keys: string[], reply?: string[]): Record<string, unknown> {
  const result: Record<string, unknown> = { action, title, channel: channelRef, messages: keys.map(messageRef) }
  if (reply !== undefined) result.reply = { channel: channelRef, messages: reply.map(messageRef) }
  return result
}

/**
 * The AsyncAPI 3.0 document of the realtime channel, from the OpenAPI document
 * (after `documentCatalogue`): every message type in both directions, as
 * operations of the server application — it `receive`s what clients send
 * (replying with the ack or an error frame) and `send`s events, errors and
 * system frames. Payload schemas are the OpenAPI components, by the same names.
 *
 * @example
 * buildAsyncApiDocument(documentCatalogue(app.swagger(), app.realtime.catalogue()), { info, host: 'localhost:8080', secure: false, presence: false })
 */
export function buildAsyncApiDocument (openapi: OpenApiDocument, context: AsyncApiContext): AsyncApiDocument {
  const websocket = [...documentedOperations(openapi)].find(([, operation]) => operation[websocketExtensionKey] !== undefined)
  const catalogue: DocumentedMessage[] = websocket?.[1][messagesExtensionKey] ?? []
  const messages: Record<string, AsyncApiMessage> = protocolMessages(context.presence)
  const operations: Record<string, Record<string, unknown>> = {}
  const add = (base: string, value: AsyncApiMessage): string => {
    const key = uniqueName(base, messages)
    messages[key] = value
    return key
  }
  const errorKey = add('error', entryMessages(catalogue.find((entry) => entry.type === 'error') ?? { type: 'error', direction: 'server', builtIn: true, relay: false }).frame)
  // The built-in frames protocolMessages wrote already (presence.state, presence.diff) are not added twice.
  const written = new Set(Object.keys(messages))
  for (const entry of catalogue.filter((candidate) => candidate.type !== 'error' && !(candidate.builtIn && written.has(candidate.type)))) {
    const { frame, ack, event } = entryMessages(entry)
    const key = add(entry.type, frame)
    if (entry.direction === 'server') {
      operations[uniqueName(`send.${entry.type}`, operations)] = operation('send', `Send ${entry.type}`, [key])
      continue
    }
    const ackKey = ack === undefined ? genericAck : add(`${entry.type}.ack`, ack)
    operations[uniqueName(`receive.${entry.type}`, operations)] = operation('receive', `Receive ${entry.type}`, [key], [ackKey, errorKey])
    if (event !== undefined) operations[uniqueName(`send.${entry.type}`, operations)] = operation('send', `Send ${entry.type} to the room`, [add(`${entry.type}.event`, event)])
  }
  operations[uniqueName('send.error', operations)] = operation('send', 'Send an error frame', [errorKey])
  for (const key of ['presence.state', 'presence.diff'].filter((name) => Object.hasOwn(messages, name))) {
    operations[uniqueName(`send.${key}`, operations)] = operation('send', `Send ${key}`, [key])
  }

  const servers = serversOf(context, httpOperations(openapi))
  const channel: Record<string, unknown> = {
    address: websocket?.[0].replace(/^GET /, '') ?? null,
    title: 'Realtime messages',
    description: 'Every message this server knows, both ways: frames a client sends (`VixJsonMessage` envelopes) and frames the server sends (`VixServerMessage`: `event`, `ack`, `error`, `system`).',
    servers: Object.keys(servers).map((name) => ({ $ref: `#/servers/${name}` })),
    messages: Object.fromEntries(Object.keys(messages).map((key) => [key, { $ref: `#/components/messages/${key}` }])),
    bindings: { ws: { method: 'GET', bindingVersion: '0.1.0' } }
  }
  const info: Record<string, unknown> = { ...context.info }
  if (context.openapiUrl !== undefined) info.externalDocs = { description: 'OpenAPI 3.1 document: the HTTP routes and the WebSocket upgrade', url: context.openapiUrl }
  return {
    asyncapi: '3.0.0',
    info,
    defaultContentType: 'application/json',
    servers,
    channels: { [channelName]: channel },
    operations,
    components: { schemas: reachableSchemas(openapi, messages), messages }
  }
}
