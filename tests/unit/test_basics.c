/* test_basics.c - CRC-32, dtypes, sizes, UTF-8 and buffered input. */
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

TEST(crc32_check_value)
{
	/* The CRC-32 check value from the catalogue of CRC algorithms. */
	CHECK_U64(0xCBF43926u, t2m_crc32(0, "123456789", 9));
	CHECK_U64(0, t2m_crc32(0, "", 0));
	/* Incremental use gives the same result as one call. */
	CHECK_U64(t2m_crc32(0, "123456789", 9),
	    t2m_crc32(t2m_crc32(0, "1234", 4), "56789", 5));
}

/* The codes are part of the stream format, so they must never move. */
TEST(dtype_codes_and_names)
{
	CHECK_INT(1, T2M_BOOL);
	CHECK_INT(10, T2M_F32);
	CHECK_INT(17, T2M_C128);
	CHECK_INT(21, T2M_F4);
	CHECK_INT(23, T2M_F6_E3M2);
	CHECK_STR("F32", t2m_dtype_name(T2M_F32));
	CHECK_STR("F8_E4M3FNUZ", t2m_dtype_name(T2M_F8_E4M3FNUZ));
	CHECK_STR("F6_E2M3", t2m_dtype_name(T2M_F6_E2M3));
	CHECK(t2m_dtype_name(0) == NULL);
	CHECK(t2m_dtype_name(T2M_DTYPE_END) == NULL);
	CHECK(t2m_dtype_name(-1) == NULL);
	CHECK_INT(T2M_BF16, t2m_dtype_lookup("BF16", 4));
	CHECK_INT(T2M_F8_E5M2, t2m_dtype_lookup("F8_E5M2x", 7));
	CHECK_INT(0, t2m_dtype_lookup("f32", 3));
	CHECK_INT(0, t2m_dtype_lookup("F3", 2));
	CHECK_INT(0, t2m_dtype_lookup("F32 ", 4));
	CHECK_INT(0, t2m_dtype_lookup("", 0));
	CHECK_INT(4, t2m_dtype_bits(T2M_F4));
	CHECK_INT(6, t2m_dtype_bits(T2M_F6_E3M2));
	CHECK_INT(8, t2m_dtype_bits(T2M_BOOL));
	CHECK_INT(64, t2m_dtype_bits(T2M_C64));
	CHECK_INT(128, t2m_dtype_bits(T2M_C128));
	CHECK_INT(0, t2m_dtype_bits(0));
	CHECK_INT(0, t2m_dtype_bits(T2M_DTYPE_END));
	CHECK_INT(0, t2m_dtype_in_safetensors(T2M_C128));
	CHECK_INT(1, t2m_dtype_in_safetensors(T2M_C64));
	CHECK_INT(1, t2m_dtype_in_safetensors(T2M_F4));
	CHECK_INT(0, t2m_dtype_in_safetensors(0));
}

/* nbytes of one call, or UINT64_MAX - 1 when it fails (message in err). */
static uint64_t
nbytes(int dtype, int ndim, const uint64_t *shape, t2m_error *err)
{
	uint64_t n = 12345;

	err->msg[0] = '\0';
	if (t2m_tensor_bytes(dtype, ndim, shape, &n, err) < 0)
		return UINT64_MAX - 1;
	return n;
}

#define FAILED (UINT64_MAX - 1)

TEST(tensor_bytes_normal)
{
	t2m_error err;

	CHECK_U64(24, nbytes(T2M_F32, 2, (uint64_t[]){ 2, 3 }, &err));
	CHECK_U64(8, nbytes(T2M_F64, 0, NULL, &err));
	CHECK_U64(1, nbytes(T2M_BOOL, 0, NULL, &err));
	CHECK_U64(5, nbytes(T2M_BOOL, 1, (uint64_t[]){ 5 }, &err));
	CHECK_U64(42, nbytes(T2M_BF16, 3, (uint64_t[]){ 7, 1, 3 }, &err));
	CHECK_U64(16, nbytes(T2M_C64, 1, (uint64_t[]){ 2 }, &err));
	CHECK_U64(32, nbytes(T2M_C128, 1, (uint64_t[]){ 2 }, &err));
	CHECK_U64(3 * 5 * 8, nbytes(T2M_U64, 2, (uint64_t[]){ 3, 5 }, &err));
}

