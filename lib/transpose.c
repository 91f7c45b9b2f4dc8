/*
 * transpose.c - the conversion between PyTorch's layout and MLX's.
 *
 * Planning: tensors are grouped by the module that owns them; each
 * module's class comes from the module tree in the file, a type map, an
 * HF config.json, or heuristics (in that order, recorded as provenance);
 * the rule table (rules.c) says what happens to each parameter.  Every
 * step is recorded in the output's metadata as a recipe for the way back,
 * and tensors a rule drops or merges travel on as hidden tensors, so
 * t2m-transpose -r restores the original bit for bit.
 *
 * Running: a tensor that passes unchanged (or is only cut into parts, as
 * an attention in_proj is) streams chunk by chunk; a tensor a rule must
 * see whole (a permute, a sum of biases, a weight-norm fold) is held
 * until its last byte arrives - the O(tensor) case of the memory contract.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "internal.h"
#include "numeric.h"
#include "rules.h"
#include "transpose.h"

enum { X_PERMUTE, X_SUM, X_GRU, X_FOLD, X_CONCAT };

/* Metadata values are at most T2M_MAX_STRING; recipes are cut to fit. */
#define RECIPE_PIECE ((size_t)512 << 10)

/*
 * One of each per tensor, so kept small: an input's one output, the usual
 * case, is held in place; lists have room for their length rounded up to
 * a power of two (push()); what only inputs that jobs need whole have is
 * apart, in a hold.
 */
struct xin {			/* an input tensor */
	uint64_t have;
	union {			/* outputs streamed from it (passes()) */
		uint32_t one;		/* npass == 1 */
		uint32_t *many;		/* npass > 1 */
	} pass;
	uint32_t npass;
	uint32_t hold;		/* 1 + its place in holds, or 0 for none */
};

struct xhold {			/* an input some job needs whole */
	unsigned char *buf;	/* the whole tensor, as it arrives */
	uint32_t *jobs, njobs;	/* the jobs that need it */
	uint32_t jobs_left;
};

struct xout {			/* an output tensor */
	uint64_t begin;		/* where in the input its bytes start */
	int32_t src;		/* input streamed into it, or -1 (a job) */
	unsigned char carry[8];	/* a partial element awaiting its rest */
	unsigned char ncarry;
	unsigned char sdtype;	/* the input's dtype (a cast when different) */
};

struct xjob {			/* work on whole tensors */
	int op;
	uint32_t src[3];
	int nsrc;
	uint32_t out[3];
	int nout;
	int perm[T2M_MAXDIM];	/* X_PERMUTE, and X_FOLD afterwards */
	int permute;
	int fold_dim;		/* X_FOLD: the axis g keeps, -1 for none */
	uint32_t pending;	/* sources not complete */
};

struct xgroup {			/* the tensors of one module */
	uint32_t first;		/* the first of them */
	uint32_t at, n;		/* all, in input order: lt[at .. at + n) */
};

struct layer {			/* a group while it is planned */
	const char *path;	/* its module's, in the output manifest */
	uint32_t *t, n;		/* input tensor positions */
	const char *cls;	/* qualified class */
	const char *provenance;
	const struct t2m_rule *rule;
};

/* Strings a walk keeps, a few pages to a block, freed together. */
struct xblock {
	struct xblock *next;
	size_t used, cap;
	char data[];
};

struct t2m_xform {
	const struct t2m_manifest *in;
	struct t2m_manifest *out;
	struct xin *ins;
	struct xhold *holds;
	uint32_t nholds, capholds;
	struct xout *outs;
	uint32_t nouts, capouts;
	struct xjob *jobs;
	uint32_t njobs, capjobs;
	struct xgroup *groups;
	uint32_t ngroups;
	uint32_t *lt;		/* every group's tensors, one after another */
	struct t2m_buf path;	/* the module of the group planned */
	struct t2m_buf recipes, consumed;	/* JSON for the way back */
	int nrecipes, nconsumed;
	const struct t2m_types *types;
	const struct t2m_xform_opts *o;
	t2m_error *err;
	/*
	 * A walk (t2m_xform_walk): each layer's outputs in an output
	 * manifest of their own, let go after it.  Names must still be
	 * unique across all of them: an output is named by reference to its
	 * input (kept, at most once each) or by a name made here (made).
	 */
	int walk;
	int mlx;		/* walking a stream in MLX layout already */
	int gather;		/* the recipes, which may not fit */
	unsigned char *spare[2];	/* buffers to use again (big_alloc) */
	unsigned char *kept;	/* a bit per input named by an output */
	struct t2m_strmap made;
	struct xblock *strings;	/* made names */
	uint32_t nwalked;	/* outputs so far */
	const struct layer *cur;	/* the layer walked */
	uint32_t *at, *pairs;	/* its inputs' outputs (t2m_xlayer) */
	uint32_t capat, cappairs;
};

/*
 * Buffers for held tensors and what is made from them.  A buffer of
 * megabytes given back to the C library goes back to the system, and the
 * next one is faulted in again a page at a time: for a conv model, a third
 * of t2m-transpose's time.  So the last two given back are kept, and the
 * next request they fit takes the smaller that does.  Two: a tensor and
 * what a permutation makes of it.  A request neither fits lets both go
 * first, so that the spares never add to the most held at once.  Each
 * buffer's size is kept in front of it.
 */
#define BIG_HEAD 16		/* keeps the buffer as aligned as malloc's */

static size_t
big_size(const unsigned char *p)
{
	size_t n;

	memcpy(&n, p - BIG_HEAD, sizeof n);
	return n;
}

/* Free a buffer of big_alloc's, if there is one. */
static void
big_drop(unsigned char *p)
{
	if (p != NULL)
		free(p - BIG_HEAD);
}

static unsigned char *
big_alloc(struct t2m_xform *x, uint64_t n)
{
	unsigned char *p;
	size_t size;
	int i, best = -1;

	for (i = 0; i < 2; i++)
		if (x->spare[i] != NULL && big_size(x->spare[i]) >= n &&
		    (best < 0 || big_size(x->spare[i]) <
		    big_size(x->spare[best])))
			best = i;
	if (best >= 0) {
		p = x->spare[best];
		x->spare[best] = NULL;
		return p;
	}
	for (i = 0; i < 2; i++) {
		big_drop(x->spare[i]);
		x->spare[i] = NULL;
	}
	if (n > SIZE_MAX - BIG_HEAD || (p = malloc(BIG_HEAD + n)) == NULL)
		return NULL;
	size = (size_t)n;
	memcpy(p, &size, sizeof size);
	return p + BIG_HEAD;
}

/* Give p back: kept in place of the smaller spare, or freed. */
static void
big_free(struct t2m_xform *x, unsigned char *p)
{
	int i = x->spare[0] == NULL || (x->spare[1] != NULL &&
	    big_size(x->spare[0]) < big_size(x->spare[1])) ? 0 : 1;

	if (p == NULL)
		return;
	if (x->spare[i] != NULL && big_size(x->spare[i]) >= big_size(p)) {
		big_drop(p);
		return;
	}
	big_drop(x->spare[i]);
	x->spare[i] = p;
}

