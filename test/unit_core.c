/*
 * unit_core.c — unit tests of the pure C core (src/rollout.c, src/evaluate.c,
 * src/strmap.c), built as a plain program with no PostgreSQL.
 *
 *     make -C test unit-core && test/build/unit_core [label]
 *
 * Every test prints one line, "PASS: unit_core <name>" or "FAIL: unit_core
 * <name>" (with "#" lines saying which expectation failed), then a summary;
 * the exit status is non-zero if any test failed.  An optional label
 * (e.g. "asan") is put in the test names so that two builds run in one stage
 * give distinct lines.
 *
 * Expectations are concrete values (CRC vectors computed with Ruby's
 * Zlib.crc32, gates and reasons named by SPEC F), so each test can fail.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "rollout.h"
#include "strmap.h"

#define UNIT_NAME "unit_core"
#define UNIT_RNG_SEED 0x9E3779B97F4A7C15ull
#include "unit.h"

static uint32_t
crc_str(const char *s)
{
	return mf_crc32(0, s, strlen(s));
}

static uint32_t
pos_of(const char *flag, const char *actor)
{
	return mf_rollout_position(flag, strlen(flag), actor, strlen(actor));
}

/* ------------------------------------------------------------------ */
/* A stub shell: actor rows, random draws, and counts of every callback. */

typedef struct StubRow
{
	const char *flag;
	const char *actor;
	MfActorGate gate;
} StubRow;

typedef struct Stub
{
	const StubRow *rows;
	int			nrows;
	const char *actor;			/* the actor of the current evaluation */
	const double *draws;		/* random draws, used in order */
	int			ndraws;
	int			next_draw;
	int			has_rows_calls;
	int			actor_gate_calls;
	int			random_calls;
	struct HealthStub *health;	/* model health answers (SPEC §7 O tests) */
} Stub;

static bool
stub_has_rows(void *arg, const MfFlag *flag)
{
	Stub	   *s = arg;

	s->has_rows_calls++;
	for (int i = 0; i < s->nrows; i++)
		if (mf_rollout_name_crc(s->rows[i].flag, strlen(s->rows[i].flag)) == flag->name_crc)
			return true;
	return false;
}

static MfActorGate
stub_actor_gate(void *arg, const MfFlag *flag)
{
	Stub	   *s = arg;

	s->actor_gate_calls++;
	if (s->actor == NULL)
	{
		printf("#   actor_gate called without an actor\n");
		cur_fail++;
		return MF_ACTOR_NONE;
	}
	for (int i = 0; i < s->nrows; i++)
		if (mf_rollout_name_crc(s->rows[i].flag, strlen(s->rows[i].flag)) == flag->name_crc &&
			strcmp(s->rows[i].actor, s->actor) == 0)
			return s->rows[i].gate;
	return MF_ACTOR_NONE;
}

static double
stub_random(void *arg)
{
	Stub	   *s = arg;

	s->random_calls++;
	if (s->ndraws == 0)
	{
		printf("#   random called but the test provided no draws\n");
		cur_fail++;
		return 0.0;
	}
	return s->draws[s->next_draw++ % s->ndraws];
}

static MfEvalContext
stub_ctx(Stub *s, const char *actor)
{
	MfEvalContext ctx;

	s->actor = actor;
	ctx.actor = actor;
	ctx.actor_len = actor ? strlen(actor) : 0;
	ctx.actor_utf8 = ctx.actor;
	ctx.actor_utf8_len = ctx.actor_len;
	ctx.has_actor_rows = stub_has_rows;
	ctx.actor_gate = stub_actor_gate;
	ctx.random = stub_random;
	ctx.route_health = NULL;
	ctx.arg = s;
	return ctx;
}

static void
stub_reset_counts(Stub *s)
{
	s->has_rows_calls = s->actor_gate_calls = s->random_calls = 0;
	s->next_draw = 0;
}

/* A flag: enabled -1/0/1, percentages in thousandths (-1 = NULL), rows -1/0/1. */
static MfFlag
mkflag(const char *name, int enabled, int32_t pa, int32_t pt, bool default_enabled, int rows)
{
	MfFlag		f;

	f.name_crc = mf_rollout_name_crc(name, strlen(name));
	f.enabled = (int8_t) enabled;
	f.pct_actors = pa;
	f.pct_time = pt;
	f.default_enabled = default_enabled;
	f.has_actor_rows = (int8_t) rows;
	return f;
}

static MfFlagResult
eval(Stub *s, const MfFlag *f, const char *actor)
{
	MfEvalContext ctx = stub_ctx(s, actor);

	return mf_flag_evaluate(f, &ctx);
}

#define EXPECT_RESULT(r, en, g, why) \
	do { \
		MfFlagResult r_ = (r); \
		EXPECT_I(r_.enabled, (en)); \
		EXPECT_I(r_.gate, (g)); \
		EXPECT_I(r_.reason, (why)); \
	} while (0)

/* ------------------------------------------------------------------ */
/* SPEC H: zlib's CRC-32 and Flipper's bucketing. */

static void
test_crc32_vectors(void)
{
	const char *fox = "The quick brown fox jumps over the lazy dog";
	const char	nul[] = {'x', '\0', 'y'};

	EXPECT_U(crc_str("123456789"), 0xCBF43926u);
	EXPECT_U(crc_str(""), 0u);
	EXPECT_U(mf_crc32(0, NULL, 0), 0u);
	EXPECT_U(crc_str("a"), 0xE8B7BE43u);
	EXPECT_U(crc_str(fox), 0x414FA339u);
	EXPECT_U(mf_crc32(0, nul, 3), 2356816226u);
	/* UTF-8 bytes, as Ruby hashes them: "User:é" is 7 bytes. */
	EXPECT_U(crc_str("some_featureUser:\xc3\xa9"), 773419180u);

	/* Continuing a CRC gives the CRC of the concatenation, at every split. */
	for (size_t k = 0; k <= strlen(fox); k++)
		EXPECT_U(mf_crc32(mf_crc32(0, fox, k), fox + k, strlen(fox) - k), 0x414FA339u);
}

/* The CRC bit by bit, straight from the polynomial: no table to share a bug with. */
static uint32_t
crc_bitwise(const unsigned char *p, size_t len)
{
	uint32_t	crc = 0xFFFFFFFFu;

	while (len--)
	{
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
	}
	return ~crc;
}

/*
 * mf_crc32 folds eight bytes at a time: every length from 0 to at least 80
 * (so every tail of 0-7 bytes after 0-10 full blocks), at every start offset
 * 0-7, over bytes that include 0x00 and 0xFF, must give the bit-by-bit CRC,
 * also when continued from a split in the middle of a block.
 */
static void
test_crc32_every_length_and_alignment(void)
{
	unsigned char buf[96];
	uint32_t	x = 2463534242u;	/* xorshift32: fixed, so a failure repeats */
	int			bad = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
	{
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char) x;
	}
	buf[3] = 0x00;
	buf[12] = 0xFF;
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= 88; len++)
		{
			uint32_t	want = crc_bitwise(buf + off, len);
			size_t		half = len / 2 + off;

			if (half > len)
				half = len;
			if (mf_crc32(0, buf + off, len) != want ||
				mf_crc32(mf_crc32(0, buf + off, half), buf + off + half, len - half) != want)
				bad++;
		}
	EXPECT_I(bad, 0);
	EXPECT_U(crc_bitwise((const unsigned char *) "123456789", 9), 0xCBF43926u);
}

static void
test_rollout_research_vectors(void)
{
	/* research/gitlab-and-flipper.md §1.1, from the real Flipper code. */
	static const struct
	{
		const char *actor;
		uint32_t	crc;
		uint32_t	pos;
		bool		in_at_25;
	}			v[] = {
		{"User:42", 305745178u, 45178, false},
		{"User:1", 4054109890u, 9890, true},
		{"Project:7", 835434588u, 34588, false},
		{"Group:9", 2317340496u, 40496, false},
		{"Namespaces::UserNamespace:3", 3169808336u, 8336, true},
	};
	Stub		s = {0};
	MfFlag		f = mkflag("some_feature", -1, 25 * MF_PCT_SCALE, -1, false, 0);

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
	{
		char		buf[128];

		snprintf(buf, sizeof(buf), "some_feature%s", v[i].actor);
		EXPECT_U(crc_str(buf), v[i].crc);
		EXPECT_U(pos_of("some_feature", v[i].actor), v[i].pos);
		EXPECT_I(eval(&s, &f, v[i].actor).enabled, v[i].in_at_25);
	}
	EXPECT_U(pos_of("some_feature", "User:\xc3\xa9"), 19180);
	/* No separator: only the concatenation counts. */
	EXPECT_U(pos_of("some_featureUser", ":42"), 45178);
	EXPECT_U(mf_rollout_position("", 0, "some_featureUser:42", 19), 45178);
	EXPECT_U(MF_PCT_MAX, 100000);
	/* In two steps, as a compiled flag computes it: the name's CRC kept. */
	EXPECT_U(mf_rollout_position_from(mf_rollout_name_crc("some_feature", 12), "User:42", 7), 45178);
	EXPECT_U(mf_rollout_position_from(mf_rollout_name_crc("", 0), "some_featureUser:42", 19), 45178);
	EXPECT_U(mf_rollout_position_from(mf_rollout_name_crc("some_featureUser", 16), ":42", 3), 45178);
	/* A compiled flag stays 16 bytes: a backend keeps one per flag. */
	EXPECT_U(sizeof(MfFlag), 20);
}

