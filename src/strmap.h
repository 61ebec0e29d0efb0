/*
 * strmap.h — a compact open-addressing hash map from (namespace, bytes) to
 * an int32 value, used for every name lookup of the routing cache.
 *
 * Pure C: memory comes from a caller-supplied allocator (a PostgreSQL memory
 * context in the extension, malloc in tests), and the map never frees: it
 * lives exactly as long as the arena it was built in.  Keys are not copied;
 * they must outlive the map.
 */
#ifndef MODELFLAGS_STRMAP_H
#define MODELFLAGS_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void *(*MfAllocFn) (void *arg, size_t size);

typedef struct MfStrMapSlot
{
	const char *key;			/* NULL = empty */
	uint32_t	len;
	uint32_t	ns;
	uint32_t	hash;
	int32_t		value;
} MfStrMapSlot;

typedef struct MfStrMap
{
	MfStrMapSlot *slots;
	uint32_t	mask;			/* capacity - 1; capacity is a power of two */
	uint32_t	count;
	MfAllocFn	alloc;			/* for growing past the expected size */
	void	   *alloc_arg;
} MfStrMap;

/* Hash of (ns, key); exposed so callers can reuse it (e.g. Bloom filters). */
extern uint32_t mf_strmap_hash(uint32_t ns, const char *key, size_t len);

/* Makes a map sized for expected entries (kept at most three quarters full). */
extern void mf_strmap_init(MfStrMap *map, uint32_t expected,
						   MfAllocFn alloc, void *alloc_arg);

/* Inserts or replaces; grows (leaving the old table to the arena) if needed. */
extern void mf_strmap_put(MfStrMap *map, uint32_t ns, const char *key,
						  size_t len, int32_t value);

/*
 * Grows the map now, if needed, so that it takes n entries in all without
 * growing: after it, up to that many puts allocate nothing (and so cannot
 * fail halfway).
 */
extern void mf_strmap_reserve(MfStrMap *map, uint32_t n);

/* Looks up; returns false if absent. */
extern bool mf_strmap_get(const MfStrMap *map, uint32_t ns, const char *key,
						  size_t len, int32_t *value);

/*
 * A name index: the same open addressing, for names that already live in
 * an array the caller keeps (the routing state's flags, features, models,
 * providers).  A slot holds only the name's hash and its index, 8 bytes
 * instead of MfStrMapSlot's 24: a key is compared by asking key_of for the
 * name at an index, which happens only when the hashes match.  10,000 flags
 * take 16,384 slots, 128 kB instead of 384 kB in every backend.
 *
 * An entry may be marked gone (a deleted name): it keeps its index, so the
 * name can still be compared, and get() reports it as gone.  Putting the
 * name again gives it its new index.
 */
typedef void (*MfKeyOfFn) (const void *arg, int32_t idx, const char **key, size_t *len);

typedef struct MfIdxMapSlot
{
	uint32_t	hash;
	int32_t		entry;			/* 0 empty; idx + 1 live; -(idx + 1) gone */
} MfIdxMapSlot;

typedef struct MfIdxMap
{
	MfIdxMapSlot *slots;
	uint32_t	mask;
	uint32_t	count;
	MfAllocFn	alloc;
	void	   *alloc_arg;
	MfKeyOfFn	key_of;
	const void *key_arg;
} MfIdxMap;

extern void mf_idxmap_init(MfIdxMap *map, uint32_t expected, MfAllocFn alloc, void *alloc_arg,
						   MfKeyOfFn key_of, const void *key_arg);

/* Grows (leaving the old table to the arena) so that n entries fit. */
extern void mf_idxmap_reserve(MfIdxMap *map, uint32_t n);

/*
 * Gives the map a slot table of its own, a copy of the one it reads (which
 * may be read-only, shared with other processes): puts may follow.  The old
 * table is not freed (it was not the map's to free).
 */
extern void mf_idxmap_own(MfIdxMap *map);

/* The bytes of the map's slot table. */
static inline size_t
mf_idxmap_bytes(const MfIdxMap *map)
{
	return sizeof(MfIdxMapSlot) * ((size_t) map->mask + 1);
}

/* Makes key name idx (live, or gone); idx >= 0 and key_of(idx) is key. */
extern void mf_idxmap_put(MfIdxMap *map, const char *key, size_t len, int32_t idx, bool gone);

/* The index of key, or -1 when absent; *gone tells a deleted one. */
extern int32_t mf_idxmap_find(const MfIdxMap *map, const char *key, size_t len, bool *gone);

/* The index of a live key, or -1 when it is absent or gone. */
static inline int32_t
mf_idxmap_get(const MfIdxMap *map, const char *key, size_t len)
{
	bool		gone;
	int32_t		idx = mf_idxmap_find(map, key, len, &gone);

	return gone ? -1 : idx;
}

#endif
