/*
 * analyze.c - the portability report of t2m-analyze(1): what converts,
 * what needs hand work and what blocks, from the manifest alone.
 *
 * The layers are the modules of the file's module tree, the modules that
 * own tensors (t2m-transpose's view) and every module above them.  A
 * module is covered when its class is in the rule table, or when it has
 * children and all of them are covered - torch2mlx's definition, so the
 * numbers compare.  The plan is t2m-transpose's own, made leniently:
 * layers MLX cannot hold become blockers instead of errors.
 *
 * A model of many tensors costs its layer table and little more: the
 * plan is walked a layer at a time (t2m_xform_walk), keeping none of its
 * outputs - once for classes, blockers and warnings, before the layer
 * table is made and anything written, and for JSON once more, after the
 * table is let go, to write what each tensor becomes.  Both forms of the
 * report are written as they are made.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "internal.h"
#include "rules.h"
#include "transpose.h"

struct lay {			/* one per module: 40 bytes, kept so */
	const char *path;	/* path[0..len) is its path: a module's, or
				   the start of one or of a tensor's name */
	const char *cls;	/* NULL: not known */
	const char *provenance;
	uint64_t params;	/* elements of the tensors it owns */
	int32_t parent;		/* -1 for the root's children */
	unsigned len : 21;	/* paths are at most T2M_MAX_STRING */
	unsigned flags : 11;
};

enum {
	L_CHILDREN = 1,		/* some layer's parent */
	L_MODULE = 2,		/* in the module tree */
	L_OWNER = 4,		/* its tensors are a layer of the plan */
	L_SEEN = 8,		/* structural() has been by */
	L_COVERED = 16,		/* see settle_coverage */
	L_BLOCKED = 32		/* named by a blocker: see tied */
};

struct tie {			/* a layer and the first blocker naming it */
	uint32_t lay, blk;
};

/*
 * What the module tree says of a path the second time and after: entry
 * k, of the module whose first entry is `module`.  The plan's own class
 * goes to the first entry (as t2m-transpose puts it there), so a later
 * entry's class and provenance win over it.
 */
struct again {
	uint32_t module, k;
	const char *cls, *provenance;
};

struct resolved {		/* a layer of the plan: what it found */
	const char *cls, *provenance;
	uint32_t first;		/* its first input tensor */
};

struct blocker {
	char *kind, *where, *msg;
	int layer;		/* names a layer, whose status it sets */
};

struct report {
	const struct t2m_manifest *in;
	int converted;		/* MLX layout already: nothing is planned */
	struct lay *lays;
	uint32_t n, cap;
	struct t2m_posmap bypath;
	struct t2m_buf key;	/* a path being looked up */
	char *cmp, *name;	/* a layer's path, copied out: room for the
				   longest path there is */
	struct tie *tied;	/* by layer */
	uint32_t ntied;
	struct again *again;
	uint32_t nagain, capagain;
	struct resolved *res;	/* the plan's layers, in order */
	uint32_t nres, capres;
	struct blocker *blk, *late;	/* late: found while planning, but
					   reported after the module tree's */
	uint32_t nblk, capblk, nlate, caplate;
	struct t2m_buf warnings;	/* each ends in a NUL */
	uint32_t nwarnings;
	int nomem;
	/* the tensors */
	uint32_t count, nties;
	uint64_t total, bytes, tbytes;	/* tbytes: the ties' */
	uint64_t dcount[T2M_DTYPE_END], dparams[T2M_DTYPE_END],
	    dbytes[T2M_DTYPE_END];
	/* coverage */
	uint32_t nlay, ncov;
	uint64_t cov;
	/* writing */
	struct t2m_buf *b;
	int (*out)(void *, const void *, size_t, t2m_error *);
	void *ctx;
	uint32_t next;		/* the tensor whose plan is written next */
	char **held;		/* plans made before their turn */
	int first;
};

static int
push_blocker(struct report *r, struct blocker **v, uint32_t *n,
    uint32_t *cap, const char *kind, const char *where, const char *msg,
    int layer)
{
	struct blocker *nv, *b;
	uint32_t ncap;

	if (*n == *cap) {
		ncap = *cap ? *cap * 2 : 16;
		if ((nv = realloc(*v, ncap * sizeof *nv)) == NULL)
			goto nomem;
		*v = nv;
		*cap = ncap;
	}
	b = &(*v)[*n];
	b->kind = strdup(kind);
	b->where = strdup(where);
	b->msg = strdup(msg);
	b->layer = layer;
	if (b->kind && b->where && b->msg) {
		(*n)++;
		return 0;
	}
	free(b->kind);
	free(b->where);
	free(b->msg);
nomem:
	r->nomem = 1;
	return -1;
}

static void
add_blocker(struct report *r, const char *kind, const char *where,
    const char *msg)
{
	push_blocker(r, &r->blk, &r->nblk, &r->capblk, kind, where, msg, 0);
}

/* A blocker of a layer: reported, and (once the layers are known) the
 * layer's status says so. */
static void
block_layer(void *ctx, const char *kind, const char *where, const char *msg)
{
	struct report *r = ctx;

	push_blocker(r, &r->blk, &r->nblk, &r->capblk, kind, where, msg, 1);
}

/* The plan walked again says again what it said: heard once. */
static void
block_again(void *ctx, const char *kind, const char *where, const char *msg)
{
	(void)ctx;
	(void)kind;
	(void)where;
	(void)msg;
}

static void
add_warning(void *ctx, const char *msg)
{
	struct report *r = ctx;

	t2m_buf_add(&r->warnings, msg, strlen(msg) + 1);
	r->nwarnings++;
}

