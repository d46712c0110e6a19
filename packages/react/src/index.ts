/**
 * React bindings for vix-realtime: `<VixProvider client>` holds one client;
 * `useRoom`, `usePresence` and `useConnectionState` read it. Safe to import
 * during server-side rendering (nothing touches `window` or `document`).
 */
export { VixProvider, useVix, type VixProviderProps, type VixContextValue } from './provider.js'
export { useRoom, usePresence, useConnectionState, type UseRoomOptions, type UseRoomResult } from './hooks.js'
export { RoomShares, defaultLeaveDelay, type RoomClient, type RoomStatus, type RoomShareState, type RoomSharesOptions, type ShareTimers } from './room-shares.js'
