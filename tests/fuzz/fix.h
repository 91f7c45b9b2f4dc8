/*
 * fix.h - for the fuzz targets that take a t2m stream: make every
 * checksum in it right first (t2m-stream(5): the stream header's, each
 * record's header and payload), or nearly every mutation would stop at
 * the first one.
 */
#include <string.h>

#include "le.h"

#define STREAM_HEADER 20
#define RECORD_HEADER 32

/* Make every checksum in the n bytes at p right, as far as the records
 * go: a length past the end leaves the rest as it is.  A data record's
 * payload has none: its field must be 0. */
static void
fix(unsigned char *p, size_t n)
{
	size_t at = STREAM_HEADER;
	uint64_t len;

	if (n < STREAM_HEADER)
		return;
	t2m_put32(p + 16, t2m_crc32(0, p, 16));
	while (n - at >= RECORD_HEADER) {
		len = t2m_le64(p + at + 16);
		if (len > n - at - RECORD_HEADER)
			len = n - at - RECORD_HEADER;
		t2m_put32(p + at + 24, memcmp(p + at, "DATA", 4) == 0 ? 0 :
		    t2m_crc32(0, p + at + RECORD_HEADER, (size_t)len));
		t2m_put32(p + at + 28, t2m_crc32(0, p + at, 28));
		at += RECORD_HEADER + (size_t)len;
	}
}