/* Raising the percentage never removes an actor; membership is position < p. */
static void
test_rollout_monotonic(void)
{
	enum
	{
	NACTORS = 1500};
	static char actors[NACTORS][32];
	static uint32_t pos[NACTORS];
	static bool was_in[NACTORS];
	Stub		s = {0};
	int			removed = 0;
	int			wrong = 0;

	for (int i = 0; i < NACTORS; i++)
	{
		snprintf(actors[i], sizeof(actors[i]), i % 2 ? "User:%d" : "Project:%d", i * 7919);
		pos[i] = pos_of("code_generations_rollout", actors[i]);
		was_in[i] = false;
		EXPECT(pos[i] < 100000);
	}
	for (int32_t p = 0; p <= MF_PCT_MAX; p += (p < 200 ? 1 : 263))
	{
		MfFlag		f = mkflag("code_generations_rollout", -1, p, -1, false, 0);
		int			count = 0;

		for (int i = 0; i < NACTORS; i++)
		{
			bool		in = eval(&s, &f, actors[i]).enabled;

			if (was_in[i] && !in)
				removed++;
			if (in != (pos[i] < (uint32_t) p))
				wrong++;
			was_in[i] = in;
			count += in;
		}
		if (p == 0)
			EXPECT_I(count, 0);
	}
	/* the last step is below 100%; 100% must take everyone */
	{
		MfFlag		f = mkflag("code_generations_rollout", -1, MF_PCT_MAX, -1, false, 0);
		int			count = 0;

		for (int i = 0; i < NACTORS; i++)
			count += eval(&s, &f, actors[i]).enabled;
		EXPECT_I(count, NACTORS);
	}
	EXPECT_I(removed, 0);
	EXPECT_I(wrong, 0);
	EXPECT_I(s.random_calls, 0);
}

/* Positions spread over [0, 100000): a broken hash would pile them up. */
static void
test_rollout_distribution(void)
{
	int			bins[10] = {0};
	char		actor[32];

	for (int i = 0; i < 100000; i++)
	{
		snprintf(actor, sizeof(actor), "User:%d", i);
		bins[pos_of("duo_chat", actor) / 10000]++;
	}
	/* 10000 expected per bin; 5 sigma is about 475 */
	for (int b = 0; b < 10; b++)
		EXPECT(bins[b] > 9500 && bins[b] < 10500);
}

/* ------------------------------------------------------------------ */
/* SPEC F. */

static void
test_f1_unknown_flag(void)
{
	Stub		s = {0};

	EXPECT_RESULT(eval(&s, NULL, "User:1"), false, MF_GATE_NONE, MF_FLAG_UNKNOWN);
	EXPECT_RESULT(eval(&s, NULL, NULL), false, MF_GATE_NONE, MF_FLAG_UNKNOWN);
	EXPECT_I(s.has_rows_calls + s.actor_gate_calls + s.random_calls, 0);
}

