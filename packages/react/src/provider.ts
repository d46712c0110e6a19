import { createContext, createElement, useContext, useEffect, useState, type ReactNode } from 'react'
import { ClientErrorCodes, VixClientError, type VixClient } from '@vix-realtime/client'
import { RoomShares } from './room-shares.js'

/** What the provider hands its descendants: the client and the shared joins of its rooms. */
export interface VixContextValue {
  client: VixClient
  rooms: RoomShares
}

const VixContext = createContext<VixContextValue | null>(null)

export interface VixProviderProps {
  /** The one client of this tree (made by the app, e.g. `new VixClient({ url })` in a module or a `useState` initializer). */
  client: VixClient
  /** How long a room no component uses stays joined, in ms (default 2500): a remount within it does not rejoin. Read when the provider mounts (or gets another client). */
  leaveDelay?: number
  /** Call `client.connect()` when mounted if the client is closed (default true). */
  connect?: boolean
  children?: ReactNode
}

/**
 * Holds one client for the components below it; the hooks find it here.
 * Connects the client when mounted (it stays open on unmount: the app owns it).
 *
 * @example
 * const client = new VixClient({ url: new URL('/ws', location.href).href })
 * createRoot(root).render(createElement(VixProvider, { client }, createElement(Chat)))
 */
export function VixProvider ({ client, leaveDelay, connect = true, children }: VixProviderProps): ReactNode {
  const [value, setValue] = useState<VixContextValue>(() => ({ client, rooms: new RoomShares(client, { leaveDelay }) }))
  // Another client: new shares; the hooks move to it, and release (so leave after the delay) the old client's rooms.
  if (value.client !== client) setValue({ client, rooms: new RoomShares(client, { leaveDelay }) })
  useEffect(() => {
    // A failed attempt is reported on the client's `error` event; connect() keeps retrying meanwhile.
    if (connect && client.state === 'closed') client.connect().catch(() => {})
  }, [client, connect])
  return createElement(VixContext.Provider, { value }, children)
}

/**
 * The provider's client and room shares; throws `VIX_ERR_INVALID_OPTION` outside a {@link VixProvider}.
 *
 * @example
 * const { client } = useVix()
 */
export function useVix (): VixContextValue {
  const value = useContext(VixContext)
  if (value === null) throw new VixClientError(ClientErrorCodes.INVALID_OPTION, '@vix-realtime/react: a hook was used outside <VixProvider client={...}>')
  return value
}
