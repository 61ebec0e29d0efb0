/*
 * shared_filters.c — large actor sets' Bloom filters, once per server.
 *
 * A large actor set is kept as a Bloom filter in front of an index probe
 * (actor_sets.c): 1,000,000 actor gates make about 1.2 MB of filter, and
 * every backend that routes the flag would hold its own copy.  With
 * modelflags preloaded, a filter of MF_FILTER_SHARE_MIN bytes or more is
 * kept in shared memory instead, and a backend that builds an equal one
 * uses that copy.
 *
 * Why by content, and not one shared filter per flag kept up to date.  A
 * backend builds its filter from its own read snapshot (SPEC C): whether a
 * copy made by another backend would do is a question of what each
 * snapshot saw, and of writers that never tell us (replica mode, the
 * attached Flipper tables).  Equal bytes answer it exactly: the backend
 * still reads the flag's rows and builds the filter, as without the
 * preload, then looks for a copy with the same size and digest and
 * compares it byte for byte.  So sharing changes no answer, and a filter
 * whose rows changed is simply a different filter.  What it saves is the
 * memory: the scratch copy is freed at once.
 *
 * Memory.  modelflags.shared_filter_memory (postmaster; 0: off) is
 * reserved at start: a bitmap of 4 kB pages, one entry per page (a filter
 * takes at least one), an index of the entries by digest (open addressing,
 * at most half full: finding an equal filter does not read every entry,
 * which thousands of middle-sized filters would make slow under the
 * exclusive lock), and the pages.  A filter takes a run of whole
 * pages, found first-fit under the lock.  When no run is long enough, the
 * backend keeps its own copy (as without the preload) and says so once in
 * the server log.
 *
 * References.  Each backend counts the references it holds, per entry, in
 * a small ledger; actor_sets.c gives them back when the collection holding
 * the filter is freed (a memory-context callback, so an ERROR that frees
 * the collection gives them back too), and a before_shmem_exit callback
 * gives back the rest when the backend exits.  A filter is freed with its
 * last reference.  A crash restarts shared memory empty.
 *
 * Locking.  One LWLock, taken exclusively to share (look up, compare, copy
 * in) and to release; both happen when a backend loads a set or frees a
 * collection, not per call.  The pages of an entry are written once, before
 * the entry is published under the lock, and never again while it has a
 * reference: readers read them without a lock.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "shared_filters.h"

#define MF_FILTER_PAGE 4096

typedef struct MfFilterEntry
{
	uint64		digest;			/* hash of the content (see MfSharedFindOrPut) */
	uint32		size;			/* bytes; 0: a free entry */
	uint32		kind;			/* MfSharedKind */
	uint32		refcount;
	uint32		first_page;
	uint32		npages;
} MfFilterEntry;

typedef struct MfFiltersShared
{
	LWLock	   *lock;
	uint32		npages;			/* pages in the area; as many entries */
	uint32		high;			/* entries [0, high) may be in use */
	uint32		used_pages[MF_SHARED_KINDS];	/* by kind */
	uint32		entries[MF_SHARED_KINDS];	/* entries in use, by kind */
	/* then: the page bitmap, the entries, the pages (MAXALIGNed) */
} MfFiltersShared;

/* A backend's references, per entry. */
typedef struct MfFilterHeld
{
	int32		entry;
	int32		count;
} MfFilterHeld;

static int	mf_filter_kb = 64 * 1024;
static MfFiltersShared *mf_filters = NULL;
static uint64 *mf_filter_bitmap;
static MfFilterEntry *mf_filter_entries;
static int32 *mf_filter_index;	/* entry numbers by digest; -1 empty */
static char *mf_filter_pages;

static MfFilterHeld *mf_held = NULL;
static int	mf_nheld = 0;
static int	mf_held_cap = 0;
static bool mf_exit_registered = false;
static bool mf_full_logged = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static uint32
mf_filter_npages(void)
{
	return (uint32) (mf_filter_kb / (MF_FILTER_PAGE / 1024));
}

static Size
mf_filters_bitmap_size(uint32 npages)
{
	return MAXALIGN(sizeof(uint64) * ((npages + 63) / 64));
}

/* Slots of the digest index: a power of two, at least twice the entries. */
static uint32
mf_filters_index_slots(uint32 npages)
{
	uint32		n = 16;

	while (n < 2 * (uint64) npages)
		n <<= 1;
	return n;
}

