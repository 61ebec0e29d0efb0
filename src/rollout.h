/*
 * rollout.h — Flipper-identical percentage-of-actors hashing (SPEC H).
 *
 * Pure C: no PostgreSQL header, so test/ links it into plain programs.
 */
#ifndef MODELFLAGS_ROLLOUT_H
#define MODELFLAGS_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

/* Percentages are kept as integer thousandths: 25.5% is 25500. */
#define MF_PCT_SCALE 1000
#define MF_PCT_MAX (100 * MF_PCT_SCALE)

/* zlib's CRC-32 (reflected polynomial 0xEDB88320), continuing from crc. */
extern uint32_t mf_crc32(uint32_t crc, const void *data, size_t len);

/*
 * An actor's position in a flag's rollout, in [0, 100000):
 * crc32(flag || actor) % 100000, as Flipper computes it.  The actor is inside
 * a rollout of p thousandths exactly when the position is below p.
 */
extern uint32_t mf_rollout_position(const char *flag, size_t flag_len,
									const char *actor, size_t actor_len);

/*
 * The same in two steps, for a flag evaluated many times: the CRC of its
 * name once (mf_rollout_name_crc), then each actor's position from it.
 * mf_rollout_position_from(mf_rollout_name_crc(f, fl), a, al) ==
 * mf_rollout_position(f, fl, a, al).
 */
extern uint32_t mf_rollout_name_crc(const char *flag, size_t flag_len);
extern uint32_t mf_rollout_position_from(uint32_t name_crc,
										 const char *actor, size_t actor_len);

/*
 * The rollout cutoff for a percentage p, as Flipper computes it: an actor is
 * in when position < p.to_f * 1000, a comparison of an integer with a double.
 * For an integer position that is position < ceil(p * 1000.0), so this
 * returns ceil(p * 1000.0), clamped to [0, 100000].  Usually that is exactly
 * p * 1000; for 731 of the 100,001 three-decimal percentages (16.1, 32.2,
 * 64.4, ...) floating point puts p * 1000 a hair above the integer, and the
 * actor sitting exactly at the cut is in, for Flipper and so for us.
 */
extern int32_t mf_rollout_cutoff(double percentage);

#endif
