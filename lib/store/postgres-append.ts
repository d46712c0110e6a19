import type pg from 'pg'
import { doorbellSql } from './pg-notify.js'
import { fromColumn, messageOfRow, type PendingAppend } from './rows.js'
import type { AppendResult } from './types.js'

/**
 * `<schema>.vix_append(...)`: a batch of appends in one call, so a group
 * commit is one autocommit round trip and `publishIn` one statement in the
 * application's transaction. In READ COMMITTED, each statement with a fresh
 * snapshot (the function is volatile):
 * 1. lock the batch's room counters, in room name order (so two callers never
 *    wait on each other crosswise), until the transaction ends; a room without
 *    a row starts at 0 under a new epoch (`gen_random_uuid`, PostgreSQL 13+);
 * 2. after the lock, so it sees every commit made before it: insert each
 *    entry that does not repeat an earlier one of the batch at its room's next
 *    offset, `ON CONFLICT (room, id, sender) DO NOTHING`. When every row went
 *    in (nothing of the batch was stored before: the common case), advance
 *    each room's counter to its last new offset (again through `ON CONFLICT
 *    (room)`, the row being there) and return one row per entry in batch
 *    order (the batch's positions computed again from the arrays: a
 *    statement cannot both fill `RETURN QUERY` and decide the branch);
 * 3. otherwise some entry was stored already and the offsets just written
 *    would leave a hole: delete this call's rows (the locked counters say
 *    which: every offset above them) and store the batch again, skipping what
 *    is stored under (room, id, sender) and answering those with the stored
 *    row (a statement run with EXECUTE, planned for the table as it is);
 * 4. with a channel, ring each advanced room's doorbell (`NOTIFY` of its last
 *    offset, from the counters as advanced), delivered only if the
 *    transaction commits.
 * Why this shape: PL/pgSQL keeps a generic plan per connection, planned once
 * on the tables as they were then (often near empty), so a lookup of stored
 * rows in a cached statement may be planned as a scan of the table or of a
 * whole room (through the (room, offset) key), and a join with the counters
 * as a scan of every room, then run on every batch as the tables grow. The
 * common path reads no table through a plan: it writes through conflict
 * arbiters (the (room, id, sender) and (room) keys), which no plan chooses.
 * A clash on (room, offset) is not caught: the counters are locked, so it
 * would be a bug and must fail the batch, not vanish. `s` is the quoted
 * schema.
 */
