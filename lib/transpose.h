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
	struct cJSON *own_map, *own_config;	/* what t2m_types_load read */
};

/*
 * Read a type map (mappath) and an HF config.json: configpath, or when
 * it is NULL the config.json beside source (the checkpoint's path, as
 * the stream's info has it), if there is one.  Either path may be NULL.
 */
int t2m_types_load(struct t2m_types *t, const char *mappath,
    const char *configpath, const char *source, t2m_error *err);
void t2m_types_free(struct t2m_types *t);

struct t2m_xform;

struct t2m_xform_opts {
	const struct t2m_types *types;
	int reverse;		/* MLX layout back to PyTorch's */
	/* Guesses the heuristics make. */
	void (*warn)(void *ctx, const char *msg);
	/*
	 * Layers MLX cannot hold (an LSTM's proj_size, attention's bias_k):
	 * with this set, reported here and the layer's tensors kept as they
	 * are; without it, an error.
	 */
	void (*blocker)(void *ctx, const char *kind, const char *where,
	    const char *msg);
	void *ctx;
};

/*
 * Plan the conversion of the tensors in m: MLX layout or back to
 * PyTorch's.  *out is the output manifest (owned by the plan, and
 * naming m's strings: m must outlive the plan, as it must anyway):
 * renamed and reshaped tensors, module attributes saying what each layer
 * is, where its class came from and which rule applied, and the metadata
 * that makes the conversion idempotent and reversible.
 */
struct t2m_xform *t2m_xform_plan(const struct t2m_manifest *m,
    const struct t2m_xform_opts *o, const struct t2m_manifest **out,
    t2m_error *err);
/*
 * The module owning a tensor: its path is name[0..*plen), and *param its
 * name there ("weight"; "parametrizations.weight.original0" for the new
 * weight norm, whose owner is the module it norms).
 */
void t2m_tensor_owner(const char *name, size_t *plen, const char **param);
void t2m_xform_free(struct t2m_xform *x);

/*
 * A layer of the plan as t2m_xform_walk makes it: the module, its class
 * and where the class came from, the input tensors it owns (positions
 * in the input, rising) and what each becomes: in[k] becomes
 * out->tensors[outs[j]] for at[k] <= j < at[k + 1], in the order
 * t2m-transpose writes them.  When m is converted already, nothing is:
 * each tensor becomes itself, and the class is the module tree's, the
 * type map's or what the MLX names suggest, or NULL; a layer of tensors
 * kept only for the way back has path, cls and provenance NULL.
 */
struct t2m_xlayer {
	const char *path, *cls, *provenance;
	const uint32_t *in;
	uint32_t nin;
	const struct t2m_manifest *out;
	const uint32_t *at, *outs;
};

/*
 * Plan m's conversion to MLX layout as t2m_xform_plan does, failing where
 * it fails, but a layer at a time: layer(o->ctx, ...) gets each, in the
 * order of their first tensors, and what the layer became is let go when
 * it returns, so no output manifest is held whole.  For reports; there is
 * nothing to run.  A failing layer() stops the walk.
 */
int t2m_xform_walk(const struct t2m_manifest *m,
    const struct t2m_xform_opts *o, int (*layer)(void *ctx,
    const struct t2m_xlayer *l, t2m_error *err), t2m_error *err);
/* The plan's output manifest must go to w before any data. */
/* Feed n bytes of input tensor `index` (the next ones, in order). */
int t2m_xform_data(struct t2m_xform *x, struct t2m_writer *w, uint32_t index,
    const void *p, size_t n, t2m_error *err);
/*
 * The output that input tensor `index` becomes byte for byte (same type,
 * same bytes, nothing else made from it), or -1.  Its bytes may go
 * straight to the writer (t2m_reader_pass) instead of t2m_xform_data.
 */
int64_t t2m_xform_identity(const struct t2m_xform *x, uint32_t index);
/* After the last input byte: check everything was written. */
int t2m_xform_finish(struct t2m_xform *x, t2m_error *err);

/* What a report is written as. */
enum {
	T2M_REPORT_JSON,	/* one JSON document, for programs */
	T2M_REPORT_TABLE	/* a summary and tables, for people */
};

/*
 * The portability report of m (t2m-analyze(1)) appended to b: tensors,
 * layers with their status, coverage, blockers, warnings, and in JSON
 * the plan t2m-transpose would follow.
 */
int t2m_analyze(const struct t2m_manifest *m, const struct t2m_types *types,
    int form, struct t2m_buf *b, t2m_error *err);
/*
 * The same, with b handed to out(ctx, ...) and emptied whenever it holds
 * more than a few pages, and at the end: a large model's report is never
 * held whole.  Nothing is handed over before the plan is known to be
 * sound.  A failing out stops the report.
 */
int t2m_analyze_to(const struct t2m_manifest *m,
    const struct t2m_types *types, int form, struct t2m_buf *b,
    int (*out)(void *ctx, const void *p, size_t n, t2m_error *err),
    void *ctx, t2m_error *err);

#endif
