/*
 * shared_filters.h — large actor sets' Bloom filters, kept once per server
 * in shared memory when modelflags is preloaded (see shared_filters.c).
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

/* Filters in shared memory, the bytes they take, the bytes reserved. */
extern void MfFiltersStatus(int32 *filters, int64 *bytes, int64 *capacity);

/* Gives a reference back; the copy is freed with its last reference. */
extern void MfFilterRelease(int32 entry);

#endif
