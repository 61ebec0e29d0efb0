/*
 * flipper.h — Flipper's ActiveRecord tables as a source of flags (see
 * flipper.c).
 */
#ifndef MODELFLAGS_FLIPPER_H
#define MODELFLAGS_FLIPPER_H

#include "postgres.h"

#include "utils/rel.h"
#include "utils/snapshot.h"

/* Bits of MfCache.flag_flipper. */
#define MF_FLIPPER_OWNED		0x01	/* its gates are Flipper's */
#define MF_FLIPPER_GROUPS		0x02	/* it has groups gates (never open) */
#define MF_FLIPPER_EXPRESSION	0x04	/* it has an expression gate (never open) */

/* The attached tables, and what is known of them once opened. */
typedef struct MfFlipperSource
{
	Oid			features;
	Oid			gates;
	Relation	frel;
	Relation	grel;
	AttrNumber	f_key;			/* features.key */
	AttrNumber	g_att[4];		/* gates.feature_key, key, value, id */
	Oid			gates_index;	/* on (feature_key, key, value) */
} MfFlipperSource;

/* One flag kept by Flipper, as its rows say. */
typedef struct MfFlipperFlag
{
	char	   *name;
	int8		enabled;		/* 1 on, 0 off (persisted) */
	int32		pct_actors;		/* rollout cutoff, -1 none */
	int32		pct_time;		/* thousandths, -1 none */
	int64		pct_actors_id;	/* id of the row it came from (newest wins) */
	int64		pct_time_id;
	bool		has_actors;
	uint8		unsupported;	/* MF_FLIPPER_GROUPS | MF_FLIPPER_EXPRESSION */
} MfFlipperFlag;

typedef void (*MfFlipperFlagFn) (void *arg, const MfFlipperFlag *flag);
typedef void (*MfFlipperActorFn) (void *arg, const char *actor, size_t len, bool opt_out);

/* Whether Flipper tables are attached (as snap shows modelflags.flipper_source). */
extern bool mf_flipper_source(Snapshot snap, MfFlipperSource *src);
extern void mf_flipper_open(MfFlipperSource *src);
extern void mf_flipper_close(MfFlipperSource *src);

/* Every flag the features table keeps, with its gates. */
extern void mf_flipper_read_all(MfFlipperSource *src, Snapshot snap, MfFlipperFlagFn fn, void *arg);

/* One flag: false if the features table does not keep it. */
extern bool mf_flipper_read_one(MfFlipperSource *src, const char *name, Snapshot snap,
								MfFlipperFlag *out);

/* A flag's actor rows (with actor: only the rows that concern it). */
extern void mf_flipper_scan_actors(MfFlipperSource *src, const char *flag, const char *actor,
								   size_t actor_len, Snapshot snap, MfFlipperActorFn fn, void *arg);

#endif
