import { Type } from '@sinclair/typebox'
import { componentRef, websocketExtensionKey } from './openapi.js'
import { CloseCodes } from './protocol.js'
import { ErrorFramePayload, ErrorResponse, JsonMessage, ServerMessage } from './message.js'
import { SenderKey } from './long-polling.js'

/** Why the server closes a socket with each code (RFC 6455 §7.4.1). */
export const closeCodeReasons: Record<number, string> = {
  [CloseCodes.NORMAL]: 'Normal closure',
  [CloseCodes.GOING_AWAY]: 'Server going away (shutdown); preceded by a `system` frame `server.going_away` with `retryAfterMs`',
  [CloseCodes.POLICY]: 'Policy violation: rate limit, or authentication expired',
  [CloseCodes.TOO_BIG]: 'Frame larger than `maxMessageSize`',
  [CloseCodes.INTERNAL]: 'Internal server error',
  [CloseCodes.OVERLOADED]: 'Slow consumer: more than `maxBufferedAmount` bytes waiting in the send buffer, or server overloaded',
  [CloseCodes.DISCONNECTED]: 'Disconnected by the server (`app.realtime.disconnect`, which may give any code from 4000 to 4999); preceded by a `system` frame `session.closed` with `reconnect`',
  [CloseCodes.TOKEN_EXPIRED]: 'The token expired (`VIX_ERR_TOKEN_EXPIRED`): no valid `auth.refresh` within `tokenGrace` after `expiresAt`; preceded by `session.closed`'
}

const errorRef = `${ErrorResponse.$id as string}#`

/** A documented error answer (its examples, one per code its description names, come from lib/openapi/error-examples.ts). */
function errorAnswer (description: string): Record<string, unknown> {
  return { description, $ref: errorRef }
}

/**
 * The `x-vix-websocket` extension of the upgrade operation: which components
 * describe the frames each way, and the close codes. The docs plugin adds the
 * message catalogue (`x-vix-messages`) next to it when the document is built.
 */
export const websocketExtension = {
  clientFrame: componentRef(JsonMessage.$id),
  serverFrame: componentRef(ServerMessage.$id),
  errorFramePayload: componentRef(ErrorFramePayload.$id),
  closeCodes: Object.values(CloseCodes).map((code) => ({ code, reason: closeCodeReasons[code] }))
}

const closeCodeTable = websocketExtension.closeCodes.map(({ code, reason }) => `| ${code} | ${reason} |`).join('\n')

/**
 * Route schema of the WebSocket upgrade endpoint (`GET /ws`). There is no
 * `headers` schema on purpose: it would answer a plain GET with 400 instead of 426.
 */
export const websocketRouteSchema = {
  summary: 'Open a realtime WebSocket session',
  description: `Upgrades the connection to a WebSocket (RFC 6455): send \`Connection: Upgrade\`, \`Upgrade: websocket\`, \`Sec-WebSocket-Version: 13\` and a \`Sec-WebSocket-Key\`. A plain GET is answered \`426 Upgrade Required\`.

**Client → server frames**: UTF-8 JSON text frames matching \`${JsonMessage.$id as string}\`. The built-in types are \`room.join\` \`{room, since?}\` (acked with \`{room, recovered, replayed, latestId}\`) and \`room.leave\` \`{room}\`; a message with an \`id\` is acked once accepted. Text that is not JSON, or JSON without \`type\`, and binary frames go to raw handlers.

**Server → client frames**: JSON text frames matching \`${ServerMessage.$id as string}\`, \`kind\` being \`event\`, \`ack\`, \`error\` (payload \`${ErrorFramePayload.$id as string}\`, e.g. \`VIX_ERR_INVALID_MESSAGE\` with a \`path\`; the connection stays open) or \`system\`.

The message types this server knows, with their payload schemas, are listed in the \`x-vix-messages\` extension of this operation; \`x-vix-websocket\` names the frame schemas and the close codes.

**Close codes**

| code | meaning |
| --- | --- |
${closeCodeTable}`,
  tags: ['realtime'],
  operationId: 'openWebSocket',
  querystring: Type.Object({ client_key: Type.Optional(SenderKey) }),
  response: {
    101: {
      description: 'Switching Protocols: the connection is now a WebSocket session carrying the frames described above',
      type: 'null',
      headers: {
        upgrade: { type: 'string', description: 'Always `websocket`' },
        connection: { type: 'string', description: 'Always `Upgrade`' },
        'sec-websocket-accept': { type: 'string', description: 'Hash of the client key (RFC 6455 §4.2.2)' }
      }
    },
    401: errorAnswer('The `authenticate` option rejected the client (VIX_ERR_UNAUTHORIZED)'),
    403: errorAnswer('The `Origin` header is not in `allowedOrigins` (VIX_ERR_FORBIDDEN)'),
    426: errorAnswer('Upgrade Required: a plain GET without a WebSocket upgrade (VIX_ERR_UPGRADE_REQUIRED)'),
    429: errorAnswer('Refused before the upgrade: `limits.maxConnectionsPerIp` or `limits.maxConnectionsPerIdentity` reached (VIX_ERR_LIMIT_EXCEEDED)'),
    503: errorAnswer('The server is shutting down (VIX_ERR_SHUTTING_DOWN), or `limits.maxConnections` sessions are open (VIX_ERR_SERVER_FULL); retry after `Retry-After` seconds')
  },
  [websocketExtensionKey]: websocketExtension
}