/* L's path as a string: itself where it ends the manifest's, else
 * copied into buf. */
static const char *
lay_str(const struct lay *L, char *buf)
{
	if (L->path[L->len] == '\0')
		return L->path;
	memcpy(buf, L->path, L->len);
	buf[L->len] = '\0';
	return buf;
}

/*
 * Layer pos's path for the map to compare with the one looked up: as it
 * is, or copied out when it is the start of a longer string (the map
 * asks its owner for the strings it holds).
 */
static const char *
lay_path(const void *ctx, uint32_t pos)
{
	const struct report *r = ctx;

	return lay_str(&r->lays[pos], r->cmp);
}

/* Layer k's path, valid until the next call. */
static const char *
name_of(const struct report *r, uint32_t k)
{
	return lay_str(&r->lays[k], r->name);
}

static long
find_lay(struct report *r, const char *path)
{
	return t2m_posmap_get(&r->bypath, path, t2m_hash_str(path));
}

/*
 * The layer at path[0..len), made (with its ancestors) when missing.
 * path, a module's path or a tensor's name, outlives the report: the
 * layer keeps where its own path is in it.
 */
static long
lay_at(struct report *r, const char *path, size_t len)
{
	const char *dot;
	long k, parent = -1;
	struct lay *L;
	uint64_t h;

	r->key.len = 0;
	t2m_buf_add(&r->key, path, len);
	if (r->key.nomem)
		return -1;
	h = t2m_hash_str(r->key.p);
	if ((k = t2m_posmap_get(&r->bypath, r->key.p, h)) >= 0)
		return k;
	if (len > 0) {
		for (dot = path + len - 1; dot > path && *dot != '.'; dot--)
			;
		if ((parent = lay_at(r, path, (size_t)(dot - path))) < 0)
			return -1;
	}
	if (r->n == r->cap) {
		struct lay *nl;
		uint32_t cap = r->cap ? r->cap * 2 : 64;
		if ((nl = realloc(r->lays, cap * sizeof *nl)) == NULL)
			return -1;
		r->lays = nl;
		r->cap = cap;
	}
	L = &r->lays[r->n];
	memset(L, 0, sizeof *L);
	L->path = path;
	L->len = len;
	L->parent = len > 0 ? (int32_t)parent : -1;
	L->provenance = "inferred";
	if (t2m_posmap_add(&r->bypath, r->n, h) < 0)
		return -1;
	if (len > 0)
		r->lays[parent].flags |= L_CHILDREN;
	return r->n++;
}

/* The layer owning tensor t, or -1. */
static long
owner_lay(struct report *r, const struct t2m_tensor *t)
{
	const char *param;
	size_t plen;

	t2m_tensor_owner(t->name, &plen, &param);
	r->key.len = 0;
	t2m_buf_add(&r->key, t->name, plen);
	return r->key.nomem ? -1 : find_lay(r, r->key.p);
}

/* A module's provenance as an entry of the tree says it, or NULL. */
static const char *
tree_provenance(const struct t2m_attrs *a)
{
	const char *prov = t2m_attrs_get(a, "provenance");

	return prov ? prov : t2m_attrs_get(a, "class") ? "file" : NULL;
}

static int
again_order(const void *a, const void *b)
{
	const struct again *x = a, *y = b;

	if (x->module != y->module)
		return x->module < y->module ? -1 : 1;
	return (x->k > y->k) - (x->k < y->k);
}

/* The module tree's later entries of a path, sorted by module. */
static int
make_again(struct report *r)
{
	const struct t2m_manifest *m = r->in;
	struct again *na, *g;
	uint32_t k, cap;
	long first;

	for (k = 0; k < m->nmodules; k++) {
		first = t2m_manifest_find_module(m, m->modules[k].path);
		if (first < 0 || first == (long)k)
			continue;
		if (r->nagain == r->capagain) {
			cap = r->capagain ? r->capagain * 2 : 16;
			if ((na = realloc(r->again, cap * sizeof *na)) == NULL)
				return -1;
			r->again = na;
			r->capagain = cap;
		}
		g = &r->again[r->nagain++];
		g->module = (uint32_t)first;
		g->k = k;
		g->cls = t2m_attrs_get(&m->modules[k].attrs, "class");
		g->provenance = tree_provenance(&m->modules[k].attrs);
	}
	if (r->nagain > 0)
		qsort(r->again, r->nagain, sizeof *r->again, again_order);
	return 0;
}

/* The first later entry of module (its first entry), or NULL. */
static const struct again *
again_of(const struct report *r, uint32_t module)
{
	uint32_t lo = 0, hi = r->nagain, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (r->again[mid].module < module)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->nagain && r->again[lo].module == module ?
	    &r->again[lo] : NULL;
}

/*
 * The class the layer at path v ends with, asked while the plan makes
 * layer l: a later entry's in the tree, or the plan's when v is l's
 * module, or the first entry's.
 */
static const char *
class_of(const struct report *r, const char *v, const struct t2m_xlayer *l)
{
	const struct again *g;
	const char *cls = NULL;
	long k = t2m_manifest_find_module(r->in, v);

	/* again_of gives NULL when there are none (r->again NULL too). */
	for (g = k >= 0 ? again_of(r, (uint32_t)k) : NULL;
	    g && g < r->again + r->nagain && g->module == (uint32_t)k; g++)
		if (g->cls)
			cls = g->cls;
	if (cls)
		return cls;
	if (l->path && strcmp(v, l->path) == 0)
		return l->cls;
	return k >= 0 ? t2m_attrs_get(&r->in->modules[k].attrs, "class") :
	    NULL;
}

