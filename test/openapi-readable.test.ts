import t from 'tap'
import SwaggerParser from '@apidevtools/swagger-parser'
import { Type } from '@sinclair/typebox'
import { build } from './helpers/app.js'
import { schemaNamesNote } from '../lib/openapi/catalogue.js'

/** The rows of the message table in the description of `GET /ws`, as cell texts. */
function tableRows (description: string): string[][] {
  return description.split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim()))
}

t.test('with presence on, the OpenAPI document lists presence.state and presence.diff, as the AsyncAPI one does', async (t) => {
  const app = await build(t, { presence: { rooms: 'all' } })
  const document = (await app.inject('/docs/json')).json()
  const operation = document.paths['/ws'].get
  for (const type of ['presence.state', 'presence.diff']) {
    const message = operation['x-vix-messages'].find((m: { type: string }) => m.type === type)
    t.match(message, { type, direction: 'server', builtIn: true, relay: false }, `${type} in x-vix-messages`)
    const component = message.payload.$ref.slice('#/components/schemas/'.length)
    t.ok(document.components.schemas[component], `${type}: its payload schema ${component} is a component`)
    const row = tableRows(operation.description).find((cells) => cells[0] === `\`${type}\``)
    t.same(row?.slice(1, 3), ['server → client', `\`${component}\``], `${type} in the table Swagger UI shows`)
  }
  t.match(document.components.schemas.VixPresenceDiff.properties.leaves.items.required, ['key'])
  await t.resolves(SwaggerParser.validate(structuredClone(document)), 'still a valid document')

  const asyncapi = (await app.inject('/docs/asyncapi.json')).json()
  t.same(Object.keys(asyncapi.components.messages).filter((key) => key.startsWith('presence.')), ['presence.state', 'presence.diff'], 'the AsyncAPI document has each once')
  t.same(Object.keys(asyncapi.operations).filter((key) => key.includes('presence.')), ['send.presence.state', 'send.presence.diff'])
})

t.test('without presence, neither presence frame is listed', async (t) => {
  const app = await build(t)
  const document = (await app.inject('/docs/json')).json()
  t.notOk(document.paths['/ws'].get['x-vix-messages'].some((m: { type: string }) => m.type.startsWith('presence.')))
  t.notMatch(document.paths['/ws'].get.description, 'presence.state')
  t.notOk(document.components.schemas.VixPresenceState, 'no presence component either')
})

t.test('a relay type\'s notes say "relayed to the room" once, said in sentences', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message', 'cursor.move', 'note.add', 'vote.cast'] }, (app) => {
    app.realtime.on('chat.message', { schema: Type.Object({ text: Type.String() }), description: 'A chat line, relayed to the room' })
    app.realtime.on('note.add', { description: 'A note' })
    app.realtime.on('vote.cast', { description: 'A vote, relayed to the room and counted!' })
  })
  const description: string = (await app.inject('/docs/json')).json().paths['/ws'].get.description
  const notes = Object.fromEntries(tableRows(description).map((cells) => [cells[0], cells[4]]))
  t.equal(notes['`chat.message`'], 'A chat line, relayed to the room (`relayTypes`).')
  t.equal(notes['`chat.message`']?.match(/relayed to the room/gi)?.length, 1, 'not twice')
  t.equal(notes['`cursor.move`'], 'Relayed to the room (`relayTypes`).', 'without a description of its own')
  t.equal(notes['`note.add`'], 'A note. Relayed to the room (`relayTypes`).')
  t.equal(notes['`vote.cast`'], 'A vote, relayed to the room and counted! A relay type (`relayTypes`).')
  t.notMatch(description, /Relayed to the room Relayed/i)
})

t.test('the document\'s description links to the AsyncAPI document, which is served there', async (t) => {
  for (const [routePrefix, info] of [['/docs', undefined], ['/api-docs', { description: 'My realtime API.' }]] as const) {
    const app = await build(t, { docs: { routePrefix, info } })
    const document = (await app.inject(`${routePrefix}/json`)).json()
    const link = `[${routePrefix}/asyncapi.json](${routePrefix}/asyncapi.json)`
    t.match(document.info.description, link, `${routePrefix}: the link`)
    if (info !== undefined) t.match(document.info.description, /^My realtime API\.\n\n/, 'after the application\'s own description')
    const asyncapi = await app.inject(`${routePrefix}/asyncapi.json`)
    t.equal(asyncapi.statusCode, 200)
    t.equal(asyncapi.json().asyncapi, '3.0.0')
    t.notMatch(asyncapi.json().info.description ?? '', 'asyncapi.json', 'the AsyncAPI document does not link to itself')
  }
})

t.test('the message table explains how its names meet the Schemas list (titles without Vix)', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const document = (await app.inject('/docs/json')).json()
  const description: string = document.paths['/ws'].get.description
  t.equal(description.split(schemaNamesNote).length, 2, 'the note, once, after the table')
  t.ok(description.indexOf(schemaNamesNote) > description.indexOf('| `chat.message`'))
  // The note's claim holds for every titled vix component.
  for (const [name, schema] of Object.entries<{ title?: string }>(document.components.schemas)) {
    if (name.startsWith('Vix') && schema.title !== undefined) t.equal(`Vix${schema.title}`, name, `${name} is listed as ${schema.title}`)
  }
})