static Size
mf_filters_shmem_size(void)
{
	uint32		npages = mf_filter_npages();
	Size		size = MAXALIGN(sizeof(MfFiltersShared));

	size = add_size(size, mf_filters_bitmap_size(npages));
	size = add_size(size, MAXALIGN(mul_size(npages, sizeof(MfFilterEntry))));
	size = add_size(size, MAXALIGN(mul_size(mf_filters_index_slots(npages), sizeof(int32))));
	size = add_size(size, mul_size(npages, MF_FILTER_PAGE));
	return size;
}

static void
mf_filters_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	if (mf_filter_npages() == 0)
		return;
	RequestAddinShmemSpace(mf_filters_shmem_size());
	RequestNamedLWLockTranche("modelflags filters", 1);
}

static void
mf_filters_shmem_startup(void)
{
	uint32		npages = mf_filter_npages();
	bool		found;
	char	   *p;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	if (npages == 0)
		return;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	p = ShmemInitStruct("modelflags filters", mf_filters_shmem_size(), &found);
	mf_filters = (MfFiltersShared *) p;
	p += MAXALIGN(sizeof(MfFiltersShared));
	mf_filter_bitmap = (uint64 *) p;
	p += mf_filters_bitmap_size(npages);
	mf_filter_entries = (MfFilterEntry *) p;
	p += MAXALIGN(sizeof(MfFilterEntry) * (Size) npages);
	mf_filter_index = (int32 *) p;
	p += MAXALIGN(sizeof(int32) * (Size) mf_filters_index_slots(npages));
	mf_filter_pages = p;
	if (!found)
	{
		mf_filters->lock = &(GetNamedLWLockTranche("modelflags filters"))->lock;
		mf_filters->npages = npages;
		mf_filters->high = 0;
		memset(mf_filters->used_pages, 0, sizeof(mf_filters->used_pages));
		memset(mf_filters->entries, 0, sizeof(mf_filters->entries));
		memset(mf_filter_bitmap, 0, mf_filters_bitmap_size(npages));
		memset(mf_filter_entries, 0, sizeof(MfFilterEntry) * (Size) npages);
		memset(mf_filter_index, 0xff, sizeof(int32) * (Size) mf_filters_index_slots(npages));
	}
	LWLockRelease(AddinShmemInitLock);
}

void
MfFiltersInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("modelflags.shared_filter_memory",
							"Sets the shared memory for large actor sets' Bloom filters.",
							"Backends that build equal filters share one copy; 0 keeps every filter in its backend.",
							&mf_filter_kb, 64 * 1024, 0, 16 * 1024 * 1024,
							PGC_POSTMASTER, GUC_UNIT_KB, NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = mf_filters_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = mf_filters_shmem_startup;
}

static inline bool
mf_page_used(uint32 page)
{
	return (mf_filter_bitmap[page >> 6] & (UINT64CONST(1) << (page & 63))) != 0;
}

static void
mf_pages_mark(uint32 first, uint32 n, bool used)
{
	for (uint32 p = first; p < first + n; p++)
	{
		if (used)
			mf_filter_bitmap[p >> 6] |= UINT64CONST(1) << (p & 63);
		else
			mf_filter_bitmap[p >> 6] &= ~(UINT64CONST(1) << (p & 63));
	}
}

/* The first run of n free pages, or -1; under the lock. */
static int64
mf_pages_find(uint32 n)
{
	uint32		run = 0;

	for (uint32 p = 0; p < mf_filters->npages; p++)
	{
		if (mf_filter_bitmap[p >> 6] == ~UINT64CONST(0) && (p & 63) == 0)
		{
			run = 0;
			p += 63;
			continue;
		}
		run = mf_page_used(p) ? 0 : run + 1;
		if (run == n)
			return (int64) p + 1 - n;
	}
	return -1;
}

/* Where this backend counts its references of entry, or -1. */
static int
mf_held_find(int32 entry)
{
	for (int i = 0; i < mf_nheld; i++)
		if (mf_held[i].entry == entry)
			return i;
	return -1;
}

/* The digest index's first slot for digest; under the lock. */
static inline uint32
mf_index_home(uint64 digest)
{
	return (uint32) digest & (mf_filters_index_slots(mf_filters->npages) - 1);
}

static void
mf_index_add(int32 entry)
{
	uint32		mask = mf_filters_index_slots(mf_filters->npages) - 1;
	uint32		i = mf_index_home(mf_filter_entries[entry].digest);

	while (mf_filter_index[i] >= 0)
		i = (i + 1) & mask;
	mf_filter_index[i] = entry;
}

