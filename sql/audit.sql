--
-- audit: SPEC §3 A — every change, by any means, writes modelflags.changes
-- rows (who, when, what, old and new row), and changes is append-only.
--
-- Proves:
--   - INSERT, UPDATE, DELETE and TRUNCATE (also TRUNCATE ... CASCADE, which
--     empties the referencing tables too) each write one changes row per
--     row, with table_name, operation, key, old_row and new_row;
--   - foreign-key cascades are recorded: delete_flag's cascaded actor rows,
--     and a rename (update of a key) with its ON UPDATE CASCADE rows; a
--     renamed row is recorded as its old image and its new image;
--   - INSERT ... ON CONFLICT DO UPDATE is recorded as what it did;
--   - an UPDATE that changes nothing writes nothing, and one that changes
--     some rows records only those; a rolled-back change leaves no row;
--   - changed_by is session_user and application_name the session's;
--   - a bulk INSERT of 10,000 rows writes 10,000 changes rows in one
--     statement, and statements whose NOTIFY payload would exceed the 8000-
--     byte limit (many rows, or few rows with long keys) still succeed;
--   - UPDATE, DELETE and TRUNCATE of changes are refused (42501).
-- NOTIFY delivery itself is checked by the isolation specs (specs/), since
-- psql prints the sender's PID with every notification.
--
\set SHOW_CONTEXT never
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
SET application_name = 'audit_test';

-- INSERT: one row each, new_row is the whole row.
INSERT INTO modelflags.providers (name, note) VALUES ('anthropic', 'primary'), ('vertex_ai', NULL);
INSERT INTO modelflags.models (name, provider, params)
VALUES ('claude_sonnet_4_20250514', 'anthropic', '{"model": "claude-sonnet-4-20250514", "max_tokens": 2048}');
SELECT id - :base AS n, table_name, operation, key, old_row, new_row
  FROM modelflags.changes WHERE id > :base ORDER BY id;
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset

-- Who and where: changed_by is session_user, application_name the session's,
-- changed_at the transaction's time, txid the writing transaction.
BEGIN;
UPDATE modelflags.providers SET note = 'primary, us-east' WHERE name = 'anthropic';
SELECT changed_by = session_user AS changed_by_is_session_user, application_name,
       changed_at = now() AS changed_at_is_transaction_time, txid = pg_current_xact_id() AS txid_is_this_transaction
  FROM modelflags.changes WHERE id > :base;
COMMIT;
-- UPDATE: old_row and new_row.
SELECT id - :base AS n, table_name, operation, key, old_row, new_row
  FROM modelflags.changes WHERE id > :base ORDER BY id;

-- An UPDATE that changes nothing writes nothing; one that changes some
-- rows records only those.
UPDATE modelflags.providers SET note = 'backup' WHERE name = 'vertex_ai';
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
UPDATE modelflags.providers SET note = note;
UPDATE modelflags.providers SET available = true;
UPDATE modelflags.providers SET note = 'backup' WHERE name = 'nobody';
SELECT count(*) AS rows_for_no_op_updates FROM modelflags.changes WHERE id > :base;
-- Both rows match, only anthropic's note changes: one audit row.
UPDATE modelflags.providers SET note = 'backup';
SELECT key, old_row ->> 'note' AS old_note, new_row ->> 'note' AS new_note
  FROM modelflags.changes WHERE id > :base ORDER BY id;

-- A rolled-back change leaves no audit row.
SELECT count(*) AS before FROM modelflags.changes \gset
BEGIN;
INSERT INTO modelflags.providers (name) VALUES ('rolled_back');
ROLLBACK;
SELECT count(*) - :before AS rows_after_rollback FROM modelflags.changes;

-- INSERT ... ON CONFLICT: an insert is an INSERT, an update an UPDATE, a
-- conflict that does nothing writes nothing.
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
INSERT INTO modelflags.flags (name, enabled) VALUES ('upsert_flag', false)
    ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled;
INSERT INTO modelflags.flags (name, enabled) VALUES ('upsert_flag', true)
    ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled;
INSERT INTO modelflags.flags (name, enabled) VALUES ('upsert_flag', true)
    ON CONFLICT (name) DO NOTHING;
SELECT id - :base AS n, table_name, operation, key,
       old_row ->> 'enabled' AS old_enabled, new_row ->> 'enabled' AS new_enabled
  FROM modelflags.changes WHERE id > :base ORDER BY id;

-- DELETE: old_row is the whole row.
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
DELETE FROM modelflags.flags WHERE name = 'upsert_flag';
SELECT id - :base AS n, table_name, operation, key, old_row ->> 'name' AS old_name,
       old_row ->> 'enabled' AS old_enabled, new_row
  FROM modelflags.changes WHERE id > :base ORDER BY id;

