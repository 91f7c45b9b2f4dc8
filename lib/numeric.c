/*
 * numeric.c - permutes and float conversions.  Permutes are done as
 * batches of 2-D transposes when the permutation allows (every layout
 * rule t2m has does), in 32x32-element tiles so both sides stay in
 * cache; anything else falls back to an index walk.
 */
#include <math.h>
#include <string.h>

#include "numeric.h"
#include "t2m.h"

#define TILE 32

/* out[b][c][r] = in[b][r][c] for each batch b, element size esize. */
static void
transpose_batch(unsigned char *out, const unsigned char *in, uint64_t batch,
    uint64_t rows, uint64_t cols, size_t esize)
{
	uint64_t b, r0, c0, r, c, rmax, cmax;
	const unsigned char *src;
	unsigned char *dst;

	for (b = 0; b < batch; b++) {
		src = in + b * rows * cols * esize;
		dst = out + b * rows * cols * esize;
		for (r0 = 0; r0 < rows; r0 += TILE) {
			rmax = r0 + TILE < rows ? r0 + TILE : rows;
			for (c0 = 0; c0 < cols; c0 += TILE) {
				cmax = c0 + TILE < cols ? c0 + TILE : cols;
				switch (esize) {
#define KERNEL(T) \
				for (r = r0; r < rmax; r++) \
					for (c = c0; c < cmax; c++) \
						((T *)dst)[c * rows + r] = \
						    ((const T *)src)[r * cols + c]; \
				break;
				case 1: KERNEL(uint8_t)
				case 2: KERNEL(uint16_t)
				case 4: KERNEL(uint32_t)
				case 8: KERNEL(uint64_t)
#undef KERNEL
				default:
					for (r = r0; r < rmax; r++)
						for (c = c0; c < cmax; c++)
							memcpy(dst + (c * rows + r) *
							    esize, src + (r * cols +
							    c) * esize, esize);
				}
			}
		}
	}
}

/*
 * Whether perm is 0..p-1, then q..n-1, then p..q-1: the axes [p, q)
 * move behind the rest.  That is a batch of (rows x cols) transposes
 * with batch = shape[0..p), rows = shape[p..q), cols = shape[q..n).
 * Conv (0,2,3,1), ConvTranspose (1,2,3,0) and their inverses all are.
 */
static int
as_transpose(int ndim, const uint64_t *shape, const int *perm,
    uint64_t *batch, uint64_t *rows, uint64_t *cols)
{
	int p, q, k, i;

	for (p = 0; p < ndim && perm[p] == p; p++)
		;
	if (p == ndim)
		return 0;
	q = perm[p];		/* the first axis that moved forward */
	for (k = p; k < p + (ndim - q); k++)
		if (perm[k] != q + (k - p))
			return 0;
	for (i = 0; k < ndim; k++, i++)
		if (perm[k] != p + i)
			return 0;
	if (p + i != q)
		return 0;
	*batch = *rows = *cols = 1;
	for (k = 0; k < p; k++)
		*batch *= shape[k];
	for (k = p; k < q; k++)
		*rows *= shape[k];
	for (k = q; k < ndim; k++)
		*cols *= shape[k];
	return 1;
}

void
t2m_permute(void *out, const void *in, int ndim, const uint64_t *shape,
    const int *perm, size_t esize)
{
	uint64_t batch, rows, cols, n = 1, k, src, idx[T2M_MAXDIM] = { 0 };
	uint64_t stride[T2M_MAXDIM];
	int d;

	for (d = 0; d < ndim; d++)
		n *= shape[d];
	if (n == 0)
		return;
	if (as_transpose(ndim, shape, perm, &batch, &rows, &cols)) {
		transpose_batch(out, in, batch, rows, cols, esize);
		return;
	}
	/* General case: walk the output in C order. */
	stride[ndim - 1] = 1;
	for (d = ndim - 2; d >= 0; d--)
		stride[d] = stride[d + 1] * shape[d + 1];
	for (k = 0; k < n; k++) {
		for (src = 0, d = 0; d < ndim; d++)
			src += idx[d] * stride[perm[d]];
		memcpy((unsigned char *)out + k * esize,
		    (const unsigned char *)in + src * esize, esize);
		for (d = ndim - 1; d >= 0; d--) {
			if (++idx[d] < shape[perm[d]])
				break;
			idx[d] = 0;
		}
	}
}