/* The later entries have their say. */
static void
settle_again(struct report *r)
{
	const struct again *g;
	uint32_t k;
	long L;

	for (k = 0; k < r->nagain; k++) {
		g = &r->again[k];
		if ((L = find_lay(r, r->in->modules[g->module].path)) < 0)
			continue;
		if (g->cls)
			r->lays[L].cls = g->cls;
		if (g->provenance)
			r->lays[L].provenance = g->provenance;
	}
}

static uint64_t
numel(const struct t2m_tensor *t)
{
	uint64_t n = 1;
	int d;

	for (d = 0; d < t->ndim; d++)
		n *= t->shape[d];
	return n;
}

/*
 * A converted stream's layers: a class for those the module tree leaves
 * without one, as the walk found it.  Its layers are those with a tensor
 * the report shows, which come in another order than the walk's.
 */
static int
name_layers(struct report *r, t2m_error *err)
{
	const struct resolved *v;
	struct lay *l;
	uint32_t k;
	long L;

	for (k = 0; k < r->nres; k++) {
		v = &r->res[k];
		L = owner_lay(r, &r->in->tensors[v->first]);
		if (r->key.nomem)
			return t2m_fail(err, "out of memory");
		if (L < 0)
			return t2m_fail(err, "internal: the walk's layer '%s' "
			    "has no tensor shown", r->in->tensors[v->first].name);
		l = &r->lays[L];
		if (l->cls == NULL && v->cls != NULL) {
			l->cls = v->cls;
			l->provenance = v->provenance;
		}
	}
	return 0;
}

/*
 * The layers as the manifest and the plan have them, the order they are
 * reported in: the module tree, then the modules owning tensors (the
 * plan's layers, unless it is converted already, when only shown tensors
 * count), each after its ancestors.  A module's class is its first
 * entry's in the tree, or the plan's (settle_again does the rest).
 */
static int
make_layers(struct report *r, t2m_error *err)
{
	const struct t2m_manifest *m = r->in;
	const struct t2m_tensor *t;
	const char *param, *prov;
	struct lay *l;
	uint32_t k, next = 0;
	size_t plen, most = 0;
	long L;
	int hidden;

	for (k = 0; k < m->nmodules; k++)
		if (strlen(m->modules[k].path) > most)
			most = strlen(m->modules[k].path);
	for (k = 0; k < m->ntensors; k++)
		if (strlen(m->tensors[k].name) > most)
			most = strlen(m->tensors[k].name);
	if (most > T2M_MAX_STRING)
		return t2m_fail(err, "internal: a path of %zu bytes", most);
	if ((r->cmp = malloc(most + 1)) == NULL ||
	    (r->name = malloc(most + 1)) == NULL)
		return t2m_fail(err, "out of memory");
	for (k = 0; k < m->nmodules; k++) {
		if ((L = lay_at(r, m->modules[k].path,
		    strlen(m->modules[k].path))) < 0)
			return t2m_fail(err, "out of memory");
		l = &r->lays[L];
		if (l->flags & L_MODULE)
			continue;
		l->flags |= L_MODULE;
		l->cls = t2m_attrs_get(&m->modules[k].attrs, "class");
		if ((prov = tree_provenance(&m->modules[k].attrs)) != NULL)
			l->provenance = prov;
	}
	for (k = 0; k < m->ntensors; k++) {
		t = &m->tensors[k];
		hidden = t2m_tensor_hidden(t);
		if (hidden && r->converted)
			continue;
		t2m_tensor_owner(t->name, &plen, &param);
		if ((L = lay_at(r, t->name, plen)) < 0)
			return t2m_fail(err, "out of memory");
		l = &r->lays[L];
		if (!r->converted && !(l->flags & L_OWNER)) {
			/* The plan's layers come in this order. */
			if (next == r->nres)
				goto astray;
			l->flags |= L_OWNER;
			l->cls = r->res[next].cls;
			l->provenance = r->res[next++].provenance;
		}
		if (!hidden)
			l->params += numel(t);
	}
	if (r->converted)
		return name_layers(r, err);
	if (next == r->nres)
		return 0;
astray:
	return t2m_fail(err, "internal: the plan's layers are not the "
	    "tensors' owners");
}

/*
 * A layer of the plan: its class, and LayerNorm over more than the last
 * axis in what it makes.  The module an output names is the layer's own,
 * or in a converted stream whatever its attribute says: then only the
 * module tree gives it a class.
 */
static int
learn(void *ctx, const struct t2m_xlayer *l, t2m_error *err)
{
	struct report *r = ctx;
	const struct t2m_tensor *t;
	struct resolved *nr;
	char msg[T2M_ERRLEN];
	const char *v, *cls;
	uint32_t k, cap;

	if (l->path != NULL) {
		if (r->nres == r->capres) {
			cap = r->capres ? r->capres * 2 : 64;
			if ((nr = realloc(r->res, cap * sizeof *nr)) == NULL)
				return t2m_fail(err, "out of memory");
			r->res = nr;
			r->capres = cap;
		}
		r->res[r->nres].cls = l->cls;
		r->res[r->nres].first = l->in[0];
		r->res[r->nres++].provenance = l->provenance;
	}
	for (k = 0; k < l->out->ntensors; k++) {
		t = &l->out->tensors[k];
		v = t2m_attrs_get(&t->attrs, "module");
		if (v == NULL || t->ndim <= 1 || t2m_tensor_hidden(t) ||
		    (cls = class_of(r, v, l)) == NULL ||
		    !strstr(cls, "LayerNorm"))
			continue;
		snprintf(msg, sizeof msg, "module '%s' (%s): normalizes %d "
		    "axes; MLX's LayerNorm normalizes the last one", v, cls,
		    t->ndim);
		push_blocker(r, &r->late, &r->nlate, &r->caplate,
		    "layernorm_shape", v, msg, 1);
	}
	return r->nomem ? t2m_fail(err, "out of memory") : 0;
}

