/*
 * t2m-rename - select, drop and rename the tensors of a stream: strip the
 * prefixes training wrappers add, drop buffers, move subtrees.  Module
 * paths, hidden tensors and the recipes t2m-transpose leaves for the way
 * back are renamed with the tensors, so the manifest stays in step; the
 * data passes through untouched, one record at a time.
 */
#include <errno.h>
#include <err.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "t2m.h"

/* t2m-transpose cuts its recipes into metadata values this long. */
#define RECIPE_PIECE ((size_t)512 << 10)
#define DROPPED UINT32_MAX

/* -s old=new, and -p prefix, which is -s prefix=: dotted paths. */
struct subst {
	const char *old, *new;
};

struct plan {
	struct subst *subs;		/* in the order they apply */
	size_t nsubs, capsubs;
	const char **keep, **drop;	/* -k and -d patterns */
	size_t nkeep, ndrop;
	const struct t2m_manifest *in;
	struct t2m_manifest *out;
	uint32_t *map;			/* input tensor -> output, or DROPPED */
	uint32_t *from;			/* output tensor -> input */
	int changed;			/* a tensor dropped, or renames */
	struct t2m_buf tmp;		/* scratch for rename_path */
	t2m_error *err;
};

/* A name and what it was, for finding two that become one. */
struct pair {
	const char *now, *was;
};

/* -h: the usage line, which usage() prints alone, and the rest. */
static const char help[] =
    "usage: t2m-rename [-u] [-d pattern] [-k pattern] [-p prefix] [-s old=new]\n"
    "Select, drop and rename the tensors of a t2m stream.\n"
    "\n"
    "options:\n"
    "  -d pattern  drop the tensors whose names match pattern (a glob)\n"
    "  -k pattern  keep only the tensors whose names match one -k pattern\n"
    "  -p prefix   strip prefix from the names that begin with it\n"
    "  -s old=new  replace the leading path old of each name with new\n"
    "  -u          strip torch.compile's _orig_mod. and DataParallel's module.\n"
    "  -h, --help  print this help and exit\n"
    "  --version   print the version and exit\n"
    "\n"
    "examples:\n"
    "  t2m-unpack model.pt | t2m-rename -k '5.*' -s 5=head | t2m-ls\n"
    "  t2m-unpack model.pt | t2m-rename -s 5=0 | t2m-pack out.safetensors\n"
    "\n"
    "See t2m-rename(1).\n";

static void
usage(void)
{
	fprintf(stderr, "%.*s", (int)(strchr(help, '\n') - help + 1), help);
	exit(2);
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n ? n : 1, size)) == NULL)
		errx(1, "out of memory");
	return p;
}

/* Insert old=new at position at of the substitutions. */
static void
add_subst(struct plan *p, size_t at, const char *old, const char *new)
{
	struct subst *ns;

	if (p->nsubs == p->capsubs) {
		p->capsubs = p->capsubs ? p->capsubs * 2 : 8;
		if ((ns = realloc(p->subs, p->capsubs * sizeof *ns)) == NULL)
			errx(1, "out of memory");
		p->subs = ns;
	}
	memmove(p->subs + at + 1, p->subs + at, (p->nsubs - at) *
	    sizeof *p->subs);
	p->subs[at].old = old;
	p->subs[at].new = new;
	p->nsubs++;
}

/* A path may be written with its trailing dot ("module."): drop it. */
static char *
path_arg(char *s, const char *opt, const char *arg)
{
	size_t n = strlen(s);

	if (!t2m_utf8_valid(s, n)) {
		warnx("%s %s: not valid UTF-8", opt, arg);
		usage();
	}
	if (n > 0 && s[n - 1] == '.')
		s[n - 1] = '\0';
	return s;
}

static int
cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = strcmp(x->now, y->now);

	return c ? c : strcmp(x->was, y->was);
}

/* The first two of n pairs that share a name and were not both called
 * that already, or -1. */
static long
clash(struct pair *v, size_t n)
{
	size_t k;

	qsort(v, n, sizeof *v, cmp_pair);
	for (k = 1; k < n; k++)
		if (strcmp(v[k - 1].now, v[k].now) == 0 &&
		    (strcmp(v[k - 1].now, v[k - 1].was) != 0 ||
		    strcmp(v[k].now, v[k].was) != 0))
			return (long)k;
	return -1;
}

