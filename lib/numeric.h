/*
 * numeric.h - element-level work on tensor bytes: permuting axes, and
 * the little arithmetic conversion needs (reading and writing float
 * types, sums, norms).  Internal to libt2m.
 */
#ifndef T2M_NUMERIC_H
#define T2M_NUMERIC_H

#include <stddef.h>
#include <stdint.h>

#include "t2m.h"

/*
 * out = in with its axes permuted: out axis k is in axis perm[k].  Both
 * are C-ordered; esize is 1, 2, 4, 8 or 16.  The common cases (a batch of
 * 2-D transposes, which every conv rule is) go through a cache-blocked
 * kernel.
 */
void t2m_permute(void *out, const void *in, int ndim, const uint64_t *shape,
    const int *perm, size_t esize);

/* Whether t2m can compute with elements of dtype (F16 BF16 F32 F64). */
int t2m_dtype_is_float(int dtype);
/* Element i of a float tensor as a double. */
double t2m_get_float(const void *p, int dtype, uint64_t i);
/* Store v as element i, rounding to nearest even. */
void t2m_set_float(void *p, int dtype, uint64_t i, double v);

/*
 * float32 <-> float16 and bfloat16 bits, round to nearest even, as torch
 * converts them: a NaN becomes 0x7e00 with its sign in float16, 0x7fc0 in
 * bfloat16; a float16 NaN becomes float32 with its payload, made quiet.
 */
uint16_t t2m_f32_to_f16(float f);
float t2m_f16_to_f32(uint16_t h);
uint16_t t2m_f32_to_bf16(float f);
float t2m_bf16_to_f32(uint16_t h);
/* float64 to float32 as torch does: nearest even, NaN payload cut. */
float t2m_f64_to_f32(double d);

/* Whether dtype is an integer type (I8 to I64, U8 to U64; not BOOL). */
int t2m_dtype_is_int(int dtype);
/*
 * Convert n elements at in, of dtype from, to dtype to at out, both
 * little-endian and of any alignment, as torch's Tensor.to(dtype) does on
 * a CPU:
 *  - from F16, BF16, F32 or F64 to F16, BF16 or F32: through float32,
 *    rounding to nearest even; a NaN stays a NaN, with the bits the
 *    kernels above give it; *overflow (when not NULL) grows by the count
 *    of finite values that became infinite;
 *  - from one integer type to another: the value kept.  A value the
 *    target cannot hold fails, naming the element (its index plus first)
 *    and the value, where torch would wrap it silently.
 * Any other pair fails.  Returns 0 or -1 with a message in err.
 */
int t2m_convert(void *out, int to, const void *in, int from, size_t n,
    uint64_t first, uint64_t *overflow, t2m_error *err);

#endif
