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

/*
 * Slicing-by-8 (Intel's method, as zlib and PostgreSQL's pg_crc32c_sb8.c use):
 * crc_table[0] is the classic byte-wise table, and crc_table[k][b] is the CRC
 * of byte b followed by k zero bytes, so eight input bytes are folded in with
 * eight independent lookups instead of a chain of eight dependent ones.  The
 * hashed string is a flag name plus an actor, typically 30 to 60 bytes: this
 * is three times faster than the byte-wise loop there, and the answer is the
 * same bit for bit (test/unit_core.c compares both on every length and
 * alignment).
 */
static uint32_t crc_table[8][256];
static int	crc_table_ready = 0;

/* Builds the tables once; idempotent, so a race is harmless. */
static void
mf_crc32_init(void)
{
	for (uint32_t i = 0; i < 256; i++)
	{
		uint32_t	c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			crc_table[k][i] = crc_table[0][crc_table[k - 1][i] & 0xFF] ^
				(crc_table[k - 1][i] >> 8);
	crc_table_ready = 1;
}

uint32_t
mf_crc32(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!crc_table_ready)
		mf_crc32_init();
	crc = ~crc;
	/*
	 * Eight bytes at a time; the loads are byte-wise, so any alignment and
	 * either byte order work.
	 */
	while (len >= 8)
	{
		uint32_t	lo = crc ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 |
								(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);

		crc = crc_table[7][lo & 0xFF] ^
			crc_table[6][(lo >> 8) & 0xFF] ^
			crc_table[5][(lo >> 16) & 0xFF] ^
			crc_table[4][lo >> 24] ^
			crc_table[3][p[4]] ^
			crc_table[2][p[5]] ^
			crc_table[1][p[6]] ^
			crc_table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = crc_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	return ~crc;
}

uint32_t
mf_rollout_position(const char *flag, size_t flag_len,
					const char *actor, size_t actor_len)
{
	return mf_rollout_position_from(mf_rollout_name_crc(flag, flag_len), actor, actor_len);
}

uint32_t
mf_rollout_name_crc(const char *flag, size_t flag_len)
{
	return mf_crc32(0, flag, flag_len);
}

uint32_t
mf_rollout_position_from(uint32_t name_crc, const char *actor, size_t actor_len)
{
	return mf_crc32(name_crc, actor, actor_len) % MF_PCT_MAX;
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