static void
xwarn(struct t2m_xform *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
xwarn(struct t2m_xform *x, const char *fmt, ...)
{
	char msg[T2M_ERRLEN];
	va_list ap;

	if (x->o->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	x->o->warn(x->o->ctx, msg);
}

/*
 * A layer MLX cannot hold: an error, or - when the caller collects
 * blockers (t2m-analyze) - a report, and 1 so the layer passes unchanged.
 */
static int
blocked(struct t2m_xform *x, const char *kind, const char *where,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
blocked(struct t2m_xform *x, const char *kind, const char *where,
    const char *fmt, ...)
{
	char msg[T2M_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (x->o->blocker == NULL)
		return t2m_fail(x->err, "%s", msg);
	x->o->blocker(x->o->ctx, kind, where, msg);
	return 1;
}

static int
grow(void **p, uint32_t *cap, uint32_t need, size_t size)
{
	uint32_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	if ((np = realloc(*p, (size_t)ncap * size)) == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

static const uint32_t *
passes(const struct xin *in)
{
	return in->npass > 1 ? in->pass.many : &in->pass.one;
}

/* Input i's hold, or NULL when no job needs it. */
static struct xhold *
hold_of(const struct t2m_xform *x, uint32_t i)
{
	return x->ins[i].hold ? &x->holds[x->ins[i].hold - 1] : NULL;
}

/* Append v to the n entries of *p, whose room is n rounded up to a power
 * of two. */
static int
push(uint32_t **p, uint32_t *n, uint32_t v)
{
	uint32_t *np;

	if ((*n & (*n - 1)) == 0) {
		if ((np = realloc(*p, (*n ? (size_t)*n * 2 : 1) *
		    sizeof **p)) == NULL)
			return -1;
		*p = np;
	}
	(*p)[(*n)++] = v;
	return 0;
}

/* ---- building the plan ---- */

/* A copy of s (n bytes, NUL added) kept until the walk ends, or NULL. */
static const char *
keep_str(struct t2m_xform *x, const char *s, size_t n)
{
	struct xblock *b = x->strings;
	size_t cap;
	char *p;

	if (b == NULL || b->cap - b->used < n + 1) {
		cap = n + 1 > 16384 ? n + 1 : 16384;
		if ((b = malloc(sizeof *b + cap)) == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = x->strings;
		x->strings = b;
	}
	p = b->data + b->used;
	memcpy(p, s, n);
	p[n] = '\0';
	b->used += n + 1;
	return p;
}

/*
 * Walking, an output t just made in its layer's manifest: its name must
 * be new to every layer walked, and there must not be more outputs than
 * one manifest may hold - the checks adding it to one manifest makes.
 * A name made here may meet a made one or an input's kept by reference;
 * an input's may only meet a made one.
 */
static int
walked(struct t2m_xform *x, const struct t2m_tensor *t,
    const struct t2m_tensor *like, int ref)
{
	const char *s;
	long j;

	if (ref & T2M_REF_NAME) {
		j = like - x->in->tensors;
		if ((x->kept[j / 8] & 1 << j % 8) ||
		    t2m_strmap_get(&x->made, t->name) >= 0)
			return t2m_fail(x->err, "tensor '%s' appears twice",
			    t->name);
		x->kept[j / 8] |= 1 << j % 8;
	} else {
		if (t2m_strmap_get(&x->made, t->name) >= 0 ||
		    ((j = t2m_manifest_find(x->in, t->name)) >= 0 &&
		    (x->kept[j / 8] & 1 << j % 8)))
			return t2m_fail(x->err, "tensor '%s' appears twice",
			    t->name);
		if ((s = keep_str(x, t->name, strlen(t->name))) == NULL ||
		    t2m_strmap_put(&x->made, s, 1) < 0)
			return t2m_fail(x->err, "out of memory");
	}
	if (x->nwalked + 1 > T2M_MAX_TENSORS)
		return t2m_fail(x->err, "more than %u tensors", x->nwalked);
	x->nwalked++;
	return 0;
}

/*
 * An output, with like's attributes when like is given, and name or shape
 * kept by reference as ref says (t2m_manifest_add_ref): an input's, as
 * the input outlives the plan.
 */
static int64_t
add_out_ref(struct t2m_xform *x, const char *name, int dtype, int ndim,
    const uint64_t *shape, const struct t2m_tensor *like, int ref)
{
	struct t2m_tensor *t;
	uint32_t k;

	/* The last output's attributes are set by now, as a rule. */
	if (x->out->ntensors > 0)
		t2m_attrs_share(x->out,
		    &x->out->tensors[x->out->ntensors - 1].attrs);
	if ((t = t2m_manifest_add_ref(x->out, name, dtype, ndim, shape, ref,
	    x->err)) == NULL || (x->walk && walked(x, t, like, ref) < 0))
		return -1;
	if (like)
		for (k = 0; k < like->attrs.n; k++)
			if (t2m_attrs_set(x->out, &t->attrs, like->attrs.kv[k].key,
			    like->attrs.kv[k].val, x->err) < 0)
				return -1;
	if (grow((void **)&x->outs, &x->capouts, x->nouts + 1,
	    sizeof *x->outs) < 0)
		return t2m_fail(x->err, "out of memory");
	memset(&x->outs[x->nouts], 0, sizeof x->outs[x->nouts]);
	x->outs[x->nouts].src = -1;
	x->outs[x->nouts].sdtype = dtype;
	return x->nouts++;
}

/* An output, keeping by reference what is like's own. */
static int64_t
add_out(struct t2m_xform *x, const char *name, int dtype, int ndim,
    const uint64_t *shape, const struct t2m_tensor *like)
{
	int ref = 0;

	if (like && name == like->name)
		ref |= T2M_REF_NAME;
	if (like && shape == like->shape)
		ref |= T2M_REF_SHAPE;
	return add_out_ref(x, name, dtype, ndim, shape, like, ref);
}

static int
set_attr(struct t2m_xform *x, int64_t out, const char *key, const char *val)
{
	return t2m_attrs_set(x->out, &x->out->tensors[out].attrs, key, val,
	    x->err);
}

/* Output out takes bytes [begin, ...) of input i as they arrive. */
static int
stream(struct t2m_xform *x, uint32_t i, int64_t out, uint64_t begin)
{
	struct xin *in;
	uint32_t *p;

	x->outs[out].src = (int32_t)i;
	x->outs[out].begin = begin;
	x->outs[out].sdtype = x->in->tensors[i].dtype;
	if (x->ins == NULL)
		return 0;	/* a walk: nothing runs */
	in = &x->ins[i];
	/* Most inputs feed one output: that one needs no array. */
	if (in->npass == 0) {
		in->pass.one = (uint32_t)out;
		in->npass = 1;
	} else if (in->npass == 1) {
		if ((p = malloc(2 * sizeof *p)) == NULL)
			return t2m_fail(x->err, "out of memory");
		p[0] = in->pass.one;
		p[1] = (uint32_t)out;
		in->pass.many = p;
		in->npass = 2;
	} else if (push(&in->pass.many, &in->npass, (uint32_t)out) < 0)
		return t2m_fail(x->err, "out of memory");
	return 0;
}

static struct xjob *
add_job(struct t2m_xform *x, int op, const uint32_t *src, int nsrc)
{
	struct xhold *h;
	struct xjob *j;
	struct xin *in;
	int k;

	if (grow((void **)&x->jobs, &x->capjobs, x->njobs + 1,
	    sizeof *x->jobs) < 0) {
		t2m_fail(x->err, "out of memory");
		return NULL;
	}
	j = &x->jobs[x->njobs];
	memset(j, 0, sizeof *j);
	j->op = op;
	j->nsrc = nsrc;
	for (k = 0; k < nsrc; k++) {
		j->src[k] = src[k];
		j->pending++;
		if (x->ins == NULL)
			continue;	/* a walk: nothing will be held */
		in = &x->ins[src[k]];
		if (in->hold == 0) {
			if (grow((void **)&x->holds, &x->capholds,
			    x->nholds + 1, sizeof *x->holds) < 0) {
				t2m_fail(x->err, "out of memory");
				return NULL;
			}
			memset(&x->holds[x->nholds], 0, sizeof *x->holds);
			in->hold = ++x->nholds;
		}
		h = hold_of(x, src[k]);
		if (push(&h->jobs, &h->njobs, x->njobs) < 0) {
			t2m_fail(x->err, "out of memory");
			return NULL;
		}
		h->jobs_left++;
	}
	x->njobs++;
	return j;
}

/* The dtype an output has: MLX has no float64. */
static int
mlx_dtype(int dtype)
{
	return dtype == T2M_F64 ? T2M_F32 : dtype;
}

/* Record how to get original tensor name back: a JSON member. */
static void
recipe(struct t2m_xform *x, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
recipe(struct t2m_xform *x, const char *name, const char *fmt, ...)
{
	char body[1024];
	va_list ap;

	if (x->walk && !x->gather)
		return;
	va_start(ap, fmt);
	vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	t2m_buf_add(&x->recipes, x->nrecipes++ ? "," : "{", 1);
	t2m_buf_json(&x->recipes, name);
	t2m_buf_printf(&x->recipes, ":{%s}", body);
}

static void
consumed(struct t2m_xform *x, const char *name)
{
	if (x->walk && !x->gather)
		return;
	t2m_buf_add(&x->consumed, x->nconsumed++ ? "," : "[", 1);
	t2m_buf_json(&x->consumed, name);
}

static void
perm_json(char *buf, size_t cap, const int *perm, int n)
{
	size_t len = 0;
	int k;

	for (k = 0; k < n && len < cap; k++)
		len += (size_t)snprintf(buf + len, cap - len, k ? ",%d" : "%d",
		    perm[k]);
}

/* The JSON text of a string, for recipes built with printf. */
static const char *
jstr(struct t2m_buf *b, const char *s)
{
	b->len = 0;
	t2m_buf_json(b, s);
	return b->p ? b->p : "\"\"";
}

/* An input passes through unchanged under a new name (or its own). */
static int
keep(struct t2m_xform *x, uint32_t i, const char *name, const char *rule,
    const char *module)
{
	const struct t2m_tensor *t = &x->in->tensors[i];
	struct t2m_buf a = { 0 };
	int64_t o;
	int rc = 0;

	if ((o = add_out(x, name, mlx_dtype(t->dtype), t->ndim, t->shape,
	    t)) < 0 || stream(x, i, o, 0) < 0 ||
	    set_attr(x, o, "module", module) < 0 ||
	    set_attr(x, o, "rule", rule) < 0)
		return -1;
	if (t->dtype == T2M_F64 && set_attr(x, o, "cast", "F64") < 0)
		return -1;
	if (strcmp(name, t->name) != 0 || t->dtype == T2M_F64) {
		recipe(x, t->name, "\"from\":%s%s", jstr(&a, name),
		    t->dtype == T2M_F64 ? ",\"dtype\":\"F64\"" : "");
		consumed(x, name);
	}
	t2m_buf_free(&a);
	return rc;
}

/* An input kept only for the way back. */
static int
hide(struct t2m_xform *x, uint32_t i, const char *module)
{
	const struct t2m_tensor *t = &x->in->tensors[i];
	int64_t o;

	if ((o = add_out(x, t->name, t->dtype, t->ndim, t->shape, t)) < 0 ||
	    stream(x, i, o, 0) < 0 || set_attr(x, o, "t2m.hidden", "1") < 0 ||
	    set_attr(x, o, "module", module) < 0)
		return -1;
	return 0;
}

/* The permute a rule applies to a weight of ndim axes, or 0 for none. */
static int
rule_perm(const struct t2m_rule *r, int ndim, int *perm)
{
	int k;

	switch (r ? r->kind : RK_IDENTITY) {
	case RK_CONV:
		if (ndim != r->spatial + 2)
			return -1;
		perm[0] = 0;
		for (k = 1; k < ndim - 1; k++)
			perm[k] = k + 1;
		perm[ndim - 1] = 1;
		return 1;
	case RK_CONVT:
		if (ndim != r->spatial + 2)
			return -1;
		for (k = 0; k < ndim - 1; k++)
			perm[k] = k + 1;
		perm[ndim - 1] = 0;
		return 1;
	case RK_BILINEAR:
		if (ndim != 3)
			return -1;
		perm[0] = 0, perm[1] = 2, perm[2] = 1;
		return 1;
	case RK_LINEAR_T:
		if (ndim != 2)
			return -1;
		perm[0] = 1, perm[1] = 0;
		return 1;
	}
	return 0;
}

/* weight: permuted by the layer's rule. */
static int
permuted(struct t2m_xform *x, struct layer *L, uint32_t i, const int *perm)
{
	const struct t2m_tensor *t = &x->in->tensors[i];
	uint64_t shape[T2M_MAXDIM];
	struct t2m_buf a = { 0 };
	char pj[256];
	int inv[T2M_MAXDIM], k;
	struct xjob *j;
	int64_t o;

	for (k = 0; k < t->ndim; k++) {
		shape[k] = t->shape[perm[k]];
		inv[perm[k]] = k;
	}
	if ((o = add_out(x, t->name, mlx_dtype(t->dtype), t->ndim, shape,
	    t)) < 0 || set_attr(x, o, "module", L->path) < 0 ||
	    set_attr(x, o, "rule", t2m_rule_kind_name(L->rule->kind)) < 0)
		return -1;
	if ((j = add_job(x, X_PERMUTE, &i, 1)) == NULL)
		return -1;
	j->out[0] = (uint32_t)o;
	j->nout = 1;
	j->permute = 1;
	memcpy(j->perm, perm, sizeof(int) * (size_t)t->ndim);
	perm_json(pj, sizeof pj, inv, t->ndim);
	recipe(x, t->name, "\"from\":%s,\"perm\":[%s]%s", jstr(&a, t->name),
	    pj, t->dtype == T2M_F64 ? ",\"dtype\":\"F64\"" : "");
	consumed(x, t->name);
	t2m_buf_free(&a);
	return 0;
}

/* A layer's own view of its parameters. */
/* The name within its layer of the layer's k-th tensor. */
static const char *
param_of(const struct t2m_xform *x, const struct layer *L, uint32_t k)
{
	const char *p;
	size_t plen;

	t2m_tensor_owner(x->in->tensors[L->t[k]].name, &plen, &p);
	return p;
}

static long
param(const struct t2m_xform *x, const struct layer *L, const char *name)
{
	uint32_t k;

	for (k = 0; k < L->n; k++)
		if (strcmp(param_of(x, L, k), name) == 0)
			return (long)L->t[k];
	return -1;
}

static int
mark_done(struct layer *L, uint32_t i, char *done)
{
	uint32_t k;

	for (k = 0; k < L->n; k++)
		if (L->t[k] == i)
			done[k] = 1;
	return 0;
}

/* weight = g * v / ||v||, then the layer's permute. */
static int
fold(struct t2m_xform *x, struct layer *L, uint32_t g, uint32_t v,
    char *done)
{
	const struct t2m_tensor *tg = &x->in->tensors[g], *tv = &x->in->tensors[v];
	uint64_t shape[T2M_MAXDIM];
	int perm[T2M_MAXDIM], k, dim = -1, np;
	struct t2m_buf name = { 0 };
	uint32_t src[2] = { g, v };
	struct xjob *j;
	int64_t o;

	if (!t2m_dtype_is_float(tv->dtype) || tg->dtype != tv->dtype ||
	    (tg->ndim != tv->ndim && tg->ndim > 0))
		return t2m_fail(x->err, "module '%s': weight norm tensors '%s' "
		    "and '%s' do not match", L->path, tg->name, tv->name);
	/* The axis g keeps is the one where its size is v's. */
	for (k = 0; k < tg->ndim; k++)
		if (tg->shape[k] != 1) {
			if (tg->shape[k] != tv->shape[k] || dim >= 0)
				return t2m_fail(x->err, "module '%s': weight "
				    "norm magnitude '%s' has an unexpected "
				    "shape", L->path, tg->name);
			dim = k;
		}
	if (dim < 0 && tg->ndim > 0 && tv->shape[0] == 1)
		dim = 0;
	if ((np = rule_perm(L->rule, tv->ndim, perm)) < 0)
		return t2m_fail(x->err, "module '%s' (%s): weight has %d "
		    "dimensions", L->path, L->cls, tv->ndim);
	for (k = 0; k < tv->ndim; k++)
		shape[k] = np ? tv->shape[perm[k]] : tv->shape[k];
	t2m_buf_str(&name, L->path);
	t2m_buf_str(&name, *L->path ? ".weight" : "weight");
	if (name.nomem)
		return t2m_fail(x->err, "out of memory");
	o = add_out(x, name.p, mlx_dtype(tv->dtype), tv->ndim, shape, NULL);
	if (o < 0 || set_attr(x, o, "module", L->path) < 0 ||
	    set_attr(x, o, "rule", "weight-norm") < 0 ||
	    (j = add_job(x, X_FOLD, src, 2)) == NULL) {
		t2m_buf_free(&name);
		return -1;
	}
	j->out[0] = (uint32_t)o;
	j->nout = 1;
	j->fold_dim = dim;
	if (np) {
		j->permute = 1;
		memcpy(j->perm, perm, sizeof(int) * (size_t)tv->ndim);
	}
	consumed(x, name.p);
	t2m_buf_free(&name);
	mark_done(L, g, done);
	mark_done(L, v, done);
	return hide(x, g, L->path) < 0 || hide(x, v, L->path) < 0 ? -1 : 0;
}

/* The recurrent layers: one MLX module per layer and direction. */
static int
recurrent(struct t2m_xform *x, struct layer *L, char *done)
{
	static const char *const wx[] = { "Wxh", "Wx", "Wx" };
	static const char *const wh[] = { "Whh", "Wh", "Wh" };
	const int gates[] = { 1, 4, 3 };
	int kind = L->rule->kind - RK_RNN, layer, rev;
	struct t2m_buf a = { 0 }, b = { 0 }, pre = { 0 }, nm = { 0 };
	char p[64];
	long wi, whh, bi, bh;
	const struct t2m_tensor *ti, *th;
	uint64_t H, shape[1];
	struct xjob *j;
	int64_t o, o2;
	int rc = -1;

	for (layer = 0; layer < 1000; layer++)
		for (rev = 0; rev < 2; rev++) {
			const char *sfx = rev ? "_reverse" : "";
			snprintf(p, sizeof p, "weight_hr_l%d%s", layer, sfx);
			if (param(x, L, p) >= 0) {
				rc = blocked(x, "proj_size", L->path, "module "
				    "'%s' (%s): proj_size has no MLX "
				    "equivalent", L->path, L->cls);
				goto out;
			}
			snprintf(p, sizeof p, "weight_ih_l%d%s", layer, sfx);
			if ((wi = param(x, L, p)) < 0)
				continue;
			snprintf(p, sizeof p, "weight_hh_l%d%s", layer, sfx);
			whh = param(x, L, p);
			snprintf(p, sizeof p, "bias_ih_l%d%s", layer, sfx);
			bi = param(x, L, p);
			snprintf(p, sizeof p, "bias_hh_l%d%s", layer, sfx);
			bh = param(x, L, p);
			ti = &x->in->tensors[wi];
			if (whh < 0 || (bi < 0) != (bh < 0) || ti->ndim != 2 ||
			    ti->shape[0] % (uint64_t)gates[kind] != 0) {
				t2m_fail(x->err, "module '%s' (%s): layer %d%s "
				    "lacks tensors or has odd shapes", L->path,
				    L->cls, layer, sfx);
				goto out;
			}
			H = ti->shape[0] / (uint64_t)gates[kind];
			pre.len = 0;
			if (*L->path)
				t2m_buf_printf(&pre, "%s.", L->path);
			t2m_buf_printf(&pre, "%d%s.", layer, sfx);
			nm.len = 0;
			t2m_buf_printf(&nm, "%s%s", pre.p, wx[kind]);
			if (keep(x, (uint32_t)wi, nm.p, t2m_rule_kind_name(
			    L->rule->kind), L->path) < 0)
				goto out;
			nm.len = 0;
			t2m_buf_printf(&nm, "%s%s", pre.p, wh[kind]);
			if (keep(x, (uint32_t)whh, nm.p, t2m_rule_kind_name(
			    L->rule->kind), L->path) < 0)
				goto out;
			mark_done(L, (uint32_t)wi, done);
			mark_done(L, (uint32_t)whh, done);
			if (bi < 0)
				continue;
			ti = &x->in->tensors[bi];
			th = &x->in->tensors[bh];
			if (ti->ndim != 1 || th->ndim != 1 ||
			    ti->shape[0] != H * (uint64_t)gates[kind] ||
			    th->shape[0] != ti->shape[0] ||
			    ti->dtype != th->dtype ||
			    !t2m_dtype_is_float(ti->dtype)) {
				t2m_fail(x->err, "module '%s' (%s): biases of "
				    "layer %d%s do not match", L->path, L->cls,
				    layer, sfx);
				goto out;
			}
			{
				uint32_t src[2] = { (uint32_t)bi, (uint32_t)bh };
				if ((j = add_job(x, kind == 2 ? X_GRU : X_SUM,
				    src, 2)) == NULL)
					goto out;
			}
			nm.len = 0;
			t2m_buf_printf(&nm, "%s%s", pre.p, kind == 2 ? "b" :
			    "bias");
			shape[0] = ti->shape[0];
			if ((o = add_out(x, nm.p, mlx_dtype(ti->dtype), 1, shape,
			    NULL)) < 0 || set_attr(x, o, "module", L->path) < 0 ||
			    set_attr(x, o, "rule", t2m_rule_kind_name(
			    L->rule->kind)) < 0)
				goto out;
			consumed(x, nm.p);
			j->out[j->nout++] = (uint32_t)o;
			if (kind == 2) {
				nm.len = 0;
				t2m_buf_printf(&nm, "%sbhn", pre.p);
				shape[0] = H;
				if ((o2 = add_out(x, nm.p, mlx_dtype(ti->dtype),
				    1, shape, NULL)) < 0 ||
				    set_attr(x, o2, "module", L->path) < 0 ||
				    set_attr(x, o2, "rule", "gru") < 0)
					goto out;
				consumed(x, nm.p);
				j->out[j->nout++] = (uint32_t)o2;
			}
			if (hide(x, (uint32_t)bi, L->path) < 0 ||
			    hide(x, (uint32_t)bh, L->path) < 0)
				goto out;
			mark_done(L, (uint32_t)bi, done);
			mark_done(L, (uint32_t)bh, done);
		}
	rc = 0;
out:
	t2m_buf_free(&a);
	t2m_buf_free(&b);
	t2m_buf_free(&pre);
	t2m_buf_free(&nm);
	return rc;
}

/* MultiheadAttention: in_proj cut in three, q/k/v_proj_weight renamed. */
static int
attention(struct t2m_xform *x, struct layer *L, char *done)
{
	static const char *const part[] = { "query_proj", "key_proj",
	    "value_proj" };
	static const char *const qkv[] = { "q_proj_weight", "k_proj_weight",
	    "v_proj_weight" };
	const char *which[] = { "in_proj_weight", "in_proj_bias" };
	struct t2m_buf nm = { 0 }, rj = { 0 }, one = { 0 };
	const struct t2m_tensor *t;
	uint64_t shape[2], rowbytes;
	int64_t o;
	long i;
	int w, k, rc = -1;

	if (param(x, L, "bias_k") >= 0 || param(x, L, "bias_v") >= 0) {
		rc = blocked(x, "bias_kv", L->path, "module '%s' (%s): bias_k "
		    "and bias_v (add_bias_kv) have no MLX equivalent", L->path,
		    L->cls);
		goto out;
	}
	for (w = 0; w < 2; w++) {
		if ((i = param(x, L, which[w])) < 0)
			continue;
		t = &x->in->tensors[i];
		if (t->ndim != 2 - w || t->shape[0] % 3 != 0) {
			t2m_fail(x->err, "module '%s' (%s): %s has shape that "
			    "cannot be cut in three", L->path, L->cls, t->name);
			goto out;
		}
		shape[0] = t->shape[0] / 3;
		shape[1] = w == 0 ? t->shape[1] : 1;
		rowbytes = t->nbytes / 3;
		rj.len = 0;
		for (k = 0; k < 3; k++) {
			nm.len = 0;
			if (*L->path)
				t2m_buf_printf(&nm, "%s.", L->path);
			t2m_buf_printf(&nm, "%s.%s", part[k], w ? "bias" :
			    "weight");
			if ((o = add_out(x, nm.p, mlx_dtype(t->dtype), t->ndim,
			    shape, t)) < 0 || stream(x, (uint32_t)i, o,
			    rowbytes * (uint64_t)k) < 0 ||
			    set_attr(x, o, "module", L->path) < 0 ||
			    set_attr(x, o, "rule", "multihead-attention") < 0)
				goto out;
			t2m_buf_str(&rj, k ? "," : "");
			t2m_buf_str(&rj, jstr(&one, nm.p));
			consumed(x, nm.p);
		}
		recipe(x, t->name, "\"concat\":[%s]%s", rj.p,
		    t->dtype == T2M_F64 ? ",\"dtype\":\"F64\"" : "");
		mark_done(L, (uint32_t)i, done);
	}
	for (k = 0; k < 3; k++) {
		if ((i = param(x, L, qkv[k])) < 0)
			continue;
		nm.len = 0;
		if (*L->path)
			t2m_buf_printf(&nm, "%s.", L->path);
		t2m_buf_printf(&nm, "%s.weight", part[k]);
		if (keep(x, (uint32_t)i, nm.p, "multihead-attention",
		    L->path) < 0)
			goto out;
		mark_done(L, (uint32_t)i, done);
	}
	rc = 0;
out:
	t2m_buf_free(&nm);
	t2m_buf_free(&rj);
	t2m_buf_free(&one);
	return rc;
}

static int
apply_layer(struct t2m_xform *x, struct layer *L)
{
	const struct t2m_rule *r = L->rule;
	int kind = r ? r->kind : RK_IDENTITY, perm[T2M_MAXDIM], np;
	const char *rname = r ? t2m_rule_kind_name(kind) : "none";
	char *done;
	long g, v;
	uint32_t k;
	int rc = -1, b = 0;

	if ((done = calloc(L->n + 1, 1)) == NULL)
		return t2m_fail(x->err, "out of memory");
	/* Weight norm, old and new style, folds into weight first. */
	if ((g = param(x, L, "weight_g")) >= 0 && (v = param(x, L, "weight_v")) >= 0 &&
	    fold(x, L, (uint32_t)g, (uint32_t)v, done) < 0)
		goto out;
	if ((g = param(x, L, "parametrizations.weight.original0")) >= 0 &&
	    (v = param(x, L, "parametrizations.weight.original1")) >= 0 &&
	    fold(x, L, (uint32_t)g, (uint32_t)v, done) < 0)
		goto out;
	if (kind == RK_MHA)
		b = attention(x, L, done);
	if (kind == RK_RNN || kind == RK_LSTM || kind == RK_GRU)
		b = recurrent(x, L, done);
	if (b < 0)
		goto out;
	if (b > 0) {
		/* Blocked: everything passes as it is, for the report. */
		for (k = 0; k < L->n; k++)
			if (!done[k] && keep(x, L->t[k], x->in->tensors[
			    L->t[k]].name, "none", L->path) < 0)
				goto out;
		rc = 0;
		goto out;
	}
	for (k = 0; k < L->n; k++) {
		const char *p = param_of(x, L, k);
		const struct t2m_tensor *t = &x->in->tensors[L->t[k]];
		if (done[k])
			continue;
		if ((kind == RK_BATCHNORM && strcmp(p, "num_batches_tracked") ==
		    0) || (kind == RK_INSTANCENORM &&
		    (strcmp(p, "running_mean") == 0 ||
		    strcmp(p, "running_var") == 0 ||
		    strcmp(p, "num_batches_tracked") == 0))) {
			if (hide(x, L->t[k], L->path) < 0)
				goto out;
			continue;
		}
		if (strcmp(p, "weight") == 0 &&
		    (np = rule_perm(r, t->ndim, perm)) != 0) {
			if (np < 0) {
				t2m_fail(x->err, "module '%s' (%s): weight has "
				    "%d dimensions", L->path, L->cls, t->ndim);
				goto out;
			}
			if (permuted(x, L, L->t[k], perm) < 0)
				goto out;
			continue;
		}
		if (keep(x, L->t[k], t->name, rname, L->path) < 0)
			goto out;
	}
	rc = 0;
out:
	free(done);
	return rc;
}

/* ---- where classes come from ---- */

void
t2m_tensor_owner(const char *name, size_t *plen, const char **param_name)
{
	const char *pz = strstr(name, ".parametrizations.");
	const char *dot;

	if (strncmp(name, "parametrizations.", 17) == 0) {
		*plen = 0;
		*param_name = name;
		return;
	}
	if (pz) {
		*plen = (size_t)(pz - name);
		*param_name = pz + 1;
		return;
	}
	dot = strrchr(name, '.');
	*plen = dot ? (size_t)(dot - name) : 0;
	*param_name = dot ? dot + 1 : name;
}

/* A class from the module tree in the file; "Parametrized" subclasses
 * (torch's weight norm) stand for their base. */
static const char *
file_class(struct t2m_xform *x, const char *path)
{
	const struct t2m_manifest *m = x->in;
	long k = t2m_manifest_find_module(m, path);

	return k < 0 ? NULL : t2m_attrs_get(&m->modules[k].attrs, "class");
}

static const char *
map_class(struct t2m_xform *x, const char *path)
{
	const cJSON *v;

	if (x->types == NULL || x->types->map == NULL)
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(x->types->map, path);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* What an HF config.json's model_type tells: GPT-2's Conv1D layers. */
static const char *
config_class(struct t2m_xform *x, const char *path)
{
	static const char *const conv1d_models[] = {
		"gpt2", "openai-gpt", "imagegpt", "decision_transformer"
	};
	static const char *const conv1d_names[] = {
		".attn.c_attn", ".attn.c_proj", ".mlp.c_fc", ".mlp.c_proj",
		".crossattention.c_attn", ".crossattention.c_proj",
		".crossattention.q_attn"
	};
	const char *mt = x->types ? x->types->model_type : NULL;
	size_t k, n = strlen(path), s;
	int hit = 0;

	if (mt == NULL)
		return NULL;
	for (k = 0; k < sizeof conv1d_models / sizeof conv1d_models[0]; k++)
		hit |= strcmp(mt, conv1d_models[k]) == 0;
	if (!hit)
		return NULL;
	for (k = 0; k < sizeof conv1d_names / sizeof conv1d_names[0]; k++) {
		s = strlen(conv1d_names[k]);
		if (n >= s && strcmp(path + n - s, conv1d_names[k]) == 0)
			return "transformers.pytorch_utils.Conv1D";
	}
	return NULL;
}

/*
 * A recurrent layer by its first input and hidden weights, whose rows are
 * its gates: four for LSTM, three for GRU, one for RNN.  Named as torch
 * names them or, in MLX layout, as t2m-transpose names MLX's (Wx and Wh;
 * Wxh and Whh for RNN).  *found says whether such a pair is there: with
 * odd shapes, no class fits.
 */
static const char *
recurrent_class(const struct t2m_xform *x, const struct layer *L,
    int *found)
{
	static const char *const pair[][2] = {
		{ "weight_ih_l0", "weight_hh_l0" }, { "Wx", "Wh" },
		{ "Wxh", "Whh" }
	};
	const struct t2m_tensor *t, *u;
	long a, b;
	int k;

	*found = 0;
	for (k = 0; k < 3 && (k == 0 || x->mlx); k++) {
		if ((a = param(x, L, pair[k][0])) < 0 ||
		    (b = param(x, L, pair[k][1])) < 0)
			continue;
		*found = 1;
		t = &x->in->tensors[a];
		u = &x->in->tensors[b];
		if (t->ndim != 2 || u->ndim != 2 || u->shape[1] == 0)
			return NULL;
		if (k != 2 && t->shape[0] == 4 * u->shape[1])
			return "torch.nn.modules.rnn.LSTM";
		if (k != 2 && t->shape[0] == 3 * u->shape[1])
			return "torch.nn.modules.rnn.GRU";
		if (k != 1 && t->shape[0] == u->shape[1])
			return "torch.nn.modules.rnn.RNN";
		return NULL;
	}
	return NULL;
}

/* Last: what the parameters' names and shapes suggest. */
static const char *
guess_class(struct t2m_xform *x, struct layer *L)
{
	static const char *const conv[] = {
		"torch.nn.modules.conv.Conv1d", "torch.nn.modules.conv.Conv2d",
		"torch.nn.modules.conv.Conv3d"
	};
	const struct t2m_tensor *t;
	const char *c;
	long w = param(x, L, "weight"), k;
	int rnn;

	if (param(x, L, "in_proj_weight") >= 0 || param(x, L, "q_proj_weight") >= 0)
		return "torch.nn.modules.activation.MultiheadAttention";
	if ((c = recurrent_class(x, L, &rnn)) != NULL || rnn)
		return c;
	if (w < 0 && (k = param(x, L, "weight_v")) >= 0)
		w = k;
	if (w < 0 && (k = param(x, L, "parametrizations.weight.original1")) >= 0)
		w = k;
	if (param(x, L, "running_mean") >= 0 && param(x, L, "running_var") >= 0)
		return "torch.nn.modules.batchnorm.BatchNorm";
	if (w < 0)
		return "t2m.Parameters";	/* no layer t2m can name */
	t = &x->in->tensors[w];
	if (t->ndim >= 3 && t->ndim <= 5) {
		if (x->mlx)	/* nothing is permuted: no layout to doubt */
			return conv[t->ndim - 3];
		xwarn(x, "'%s': a %d-D weight, taken as %s; a ConvTranspose "
		    "would need another layout (give a type map with -m)",
		    t->name, t->ndim, strrchr(conv[t->ndim - 3], '.') + 1);
		return conv[t->ndim - 3];
	}
	if (t->ndim == 2)
		return strstr(L->path, "emb") || strstr(L->path, "wte") ||
		    strstr(L->path, "wpe") ? "torch.nn.modules.sparse.Embedding" :
		    "torch.nn.modules.linear.Linear";
	if (t->ndim == 1)
		return "torch.nn.modules.normalization.LayerNorm";
	return "t2m.Parameters";
}

/*
 * The layer's class and where it came from.  A stream in MLX layout
 * already has nothing planned from it, so there a layer may have none;
 * and the config's GPT-2 Conv1D layers are Linear ones by then.
 */
static int
resolve(struct t2m_xform *x, struct layer *L)
{
	const char *c;

	if ((c = file_class(x, L->path)) != NULL)
		L->provenance = "file";
	else if ((c = map_class(x, L->path)) != NULL)
		L->provenance = "map";
	else if (!x->mlx && (c = config_class(x, L->path)) != NULL)
		L->provenance = "config";
	else if ((c = guess_class(x, L)) != NULL)
		L->provenance = "inferred";
	else if (!x->mlx)
		return t2m_fail(x->err, "module '%s': no class fits its "
		    "tensors; give one with a type map (-m)", L->path);
	L->cls = c;
	L->rule = c ? t2m_class_rule(c) : NULL;
	return 0;
}

/* The length of the path of the module owning input tensor i. */
static size_t
owner_len(const struct t2m_xform *x, uint32_t i)
{
	const char *param;
	size_t plen;

	t2m_tensor_owner(x->in->tensors[i].name, &plen, &param);
	return plen;
}

/* How input tensor a's owner sorts against b's: by path, bytewise. */
static int
owner_cmp(const struct t2m_xform *x, const uint32_t *plen, uint32_t a,
    uint32_t b)
{
	size_t la = plen[a], lb = plen[b];
	int c;

	if ((c = memcmp(x->in->tensors[a].name, x->in->tensors[b].name,
	    la < lb ? la : lb)) != 0)
		return c;
	return (la > lb) - (la < lb);
}

/* Sort lt by owner, ties kept in order (a merge sort, from the bottom
 * up; tmp holds as many). */
static void
sort_by_owner(struct t2m_xform *x, const uint32_t *plen, uint32_t *tmp)
{
	uint32_t *a = x->lt, *b = tmp, *t, n = x->in->ntensors;
	uint32_t w, lo, mid, hi, i, j, k;

	for (w = 1; w < n; w *= 2) {
		for (lo = 0; lo < n; lo += 2 * w) {
			mid = n - lo > w ? lo + w : n;
			hi = n - mid > w ? mid + w : n;
			for (i = lo, j = mid, k = lo; k < hi; k++)
				b[k] = j == hi || (i < mid && owner_cmp(x, plen,
				    a[i], a[j]) <= 0) ? a[i++] : a[j++];
		}
		t = a;
		a = b;
		b = t;
	}
	if (a != x->lt)
		memcpy(x->lt, a, n * sizeof *a);
}

static int
first_order(const void *a, const void *b)
{
	const struct xgroup *x = a, *y = b;

	return (x->first > y->first) - (x->first < y->first);
}

/* Group k's module path, in x->path until the next. */
static int
group_path(struct t2m_xform *x, uint32_t k)
{
	uint32_t i = x->groups[k].first;

	x->path.len = 0;
	t2m_buf_add(&x->path, x->in->tensors[i].name, owner_len(x, i));
	return x->path.nomem ? t2m_fail(x->err, "out of memory") : 0;
}

/*
 * The groups: tensors by owning module, in the order the modules first
 * appear, each module in the output (describe() fills in its
 * attributes) or, walking, only counted as it would be.  Sorted by
 * owner, the tensors of a module are a run, in input order, and need
 * no table of paths to be found.
 */
static int
group(struct t2m_xform *x)
{
	const struct t2m_manifest *m = x->in;
	uint32_t i, k, e, n = m->ntensors, *plen = NULL, *tmp = NULL;
	uint32_t nmod = m->nmodules;
	struct xgroup *g;
	int rc = -1;

	if ((x->lt = malloc((n + 1) * sizeof *x->lt)) == NULL ||
	    (plen = malloc((n + 1) * sizeof *plen)) == NULL ||
	    (tmp = malloc((n + 1) * sizeof *tmp)) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		x->lt[i] = i;
		plen[i] = (uint32_t)owner_len(x, i);
	}
	sort_by_owner(x, plen, tmp);
	for (k = 0, e = 0; k < n; k = e, x->ngroups++)
		for (e = k + 1; e < n && owner_cmp(x, plen, x->lt[k],
		    x->lt[e]) == 0; e++)
			;
	if ((x->groups = malloc((x->ngroups + 1) * sizeof *x->groups)) ==
	    NULL)
		goto nomem;
	for (g = x->groups, k = 0; k < n; k = e, g++) {
		for (e = k + 1; e < n && owner_cmp(x, plen, x->lt[k],
		    x->lt[e]) == 0; e++)
			;
		g->first = x->lt[k];
		g->at = k;
		g->n = e - k;
	}
	qsort(x->groups, x->ngroups, sizeof *x->groups, first_order);
	for (k = 0; k < x->ngroups; k++) {
		if (group_path(x, k) < 0)
			goto out;
		if (x->walk && x->mlx) {
			continue;	/* the output has the input's */
		} else if (x->walk) {
			/* As many modules as the output would have. */
			if (t2m_manifest_find_module(m, x->path.p) < 0 &&
			    nmod++ == T2M_MAX_MODULES) {
				t2m_fail(x->err, "too many modules (%u)",
				    T2M_MAX_MODULES);
				goto out;
			}
		} else if (t2m_manifest_find_module(x->out, x->path.p) < 0 &&
		    t2m_manifest_add_module(x->out, x->path.p, x->err) == NULL)
			goto out;
	}
	rc = 0;
	goto out;
nomem:
	t2m_fail(x->err, "out of memory");
out:
	free(plen);
	free(tmp);
	return rc;
}

/* Group k as a layer to plan; its path is in x->path until the next. */
static int
layer_of(struct t2m_xform *x, uint32_t k, struct layer *L)
{
	memset(L, 0, sizeof *L);
	if (group_path(x, k) < 0)
		return -1;
	L->path = x->path.p;
	L->t = x->lt + x->groups[k].at;
	L->n = x->groups[k].n;
	return 0;
}

static void
ungroup(struct t2m_xform *x)
{
	free(x->groups);
	free(x->lt);
	t2m_buf_free(&x->path);
	x->groups = NULL;
	x->lt = NULL;
	x->ngroups = 0;
}

/* Module attributes: what each layer is, for t2m-analyze and people. */
static int
describe(struct t2m_xform *x, const struct layer *L)
{
	struct t2m_module *mod = NULL;
	long k = t2m_manifest_find_module(x->out, L->path);

	if (k >= 0)
		mod = &x->out->modules[k];
	else if ((mod = t2m_manifest_add_module(x->out, L->path,
	    x->err)) == NULL)
		return -1;
	if (t2m_attrs_set(x->out, &mod->attrs, "class", L->cls, x->err) < 0 ||
	    t2m_attrs_set(x->out, &mod->attrs, "provenance", L->provenance,
	    x->err) < 0 ||
	    t2m_attrs_set(x->out, &mod->attrs, "rule", L->rule ?
	    t2m_rule_kind_name(L->rule->kind) : "none", x->err) < 0)
		return -1;
	if (L->rule && L->rule->mlx && t2m_attrs_set(x->out, &mod->attrs,
	    "mlx", L->rule->mlx, x->err) < 0)
		return -1;
	t2m_attrs_share(x->out, &mod->attrs);
	return 0;
}

static int
copy_maps(struct t2m_xform *x, int reverse)
{
	const struct t2m_manifest *m = x->in;
	uint32_t k, a;
	struct t2m_module *mod;

	for (k = 0; k < m->info.n; k++)
		if (t2m_attrs_set(x->out, &x->out->info, m->info.kv[k].key,
		    m->info.kv[k].val, x->err) < 0)
			return -1;
	for (k = 0; k < m->meta.n; k++) {
		if (reverse && strncmp(m->meta.kv[k].key, "t2m.", 4) == 0)
			continue;
		if (t2m_attrs_set(x->out, &x->out->meta, m->meta.kv[k].key,
		    m->meta.kv[k].val, x->err) < 0)
			return -1;
	}
	for (k = 0; k < m->nmodules; k++) {
		if ((mod = t2m_manifest_add_module(x->out, m->modules[k].path,
		    x->err)) == NULL)
			return -1;
		for (a = 0; a < m->modules[k].attrs.n; a++) {
			const char *key = m->modules[k].attrs.kv[a].key;
			if (reverse && (strcmp(key, "provenance") == 0 ||
			    strcmp(key, "rule") == 0 || strcmp(key, "mlx") == 0))
				continue;
			if (t2m_attrs_set(x->out, &mod->attrs, key,
			    m->modules[k].attrs.kv[a].val, x->err) < 0)
				return -1;
		}
		t2m_attrs_share(x->out, &mod->attrs);
	}
	return 0;
}

/* Put the recipes in the metadata, cut into pieces values can hold. */
static int
store_recipes(struct t2m_xform *x)
{
	struct t2m_buf all = { 0 };
	char key[32], *piece;
	size_t at, n;
	int k;

	t2m_buf_str(&all, "{\"recipes\":");
	t2m_buf_str(&all, x->nrecipes ? x->recipes.p : "{");
	t2m_buf_str(&all, "},\"consumed\":");
	t2m_buf_str(&all, x->nconsumed ? x->consumed.p : "[");
	t2m_buf_str(&all, "]}");
	if (all.nomem || x->recipes.nomem || x->consumed.nomem)
		return t2m_fail(x->err, "out of memory");
	for (at = 0, k = 1; at < all.len; at += n, k++) {
		n = all.len - at < RECIPE_PIECE ? all.len - at : RECIPE_PIECE;
		/* Never cut a UTF-8 sequence. */
		while (at + n < all.len && (all.p[at + n] & 0xC0) == 0x80)
			n--;
		if (k == 1)
			snprintf(key, sizeof key, "t2m.reverse");
		else
			snprintf(key, sizeof key, "t2m.reverse.%d", k);
		if ((piece = strndup(all.p + at, n)) == NULL ||
		    t2m_attrs_set(x->out, &x->out->meta, key, piece, x->err) < 0) {
			free(piece);
			t2m_buf_free(&all);
			return piece ? -1 : t2m_fail(x->err, "out of memory");
		}
		free(piece);
	}
	t2m_buf_free(&all);
	return t2m_attrs_set(x->out, &x->out->meta, "t2m.layout", "mlx",
	    x->err) < 0 || t2m_attrs_set(x->out, &x->out->meta, "format",
	    "mlx", x->err) < 0 ? -1 : 0;
}

static int
plan_forward(struct t2m_xform *x)
{
	struct layer L;
	uint32_t k;

	if (group(x) < 0)
		return -1;
	for (k = 0; k < x->ngroups; k++)
		if (layer_of(x, k, &L) < 0 || resolve(x, &L) < 0 ||
		    describe(x, &L) < 0 || apply_layer(x, &L) < 0)
			return -1;
	/* Planned: the groups make room for what comes next. */
	ungroup(x);
	return store_recipes(x);
}

/* Input k passes as it is. */
static int
same(struct t2m_xform *x, uint32_t k)
{
	const struct t2m_tensor *t = &x->in->tensors[k];
	int64_t o;

	if ((o = add_out(x, t->name, t->dtype, t->ndim, t->shape, t)) < 0)
		return -1;
	return stream(x, k, o, 0);
}

/* Pass every tensor as it is (already converted, or -r of a plain one). */
static int
plan_identity(struct t2m_xform *x)
{
	uint32_t k;

	for (k = 0; k < x->in->ntensors; k++)
		if (same(x, k) < 0)
			return -1;
	return 0;
}

/* Output o is input src's bytes as they are, under its name. */
static int
plain(const struct t2m_xform *x, uint32_t o)
{
	const struct t2m_tensor *out = &x->out->tensors[o], *in;

	if (x->outs[o].src < 0 || x->outs[o].begin != 0)
		return 0;
	in = &x->in->tensors[x->outs[o].src];
	return out->dtype == in->dtype && out->ndim == in->ndim &&
	    strcmp(out->name, in->name) == 0 && memcmp(out->shape, in->shape,
	    (size_t)in->ndim * sizeof in->shape[0]) == 0;
}

/*
 * A tensor stays tied (t2m.tie) only when it and the one it names both
 * pass unchanged: t2m-pack may write the bytes of a tie once, and a
 * permute or a cast of one of them would make the two differ.
 */
static int
untie(struct t2m_xform *x)
{
	struct t2m_tensor *t;
	const char *v;
	uint32_t o;
	long k;

	for (o = 0; o < x->nouts; o++) {
		t = &x->out->tensors[o];
		if ((v = t2m_attrs_get(&t->attrs, "t2m.tie")) == NULL)
			continue;
		if (plain(x, o) && (k = t2m_manifest_find(x->out, v)) >= 0 &&
		    plain(x, (uint32_t)k))
			continue;
		if (t2m_attrs_unset(x->out, &t->attrs, "t2m.tie") < 0)
			return t2m_fail(x->err, "out of memory");
	}
	return 0;
}

/* ---- type sources given as files ---- */

static int
load_json(const char *path, int quiet_if_missing, cJSON **out,
    t2m_error *err)
{
	struct t2m_buf b = { 0 };
	char chunk[65536];
	size_t r;
	FILE *f;

	*out = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		if (quiet_if_missing && errno == ENOENT)
			return 0;
		return t2m_fail_errno(err, "%s", path);
	}
	while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
		t2m_buf_add(&b, chunk, r);
		if (b.len > ((size_t)64 << 20)) {
			fclose(f);
			t2m_buf_free(&b);
			return t2m_fail(err, "%s: larger than 64 MiB", path);
		}
	}
	if (ferror(f)) {
		fclose(f);
		t2m_buf_free(&b);
		return t2m_fail_errno(err, "%s", path);
	}
	fclose(f);
	if (b.nomem || (*out = cJSON_ParseWithLength(b.p ? b.p : "",
	    b.len)) == NULL) {
		t2m_buf_free(&b);
		return t2m_fail(err, "%s: not valid JSON", path);
	}
	t2m_buf_free(&b);
	return 0;
}

int
t2m_types_load(struct t2m_types *t, const char *mappath,
    const char *configpath, const char *source, t2m_error *err)
{
	const cJSON *mt;
	char *beside = NULL;
	const char *slash;
	size_t dir;
	int rc;

	memset(t, 0, sizeof *t);
	if (mappath) {
		if (load_json(mappath, 0, &t->own_map, err) < 0)
			return -1;
		if (!cJSON_IsObject(t->own_map)) {
			t2m_types_free(t);
			return t2m_fail(err, "%s: a type map is a JSON object "
			    "from module path to class name", mappath);
		}
		t->map = t->own_map;
	}
	/* "<stdin>", "<python>": no file, so nothing beside it. */
	if (configpath == NULL && source && source[0] != '<') {
		slash = strrchr(source, '/');
		dir = slash ? (size_t)(slash - source) + 1 : 0;
		if ((beside = malloc(dir + 12)) == NULL)
			return t2m_fail(err, "out of memory");
		memcpy(beside, source, dir);
		strcpy(beside + dir, "config.json");
	}
	if (configpath || beside) {
		rc = load_json(configpath ? configpath : beside, configpath ==
		    NULL, &t->own_config, err);
		free(beside);
		if (rc < 0) {
			t2m_types_free(t);
			return -1;
		}
		mt = cJSON_GetObjectItemCaseSensitive(t->own_config,
		    "model_type");
		if (cJSON_IsString(mt))
			t->model_type = mt->valuestring;
	}
	return 0;
}

void
t2m_types_free(struct t2m_types *t)
{
	cJSON_Delete(t->own_map);
	cJSON_Delete(t->own_config);
	memset(t, 0, sizeof *t);
}

/* ---- the way back ---- */

static cJSON *
load_recipes(struct t2m_xform *x)
{
	struct t2m_buf all = { 0 };
	const char *v;
	char key[32];
	cJSON *j;
	int k;

	for (k = 1;; k++) {
		if (k == 1)
			snprintf(key, sizeof key, "t2m.reverse");
		else
			snprintf(key, sizeof key, "t2m.reverse.%d", k);
		if ((v = t2m_attrs_get(&x->in->meta, key)) == NULL)
			break;
		t2m_buf_str(&all, v);
	}
	if (all.nomem) {
		t2m_fail(x->err, "out of memory");
		return NULL;
	}
	j = all.p ? cJSON_Parse(all.p) : NULL;
	t2m_buf_free(&all);
	if (j == NULL || !cJSON_IsObject(cJSON_GetObjectItem(j, "recipes")) ||
	    !cJSON_IsArray(cJSON_GetObjectItem(j, "consumed"))) {
		cJSON_Delete(j);
		t2m_fail(x->err, "the t2m.reverse metadata is damaged");
		return NULL;
	}
	return j;
}

static long
input_named(struct t2m_xform *x, const cJSON *v)
{
	long k;

	if (!cJSON_IsString(v) || (k = t2m_manifest_find(x->in,
	    v->valuestring)) < 0)
		return -1;
	return k;
}

static int
plan_reverse(struct t2m_xform *x)
{
	const struct t2m_manifest *m = x->in;
	cJSON *j, *r, *from, *perm, *cat, *dt, *e;
	struct t2m_strmap used = { 0 };
	uint64_t shape[T2M_MAXDIM], seen;
	int p[T2M_MAXDIM], k, n, dtype, rc = -1;
	uint32_t i, src[3];
	struct xjob *job;
	long s;
	int64_t o;

	if ((j = load_recipes(x)) == NULL)
		return -1;
	/* Tensors that recipes read, or that forward made: not originals. */
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "consumed"))
		if (cJSON_IsString(e) && t2m_strmap_put(&used, e->valuestring,
		    1) < 0)
			goto nomem;
	for (i = 0; i < m->ntensors; i++) {
		const struct t2m_tensor *t = &m->tensors[i];
		const char *hidden = t2m_attrs_get(&t->attrs, "t2m.hidden");
		if (t2m_strmap_get(&used, t->name) >= 0 && hidden == NULL)
			continue;
		if ((o = add_out_ref(x, t->name, t->dtype, t->ndim, t->shape,
		    NULL, T2M_REF_NAME | T2M_REF_SHAPE)) < 0 ||
		    stream(x, i, o, 0) < 0)
			goto out;
		for (k = 0; k < (int)t->attrs.n; k++) {
			const char *key = t->attrs.kv[k].key;
			if (strcmp(key, "t2m.hidden") == 0 ||
			    strcmp(key, "module") == 0 ||
			    strcmp(key, "rule") == 0 || strcmp(key, "cast") == 0)
				continue;
			if (set_attr(x, o, key, t->attrs.kv[k].val) < 0)
				goto out;
		}
	}
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "recipes")) {
		from = cJSON_GetObjectItem(r, "from");
		perm = cJSON_GetObjectItem(r, "perm");
		cat = cJSON_GetObjectItem(r, "concat");
		dt = cJSON_GetObjectItem(r, "dtype");
		dtype = 0;
		if (dt && (!cJSON_IsString(dt) || (dtype = t2m_dtype_lookup(
		    dt->valuestring, strlen(dt->valuestring))) == 0))
			goto damaged;
		if (cat) {
			n = cJSON_GetArraySize(cat);
			if (!cJSON_IsArray(cat) || n != 3)
				goto damaged;
			for (k = 0; k < 3; k++)
				if ((s = input_named(x, cJSON_GetArrayItem(cat,
				    k))) < 0)
					goto damaged;
				else
					src[k] = (uint32_t)s;
			memcpy(shape, m->tensors[src[0]].shape,
			    sizeof(uint64_t) * (size_t)m->tensors[src[0]].ndim);
			shape[0] *= 3;
			if ((o = add_out(x, r->string, dtype ? dtype :
			    m->tensors[src[0]].dtype, m->tensors[src[0]].ndim,
			    shape, NULL)) < 0 ||
			    (job = add_job(x, X_CONCAT, src, 3)) == NULL)
				goto out;
			job->out[job->nout++] = (uint32_t)o;
			continue;
		}
		if ((s = input_named(x, from)) < 0)
			goto damaged;
		i = (uint32_t)s;
		n = m->tensors[i].ndim;
		if (perm) {
			if (!cJSON_IsArray(perm) || cJSON_GetArraySize(perm) != n)
				goto damaged;
			/* A permutation: each dimension once, or the permute
			 * would read past the tensor. */
			for (seen = 0, k = 0; k < n; k++) {
				e = cJSON_GetArrayItem(perm, k);
				if (!cJSON_IsNumber(e) || e->valueint < 0 ||
				    e->valueint >= n ||
				    e->valuedouble != (double)e->valueint ||
				    (seen >> e->valueint & 1))
					goto damaged;
				seen |= (uint64_t)1 << e->valueint;
				p[k] = e->valueint;
				shape[k] = m->tensors[i].shape[p[k]];
			}
			if ((o = add_out(x, r->string, dtype ? dtype :
			    m->tensors[i].dtype, n, shape, NULL)) < 0 ||
			    (job = add_job(x, X_PERMUTE, &i, 1)) == NULL)
				goto out;
			job->out[job->nout++] = (uint32_t)o;
			job->permute = 1;
			memcpy(job->perm, p, sizeof(int) * (size_t)n);
			continue;
		}
		if ((o = add_out(x, r->string, dtype ? dtype :
		    m->tensors[i].dtype, n, m->tensors[i].shape, NULL)) < 0 ||
		    stream(x, i, o, 0) < 0)
			goto out;
	}
	rc = 0;
	goto out;
damaged:
	t2m_fail(x->err, "the t2m.reverse recipe for '%s' is damaged or names "
	    "tensors the stream lacks", r && r->string ? r->string : "?");
	goto out;
nomem:
	t2m_fail(x->err, "out of memory");
out:
	t2m_strmap_free(&used);
	cJSON_Delete(j);
	return rc;
}

struct t2m_xform *
t2m_xform_plan(const struct t2m_manifest *m, const struct t2m_xform_opts *o,
    const struct t2m_manifest **out, t2m_error *err)
{
	struct t2m_xform *x;
	const char *layout;
	int rc;

	if ((x = calloc(1, sizeof *x)) == NULL ||
	    (x->out = t2m_manifest_new()) == NULL ||
	    (x->ins = calloc(m->ntensors + 1, sizeof *x->ins)) == NULL) {
		t2m_xform_free(x);
		t2m_fail(err, "out of memory");
		return NULL;
	}
	/* Most plans make about one output of each input. */
	if (t2m_manifest_reserve(x->out, m->ntensors, 0) < 0 ||
	    (x->outs = malloc((m->ntensors + 1) * sizeof *x->outs)) == NULL) {
		t2m_xform_free(x);
		t2m_fail(err, "out of memory");
		return NULL;
	}
	x->capouts = m->ntensors + 1;
	x->in = m;
	x->types = o->types;
	x->o = o;
	x->err = err;
	if (copy_maps(x, o->reverse) < 0) {
		t2m_xform_free(x);
		return NULL;
	}
	if (o->reverse) {
		layout = t2m_attrs_get(&m->meta, "t2m.layout");
		if (layout == NULL || strcmp(layout, "mlx") != 0) {
			t2m_xform_free(x);
			t2m_fail(err, t2m_manifest_mlx(m) ? "the stream is in "
			    "MLX layout, but t2m-transpose did not convert "
			    "it (no t2m.layout metadata): nothing to "
			    "reverse" :
			    "the stream is not in MLX layout (no t2m.layout "
			    "metadata): nothing to reverse");
			return NULL;
		}
		/* What comes back is PyTorch's. */
		rc = t2m_attrs_set(x->out, &x->out->meta, "format", "pt",
		    err) < 0 ? -1 : plan_reverse(x);
	} else if (t2m_manifest_mlx(m)) {
		/* Converted already: converting again changes nothing. */
		rc = plan_identity(x);
	} else {
		rc = plan_forward(x);
	}
	if (rc < 0 || untie(x) < 0) {
		t2m_xform_free(x);
		return NULL;
	}
	*out = x->out;
	return x;
}

void
t2m_xform_free(struct t2m_xform *x)
{
	struct xblock *b;
	uint32_t k;

	if (x == NULL)
		return;
	for (k = 0; x->in && x->ins && k < x->in->ntensors; k++)
		if (x->ins[k].npass > 1)
			free(x->ins[k].pass.many);
	for (k = 0; k < x->nholds; k++) {
		big_drop(x->holds[k].buf);
		free(x->holds[k].jobs);
	}
	big_drop(x->spare[0]);
	big_drop(x->spare[1]);
	free(x->holds);
	ungroup(x);
	free(x->ins);
	free(x->outs);
	free(x->jobs);
	t2m_buf_free(&x->recipes);
	t2m_buf_free(&x->consumed);
	t2m_manifest_free(x->out);
	free(x->kept);
	t2m_strmap_free(&x->made);
	while ((b = x->strings) != NULL) {
		x->strings = b->next;
		free(b);
	}
	free(x->at);
	free(x->pairs);
	free(x);
}

/* ---- walking the plan ---- */

/* Call f(x, input, output) for each pair in order: every streamed
 * output, then every job's - the order t2m-transpose writes them in. */
static void
each_output(struct t2m_xform *x, void (*f)(struct t2m_xform *, uint32_t,
    uint32_t))
{
	uint32_t k, s;
	int o;

	for (k = 0; k < x->nouts; k++)
		if (x->outs[k].src >= 0)
			f(x, (uint32_t)x->outs[k].src, k);
	for (k = 0; k < x->njobs; k++)
		for (s = 0; s < (uint32_t)x->jobs[k].nsrc; s++)
			for (o = 0; o < x->jobs[k].nout; o++)
				f(x, x->jobs[k].src[s], x->jobs[k].out[o]);
}

/* Where input i is among the inputs of the layer walked (rising). */
static uint32_t
place(const struct t2m_xform *x, uint32_t i)
{
	const uint32_t *t = x->cur->t;
	uint32_t lo = 0, hi = x->cur->n, mid;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (t[mid] <= i)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static void
count_output(struct t2m_xform *x, uint32_t in, uint32_t out)
{
	(void)out;
	x->at[place(x, in) + 1]++;
}

/* at[k] is where the next output of input k goes, until all are in. */
static void
put_output(struct t2m_xform *x, uint32_t in, uint32_t out)
{
	x->pairs[x->at[place(x, in)]++] = out;
}

/* Hand the layer walked, planned, to layer(): what each input became,
 * counted, then filled in. */
static int
walk_layer(struct t2m_xform *x, const struct layer *L, int (*layer)(void *,
    const struct t2m_xlayer *, t2m_error *))
{
	struct t2m_xlayer l;
	uint32_t k;

	x->cur = L;
	if (grow((void **)&x->at, &x->capat, L->n + 2, sizeof *x->at) < 0)
		return t2m_fail(x->err, "out of memory");
	memset(x->at, 0, (L->n + 2) * sizeof *x->at);
	each_output(x, count_output);
	for (k = 0; k < L->n; k++)
		x->at[k + 1] += x->at[k];
	if (grow((void **)&x->pairs, &x->cappairs, x->at[L->n] + 1,
	    sizeof *x->pairs) < 0)
		return t2m_fail(x->err, "out of memory");
	each_output(x, put_output);
	/* Each at[k] moved to where k + 1's began: shift back. */
	for (k = L->n; k > 0; k--)
		x->at[k] = x->at[k - 1];
	x->at[0] = 0;
	l.path = L->path;
	l.cls = L->cls;
	l.provenance = L->provenance;
	l.in = L->t;
	l.nin = L->n;
	l.out = x->out;
	l.at = x->at;
	l.outs = x->pairs;
	return layer(x->o->ctx, &l, x->err);
}

/* A manifest of its own for the next layer's outputs. */
static int
walk_fresh(struct t2m_xform *x)
{
	t2m_manifest_free(x->out);
	x->nouts = x->njobs = 0;
	if ((x->out = t2m_manifest_new()) == NULL)
		return t2m_fail(x->err, "out of memory");
	return 0;
}

/* Whether the layer holds only tensors kept for the way back. */
static int
kept_only(const struct t2m_xform *x, const struct layer *L)
{
	uint32_t k;

	for (k = 0; k < L->n; k++)
		if (!t2m_tensor_hidden(&x->in->tensors[L->t[k]]))
			return 0;
	return 1;
}

/* The layer's module in its manifest, as the output would have it. */
static int
walk_module(struct t2m_xform *x, const struct layer *L)
{
	const struct t2m_attrs *a = NULL;
	struct t2m_module *mod;
	long k = t2m_manifest_find_module(x->in, L->path);
	uint32_t i;

	if (k >= 0)
		a = &x->in->modules[k].attrs;
	if ((mod = t2m_manifest_add_module(x->out, L->path, x->err)) == NULL)
		return -1;
	for (i = 0; a && i < a->n; i++)
		if (t2m_attrs_set(x->out, &mod->attrs, a->kv[i].key,
		    a->kv[i].val, x->err) < 0)
			return -1;
	return 0;
}

int
t2m_xform_walk(const struct t2m_manifest *m, const struct t2m_xform_opts *o,
    int (*layer)(void *ctx, const struct t2m_xlayer *l, t2m_error *err),
    t2m_error *err)
{
	struct t2m_xform *x;
	struct layer L;
	uint32_t k, i;
	int rc = -1;

	if (o->reverse)
		return t2m_fail(err, "internal: the way back is not walked");
	if ((x = calloc(1, sizeof *x)) == NULL ||
	    (x->kept = calloc(m->ntensors / 8 + 1, 1)) == NULL) {
		free(x);
		return t2m_fail(err, "out of memory");
	}
	x->in = m;
	x->types = o->types;
	x->o = o;
	x->err = err;
	x->walk = 1;
	if (t2m_manifest_mlx(m)) {
		x->mlx = 1;
		if (group(x) < 0)
			goto out;
		for (k = 0; k < x->ngroups; k++) {
			if (layer_of(x, k, &L) < 0 || walk_fresh(x) < 0)
				goto out;
			for (i = 0; i < L.n; i++)
				if (same(x, L.t[i]) < 0)
					goto out;
			/* Those are no layer of their own: no path. */
			if (kept_only(x, &L))
				L.path = NULL;
			else if (resolve(x, &L) < 0)
				goto out;
			if (walk_layer(x, &L, layer) < 0)
				goto out;
		}
		rc = 0;
		goto out;
	}
	/*
	 * Nothing is written, so the recipes for the way back are not
	 * kept; but they go in the metadata, and a plan fails when they
	 * overfill it.  Unless it is half full already, that would take
	 * recipes of many gigabytes.
	 */
	x->gather = m->meta.n > T2M_MAX_ATTRS / 2;
	if (group(x) < 0)
		goto out;
	for (k = 0; k < x->ngroups; k++) {
		if (layer_of(x, k, &L) < 0 ||
		    walk_fresh(x) < 0 || walk_module(x, &L) < 0 ||
		    resolve(x, &L) < 0 || describe(x, &L) < 0 ||
		    apply_layer(x, &L) < 0 || walk_layer(x, &L, layer) < 0)
			goto out;
	}
	if (x->gather && (walk_fresh(x) < 0 || copy_maps(x, 0) < 0 ||
	    store_recipes(x) < 0))
		goto out;
	rc = 0;
out:
	t2m_xform_free(x);
	return rc;
}

/* ---- running it ---- */

/* Write n bytes of output o, casting from sdtype to its dtype. */
static int
put(struct t2m_xform *x, struct t2m_writer *w, uint32_t o, int sdtype,
    const unsigned char *p, size_t n, t2m_error *err)
{
	struct xout *xo = &x->outs[o];
	int ddtype = x->out->tensors[o].dtype;
	unsigned char tmp[8192];
	size_t ss, ds, k, m, take;

	if (sdtype == ddtype)
		return t2m_writer_data(w, o, p, n, err);
	/* F64 <-> F32: whole elements, a partial one carried over. */
	ss = t2m_dtype_bits(sdtype) / 8;
	ds = t2m_dtype_bits(ddtype) / 8;
	while (n > 0) {
		if (xo->ncarry || n < ss) {
			take = ss - xo->ncarry < n ? ss - xo->ncarry : n;
			memcpy(xo->carry + xo->ncarry, p, take);
			xo->ncarry += take;
			p += take;
			n -= take;
			if (xo->ncarry < ss)
				break;
			t2m_set_float(tmp, ddtype, 0, t2m_get_float(xo->carry,
			    sdtype, 0));
			xo->ncarry = 0;
			if (t2m_writer_data(w, o, tmp, ds, err) < 0)
				return -1;
			continue;
		}
		m = n / ss;
		if (m > sizeof tmp / 8)
			m = sizeof tmp / 8;
		for (k = 0; k < m; k++)
			t2m_set_float(tmp, ddtype, k, t2m_get_float(p, sdtype, k));
		if (t2m_writer_data(w, o, tmp, m * ds, err) < 0)
			return -1;
		p += m * ss;
		n -= m * ss;
	}
	return 0;
}

/* Write a whole computed tensor (in dtype sdtype) to output o. */
static int
put_all(struct t2m_xform *x, struct t2m_writer *w, uint32_t o, int sdtype,
    const unsigned char *p, uint64_t n, t2m_error *err)
{
	size_t k;

	while (n > 0) {
		k = n > ((size_t)1 << 20) ? (size_t)1 << 20 : (size_t)n;
		if (put(x, w, o, sdtype, p, k, err) < 0)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

static int
run_job(struct t2m_xform *x, struct t2m_writer *w, struct xjob *j,
    t2m_error *err)
{
	const struct t2m_tensor *a = &x->in->tensors[j->src[0]];
	const struct t2m_tensor *b = j->nsrc > 1 ?
	    &x->in->tensors[j->src[1]] : NULL;
	unsigned char *pa = hold_of(x, j->src[0])->buf, *pb = b ?
	    hold_of(x, j->src[1])->buf : NULL, *tmp = NULL, *res;
	uint64_t n, k, H, outer, inner, i, d;
	double s, norm;
	int rc = -1, dt = a->dtype, dim;
	size_t esz = t2m_dtype_bits(dt) / 8;

	switch (j->op) {
	case X_PERMUTE:
		if ((tmp = big_alloc(x, a->nbytes)) == NULL)
			goto nomem;
		t2m_permute(tmp, pa, a->ndim, a->shape, j->perm, esz);
		rc = put_all(x, w, j->out[0], dt, tmp, a->nbytes, err);
		break;
	case X_SUM:
		/* RNN and LSTM: bias = bias_ih + bias_hh */
		n = a->nbytes / esz;
		if ((tmp = big_alloc(x, a->nbytes)) == NULL)
			goto nomem;
		for (k = 0; k < n; k++)
			t2m_set_float(tmp, dt, k, t2m_get_float(pa, dt, k) +
			    t2m_get_float(pb, dt, k));
		rc = put_all(x, w, j->out[0], dt, tmp, a->nbytes, err);
		break;
	case X_GRU:
		/* b = [ih[:2H] + hh[:2H], ih[2H:]], bhn = hh[2H:] */
		n = a->nbytes / esz;
		H = n / 3;
		if ((tmp = big_alloc(x, a->nbytes)) == NULL)
			goto nomem;
		for (k = 0; k < n; k++)
			t2m_set_float(tmp, dt, k, k < 2 * H ?
			    t2m_get_float(pa, dt, k) + t2m_get_float(pb, dt, k) :
			    t2m_get_float(pa, dt, k));
		if (put_all(x, w, j->out[0], dt, tmp, a->nbytes, err) < 0 ||
		    put_all(x, w, j->out[1], dt, pb + 2 * H * esz, H * esz,
		    err) < 0)
			break;
		rc = 0;
		break;
	case X_FOLD: {
		/* weight = g * v / ||v||, the norm over all axes but dim */
		const struct t2m_tensor *v = b;
		unsigned char *pv = pb, *pg = pa;
		dim = j->fold_dim;
		esz = t2m_dtype_bits(v->dtype) / 8;
		dt = v->dtype;
		n = v->nbytes / esz;
		outer = 1;
		inner = 1;
		for (d = 0; d < (uint64_t)v->ndim; d++) {
			if ((int)d < dim)
				outer *= v->shape[d];
			else if ((int)d > dim)
				inner *= v->shape[d];
		}
		if ((tmp = big_alloc(x, v->nbytes)) == NULL)
			goto nomem;
		if (dim < 0) {
			for (s = 0, k = 0; k < n; k++)
				s += t2m_get_float(pv, dt, k) *
				    t2m_get_float(pv, dt, k);
			norm = sqrt(s);
			for (k = 0; k < n; k++)
				t2m_set_float(tmp, dt, k, t2m_get_float(pg, dt,
				    0) * t2m_get_float(pv, dt, k) / norm);
		} else {
			uint64_t D = v->shape[dim], o2, c, q;
			for (c = 0; c < D; c++) {
				for (s = 0, o2 = 0; o2 < outer; o2++)
					for (q = 0; q < inner; q++) {
						i = (o2 * D + c) * inner + q;
						s += t2m_get_float(pv, dt, i) *
						    t2m_get_float(pv, dt, i);
					}
				norm = sqrt(s);
				for (o2 = 0; o2 < outer; o2++)
					for (q = 0; q < inner; q++) {
						i = (o2 * D + c) * inner + q;
						t2m_set_float(tmp, dt, i,
						    t2m_get_float(pg, dt, c) *
						    t2m_get_float(pv, dt, i) /
						    norm);
					}
			}
		}
		res = tmp;
		if (j->permute) {
			if ((res = big_alloc(x, v->nbytes)) == NULL)
				goto nomem;
			t2m_permute(res, tmp, v->ndim, v->shape, j->perm, esz);
		}
		rc = put_all(x, w, j->out[0], dt, res, v->nbytes, err);
		if (res != tmp)
			big_free(x, res);
		break;
	}
	case X_CONCAT:
		for (k = 0; k < 3; k++) {
			const struct t2m_tensor *t = &x->in->tensors[j->src[k]];
			if (put_all(x, w, j->out[0], t->dtype,
			    hold_of(x, j->src[k])->buf, t->nbytes, err) < 0)
				goto out;
		}
		rc = 0;
		break;
	}
	goto out;
nomem:
	t2m_fail(err, "out of memory");
out:
	big_free(x, tmp);
	return rc;
}

int
t2m_xform_data(struct t2m_xform *x, struct t2m_writer *w, uint32_t index,
    const void *p, size_t n, t2m_error *err)
{
	struct xin *in = &x->ins[index];
	struct xhold *h = hold_of(x, index), *hs;
	const struct t2m_tensor *t = &x->in->tensors[index];
	const uint32_t *pass = passes(in);
	uint64_t at = in->have, from, to, end;
	struct xjob *j;
	struct xout *o;
	uint32_t k, s;

	/* Streamed outputs: the part of these bytes each one takes. */
	for (k = 0; k < in->npass; k++) {
		const struct t2m_tensor *ot = &x->out->tensors[pass[k]];
		o = &x->outs[pass[k]];
		/* Its span of the input: its own size, or as many elements
		 * of the input's type when it is cast. */
		end = o->begin + (o->sdtype == ot->dtype ? ot->nbytes :
		    ot->nbytes / (t2m_dtype_bits(ot->dtype) / 8) *
		    (t2m_dtype_bits(o->sdtype) / 8));
		from = at > o->begin ? at : o->begin;
		to = at + n < end ? at + n : end;
		if (from < to && put(x, w, pass[k], o->sdtype,
		    (const unsigned char *)p + (from - at), (size_t)(to - from),
		    err) < 0)
			return -1;
	}
	if (h) {
		if (h->buf == NULL && (h->buf = big_alloc(x, t->nbytes)) ==
		    NULL)
			return t2m_fail(err, "out of memory holding tensor "
			    "'%s' (%llu bytes)", t->name,
			    (unsigned long long)t->nbytes);
		memcpy(h->buf + at, p, n);
	}
	in->have += n;
	if (in->have < t->nbytes || h == NULL)
		return 0;
	/* Complete: run the jobs it was the last part of. */
	for (k = 0; k < h->njobs; k++) {
		j = &x->jobs[h->jobs[k]];
		if (--j->pending > 0)
			continue;
		if (run_job(x, w, j, err) < 0)
			return -1;
		for (s = 0; s < (uint32_t)j->nsrc; s++) {
			hs = hold_of(x, j->src[s]);
			if (--hs->jobs_left == 0) {
				big_free(x, hs->buf);
				hs->buf = NULL;
			}
		}
	}
	return 0;
}

int64_t
t2m_xform_identity(const struct t2m_xform *x, uint32_t index)
{
	const struct xin *in = &x->ins[index];
	const struct xout *o;
	uint32_t out;

	if (in->npass != 1 || in->hold != 0)
		return -1;
	out = in->pass.one;
	o = &x->outs[out];
	if (o->begin != 0 || o->sdtype != x->out->tensors[out].dtype ||
	    x->out->tensors[out].nbytes != x->in->tensors[index].nbytes)
		return -1;
	return out;
}

int
t2m_xform_finish(struct t2m_xform *x, t2m_error *err)
{
	uint32_t k;

	for (k = 0; k < x->njobs; k++)
		if (x->jobs[k].pending)
			return t2m_fail(err, "internal: a job never ran");
	for (k = 0; k < x->nouts; k++)
		if (x->outs[k].ncarry)
			return t2m_fail(err, "internal: a partial element left");
	return 0;
}
