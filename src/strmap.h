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

#endif
