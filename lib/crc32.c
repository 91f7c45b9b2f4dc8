/*
 * crc32.c - CRC-32 as zip, zlib and PNG compute it (reflected polynomial
 * 0xEDB88320).  Checking every storage of a multi-gigabyte checkpoint
 * must not cost more than reading it: on x86-64 with PCLMULQDQ the data
 * is folded 64 bytes a step with carry-less multiplies (the method of
 * Intel's "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ",
 * constants as the Linux kernel's crc32-pclmul uses them), on ARMv8 with
 * its CRC32 instructions, elsewhere eight bytes a step from tables.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* The table method on the raw (uninverted) register. */
static uint32_t
crc_table(uint32_t crc, const unsigned char *b, size_t n)
{
	uint32_t lo, hi;

	if (!ready)
		build();
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
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define FOLD_TARGET __attribute__((target("pclmul,sse4.1")))
#define PREFETCH 2048

/* Fold n bytes (n >= 64, a multiple of 16) into the raw register. */
FOLD_TARGET static uint32_t
crc_fold(uint32_t crc, const unsigned char *b, size_t n)
{
	const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
	const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
	const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);
	const __m128i poly = _mm_set_epi64x(0x1f7011641, 0x1db710641);
	const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
	__m128i x1, x2, x3, x4, t1, t2, t3, t4;

	x1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)b),
	    _mm_cvtsi32_si128((int)crc));
	x2 = _mm_loadu_si128((const __m128i *)(b + 16));
	x3 = _mm_loadu_si128((const __m128i *)(b + 32));
	x4 = _mm_loadu_si128((const __m128i *)(b + 48));
	b += 64;
	n -= 64;
	/* Four lanes, 64 bytes a step.  Data coming from memory rather than
	 * cache arrives faster asked for a few pages ahead: prefetching is a
	 * hint, and a hint past the end of the buffer faults nothing. */
	while (n >= 64) {
		_mm_prefetch((const char *)b + PREFETCH, _MM_HINT_T0);
		t1 = _mm_clmulepi64_si128(x1, k1k2, 0x11);
		t2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
		t3 = _mm_clmulepi64_si128(x3, k1k2, 0x11);
		t4 = _mm_clmulepi64_si128(x4, k1k2, 0x11);
		x1 = _mm_clmulepi64_si128(x1, k1k2, 0x00);
		x2 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
		x3 = _mm_clmulepi64_si128(x3, k1k2, 0x00);
		x4 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
		x1 = _mm_xor_si128(_mm_xor_si128(x1, t1),
		    _mm_loadu_si128((const __m128i *)b));
		x2 = _mm_xor_si128(_mm_xor_si128(x2, t2),
		    _mm_loadu_si128((const __m128i *)(b + 16)));
		x3 = _mm_xor_si128(_mm_xor_si128(x3, t3),
		    _mm_loadu_si128((const __m128i *)(b + 32)));
		x4 = _mm_xor_si128(_mm_xor_si128(x4, t4),
		    _mm_loadu_si128((const __m128i *)(b + 48)));
		b += 64;
		n -= 64;
	}
	/* The four lanes into one. */
#define FOLD(x, y) do { \
	t1 = _mm_clmulepi64_si128(x, k3k4, 0x11); \
	x = _mm_clmulepi64_si128(x, k3k4, 0x00); \
	x = _mm_xor_si128(_mm_xor_si128(x, t1), y); \
} while (0)
	FOLD(x1, x2);
	FOLD(x1, x3);
	FOLD(x1, x4);
	while (n >= 16) {
		FOLD(x1, _mm_loadu_si128((const __m128i *)b));
		b += 16;
		n -= 16;
	}
#undef FOLD
	/* 128 bits to 64, adding 32 zero bits. */
	t1 = _mm_clmulepi64_si128(k3k4, x1, 0x01);
	x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t1);
	/* 64 to 32. */
	t2 = _mm_srli_si128(x1, 4);
	x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00);
	x1 = _mm_xor_si128(x1, t2);
	/* Barrett reduction to the 32-bit remainder. */
	t2 = x1;
	x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10);
	x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x00);
	x1 = _mm_xor_si128(x1, t2);
	return (uint32_t)_mm_extract_epi32(x1, 1);
}

static int
have_pclmul(void)
{
	static int have = -1;

	if (have < 0)
		have = __builtin_cpu_supports("pclmul") &&
		    __builtin_cpu_supports("sse4.1");
	return have;
}
#endif

#if defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>

static uint32_t
crc_arm(uint32_t crc, const unsigned char *b, size_t n)
{
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, b, 8);
		crc = __crc32d(crc, w);
		b += 8;
		n -= 8;
	}
	while (n--)
		crc = __crc32b(crc, *b++);
	return crc;
}
#endif

uint32_t
t2m_crc32(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;

	crc = ~crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (n >= 64 && have_pclmul()) {
		size_t m = n & ~(size_t)15;
		crc = crc_fold(crc, b, m);
		b += m;
		n -= m;
	}
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
	return ~crc_arm(crc, b, n);
#endif
	return ~crc_table(crc, b, n);
}