static void
test_f2_opt_out_beats_every_gate(void)
{
	static const StubRow rows[] = {
		{"incident_fail_over", "User:42", MF_ACTOR_OPT_OUT},
		{"incident_fail_over", "User:7", MF_ACTOR_ENABLED},
	};
	static const double draws[] = {0.0};
	Stub		s = {rows, 2, NULL, draws, 1};
	MfFlag		all_open = mkflag("incident_fail_over", 1, MF_PCT_MAX, MF_PCT_MAX, true, -1);
	MfFlag		pct_only = mkflag("incident_fail_over", -1, MF_PCT_MAX, -1, true, -1);
	MfFlag		time_only = mkflag("incident_fail_over", 0, -1, MF_PCT_MAX, false, 1);

	EXPECT_RESULT(eval(&s, &all_open, "User:42"), false, MF_GATE_NONE, MF_FLAG_OPTED_OUT);
	EXPECT_RESULT(eval(&s, &pct_only, "User:42"), false, MF_GATE_NONE, MF_FLAG_OPTED_OUT);
	EXPECT_RESULT(eval(&s, &time_only, "User:42"), false, MF_GATE_NONE, MF_FLAG_OPTED_OUT);
	EXPECT_I(s.random_calls, 0);
	/* someone else's opt-out changes nothing */
	EXPECT_RESULT(eval(&s, &all_open, "User:7"), true, MF_GATE_BOOLEAN, MF_FLAG_GATE_OPEN);
	EXPECT_RESULT(eval(&s, &all_open, "User:43"), true, MF_GATE_BOOLEAN, MF_FLAG_GATE_OPEN);
	/* no actor: nobody to opt out */
	EXPECT_RESULT(eval(&s, &all_open, NULL), true, MF_GATE_BOOLEAN, MF_FLAG_GATE_OPEN);
	/* an opt-out row alone makes the flag persisted: default_enabled no longer applies */
	{
		static const StubRow only_opt_out[] = {{"new_model", "User:42", MF_ACTOR_OPT_OUT}};
		Stub		s2 = {only_opt_out, 1};
		MfFlag		f = mkflag("new_model", -1, -1, -1, true, -1);

		EXPECT_RESULT(eval(&s2, &f, "User:42"), false, MF_GATE_NONE, MF_FLAG_OPTED_OUT);
		EXPECT_RESULT(eval(&s2, &f, "User:1"), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
		EXPECT_RESULT(eval(&s2, &f, NULL), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
	}
}

static void
test_f3_no_gate_set_is_default_enabled(void)
{
	Stub		s = {0};
	MfFlag		on = mkflag("ai_default_on", -1, -1, -1, true, -1);
	MfFlag		off = mkflag("ai_default_off", -1, -1, -1, false, -1);
	MfFlag		on_known_empty = mkflag("ai_default_on", -1, -1, -1, true, 0);

	EXPECT_RESULT(eval(&s, &on, "User:1"), true, MF_GATE_DEFAULT_ENABLED, MF_FLAG_DEFAULT);
	EXPECT_RESULT(eval(&s, &on, NULL), true, MF_GATE_DEFAULT_ENABLED, MF_FLAG_DEFAULT);
	EXPECT_RESULT(eval(&s, &off, "User:1"), false, MF_GATE_NONE, MF_FLAG_DEFAULT);
	EXPECT_RESULT(eval(&s, &off, NULL), false, MF_GATE_NONE, MF_FLAG_DEFAULT);
	EXPECT_RESULT(eval(&s, &on_known_empty, "User:1"), true, MF_GATE_DEFAULT_ENABLED, MF_FLAG_DEFAULT);

	/* Any gate ever set — even to false or 0 — means "persisted": no default. */
	{
		MfFlag		cleared = mkflag("ai_default_on", 0, -1, -1, true, 0);
		MfFlag		pa0 = mkflag("ai_default_on", -1, 0, -1, true, 0);
		MfFlag		pt0 = mkflag("ai_default_on", -1, -1, 0, true, 0);
		MfFlag		rows = mkflag("ai_default_on", -1, -1, -1, true, 1);

		EXPECT_RESULT(eval(&s, &cleared, "User:1"), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
		EXPECT_RESULT(eval(&s, &pa0, "User:1"), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
		EXPECT_RESULT(eval(&s, &pt0, NULL), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
		EXPECT_RESULT(eval(&s, &rows, "User:1"), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
		EXPECT_RESULT(eval(&s, &rows, NULL), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
	}
	/* default_enabled does not leak into a persisted flag whose gates open */
	{
		MfFlag		f = mkflag("ai_default_on", 1, -1, -1, true, 0);

		EXPECT_RESULT(eval(&s, &f, "User:1"), true, MF_GATE_BOOLEAN, MF_FLAG_GATE_OPEN);
	}
	EXPECT_I(s.random_calls, 0);
}

static void
test_f4_boolean_false_is_no_veto(void)
{
	static const StubRow rows[] = {{"migrate_model", "User:5", MF_ACTOR_ENABLED}};
	static const double draws[] = {0.25};
	Stub		s = {rows, 1, NULL, draws, 1};
	MfFlag		actor = mkflag("migrate_model", 0, -1, -1, false, -1);
	MfFlag		pa = mkflag("migrate_model", 0, MF_PCT_MAX, -1, false, -1);
	MfFlag		pt = mkflag("migrate_model", 0, -1, 50000, false, -1);

	EXPECT_RESULT(eval(&s, &actor, "User:5"), true, MF_GATE_ACTOR, MF_FLAG_GATE_OPEN);
	EXPECT_RESULT(eval(&s, &actor, "User:6"), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
	EXPECT_RESULT(eval(&s, &pa, "User:6"), true, MF_GATE_PERCENTAGE_OF_ACTORS, MF_FLAG_GATE_OPEN);
	EXPECT_RESULT(eval(&s, &pt, NULL), true, MF_GATE_PERCENTAGE_OF_TIME, MF_FLAG_GATE_OPEN);
	/* and boolean true alone opens for everyone */
	{
		MfFlag		on = mkflag("migrate_model", 1, -1, -1, false, 0);

		EXPECT_RESULT(eval(&s, &on, NULL), true, MF_GATE_BOOLEAN, MF_FLAG_GATE_OPEN);
		EXPECT_RESULT(eval(&s, &on, "Anything at all"), true, MF_GATE_BOOLEAN, MF_FLAG_GATE_OPEN);
	}
}

/* Flipper's order: boolean, actor, percentage_of_actors, percentage_of_time. */
static void
test_f4_gate_order(void)
{
	/* "User:1" is at 9890 in some_feature (see the research vectors) */
	static const StubRow rows[] = {{"some_feature", "User:1", MF_ACTOR_ENABLED}};
	static const double draws[] = {0.0};
	Stub		s = {rows, 1, NULL, draws, 1};
	MfFlag		all = mkflag("some_feature", 1, MF_PCT_MAX, MF_PCT_MAX, false, -1);
	MfFlag		no_bool = mkflag("some_feature", 0, MF_PCT_MAX, MF_PCT_MAX, false, -1);
	MfFlag		pa_and_pt = mkflag("some_feature", -1, 9891, MF_PCT_MAX, false, 0);
	MfFlag		pa_closed = mkflag("some_feature", -1, 9890, MF_PCT_MAX, false, 0);

	EXPECT_RESULT(eval(&s, &all, "User:1"), true, MF_GATE_BOOLEAN, MF_FLAG_GATE_OPEN);
	EXPECT_RESULT(eval(&s, &no_bool, "User:1"), true, MF_GATE_ACTOR, MF_FLAG_GATE_OPEN);
	EXPECT_RESULT(eval(&s, &no_bool, "User:2"), true, MF_GATE_PERCENTAGE_OF_ACTORS, MF_FLAG_GATE_OPEN);
	EXPECT_I(s.random_calls, 0);
	/* position 9890 < 9891: in; the time gate is never drawn */
	EXPECT_RESULT(eval(&s, &pa_and_pt, "User:1"), true, MF_GATE_PERCENTAGE_OF_ACTORS, MF_FLAG_GATE_OPEN);
	EXPECT_I(s.random_calls, 0);
	/* position 9890 is not < 9890: the time gate decides, with one draw */
	EXPECT_RESULT(eval(&s, &pa_closed, "User:1"), true, MF_GATE_PERCENTAGE_OF_TIME, MF_FLAG_GATE_OPEN);
	EXPECT_I(s.random_calls, 1);
}

static void
test_f4_nil_actor_closes_actor_gates(void)
{
	static const StubRow rows[] = {{"chat_model", "User:1", MF_ACTOR_ENABLED}};
	static const double draws[] = {0.5};
	Stub		s = {rows, 1, NULL, draws, 1};
	MfFlag		actors = mkflag("chat_model", -1, MF_PCT_MAX, -1, true, -1);
	MfFlag		time = mkflag("chat_model", -1, MF_PCT_MAX, MF_PCT_MAX, false, -1);

	EXPECT_RESULT(eval(&s, &actors, NULL), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
	EXPECT_I(s.actor_gate_calls, 0);
	/* gates are set, so the actor rows are not needed without an actor */
	EXPECT_I(s.has_rows_calls, 0);
	EXPECT_RESULT(eval(&s, &time, NULL), true, MF_GATE_PERCENTAGE_OF_TIME, MF_FLAG_GATE_OPEN);
	EXPECT_I(s.actor_gate_calls, 0);
	/* percentage 100 takes every actor, whatever its position */
	EXPECT_RESULT(eval(&s, &actors, "User:99"), true, MF_GATE_PERCENTAGE_OF_ACTORS, MF_FLAG_GATE_OPEN);
}

static void
test_f4_percentage_of_time(void)
{
	static const double draws[] = {0.0, 0.999999, 0.49999, 0.5, 0.0000099, 0.00001};
	Stub		s = {NULL, 0, NULL, draws, 6};
	MfFlag		pt0 = mkflag("timed", -1, -1, 0, false, 0);
	MfFlag		pt100 = mkflag("timed", -1, -1, MF_PCT_MAX, false, 0);
	MfFlag		pt50 = mkflag("timed", -1, -1, 50000, false, 0);
	MfFlag		pt_min = mkflag("timed", -1, -1, 1, false, 0);

	/* 0% never draws and is closed */
	EXPECT_RESULT(eval(&s, &pt0, NULL), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
	EXPECT_I(s.random_calls, 0);
	s.next_draw = 0;
	EXPECT_RESULT(eval(&s, &pt100, NULL), true, MF_GATE_PERCENTAGE_OF_TIME, MF_FLAG_GATE_OPEN);
	EXPECT_RESULT(eval(&s, &pt100, "User:1"), true, MF_GATE_PERCENTAGE_OF_TIME, MF_FLAG_GATE_OPEN);
	EXPECT_RESULT(eval(&s, &pt50, NULL), true, MF_GATE_PERCENTAGE_OF_TIME, MF_FLAG_GATE_OPEN);
	EXPECT_RESULT(eval(&s, &pt50, NULL), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
	EXPECT_RESULT(eval(&s, &pt_min, NULL), true, MF_GATE_PERCENTAGE_OF_TIME, MF_FLAG_GATE_OPEN);
	EXPECT_RESULT(eval(&s, &pt_min, NULL), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
	EXPECT_I(s.random_calls, 6);
}

/* The actor-row callbacks are asked only when the answer can depend on them. */
static void
test_f_lazy_actor_rows(void)
{
	static const StubRow rows[] = {{"lazy", "User:1", MF_ACTOR_ENABLED}};
	Stub		s = {rows, 1};
	Stub		empty = {0};

	/* known to have rows: no has_rows call, one actor_gate call */
	{
		MfFlag		f = mkflag("lazy", -1, -1, -1, false, 1);

		stub_reset_counts(&s);
		EXPECT_RESULT(eval(&s, &f, "User:1"), true, MF_GATE_ACTOR, MF_FLAG_GATE_OPEN);
		EXPECT_I(s.has_rows_calls, 0);
		EXPECT_I(s.actor_gate_calls, 1);
	}
	/* known to have none: neither */
	{
		MfFlag		f = mkflag("lazy", 1, -1, -1, false, 0);

		stub_reset_counts(&s);
		EXPECT_RESULT(eval(&s, &f, "User:1"), true, MF_GATE_BOOLEAN, MF_FLAG_GATE_OPEN);
		EXPECT_I(s.has_rows_calls, 0);
		EXPECT_I(s.actor_gate_calls, 0);
	}
	/* unknown, no actor, gates set: rows cannot matter */
	{
		MfFlag		f = mkflag("lazy", 0, 5000, -1, false, -1);

		stub_reset_counts(&s);
		EXPECT_RESULT(eval(&s, &f, NULL), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
		EXPECT_I(s.has_rows_calls, 0);
		EXPECT_I(s.actor_gate_calls, 0);
	}
	/* unknown, no actor, no gate set: rows decide "persisted"; asked once */
	{
		MfFlag		f = mkflag("lazy", -1, -1, -1, true, -1);

		stub_reset_counts(&s);
		EXPECT_RESULT(eval(&s, &f, NULL), false, MF_GATE_NONE, MF_FLAG_ALL_CLOSED);
		EXPECT_I(s.has_rows_calls, 1);
		EXPECT_I(s.actor_gate_calls, 0);
		stub_reset_counts(&empty);
		EXPECT_RESULT(eval(&empty, &f, NULL), true, MF_GATE_DEFAULT_ENABLED, MF_FLAG_DEFAULT);
		EXPECT_I(empty.has_rows_calls, 1);
	}
	/* unknown, an actor: asked once; actor_gate only if there are rows */
	{
		MfFlag		f = mkflag("lazy", 1, -1, -1, false, -1);

		stub_reset_counts(&s);
		EXPECT_RESULT(eval(&s, &f, "User:2"), true, MF_GATE_BOOLEAN, MF_FLAG_GATE_OPEN);
		EXPECT_I(s.has_rows_calls, 1);
		EXPECT_I(s.actor_gate_calls, 1);
		stub_reset_counts(&empty);
		EXPECT_RESULT(eval(&empty, &f, "User:2"), true, MF_GATE_BOOLEAN, MF_FLAG_GATE_OPEN);
		EXPECT_I(empty.has_rows_calls, 1);
		EXPECT_I(empty.actor_gate_calls, 0);
	}
}

static void
test_gate_names(void)
{
	EXPECT(mf_gate_name(MF_GATE_NONE) == NULL);
	EXPECT(strcmp(mf_gate_name(MF_GATE_DEFAULT), "default") == 0);
	EXPECT(strcmp(mf_gate_name(MF_GATE_BOOLEAN), "boolean") == 0);
	EXPECT(strcmp(mf_gate_name(MF_GATE_ACTOR), "actor") == 0);
	EXPECT(strcmp(mf_gate_name(MF_GATE_PERCENTAGE_OF_ACTORS), "percentage_of_actors") == 0);
	EXPECT(strcmp(mf_gate_name(MF_GATE_PERCENTAGE_OF_TIME), "percentage_of_time") == 0);
	EXPECT(strcmp(mf_gate_name(MF_GATE_DEFAULT_ENABLED), "default_enabled") == 0);
}

/* ------------------------------------------------------------------ */
/* SPEC R. */

static MfRoute
mkroute(const MfFlag *flag, bool missing, bool model_enabled, bool provider_available)
{
	MfRoute		r;

	r.flag = flag;
	r.flag_missing = missing;
	r.model_enabled = model_enabled;
	r.provider_available = provider_available;
	return r;
}

static void
test_r_first_applying_unskipped_wins(void)
{
	static const StubRow rows[] = {{"beta_model", "User:1", MF_ACTOR_ENABLED}};
	Stub		s = {rows, 1};
	MfFlag		off = mkflag("off_flag", 0, -1, -1, false, 0);
	MfFlag		on = mkflag("on_flag", 1, -1, -1, false, 0);
	MfFlag		beta = mkflag("beta_model", -1, -1, -1, false, -1);
	MfRoute		routes[] = {
		mkroute(&off, false, true, true),	/* not applying */
		mkroute(NULL, false, false, true),	/* applies, model disabled */
		mkroute(&on, false, true, false),	/* applies, provider down */
		mkroute(&beta, false, true, true),	/* applies for User:1 only */
		mkroute(NULL, false, true, true),	/* the default */
	};
	MfEvalContext ctx;
	int			skipped;
	MfGate		gate;

	ctx = stub_ctx(&s, "User:1");
	EXPECT_I(mf_route_select(routes, 5, &ctx, NULL, MF_WALK_TO_WINNER, &skipped, &gate), 3);
	EXPECT_I(skipped, 2);
	EXPECT_I(gate, MF_GATE_ACTOR);

	ctx = stub_ctx(&s, "User:2");
	EXPECT_I(mf_route_select(routes, 5, &ctx, NULL, MF_WALK_TO_WINNER, &skipped, &gate), 4);
	EXPECT_I(skipped, 2);
	EXPECT_I(gate, MF_GATE_DEFAULT);

	ctx = stub_ctx(&s, NULL);
	EXPECT_I(mf_route_select(routes, 5, &ctx, NULL, MF_WALK_TO_WINNER, &skipped, &gate), 4);
	EXPECT_I(skipped, 2);

	/* a flagless first route wins at once, and later flags are not evaluated */
	stub_reset_counts(&s);
	ctx = stub_ctx(&s, "User:1");
	EXPECT_I(mf_route_select(routes + 4, 1, &ctx, NULL, MF_WALK_TO_WINNER, &skipped, &gate), 0);
	EXPECT_I(skipped, 0);
	EXPECT_I(gate, MF_GATE_DEFAULT);
	{
		MfRoute		first_default[] = {mkroute(NULL, false, true, true), mkroute(&beta, false, true, true)};

		EXPECT_I(mf_route_select(first_default, 2, &ctx, NULL, MF_WALK_TO_WINNER, &skipped, &gate), 0);
		EXPECT_I(s.has_rows_calls + s.actor_gate_calls, 0);
	}
	/* a default_enabled flag reports its gate */
	{
		MfFlag		de = mkflag("new_default", -1, -1, -1, true, 0);
		MfRoute		r[] = {mkroute(&de, false, true, true)};

		EXPECT_I(mf_route_select(r, 1, &ctx, NULL, MF_WALK_TO_WINNER, &skipped, &gate), 0);
		EXPECT_I(gate, MF_GATE_DEFAULT_ENABLED);
	}
}

static void
test_r_skips_and_no_route(void)
{
	Stub		s = {0};
	MfFlag		on = mkflag("on_flag", 1, -1, -1, false, 0);
	MfFlag		off = mkflag("off_flag", -1, -1, -1, false, 0);
	MfEvalContext ctx = stub_ctx(&s, "User:1");
	int			skipped = -7;
	MfGate		gate = MF_GATE_BOOLEAN;
	MfRouteStep steps[4];

	/* nothing at all */
	EXPECT_I(mf_route_select(NULL, 0, &ctx, NULL, MF_WALK_TO_WINNER, &skipped, &gate), -1);
	EXPECT_I(skipped, 0);
	EXPECT_I(gate, MF_GATE_NONE);

	/* everything applying is skipped: -1, and skipped counts them all */
	{
		MfRoute		r[] = {
			mkroute(NULL, false, false, false),
			mkroute(&off, false, true, true),
			mkroute(&on, false, true, false),
			mkroute(NULL, false, false, true),
		};

		EXPECT_I(mf_route_select(r, 4, &ctx, NULL, MF_WALK_TO_WINNER, &skipped, &gate), -1);
		EXPECT_I(skipped, 3);
		EXPECT_I(gate, MF_GATE_NONE);
		EXPECT_I(mf_route_select(r, 4, &ctx, steps, MF_WALK_ALL, &skipped, &gate), -1);
		EXPECT_I(skipped, 3);
		/* the model is checked before the provider */
		EXPECT_I(steps[0].decision, MF_ROUTE_SKIPPED_MODEL);
		EXPECT_I(steps[1].decision, MF_ROUTE_NOT_APPLYING);
		EXPECT_I(steps[1].flag.reason, MF_FLAG_DEFAULT);
		EXPECT_I(steps[2].decision, MF_ROUTE_SKIPPED_PROVIDER);
		EXPECT_I(steps[2].flag.gate, MF_GATE_BOOLEAN);
		EXPECT_I(steps[3].decision, MF_ROUTE_SKIPPED_MODEL);
		EXPECT_I(steps[3].flag.gate, MF_GATE_DEFAULT);
	}
	/* a missing flag never applies, even with no flag pointer or a flag that is on */
	{
		MfRoute		r[] = {
			mkroute(NULL, true, true, true),
			mkroute(&on, true, true, true),
			mkroute(&off, false, true, true),
		};

		EXPECT_I(mf_route_select(r, 3, &ctx, NULL, MF_WALK_TO_WINNER, &skipped, &gate), -1);
		EXPECT_I(skipped, 0);
		EXPECT_I(mf_route_select(r, 3, &ctx, steps, MF_WALK_ALL, &skipped, &gate), -1);
		EXPECT_I(steps[0].decision, MF_ROUTE_NOT_APPLYING);
		EXPECT_I(steps[0].flag.reason, MF_FLAG_UNKNOWN);
		EXPECT_I(steps[1].decision, MF_ROUTE_NOT_APPLYING);
		EXPECT_I(steps[1].flag.reason, MF_FLAG_UNKNOWN);
		EXPECT_I(steps[2].decision, MF_ROUTE_NOT_APPLYING);
	}
	/* an opted-out actor: the route does not apply, and explain says why */
	{
		static const StubRow rows[] = {{"on_flag", "User:9", MF_ACTOR_OPT_OUT}};
		Stub		s2 = {rows, 1};
		MfFlag		on_rows = mkflag("on_flag", 1, -1, -1, false, 1);
		MfRoute		r[] = {mkroute(&on_rows, false, true, true), mkroute(NULL, false, true, true)};
		MfEvalContext c2 = stub_ctx(&s2, "User:9");

		EXPECT_I(mf_route_select(r, 2, &c2, steps, MF_WALK_ALL, &skipped, &gate), 1);
		EXPECT_I(steps[0].decision, MF_ROUTE_NOT_APPLYING);
		EXPECT_I(steps[0].flag.reason, MF_FLAG_OPTED_OUT);
		EXPECT_I(steps[1].decision, MF_ROUTE_CHOSEN);
	}
	/* routes after the winner are "not reached", never "skipped" */
	{
		MfRoute		r[] = {
			mkroute(NULL, false, true, true),
			mkroute(NULL, false, false, true),
			mkroute(&on, false, true, false),
			mkroute(&off, false, true, true),
		};

		EXPECT_I(mf_route_select(r, 4, &ctx, steps, MF_WALK_ALL, &skipped, &gate), 0);
		EXPECT_I(skipped, 0);
		EXPECT_I(steps[0].decision, MF_ROUTE_CHOSEN);
		EXPECT_I(steps[1].decision, MF_ROUTE_NOT_REACHED);
		EXPECT_I(steps[2].decision, MF_ROUTE_NOT_REACHED);
		EXPECT_I(steps[3].decision, MF_ROUTE_NOT_APPLYING);
	}
}

/* explain's walk (with steps) chooses exactly what model_for's walk chooses. */
static void
test_r_steps_match_plain_walk(void)
{
	enum
	{
	NFLAGS = 6, MAXR = 8};
	static const StubRow rows[] = {
		{"f0", "User:1", MF_ACTOR_ENABLED}, {"f1", "User:1", MF_ACTOR_OPT_OUT},
		{"f2", "User:2", MF_ACTOR_ENABLED}, {"f3", "User:3", MF_ACTOR_OPT_OUT},
	};
	static const double draws[] = {0.1, 0.9, 0.5, 0.3, 0.7, 0.05, 0.95};
	static const char *names[NFLAGS] = {"f0", "f1", "f2", "f3", "f4", "f5"};
	static const char *actors[] = {NULL, "User:1", "User:2", "User:3", "User:4"};
	Stub		s = {rows, 4, NULL, draws, 7};
	int			mismatches = 0;
	int			chosen_seen = 0;
	int			none_seen = 0;

	for (int iter = 0; iter < 20000; iter++)
	{
		MfFlag		flags[NFLAGS];
		MfRoute		routes[MAXR];
		MfRouteStep steps[MAXR];
		int			n = (int) (rng() % (MAXR + 1));
		const char *actor = actors[rng() % 5];
		int			c1, c2, sk1, sk2, counted = 0;
		MfGate		g1, g2;
		MfEvalContext ctx;

		for (int i = 0; i < NFLAGS; i++)
		{
			static const int32_t pcts[] = {-1, 0, 1, 25000, 50000, 99999, MF_PCT_MAX};

			flags[i] = mkflag(names[i], (int) (rng() % 3) - 1, pcts[rng() % 7], pcts[rng() % 7],
							  rng() % 2, (int) (rng() % 2) - 1);
		}
		for (int i = 0; i < n; i++)
		{
			uint32_t	k = rng() % 8;

			routes[i] = mkroute(k < 2 ? NULL : &flags[rng() % NFLAGS], k == 7,
								rng() % 4 != 0, rng() % 4 != 0);
		}
		s.next_draw = (int) (rng() % 7);
		{
			int			start = s.next_draw;

			ctx = stub_ctx(&s, actor);
			c1 = mf_route_select(routes, n, &ctx, NULL, MF_WALK_TO_WINNER, &sk1, &g1);
			s.next_draw = start;
			c2 = mf_route_select(routes, n, &ctx, steps, MF_WALK_ALL, &sk2, &g2);

			/*
			 * model_for's walk records the same steps as explain's up to the
			 * winner (all of them when there is none): its error detail
			 * describes the very draws that decided it.
			 */
			{
				MfRouteStep wsteps[MAXR];
				int			c3,
							sk3;
				MfGate		g3;
				int			upto;

				s.next_draw = start;
				c3 = mf_route_select(routes, n, &ctx, wsteps, MF_WALK_TO_WINNER, &sk3, &g3);
				upto = c3 >= 0 ? c3 + 1 : n;
				if (c3 != c1 || sk3 != sk1 || g3 != g1)
					mismatches++;
				for (int i = 0; i < upto; i++)
					if (wsteps[i].decision != steps[i].decision ||
						wsteps[i].flag.enabled != steps[i].flag.enabled ||
						wsteps[i].flag.gate != steps[i].flag.gate ||
						wsteps[i].flag.reason != steps[i].flag.reason)
						mismatches++;
			}
		}
		for (int i = 0; i < n; i++)
		{
			MfRouteDecision d = steps[i].decision;

			if (d == MF_ROUTE_SKIPPED_MODEL || d == MF_ROUTE_SKIPPED_PROVIDER)
				counted++;
			if ((d == MF_ROUTE_CHOSEN) != (i == c2))
				mismatches++;
			if (c2 >= 0 && i < c2 && d == MF_ROUTE_NOT_REACHED)
				mismatches++;
			if (c2 >= 0 && i > c2 && d != MF_ROUTE_NOT_REACHED && d != MF_ROUTE_NOT_APPLYING)
				mismatches++;
			if (c2 < 0 && (d == MF_ROUTE_NOT_REACHED || d == MF_ROUTE_CHOSEN))
				mismatches++;
			if (routes[i].flag == NULL && !routes[i].flag_missing && steps[i].flag.gate != MF_GATE_DEFAULT)
				mismatches++;
			if ((d == MF_ROUTE_NOT_APPLYING) == steps[i].flag.enabled)
				mismatches++;
		}
		if (c1 != c2 || sk1 != sk2 || g1 != g2 || counted != sk2)
			mismatches++;
		if (c1 >= 0)
			chosen_seen++;
		else
			none_seen++;
	}
	EXPECT_I(mismatches, 0);
	/* the generator exercised both outcomes */
	EXPECT(chosen_seen > 1000);
	EXPECT(none_seen > 1000);
}

/* ------------------------------------------------------------------ */
/* SPEC §7 O: model health in route selection (mf_route_choose). */

/* A health stub: a verdict per route, and which routes were asked. */
typedef struct HealthStub
{
	MfRouteHealth answers[16];
	int			asked[16];
} HealthStub;

static MfRouteHealth
stub_route_health(void *arg, int route)
{
	HealthStub *h = ((Stub *) arg)->health;

	h->asked[route]++;
	return h->answers[route];
}

static MfEvalContext
health_ctx(Stub *s, HealthStub *h, const char *actor)
{
	MfEvalContext ctx = stub_ctx(s, actor);

	memset(h->asked, 0, sizeof(h->asked));
	s->health = h;
	ctx.route_health = stub_route_health;
	return ctx;
}

static MfRouteHealth
hv(MfHealthVerdict v, int64_t due)
{
	MfRouteHealth r = {v, due};

	return r;
}

/* An open model is skipped like an unavailable provider's: the next applying route wins. */
static void
test_o_open_model_skipped(void)
{
	Stub		s = {0};
	HealthStub	h = {0};
	MfFlag		on = mkflag("on_flag", 1, -1, -1, false, 0);
	MfFlag		off = mkflag("off_flag", 0, -1, -1, false, 0);
	MfRoute		r[] = {
		mkroute(&off, false, true, true),	/* not applying */
		mkroute(&on, false, true, true),	/* applies; open */
		mkroute(NULL, false, false, true),	/* model disabled */
		mkroute(NULL, false, true, true),	/* the default: up */
		mkroute(NULL, false, true, true),	/* not reached */
	};
	MfRouteStep steps[5];
	MfRouteChoice c;
	MfEvalContext ctx = health_ctx(&s, &h, "User:1");

	h.answers[1] = hv(MF_HEALTH_OPEN, 5000);
	EXPECT_I(mf_route_choose(r, 5, &ctx, steps, MF_WALK_ALL, &c), 3);
	EXPECT_I(c.chosen, 3);
	EXPECT_I(c.skipped, 2);
	EXPECT_I(c.gate, MF_GATE_DEFAULT);
	EXPECT_I(c.health, MF_HEALTH_UP);
	EXPECT(!c.degraded);
	EXPECT_I(steps[0].decision, MF_ROUTE_NOT_APPLYING);
	EXPECT_I(steps[1].decision, MF_ROUTE_SKIPPED_OPEN);
	EXPECT_I(steps[1].health.verdict, MF_HEALTH_OPEN);
	EXPECT_I(steps[1].health.due_at, 5000);
	EXPECT_I(steps[1].flag.gate, MF_GATE_BOOLEAN);
	EXPECT_I(steps[2].decision, MF_ROUTE_SKIPPED_MODEL);
	EXPECT_I(steps[3].decision, MF_ROUTE_CHOSEN);
	EXPECT_I(steps[4].decision, MF_ROUTE_NOT_REACHED);
	/* asked only about candidates, once each: not the route whose flag is
	 * off, the disabled model, or what comes after the winner */
	EXPECT_I(h.asked[0], 0);
	EXPECT_I(h.asked[1], 1);
	EXPECT_I(h.asked[2], 0);
	EXPECT_I(h.asked[3], 1);
	EXPECT_I(h.asked[4], 0);

	/* closed again: the first applying route wins, nothing else is asked */
	ctx = health_ctx(&s, &h, "User:1");
	h.answers[1] = hv(MF_HEALTH_UP, 0);
	EXPECT_I(mf_route_choose(r, 5, &ctx, NULL, MF_WALK_TO_WINNER, &c), 1);
	EXPECT_I(c.skipped, 0);
	EXPECT_I(h.asked[1], 1);
	EXPECT_I(h.asked[3], 0);

	/* a half-open model admitting a probe is chosen, and says it is a probe */
	ctx = health_ctx(&s, &h, "User:1");
	h.answers[1] = hv(MF_HEALTH_PROBE, 0);
	EXPECT_I(mf_route_choose(r, 5, &ctx, steps, MF_WALK_TO_WINNER, &c), 1);
	EXPECT_I(c.health, MF_HEALTH_PROBE);
	EXPECT(!c.degraded);
	EXPECT_I(steps[1].decision, MF_ROUTE_CHOSEN);

	/* mf_route_select is the same walk: with no health callback, nothing is skipped for health */
	{
		int			skipped;
		MfGate		gate;
		MfEvalContext plain = stub_ctx(&s, "User:1");

		EXPECT_I(mf_route_select(r, 5, &plain, NULL, MF_WALK_TO_WINNER, &skipped, &gate), 1);
		EXPECT_I(skipped, 0);
		ctx = health_ctx(&s, &h, "User:1");
		h.answers[1] = hv(MF_HEALTH_OPEN, 1);
		EXPECT_I(mf_route_select(r, 5, &ctx, NULL, MF_WALK_TO_WINNER, &skipped, &gate), 3);
		EXPECT_I(skipped, 2);
	}
}

/* Every applying route open: the one due back first is served, and the answer says so. */
static void
test_o_all_open_serves_due_first(void)
{
	Stub		s = {0};
	HealthStub	h = {0};
	MfFlag		on = mkflag("on_flag", 1, -1, -1, false, 0);
	MfFlag		off = mkflag("off_flag", 0, -1, -1, false, 0);
	MfRoute		r[] = {
		mkroute(&on, false, true, true),	/* open, due at 900 */
		mkroute(&off, false, true, true),	/* not applying (its model would be due first) */
		mkroute(NULL, false, true, false),	/* provider down */
		mkroute(NULL, false, true, true),	/* open, due at 300: served */
		mkroute(NULL, false, true, true),	/* open, due at 300 too: later on a tie */
	};
	MfRouteStep steps[5];
	MfRouteChoice c;
	MfEvalContext ctx = health_ctx(&s, &h, "User:1");

	h.answers[0] = hv(MF_HEALTH_OPEN, 900);
	h.answers[1] = hv(MF_HEALTH_OPEN, 1);
	h.answers[3] = hv(MF_HEALTH_OPEN, 300);
	h.answers[4] = hv(MF_HEALTH_OPEN, 300);
	EXPECT_I(mf_route_choose(r, 5, &ctx, steps, MF_WALK_TO_WINNER, &c), 3);
	EXPECT(c.degraded);
	EXPECT_I(c.health, MF_HEALTH_OPEN);
	EXPECT_I(c.gate, MF_GATE_DEFAULT);
	/* the skipped count leaves the winner out: routes 0, 2 and 4 */
	EXPECT_I(c.skipped, 3);
	EXPECT_I(steps[0].decision, MF_ROUTE_SKIPPED_OPEN);
	EXPECT_I(steps[1].decision, MF_ROUTE_NOT_APPLYING);
	EXPECT_I(steps[2].decision, MF_ROUTE_SKIPPED_PROVIDER);
	EXPECT_I(steps[3].decision, MF_ROUTE_CHOSEN);
	EXPECT_I(steps[3].health.verdict, MF_HEALTH_OPEN);
	EXPECT_I(steps[4].decision, MF_ROUTE_SKIPPED_OPEN);
	EXPECT_I(h.asked[1], 0);
	EXPECT_I(h.asked[2], 0);

	/* the gate reported is the served route's own */
	ctx = health_ctx(&s, &h, "User:1");
	h.answers[0] = hv(MF_HEALTH_OPEN, 100);
	EXPECT_I(mf_route_choose(r, 5, &ctx, NULL, MF_WALK_ALL, &c), 0);
	EXPECT(c.degraded);
	EXPECT_I(c.gate, MF_GATE_BOOLEAN);

	/* a forced open (never due back) is served only when nothing else is left */
	ctx = health_ctx(&s, &h, "User:1");
	h.answers[0] = hv(MF_HEALTH_OPEN, INT64_MAX);
	h.answers[3] = hv(MF_HEALTH_OPEN, INT64_MAX);
	h.answers[4] = hv(MF_HEALTH_OPEN, INT64_MAX - 1);
	EXPECT_I(mf_route_choose(r, 5, &ctx, NULL, MF_WALK_TO_WINNER, &c), 4);
	ctx = health_ctx(&s, &h, "User:1");
	h.answers[4] = hv(MF_HEALTH_OPEN, INT64_MAX);
	EXPECT_I(mf_route_choose(r, 5, &ctx, NULL, MF_WALK_TO_WINNER, &c), 0);
	EXPECT(c.degraded);

	/* skipped for other reasons only: still no model (MF001), health changes nothing */
	{
		MfRoute		down[] = {mkroute(NULL, false, false, true), mkroute(&on, false, true, false)};

		ctx = health_ctx(&s, &h, "User:1");
		EXPECT_I(mf_route_choose(down, 2, &ctx, steps, MF_WALK_TO_WINNER, &c), -1);
		EXPECT(!c.degraded);
		EXPECT_I(c.skipped, 2);
		EXPECT_I(h.asked[0] + h.asked[1], 0);
	}
	/* one route, open: served, degraded */
	{
		MfRoute		one[] = {mkroute(NULL, false, true, true)};

		ctx = health_ctx(&s, &h, NULL);
		h.answers[0] = hv(MF_HEALTH_OPEN, 42);
		EXPECT_I(mf_route_choose(one, 1, &ctx, steps, MF_WALK_TO_WINNER, &c), 0);
		EXPECT(c.degraded);
		EXPECT_I(c.skipped, 0);
		EXPECT_I(steps[0].decision, MF_ROUTE_CHOSEN);
	}
}

/*
 * Random routes and random health verdicts against a reference written
 * straight from the rule: the first applying, enabled, available route
 * whose health is not open wins; if none, the open one with the smallest
 * due time (the earliest on a tie); the health callback is asked once per
 * candidate up to the winner.
 */
static void
test_o_random_against_reference(void)
{
	enum
	{
	MAXR = 8};
	Stub		s = {0};
	HealthStub	h = {0};
	MfFlag		on = mkflag("on_flag", 1, -1, -1, false, 0);
	MfFlag		off = mkflag("off_flag", 0, -1, -1, false, 0);
	int			mismatches = 0;
	int			degraded_seen = 0,
				rerouted_seen = 0,
				none_seen = 0;

	for (int iter = 0; iter < 20000; iter++)
	{
		MfRoute		routes[MAXR];
		MfRouteStep steps[MAXR];
		int			n = (int) (rng() % (MAXR + 1));
		int			want = -1,
					want_open = -1,
					want_skipped = 0;
		int64_t		best_due = 0;
		MfRouteChoice c;
		MfEvalContext ctx = health_ctx(&s, &h, "User:1");

		for (int i = 0; i < n; i++)
		{
			uint32_t	k = rng() % 4;

			routes[i] = mkroute(k == 0 ? &off : k == 1 ? &on : NULL, false,
								rng() % 5 != 0, rng() % 5 != 0);
			h.answers[i] = hv(rng() % 2 ? MF_HEALTH_OPEN : rng() % 4 ? MF_HEALTH_UP : MF_HEALTH_PROBE,
							  (int64_t) (rng() % 4));
		}
		for (int i = 0; i < n && want < 0; i++)
		{
			if (routes[i].flag == &off)
				continue;
			if (!routes[i].model_enabled || !routes[i].provider_available)
			{
				want_skipped++;
				continue;
			}
			if (h.answers[i].verdict == MF_HEALTH_OPEN)
			{
				want_skipped++;
				if (want_open < 0 || h.answers[i].due_at < best_due)
				{
					want_open = i;
					best_due = h.answers[i].due_at;
				}
				continue;
			}
			want = i;
		}
		if (want < 0 && want_open >= 0)
			want_skipped--;
		mf_route_choose(routes, n, &ctx, steps, MF_WALK_TO_WINNER, &c);
		if (c.chosen != (want >= 0 ? want : want_open) || c.skipped != want_skipped ||
			c.degraded != (want < 0 && want_open >= 0))
			mismatches++;
		for (int i = 0; i < n; i++)
		{
			bool		candidate = routes[i].flag != &off && routes[i].model_enabled &&
				routes[i].provider_available && (want < 0 || i <= want);

			if (h.asked[i] != (candidate ? 1 : 0))
				mismatches++;
		}
		/* explain's walk agrees (with the same answers) */
		{
			MfRouteChoice c2;

			ctx = health_ctx(&s, &h, "User:1");
			mf_route_choose(routes, n, &ctx, steps, MF_WALK_ALL, &c2);
			if (c2.chosen != c.chosen || c2.skipped != c.skipped || c2.degraded != c.degraded)
				mismatches++;
		}
		if (c.degraded)
			degraded_seen++;
		else if (c.chosen < 0)
			none_seen++;
		else if (c.skipped > 0)
			rerouted_seen++;
	}
	EXPECT_I(mismatches, 0);
	EXPECT(degraded_seen > 500);
	EXPECT(rerouted_seen > 500);
	EXPECT(none_seen > 100);
}

/* ------------------------------------------------------------------ */
/* Names. */

static bool
vf(const char *s)
{
	return mf_valid_flag_name(s, strlen(s));
}

static bool
vn(const char *s)
{
	return mf_valid_name(s, strlen(s));
}

static void
test_valid_flag_name(void)
{
	char		buf[300];

	EXPECT(vf("a"));
	EXPECT(vf("0"));
	EXPECT(vf("a_b"));
	EXPECT(vf("incident_fail_over_generation_provider"));
	EXPECT(vf("ai_gateway_multi_default_models"));
	EXPECT(vf("a1_2b_c3"));
	EXPECT(!vf(""));
	EXPECT(!mf_valid_flag_name(NULL, 0));
	EXPECT(!vf("_a"));
	EXPECT(!vf("a_"));
	EXPECT(!vf("_"));
	EXPECT(!vf("a__b"));
	EXPECT(!vf("A"));
	EXPECT(!vf("code_Generations"));
	EXPECT(!vf("a-b"));
	EXPECT(!vf("a.b"));
	EXPECT(!vf("a b"));
	EXPECT(!vf("caf\xc3\xa9"));
	EXPECT(!vf("a\tb"));
	EXPECT(!mf_valid_flag_name("a\0b", 3));
	/* length comes from len, not from a terminator */
	EXPECT(mf_valid_flag_name("ab_", 2));
	EXPECT(!mf_valid_flag_name("ab_", 3));
	EXPECT(mf_valid_flag_name("abc", 1));

	memset(buf, 'a', sizeof(buf));
	EXPECT(mf_valid_flag_name(buf, 255));
	EXPECT(!mf_valid_flag_name(buf, 256));
	EXPECT(!mf_valid_flag_name(buf, 300));
	/* 255 bytes of words and underscores */
	for (int i = 0; i < 255; i++)
		buf[i] = (i % 4 == 3) ? '_' : 'x';
	buf[254] = 'z';
	EXPECT(mf_valid_flag_name(buf, 255));
	buf[254] = '_';
	EXPECT(!mf_valid_flag_name(buf, 255));
}

static void
test_valid_name(void)
{
	char		buf[300];

	EXPECT(vn("anthropic"));
	EXPECT(vn("claude_sonnet_4_5_20250929_vertex"));
	EXPECT(vn("gpt-4.1"));
	EXPECT(vn("code.generations-v2_beta"));
	EXPECT(vn("a.b"));
	EXPECT(vn("a-b"));
	EXPECT(!vn(""));
	EXPECT(!mf_valid_name(NULL, 0));
	EXPECT(!vn(".a"));
	EXPECT(!vn("a."));
	EXPECT(!vn("-a"));
	EXPECT(!vn("a-"));
	EXPECT(!vn("a..b"));
	EXPECT(!vn("a-.b"));
	EXPECT(!vn("a__b"));
	EXPECT(!vn("Anthropic"));
	EXPECT(!vn("a/b"));
	EXPECT(!vn("a:b"));
	EXPECT(!mf_valid_name("a\0b", 3));
	memset(buf, '7', sizeof(buf));
	EXPECT(mf_valid_name(buf, 255));
	EXPECT(!mf_valid_name(buf, 256));
}

/* ------------------------------------------------------------------ */
/* strmap. */

/* A malloc arena that frees everything at the end, so leak checks stay clean. */
typedef struct Arena
{
	void	  **blocks;
	int			n;
	int			cap;
	size_t		bytes;
} Arena;

static void *
arena_alloc(void *arg, size_t size)
{
	Arena	   *a = arg;
	void	   *p = malloc(size);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	if (a->n == a->cap)
	{
		a->cap = a->cap ? 2 * a->cap : 16;
		a->blocks = realloc(a->blocks, sizeof(void *) * a->cap);
	}
	/* garbage, so a map that relies on zeroed memory it did not clear fails */
	memset(p, 0xA5, size);
	a->blocks[a->n++] = p;
	a->bytes += size;
	return p;
}

static void
arena_free(Arena *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->blocks[i]);
	free(a->blocks);
	memset(a, 0, sizeof(*a));
}

static void
test_strmap_many_entries_and_growth(void)
{
	enum
	{
	N = 60000};
	Arena		a = {0};
	MfStrMap	m;
	char	   *keys = malloc((size_t) N * 24);
	int			missing = 0;
	int			wrong = 0;
	int			phantom = 0;
	int32_t		v;

	/* expected = 3: the map must grow many times */
	mf_strmap_init(&m, 3, arena_alloc, &a);
	EXPECT_U(m.mask + 1, 8);
	for (int i = 0; i < N; i++)
	{
		snprintf(keys + (size_t) i * 24, 24, "User:%d", i);
		mf_strmap_put(&m, 0, keys + (size_t) i * 24, strlen(keys + (size_t) i * 24), i * 3);
	}
	EXPECT_U(m.count, N);
	/* at most three quarters full, capacity a power of two */
	EXPECT(4 * (uint64_t) m.count <= 3 * ((uint64_t) m.mask + 1));
	EXPECT_U((m.mask + 1) & m.mask, 0);
	/* sized tightly up front: 10,000 names in 16,384 slots, not 32,768 */
	{
		MfStrMap	sized;

		mf_strmap_init(&sized, 10000, arena_alloc, &a);
		EXPECT_U(sized.mask + 1, 16384);
		mf_strmap_init(&sized, 12288, arena_alloc, &a);
		EXPECT_U(sized.mask + 1, 32768);	/* 12,289 > 3/4 of 16,384: never full */
		mf_strmap_reserve(&sized, 24576);
		EXPECT_U(sized.mask + 1, 32768);
		mf_strmap_reserve(&sized, 24577);
		EXPECT_U(sized.mask + 1, 65536);
	}
	for (int i = 0; i < N; i++)
	{
		const char *k = keys + (size_t) i * 24;

		if (!mf_strmap_get(&m, 0, k, strlen(k), &v))
			missing++;
		else if (v != i * 3)
			wrong++;
	}
	for (int i = N; i < N + 20000; i++)
	{
		char		k[24];

		snprintf(k, sizeof(k), "User:%d", i);
		v = 12345;
		if (mf_strmap_get(&m, 0, k, strlen(k), &v))
			phantom++;
		if (v != 12345)
			wrong++;			/* a miss must not write the out parameter */
	}
	EXPECT_I(missing, 0);
	EXPECT_I(wrong, 0);
	EXPECT_I(phantom, 0);
	/* prefixes and near misses of stored keys are absent */
	EXPECT(!mf_strmap_get(&m, 0, "User:1", 5, &v));
	EXPECT(!mf_strmap_get(&m, 0, "User:10x", 8, &v));
	EXPECT(!mf_strmap_get(&m, 0, "", 0, &v));

	/* sized right from the start: no growth, a single allocation */
	{
		Arena		b = {0};
		MfStrMap	m2;

		mf_strmap_init(&m2, 1000, arena_alloc, &b);
		for (int i = 0; i < 1000; i++)
		{
			const char *k = keys + (size_t) i * 24;

			mf_strmap_put(&m2, 0, k, strlen(k), i);
		}
		EXPECT_I(b.n, 1);
		EXPECT_U(m2.count, 1000);
		EXPECT(mf_strmap_get(&m2, 0, "User:999", 8, &v) && v == 999);
		arena_free(&b);
	}
	arena_free(&a);
	free(keys);
}

/* The names an index map points into: an array the caller keeps. */
typedef struct IdxKeys
{
	char		(*names)[24];
	int			lookups;		/* key_of calls */
} IdxKeys;

static void
idx_key_of(const void *arg, int32_t idx, const char **key, size_t *len)
{
	IdxKeys    *k = (IdxKeys *) arg;

	k->lookups++;
	*key = k->names[idx];
	*len = strlen(k->names[idx]);
}

/*
 * MfIdxMap: names by index, 8-byte slots, growth, gone entries that keep
 * their name comparable, a name put again under a new index.
 */
static void
test_idxmap(void)
{
	enum
	{
	N = 30000};
	Arena		a = {0};
	MfIdxMap	m;
	IdxKeys		k = {malloc(sizeof(char[24]) * (N + 10)), 0};
	int			wrong = 0;
	bool		gone;

	EXPECT_U(sizeof(MfIdxMapSlot), 8);
	memset(&m, 0, sizeof(m));
	EXPECT_I(mf_idxmap_get(&m, "x", 1), -1);	/* never initialised: absent */
	mf_idxmap_init(&m, 3, arena_alloc, &a, idx_key_of, &k);
	for (int i = 0; i < N; i++)
	{
		snprintf(k.names[i], 24, "flag_%d", i);
		mf_idxmap_put(&m, k.names[i], strlen(k.names[i]), i, false);
	}
	EXPECT_U(m.count, N);
	EXPECT(4 * (uint64_t) m.count <= 3 * ((uint64_t) m.mask + 1));
	k.lookups = 0;
	for (int i = 0; i < N; i++)
		if (mf_idxmap_get(&m, k.names[i], strlen(k.names[i])) != i)
			wrong++;
	EXPECT_I(wrong, 0);
	/* a name is compared only where the hashes match: about once a hit */
	EXPECT(k.lookups >= N && k.lookups < N + N / 100);
	EXPECT_I(mf_idxmap_get(&m, "flag_1", 5), -1);	/* a prefix */
	EXPECT_I(mf_idxmap_get(&m, "flag_30000", 10), -1);
	EXPECT_I(mf_idxmap_get(&m, "", 0), -1);

	/* gone: absent to get(), still found by find() with its index */
	mf_idxmap_put(&m, "flag_7", 6, 7, true);
	EXPECT_I(mf_idxmap_get(&m, "flag_7", 6), -1);
	EXPECT_I(mf_idxmap_find(&m, "flag_7", 6, &gone), 7);
	EXPECT(gone);
	EXPECT_I(mf_idxmap_get(&m, "flag_8", 6), 8);
	EXPECT_U(m.count, N);		/* no new slot */
	/* back under a new index (a delta appends it): the same slot */
	snprintf(k.names[N], 24, "flag_7");
	mf_idxmap_put(&m, k.names[N], 6, N, false);
	EXPECT_I(mf_idxmap_get(&m, "flag_7", 6), N);
	EXPECT_U(m.count, N);
	/* reserve grows once, keeps every entry and the gone mark */
	mf_idxmap_put(&m, "flag_9", 6, 9, true);
	mf_idxmap_reserve(&m, 4 * N);
	EXPECT(4 * (uint64_t) N <= 3 * ((uint64_t) m.mask + 1));
	EXPECT_I(mf_idxmap_get(&m, "flag_7", 6), N);
	EXPECT_I(mf_idxmap_get(&m, "flag_9", 6), -1);
	EXPECT_I(mf_idxmap_find(&m, "flag_9", 6, &gone), 9);
	EXPECT(gone);
	EXPECT_I(mf_idxmap_get(&m, "flag_29999", 10), 29999);
	/* sized up front: 10,000 names in 16,384 slots of 8 bytes, one allocation */
	{
		Arena		b = {0};
		MfIdxMap	sized;

		mf_idxmap_init(&sized, 10000, arena_alloc, &b, idx_key_of, &k);
		for (int i = 0; i < 10000; i++)
			mf_idxmap_put(&sized, k.names[i], strlen(k.names[i]), i, false);
		EXPECT_U(sized.mask + 1, 16384);
		EXPECT_I(b.n, 1);
		EXPECT_U(b.bytes, 16384 * 8);
		EXPECT_U(mf_idxmap_bytes(&sized), 16384 * 8);

		/*
		 * own: a copy of a table the map only reads (shared memory in the
		 * extension), in one allocation; puts go to the copy, the table
		 * read before stays as it was.
		 */
		{
			MfIdxMap	before = sized;
			MfIdxMapSlot *table = malloc(mf_idxmap_bytes(&sized));
			int			n = b.n;

			memcpy(table, sized.slots, mf_idxmap_bytes(&sized));
			mf_idxmap_own(&sized);
			EXPECT(sized.slots != before.slots);
			EXPECT_I(b.n, n + 1);
			EXPECT(memcmp(sized.slots, before.slots, mf_idxmap_bytes(&sized)) == 0);
			mf_idxmap_put(&sized, k.names[5], strlen(k.names[5]), 5, true);
			mf_idxmap_put(&sized, k.names[10001], strlen(k.names[10001]), 10001, false);
			EXPECT_I(mf_idxmap_get(&sized, k.names[5], strlen(k.names[5])), -1);
			EXPECT_I(mf_idxmap_get(&sized, k.names[10001], strlen(k.names[10001])), 10001);
			EXPECT(memcmp(table, before.slots, mf_idxmap_bytes(&before)) == 0);
			EXPECT_I(mf_idxmap_get(&before, k.names[5], strlen(k.names[5])), 5);
			EXPECT_I(mf_idxmap_get(&before, k.names[10001], strlen(k.names[10001])), -1);
			free(table);
		}
		arena_free(&b);
	}
	arena_free(&a);
	free(k.names);
}

/*
 * reserve: after mf_strmap_reserve(n), puts up to n entries in all allocate
 * nothing (the actor sets publish a loaded set this way, so that an
 * out-of-memory cannot strike between allocating a set and publishing it).
 */
static void
test_strmap_reserve(void)
{
	Arena		a = {0};
	MfStrMap	m;
	char		k[24][24];
	int32_t		v;
	int			blocks;

	mf_strmap_init(&m, 2, arena_alloc, &a);
	for (int i = 0; i < 3; i++)
	{
		snprintf(k[i], sizeof(k[i]), "flag_%d", i);
		mf_strmap_put(&m, 0, k[i], strlen(k[i]), i);
	}
	mf_strmap_reserve(&m, 24);
	blocks = a.n;
	EXPECT(4 * (uint64_t) 24 <= 3 * ((uint64_t) m.mask + 1));
	for (int i = 3; i < 24; i++)
	{
		snprintf(k[i], sizeof(k[i]), "flag_%d", i);
		mf_strmap_put(&m, 0, k[i], strlen(k[i]), i);
	}
	EXPECT_I(a.n, blocks);		/* no allocation after the reserve */
	for (int i = 0; i < 24; i++)
		EXPECT(mf_strmap_get(&m, 0, k[i], strlen(k[i]), &v) && v == i);
	/* reserving what already fits allocates nothing either */
	mf_strmap_reserve(&m, 10);
	EXPECT_I(a.n, blocks);
	arena_free(&a);
}

static void
test_strmap_namespaces_replace_and_nul(void)
{
	Arena		a = {0};
	MfStrMap	m;
	MfStrMap	zero;
	int32_t		v = -1;
	static const char k1[] = {'a', '\0', 'b'};
	static const char k2[] = {'a', '\0', 'c'};
	static const char k3[] = {'a', '\0'};

	memset(&zero, 0, sizeof(zero));
	/* a zeroed map (never initialised) answers "absent" */
	EXPECT(!mf_strmap_get(&zero, 0, "x", 1, &v));

	mf_strmap_init(&m, 0, arena_alloc, &a);
	EXPECT(!mf_strmap_get(&m, 0, "x", 1, &v));
	mf_strmap_put(&m, 0, "gpt", 3, 1);
	mf_strmap_put(&m, 1, "gpt", 3, 2);
	mf_strmap_put(&m, 7, "gpt", 3, 3);
	EXPECT(mf_strmap_get(&m, 0, "gpt", 3, &v) && v == 1);
	EXPECT(mf_strmap_get(&m, 1, "gpt", 3, &v) && v == 2);
	EXPECT(mf_strmap_get(&m, 7, "gpt", 3, &v) && v == 3);
	EXPECT(!mf_strmap_get(&m, 2, "gpt", 3, &v));
	EXPECT_U(m.count, 3);

	/* put on an existing key replaces, without a new entry */
	mf_strmap_put(&m, 1, "gpt", 3, 20);
	EXPECT(mf_strmap_get(&m, 1, "gpt", 3, &v) && v == 20);
	EXPECT(mf_strmap_get(&m, 0, "gpt", 3, &v) && v == 1);
	EXPECT_U(m.count, 3);

	/* keys are bytes with a length: NUL is an ordinary byte */
	mf_strmap_put(&m, 0, k1, 3, 100);
	mf_strmap_put(&m, 0, k2, 3, 200);
	mf_strmap_put(&m, 0, k3, 2, 300);
	mf_strmap_put(&m, 0, "a", 1, 400);
	EXPECT(mf_strmap_get(&m, 0, k1, 3, &v) && v == 100);
	EXPECT(mf_strmap_get(&m, 0, k2, 3, &v) && v == 200);
	EXPECT(mf_strmap_get(&m, 0, k3, 2, &v) && v == 300);
	EXPECT(mf_strmap_get(&m, 0, "a", 1, &v) && v == 400);
	EXPECT(!mf_strmap_get(&m, 0, "a\0d", 3, &v));
	/* the empty key is a key like any other */
	mf_strmap_put(&m, 0, "", 0, 500);
	EXPECT(mf_strmap_get(&m, 0, "", 0, &v) && v == 500);
	EXPECT(!mf_strmap_get(&m, 1, "", 0, &v));
	/* negative and extreme values survive */
	mf_strmap_put(&m, 3, "min", 3, INT32_MIN);
	mf_strmap_put(&m, 3, "max", 3, INT32_MAX);
	EXPECT(mf_strmap_get(&m, 3, "min", 3, &v) && v == INT32_MIN);
	EXPECT(mf_strmap_get(&m, 3, "max", 3, &v) && v == INT32_MAX);
	EXPECT_U(m.count, 10);

	/* the hash depends on the namespace and on every byte */
	EXPECT(mf_strmap_hash(0, "gpt", 3) != mf_strmap_hash(1, "gpt", 3));
	EXPECT(mf_strmap_hash(0, k1, 3) != mf_strmap_hash(0, k2, 3));
	EXPECT(mf_strmap_hash(0, k3, 2) != mf_strmap_hash(0, "a", 1));
	EXPECT_U(mf_strmap_hash(5, "model", 5), mf_strmap_hash(5, "model", 5));
	EXPECT(mf_strmap_hash(0, "\x80", 1) != mf_strmap_hash(0, "\x00", 1));
	arena_free(&a);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/*
 * Keys whose hashes are equal must still be told apart by their bytes.  Finds
 * real 32-bit collisions among a million 6-byte keys "a\0" + 4 bytes (about
 * two hundred), so a map that compared only hashes, or compared keys as C
 * strings (all these keys are "a" to strcmp), would mix them up.
 */
static void
test_strmap_hash_collisions(void)
{
	enum
	{
	NBITS = 20, NKEYS = 1 << NBITS};
	uint64_t   *hk = malloc(sizeof(uint64_t) * NKEYS);
	char	   *keys = malloc((size_t) NKEYS * 6);
	Arena		a = {0};
	MfStrMap	m;
	int			pairs = 0;
	int			bad = 0;

	for (uint32_t i = 0; i < NKEYS; i++)
	{
		char	   *k = keys + (size_t) i * 6;
		uint32_t	x = i * 2654435761u;	/* distinct i, distinct x */

		k[0] = 'a';
		k[1] = '\0';
		k[2] = (char) (x & 0xFF);
		k[3] = (char) ((x >> 8) & 0xFF);
		k[4] = (char) ((x >> 16) & 0xFF);
		k[5] = (char) (x >> 24);
		hk[i] = ((uint64_t) mf_strmap_hash(0, k, 6) << 32) | i;
	}
	qsort(hk, NKEYS, sizeof(uint64_t), cmp_u64);
	mf_strmap_init(&m, 64, arena_alloc, &a);
	for (uint32_t i = 1; i < NKEYS && pairs < 50; i++)
	{
		if ((hk[i] >> 32) != (hk[i - 1] >> 32))
			continue;
		{
			const char *k1 = keys + (size_t) (uint32_t) hk[i - 1] * 6;
			const char *k2 = keys + (size_t) (uint32_t) hk[i] * 6;

			mf_strmap_put(&m, 0, k1, 6, 2 * pairs);
			mf_strmap_put(&m, 0, k2, 6, 2 * pairs + 1);
			pairs++;
			i++;				/* a key is in one pair only */
		}
	}
	EXPECT(pairs >= 10);
	EXPECT_U(m.count, 2 * (uint32_t) pairs);
	pairs = 0;
	for (uint32_t i = 1; i < NKEYS && pairs < 50; i++)
	{
		int32_t		v1 = -1,
					v2 = -1;

		if ((hk[i] >> 32) != (hk[i - 1] >> 32))
			continue;
		if (!mf_strmap_get(&m, 0, keys + (size_t) (uint32_t) hk[i - 1] * 6, 6, &v1) || v1 != 2 * pairs)
			bad++;
		if (!mf_strmap_get(&m, 0, keys + (size_t) (uint32_t) hk[i] * 6, 6, &v2) || v2 != 2 * pairs + 1)
			bad++;
		pairs++;
		i++;
	}
	EXPECT_I(bad, 0);
	/* same bytes in another namespace are another key */
	EXPECT(!mf_strmap_get(&m, 1, keys + (size_t) (uint32_t) hk[0] * 6, 6, &(int32_t) {0}));
	arena_free(&a);
	free(keys);
	free(hk);
}

/* Many keys in many namespaces, in a random order, checked against a plain table. */
static void
test_strmap_random_against_reference(void)
{
	enum
	{
	NK = 4000};
	static char keys[NK][40];
	static size_t lens[NK];
	static uint32_t nss[NK];
	static int32_t want[NK];
	Arena		a = {0};
	MfStrMap	m;
	int			bad = 0;

	mf_strmap_init(&m, 16, arena_alloc, &a);
	for (int i = 0; i < NK; i++)
	{
		/* random bytes, NULs and high bytes included; some keys repeat in other namespaces */
		lens[i] = rng() % 40;
		for (size_t j = 0; j < lens[i]; j++)
			keys[i][j] = (char) (rng() & 0xFF);
		if (i > 0 && rng() % 5 == 0)
		{
			int			src = (int) (rng() % i);

			memcpy(keys[i], keys[src], lens[src]);
			lens[i] = lens[src];
		}
		nss[i] = rng() % 4;
		want[i] = (int32_t) rng();
	}
	/* later puts of the same (ns, key) win */
	for (int i = 0; i < NK; i++)
		mf_strmap_put(&m, nss[i], keys[i], lens[i], want[i]);
	for (int i = 0; i < NK; i++)
	{
		int32_t		expect = want[i];
		int32_t		got;

		for (int j = i + 1; j < NK; j++)
			if (nss[j] == nss[i] && lens[j] == lens[i] && memcmp(keys[j], keys[i], lens[i]) == 0)
				expect = want[j];
		if (!mf_strmap_get(&m, nss[i], keys[i], lens[i], &got) || got != expect)
			bad++;
	}
	EXPECT_I(bad, 0);
	arena_free(&a);
}

/*
 * Flipper compares position < p.to_f * 1000 in floating point.  The cutoff
 * must be ceil(p * 1000.0): for 16.1 that is 16101 (16.1 * 1000 is
 * 16100.000000000002), so the actor at position 16100 is in, as in Flipper.
 * Over every three-decimal percentage, exactly 731 cutoffs differ from the
 * exact p * 1000 (the count Flipper's gem gives), and none by more than one.
 */
static void
test_rollout_cutoff_matches_flipper_float(void)
{
	int			differ = 0;

	EXPECT_I(mf_rollout_cutoff(25.0), 25000);
	EXPECT_I(mf_rollout_cutoff(16.1), 16101);
	EXPECT_I(mf_rollout_cutoff(16.2), 16200);
	EXPECT_I(mf_rollout_cutoff(0.001), 1);
	EXPECT_I(mf_rollout_cutoff(0.0), 0);
	EXPECT_I(mf_rollout_cutoff(100.0), 100000);
	EXPECT_I(mf_rollout_cutoff(0.0 / 0.0), 0);
	EXPECT_I(mf_rollout_cutoff(-1.0), 0);
	for (int k = 0; k <= 100000; k++)
	{
		char		buf[32];
		int32_t		cut;

		snprintf(buf, sizeof(buf), "%d.%03d", k / 1000, k % 1000);
		cut = mf_rollout_cutoff(strtod(buf, NULL));
		if (cut != k)
		{
			differ++;
			EXPECT_I(cut, k + 1);
		}
	}
	EXPECT_I(differ, 731);
}

int
main(int argc, char **argv)
{
	unit_begin(argc, argv);

	run("crc32 known vectors", test_crc32_vectors);
	run("crc32 every length and alignment", test_crc32_every_length_and_alignment);
	run("rollout research vectors", test_rollout_research_vectors);
	run("rollout monotonic in the percentage", test_rollout_monotonic);
	run("rollout positions spread evenly", test_rollout_distribution);
	run("rollout cutoff is Flipper's float product", test_rollout_cutoff_matches_flipper_float);
	run("F1 unknown flag is false", test_f1_unknown_flag);
	run("F2 opt-out beats every gate", test_f2_opt_out_beats_every_gate);
	run("F3 no gate set answers default_enabled", test_f3_no_gate_set_is_default_enabled);
	run("F4 boolean false is no veto", test_f4_boolean_false_is_no_veto);
	run("F4 gate order and reported gate", test_f4_gate_order);
	run("F4 nil actor closes actor gates", test_f4_nil_actor_closes_actor_gates);
	run("F4 percentage_of_time with a stub random", test_f4_percentage_of_time);
	run("F actor rows asked lazily", test_f_lazy_actor_rows);
	run("gate names", test_gate_names);
	run("R first applying unskipped route wins", test_r_first_applying_unskipped_wins);
	run("R skips, missing flags and no route", test_r_skips_and_no_route);
	run("R explain walk chooses as model_for walk", test_r_steps_match_plain_walk);
	run("O an open model is skipped, the next applying route wins", test_o_open_model_skipped);
	run("O every applying route open: the one due back first, degraded", test_o_all_open_serves_due_first);
	run("O random routes and health against a reference", test_o_random_against_reference);
	run("flag name validation", test_valid_flag_name);
	run("provider/model/feature name validation", test_valid_name);
	run("strmap many entries and growth", test_strmap_many_entries_and_growth);
	run("index map: names by index, gone entries, growth, a copy of its own", test_idxmap);
	run("strmap reserve, then puts that allocate nothing", test_strmap_reserve);
	run("strmap namespaces, replace, NUL bytes", test_strmap_namespaces_replace_and_nul);
	run("strmap random keys against a reference", test_strmap_random_against_reference);
	run("strmap keys with equal hashes", test_strmap_hash_collisions);

	return unit_end();
}
