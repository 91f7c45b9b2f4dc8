/* test_numeric.c - permutes (blocked and general), float16/bfloat16, and
 * t2m_convert, the element conversions of t2m-cast. */
#include <stdlib.h>

#include "numeric.h"
#include "unit.h"

static float
bits_f32(uint32_t x)
{
	float f;

	memcpy(&f, &x, 4);
	return f;
}

static uint32_t
f32_bits(float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	return x;
}

/* The permute by index arithmetic, to check the kernels against. */
static void
slow_permute(uint32_t *out, const uint32_t *in, int ndim,
    const uint64_t *shape, const int *perm)
{
	uint64_t idx[8] = { 0 }, stride[8], n = 1, k, src;
	int d;

	for (d = 0; d < ndim; d++)
		n *= shape[d];
	stride[ndim - 1] = 1;
	for (d = ndim - 2; d >= 0; d--)
		stride[d] = stride[d + 1] * shape[d + 1];
	for (k = 0; k < n; k++) {
		for (src = 0, d = 0; d < ndim; d++)
			src += idx[d] * stride[perm[d]];
		out[k] = in[src];
		for (d = ndim - 1; d >= 0; d--) {
			if (++idx[d] < shape[perm[d]])
				break;
			idx[d] = 0;
		}
	}
}

static int
check_perm(int ndim, const uint64_t *shape, const int *perm)
{
	uint64_t n = 1, k;
	uint32_t *in, *a, *b;
	int d, ok;

	for (d = 0; d < ndim; d++)
		n *= shape[d];
	in = calloc(n, 4);
	a = calloc(n, 4);
	b = calloc(n, 4);
	if (in == NULL || a == NULL || b == NULL) {
		free(in);
		free(a);
		free(b);
		return 0;
	}
	for (k = 0; k < n; k++)
		in[k] = (uint32_t)(k * 2654435761u);
	t2m_permute(a, in, ndim, shape, perm, 4);
	slow_permute(b, in, ndim, shape, perm);
	ok = memcmp(a, b, n * 4) == 0;
	free(in);
	free(a);
	free(b);
	return ok;
}

TEST(permute_conv_layouts)
{
	/* Conv2d (O,I,kH,kW) -> (O,kH,kW,I) and back; sizes off the tile. */
	uint64_t conv[] = { 5, 37, 3, 11 }, mlx[] = { 5, 3, 11, 37 };
	int fwd[] = { 0, 2, 3, 1 }, back[] = { 0, 3, 1, 2 };
	uint64_t convt[] = { 33, 7, 2, 35 };
	int tfwd[] = { 1, 2, 3, 0 };
	uint64_t c3[] = { 2, 3, 4, 5, 6 };
	int c3p[] = { 0, 2, 3, 4, 1 }, odd[] = { 2, 0, 4, 1, 3 };

	CHECK(check_perm(4, conv, fwd));
	CHECK(check_perm(4, mlx, back));
	CHECK(check_perm(4, convt, tfwd));
	CHECK(check_perm(5, c3, c3p));
	CHECK(check_perm(5, c3, odd));	/* no transpose shape: the fallback */
}

TEST(permute_element_sizes)
{
	unsigned char in[2 * 3 * 16], out[2 * 3 * 16];
	uint64_t shape[] = { 2, 3 };
	int perm[] = { 1, 0 }, k;
	size_t es;

	for (k = 0; k < (int)sizeof in; k++)
		in[k] = (unsigned char)k;
	for (es = 1; es <= 16; es *= 2) {
		t2m_permute(out, in, 2, shape, perm, es);
		/* out[c][r] = in[r][c]: out row 1 col 0 is in row 0 col 1 */
		CHECK(memcmp(out + 2 * es, in + 1 * es, es) == 0);
		CHECK(memcmp(out + 1 * es, in + 3 * es, es) == 0);
	}
}

TEST(f16_conversions)
{
	/* exact values, rounding to nearest even, overflow, subnormals */
	CHECK_INT(0x3c00, t2m_f32_to_f16(1.0f));
	CHECK_INT(0xc000, t2m_f32_to_f16(-2.0f));
	CHECK_INT(0x7bff, t2m_f32_to_f16(65504.0f));
	CHECK_INT(0x7c00, t2m_f32_to_f16(65520.0f));	/* rounds to inf */
	CHECK_INT(0x7bff, t2m_f32_to_f16(65519.0f));
	CHECK_INT(0x0001, t2m_f32_to_f16(5.960464477539063e-8f));
	CHECK_INT(0x0000, t2m_f32_to_f16(2.9e-8f));	/* below half a tick */
	CHECK_INT(0x3c00, t2m_f32_to_f16(1.00048828125f));	/* tie: even */
	CHECK_INT(0x3c02, t2m_f32_to_f16(1.00146484375f));	/* tie: even */
	/* NaN as torch makes it: 0x7e00 with the sign, payload dropped */
	CHECK_INT(0x7e00, t2m_f32_to_f16(bits_f32(0x7fc00000u)));
	CHECK_INT(0xfe00, t2m_f32_to_f16(bits_f32(0xffa00001u)));
	CHECK_INT(0x7e00, t2m_f32_to_f16(bits_f32(0x7f800001u)));
	CHECK_INT(0xfc00, t2m_f32_to_f16(bits_f32(0xff800000u)));
	CHECK(t2m_f16_to_f32(0x3555) > 0.333 && t2m_f16_to_f32(0x3555) <
	    0.334);
	CHECK(t2m_f16_to_f32(0x0001) == 5.960464477539063e-8f);
	CHECK(t2m_f16_to_f32(0x7c00) > 1e38f);
	/* a NaN made quiet, its payload kept */
	CHECK_U64(0x7fc02000u, f32_bits(t2m_f16_to_f32(0x7c01)));
	CHECK_U64(0xffeaa000u, f32_bits(t2m_f16_to_f32(0xfd55)));
}