/*
 * name with every substitution applied, left in b.  Returns 1 when a
 * substitution that strips a prefix found name on a path above that
 * prefix (the root, for module.): a module there is a wrapper, which the
 * renamed tree has no place for.  -1 when out of memory.
 */
static int
rename_path(struct plan *p, const char *name, struct t2m_buf *b)
{
	const struct subst *s;
	struct t2m_buf t;
	const char *cur, *rest;
	size_t k, lo, lc;
	int wrapper = 0;

	b->len = 0;
	t2m_buf_str(b, name);
	for (k = 0; k < p->nsubs; k++) {
		s = &p->subs[k];
		cur = b->p ? b->p : "";
		lo = strlen(s->old);
		lc = b->len;
		if (lo == 0 || (strncmp(cur, s->old, lo) == 0 &&
		    (cur[lo] == '\0' || cur[lo] == '.'))) {
			rest = cur + lo;
			p->tmp.len = 0;
			t2m_buf_str(&p->tmp, s->new);
			if (lo == 0 && *s->new && *rest)
				t2m_buf_str(&p->tmp, ".");
			t2m_buf_str(&p->tmp, *s->new == '\0' && *rest == '.' ?
			    rest + 1 : rest);
			t = *b;
			*b = p->tmp;
			p->tmp = t;
		} else if (*s->new == '\0' && (lc == 0 ||
		    (strncmp(s->old, cur, lc) == 0 && s->old[lc] == '.')))
			wrapper = 1;
	}
	if (b->nomem || p->tmp.nomem)
		return -1;
	if (b->p == NULL)
		t2m_buf_str(b, "");
	return b->nomem ? -1 : wrapper;
}

/* Whether the tensor called name survives -k and -d. */
static int
selected(const struct plan *p, const char *name)
{
	size_t k;

	for (k = 0; k < p->nkeep; k++)
		if (fnmatch(p->keep[k], name, 0) == 0)
			break;
	if (p->nkeep && k == p->nkeep)
		return 0;
	for (k = 0; k < p->ndrop; k++)
		if (fnmatch(p->drop[k], name, 0) == 0)
			return 0;
	return 1;
}

/*
 * -u: strip _orig_mod. (torch.compile) and module. (DataParallel,
 * DistributedDataParallel) for as long as every tensor kept has one, in
 * whatever nesting; they go before the substitutions given.
 */
static void
unwrap(struct plan *p, const char *sel)
{
	static const char *const wrappers[] = { "_orig_mod", "module" };
	const struct t2m_manifest *m = p->in;
	size_t *off, lw, at = 0, w;
	uint32_t i, n = 0;
	const char *s;
	int again = 1;

	for (i = 0; i < m->ntensors; i++)
		n += sel[i];
	if (n == 0)
		return;
	off = xcalloc(m->ntensors, sizeof *off);
	while (again) {
		again = 0;
		for (w = 0; w < 2; w++) {
			lw = strlen(wrappers[w]);
			for (i = 0; i < m->ntensors; i++) {
				s = m->tensors[i].name + off[i];
				if (sel[i] && (strncmp(s, wrappers[w], lw) !=
				    0 || s[lw] != '.'))
					break;
			}
			if (i < m->ntensors)
				continue;
			for (i = 0; i < m->ntensors; i++)
				if (sel[i])
					off[i] += lw + 1;
			add_subst(p, at++, wrappers[w], "");
			again = 1;
		}
	}
	free(off);
}

/* Copy the pairs of src to dst, with a "module" path renamed. */
static int
copy_attrs(struct plan *p, struct t2m_attrs *dst, const struct t2m_attrs *src,
    int rename_module)
{
	struct t2m_buf b = { 0 };
	const char *v;
	uint32_t k;

	if (t2m_attrs_reserve(p->out, dst, src->n, p->err) < 0)
		return -1;
	for (k = 0; k < src->n; k++) {
		v = src->kv[k].val;
		if (rename_module && strcmp(src->kv[k].key, "module") == 0) {
			if (rename_path(p, v, &b) < 0) {
				t2m_fail(p->err, "out of memory");
				break;
			}
			v = b.p;
		}
		if (t2m_attrs_set(p->out, dst, src->kv[k].key, v, p->err) < 0)
			break;
	}
	t2m_buf_free(&b);
	if (k < src->n)
		return -1;
	t2m_attrs_share(p->out, dst);
	return 0;
}