/* Blockers a module shows on its own: a is NULL for a module the plan
 * adds, which has nothing but a class. */
static void
check_module(struct report *r, const char *path, const char *cls,
    const struct t2m_attrs *a)
{
	char msg[T2M_ERRLEN];
	const char *v;
	long g;

	if (cls == NULL)
		return;
	g = a && (v = t2m_attrs_get(a, "groups")) ? strtol(v, NULL, 10) : 1;
	if (a && (v = t2m_attrs_get(a, "add_zero_attn")) &&
	    strcmp(v, "true") == 0) {
		snprintf(msg, sizeof msg, "module '%s' (%s): "
		    "add_zero_attn has no MLX equivalent", path, cls);
		block_layer(r, "add_zero_attn", path, msg);
	}
	if (strstr(cls, "ConvTranspose") && g > 1) {
		snprintf(msg, sizeof msg, "module '%s' (%s): MLX's "
		    "ConvTranspose layers have no groups (groups=%ld)",
		    path, cls, g);
		block_layer(r, "grouped_conv_transpose", path, msg);
	}
	if (strstr(cls, "Conv3d") && !strstr(cls, "Transpose") && g > 1) {
		snprintf(msg, sizeof msg, "module '%s' (%s): MLX's "
		    "Conv3d has no groups (groups=%ld)", path, cls, g);
		block_layer(r, "grouped_conv3d", path, msg);
	}
	if (strstr(cls, "BatchNorm3d")) {
		snprintf(msg, sizeof msg, "module '%s' (%s): MLX's "
		    "BatchNorm takes at most 4-D input", path, cls);
		block_layer(r, "batchnorm3d", path, msg);
	}
}

/*
 * Blockers the module tree and the tensors show on their own, in the
 * order of the modules in the plan's output: the tree's, then those the
 * plan adds for tensors' owners.  The plan's class goes to a module's
 * first entry.
 */
static void
structural(struct report *r)
{
	const struct t2m_manifest *m = r->in;
	const struct t2m_tensor *t;
	char msg[T2M_ERRLEN];
	const char *cls, *path;
	struct lay *l;
	uint32_t k;
	long L;

	for (k = 0; k < m->nmodules; k++) {
		path = m->modules[k].path;
		L = find_lay(r, path);
		cls = t2m_attrs_get(&m->modules[k].attrs, "class");
		if (L >= 0 && (r->lays[L].flags & L_OWNER) &&
		    t2m_manifest_find_module(m, path) == (long)k)
			cls = r->lays[L].cls;
		check_module(r, path, cls, &m->modules[k].attrs);
	}
	for (k = 0; k < m->ntensors && !r->converted; k++) {
		if ((L = owner_lay(r, &m->tensors[k])) < 0)
			continue;
		l = &r->lays[L];
		if ((l->flags & (L_OWNER | L_MODULE | L_SEEN)) != L_OWNER)
			continue;
		l->flags |= L_SEEN;
		check_module(r, name_of(r, (uint32_t)L), l->cls, NULL);
	}
	for (k = 0; k < m->ntensors; k++) {
		t = &m->tensors[k];
		if (t->dtype == T2M_C64 || t->dtype == T2M_C128) {
			snprintf(msg, sizeof msg, "tensor '%s' is %s: complex "
			    "numbers do not port", t->name, t->dtype ==
			    T2M_C64 ? "complex64" : "complex128");
			add_blocker(r, "complex", t->name, msg);
		}
	}
	/* LayerNorm's, as the plan found them. */
	for (k = 0; k < r->nlate; k++) {
		push_blocker(r, &r->blk, &r->nblk, &r->capblk, r->late[k].kind,
		    r->late[k].where, r->late[k].msg, 1);
		free(r->late[k].kind);
		free(r->late[k].where);
		free(r->late[k].msg);
	}
	r->nlate = 0;
}

/* Blockers unpack noted: skipped tensors, TorchScript code. */
static void
noted(struct report *r)
{
	static const char *const keys[] = { "skipped", "torchscript.findings" };
	static const char *const what[] = {
		"inplace", "an in-place operation",
		"out", "an out= argument writes into a tensor",
		"item", "a tensor becomes a Python number",
		"hook", "a hook",
		"autograd", "a custom autograd function"
	};
	const cJSON *e, *kind, *where, *msg, *op;
	char buf[T2M_ERRLEN];
	const char *v, *desc;
	cJSON *j;
	int k, w;

	for (k = 0; k < 2; k++) {
		if ((v = t2m_attrs_get(&r->in->info, keys[k])) == NULL ||
		    (j = cJSON_Parse(v)) == NULL)
			continue;
		cJSON_ArrayForEach(e, j) {
			kind = cJSON_GetObjectItem(e, "kind");
			where = cJSON_GetObjectItem(e, "where");
			msg = cJSON_GetObjectItem(e, "message");
			op = cJSON_GetObjectItem(e, "op");
			if (!cJSON_IsString(kind) || !cJSON_IsString(where))
				continue;
			if (k == 0) {
				add_blocker(r, kind->valuestring,
				    where->valuestring, cJSON_IsString(msg) ?
				    msg->valuestring : "skipped");
				continue;
			}
			for (desc = "", w = 0; w < 10; w += 2)
				if (strcmp(what[w], kind->valuestring) == 0)
					desc = what[w + 1];
			snprintf(buf, sizeof buf, "%s: %s (%s)",
			    where->valuestring, desc, cJSON_IsString(op) ?
			    op->valuestring : "?");
			add_blocker(r, kind->valuestring, where->valuestring,
			    buf);
		}
		cJSON_Delete(j);
	}
}