-- Cascades: delete_flag removes the flag's actor rows through the foreign
-- key, and each is recorded.
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
SELECT modelflags.set_actor('cascade_flag', a, true) FROM unnest(ARRAY['User:1', 'User:2']) AS a;
SELECT modelflags.opt_out('cascade_flag', 'User:3');
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
SELECT modelflags.delete_flag('cascade_flag');
SELECT id - :base AS n, table_name, operation, key, old_row ->> 'opt_out' AS old_opt_out
  FROM modelflags.changes WHERE id > :base ORDER BY id;

-- A rename (update of a key), with ON UPDATE CASCADE into the referencing
-- rows: the renamed row is recorded as its old and its new image, the
-- referencing rows as ordinary UPDATEs.
INSERT INTO modelflags.features (name) VALUES ('duo_chat');
INSERT INTO modelflags.flags (name, enabled) VALUES ('old_name', true);
INSERT INTO modelflags.flag_actors (flag, actor) VALUES ('old_name', 'User:1');
INSERT INTO modelflags.routes (feature, position, flag, model) VALUES ('duo_chat', 0, 'old_name', 'claude_sonnet_4_20250514');
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
UPDATE modelflags.flags SET name = 'new_name' WHERE name = 'old_name';
SELECT id - :base AS n, table_name, operation, key, old_row ->> 'name' AS old_name, new_row ->> 'name' AS new_name,
       old_row ->> 'flag' AS old_flag, new_row ->> 'flag' AS new_flag
  FROM modelflags.changes WHERE id > :base ORDER BY id;

-- TRUNCATE records every row it removes; TRUNCATE ... CASCADE also the rows
-- of the tables it empties by cascade; TRUNCATE of an empty table writes none.
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
TRUNCATE modelflags.flags CASCADE;
SELECT table_name, operation, count(*) AS rows, bool_and(new_row IS NULL AND old_row IS NOT NULL) AS old_rows_kept
  FROM modelflags.changes WHERE id > :base GROUP BY table_name, operation ORDER BY table_name COLLATE "C";
SELECT (SELECT count(*) FROM modelflags.flags) AS flags, (SELECT count(*) FROM modelflags.flag_actors) AS actors,
       (SELECT count(*) FROM modelflags.routes) AS routes;
SELECT count(*) AS before FROM modelflags.changes \gset
TRUNCATE modelflags.flags, modelflags.flag_actors, modelflags.routes;
SELECT count(*) - :before AS rows_for_empty_truncate FROM modelflags.changes;

-- Bulk: 10,000 actor rows in one INSERT, 10,000 audit rows, all with the
-- same transaction and in one contiguous range of ids.
INSERT INTO modelflags.flags (name) VALUES ('bulk_flag');
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
INSERT INTO modelflags.flag_actors (flag, actor) SELECT 'bulk_flag', 'User:' || i FROM generate_series(1, 10000) AS i;
SELECT count(*) AS audit_rows, count(DISTINCT txid) AS transactions, max(id) - min(id) + 1 AS id_span,
       count(DISTINCT new_row ->> 'actor') AS distinct_actors,
       bool_and(table_name = 'flag_actors' AND operation = 'INSERT') AS all_actor_inserts
  FROM modelflags.changes WHERE id > :base;
-- They are all flags: bulk changes are seen by the readers at once.
SELECT count(*) FILTER (WHERE modelflags.is_enabled('bulk_flag', 'User:' || i)) AS enabled_actors
  FROM generate_series(1, 10010) AS i;
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
UPDATE modelflags.flag_actors SET opt_out = true WHERE flag = 'bulk_flag' AND actor LIKE 'User:1%';
DELETE FROM modelflags.flag_actors WHERE flag = 'bulk_flag';
SELECT operation, count(*) FROM modelflags.changes WHERE id > :base GROUP BY operation ORDER BY operation COLLATE "C";

-- Few rows whose keys are long: the NOTIFY payload would pass 8000 bytes
-- with the keys listed, so the statement names the changes by id only and
-- does not fail.
SELECT coalesce(max(id), 0) AS base FROM modelflags.changes \gset
INSERT INTO modelflags.flag_actors (flag, actor)
SELECT 'bulk_flag', 'User:' || i || ':' || repeat('x', 1000) FROM generate_series(1, 20) AS i;
SELECT count(*) AS long_key_rows, sum(octet_length(key::text)) > 8000 AS keys_over_8000_bytes
  FROM modelflags.changes WHERE id > :base;

-- changes is append-only, even for its owner.
UPDATE modelflags.changes SET note = 'rewritten' WHERE id = :base + 1;
\echo sqlstate :SQLSTATE
DELETE FROM modelflags.changes WHERE id = :base + 1;
\echo sqlstate :SQLSTATE
TRUNCATE modelflags.changes;
\echo sqlstate :SQLSTATE
SELECT count(*) AS still_there FROM modelflags.changes WHERE id = :base + 1 AND note IS NULL;

RESET application_name;
TRUNCATE modelflags.providers, modelflags.models, modelflags.flags,
         modelflags.flag_actors, modelflags.features, modelflags.routes;