TEST(tensor_bytes_zero_dims)
{
	t2m_error err;

	CHECK_U64(0, nbytes(T2M_F32, 2, (uint64_t[]){ 0, 3 }, &err));
	CHECK_U64(0, nbytes(T2M_F32, 2, (uint64_t[]){ 3, 0 }, &err));
	CHECK_U64(0, nbytes(T2M_F32, 1, (uint64_t[]){ 0 }, &err));
	/* Empty wins over a product that would overflow after the 0. */
	CHECK_U64(0, nbytes(T2M_U8, 2, (uint64_t[]){ 0, (uint64_t)1 << 62 },
	    &err));
	CHECK_U64(0, nbytes(T2M_F64, 3,
	    (uint64_t[]){ (uint64_t)1 << 40, 0, (uint64_t)1 << 40 }, &err));
	CHECK_U64(0, nbytes(T2M_F4, 2, (uint64_t[]){ 3, 0 }, &err));
	/* But not over a product that overflows before the 0: torch and
	 * safetensors multiply in order and refuse it. */
	CHECK_U64(FAILED, nbytes(T2M_U8, 3,
	    (uint64_t[]){ (uint64_t)1 << 62, 4, 0 }, &err));
	CHECK_MSG("shape overflows: more than 2^63 elements at dimension 1",
	    err.msg);
	CHECK_U64(0, nbytes(T2M_U8, 3, (uint64_t[]){ 0, (uint64_t)1 << 62, 4 },
	    &err));
	/* Each dimension must still fit in a signed 64-bit size. */
	CHECK_U64(0, nbytes(T2M_U8, 2,
	    (uint64_t[]){ 0, ((uint64_t)1 << 63) - 1 }, &err));
	CHECK_U64(FAILED, nbytes(T2M_U8, 2,
	    (uint64_t[]){ 0, (uint64_t)1 << 63 }, &err));
	CHECK_MSG("dimension 1 is too large", err.msg);
}

TEST(tensor_bytes_overflow)
{
	const uint64_t big = (uint64_t)1 << 32;
	t2m_error err;

	CHECK_U64(FAILED, nbytes(T2M_U8, 2, (uint64_t[]){ big, big / 2 },
	    &err));
	CHECK_MSG("shape overflows", err.msg);
	CHECK_U64(FAILED, nbytes(T2M_U8, 2, (uint64_t[]){ big, big }, &err));
	CHECK_U64(FAILED, nbytes(T2M_U8, 2,
	    (uint64_t[]){ (uint64_t)1 << 62, 2 }, &err));
	CHECK_MSG("shape overflows", err.msg);
	CHECK_U64(FAILED, nbytes(T2M_U8, 1, (uint64_t[]){ UINT64_MAX }, &err));
	CHECK_U64(FAILED, nbytes(T2M_U8, 3, (uint64_t[]){ 3, UINT64_MAX / 2,
	    3 }, &err));
	/* The bit count is what must stay below 2^63. */
	CHECK_U64(((uint64_t)1 << 60) - 1, nbytes(T2M_BOOL, 1,
	    (uint64_t[]){ ((uint64_t)1 << 60) - 1 }, &err));
	CHECK_U64(FAILED, nbytes(T2M_BOOL, 1, (uint64_t[]){ (uint64_t)1 << 60 },
	    &err));
	CHECK_MSG("size overflows", err.msg);
	CHECK_U64((uint64_t)1 << 59, nbytes(T2M_F64, 1,
	    (uint64_t[]){ (uint64_t)1 << 56 }, &err));
	CHECK_U64(FAILED, nbytes(T2M_F64, 1, (uint64_t[]){ (uint64_t)1 << 57 },
	    &err));
	CHECK_U64(FAILED, nbytes(T2M_C128, 2,
	    (uint64_t[]){ (uint64_t)1 << 28, (uint64_t)1 << 28 }, &err));
}

