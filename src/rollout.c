/*
 * rollout.c — Flipper-identical percentage-of-actors hashing (SPEC H).
 *
 * Flipper's gate (lib/flipper/gates/percentage_of_actors.rb, v0.11 to v1.4):
 *
 *     Zlib.crc32("#{feature_name}#{actor.flipper_id}") % (100 * 1_000) < percentage * 1_000
 *
 * so the hashed bytes are the flag name directly followed by the actor, with
 * no separator, and the CRC is zlib's (the IEEE 802.3 polynomial, reflected,
 * initial and final XOR 0xFFFFFFFF).  The modulo bias of % 100000 is part of
 * the contract: changing it would move every actor to another bucket.
 *
 * Raising the percentage never removes an actor, and lowering it removes only
 * those at or above the new cut, because the position does not depend on the
 * percentage.
 */
#include <math.h>

#include "rollout.h"

static uint32_t crc_table[256];
static int	crc_table_ready = 0;

/* Builds the byte-wise table once; idempotent, so a race is harmless. */
static void
mf_crc32_init(void)
{
	for (uint32_t i = 0; i < 256; i++)
	{
		uint32_t	c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
	crc_table_ready = 1;
}

uint32_t
mf_crc32(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!crc_table_ready)
		mf_crc32_init();
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	return ~crc;
}

uint32_t
mf_rollout_position(const char *flag, size_t flag_len,
					const char *actor, size_t actor_len)
{
	uint32_t	crc = mf_crc32(0, flag, flag_len);

	crc = mf_crc32(crc, actor, actor_len);
	return crc % MF_PCT_MAX;
}

int32_t
mf_rollout_cutoff(double percentage)
{
	double		cut;

	if (!(percentage > 0))		/* also NaN */
		return 0;
	cut = ceil(percentage * (double) MF_PCT_SCALE);
	return cut >= MF_PCT_MAX ? MF_PCT_MAX : (int32_t) cut;
}