TEST(bf16_conversions)
{
	CHECK_INT(0x3f80, t2m_f32_to_bf16(1.0f));
	CHECK_INT(0x3f80, t2m_f32_to_bf16(1.00390625f));	/* tie: even */
	CHECK_INT(0x3f82, t2m_f32_to_bf16(1.01171875f));	/* tie: even */
	CHECK_INT(0x7f80, t2m_f32_to_bf16(3.4e38f));	/* rounds to inf */
	CHECK_INT(0x7fc0, t2m_f32_to_bf16(__builtin_nanf("")));
	CHECK_INT(0x7fc0, t2m_f32_to_bf16(bits_f32(0xff800001u)));
	CHECK_INT(0x0001, t2m_f32_to_bf16(bits_f32(0x00008001u)));
	CHECK(t2m_bf16_to_f32(0x4049) == 3.140625f);
	CHECK_U64(0xff810000u, f32_bits(t2m_bf16_to_f32(0xff81)));
}

TEST(f64_to_f32)
{
	double d;
	uint64_t y;

	CHECK(t2m_f64_to_f32(0.1) == 0.1f);
	y = 0x7ff4000020000000ull;	/* payload's top bits kept, quieted */
	memcpy(&d, &y, 8);
	CHECK_U64(0x7fe00001u, f32_bits(t2m_f64_to_f32(d)));
	y = 0xfff0000000000001ull;
	memcpy(&d, &y, 8);
	CHECK_U64(0xffc00000u, f32_bits(t2m_f64_to_f32(d)));
	CHECK_U64(0x7f800000u, f32_bits(t2m_f64_to_f32(3.5e38)));
}

TEST(convert_floats)
{
	unsigned char in[1 + 8 * 4], out[1 + 4 * 4];
	uint64_t ov = 0;
	t2m_error e;
	/* 1.0, 65520 (overflows in F16), -inf, NaN; stored unaligned */
	static const uint32_t v[4] = { 0x3f800000u, 0x477ff000u, 0xff800000u,
	    0x7fc00001u };
	int k;

	for (k = 0; k < 4; k++) {
		in[1 + 4 * k] = (unsigned char)v[k];
		in[2 + 4 * k] = (unsigned char)(v[k] >> 8);
		in[3 + 4 * k] = (unsigned char)(v[k] >> 16);
		in[4 + 4 * k] = (unsigned char)(v[k] >> 24);
	}
	CHECK_INT(0, t2m_convert(out + 1, T2M_F16, in + 1, T2M_F32, 4, 0, &ov,
	    &e));
	CHECK_U64(1, ov);	/* -inf was infinite already */
	CHECK_INT(0x3c00, out[1] | out[2] << 8);
	CHECK_INT(0x7c00, out[3] | out[4] << 8);
	CHECK_INT(0xfc00, out[5] | out[6] << 8);
	CHECK_INT(0x7e00, out[7] | out[8] << 8);
	/* F16 to BF16 and back to F32: exact for 1.0 */
	CHECK_INT(0, t2m_convert(in, T2M_BF16, out + 1, T2M_F16, 1, 0, &ov,
	    &e));
	CHECK_INT(0x3f80, in[0] | in[1] << 8);
	CHECK_INT(-1, t2m_convert(out, T2M_F64, in, T2M_F32, 1, 0, &ov, &e));
	CHECK_INT(-1, t2m_convert(out, T2M_I32, in, T2M_F32, 1, 0, &ov, &e));
	CHECK_MSG("cannot convert F32 to I32", e.msg);
}

TEST(convert_ints)
{
	unsigned char in[16], out[16];
	t2m_error e;

	/* I8 -1, 127 to I64 and U8 */
	in[0] = 0xff;
	in[1] = 0x7f;
	CHECK_INT(0, t2m_convert(out, T2M_I64, in, T2M_I8, 2, 0, NULL, &e));
	CHECK_INT(0xff, out[7]);
	CHECK_INT(0x7f, out[8]);
	CHECK_INT(0, out[15]);
	CHECK_INT(-1, t2m_convert(out, T2M_U8, in, T2M_I8, 2, 40, NULL, &e));
	CHECK_MSG("element 40: -1 does not fit in U8", e.msg);
	/* U16 65535 to I16, I32 */
	in[0] = in[1] = 0xff;
	CHECK_INT(-1, t2m_convert(out, T2M_I16, in, T2M_U16, 1, 0, NULL, &e));
	CHECK_MSG("element 0: 65535 does not fit in I16", e.msg);
	CHECK_INT(0, t2m_convert(out, T2M_I32, in, T2M_U16, 1, 0, NULL, &e));
	CHECK_INT(0, out[2] | out[3]);
	/* I64 minimum to I32 fails; I32 minimum to I64 is kept */
	memset(in, 0, 8);
	in[7] = 0x80;
	CHECK_INT(-1, t2m_convert(out, T2M_I32, in, T2M_I64, 1, 0, NULL, &e));
	CHECK_MSG("-9223372036854775808 does not fit in I32", e.msg);
	memset(in, 0, 4);
	in[3] = 0x80;
	CHECK_INT(0, t2m_convert(out, T2M_I64, in, T2M_I32, 1, 0, NULL, &e));
	CHECK_INT(0x80, out[3]);
	CHECK_INT(0xff, out[4]);
	CHECK_INT(0xff, out[7]);
}