TEST(tensor_bytes_subbyte)
{
	t2m_error err;

	CHECK_U64(2, nbytes(T2M_F4, 1, (uint64_t[]){ 4 }, &err));
	CHECK_U64(3, nbytes(T2M_F4, 2, (uint64_t[]){ 2, 3 }, &err));
	CHECK_U64(FAILED, nbytes(T2M_F4, 1, (uint64_t[]){ 3 }, &err));
	CHECK_MSG("3 elements of F4 do not fill whole bytes", err.msg);
	CHECK_U64(FAILED, nbytes(T2M_F4, 1, (uint64_t[]){ 1 }, &err));
	CHECK_U64(FAILED, nbytes(T2M_F4, 0, NULL, &err));
	CHECK_U64(FAILED, nbytes(T2M_F4, 2, (uint64_t[]){ 3, 5 }, &err));
	CHECK_U64(3, nbytes(T2M_F6_E2M3, 1, (uint64_t[]){ 4 }, &err));
	CHECK_U64(6, nbytes(T2M_F6_E3M2, 2, (uint64_t[]){ 2, 4 }, &err));
	CHECK_U64(FAILED, nbytes(T2M_F6_E3M2, 1, (uint64_t[]){ 2 }, &err));
	CHECK_MSG("whole bytes", err.msg);
	CHECK_U64(FAILED, nbytes(T2M_F6_E2M3, 1, (uint64_t[]){ 6 }, &err));
	CHECK_U64(FAILED, nbytes(T2M_F6_E2M3, 0, NULL, &err));
}

TEST(tensor_bytes_bad_arguments)
{
	uint64_t ones[T2M_MAXDIM + 1];
	t2m_error err;
	int i;

	for (i = 0; i <= T2M_MAXDIM; i++)
		ones[i] = 1;
	CHECK_U64(4, nbytes(T2M_F32, T2M_MAXDIM, ones, &err));
	CHECK_U64(FAILED, nbytes(T2M_F32, T2M_MAXDIM + 1, ones, &err));
	CHECK_MSG("65 dimensions (at most 64)", err.msg);
	CHECK_U64(FAILED, nbytes(T2M_F32, -1, ones, &err));
	CHECK_U64(FAILED, nbytes(0, 1, ones, &err));
	CHECK_MSG("unknown dtype code 0", err.msg);
	CHECK_U64(FAILED, nbytes(T2M_DTYPE_END, 1, ones, &err));
	CHECK_U64(FAILED, nbytes(255, 1, ones, &err));
}

/* The value parsed, or FAILED when t2m_parse_size refuses s. */
static uint64_t
size_of(const char *s)
{
	uint64_t v = 12345;

	return t2m_parse_size(s, &v) < 0 ? FAILED : v;
}

TEST(parse_size_good)
{
	CHECK_U64(0, size_of("0"));
	CHECK_U64(4096, size_of("4096"));
	CHECK_U64(65536, size_of("64K"));
	CHECK_U64(65536, size_of("64k"));
	CHECK_U64((uint64_t)1 << 20, size_of("1M"));
	CHECK_U64((uint64_t)5 << 30, size_of("5G"));
	CHECK_U64((uint64_t)3 << 40, size_of("3T"));
	CHECK_U64(1024, size_of("1KiB"));
	CHECK_U64((uint64_t)2 << 20, size_of("2MB"));
	CHECK_U64((uint64_t)7 << 20, size_of("7Mi"));
	CHECK_U64(16, size_of("16"));
	CHECK_U64(0, size_of("0K"));
	CHECK_U64((((uint64_t)1 << 34) - 1) << 30, size_of("17179869183G"));
	CHECK_U64(UINT64_MAX - 9, size_of("18446744073709551606"));
}

