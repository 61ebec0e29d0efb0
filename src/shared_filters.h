/*
 * shared_filters.h — what backends build alike, kept once per server in
 * shared memory when modelflags is preloaded (see shared_filters.c): large
 * actor sets' Bloom filters, and the colder parts of compiled routing states
 * (cache_share.c).
 */
#ifndef MODELFLAGS_SHARED_FILTERS_H
#define MODELFLAGS_SHARED_FILTERS_H

#include "postgres.h"

/*
 * Filters smaller than this (about 820 actors) stay in the backend.  From
 * 1 kB a shared copy pays: it takes a whole 4 kB page, but once per server,
 * where private copies cost their size in every backend that routes the
 * flag; smaller ones would fill the reserve with mostly empty pages.
 */
#define MF_FILTER_SHARE_MIN 1024

/* Defines the setting and the shared-memory hooks; from _PG_init. */
extern void MfFiltersInit(void);

/*
 * The shared copy of a filter of nbits bits (a whole number of 64-bit
 * words) equal to bits, found or made; NULL when there is no shared memory
 * for filters (not preloaded, set to 0, or full).  A copy found is equal
 * byte for byte.  On success *entry names the reference taken, which the
 * caller must give back with MfFilterRelease(); allocates nothing and
 * raises no ERROR.
 */
extern const uint64 *MfFilterShare(const uint64 *bits, uint32 nbits, int32 *entry);

/* Whether this server keeps filters in shared memory (preloaded, not 0). */
extern bool MfFiltersAvailable(void);

/* What an entry of the shared store holds. */
typedef enum MfSharedKind
{
	MF_SHARED_FILTER = 0,		/* an actor set's Bloom filter */
	MF_SHARED_STATE,			/* parts of a compiled routing state */
	MF_SHARED_KINDS
} MfSharedKind;

/*
 * Whether the copy at copy holds what arg describes, and writing it at dst.
 * Both run under the store's exclusive lock: they must not allocate, raise
 * an ERROR or wait.
 */
typedef bool (*MfSharedEqualFn) (void *arg, const char *copy);
typedef void (*MfSharedWriteFn) (void *arg, char *dst);

/*
 * The shared copy of nbytes of kind whose content has digest and for which
 * equal() holds, found; or a new one written by write(); NULL when there is
 * no room (or no store).  On success *entry names the reference taken,
 * which the caller must give back with MfSharedRelease(), and *refs (if not
 * NULL) counts the copy's references, this one included; allocates nothing
 * after the ledger has room, and raises no ERROR.
 */
extern const void *MfSharedFindOrPut(MfSharedKind kind, uint64 digest, Size nbytes,
									 MfSharedEqualFn equal, MfSharedWriteFn write, void *arg,
									 int32 *entry, uint32 *refs);

/* Entries of kind in shared memory, the bytes they take, the bytes reserved. */
extern void MfSharedStatus(MfSharedKind kind, int32 *entries, int64 *bytes, int64 *capacity);

/* Gives a reference back; the copy is freed with its last reference. */
extern void MfSharedRelease(int32 entry);

#endif
