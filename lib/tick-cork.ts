/** A writer corked for the rest of this tick. */
export interface Uncorkable {
  uncork: () => void
}

/**
 * Writers corked in this turn of the event loop: uncorked together once the
 * current work is done (`process.nextTick`), so every frame queued for one
 * peer in a tick leaves in one write, with no latency added past the tick.
 * One list and one callback for every writer, no closure per session.
 */
const corked: Uncorkable[] = []

function uncorkAll (): void {
  // A writer corked again while this runs (a write that completes at once
  // and writes more) joins the list and is uncorked in this same pass.
  for (let i = 0; i < corked.length; i++) corked[i].uncork()
  corked.length = 0
}

/** `writer` has just corked: uncork it at the end of this tick. */
export function uncorkAtTickEnd (writer: Uncorkable): void {
  if (corked.push(writer) === 1) process.nextTick(uncorkAll)
}