export function appendFunctionSql (s: string): string {
  // The batch's entries with the index of the first entry of the batch with the same (room, id, sender); $1..$8 or the p_ arrays.
  const batch = (room: string, id: string, kind: string, type: string, ts: string, payload: string, from: string, sender: string): string => `
        SELECT b.i::integer AS i, b.room, b.id, b.kind, b.type, b.ts, b.payload, b.from_json, b.sender,
          (min(b.i) OVER (PARTITION BY b.room, b.id, b.sender))::integer AS first
        FROM unnest(${room}, ${id}, ${kind}, ${type}, ${ts}, ${payload}, ${from}, ${sender}) WITH ORDINALITY AS b (room, id, kind, type, ts, payload, from_json, sender, i)`
  const positioned = 'WITH batch AS (' + batch('p_room', 'p_id', 'p_kind', 'p_type', 'p_ts', 'p_payload', 'p_from', 'p_sender') + `
      ), counter AS (
        SELECT * FROM unnest(l_room, l_epoch, l_last) AS c (room, epoch, last)
      ), fresh AS (
        SELECT b.*, c.last + row_number() OVER (PARTITION BY b.room ORDER BY b.i) AS pos
        FROM batch AS b JOIN counter AS c ON c.room = b.room
        WHERE b.i = b.first
      )`
  // The careful store, run with EXECUTE when something of the batch was stored before: $1..$8 the batch, $9..$11 the counters.
  const careful = 'WITH batch AS (' + batch('$1', '$2', '$3', '$4', '$5', '$6', '$7', '$8') + `
      ), counter AS (
        SELECT * FROM unnest($9, $10, $11) AS c (room, epoch, last)
      ), stored AS (
        SELECT m.room, m.id, m.sender, m."offset", m.kind, m.type, m.ts, m.payload_json, m.from_json FROM ${s}.vix_messages AS m
        WHERE (m.room, m.id, m.sender) IN (SELECT batch.room, batch.id, batch.sender FROM batch)
      ), fresh AS (
        SELECT b.*, c.last + row_number() OVER (PARTITION BY b.room ORDER BY b.i) AS pos
        FROM batch AS b JOIN counter AS c ON c.room = b.room
        WHERE b.i = b.first AND NOT EXISTS (SELECT 1 FROM stored AS st WHERE st.room = b.room AND st.id = b.id AND st.sender = b.sender)
      ), inserted AS (
        INSERT INTO ${s}.vix_messages (room, "offset", id, kind, type, ts, payload_json, from_json, sender)
        SELECT f.room, f.pos, f.id, f.kind, f.type, f.ts, f.payload, f.from_json, f.sender FROM fresh AS f
      ), advanced AS (
        UPDATE ${s}.vix_rooms AS r SET last_offset = a.last
        FROM (SELECT fresh.room, max(fresh.pos) AS last FROM fresh GROUP BY fresh.room) AS a WHERE r.room = a.room
      )
      SELECT b.i, coalesce(st."offset", f.pos), c.epoch, st."offset" IS NOT NULL OR b.i <> b.first, b.first,
        st.kind, st.type, st.ts, st.payload_json, st.from_json
      FROM batch AS b JOIN counter AS c ON c.room = b.room
      LEFT JOIN stored AS st ON st.room = b.room AND st.id = b.id AND st.sender = b.sender
      LEFT JOIN fresh AS f ON f.i = b.first
      ORDER BY b.i`
  return `
    CREATE FUNCTION ${s}.vix_append (p_room text[], p_id text[], p_kind text[], p_type text[], p_ts text[], p_payload text[], p_from text[], p_sender text[], p_channel text)
    RETURNS TABLE (o_i integer, o_offset bigint, o_epoch text, o_duplicate boolean, o_first integer, o_kind text, o_type text, o_ts text, o_payload text, o_from text)
    LANGUAGE plpgsql VOLATILE AS $vix$
    #variable_conflict use_column
    DECLARE
      l_room text[];
      l_epoch text[];
      l_last bigint[];
      l_fresh bigint;
      l_inserted bigint;
      l_new_room text[];
      l_new_last bigint[];
    BEGIN
      WITH locked AS (
        INSERT INTO ${s}.vix_rooms AS r (room, epoch, last_offset)
        SELECT d.room, gen_random_uuid()::text, 0 FROM (SELECT DISTINCT unnest(p_room) AS room) AS d ORDER BY d.room
        ON CONFLICT (room) DO UPDATE SET last_offset = r.last_offset
        RETURNING r.room, r.epoch, r.last_offset)
      SELECT array_agg(locked.room), array_agg(locked.epoch), array_agg(locked.last_offset) INTO l_room, l_epoch, l_last FROM locked;

      ${positioned}, inserted AS (
        INSERT INTO ${s}.vix_messages (room, "offset", id, kind, type, ts, payload_json, from_json, sender)
        SELECT f.room, f.pos, f.id, f.kind, f.type, f.ts, f.payload, f.from_json, f.sender FROM fresh AS f
        ON CONFLICT (room, id, sender) DO NOTHING
        RETURNING 1
      ), advance AS (
        SELECT fresh.room, max(fresh.pos) AS last FROM fresh GROUP BY fresh.room
      )
      SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM inserted),
        (SELECT array_agg(advance.room ORDER BY advance.room) FROM advance), (SELECT array_agg(advance.last ORDER BY advance.room) FROM advance)
      INTO l_fresh, l_inserted, l_new_room, l_new_last;

      IF l_inserted = l_fresh THEN
        INSERT INTO ${s}.vix_rooms AS r (room, epoch, last_offset)
        SELECT n.room, c.epoch, n.last FROM unnest(l_new_room, l_new_last) AS n (room, last) JOIN unnest(l_room, l_epoch) AS c (room, epoch) ON c.room = n.room
        ON CONFLICT (room) DO UPDATE SET last_offset = excluded.last_offset;
        RETURN QUERY
        ${positioned}
        SELECT b.i, f.pos, c.epoch, b.i <> b.first, b.first, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text
        FROM batch AS b JOIN counter AS c ON c.room = b.room JOIN fresh AS f ON f.i = b.first
        ORDER BY b.i;
      ELSE
        EXECUTE $vix_q$DELETE FROM ${s}.vix_messages AS m USING unnest($1, $2) AS c (room, last) WHERE m.room = c.room AND m."offset" > c.last$vix_q$ USING l_room, l_last;
        RETURN QUERY EXECUTE $vix_q$${careful}$vix_q$ USING p_room, p_id, p_kind, p_type, p_ts, p_payload, p_from, p_sender, l_room, l_epoch, l_last;
        -- Not every room advanced: read the counters as the careful store left them.
        EXECUTE $vix_q$SELECT array_agg(r.room), array_agg(r.last_offset) FROM ${s}.vix_rooms AS r WHERE r.room = ANY ($1)$vix_q$ INTO l_new_room, l_new_last USING l_room;
      END IF;

      IF p_channel IS NOT NULL THEN
        PERFORM ${doorbellSql('p_channel', 'n.last', 'n.room')}
        FROM unnest(l_new_room, l_new_last) AS n (room, last) JOIN unnest(l_room, l_last) AS c (room, last) ON c.room = n.room
        WHERE n.last > c.last;
      END IF;
    END
    $vix$;`
}

