import type { Broker } from './types.js'

/**
 * The broker of a single node: local delivery is all there is, so it
 * distributes nothing and has nothing to subscribe to.
 */
export class InProcessBroker implements Broker {
  start (): void {}
  publish (): void {}
  subscribe (): void {}
  unsubscribe (): void {}
  close (): void {}
}
