import t from 'tap'
import { JsonMessage } from '../schemas/message.js'
import { compileValidator, decodeFrame } from '../lib/codec.js'

const validator = compileValidator(JsonMessage)
const decode = (text: string): ReturnType<typeof decodeFrame> => decodeFrame(text, false, validator)

t.test('text that is not JSON, or JSON without type, is raw, with the reason it is not typed', async (t) => {
  const notJson = { message: '/: the body is not valid JSON', path: '/' }
  const notObject = { message: '/: Expected a JSON object with a type', path: '/' }
  const noType = { message: '/type: Expected required property', path: '/type' }
  t.same(decode('hello'), { kind: 'raw', data: 'hello', notTyped: notJson })
  t.same(decode('{"broken":'), { kind: 'raw', data: '{"broken":', notTyped: notJson })
  t.same(decode('{"no":"type"}'), { kind: 'raw', data: '{"no":"type"}', notTyped: noType })
  t.same(decode('[1,2]'), { kind: 'raw', data: '[1,2]', notTyped: notObject })
  t.same(decode('"type"'), { kind: 'raw', data: '"type"', notTyped: notObject })
  t.same(decode('null'), { kind: 'raw', data: 'null', notTyped: notObject })
})

t.test('binary frames are raw buffers', async (t) => {
  const buf = Buffer.from([1, 2, 3])
  t.same(decodeFrame(buf, true, validator), { kind: 'raw', data: buf })
})

t.test('a buffer holding text is decoded as text', async (t) => {
  const decoded = decodeFrame(Buffer.from('{"type":"a.b"}'), false, validator)
  t.equal(decoded.kind, 'typed')
})

t.test('valid typed messages pass', async (t) => {
  const decoded = decode('{"id":"c1","room":"r","type":"chat.message","payload":{"text":"hi"},"kind":"event","ts":"x"}')
  t.equal(decoded.kind, 'typed')
  if (decoded.kind === 'typed') t.same(decoded.message.payload, { text: 'hi' })
})

t.test('schema violations are invalid, with the path of the bad field', async (t) => {
  const cases: Array<[string, string]> = [
    ['{"type":5}', '/type'],
    [`{"type":"${'a'.repeat(129)}"}`, '/type'],
    ['{"type":""}', '/type'],
    ['{"type":"bad type!"}', '/type'],
    ['{"type":"a","payload":[1]}', '/payload'],
    ['{"type":"a","payload":"text"}', '/payload'],
    ['{"type":"a","room":""}', '/room'],
    ['{"type":"a","id":7}', '/id'],
    ['{"type":"a","extra":1}', '/extra']
  ]
  for (const [text, path] of cases) {
    const decoded = decode(text)
    t.equal(decoded.kind, 'invalid', text)
    if (decoded.kind === 'invalid') {
      t.equal(decoded.path, path, `${text} → ${path}`)
      t.match(decoded.message, path)
    }
  }
})

t.test('an invalid message keeps a usable client id for the error frame', async (t) => {
  const decoded = decode('{"id":"c9","type":5}')
  t.equal(decoded.kind === 'invalid' && decoded.id, 'c9')
  const noId = decode(`{"id":"${'x'.repeat(200)}","type":5}`)
  t.equal(noId.kind === 'invalid' && noId.id, undefined)
})

t.test('__proto__ and constructor.prototype keys never reach a prototype', async (t) => {
  const decoded = decode('{"type":"a","payload":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1}}')
  t.equal(decoded.kind, 'typed')
  if (decoded.kind === 'typed') {
    const payload = decoded.message.payload as Record<string, unknown>
    t.equal(Object.getPrototypeOf(payload), Object.prototype)
    t.equal(payload.ok, 1)
    t.notOk(Object.hasOwn(payload, '__proto__'))
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  const topLevel = decode('{"type":"a","__proto__":{"polluted":true}}')
  t.equal(topLevel.kind, 'typed')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})