interface AppendRow {
  o_i: number
  o_offset: string
  o_epoch: string
  o_duplicate: boolean
  o_first: number
  o_kind: string | null
  o_type: string | null
  o_ts: string | null
  o_payload: string | null
  o_from: string | null
}

/**
 * The call of `vix_append` for one schema. Not a named (prepared) statement:
 * the call is short to parse, the function's own plans are cached per
 * connection anyway, and a named statement fails behind a transaction-mode
 * pooler (PgBouncer before 1.21, or without `max_prepared_statements`), where
 * both the store's pool and an application's `publishIn` client may live.
 *
 * @example
 * const append = new PostgresAppend('"chat"')
 * const results = await append.run(client, [{ message, sender: 'id:ada' }]) // autocommit, or inside the caller's BEGIN
 */
export class PostgresAppend {
  private readonly text: string

  constructor (quotedSchema: string) {
    this.text = `SELECT * FROM ${quotedSchema}.vix_append($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text)`
  }

  /** Store `batch` in one round trip; `channel` rings the advanced rooms' doorbells in the same transaction. One result per entry, in batch order. */
  async run (client: pg.ClientBase, batch: PendingAppend[], channel?: string): Promise<AppendResult[]> {
    const rows = (await client.query<AppendRow>(this.text, [
      batch.map((e) => e.message.room), batch.map((e) => e.message.id), batch.map((e) => e.message.kind), batch.map((e) => e.message.type),
      batch.map((e) => e.message.ts), batch.map((e) => JSON.stringify(e.message.payload)), batch.map((e) => fromColumn(e.message)), batch.map((e) => e.sender),
      channel ?? null])).rows
    return rows.map((row): AppendResult => {
      const { message } = batch[row.o_i - 1]
      const position = { offset: Number(row.o_offset), epoch: row.o_epoch }
      if (!row.o_duplicate) return { duplicate: false, message, position }
      // A duplicate of a stored row answers that row; one of an earlier entry of the batch, that entry's message.
      const original = row.o_kind === null
        ? batch[row.o_first - 1].message
        : messageOfRow({ id: message.id, room: message.room, kind: row.o_kind, type: row.o_type as string, ts: row.o_ts as string, payload_json: row.o_payload as string, from_json: row.o_from })
      return { duplicate: true, message: original, position }
    })
  }
}