static int
tie_order(const void *a, const void *b)
{
	const struct tie *x = a, *y = b;

	return (x->lay > y->lay) - (x->lay < y->lay);
}

/* Each layer a blocker names gets the first that does. */
static int
attach_blocks(struct report *r)
{
	uint32_t k, n = 0;
	long L;

	for (k = 0; k < r->nblk; k++)
		n += r->blk[k].layer;
	if (n == 0)
		return 0;
	if ((r->tied = malloc(n * sizeof *r->tied)) == NULL)
		return -1;
	for (k = 0; k < r->nblk; k++)
		if (r->blk[k].layer &&
		    (L = find_lay(r, r->blk[k].where)) >= 0 &&
		    !(r->lays[L].flags & L_BLOCKED)) {
			r->lays[L].flags |= L_BLOCKED;
			r->tied[r->ntied].lay = (uint32_t)L;
			r->tied[r->ntied++].blk = k;
		}
	qsort(r->tied, r->ntied, sizeof *r->tied, tie_order);
	return 0;
}

/* The first blocker naming layer k, which has one. */
static const struct blocker *
block_of(const struct report *r, uint32_t k)
{
	uint32_t lo = 0, hi = r->ntied, mid;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (r->tied[mid].lay <= k)
			lo = mid;
		else
			hi = mid;
	}
	return &r->blk[r->tied[lo].blk];
}

/*
 * Decide every layer's coverage in one pass from the last layer back: a
 * layer is made after its parent (lay_at), so when a layer is reached
 * all its children are decided, and uncovered[k] counts those of k's
 * found not covered.
 */
static int
settle_coverage(struct report *r)
{
	uint32_t k, *uncovered;
	struct lay *L;
	int c;

	if ((uncovered = calloc(r->n + 1, sizeof *uncovered)) == NULL)
		return -1;
	for (k = r->n; k-- > 0;) {
		L = &r->lays[k];
		c = (L->cls && t2m_class_rule(L->cls)) ||
		    ((L->flags & L_CHILDREN) && uncovered[k] == 0);
		if (c)
			L->flags |= L_COVERED;
		else if (L->parent >= 0)
			uncovered[L->parent]++;
	}
	free(uncovered);
	return 0;
}

static int
covered(const struct report *r, uint32_t k)
{
	return (r->lays[k].flags & L_COVERED) != 0;
}

/* The counts the report opens with: tensors by dtype, coverage. */
static void
tally(struct report *r)
{
	const struct t2m_tensor *t;
	uint32_t k;

	for (k = 0; k < r->in->ntensors; k++) {
		t = &r->in->tensors[k];
		if (t2m_tensor_hidden(t))
			continue;
		r->count++;
		r->total += numel(t);
		r->bytes += t->nbytes;
		r->dcount[t->dtype]++;
		r->dparams[t->dtype] += numel(t);
		r->dbytes[t->dtype] += t->nbytes;
		if (t2m_tensor_tie(r->in, k) >= 0) {
			r->nties++;
			r->tbytes += t->nbytes;
		}
	}
	for (k = 0; k < r->n; k++) {
		/* parameters count where their owner is covered */
		if (covered(r, k))
			r->cov += r->lays[k].params;
		if (r->lays[k].len == 0)
			continue;	/* the root, as torch2mlx counts */
		r->nlay++;
		if (covered(r, k))
			r->ncov++;
	}
}

/* Layer k's status, and in *reason why, when it says more (or NULL). */
static const char *
status_of(const struct report *r, uint32_t k, const char **reason)
{
	const struct lay *L = &r->lays[k];
	const struct t2m_rule *rule = L->cls ? t2m_class_rule(L->cls) : NULL;

	*reason = NULL;
	if (L->flags & L_BLOCKED) {
		*reason = block_of(r, k)->msg;
		return "unsupported";
	}
	if (rule) {
		if (rule->status == ST_CONVERTIBLE)
			return "convertible";
		*reason = rule->note;
		return rule->status == ST_ATTENTION ? "attention" :
		    "unsupported";
	}
	if (covered(r, k)) {
		if (L->params == 0)
			return "convertible";
		*reason = "holds parameters of its own, converted unchanged: "
		    "the MLX module must declare them";
		return "attention";
	}
	*reason = L->cls ? "class not in the rule table" :
	    "no class known for it";
	return "unknown";
}

/* The layer table and what only it needs go once they are written. */
static void
drop_layers(struct report *r)
{
	free(r->lays);
	free(r->again);
	free(r->tied);
	free(r->cmp);
	free(r->name);
	r->lays = NULL;
	r->again = NULL;
	r->tied = NULL;
	r->cmp = r->name = NULL;
	r->n = r->cap = r->nagain = r->capagain = r->ntied = 0;
	t2m_posmap_free(&r->bypath);
}

/* Hand what b holds to out once it is past a few pages, or when forced. */
static int
spill(struct report *r, int force, t2m_error *err)
{
	struct t2m_buf *b = r->b;

	if (r->out == NULL || (b->len < ((size_t)64 << 10) && !force))
		return 0;
	if (b->nomem)
		return t2m_fail(err, "out of memory");
	if (r->out(r->ctx, b->p, b->len, err) < 0)
		return -1;
	b->len = 0;
	return 0;
}

/* ---- JSON ---- */

