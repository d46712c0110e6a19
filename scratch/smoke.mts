import { buildExampleApp } from '../example-app/app.ts'
const app = await buildExampleApp({ env: { VIX_STORE_PATH: '/tmp/vixsmoke/m.db' } })
await app.listen({ port: 0, host: '127.0.0.1' })
await app.realtime.publish({ room: 'general', type: 'chat.message', id: 'a', payload: { text: 'x' } })
await app.realtime.publish({ room: 'general', type: 'chat.message', id: 'a', payload: { text: 'y' } })
console.log((await app.inject('/ws/history?room=general')).body)
console.log((await app.inject('/ws/history?room=general&limit=0')).body)
console.log((await app.inject('/ws/history?room=general&after=zz')).body)
await app.close()
