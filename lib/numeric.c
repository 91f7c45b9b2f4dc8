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

/*
 * As torch's c10::Half(float) (fp16_ieee_from_fp32_value), which every CPU
 * path of Tensor.to(torch.float16) uses: round to nearest even, overflow
 * to infinity, and any NaN becomes the quiet NaN 0x7e00 with its sign,
 * its payload dropped.
 */
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
	if (exp == 0xff)
		return (uint16_t)(sign | (mant ? 0x7e00u : 0x7c00u));
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
	/* Up when the half bit is set and anything below it or the last
	 * bit kept is; without a branch, which random data mispredicts.
	 * The carry may reach the exponent, even make infinity. */
	r = ((uint32_t)exp << 10) | (mant >> 13);
	r += (mant >> 12 & 1) & ((uint32_t)((mant & 0xfffu) != 0) | (r & 1));
	return (uint16_t)(sign | r);
}

/* As c10's fp16_ieee_to_fp32_value: exact, a NaN made quiet. */
float
t2m_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ffu, x;
	float f;

	if (exp == 0x1f) {
		/* torch sets the quiet bit of a NaN, keeping the payload */
		x = sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0);
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

/*
 * As c10::BFloat16(float) (round_to_nearest_even): any NaN becomes 0x7fc0,
 * sign and payload dropped.  torch's AVX2 and AVX-512 kernels for
 * float32 -> bfloat16 write 0xffff instead; its default kernel, its
 * float16 and float64 sources, and MLX's own conversion write 0x7fc0.
 */
