/* test_numeric.c - permutes (blocked and general) and float16/bfloat16. */
#include <stdlib.h>

#include "numeric.h"
#include "unit.h"

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
	in = malloc(n * 4);
	a = malloc(n * 4);
	b = malloc(n * 4);
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
	CHECK(t2m_f32_to_f16(__builtin_nanf("")) & 0x200);
	CHECK(t2m_f16_to_f32(0x3555) > 0.333 && t2m_f16_to_f32(0x3555) <
	    0.334);
	CHECK(t2m_f16_to_f32(0x0001) == 5.960464477539063e-8f);
	CHECK(t2m_f16_to_f32(0x7c00) > 1e38f);
}

TEST(bf16_conversions)
{
	CHECK_INT(0x3f80, t2m_f32_to_bf16(1.0f));
	CHECK_INT(0x3f80, t2m_f32_to_bf16(1.00390625f));	/* tie: even */
	CHECK_INT(0x3f82, t2m_f32_to_bf16(1.01171875f));	/* tie: even */
	CHECK_INT(0x7f80, t2m_f32_to_bf16(3.4e38f));	/* rounds to inf */
	CHECK((t2m_f32_to_bf16(__builtin_nanf("")) & 0x7fc0) == 0x7fc0);
	CHECK(t2m_bf16_to_f32(0x4049) == 3.140625f);
}
