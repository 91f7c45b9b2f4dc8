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
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "internal.h"
#include "rules.h"
#include "transpose.h"

void
dbg_rss(const char *w)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "VmHWM", 5) == 0 || strncmp(line, "Rss", 3) == 0)
			fprintf(stderr, "%s: %s", w, line);
	if (f) fclose(f);
}

struct lay {			/* one per module: 48 bytes, kept so */
	const char *path;	/* a module's, or in the report's blocks */
	const char *cls;	/* NULL: not known */
	const char *provenance;
	uint64_t params;	/* elements of the tensors it owns */
	int parent;		/* -1 for the root's children */
	int nchildren;
	int covered;		/* 1 covered; see settle_coverage */
	uint32_t block;		/* 1 + the pending blocker that is the
				   first of its own, or 0 */
};

struct report {
	const struct t2m_manifest *in, *out;
	struct t2m_xform *x;
	struct lay *lays;
	uint32_t n, cap;
	struct t2m_posmap bypath;
	struct t2m_buf key;	/* a path being looked up */
	struct block *paths;	/* the paths of ancestors made here */
	struct t2m_buf blockers, warnings;
	int nblockers, nwarnings;
	struct pending {	/* blockers naming a layer, attached later */
		char *where, *msg;
	} *pend;
	uint32_t npend, cappend;
};

static void
add_blocker(struct report *r, const char *kind, const char *where,
    const char *msg)
{
	t2m_buf_add(&r->blockers, r->nblockers++ ? "," : "[", 1);
	t2m_buf_str(&r->blockers, "{\"kind\":");
	t2m_buf_json(&r->blockers, kind);
	t2m_buf_str(&r->blockers, ",\"where\":");
	t2m_buf_json(&r->blockers, where);
	t2m_buf_str(&r->blockers, ",\"message\":");
	t2m_buf_json(&r->blockers, msg);
	t2m_buf_add(&r->blockers, "}", 1);
}

static void
add_warning(void *ctx, const char *msg)
{
	struct report *r = ctx;

	t2m_buf_add(&r->warnings, r->nwarnings++ ? "," : "[", 1);
	t2m_buf_json(&r->warnings, msg);
}

/* Paths made here, a few pages to a block, freed together. */
struct block {
	struct block *next;
	size_t used, cap;
	char data[];
};

#define BLOCK 16384