uint16_t
t2m_f32_to_bf16(float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return 0x7fc0u;
	x += 0x7fffu + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

/* Exact: the 16 bits on top of a float32, a NaN's payload kept as is. */
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
	float f = t2m_f64_to_f32(v);

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

/*
 * As the C cast, which torch uses, rounding to nearest even; a NaN is
 * made explicit so that every host gives x86's answer (quiet bit set, the
 * top 22 bits of the payload kept) rather than its own.
 */
float
t2m_f64_to_f32(double d)
{
	uint64_t y;
	uint32_t x;
	float f;

	memcpy(&y, &d, 8);
	if ((y & 0x7fffffffffffffffull) > 0x7ff0000000000000ull) {
		x = (uint32_t)(y >> 32 & 0x80000000u) | 0x7fc00000u |
		    (uint32_t)((y & 0xfffffffffffffull) >> 29);
		memcpy(&f, &x, 4);
		return f;
	}
	return (float)d;
}

int
t2m_dtype_is_int(int dtype)
{
	switch (dtype) {
	case T2M_I8: case T2M_I16: case T2M_I32: case T2M_I64:
	case T2M_U8: case T2M_U16: case T2M_U32: case T2M_U64:
		return 1;
	}
	return 0;
}

/* Little-endian loads and stores, whatever the host's order. */
static inline uint64_t
ld(const unsigned char *p, unsigned size)
{
	uint64_t v = 0;

	while (size-- > 0)
		v = v << 8 | p[size];
	return v;
}

static inline void
st(unsigned char *p, unsigned size, uint64_t v)
{
	unsigned k;

	for (k = 0; k < size; k++, v >>= 8)
		p[k] = (unsigned char)v;
}

static int
int_signed(int dtype)
{
	return dtype == T2M_I8 || dtype == T2M_I16 || dtype == T2M_I32 ||
	    dtype == T2M_I64;
}

static int
convert_int(unsigned char *d, int to, const unsigned char *s, int from,
    size_t n, uint64_t first, t2m_error *err)
{
	unsigned ssz = t2m_dtype_bits(from) / 8, dsz = t2m_dtype_bits(to) / 8;
	unsigned sbits = ssz * 8, dbits = dsz * 8;
	int ssig = int_signed(from), dsig = int_signed(to);
	uint64_t u, max;
	int64_t v;
	size_t i;
	int fits;

	/* The largest value `to` holds. */
	max = dbits == 64 ? UINT64_MAX : ((uint64_t)1 << dbits) - 1;
	if (dsig)
		max >>= 1;
	for (i = 0; i < n; i++, s += ssz, d += dsz) {
		u = ld(s, ssz);
		if (ssig && sbits < 64 && (u >> (sbits - 1) & 1))
			u |= UINT64_MAX << sbits;	/* sign-extend */
		memcpy(&v, &u, 8);
		if (ssig && v < 0)
			fits = dsig && (dbits == 64 ||
			    v >= -((int64_t)1 << (dbits - 1)));
		else
			fits = u <= max;
		if (!fits && ssig)
			return t2m_fail(err, "element %llu: %lld does not fit "
			    "in %s", (unsigned long long)(first + i),
			    (long long)v, t2m_dtype_name(to));
		if (!fits)
			return t2m_fail(err, "element %llu: %llu does not fit "
			    "in %s", (unsigned long long)(first + i),
			    (unsigned long long)u, t2m_dtype_name(to));
		st(d, dsz, u);
	}
	return 0;
}

/* The element at s as float32, as torch converts it; *finite says
 * whether it was finite. */
static inline float
load_f32(const unsigned char *s, int from, int *finite)
{
	uint64_t y;
	uint32_t x;
	uint16_t h;
	double d;
	float f;

	switch (from) {
	case T2M_F16:
		h = (uint16_t)ld(s, 2);
		*finite = (h & 0x7c00u) != 0x7c00u;
		return t2m_f16_to_f32(h);
	case T2M_BF16:
		h = (uint16_t)ld(s, 2);
		*finite = (h & 0x7f80u) != 0x7f80u;
		return t2m_bf16_to_f32(h);
	case T2M_F32:
		x = (uint32_t)ld(s, 4);
		*finite = (x & 0x7f800000u) != 0x7f800000u;
		memcpy(&f, &x, 4);
		return f;
	default:
		y = ld(s, 8);
		*finite = (y & 0x7ff0000000000000ull) != 0x7ff0000000000000ull;
		memcpy(&d, &y, 8);
		return t2m_f64_to_f32(d);
	}
}

/* Store f as dtype to; returns whether the result is infinite. */
static inline int
store_f32(unsigned char *d, int to, float f)
{
	uint32_t x;
	uint16_t h;

	switch (to) {
	case T2M_F16:
		h = t2m_f32_to_f16(f);
		st(d, 2, h);
		return (h & 0x7fffu) == 0x7c00u;
	case T2M_BF16:
		h = t2m_f32_to_bf16(f);
		st(d, 2, h);
		return (h & 0x7fffu) == 0x7f80u;
	default:
		memcpy(&x, &f, 4);
		st(d, 4, x);
		return (x & 0x7fffffffu) == 0x7f800000u;
	}
}

int
t2m_convert(void *out, int to, const void *in, int from, size_t n,
    uint64_t first, uint64_t *overflow, t2m_error *err)
{
	const unsigned char *s = in;
	unsigned char *d = out;
	uint64_t ov = 0;
	size_t i;
	int finite;

	if (t2m_dtype_is_int(from) && t2m_dtype_is_int(to))
		return convert_int(d, to, s, from, n, first, err);
	if (!t2m_dtype_is_float(from) || !(to == T2M_F16 || to == T2M_BF16 ||
	    to == T2M_F32))
		return t2m_fail(err, "cannot convert %s to %s",
		    t2m_dtype_name(from), t2m_dtype_name(to));
	/*
	 * Every path goes through float32, as torch's does: float64 to
	 * float16 rounds twice.  One loop per pair, so that the compiler
	 * makes each a loop without branches on the types.
	 */
	switch (from << 5 | to) {
#define PAIR(F, FSIZE, T, TSIZE) \
	case F << 5 | T: \
		for (i = 0; i < n; i++) { \
			float f_ = load_f32(s + i * FSIZE, F, &finite); \
			ov += (uint64_t)(store_f32(d + i * TSIZE, T, f_) & \
			    finite); \
		} \
		break;
	PAIR(T2M_F16, 2, T2M_F16, 2)
	PAIR(T2M_F16, 2, T2M_BF16, 2)
	PAIR(T2M_F16, 2, T2M_F32, 4)
	PAIR(T2M_BF16, 2, T2M_F16, 2)
	PAIR(T2M_BF16, 2, T2M_BF16, 2)
	PAIR(T2M_BF16, 2, T2M_F32, 4)
	PAIR(T2M_F32, 4, T2M_F16, 2)
	PAIR(T2M_F32, 4, T2M_BF16, 2)
	PAIR(T2M_F32, 4, T2M_F32, 4)
	PAIR(T2M_F64, 8, T2M_F16, 2)
	PAIR(T2M_F64, 8, T2M_BF16, 2)
	PAIR(T2M_F64, 8, T2M_F32, 4)
#undef PAIR
	}
	if (overflow)
		*overflow += ov;
	return 0;
}
