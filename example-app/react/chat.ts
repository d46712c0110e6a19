// The React version of the example chat (GET /react): @vix-realtime/react's
// hooks over the server's client. Bundled by scripts/build-example.mjs into
// example-app/public/build/react-chat.js (`npm start` and `npm test` build it first).
import { createElement as h, StrictMode, useState, type FormEvent, type ReactNode } from 'react'
import { createRoot } from 'react-dom/client'
import { VixClient } from '@vix-realtime/client'
import { VixProvider, useConnectionState, usePresence, useRoom } from '@vix-realtime/react'

interface ChatPayload { text: string }

function Status (): ReactNode {
  const state = useConnectionState()
  return h('p', { id: 'status', role: 'status', 'data-state': state }, state)
}

function Members ({ room }: { room: string }): ReactNode {
  const members = usePresence(room)
  return h('ul', { id: 'members', 'aria-label': 'Members' },
    members.map((member) => h('li', { key: member.key }, String(member.meta.name ?? member.key))))
}

function Room ({ room }: { room: string }): ReactNode {
  const { messages, publish, state, error } = useRoom<ChatPayload>(room, { keep: 200 })
  const [problem, setProblem] = useState('')
  const send = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault()
    const form = event.currentTarget
    const input = form.elements.namedItem('text') as HTMLInputElement
    const text = input.value.trim()
    if (text === '') return
    input.value = ''
    publish('chat.message', { text }).then(() => { setProblem('') }, (failed: Error) => { setProblem(failed.message) })
  }
  return h('main', null,
    h('h2', null, `#${room} `, h('small', { id: 'room-state' }, state)),
    error === undefined ? null : h('p', { role: 'alert' }, error.message),
    h('ol', { id: 'log', 'aria-label': 'Messages' }, messages.map((message) =>
      h('li', { key: message.id, className: 'message' },
        h('b', { className: 'who' }, String(message.from?.name ?? 'someone')), ': ',
        h('span', { className: 'text' }, message.payload.text)))),
    h('form', { id: 'send', onSubmit: send },
      h('input', { name: 'text', 'aria-label': 'Message', maxLength: 2000, autoComplete: 'off' }),
      h('button', null, 'Send')),
    problem === '' ? null : h('p', { role: 'alert' }, problem),
    h(Members, { room }))
}

function Chat (): ReactNode {
  const [joined, setJoined] = useState<{ client: VixClient, room: string } | null>(null)
  if (joined !== null) {
    return h(VixProvider, { client: joined.client }, h(Status), h(Room, { room: joined.room }))
  }
  const enter = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault()
    const data = new FormData(event.currentTarget)
    const name = String(data.get('name') ?? '').trim()
    const room = String(data.get('room') ?? '').trim() || 'general'
    // The demo's identity: the server takes the name from the query (see the README about real authentication).
    const client = new VixClient({ url: new URL('/ws', location.href).href, query: { name } })
    window.addEventListener('pagehide', () => { client.close() })
    setJoined({ client, room })
  }
  return h('form', { id: 'enter', onSubmit: enter },
    h('label', null, 'Your name ', h('input', { name: 'name', required: true, maxLength: 32 })),
    h('label', null, ' Room ', h('input', { name: 'room', defaultValue: 'general', maxLength: 64 })),
    h('button', null, 'Join'))
}

createRoot(document.getElementById('app') as HTMLElement).render(h(StrictMode, null, h(Chat)))