TEST(parse_size_bad)
{
	static const char *bad[] = {
		"", "x", "1Q", "K", "-1", "+1", " 1", "1 ", "1.5M", "0x10",
		"1KiBx", "1iB", "1KBB", "1KB ", "1KK",
		"18446744073709551616", "99999999999999999999999",
		"17179869184G", "16777216T", "16777216TiB",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (size_of(bad[i]) != FAILED) {
			printf("# \"%s\" was accepted\n", bad[i]);
			unit_failures++;
		}
}

/* Every value a uint64_t holds is a size; the top ten must parse too. */
TEST(parse_size_largest)
{
	uint64_t v = 0;

	CHECK_INT(0, t2m_parse_size("18446744073709551615", &v));
	CHECK_U64(UINT64_MAX, v);
	CHECK_INT(0, t2m_parse_size("18446744073709551610", &v));
	CHECK_U64(UINT64_MAX - 5, v);
	CHECK_INT(0, t2m_parse_size("18446744073709551609", &v));
	CHECK_U64(UINT64_MAX - 6, v);
}

#define UTF8(s) t2m_utf8_valid((s), sizeof(s) - 1)

TEST(utf8_valid)
{
	CHECK_INT(1, t2m_utf8_valid("", 0));
	CHECK_INT(1, UTF8("plain ASCII ~\x7f"));
	CHECK_INT(1, UTF8("\xc2\x80"));			/* U+0080 */
	CHECK_INT(1, UTF8("\xdf\xbf"));			/* U+07FF */
	CHECK_INT(1, UTF8("\xe0\xa0\x80"));		/* U+0800 */
	CHECK_INT(1, UTF8("\xed\x9f\xbf"));		/* U+D7FF */
	CHECK_INT(1, UTF8("\xee\x80\x80"));		/* U+E000 */
	CHECK_INT(1, UTF8("\xef\xbf\xbf"));		/* U+FFFF */
	CHECK_INT(1, UTF8("\xf0\x90\x80\x80"));		/* U+10000 */
	CHECK_INT(1, UTF8("\xf4\x8f\xbf\xbf"));		/* U+10FFFF */
	CHECK_INT(1, UTF8("gr\xc3\xb6\xc3\x9f" "e \xe2\x82\xac "
	    "\xf0\x9f\x98\x80"));
	/* Only n bytes count: what follows is not looked at. */
	CHECK_INT(1, t2m_utf8_valid("ab\xff", 2));
}

TEST(utf8_invalid)
{
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
#define B(s) { s, sizeof(s) - 1 }
		B("\xc0\x80"),			/* overlong NUL */
		B("\xc1\xbf"),			/* overlong 2-byte */
		B("\xe0\x80\x80"),		/* overlong 3-byte */
		B("\xe0\x9f\xbf"),
		B("\xf0\x80\x80\x80"),		/* overlong 4-byte */
		B("\xf0\x8f\xbf\xbf"),
		B("\xed\xa0\x80"),		/* U+D800 */
		B("\xed\xbf\xbf"),		/* U+DFFF */
		B("\xf4\x90\x80\x80"),		/* U+110000 */
		B("\xf5\x80\x80\x80"),
		B("\xf8\x88\x80\x80\x80"),
		B("\xff"),
		B("\xfe"),
		B("\x80"),			/* lone continuation */
		B("a\xbf"),
		B("\xc2"),			/* truncated */
		B("\xe2\x82"),
		B("\xf0\x9f\x98"),
		B("ok\xe2\x82"),
		B("\xc2\x41"),			/* bad continuation */
		B("\xc3\xc3"),
		B("\xc2\xff"),
		B("\xe2\x82\xe2"),
		B("\xf0\x9f\xf0\x80"),
		B("\xe2\x28\xa1"),
		B("\xf0\x9f\x98\x28"),
		B("a\0b"),			/* NUL */
		B("\0"),
#undef B
		{ "\xe2\x82\xac", 2 },		/* cut by n */
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (t2m_utf8_valid(bad[i].s, bad[i].n)) {
			printf("# case %zu was accepted\n", i);
			unit_failures++;
		}
}

/* A temporary file holding n bytes, byte i being i % 251. */
static int
counting_file(size_t n)
{
	char path[] = "/tmp/t2m-unit.XXXXXX";
	unsigned char *p;
	size_t i;
	int fd;

	if ((fd = mkstemp(path)) < 0 || (p = malloc(n + 1)) == NULL)
		abort();
	unlink(path);
	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(i % 251);
	if (t2m_write_full(fd, p, n) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	free(p);
	return fd;
}

/* Reads and skips land on the right byte whatever the buffer size. */
TEST(in_read_skip_positions)
{
	static const size_t bufsizes[] = { 1, 2, 3, 4, 7, 0 };
	static const size_t maxreads[] = { 0, 1, 3 };
	unsigned char buf[16];
	struct t2m_in in;
	t2m_error err;
	size_t i, b, m, r, s, bad = 0;
	int fd = counting_file(40);

	/* Every buffer size and read cap, every short read then skip. */
	for (i = 0; i < 6 * 3 * 6 * 21; i++) {
		b = i / (3 * 6 * 21);
		m = i / (6 * 21) % 3;
		r = i / 21 % 6;
		s = i % 21;
		if (lseek(fd, 0, SEEK_SET) < 0 ||
		    t2m_in_init(&in, fd, "f", bufsizes[b], &err) < 0)
			abort();
		in.maxread = maxreads[m];
		if (t2m_in_read(&in, buf, r, &err) != (ssize_t)r ||
		    (r > 0 && buf[r - 1] != r - 1) ||
		    t2m_in_skip(&in, s, "gap", &err) < 0 ||
		    in.pos != r + s ||
		    t2m_in_read(&in, buf, 1, &err) != 1 || buf[0] != r + s ||
		    t2m_in_read(&in, buf, 5, &err) != 5 ||
		    buf[4] != r + s + 5) {
			if (bad++ == 0)
				printf("# buffer %zu, maxread %zu: read %zu, "
				    "skip %zu went wrong\n", bufsizes[b],
				    maxreads[m], r, s);
		}
		t2m_in_free(&in);
	}
	CHECK_INT(0, bad);
	close(fd);
}

TEST(in_ends_and_short_reads)
{
	const unsigned char *p;
	unsigned char buf[64];
	struct t2m_in in;
	t2m_error err;
	int fd = counting_file(40);

	CHECK_INT(0, t2m_in_init(&in, fd, "f", 4, &err));
	CHECK_INT(1, in.regular);
	CHECK_U64(40, in.size);
	CHECK_INT(0, t2m_in_at_end(&in, &err));
	CHECK_U64(0, in.pos);
	/* A peek shows bytes without taking them, at most a buffer's worth. */
	CHECK_INT(4, t2m_in_peek(&in, 10, &p, &err));
	CHECK_INT(0, p[0]);
	CHECK_INT(3, p[3]);
	CHECK_U64(0, in.pos);
	CHECK_INT(10, t2m_in_read(&in, buf, 10, &err));
	CHECK_INT(9, buf[9]);
	CHECK_INT(0, t2m_in_at_end(&in, &err));
	CHECK_INT(29, t2m_in_read(&in, buf, 29, &err));
	CHECK_INT(38, buf[28]);
	CHECK_INT(0, t2m_in_at_end(&in, &err));
	CHECK_INT(1, t2m_in_read(&in, buf, 64, &err));
	CHECK_INT(39, buf[0]);
	CHECK_INT(1, t2m_in_at_end(&in, &err));
	CHECK_INT(0, t2m_in_read(&in, buf, 64, &err));
	CHECK_U64(40, in.pos);
	t2m_in_free(&in);

	/* maxread really limits each read(2): nothing is read ahead. */
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK_INT(0, t2m_in_init(&in, fd, "f", 0, &err));
	in.maxread = 1;
	CHECK_INT(3, t2m_in_read(&in, buf, 3, &err));
	CHECK_INT(0, in.tail - in.head);
	CHECK_INT(1, t2m_in_peek(&in, 1, &p, &err));
	CHECK_INT(3, p[0]);
	CHECK_INT(1, in.tail - in.head);
	t2m_in_free(&in);

	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK_INT(0, t2m_in_init(&in, fd, "f", 0, &err));
	CHECK_INT(-1, t2m_in_skip(&in, 50, "payload", &err));
	CHECK_MSG("offset 0: truncated payload (50 bytes expected, 40 read)",
	    err.msg);
	t2m_in_free(&in);

	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK_INT(0, t2m_in_init(&in, fd, "f", 0, &err));
	CHECK_INT(0, t2m_in_full(&in, buf, 5, "head", &err));
	CHECK_INT(-1, t2m_in_full(&in, buf, 36, "body", &err));
	CHECK_MSG("offset 5: truncated body (36 bytes expected, 35 read)",
	    err.msg);
	t2m_in_free(&in);
	close(fd);
}

#include <zlib.h>

TEST(crc32_matches_zlib)
{
	/* Every length from 0 to 600 at every alignment 0..15, and a few
	 * long ones, against zlib: the folded path, its tail and the table
	 * path must agree with an independent implementation. */
	static unsigned char buf[70000];
	size_t len, off, k;
	uint32_t x = 12345;

	for (k = 0; k < sizeof buf; k++) {
		x = x * 1103515245u + 12345u;
		buf[k] = (unsigned char)(x >> 16);
	}
	for (off = 0; off < 16; off++)
		for (len = 0; len <= 600; len++)
			if (t2m_crc32(0, buf + off, len) !=
			    (uint32_t)crc32(0, buf + off, (uInt)len)) {
				CHECK_U64(crc32(0, buf + off, (uInt)len),
				    t2m_crc32(0, buf + off, len));
				return;
			}
	CHECK_U64(crc32(0, buf, 65536), t2m_crc32(0, buf, 65536));
	CHECK_U64(crc32(0, buf + 3, 69997), t2m_crc32(0, buf + 3, 69997));
	/* Running on from a previous value. */
	CHECK_U64(crc32(0, buf, 1000), t2m_crc32(t2m_crc32(0, buf, 333),
	    buf + 333, 667));
}
