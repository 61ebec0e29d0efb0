
/*
 * 22_cache_log.sql — what each committed transaction changed, for the
 * routing caches (SPEC C; src/cache_delta.c, src/triggers.c).
 *
 * A transaction that changed configuration tables writes one row per table
 * here at its PRE_COMMIT (triggers.c): the names it touched (a provider,
 * model, flag or feature name; for flag_actors the flag, for routes the
 * feature), or NULL when it changed too many to list (a bulk load, a
 * TRUNCATE): then readers rebuild that table in full.  The row commits with
 * the change, so a reader whose compiled state was read with snapshot B and
 * who now answers with snapshot S reads exactly the rows of the writers S
 * shows and B did not (MVCC does the filtering), and patches its state by
 * those names only: a flag flip costs every backend a few index probes, not
 * a rebuild.  Every path that changes the tables writes here (the statement
 * triggers, which fire ALWAYS, and the replica row triggers of
 * 25_replication.sql), also on a logical-replication subscriber; hot
 * standbys read it as it was replayed.
 *
 * Internal: no privilege for anyone but the owner (the triggers write as the
 * owner), not kept by pg_dump (a restored database starts with an empty log
 * and full builds).  Writers prune it (change_log.c), leaving a row with
 * table_name '*' that makes every reader that spans the pruned rows rebuild
 * in full.
 */
CREATE TABLE modelflags._cache_log (
    txid       xid8 NOT NULL,
    table_name text COLLATE "C" NOT NULL,
    keys       text[] COLLATE "C"
);
CREATE INDEX _cache_log_txid_idx ON modelflags._cache_log (txid);
COMMENT ON TABLE modelflags._cache_log IS
    'internal: the names each committed transaction changed, for the routing caches of every backend';

/*
 * The signals.  A writer tells the other backends "look at the log" with a
 * relcache invalidation (src/cache.c, "Why A3 can be decided cheaply"): of
 * _cache_signal_actors when it changed flag_actors, of _cache_signal for
 * every other table.  Not of the table it changed: every reader would then
 * rebuild that table's relcache entry (its columns, indexes and a dozen
 * triggers) at its next read, which was about 40% of the cost of applying
 * a one-row change.  No one opens these sequences, so their invalidations
 * cost a reader only the count its callback keeps.  They hold no data.
 */
CREATE SEQUENCE modelflags._cache_signal;
CREATE SEQUENCE modelflags._cache_signal_actors;
COMMENT ON SEQUENCE modelflags._cache_signal IS
    'internal: invalidated by writers of the configuration tables, to tell every backend''s routing cache to look at _cache_log; never used as a sequence';
COMMENT ON SEQUENCE modelflags._cache_signal_actors IS
    'internal: invalidated by writers of flag_actors, to tell every backend''s routing cache to look at _cache_log; never used as a sequence';