/* Removes entry, shifting back the slots after it (no tombstones). */
static void
mf_index_remove(int32 entry)
{
	uint32		mask = mf_filters_index_slots(mf_filters->npages) - 1;
	uint32		i = mf_index_home(mf_filter_entries[entry].digest);
	uint32		j;

	while (mf_filter_index[i] != entry)
		i = (i + 1) & mask;
	for (j = (i + 1) & mask; mf_filter_index[j] >= 0; j = (j + 1) & mask)
	{
		uint32		home = mf_index_home(mf_filter_entries[mf_filter_index[j]].digest);

		/* j's entry may move to i when its home is not in (i, j] cyclically */
		if (((j - home) & mask) >= ((j - i) & mask))
		{
			mf_filter_index[i] = mf_filter_index[j];
			i = j;
		}
	}
	mf_filter_index[i] = -1;
}

/* Drops one reference of entry; under the lock. */
static void
mf_entry_unref(int32 entry)
{
	MfFilterEntry *e = &mf_filter_entries[entry];

	Assert(e->size != 0 && e->refcount > 0);
	if (--e->refcount > 0)
		return;
	mf_index_remove(entry);
	mf_pages_mark(e->first_page, e->npages, false);
	mf_filters->used_pages[e->kind] -= e->npages;
	mf_filters->entries[e->kind]--;
	e->size = 0;
	while (mf_filters->high > 0 && mf_filter_entries[mf_filters->high - 1].size == 0)
		mf_filters->high--;
}

/* Gives back every reference this backend still holds (it is exiting). */
static void
mf_filters_exit(int code, Datum arg)
{
	if (mf_filters == NULL || mf_nheld == 0)
		return;
	LWLockAcquire(mf_filters->lock, LW_EXCLUSIVE);
	for (int i = 0; i < mf_nheld; i++)
		for (int32 k = 0; k < mf_held[i].count; k++)
			mf_entry_unref(mf_held[i].entry);
	LWLockRelease(mf_filters->lock);
	mf_nheld = 0;
}

void
MfSharedStatus(MfSharedKind kind, int32 *entries, int64 *bytes, int64 *capacity)
{
	*entries = 0;
	*bytes = 0;
	*capacity = 0;
	if (mf_filters == NULL)
		return;
	LWLockAcquire(mf_filters->lock, LW_SHARED);
	*entries = (int32) mf_filters->entries[kind];
	*bytes = (int64) mf_filters->used_pages[kind] * MF_FILTER_PAGE;
	*capacity = (int64) mf_filters->npages * MF_FILTER_PAGE;
	LWLockRelease(mf_filters->lock);
}

/* No room for nbytes of kind: said once per backend; NULL. */
static const void *
mf_shared_full(MfSharedKind kind, Size nbytes)
{
	if (!mf_full_logged)
		ereport(LOG,
				(errmsg("modelflags.shared_filter_memory is full: this backend keeps its own copy of %s of %zu bytes",
						kind == MF_SHARED_FILTER ? "an actor filter" : "its compiled routing state", nbytes),
				 errhint("Raise modelflags.shared_filter_memory (a restart) if this happens often.")));
	mf_full_logged = true;
	return NULL;
}

bool
MfFiltersAvailable(void)
{
	return mf_filters != NULL;
}