/* A copy of s (n bytes, NUL added) in r's blocks, or NULL. */
static const char *
keep_path(struct report *r, const char *s, size_t n)
{
	struct block *b = r->paths;
	size_t cap;
	char *p;

	if (b == NULL || b->cap - b->used < n + 1) {
		cap = n + 1 > BLOCK ? n + 1 : BLOCK;
		if ((b = malloc(sizeof *b + cap)) == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = r->paths;
		r->paths = b;
	}
	p = b->data + b->used;
	memcpy(p, s, n);
	p[n] = '\0';
	b->used += n + 1;
	return p;
}

static const char *
lay_path(const void *ctx, uint32_t pos)
{
	return ((const struct report *)ctx)->lays[pos].path;
}

static long
find_lay(struct report *r, const char *path)
{
	return t2m_posmap_get(&r->bypath, path, t2m_hash_str(path));
}

/*
 * The layer at path[0..len), made (with its ancestors) when missing.
 * When path ends there it outlives the report (a module's path) and is
 * kept as it is; a prefix of it is copied.
 */
static long
lay_at(struct report *r, const char *path, size_t len)
{
	const char *dot, *p;
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
	if (path[len] == '\0')
		p = path;
	else if ((p = keep_path(r, path, len)) == NULL)
		return -1;
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
	L->path = p;
	L->parent = len > 0 ? (int)parent : -1;
	L->covered = 0;
	L->provenance = "inferred";
	if (t2m_posmap_add(&r->bypath, r->n, h) < 0)
		return -1;
	if (len > 0)
		r->lays[parent].nchildren++;
	return r->n++;
}

/* A blocker of a layer: reported, and (once the layers are known) the
 * layer's status says so. */
static void
block_layer(void *ctx, const char *kind, const char *where, const char *msg)
{
	struct report *r = ctx;
	struct pending *np;

	add_blocker(r, kind, where, msg);
	if (r->npend == r->cappend) {
		uint32_t cap = r->cappend ? r->cappend * 2 : 16;
		if ((np = realloc(r->pend, cap * sizeof *np)) == NULL)
			return;
		r->pend = np;
		r->cappend = cap;
	}
	r->pend[r->npend].where = strdup(where);
	r->pend[r->npend].msg = strdup(msg);
	if (r->pend[r->npend].where && r->pend[r->npend].msg)
		r->npend++;
	else {
		free(r->pend[r->npend].where);
		free(r->pend[r->npend].msg);
	}
}

static void
attach_blocks(struct report *r)
{
	uint32_t k;
	long L;

	for (k = 0; k < r->npend; k++)
		if ((L = find_lay(r, r->pend[k].where)) >= 0 &&
		    r->lays[L].block == 0)
			r->lays[L].block = k + 1;
}

/*
 * Decide every layer's coverage in one pass from the last layer back: a
 * layer is made after its parent (lay_at), so when a layer is reached
 * all its children are decided.  Until then, covered counts the
 * children found not covered.
 */
static void
settle_coverage(struct report *r)
{
	struct lay *L;
	uint32_t k;

	for (k = 0; k < r->n; k++)
		r->lays[k].covered = 0;
	for (k = r->n; k-- > 0;) {
		L = &r->lays[k];
		if (L->cls && t2m_class_rule(L->cls))
			L->covered = 1;
		else
			L->covered = L->nchildren > 0 && L->covered == 0;
		if (L->parent >= 0 && !L->covered)
			r->lays[L->parent].covered++;
	}
}

static int
covered(const struct report *r, uint32_t k)
{
	return r->lays[k].covered == 1;
}

/* Blockers the module tree and the tensors show on their own. */
static void
structural(struct report *r)
{
	const struct t2m_manifest *m = r->out;
	const struct t2m_tensor *t;
	char msg[T2M_ERRLEN];
	const char *cls, *v;
	uint32_t k;
	long g;

	for (k = 0; k < m->nmodules; k++) {
		const struct t2m_attrs *a = &m->modules[k].attrs;
		const char *path = m->modules[k].path;
		cls = t2m_attrs_get(a, "class");
		if (cls == NULL)
			continue;
		g = (v = t2m_attrs_get(a, "groups")) ? strtol(v, NULL, 10) : 1;
		if ((v = t2m_attrs_get(a, "add_zero_attn")) &&
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
	for (k = 0; k < r->in->ntensors; k++) {
		t = &r->in->tensors[k];
		if (t->dtype == T2M_C64 || t->dtype == T2M_C128) {
			snprintf(msg, sizeof msg, "tensor '%s' is %s: complex "
			    "numbers do not port", t->name, t->dtype ==
			    T2M_C64 ? "complex64" : "complex128");
			add_blocker(r, "complex", t->name, msg);
		}
	}
	/* LayerNorm over more than the last axis. */
	for (k = 0; k < r->out->ntensors; k++) {
		t = &r->out->tensors[k];
		v = t2m_attrs_get(&t->attrs, "module");
		if (v == NULL || (g = find_lay(r, v)) < 0 ||
		    r->lays[g].cls == NULL ||
		    !strstr(r->lays[g].cls, "LayerNorm") || t->ndim <= 1 ||
		    t2m_tensor_hidden(t))
			continue;
		snprintf(msg, sizeof msg, "module '%s' (%s): normalizes %d "
		    "axes; MLX's LayerNorm normalizes the last one", v,
		    r->lays[g].cls, t->ndim);
		block_layer(r, "layernorm_shape", v, msg);
	}
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

/* Layer k's status, and in *reason why, when it says more (or NULL). */
static const char *
status_of(const struct report *r, uint32_t k, int *params_own,
    const char **reason)
{
	const struct lay *L = &r->lays[k];
	const struct t2m_rule *rule = L->cls ? t2m_class_rule(L->cls) : NULL;

	*params_own = L->params > 0;
	*reason = NULL;
	if (L->block) {
		*reason = r->pend[L->block - 1].msg;
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

static uint64_t
numel(const struct t2m_tensor *t)
{
	uint64_t n = 1;
	int d;

	for (d = 0; d < t->ndim; d++)
		n *= t->shape[d];
	return n;
}

/* Hand what b holds to out once it is past a few pages, or when forced. */
static int
spill(struct t2m_buf *b, int (*out)(void *, const void *, size_t,
    t2m_error *), void *ctx, int force, t2m_error *err)
{
	if (out == NULL || (b->len < ((size_t)64 << 10) && !force))
		return 0;
	if (b->nomem)
		return t2m_fail(err, "out of memory");
	if (out(ctx, b->p, b->len, err) < 0)
		return -1;
	b->len = 0;
	return 0;
}

int
t2m_analyze(const struct t2m_manifest *m, const struct t2m_types *types,
    struct t2m_buf *b, t2m_error *err)
{
	return t2m_analyze_to(m, types, b, NULL, NULL, err);
}

int
t2m_analyze_to(const struct t2m_manifest *m, const struct t2m_types *types,
    struct t2m_buf *b, int (*out)(void *ctx, const void *p, size_t n,
    t2m_error *err), void *ctx, t2m_error *err)
{
	struct report r;
	struct t2m_xform_opts xo = { 0 };
	const struct t2m_tensor *t;
	uint64_t total = 0, cov = 0, bytes = 0, n;
	uint32_t k, i, ncov = 0, nlay = 0, no;
	const uint32_t *outs;
	const char *cls, *path, *st, *reason;
	size_t plen;
	int rc = -1, first, own, dt;
	long L;

	memset(&r, 0, sizeof r);
	t2m_posmap_init(&r.bypath, lay_path, &r);
	r.in = m;
	/*
	 * Room for about a layer per module and tensor from the start,
	 * before the plan comes and goes: grown from a few, the array would
	 * be copied over and over, leaving holes behind.  Pages never used
	 * cost nothing.
	 */
	r.cap = m->nmodules + m->ntensors + 64;
	if ((r.lays = malloc((size_t)r.cap * sizeof *r.lays)) == NULL)
		goto nomem;
	xo.types = types;
	xo.warn = add_warning;
	xo.ctx = &r;
	/* First the plan, leniently: blockers go to the report. */
	xo.blocker = block_layer;
	xo.plan_only = 1;
	dbg_rss("before plan");
	if ((r.x = t2m_xform_plan(m, &xo, &r.out, err)) == NULL)
		goto out;
	dbg_rss("after plan");
	/* The layers: module tree and tensor owners, with their ancestors. */
	for (k = 0; k < r.out->nmodules; k++) {
		path = r.out->modules[k].path;
		if ((L = lay_at(&r, path, strlen(path))) < 0)
			goto nomem;
		if ((cls = t2m_attrs_get(&r.out->modules[k].attrs, "class")))
			r.lays[L].cls = cls;
		if ((st = t2m_attrs_get(&r.out->modules[k].attrs,
		    "provenance")))
			r.lays[L].provenance = st;
		else if (cls)
			r.lays[L].provenance = "file";
	}
	for (k = 0; k < m->ntensors; k++) {
		t = &m->tensors[k];
		if (t2m_tensor_hidden(t))
			continue;
		t2m_tensor_owner(t->name, &plen, &path);
		if ((L = lay_at(&r, t->name, plen)) < 0)
			goto nomem;
		r.lays[L].params += numel(t);
	}
	dbg_rss("lays built");
	structural(&r);
	noted(&r);
	attach_blocks(&r);
	settle_coverage(&r);

	t2m_buf_str(b, "{\"schema\":1,\"source\":{\"path\":");
	json_str_or_null(b, t2m_attrs_get(&m->info, "source"));
	t2m_buf_str(b, ",\"format\":");
	json_str_or_null(b, t2m_attrs_get(&m->info, "format"));
	t2m_buf_str(b, ",\"torch_version\":null,\"layout\":");
	json_str_or_null(b, t2m_attrs_get(&m->meta, "t2m.layout") ?
	    "mlx" : "pytorch");
	t2m_buf_str(b, "},");

	/* tensors */
	{
		uint64_t dcount[T2M_DTYPE_END] = { 0 }, dparams[T2M_DTYPE_END] =
		    { 0 }, dbytes[T2M_DTYPE_END] = { 0 };
		uint32_t count = 0;
		for (k = 0; k < m->ntensors; k++) {
			t = &m->tensors[k];
			if (t2m_tensor_hidden(t))
				continue;
			count++;
			total += numel(t);
			bytes += t->nbytes;
			dcount[t->dtype]++;
			dparams[t->dtype] += numel(t);
			dbytes[t->dtype] += t->nbytes;
		}
		t2m_buf_printf(b, "\"tensors\":{\"count\":%u,\"parameters\":"
		    "%llu,\"bytes\":%llu,\"dtypes\":{", count,
		    (unsigned long long)total, (unsigned long long)bytes);
		for (first = 1, dt = 1; dt < T2M_DTYPE_END; dt++)
			if (dcount[dt]) {
				t2m_buf_printf(b, "%s\"%s\":{\"count\":%llu,"
				    "\"parameters\":%llu,\"bytes\":%llu}",
				    first ? "" : ",", t2m_dtype_name(dt),
				    (unsigned long long)dcount[dt],
				    (unsigned long long)dparams[dt],
				    (unsigned long long)dbytes[dt]);
				first = 0;
			}
		t2m_buf_str(b, "}},");
	}

	/* layers */
	t2m_buf_str(b, "\"layers\":[");
	for (first = 1, k = 0; k < r.n; k++) {
		const struct t2m_rule *rule;
		if (*r.lays[k].path == '\0')
			continue;	/* the root, as torch2mlx counts */
		st = status_of(&r, k, &own, &reason);
		rule = r.lays[k].cls ? t2m_class_rule(r.lays[k].cls) : NULL;
		nlay++;
		if (covered(&r, k))
			ncov++;
		t2m_buf_str(b, first ? "{\"path\":" : ",{\"path\":");
		first = 0;
		t2m_buf_json(b, r.lays[k].path);
		t2m_buf_str(b, ",\"torch\":");
		json_str_or_null(b, r.lays[k].cls);
		t2m_buf_str(b, ",\"mlx\":");
		json_str_or_null(b, rule ? rule->mlx : NULL);
		t2m_buf_str(b, ",\"rule\":");
		json_str_or_null(b, rule ? t2m_rule_kind_name(rule->kind) :
		    NULL);
		t2m_buf_str(b, ",\"status\":");
		t2m_buf_json(b, st);
		t2m_buf_str(b, ",\"provenance\":");
		t2m_buf_json(b, r.lays[k].cls ? r.lays[k].provenance :
		    "inferred");
		t2m_buf_printf(b, ",\"parameters\":%llu",
		    (unsigned long long)r.lays[k].params);
		if (reason) {
			t2m_buf_str(b, ",\"reason\":");
			t2m_buf_json(b, reason);
		}
		t2m_buf_add(b, "}", 1);
		if (spill(b, out, ctx, 0, err) < 0)
			goto out;
	}
	t2m_buf_str(b, "],");

	/* coverage: parameters count where their owner is covered */
	for (k = 0; k < r.n; k++)
		if (covered(&r, k))
			cov += r.lays[k].params;
	t2m_buf_printf(b, "\"coverage\":{\"layers\":%.6g,\"parameters\":"
	    "%.6g},", nlay ? (double)ncov / nlay : 1.0,
	    total ? (double)cov / (double)total : 1.0);

	t2m_buf_str(b, "\"blockers\":");
	t2m_buf_str(b, r.nblockers ? r.blockers.p : "[");
	t2m_buf_str(b, "],");

	/* plan: each tensor, what it becomes */
	t2m_buf_str(b, "\"plan\":[");
	for (first = 1, i = 0; i < m->ntensors; i++) {
		t = &m->tensors[i];
		if (t2m_tensor_hidden(t))
			continue;
		if (t2m_xform_outputs(r.x, i, &outs, &no, err) < 0)
			goto out;
		t2m_buf_str(b, first ? "{\"name\":" : ",{\"name\":");
		first = 0;
		t2m_buf_json(b, t->name);
		t2m_buf_printf(b, ",\"dtype\":\"%s\",\"shape\":",
		    t2m_dtype_name(t->dtype));
		json_shape(b, t);
		st = no ? t2m_attrs_get(&r.out->tensors[outs[0]].attrs,
		    "rule") : NULL;
		t2m_buf_str(b, ",\"rule\":");
		json_str_or_null(b, st);
		t2m_buf_str(b, ",\"to\":[");
		for (n = 0; n < no; n++) {
			const struct t2m_tensor *o = &r.out->tensors[outs[n]];
			t2m_buf_str(b, n ? ",{\"name\":" : "{\"name\":");
			t2m_buf_json(b, o->name);
			t2m_buf_printf(b, ",\"dtype\":\"%s\",\"shape\":",
			    t2m_dtype_name(o->dtype));
			json_shape(b, o);
			if (t2m_tensor_hidden(o))
				t2m_buf_str(b, ",\"hidden\":true");
			t2m_buf_add(b, "}", 1);
		}
		t2m_buf_str(b, "]}");
		if (spill(b, out, ctx, 0, err) < 0)
			goto out;
	}
	dbg_rss("plan emitted");
	t2m_buf_str(b, "],\"warnings\":");
	t2m_buf_str(b, r.nwarnings ? r.warnings.p : "[");
	t2m_buf_str(b, "]}\n");
	if (b->nomem || r.blockers.nomem || r.warnings.nomem)
		goto nomem;
	if (spill(b, out, ctx, 1, err) < 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	t2m_fail(err, "out of memory");
out:
	while (r.paths != NULL) {
		struct block *next = r.paths->next;
		free(r.paths);
		r.paths = next;
	}
	for (k = 0; k < r.npend; k++) {
		free(r.pend[k].where);
		free(r.pend[k].msg);
	}
	free(r.pend);
	free(r.lays);
	t2m_posmap_free(&r.bypath);
	t2m_buf_free(&r.key);
	t2m_buf_free(&r.blockers);
	t2m_buf_free(&r.warnings);
	t2m_xform_free(r.x);
	return rc;
}
