/*
 * crc32.c - CRC-32 as zip, zlib and PNG compute it (reflected polynomial
 * 0xEDB88320), eight bytes a step so checking a multi-gigabyte zip entry
 * stays cheap.  Used for stream headers and for zip entries.
 */
#include <stddef.h>
#include <stdint.h>

#include "t2m.h"

static uint32_t table[8][256];
static int ready;

static void
build(void)
{
	uint32_t c;
	int i, j, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			table[k][i] = (table[k - 1][i] >> 8) ^
			    table[0][table[k - 1][i] & 0xff];
	ready = 1;
}

uint32_t
t2m_crc32(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t lo, hi;

	if (!ready)
		build();
	crc = ~crc;
	while (n >= 8) {
		lo = crc ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 |
		    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
		hi = (uint32_t)b[4] | (uint32_t)b[5] << 8 |
		    (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		    table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		    table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		    table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
		b += 8;
		n -= 8;
	}
	while (n--)
		crc = table[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