const void *
MfSharedFindOrPut(MfSharedKind kind, uint64 digest, Size nbytes,
				  MfSharedEqualFn equal, MfSharedWriteFn write, void *arg, int32 *entry,
				  uint32 *refs)
{
	uint32		npages;
	int64		first;
	int32		free_entry = -1;
	char	   *copy = NULL;

	if (mf_filters == NULL || nbytes == 0 || nbytes > (Size) PG_INT32_MAX)
		return NULL;
	npages = (uint32) ((nbytes + MF_FILTER_PAGE - 1) / MF_FILTER_PAGE);
	if (npages > mf_filters->npages)
		return mf_shared_full(kind, nbytes);

	/* Room in the ledger first: nothing below allocates. */
	if (mf_nheld >= mf_held_cap)
	{
		int			cap = mf_held_cap ? mf_held_cap * 2 : 16;
		MfFilterHeld *held;

		held = MemoryContextAllocExtended(TopMemoryContext, sizeof(MfFilterHeld) * cap, MCXT_ALLOC_NO_OOM);
		if (held == NULL)
			return NULL;
		if (mf_held != NULL)
		{
			memcpy(held, mf_held, sizeof(MfFilterHeld) * mf_nheld);
			pfree(mf_held);
		}
		mf_held = held;
		mf_held_cap = cap;
	}
	if (!mf_exit_registered)
	{
		before_shmem_exit(mf_filters_exit, (Datum) 0);
		mf_exit_registered = true;
	}

	LWLockAcquire(mf_filters->lock, LW_EXCLUSIVE);
	{
		uint32		mask = mf_filters_index_slots(mf_filters->npages) - 1;

		for (uint32 i = mf_index_home(digest); mf_filter_index[i] >= 0; i = (i + 1) & mask)
		{
			MfFilterEntry *e = &mf_filter_entries[mf_filter_index[i]];
			char	   *at = mf_filter_pages + (Size) e->first_page * MF_FILTER_PAGE;

			if (e->kind == (uint32) kind && e->size == nbytes && e->digest == digest && equal(arg, at))
			{
				e->refcount++;
				if (refs)
					*refs = e->refcount;
				*entry = mf_filter_index[i];
				copy = at;
				break;
			}
		}
	}
	if (copy == NULL)
	{
		for (uint32 i = 0; i < mf_filters->high && free_entry < 0; i++)
			if (mf_filter_entries[i].size == 0)
				free_entry = (int32) i;
		if (free_entry < 0 && mf_filters->high < mf_filters->npages)
			free_entry = (int32) mf_filters->high;
		first = free_entry < 0 ? -1 : mf_pages_find(npages);
		if (first >= 0)
		{
			MfFilterEntry *e = &mf_filter_entries[free_entry];
			char	   *dst = mf_filter_pages + (Size) first * MF_FILTER_PAGE;

			write(arg, dst);
			mf_pages_mark((uint32) first, npages, true);
			e->digest = digest;
			e->size = (uint32) nbytes;
			e->kind = (uint32) kind;
			e->refcount = 1;
			if (refs)
				*refs = 1;
			e->first_page = (uint32) first;
			e->npages = npages;
			if ((uint32) free_entry >= mf_filters->high)
				mf_filters->high = (uint32) free_entry + 1;
			mf_filters->used_pages[kind] += npages;
			mf_filters->entries[kind]++;
			mf_index_add(free_entry);
			*entry = free_entry;
			copy = dst;
		}
	}
	LWLockRelease(mf_filters->lock);

	if (copy == NULL)
		return mf_shared_full(kind, nbytes);
	{
		int			i = mf_held_find(*entry);

		if (i < 0)
		{
			i = mf_nheld++;		/* room made above */
			mf_held[i].entry = *entry;
			mf_held[i].count = 0;
		}
		mf_held[i].count++;
	}
	return copy;
}

/* A filter's content: its bytes, compared and copied as they are. */
typedef struct MfFilterContent
{
	const uint64 *bits;
	Size		nbytes;
} MfFilterContent;

static bool
mf_filter_equal(void *arg, const char *copy)
{
	MfFilterContent *f = arg;

	return memcmp(copy, f->bits, f->nbytes) == 0;
}

static void
mf_filter_write(void *arg, char *dst)
{
	MfFilterContent *f = arg;

	memcpy(dst, f->bits, f->nbytes);
}

const uint64 *
MfFilterShare(const uint64 *bits, uint32 nbits, int32 *entry)
{
	MfFilterContent f = {bits, nbits / 8};

	if (nbits == 0 || f.nbytes < MF_FILTER_SHARE_MIN)
		return NULL;
	return MfSharedFindOrPut(MF_SHARED_FILTER,
							 hash_bytes_extended((const unsigned char *) bits, (int) f.nbytes, nbits),
							 f.nbytes, mf_filter_equal, mf_filter_write, &f, entry, NULL);
}

/*
 * A reference this backend does not hold is not given back: at exit,
 * mf_filters_exit gives back every reference first, and the transaction's
 * abort that follows frees collections that still name theirs.
 */
void
MfSharedRelease(int32 entry)
{
	int			i;

	if (mf_filters == NULL || (i = mf_held_find(entry)) < 0)
		return;
	LWLockAcquire(mf_filters->lock, LW_EXCLUSIVE);
	mf_entry_unref(entry);
	LWLockRelease(mf_filters->lock);
	if (--mf_held[i].count == 0)
		mf_held[i] = mf_held[--mf_nheld];
}
