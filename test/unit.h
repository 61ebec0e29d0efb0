/*
 * unit.h — the harness the C unit tests share (unit_core.c, unit_health.c):
 * expectations that count and print what failed, one line per test, the
 * summary, and a deterministic generator.  A test file defines UNIT_NAME
 * (its program's name) and UNIT_RNG_SEED before including this, and calls
 * unit_begin(argc, argv) first and returns unit_end() from main.
 *
 * A label on the command line (e.g. "asan") goes into every test's name, so
 * that two builds run in one stage give distinct lines.
 */
#ifndef MODELFLAGS_TEST_UNIT_H
#define MODELFLAGS_TEST_UNIT_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

static const char *label = "";
static int	n_pass;
static int	n_fail;
static int	cur_fail;

#define EXPECT(cond) \
	do { \
		if (!(cond)) \
		{ \
			cur_fail++; \
			printf("#   %s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

#define EXPECT_U(got, want) \
	do { \
		unsigned long long g_ = (unsigned long long) (got); \
		unsigned long long w_ = (unsigned long long) (want); \
		if (g_ != w_) \
		{ \
			cur_fail++; \
			printf("#   %s:%d: %s is %llu, expected %llu\n", __FILE__, __LINE__, #got, g_, w_); \
		} \
	} while (0)

#define EXPECT_I(got, want) \
	do { \
		long long g_ = (long long) (got); \
		long long w_ = (long long) (want); \
		if (g_ != w_) \
		{ \
			cur_fail++; \
			printf("#   %s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__, #got, g_, w_); \
		} \
	} while (0)

#define EXPECT_NEAR(got, want, tol) \
	do { \
		double g_ = (got); \
		double w_ = (want); \
		if (!(fabs(g_ - w_) <= (tol))) \
		{ \
			cur_fail++; \
			printf("#   %s:%d: %s is %g, expected %g (+/- %g)\n", __FILE__, __LINE__, #got, g_, w_, (double) (tol)); \
		} \
	} while (0)

static inline void
run(const char *name, void (*fn) (void))
{
	cur_fail = 0;
	fn();
	if (cur_fail == 0)
		n_pass++;
	else
		n_fail++;
	printf("%s: " UNIT_NAME " %s%s%s\n", cur_fail ? "FAIL" : "PASS", label, *label ? " " : "", name);
	fflush(stdout);
}

static inline void
unit_begin(int argc, char **argv)
{
	if (argc > 1)
		label = argv[1];
}

static inline int
unit_end(void)
{
	printf("# " UNIT_NAME "%s%s: %d passed, %d failed\n", *label ? " " : "", label, n_pass, n_fail);
	return n_fail ? 1 : 0;
}

/* A small deterministic generator (xorshift64*), so every run tests the same cases. */
static uint64_t rng_state = UNIT_RNG_SEED;

static inline uint32_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t) ((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

#endif