static void
json_shape(struct t2m_buf *b, const struct t2m_tensor *t)
{
	int d;

	t2m_buf_add(b, "[", 1);
	for (d = 0; d < t->ndim; d++)
		t2m_buf_printf(b, d ? ",%llu" : "%llu",
		    (unsigned long long)t->shape[d]);
	t2m_buf_add(b, "]", 1);
}

static void
json_str_or_null(struct t2m_buf *b, const char *s)
{
	if (s)
		t2m_buf_json(b, s);
	else
		t2m_buf_str(b, "null");
}

/* Input tensor t, the k-th of layer l: what it becomes. */
static void
plan_entry(struct t2m_buf *b, const struct t2m_tensor *t,
    const struct t2m_xlayer *l, uint32_t k)
{
	const struct t2m_tensor *o;
	const char *tie;
	uint32_t j;

	t2m_buf_str(b, "{\"name\":");
	t2m_buf_json(b, t->name);
	t2m_buf_printf(b, ",\"dtype\":\"%s\",\"shape\":",
	    t2m_dtype_name(t->dtype));
	json_shape(b, t);
	if ((tie = t2m_attrs_get(&t->attrs, "t2m.tie")) != NULL) {
		t2m_buf_str(b, ",\"tie\":");
		t2m_buf_json(b, tie);
	}
	t2m_buf_str(b, ",\"rule\":");
	json_str_or_null(b, l->at[k + 1] > l->at[k] ? t2m_attrs_get(
	    &l->out->tensors[l->outs[l->at[k]]].attrs, "rule") : NULL);
	t2m_buf_str(b, ",\"to\":[");
	for (j = l->at[k]; j < l->at[k + 1]; j++) {
		o = &l->out->tensors[l->outs[j]];
		t2m_buf_str(b, j > l->at[k] ? ",{\"name\":" : "{\"name\":");
		t2m_buf_json(b, o->name);
		t2m_buf_printf(b, ",\"dtype\":\"%s\",\"shape\":",
		    t2m_dtype_name(o->dtype));
		json_shape(b, o);
		if (t2m_tensor_hidden(o))
			t2m_buf_str(b, ",\"hidden\":true");
		t2m_buf_add(b, "}", 1);
	}
	t2m_buf_str(b, "]}");
}

/* The first tensor from i on that the report shows. */
static uint32_t
shown(const struct report *r, uint32_t i)
{
	while (i < r->in->ntensors && t2m_tensor_hidden(&r->in->tensors[i]))
		i++;
	return i;
}

/* The plan of tensor next is in b: on to the one after, writing those
 * made before their turn as it comes. */
static int
advance(struct report *r, t2m_error *err)
{
	char *h;

	for (;;) {
		r->next = shown(r, r->next + 1);
		if (spill(r, 0, err) < 0)
			return -1;
		if (r->held == NULL || r->next >= r->in->ntensors ||
		    (h = r->held[r->next]) == NULL)
			return 0;
		t2m_buf_add(r->b, ",", 1);
		t2m_buf_str(r->b, h);
		free(h);
		r->held[r->next] = NULL;
	}
}

/*
 * The plan, a layer at a time, in the order of the tensors: a module
 * whose tensors are not all together (a parent's after its children's)
 * has its later ones held until their turn.
 */
static int
write_plan(void *ctx, const struct t2m_xlayer *l, t2m_error *err)
{
	struct report *r = ctx;
	const struct t2m_tensor *t;
	struct t2m_buf e;
	uint32_t k, i;

	for (k = 0; k < l->nin; k++) {
		i = l->in[k];
		t = &r->in->tensors[i];
		if (t2m_tensor_hidden(t))
			continue;
		if (i != r->next) {
			if (r->held == NULL && (r->held = calloc(
			    r->in->ntensors, sizeof *r->held)) == NULL)
				return t2m_fail(err, "out of memory");
			memset(&e, 0, sizeof e);
			plan_entry(&e, t, l, k);
			if (e.nomem) {
				t2m_buf_free(&e);
				return t2m_fail(err, "out of memory");
			}
			r->held[i] = e.p;
			continue;
		}
		if (!r->first)
			t2m_buf_add(r->b, ",", 1);
		r->first = 0;
		plan_entry(r->b, t, l, k);
		if (advance(r, err) < 0)
			return -1;
	}
	return 0;
}

