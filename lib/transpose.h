/*
 * transpose.h - planning and running the conversion between PyTorch's
 * layout and MLX's (t2m-transpose), and the plan t2m-analyze reports.
 */
#ifndef T2M_TRANSPOSE_H
#define T2M_TRANSPOSE_H

#include "t2m.h"

struct cJSON;

/* Where layer classes come from, besides the module tree in the file. */
struct t2m_types {
	const struct cJSON *map;	/* -m: {"module.path": "pkg.Class"} */
	const char *model_type;		/* config.json's model_type, or NULL */
};

struct t2m_xform;

/*
 * Plan the conversion of the tensors in m: MLX layout (reverse = 0) or
 * back to PyTorch's (reverse = 1).  *out is the output manifest (owned by
 * the plan): renamed and reshaped tensors, module attributes saying what
 * each layer is, where its class came from and which rule applied, and
 * the metadata that makes the conversion idempotent and reversible.
 * Warnings (guesses the heuristics had to make) go to warn.
 */
struct t2m_xform *t2m_xform_plan(const struct t2m_manifest *m,
    const struct t2m_types *types, int reverse,
    void (*warn)(void *, const char *), void *warn_ctx,
    const struct t2m_manifest **out, t2m_error *err);
void t2m_xform_free(struct t2m_xform *x);
/* The plan's output manifest must go to w before any data. */
/* Feed n bytes of input tensor `index` (the next ones, in order). */
int t2m_xform_data(struct t2m_xform *x, struct t2m_writer *w, uint32_t index,
    const void *p, size_t n, t2m_error *err);
/* After the last input byte: check everything was written. */
int t2m_xform_finish(struct t2m_xform *x, t2m_error *err);

#endif