/* A tie (t2m.tie) names its tensor's new name, or is dropped with it. */
static int
retie(struct plan *p)
{
	struct t2m_tensor *o;
	const char *v;
	uint32_t i;
	long k;

	for (i = 0; i < p->out->ntensors; i++) {
		o = &p->out->tensors[i];
		if ((v = t2m_attrs_get(&o->attrs, "t2m.tie")) == NULL)
			continue;
		if ((k = t2m_manifest_find(p->in, v)) >= 0 &&
		    p->map[k] != DROPPED) {
			if (t2m_attrs_set(p->out, &o->attrs, "t2m.tie",
			    p->out->tensors[p->map[k]].name, p->err) < 0)
				return -1;
		} else if (t2m_attrs_unset(p->out, &o->attrs, "t2m.tie") < 0)
			return t2m_fail(p->err, "out of memory");
	}
	return 0;
}

/* The tensors that survive, renamed, in their input order. */
static int
plan_tensors(struct plan *p, const char *sel)
{
	const struct t2m_manifest *m = p->in;
	const struct t2m_tensor *t;
	struct t2m_tensor *o;
	struct t2m_buf b = { 0 };
	uint32_t i;
	long j;
	int rc = -1;

	p->map = xcalloc(m->ntensors, sizeof *p->map);
	p->from = xcalloc(m->ntensors, sizeof *p->from);
	for (i = 0; i < m->ntensors; i++) {
		t = &m->tensors[i];
		p->map[i] = DROPPED;
		if (!sel[i]) {
			p->changed = 1;
			continue;
		}
		if (rename_path(p, t->name, &b) < 0) {
			t2m_fail(p->err, "out of memory");
			goto out;
		}
		if (b.len == 0 && *t->name) {
			t2m_fail(p->err, "'%s' would be renamed to an empty "
			    "name", t->name);
			goto out;
		}
		if ((j = t2m_manifest_find(p->out, b.p)) >= 0) {
			t2m_fail(p->err, "'%s' and '%s' would both be named "
			    "'%s'", m->tensors[p->from[j]].name, t->name, b.p);
			goto out;
		}
		/* The input outlives the output: what is unchanged is
		 * kept by reference. */
		if ((o = t2m_manifest_add_ref(p->out, strcmp(b.p, t->name) ==
		    0 ? t->name : b.p, t->dtype, t->ndim, t->shape,
		    strcmp(b.p, t->name) == 0 ? T2M_REF_NAME | T2M_REF_SHAPE :
		    T2M_REF_SHAPE, p->err)) == NULL ||
		    copy_attrs(p, &o->attrs, &t->attrs, 1) < 0)
			goto out;
		p->map[i] = p->out->ntensors - 1;
		p->from[p->out->ntensors - 1] = i;
	}
	rc = retie(p);
out:
	t2m_buf_free(&b);
	return rc;
}

/* A module path and its place in the input, for bsearch. */
struct modref {
	const char *path;
	uint32_t i;
};

static int
cmp_modref(const void *a, const void *b)
{
	return strcmp(((const struct modref *)a)->path,
	    ((const struct modref *)b)->path);
}

/* Mark every module at path (its first len bytes) in had, and in live
 * when the tensor below it is kept.  v is sorted by path. */