static int
write_json(struct report *r, const struct t2m_types *types, t2m_error *err)
{
	struct t2m_xform_opts xo = { 0 };
	struct t2m_buf *b = r->b;
	const struct t2m_rule *rule;
	const char *st, *reason;
	uint32_t k;
	int first, dt;

	t2m_buf_str(b, "{\"schema\":1,\"source\":{\"path\":");
	json_str_or_null(b, t2m_attrs_get(&r->in->info, "source"));
	t2m_buf_str(b, ",\"format\":");
	json_str_or_null(b, t2m_attrs_get(&r->in->info, "format"));
	t2m_buf_str(b, ",\"torch_version\":null,\"layout\":");
	json_str_or_null(b, t2m_manifest_mlx(r->in) ? "mlx" : "pytorch");
	t2m_buf_str(b, "},");

	t2m_buf_printf(b, "\"tensors\":{\"count\":%u,\"parameters\":"
	    "%llu,\"bytes\":%llu,\"dtypes\":{", r->count,
	    (unsigned long long)r->total, (unsigned long long)r->bytes);
	for (first = 1, dt = 1; dt < T2M_DTYPE_END; dt++)
		if (r->dcount[dt]) {
			t2m_buf_printf(b, "%s\"%s\":{\"count\":%llu,"
			    "\"parameters\":%llu,\"bytes\":%llu}",
			    first ? "" : ",", t2m_dtype_name(dt),
			    (unsigned long long)r->dcount[dt],
			    (unsigned long long)r->dparams[dt],
			    (unsigned long long)r->dbytes[dt]);
			first = 0;
		}
	t2m_buf_printf(b, "},\"ties\":{\"count\":%u,\"bytes\":%llu}},",
	    r->nties, (unsigned long long)r->tbytes);

	t2m_buf_str(b, "\"layers\":[");
	for (first = 1, k = 0; k < r->n; k++) {
		if (r->lays[k].len == 0)
			continue;	/* the root, as torch2mlx counts */
		st = status_of(r, k, &reason);
		rule = r->lays[k].cls ? t2m_class_rule(r->lays[k].cls) : NULL;
		t2m_buf_str(b, first ? "{\"path\":" : ",{\"path\":");
		first = 0;
		t2m_buf_json(b, name_of(r, k));
		t2m_buf_str(b, ",\"torch\":");
		json_str_or_null(b, r->lays[k].cls);
		t2m_buf_str(b, ",\"mlx\":");
		json_str_or_null(b, rule ? rule->mlx : NULL);
		t2m_buf_str(b, ",\"rule\":");
		json_str_or_null(b, rule ? t2m_rule_kind_name(rule->kind) :
		    NULL);
		t2m_buf_str(b, ",\"status\":");
		t2m_buf_json(b, st);
		t2m_buf_str(b, ",\"provenance\":");
		t2m_buf_json(b, r->lays[k].cls ? r->lays[k].provenance :
		    "inferred");
		t2m_buf_printf(b, ",\"parameters\":%llu",
		    (unsigned long long)r->lays[k].params);
		if (reason) {
			t2m_buf_str(b, ",\"reason\":");
			t2m_buf_json(b, reason);
		}
		t2m_buf_add(b, "}", 1);
		if (spill(r, 0, err) < 0)
			return -1;
	}
	t2m_buf_str(b, "],");
	drop_layers(r);

	t2m_buf_printf(b, "\"coverage\":{\"layers\":%.6g,\"parameters\":"
	    "%.6g},", r->nlay ? (double)r->ncov / r->nlay : 1.0,
	    r->total ? (double)r->cov / (double)r->total : 1.0);

	t2m_buf_str(b, "\"blockers\":[");
	for (k = 0; k < r->nblk; k++) {
		t2m_buf_str(b, k ? ",{\"kind\":" : "{\"kind\":");
		t2m_buf_json(b, r->blk[k].kind);
		t2m_buf_str(b, ",\"where\":");
		t2m_buf_json(b, r->blk[k].where);
		t2m_buf_str(b, ",\"message\":");
		t2m_buf_json(b, r->blk[k].msg);
		t2m_buf_add(b, "}", 1);
		if (spill(r, 0, err) < 0)
			return -1;
	}
	t2m_buf_str(b, "],");

	/* plan: each tensor, what it becomes (blockers and warnings were
	 * heard the first time) */
	t2m_buf_str(b, "\"plan\":[");
	xo.types = types;
	xo.blocker = block_again;
	xo.ctx = r;
	r->next = shown(r, 0);
	r->first = 1;
	if (t2m_xform_walk(r->in, &xo, write_plan, err) < 0)
		return -1;
	if (r->next != r->in->ntensors)
		return t2m_fail(err, "internal: the plan of '%s' is missing",
		    r->in->tensors[r->next].name);

	t2m_buf_str(b, "],\"warnings\":[");
	for (st = r->warnings.p, k = 0; k < r->nwarnings; k++) {
		if (k)
			t2m_buf_add(b, ",", 1);
		t2m_buf_json(b, st);
		st += strlen(st) + 1;
	}
	t2m_buf_str(b, "]}\n");
	return 0;
}

/* ---- the table ---- */

/* The last part of a qualified class name, or "-". */
static const char *
short_class(const char *q)
{
	const char *dot;

	if (q == NULL)
		return "-";
	dot = strrchr(q, '.');
	return dot ? dot + 1 : q;
}

static const char *
mlx_name(const char *q)
{
	if (q == NULL)
		return "-";
	return strncmp(q, "mlx.nn.", 7) == 0 ? q + 7 : q;
}

static void
widen(int *w, const char *s)
{
	int n = (int)strlen(s);

	if (n > *w)
		*w = n > 48 ? 48 : n;
}

/* A fraction as the JSON report has it, read back: the table shows the
 * same number. */
static double
as_written(double v)
{
	char s[64];

	snprintf(s, sizeof s, "%.6g", v);
	return strtod(s, NULL);
}

