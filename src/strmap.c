/*
 * strmap.c — open-addressing hash map with linear probing; see strmap.h.
 *
 * The routing cache is built once and then only read, so the map needs no
 * deletion: the builder knows how many entries it will put and sizes the
 * table to keep it at most three quarters full.  Linear probing then costs
 * about 2.5 slots per hit and 8.5 per miss at worst, and usually less (a
 * map of 10,000 names sits in 16,384 slots, 61% full); at most half full
 * would cost twice the memory (384 kB more for 10,000 flags, in every
 * backend) for half a probe less per hit.  Growth is there only as a safety
 * net.
 */
#include <string.h>

#include "strmap.h"

/* The most entries a table of cap slots holds: three quarters of it. */
#define MF_STRMAP_FULL(cap) ((uint64_t) (cap) / 4 * 3)

/* FNV-1a over the namespace and the bytes, then a final avalanche. */
uint32_t
mf_strmap_hash(uint32_t ns, const char *key, size_t len)
{
	uint32_t	h = 2166136261u ^ ns;

	for (size_t i = 0; i < len; i++)
	{
		h ^= (unsigned char) key[i];
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

/*
 * Zeroed slots for expected entries: the smallest power of two, at least 8,
 * whose three quarters exceed expected; *mask is its size - 1.
 */
static void *
mf_map_slots(MfAllocFn alloc, void *alloc_arg, size_t slot_size, uint32_t expected,
			 uint32_t *mask)
{
	uint32_t	cap = 8;
	void	   *slots;

	while (MF_STRMAP_FULL(cap) < (uint64_t) expected + 1)
		cap <<= 1;
	slots = alloc(alloc_arg, slot_size * cap);
	memset(slots, 0, slot_size * cap);
	*mask = cap - 1;
	return slots;
}

void
mf_strmap_init(MfStrMap *map, uint32_t expected, MfAllocFn alloc, void *alloc_arg)
{
	map->slots = mf_map_slots(alloc, alloc_arg, sizeof(MfStrMapSlot), expected, &map->mask);
	map->count = 0;
	map->alloc = alloc;
	map->alloc_arg = alloc_arg;
}

/* Doubles the table; the old slots stay in the arena until it is reset. */
static void
mf_strmap_grow(MfStrMap *map)
{
	MfStrMap	bigger;

	mf_strmap_init(&bigger, map->mask + 1, map->alloc, map->alloc_arg);
	for (uint32_t i = 0; i <= map->mask; i++)
	{
		MfStrMapSlot *s = &map->slots[i];

		if (s->key != NULL)
			mf_strmap_put(&bigger, s->ns, s->key, s->len, s->value);
	}
	*map = bigger;
}

void
mf_strmap_reserve(MfStrMap *map, uint32_t n)
{
	while ((uint64_t) n > MF_STRMAP_FULL(map->mask + 1))
		mf_strmap_grow(map);
}

void
mf_strmap_put(MfStrMap *map, uint32_t ns, const char *key, size_t len, int32_t value)
{
	uint32_t	h = mf_strmap_hash(ns, key, len);

	if ((uint64_t) map->count + 1 > MF_STRMAP_FULL(map->mask + 1))
		mf_strmap_grow(map);
	for (uint32_t i = h & map->mask;; i = (i + 1) & map->mask)
	{
		MfStrMapSlot *s = &map->slots[i];

		if (s->key == NULL)
		{
			s->key = key;
			s->len = (uint32_t) len;
			s->ns = ns;
			s->hash = h;
			s->value = value;
			map->count++;
			return;
		}
		if (s->hash == h && s->ns == ns && s->len == len && memcmp(s->key, key, len) == 0)
		{
			s->value = value;
			return;
		}
	}
}

bool
mf_strmap_get(const MfStrMap *map, uint32_t ns, const char *key, size_t len, int32_t *value)
{
	uint32_t	h;

	if (map->slots == NULL)
		return false;
	h = mf_strmap_hash(ns, key, len);
	for (uint32_t i = h & map->mask;; i = (i + 1) & map->mask)
	{
		const MfStrMapSlot *s = &map->slots[i];

		if (s->key == NULL)
			return false;
		if (s->hash == h && s->ns == ns && s->len == len && memcmp(s->key, key, len) == 0)
		{
			*value = s->value;
			return true;
		}
	}
}

/* ---- MfIdxMap ---- */

void
mf_idxmap_init(MfIdxMap *map, uint32_t expected, MfAllocFn alloc, void *alloc_arg,
			   MfKeyOfFn key_of, const void *key_arg)
{
	map->slots = mf_map_slots(alloc, alloc_arg, sizeof(MfIdxMapSlot), expected, &map->mask);
	map->count = 0;
	map->alloc = alloc;
	map->alloc_arg = alloc_arg;
	map->key_of = key_of;
	map->key_arg = key_arg;
}

/* Places a slot's entry into a table being rebuilt (no key compares). */
static void
mf_idxmap_place(MfIdxMap *map, uint32_t hash, int32_t entry)
{
	for (uint32_t i = hash & map->mask;; i = (i + 1) & map->mask)
	{
		if (map->slots[i].entry == 0)
		{
			map->slots[i].hash = hash;
			map->slots[i].entry = entry;
			map->count++;
			return;
		}
	}
}

void
mf_idxmap_reserve(MfIdxMap *map, uint32_t n)
{
	while ((uint64_t) n > MF_STRMAP_FULL(map->mask + 1))
	{
		MfIdxMap	bigger;

		mf_idxmap_init(&bigger, map->mask + 1, map->alloc, map->alloc_arg,
					   map->key_of, map->key_arg);
		for (uint32_t i = 0; i <= map->mask; i++)
			if (map->slots[i].entry != 0)
				mf_idxmap_place(&bigger, map->slots[i].hash, map->slots[i].entry);
		*map = bigger;
	}
}

void
mf_idxmap_own(MfIdxMap *map)
{
	MfIdxMapSlot *slots = map->alloc(map->alloc_arg, mf_idxmap_bytes(map));

	memcpy(slots, map->slots, mf_idxmap_bytes(map));
	map->slots = slots;
}

/* The slot holding key, or the empty slot where it would go. */
static MfIdxMapSlot *
mf_idxmap_slot(const MfIdxMap *map, uint32_t hash, const char *key, size_t len)
{
	for (uint32_t i = hash & map->mask;; i = (i + 1) & map->mask)
	{
		MfIdxMapSlot *s = &map->slots[i];

		if (s->entry == 0)
			return s;
		if (s->hash == hash)
		{
			const char *k;
			size_t		klen;

			map->key_of(map->key_arg, (s->entry < 0 ? -s->entry : s->entry) - 1, &k, &klen);
			if (klen == len && memcmp(k, key, len) == 0)
				return s;
		}
	}
}

void
mf_idxmap_put(MfIdxMap *map, const char *key, size_t len, int32_t idx, bool gone)
{
	uint32_t	hash = mf_strmap_hash(0, key, len);
	MfIdxMapSlot *s;

	mf_idxmap_reserve(map, map->count + 1);
	s = mf_idxmap_slot(map, hash, key, len);
	if (s->entry == 0)
	{
		s->hash = hash;
		map->count++;
	}
	s->entry = gone ? -(idx + 1) : idx + 1;
}

int32_t
mf_idxmap_find(const MfIdxMap *map, const char *key, size_t len, bool *gone)
{
	const MfIdxMapSlot *s;

	*gone = false;
	if (map->slots == NULL)
		return -1;
	s = mf_idxmap_slot(map, mf_strmap_hash(0, key, len), key, len);
	if (s->entry == 0)
		return -1;
	*gone = s->entry < 0;
	return (s->entry < 0 ? -s->entry : s->entry) - 1;
}
