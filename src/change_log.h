/*
 * change_log.h — what a writing transaction owes the routing caches (see
 * change_log.c): the names it changed, and its early invalidations.
 */
#ifndef MODELFLAGS_CHANGE_LOG_H
#define MODELFLAGS_CHANGE_LOG_H

#include "postgres.h"

#include "utils/rel.h"

#include "schema.h"

/* Records that this transaction changed the row of rel named key. */
extern void mf_changelog_note_key(Relation rel, MfTableId table, const char *key, size_t len);

/* Records that this transaction changed too much of rel to list. */
extern void mf_changelog_note_full(Relation rel, MfTableId table);

/*
 * Writes the log row of a table (by OID) now (keys NULL: "full"), rather
 * than at PRE_COMMIT, and still sends its early invalidation at PRE_COMMIT:
 * for writers that must not fail at commit (the Flipper triggers).  Takes no
 * lock on the table: such a writer must not wait for one either.
 */
extern void mf_changelog_log_now(Oid relid, MfTableId table, Datum *keys, bool *keynulls, int nkeys);

/* Whether rel is already logged "full" in this transaction. */
extern bool mf_changelog_key_is_full(Relation rel, MfTableId table);

/* Registers the transaction callbacks; from _PG_init. */
/*
 * The relation whose relcache invalidation tells other backends that table
 * changed: modelflags._cache_signal_actors for flag_actors, _cache_signal
 * for the others (22_cache_log.sql), or relid itself where the extension's
 * objects predate them (1.0).  mf_signal_readers queues it, transactionally.
 */
extern Oid	mf_signal_relid(MfTableId table, Oid relid);
extern void mf_signal_readers(MfTableId table, Oid relid);

extern void MfChangeLogInit(void);

#endif