/* The report for people: a summary, the layers, blockers, warnings. */
static int
write_table(struct report *r, t2m_error *err)
{
	struct t2m_buf *b = r->b;
	const struct t2m_rule *rule;
	const char *s, *st, *reason;
	int w[5] = { 5, 5, 3, 4, 6 }, dt;
	uint32_t k;

	s = t2m_attrs_get(&r->in->info, "format");
	t2m_buf_printf(b, "source    %s (%s, %s layout)\n",
	    t2m_attrs_get(&r->in->info, "source") ?
	    t2m_attrs_get(&r->in->info, "source") : "?", s ? s : "?",
	    t2m_manifest_mlx(r->in) ? "mlx" : "pytorch");
	t2m_buf_printf(b, "tensors   %.0f (%.0f parameters, %.0f bytes:",
	    (double)r->count, (double)r->total, (double)r->bytes);
	for (dt = 1; dt < T2M_DTYPE_END; dt++)
		if (r->dcount[dt])
			t2m_buf_printf(b, " %s %.0f", t2m_dtype_name(dt),
			    (double)r->dcount[dt]);
	t2m_buf_str(b, ")\n");
	if (r->nties)
		t2m_buf_printf(b, "ties      %u of them (%.0f bytes) are "
		    "other tensors' bytes\n", r->nties, (double)r->tbytes);
	t2m_buf_printf(b, "coverage  %.1f%% of layers, %.1f%% of "
	    "parameters\n", 100 * as_written(r->nlay ?
	    (double)r->ncov / r->nlay : 1.0), 100 * as_written(r->total ?
	    (double)r->cov / (double)r->total : 1.0));
	/* Column widths from the content. */
	for (k = 0; k < r->n; k++) {
		if (r->lays[k].len == 0)
			continue;
		rule = r->lays[k].cls ? t2m_class_rule(r->lays[k].cls) : NULL;
		widen(&w[0], name_of(r, k));
		widen(&w[1], short_class(r->lays[k].cls));
		widen(&w[2], mlx_name(rule ? rule->mlx : NULL));
		widen(&w[3], rule ? t2m_rule_kind_name(rule->kind) : "-");
		widen(&w[4], status_of(r, k, &reason));
	}
	t2m_buf_printf(b, "\n%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0],
	    "LAYER", w[1], "TORCH", w[2], "MLX", w[3], "RULE", w[4], "STATUS",
	    "FROM");
	for (k = 0; k < r->n; k++) {
		if (r->lays[k].len == 0)
			continue;
		rule = r->lays[k].cls ? t2m_class_rule(r->lays[k].cls) : NULL;
		st = status_of(r, k, &reason);
		t2m_buf_printf(b, "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0],
		    name_of(r, k), w[1], short_class(r->lays[k].cls), w[2],
		    mlx_name(rule ? rule->mlx : NULL), w[3], rule ?
		    t2m_rule_kind_name(rule->kind) : "-", w[4], st,
		    r->lays[k].cls ? r->lays[k].provenance : "inferred");
		if (reason && strcmp(st, "convertible") != 0)
			t2m_buf_printf(b, "%*s  %s\n", w[0], "", reason);
		if (spill(r, 0, err) < 0)
			return -1;
	}
	t2m_buf_printf(b, "\n%u blocker%s\n", r->nblk, r->nblk == 1 ? "" :
	    "s");
	for (k = 0; k < r->nblk; k++) {
		t2m_buf_printf(b, "  %-14s %s\n", r->blk[k].kind,
		    r->blk[k].msg);
		if (spill(r, 0, err) < 0)
			return -1;
	}
	if (r->nwarnings > 0) {
		t2m_buf_printf(b, "\n%u warning%s\n", r->nwarnings,
		    r->nwarnings == 1 ? "" : "s");
		for (s = r->warnings.p, k = 0; k < r->nwarnings; k++) {
			t2m_buf_printf(b, "  %s\n", s);
			s += strlen(s) + 1;
		}
	}
	return 0;
}

int
t2m_analyze(const struct t2m_manifest *m, const struct t2m_types *types,
    int form, struct t2m_buf *b, t2m_error *err)
{
	return t2m_analyze_to(m, types, form, b, NULL, NULL, err);
}

int
t2m_analyze_to(const struct t2m_manifest *m, const struct t2m_types *types,
    int form, struct t2m_buf *b, int (*out)(void *ctx, const void *p,
    size_t n, t2m_error *err), void *ctx, t2m_error *err)
{
	struct t2m_xform_opts xo = { 0 };
	struct report r;
	uint32_t k;
	int rc = -1;

	memset(&r, 0, sizeof r);
	t2m_posmap_init(&r.bypath, lay_path, &r);
	r.in = m;
	r.converted = t2m_manifest_mlx(m);
	r.b = b;
	r.out = out;
	r.ctx = ctx;
	if (make_again(&r) < 0)
		goto nomem;
	/* The plan, leniently: blockers go to the report. */
	xo.types = types;
	xo.warn = add_warning;
	xo.blocker = block_layer;
	xo.ctx = &r;
	if (t2m_xform_walk(m, &xo, learn, err) < 0)
		goto out;
	/*
	 * Room for about a layer per module and tensor from the start:
	 * grown from a few, the array would be copied over and over,
	 * leaving holes behind.  Pages never used cost nothing.
	 */
	r.cap = m->nmodules + m->ntensors + 64;
	if ((r.lays = malloc((size_t)r.cap * sizeof *r.lays)) == NULL)
		goto nomem;
	if (make_layers(&r, err) < 0)
		goto out;
	free(r.res);
	r.res = NULL;
	structural(&r);
	noted(&r);
	settle_again(&r);
	if (attach_blocks(&r) < 0 || settle_coverage(&r) < 0)
		goto nomem;
	tally(&r);
	if (r.nomem || r.warnings.nomem)
		goto nomem;
	if ((form == T2M_REPORT_TABLE ? write_table(&r, err) :
	    write_json(&r, types, err)) < 0)
		goto out;
	if (b->nomem)
		goto nomem;
	if (spill(&r, 1, err) < 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	t2m_fail(err, "out of memory");
out:
	drop_layers(&r);
	for (k = 0; k < r.nblk; k++) {
		free(r.blk[k].kind);
		free(r.blk[k].where);
		free(r.blk[k].msg);
	}
	for (k = 0; k < r.nlate; k++) {
		free(r.late[k].kind);
		free(r.late[k].where);
		free(r.late[k].msg);
	}
	for (k = 0; r.held && k < m->ntensors; k++)
		free(r.held[k]);
	free(r.blk);
	free(r.late);
	free(r.held);
	free(r.res);
	t2m_buf_free(&r.key);
	t2m_buf_free(&r.warnings);
	return rc;
}