static void
mark(const struct modref *v, uint32_t n, const char *path, size_t len,
    char *had, char *live, int kept)
{
	uint32_t lo = 0, hi = n, mid;

	while (lo < hi) {	/* the first path not before path[0..len) */
		mid = lo + (hi - lo) / 2;
		if (strncmp(v[mid].path, path, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && strncmp(v[lo].path, path, len) == 0 &&
	    v[lo].path[len] == '\0'; lo++) {
		had[v[lo].i] = 1;
		live[v[lo].i] |= (char)kept;
	}
}

/*
 * The modules that survive, renamed.  A module goes when every tensor
 * below it was dropped, and when a stripped prefix leaves it above the
 * new root (the wrapper: DataParallel above module.).  Modules that
 * never had tensors below them (activations, pooling) stay.
 */
static int
plan_modules(struct plan *p, const char *sel)
{
	const struct t2m_manifest *m = p->in;
	struct t2m_module *mod;
	struct modref *v;
	struct pair *pv;
	struct t2m_buf b = { 0 };
	char *had, *live;
	const char *name;
	uint32_t i, n = 0;
	size_t j;
	long k;
	int w, rc = -1;

	if (m->nmodules == 0)
		return 0;
	v = xcalloc(m->nmodules, sizeof *v);
	pv = xcalloc(m->nmodules, sizeof *pv);
	had = xcalloc(m->nmodules, 1);
	live = xcalloc(m->nmodules, 1);
	for (i = 0; i < m->nmodules; i++) {
		v[i].path = m->modules[i].path;
		v[i].i = i;
	}
	qsort(v, m->nmodules, sizeof *v, cmp_modref);
	for (i = 0; i < m->ntensors; i++) {
		name = m->tensors[i].name;
		mark(v, m->nmodules, name, 0, had, live, sel[i]);
		for (j = 0; name[j]; j++)
			if (name[j] == '.')
				mark(v, m->nmodules, name, j, had, live,
				    sel[i]);
	}
	for (i = 0; i < m->nmodules; i++) {
		if (had[i] && !live[i])
			continue;
		if ((w = rename_path(p, m->modules[i].path, &b)) < 0)
			goto nomem;
		if (w)
			continue;
		if ((mod = t2m_manifest_add_module(p->out, b.p, p->err)) ==
		    NULL || copy_attrs(p, &mod->attrs, &m->modules[i].attrs,
		    0) < 0)
			goto out;
		pv[n].now = mod->path;
		pv[n++].was = m->modules[i].path;
	}
	if ((k = clash(pv, n)) >= 0) {
		t2m_fail(p->err, "modules '%s' and '%s' would both be at '%s'",
		    pv[k - 1].was, pv[k].was, pv[k].now);
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	t2m_fail(p->err, "out of memory");
out:
	t2m_buf_free(&b);
	free(v);
	free(pv);
	free(had);
	free(live);
	return rc;
}

/* The key of recipe piece k (1, 2, ...), as t2m-transpose names them. */
static void
piece_key(char *key, size_t cap, int k)
{
	if (k == 1)
		snprintf(key, cap, "t2m.reverse");
	else
		snprintf(key, cap, "t2m.reverse.%d", k);
}

static int
damaged(struct plan *p, const char *recipe)
{
	return t2m_fail(p->err, "the t2m.reverse recipe for '%s' is damaged "
	    "or names tensors the stream lacks", recipe);
}

/* The input tensor a recipe names, or -1. */
static long
named(const struct plan *p, const cJSON *v)
{
	return cJSON_IsString(v) ? t2m_manifest_find(p->in, v->valuestring) :
	    -1;
}

/* Replace a JSON string's value with its renamed self. */
static int
rename_json(struct plan *p, cJSON *v, struct t2m_buf *b)
{
	if (rename_path(p, v->valuestring, b) < 0)
		return -1;
	if (strcmp(b->p, v->valuestring) == 0)
		return 0;
	return cJSON_SetValuestring(v, b->p) ? 0 : -1;
}

/*
 * Rewrite one recipe: renamed when its sources are kept, deleted (*gone)
 * when all were dropped; some of each is an error, since the way back
 * could no longer build the tensor from its parts.
 */
static int
rewrite_recipe(struct plan *p, cJSON *r, struct t2m_buf *b, int *gone)
{
	cJSON *from = cJSON_GetObjectItemCaseSensitive(r, "from");
	cJSON *cat = cJSON_GetObjectItemCaseSensitive(r, "concat");
	cJSON *src[3], *e;
	const char *kept = NULL, *lost = NULL;
	int n = 0, k;
	long i;

	*gone = 0;
	if (cat && cJSON_IsArray(cat)) {
		cJSON_ArrayForEach(e, cat)
			if (n < 3)
				src[n++] = e;
			else
				return damaged(p, r->string);
	} else if (cat == NULL && from)
		src[n++] = from;
	if (n == 0)
		return damaged(p, r->string);
	for (k = 0; k < n; k++) {
		if ((i = named(p, src[k])) < 0)
			return damaged(p, r->string);
		if (p->map[i] == DROPPED)
			lost = src[k]->valuestring;
		else
			kept = src[k]->valuestring;
	}
	if (lost && kept)
		return t2m_fail(p->err, "dropping '%s' breaks the t2m.reverse "
		    "recipe for '%s', which also needs '%s': drop all of its "
		    "parts or none", lost, r->string, kept);
	if ((*gone = lost != NULL))
		return 0;
	for (k = 0; k < n; k++)
		if (rename_json(p, src[k], b) < 0)
			return t2m_fail(p->err, "out of memory");
	return 0;
}

/*
 * The t2m.reverse recipes with every tensor name renamed as the stream's
 * are: their keys (the tensors the way back makes), their sources and
 * the consumed list; recipes whose sources were all dropped go, and so
 * do dropped tensors from the consumed list.  Then no two tensors
 * t2m-transpose -r would make may share a name.  The new JSON text is
 * left in *text, for cJSON_free.
 */
static int
rewrite_recipes(struct plan *p, const char *all, char **text)
{
	const struct t2m_manifest *m = p->in;
	cJSON *j, *recipes, *consumed, *fresh = NULL, *list, *r, *e, *s;
	struct t2m_buf b = { 0 };
	struct pair *v = NULL;
	char *used = NULL;
	size_t n = 0;
	int gone, rc = -1;
	uint32_t i;
	long k;

	*text = NULL;
	j = cJSON_Parse(all);
	recipes = cJSON_GetObjectItemCaseSensitive(j, "recipes");
	consumed = cJSON_GetObjectItemCaseSensitive(j, "consumed");
	if (!cJSON_IsObject(recipes) || !cJSON_IsArray(consumed)) {
		t2m_fail(p->err, "the t2m.reverse metadata is damaged");
		goto out;
	}
	used = xcalloc(m->ntensors, 1);
	if ((list = cJSON_CreateArray()) == NULL)
		goto nomem;
	cJSON_ArrayForEach(e, consumed) {
		if ((k = named(p, e)) >= 0)
			used[k] = 1;
		if (k >= 0 && p->map[k] == DROPPED)
			continue;
		if (cJSON_IsString(e) && rename_path(p, e->valuestring, &b) < 0)
			s = NULL;
		else
			s = cJSON_IsString(e) ? cJSON_CreateString(b.p) :
			    cJSON_Duplicate(e, 1);
		if (s == NULL || !cJSON_AddItemToArray(list, s)) {
			cJSON_Delete(s);
			cJSON_Delete(list);
			goto nomem;
		}
	}
	if (!cJSON_ReplaceItemInObjectCaseSensitive(j, "consumed", list)) {
		cJSON_Delete(list);
		goto nomem;
	}

	/* Each recipe moves to fresh under its new key, in its order. */
	v = xcalloc((size_t)cJSON_GetArraySize(recipes) + m->ntensors,
	    sizeof *v);
	if ((fresh = cJSON_CreateObject()) == NULL)
		goto nomem;
	while ((r = recipes->child) != NULL) {
		cJSON_DetachItemViaPointer(recipes, r);
		if (rewrite_recipe(p, r, &b, &gone) < 0) {
			cJSON_Delete(r);
			goto out;
		}
		if (gone) {
			cJSON_Delete(r);
			continue;
		}
		if ((v[n].was = t2m_manifest_strndup(p->out, r->string,
		    strlen(r->string))) == NULL ||
		    rename_path(p, r->string, &b) < 0 ||
		    !cJSON_AddItemToObject(fresh, b.p, r)) {
			cJSON_Delete(r);
			goto nomem;
		}
		v[n++].now = r->string;
	}
	if (!cJSON_ReplaceItemInObjectCaseSensitive(j, "recipes", fresh))
		goto nomem;
	fresh = NULL;

	/* What the way back passes on as it is: neither made by a rule nor
	 * read by a recipe, or hidden. */
	for (i = 0; i < m->ntensors; i++)
		if (p->map[i] != DROPPED && (!used[i] ||
		    t2m_tensor_hidden(&m->tensors[i]))) {
			v[n].now = p->out->tensors[p->map[i]].name;
			v[n++].was = m->tensors[i].name;
		}
	if ((k = clash(v, n)) >= 0) {
		t2m_fail(p->err, "'%s' and '%s' would both be named '%s' by "
		    "t2m-transpose -r", v[k - 1].was, v[k].was, v[k].now);
		goto out;
	}
	if ((*text = cJSON_PrintUnformatted(j)) == NULL)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	t2m_fail(p->err, "out of memory");
out:
	cJSON_Delete(fresh);
	cJSON_Delete(j);
	free(used);
	free(v);
	t2m_buf_free(&b);
	return rc;
}

/* Whether key is one of the npieces values the old recipes filled. */
static int
old_piece(const char *key, int npieces)
{
	char want[32];
	long k;

	if (strncmp(key, "t2m.reverse", 11) != 0)
		return 0;
	if (key[11] == '\0')
		return 1;
	if (key[11] != '.' || (k = strtol(key + 12, NULL, 10)) < 2 ||
	    k > npieces)
		return 0;
	piece_key(want, sizeof want, (int)k);
	return strcmp(want, key) == 0;
}

/*
 * The metadata, copied; when tensors were dropped or there are renames
 * and the stream is in MLX layout, with the recipes rewritten in place
 * of the old ones, cut into pieces as t2m-transpose cuts them.
 */
static int
plan_meta(struct plan *p)
{
	const struct t2m_attrs *src = &p->in->meta;
	struct t2m_attrs *dst = &p->out->meta;
	struct t2m_buf all = { 0 };
	char key[32], *text = NULL;
	const char *val;
	size_t at, len, n;
	uint32_t i, cap;
	int k, npieces = 0, rc = -1;

	if (p->changed)
		for (k = 1;; k++) {
			piece_key(key, sizeof key, k);
			if ((val = t2m_attrs_get(src, key)) == NULL)
				break;
			t2m_buf_str(&all, val);
			npieces = k;
		}
	if (npieces == 0)
		return copy_attrs(p, dst, src, 0);
	if (all.nomem) {
		t2m_buf_free(&all);
		return t2m_fail(p->err, "out of memory");
	}
	if (rewrite_recipes(p, all.p, &text) < 0)
		goto out;
	len = strlen(text);
	cap = src->n + (uint32_t)(len / (RECIPE_PIECE - 4)) + 1;
	if (t2m_attrs_reserve(p->out, dst, cap, p->err) < 0)
		goto out;
	for (i = 0; i < src->n; i++) {
		if (!old_piece(src->kv[i].key, npieces)) {
			dst->kv[dst->n].key = t2m_manifest_strndup(p->out,
			    src->kv[i].key, strlen(src->kv[i].key));
			dst->kv[dst->n++].val = t2m_manifest_strndup(p->out,
			    src->kv[i].val, strlen(src->kv[i].val));
			continue;
		}
		if (strcmp(src->kv[i].key, "t2m.reverse") != 0)
			continue;
		for (at = 0, k = 1; at < len; at += n, k++) {
			n = len - at < RECIPE_PIECE ? len - at : RECIPE_PIECE;
			while (at + n < len && (text[at + n] & 0xC0) == 0x80)
				n--;	/* never cut a UTF-8 sequence */
			piece_key(key, sizeof key, k);
			dst->kv[dst->n].key = t2m_manifest_strndup(p->out, key,
			    strlen(key));
			dst->kv[dst->n++].val = t2m_manifest_strndup(p->out,
			    text + at, n);
		}
	}
	for (i = 0; i < dst->n; i++)
		if (dst->kv[i].key == NULL || dst->kv[i].val == NULL) {
			t2m_fail(p->err, "out of memory");
			goto out;
		}
	rc = 0;
out:
	cJSON_free(text);
	t2m_buf_free(&all);
	return rc;
}

/*
 * Plan p's selection and renames (with -u when uflag) for the stream on
 * descriptor in, and write the result to out.  -1 with p->err set and
 * *side the descriptor's name ("<stdin>", "<stdout>") on failure;
 * either way everything the run allocated is freed but p's options.
 */
static int
rename_stream(struct plan *p, int uflag, int in, int out, const char **side)
{
	struct t2m_reader *r;
	struct t2m_writer *w = NULL;
	struct t2m_manifest *m;
	struct t2m_chunk c;
	char *sel = NULL;
	int rc = -1, mrc;
	uint32_t i;
	t2m_error merr;

	*side = "<stdin>";
	p->out = NULL;
	p->map = p->from = NULL;
	if ((r = t2m_reader_new(in, "<stdin>", p->err)) == NULL)
		return -1;
	if (t2m_reader_begin(r, &m, p->err) < 0)
		goto out;
	p->in = m;
	if ((p->out = t2m_manifest_new()) == NULL ||
	    t2m_manifest_reserve(p->out, m->ntensors, m->nmodules) < 0) {
		t2m_fail(p->err, "out of memory");
		goto out;
	}
	sel = xcalloc(m->ntensors, 1);
	for (i = 0; i < m->ntensors; i++)
		sel[i] = (char)selected(p, m->tensors[i].name);
	if (uflag)
		unwrap(p, sel);
	p->changed = p->nsubs > 0;
	if (copy_attrs(p, &p->out->info, &m->info, 0) < 0)
		goto out;
	/*
	 * The modules first, so that the tensors' module attributes name
	 * their paths rather than copies, and the modules' working arrays
	 * are gone before the tensors come; but a tensor's fault is the one
	 * reported when both have one.
	 */
	if ((mrc = plan_modules(p, sel)) < 0)
		merr = *p->err;
	if (plan_tensors(p, sel) < 0)
		goto out;
	if (mrc < 0) {
		*p->err = merr;
		goto out;
	}
	if (plan_meta(p) < 0)
		goto out;
	free(sel);
	sel = NULL;

	*side = "<stdout>";
	if ((w = t2m_writer_new(out, "<stdout>", 0, p->err)) == NULL ||
	    t2m_writer_begin(w, p->out, p->err) < 0)
		goto out;
	/* The data passes untouched: spliced where the OS can. */
	*side = "<stdin>";
	while ((rc = t2m_reader_next(r, &c, p->err)) == 1) {
		if (p->map[c.index] == DROPPED)
			continue;	/* t2m_reader_next skips its payload */
		if (t2m_reader_pass(r, w, p->map[c.index], p->err) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && t2m_writer_end(w, p->err) < 0)
		rc = -1;
out:
	t2m_writer_free(w);
	t2m_manifest_free(p->out);
	t2m_reader_free(r);
	free(sel);
	free(p->map);
	free(p->from);
	t2m_buf_free(&p->tmp);
	p->out = NULL;
	p->map = p->from = NULL;
	return rc < 0 ? -1 : 0;
}

int
main(int argc, char *argv[])
{
	struct plan p = { 0 };
	const char *side;
	char *eq;
	int ch, uflag = 0;
	t2m_error e;

	argv[0] = "t2m-rename";	/* getopt's messages name the program */
	t2m_long_options(argc, argv, "t2m-rename", help);
	p.keep = xcalloc((size_t)argc, sizeof *p.keep);
	p.drop = xcalloc((size_t)argc, sizeof *p.drop);
	while ((ch = getopt(argc, argv, "d:hk:p:s:u")) != -1)
		switch (ch) {
		case 'd':
			p.drop[p.ndrop++] = optarg;
			break;
		case 'k':
			p.keep[p.nkeep++] = optarg;
			break;
		case 'p':
			if (*path_arg(optarg, "-p", optarg) == '\0') {
				warnx("-p: an empty prefix");
				usage();
			}
			add_subst(&p, p.nsubs, optarg, "");
			break;
		case 's':
			if ((eq = strchr(optarg, '=')) == NULL) {
				warnx("-s %s: expected old=new", optarg);
				usage();
			}
			*eq = '\0';
			add_subst(&p, p.nsubs, path_arg(optarg, "-s", optarg),
			    path_arg(eq + 1, "-s", eq + 1));
			break;
		case 'u':
			uflag = 1;
			break;
		case 'h':
			t2m_help(help);
		default:
			usage();
		}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();

	p.err = &e;
	if (rename_stream(&p, uflag, STDIN_FILENO, STDOUT_FILENO, &side) < 0)
		t2m_die(side, &e);
	free(p.subs);
	free(p.keep);
	free(p.drop);
	if (close(STDOUT_FILENO) < 0)
		err(1, "<stdout>");
	return 0;
}