uint16_t
t2m_f32_to_f16(float f)
{
	uint32_t x, sign, mant;
	int32_t exp;
	uint32_t r;

	memcpy(&x, &f, 4);
	sign = (x >> 16) & 0x8000u;
	exp = (int32_t)((x >> 23) & 0xff);
	mant = x & 0x7fffffu;
	if (exp == 0xff)	/* inf, or NaN keeping its top payload bits */
		return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u |
		    (mant >> 13) : 0));
	exp -= 127 - 15;
	if (exp >= 0x1f)
		return (uint16_t)(sign | 0x7c00u);	/* overflow: inf */
	if (exp <= 0) {
		/* subnormal or zero: shift in the implicit bit */
		if (exp < -10)
			return (uint16_t)sign;
		mant |= 0x800000u;
		{
			uint32_t shift = (uint32_t)(14 - exp);
			uint32_t half = 1u << (shift - 1);
			uint32_t rest = mant & ((1u << shift) - 1);
			r = mant >> shift;
			if (rest > half || (rest == half && (r & 1)))
				r++;
		}
		return (uint16_t)(sign | r);
	}
	r = ((uint32_t)exp << 10) | (mant >> 13);
	if ((mant & 0x1fffu) > 0x1000u || ((mant & 0x1fffu) == 0x1000u &&
	    (r & 1)))
		r++;		/* may carry into the exponent, even to inf */
	return (uint16_t)(sign | r);
}

float
t2m_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ffu, x;
	float f;

	if (exp == 0x1f) {
		x = sign | 0x7f800000u | (mant << 13);
	} else if (exp == 0) {
		if (mant == 0) {
			x = sign;
		} else {
			/* subnormal: normalise */
			exp = 127 - 15 + 1;
			while (!(mant & 0x400u)) {
				mant <<= 1;
				exp--;
			}
			x = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
		}
	} else {
		x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
	}
	memcpy(&f, &x, 4);
	return f;
}

uint16_t
t2m_f32_to_bf16(float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	if ((x & 0x7fffffffu) > 0x7f800000u)	/* NaN: keep it quiet */
		return (uint16_t)((x >> 16) | 0x40u);
	x += 0x7fffu + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

float
t2m_bf16_to_f32(uint16_t h)
{
	uint32_t x = (uint32_t)h << 16;
	float f;

	memcpy(&f, &x, 4);
	return f;
}

int
t2m_dtype_is_float(int dtype)
{
	return dtype == T2M_F16 || dtype == T2M_BF16 || dtype == T2M_F32 ||
	    dtype == T2M_F64;
}

double
t2m_get_float(const void *p, int dtype, uint64_t i)
{
	const unsigned char *b = p;
	uint16_t h;
	float f;
	double d;

	switch (dtype) {
	case T2M_F16:
		memcpy(&h, b + 2 * i, 2);
		return t2m_f16_to_f32(h);
	case T2M_BF16:
		memcpy(&h, b + 2 * i, 2);
		return t2m_bf16_to_f32(h);
	case T2M_F32:
		memcpy(&f, b + 4 * i, 4);
		return f;
	default:
		memcpy(&d, b + 8 * i, 8);
		return d;
	}
}

void
t2m_set_float(void *p, int dtype, uint64_t i, double v)
{
	unsigned char *b = p;
	uint16_t h;
	float f = (float)v;

	switch (dtype) {
	case T2M_F16:
		h = t2m_f32_to_f16(f);
		memcpy(b + 2 * i, &h, 2);
		break;
	case T2M_BF16:
		h = t2m_f32_to_bf16(f);
		memcpy(b + 2 * i, &h, 2);
		break;
	case T2M_F32:
		memcpy(b + 4 * i, &f, 4);
		break;
	default:
		memcpy(b + 8 * i, &v, 8);
	}
}
