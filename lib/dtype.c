/* dtype.c - the element types t2m knows, their names and sizes. */
#include <string.h>

#include "t2m.h"

static const struct {
	const char *name;
	unsigned bits;
	int in_st;		/* safetensors has it */
} dtypes[T2M_DTYPE_END] = {
	[T2M_BOOL]        = { "BOOL", 8, 1 },
	[T2M_U8]          = { "U8", 8, 1 },
	[T2M_I8]          = { "I8", 8, 1 },
	[T2M_I16]         = { "I16", 16, 1 },
	[T2M_U16]         = { "U16", 16, 1 },
	[T2M_F16]         = { "F16", 16, 1 },
	[T2M_BF16]        = { "BF16", 16, 1 },
	[T2M_I32]         = { "I32", 32, 1 },
	[T2M_U32]         = { "U32", 32, 1 },
	[T2M_F32]         = { "F32", 32, 1 },
	[T2M_F64]         = { "F64", 64, 1 },
	[T2M_I64]         = { "I64", 64, 1 },
	[T2M_U64]         = { "U64", 64, 1 },
	[T2M_F8_E4M3]     = { "F8_E4M3", 8, 1 },
	[T2M_F8_E5M2]     = { "F8_E5M2", 8, 1 },
	[T2M_C64]         = { "C64", 64, 1 },
	[T2M_C128]        = { "C128", 128, 0 },
	[T2M_F8_E8M0]     = { "F8_E8M0", 8, 1 },
	[T2M_F8_E4M3FNUZ] = { "F8_E4M3FNUZ", 8, 1 },
	[T2M_F8_E5M2FNUZ] = { "F8_E5M2FNUZ", 8, 1 },
	[T2M_F4]          = { "F4", 4, 1 },
	[T2M_F6_E2M3]     = { "F6_E2M3", 6, 1 },
	[T2M_F6_E3M2]     = { "F6_E3M2", 6, 1 },
};

const char *
t2m_dtype_name(int dt)
{
	return dt > 0 && dt < T2M_DTYPE_END ? dtypes[dt].name : NULL;
}

unsigned
t2m_dtype_bits(int dt)
{
	return dt > 0 && dt < T2M_DTYPE_END ? dtypes[dt].bits : 0;
}

int
t2m_dtype_in_safetensors(int dt)
{
	return dt > 0 && dt < T2M_DTYPE_END && dtypes[dt].in_st;
}

int
t2m_dtype_lookup(const char *name, size_t n)
{
	int dt;

	for (dt = 1; dt < T2M_DTYPE_END; dt++)
		if (strlen(dtypes[dt].name) == n &&
		    memcmp(dtypes[dt].name, name, n) == 0)
			return dt;
	return 0;
}

int
t2m_tensor_bytes(int dt, int ndim, const uint64_t *shape, uint64_t *nbytes,
    t2m_error *err)
{
	const uint64_t limit = (uint64_t)1 << 63;
	uint64_t numel = 1, bits;
	int i;

	if (t2m_dtype_bits(dt) == 0)
		return t2m_fail(err, "unknown dtype code %d", dt);
	if (ndim < 0 || ndim > T2M_MAXDIM)
		return t2m_fail(err, "%d dimensions (at most %d)", ndim,
		    T2M_MAXDIM);
	/*
	 * Multiplied out in order, as torch and safetensors count: a 0
	 * makes the tensor empty whatever follows it, but a product past
	 * 2^63 before the 0 is refused, as both formats refuse it, so that
	 * t2m reads no shape it could not write.
	 */
	for (i = 0; i < ndim; i++) {
		if (shape[i] >= limit && numel == 0)
			return t2m_fail(err, "dimension %d is too large (%llu)",
			    i, (unsigned long long)shape[i]);
		if (shape[i] >= limit ||
		    (shape[i] != 0 && numel > (limit - 1) / shape[i]))
			return t2m_fail(err, "shape overflows: more than 2^63 "
			    "elements at dimension %d", i);
		numel *= shape[i];
	}
	if (numel == 0) {
		*nbytes = 0;
		return 0;
	}
	bits = t2m_dtype_bits(dt);
	if (numel > (limit - 1) / bits)
		return t2m_fail(err, "size overflows: %llu elements of %s",
		    (unsigned long long)numel, t2m_dtype_name(dt));
	if (numel * bits % 8 != 0)
		return t2m_fail(err, "%llu elements of %s do not fill whole "
		    "bytes", (unsigned long long)numel, t2m_dtype_name(dt));
	*nbytes = numel * bits / 8;
	return 0;
}
