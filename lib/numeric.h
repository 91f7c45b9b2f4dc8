/*
 * numeric.h - element-level work on tensor bytes: permuting axes, and
 * the little arithmetic conversion needs (reading and writing float
 * types, sums, norms).  Internal to libt2m.
 */
#ifndef T2M_NUMERIC_H
#define T2M_NUMERIC_H

#include <stddef.h>
#include <stdint.h>

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

/* float32 <-> float16 and bfloat16 bits, round to nearest even, NaN kept. */
uint16_t t2m_f32_to_f16(float f);
float t2m_f16_to_f32(uint16_t h);
uint16_t t2m_f32_to_bf16(float f);
float t2m_bf16_to_f32(uint16_t h);

#endif
