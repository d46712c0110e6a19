import type pg from 'pg'
import { doorbellSql } from './pg-notify.js'
import { fromColumn, messageOfRow, type PendingAppend } from './rows.js'
import type { AppendResult } from './types.js'

/**
 * `<schema>.vix_append(...)`: a batch of appends in one call, so a group
 * commit is one autocommit round trip and `publishIn` one statement in the
 * application's transaction. Three statements, each with a fresh snapshot in
 * READ COMMITTED (the function is volatile):
 * 1. lock the batch's room counters, in room name order (so two callers never
 *    wait on each other crosswise), until the transaction ends; a room without
 *    a row starts at 0 under a new epoch (`gen_random_uuid`, PostgreSQL 13+);
 * 2. after the lock, so it sees every commit made before it: skip what is
 *    stored under (room, id, sender) and what repeats an earlier entry of the
 *    batch, insert the rest at the counters' next offsets, advance the
 *    counters, and return one row per entry in batch order;
 * 3. with a channel, ring each advanced room's doorbell (`NOTIFY` of its last
 *    offset), delivered only if the transaction commits.
 * The insert has no ON CONFLICT: the counters are locked, so a clash would be
 * a bug and must fail the batch, not vanish. The lookups of stored rows and of
 * advanced counters are LATERAL, one index probe per key: PL/pgSQL keeps a
 * generic plan per connection, planned once on the tables as they were then,
 * and a join planned on a near-empty table scans the whole table on every
 * later batch. `s` is the quoted schema.
 */
export function appendFunctionSql (s: string): string {
  return `
    CREATE FUNCTION ${s}.vix_append (p_room text[], p_id text[], p_kind text[], p_type text[], p_ts text[], p_payload text[], p_from text[], p_sender text[], p_channel text)
    RETURNS TABLE (o_i integer, o_offset bigint, o_epoch text, o_duplicate boolean, o_first integer, o_kind text, o_type text, o_ts text, o_payload text, o_from text)
    LANGUAGE plpgsql VOLATILE AS $vix$
    #variable_conflict use_column
    DECLARE
      l_room text[];
      l_epoch text[];
      l_last bigint[];
    BEGIN
      WITH locked AS (
        INSERT INTO ${s}.vix_rooms AS r (room, epoch, last_offset)
        SELECT d.room, gen_random_uuid()::text, 0 FROM (SELECT DISTINCT unnest(p_room) AS room) AS d ORDER BY d.room
        ON CONFLICT (room) DO UPDATE SET last_offset = r.last_offset
        RETURNING r.room, r.epoch, r.last_offset)
      SELECT array_agg(locked.room), array_agg(locked.epoch), array_agg(locked.last_offset) INTO l_room, l_epoch, l_last FROM locked;

      RETURN QUERY
      WITH batch AS (
        SELECT b.i::integer AS i, b.room, b.id, b.kind, b.type, b.ts, b.payload, b.from_json, b.sender,
          (min(b.i) OVER (PARTITION BY b.room, b.id, b.sender))::integer AS first
        FROM unnest(p_room, p_id, p_kind, p_type, p_ts, p_payload, p_from, p_sender) WITH ORDINALITY AS b (room, id, kind, type, ts, payload, from_json, sender, i)
      ), counter AS (
        SELECT * FROM unnest(l_room, l_epoch, l_last) AS c (room, epoch, last)
      ), stored AS (
        SELECT m.room, m.id, m.sender, m."offset", m.kind, m.type, m.ts, m.payload_json, m.from_json
        FROM (SELECT DISTINCT batch.room, batch.id, batch.sender FROM batch) AS k
        CROSS JOIN LATERAL (
          SELECT * FROM ${s}.vix_messages AS v WHERE v.room = k.room AND v.id = k.id AND v.sender = k.sender LIMIT 1
        ) AS m
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
      ORDER BY b.i;

      IF p_channel IS NOT NULL THEN
        PERFORM ${doorbellSql('p_channel', 'r.last_offset', 'r.room')}
        FROM unnest(l_room, l_last) AS c (room, last)
        CROSS JOIN LATERAL (SELECT v.room, v.last_offset FROM ${s}.vix_rooms AS v WHERE v.room = c.room AND v.last_offset > c.last LIMIT 1) AS r;
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
