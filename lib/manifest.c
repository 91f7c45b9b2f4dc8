/*
 * manifest.c - the manifest: tensors, modules and string maps, with their
 * strings and attribute arrays in one arena so a model of 100,000 tensors
 * costs a few megabytes, and a hash index so names stay unique.  The
 * short strings attributes repeat ("module", "rule", "identity") are
 * kept once.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- arena ---- */

struct block {
	struct block *next;
	size_t used, cap;
	unsigned char data[];
};

/*
 * Attribute arrays outgrown or given up for a shared one are kept on a
 * list per capacity (each below NSMALL, then powers of two) and handed to
 * the next array of that capacity, so building attributes one pair at a
 * time wastes nothing for long.
 */
#define NSMALL 32
#define NCLASS 17		/* capacities 1 .. T2M_MAX_ATTRS */
#define BLOCK 65536

struct t2m_arena {
	struct block *head;
	struct t2m_kv *small[NSMALL];
	struct t2m_kv *spare[NCLASS];
};

/* n bytes aligned for any of the manifest's types, or for none (align 1:
 * strings). */
static void *
arena_get(struct t2m_arena *a, size_t n, size_t align)
{
	struct block *b = a->head, *big;
	size_t cap, at = 0;
	void *p;

	if (b != NULL)
		at = (b->used + align - 1) & ~(align - 1);
	if (b != NULL && n > BLOCK / 4 && (at > b->cap || b->cap - at < n)) {
		/* A big one gets a block of its own, behind the current. */
		if ((big = malloc(sizeof *big + n)) == NULL)
			return NULL;
		big->used = big->cap = n;
		big->next = b->next;
		b->next = big;
		return big->data;
	}
	if (b == NULL || at > b->cap || b->cap - at < n) {
		cap = n > BLOCK ? n : BLOCK;
		if ((b = malloc(sizeof *b + cap)) == NULL)
			return NULL;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
		at = 0;
	}
	p = b->data + at;
	b->used = at + n;
	return p;
}

static void *
arena_alloc(struct t2m_arena *a, size_t n)
{
	return arena_get(a, n, 8);
}

const char *
t2m_manifest_strndup(struct t2m_manifest *m, const char *s, size_t n)
{
	char *p;

	if (n > SIZE_MAX - 1 || (p = arena_get(m->arena, n + 1, 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ---- name index ---- */

/*
 * Short strings kept once, as far as a cache holds them: each has the
 * slot its hash says, and takes it from whatever was there.  Strings that
 * repeat stay; strings that do not pass through.
 */
#define INTERN_LEN 128
#define INTERN_SLOTS 4096

/* Attribute arrays shared: a cache, each array in the slot its hash says. */
#define SHARE_SLOTS 1024

struct share {
	const struct t2m_kv *kv;
	uint32_t n;
};

struct t2m_index {
	struct t2m_posmap names;	/* tensor name -> position */
	struct t2m_posmap modules;	/* module path -> first position */
	/* Both caches are made once they would pay: a manifest of a few
	 * strings (a shard's) has none. */
	const char **strings;		/* INTERN_SLOTS interned strings */
	struct share *shared;		/* SHARE_SLOTS shared arrays */
	uint32_t nintern, nshare;	/* calls so far, up to CACHE_AFTER */
};

#define CACHE_AFTER 256

static const char *
tensor_name(const void *ctx, uint32_t pos)
{
	return ((const struct t2m_manifest *)ctx)->tensors[pos].name;
}

static const char *
module_path(const void *ctx, uint32_t pos)
{
	return ((const struct t2m_manifest *)ctx)->modules[pos].path;
}

int
t2m_manifest_mlx(const struct t2m_manifest *m)
{
	const char *layout = t2m_attrs_get(&m->meta, "t2m.layout");
	const char *format = t2m_attrs_get(&m->meta, "format");

	return (layout != NULL && strcmp(layout, "mlx") == 0) ||
	    (format != NULL && strcmp(format, "mlx") == 0);
}

long
t2m_manifest_find(const struct t2m_manifest *m, const char *name)
{
	return t2m_posmap_get(&m->index->names, name, t2m_hash_str(name));
}

long
t2m_manifest_find_module(const struct t2m_manifest *m, const char *path)
{
	return t2m_posmap_get(&m->index->modules, path, t2m_hash_str(path));
}

/* s (n bytes) kept once if short, else copied; NULL when out of memory. */
static const char *
intern(struct t2m_manifest *m, const char *s, size_t n)
{
	struct t2m_index *x = m->index;
	const char **slot;

	if (x->strings == NULL && x->nintern < CACHE_AFTER)
		x->nintern++;
	if (n > INTERN_LEN || (x->strings == NULL &&
	    (x->nintern < CACHE_AFTER || (x->strings = calloc(INTERN_SLOTS,
	    sizeof *x->strings)) == NULL)))
		return t2m_manifest_strndup(m, s, n);
	slot = &x->strings[t2m_hash_str(s) & (INTERN_SLOTS - 1)];
	if (*slot == NULL || strcmp(*slot, s) != 0)
		*slot = t2m_manifest_strndup(m, s, n);
	return *slot;
}

/* ---- manifest ---- */

struct t2m_manifest *
t2m_manifest_new(void)
{
	struct t2m_manifest *m;

	if ((m = calloc(1, sizeof *m)) == NULL)
		return NULL;
	m->arena = calloc(1, sizeof *m->arena);
	m->index = calloc(1, sizeof *m->index);
	if (m->arena == NULL || m->index == NULL) {
		t2m_manifest_free(m);
		return NULL;
	}
	t2m_posmap_init(&m->index->names, tensor_name, m);
	t2m_posmap_init(&m->index->modules, module_path, m);
	return m;
}

void
t2m_manifest_free(struct t2m_manifest *m)
{
	struct block *b, *next;

	if (m == NULL)
		return;
	free(m->tensors);
	free(m->modules);
	if (m->arena)
		for (b = m->arena->head; b; b = next) {
			next = b->next;
			free(b);
		}
	free(m->arena);
	if (m->index) {
		t2m_posmap_free(&m->index->names);
		t2m_posmap_free(&m->index->modules);
		free(m->index->strings);
		free(m->index->shared);
	}
	free(m->index);
	free(m);
}

int
t2m_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, len, k;
	uint32_t c;

	while (i < n) {
		c = s[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2, c &= 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3, c &= 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4, c &= 0x07;
		else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			c = c << 6 | (s[i + k] & 0x3F);
		}
		if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
		    c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return 0;
		i += len;
	}
	return 1;
}

static int
check_string(const char *what, const char *s, t2m_error *err)
{
	size_t n = strlen(s);

	if (n > T2M_MAX_STRING)
		return t2m_fail(err, "%s is %zu bytes long (at most %u)", what,
		    n, T2M_MAX_STRING);
	if (!t2m_utf8_valid(s, n))
		return t2m_fail(err, "%s is not valid UTF-8", what);
	return 0;
}

static int
grow(void **p, uint32_t *cap, uint32_t need, size_t size, uint32_t limit)
{
	uint32_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	if (need > limit)
		return -1;
	ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap = ncap > limit / 2 ? limit : ncap * 2;
	if ((np = realloc(*p, (size_t)ncap * size)) == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Room for exactly n, when more than there is. */
static int
reserve(void **p, uint32_t *cap, uint32_t n, size_t size)
{
	void *np;

	if (n <= *cap)
		return 0;
	if ((np = realloc(*p, (size_t)n * size)) == NULL)
		return -1;
	*p = np;
	*cap = n;
	return 0;
}

int
t2m_manifest_reserve(struct t2m_manifest *m, uint32_t ntensors,
    uint32_t nmodules)
{
	if (ntensors > T2M_MAX_TENSORS || nmodules > T2M_MAX_MODULES)
		return -1;
	if (reserve((void **)&m->tensors, &m->captensors, ntensors,
	    sizeof *m->tensors) < 0 || reserve((void **)&m->modules,
	    &m->capmodules, nmodules, sizeof *m->modules) < 0 ||
	    (ntensors > 0 && t2m_posmap_reserve(&m->index->names,
	    ntensors) < 0) || (nmodules > 0 &&
	    t2m_posmap_reserve(&m->index->modules, nmodules) < 0))
		return -1;
	return 0;
}

/* Add a tensor; ref says which of name and shape are kept by reference. */
static struct t2m_tensor *
add(struct t2m_manifest *m, const char *name, int dtype, int ndim,
    const uint64_t *shape, int ref, t2m_error *err)
{
	struct t2m_tensor *t;
	uint64_t nbytes, h;

	if (check_string("tensor name", name, err) < 0)
		return NULL;
	if (t2m_tensor_bytes(dtype, ndim, shape, &nbytes, err) < 0) {
		t2m_prefix(err, "tensor '%s'", name);
		return NULL;
	}
	h = t2m_hash_str(name);
	if (t2m_posmap_get(&m->index->names, name, h) >= 0) {
		t2m_fail(err, "tensor '%s' appears twice", name);
		return NULL;
	}
	if (grow((void **)&m->tensors, &m->captensors, m->ntensors + 1,
	    sizeof *m->tensors, T2M_MAX_TENSORS) < 0) {
		t2m_fail(err, m->ntensors + 1 > T2M_MAX_TENSORS ?
		    "more than %u tensors" : "out of memory at %u tensors",
		    m->ntensors);
		return NULL;
	}
	t = &m->tensors[m->ntensors];
	memset(t, 0, sizeof *t);
	t->dtype = dtype;
	t->ndim = ndim;
	t->nbytes = nbytes;
	if (ref & T2M_REF_NAME)
		t->name = name;
	else if ((t->name = t2m_manifest_strndup(m, name, strlen(name))) ==
	    NULL)
		goto nomem;
	if (ref & T2M_REF_SHAPE)
		t->shape = (uint64_t *)(uintptr_t)shape;
	else if (m->ntensors > 0 && t[-1].ndim == ndim && ndim > 0 &&
	    memcmp(t[-1].shape, shape, sizeof(uint64_t) * ndim) == 0)
		t->shape = t[-1].shape;	/* as the last one's: kept once */
	else {
		if ((t->shape = arena_alloc(m->arena, sizeof(uint64_t) *
		    (ndim ? ndim : 1))) == NULL)
			goto nomem;
		if (ndim)
			memcpy(t->shape, shape, sizeof(uint64_t) * ndim);
	}
	if (t2m_posmap_add(&m->index->names, m->ntensors, h) < 0)
		goto nomem;
	m->ntensors++;
	return t;
nomem:
	t2m_fail(err, "out of memory at tensor '%s'", name);
	return NULL;
}

struct t2m_tensor *
t2m_manifest_add(struct t2m_manifest *m, const char *name, int dtype,
    int ndim, const uint64_t *shape, t2m_error *err)
{
	return add(m, name, dtype, ndim, shape, 0, err);
}

struct t2m_tensor *
t2m_manifest_add_ref(struct t2m_manifest *m, const char *name, int dtype,
    int ndim, const uint64_t *shape, int ref, t2m_error *err)
{
	return add(m, name, dtype, ndim, shape, ref, err);
}

struct t2m_module *
t2m_manifest_add_module(struct t2m_manifest *m, const char *path,
    t2m_error *err)
{
	struct t2m_module *mod;
	uint64_t h;

	if (check_string("module path", path, err) < 0)
		return NULL;
	if (grow((void **)&m->modules, &m->capmodules, m->nmodules + 1,
	    sizeof *m->modules, T2M_MAX_MODULES) < 0) {
		t2m_fail(err, "too many modules (%u)", m->nmodules);
		return NULL;
	}
	mod = &m->modules[m->nmodules];
	memset(mod, 0, sizeof *mod);
	h = t2m_hash_str(path);
	if ((mod->path = t2m_manifest_strndup(m, path, strlen(path))) == NULL ||
	    (t2m_posmap_get(&m->index->modules, path, h) < 0 &&
	    t2m_posmap_add(&m->index->modules, m->nmodules, h) < 0)) {
		t2m_fail(err, "out of memory");
		return NULL;
	}
	m->nmodules++;
	return mod;
}

const char *
t2m_attrs_get(const struct t2m_attrs *a, const char *key)
{
	uint32_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->kv[i].key, key) == 0)
			return a->kv[i].val;
	return NULL;
}

/* The list of spare arrays of capacity cap (> 0), or NULL for none. */
static struct t2m_kv **
spare_list(struct t2m_arena *ar, uint32_t cap)
{
	int c;

	if (cap < NSMALL)
		return &ar->small[cap];
	if ((cap & (cap - 1)) != 0)
		return NULL;
	for (c = 0; (1u << c) < cap; c++)
		;
	return &ar->spare[c];
}

static struct t2m_kv *
kv_alloc(struct t2m_arena *ar, uint32_t cap)
{
	struct t2m_kv **list = spare_list(ar, cap), *kv;

	if (list != NULL && (kv = *list) != NULL) {
		*list = (struct t2m_kv *)(uintptr_t)kv->key;
		return kv;
	}
	return arena_alloc(ar, (size_t)cap * sizeof *kv);
}

/* a's array goes back on its list; a shared one (cap 0) stays. */
static void
kv_spare(struct t2m_arena *ar, struct t2m_attrs *a)
{
	struct t2m_kv **list;

	if (a->cap == 0 || (list = spare_list(ar, a->cap)) == NULL)
		return;
	a->kv[0].key = (const char *)(uintptr_t)*list;
	*list = a->kv;
}

/* Give a the room for `need` pairs, from the arena. */
static int
attrs_grow(struct t2m_manifest *m, struct t2m_attrs *a, uint32_t need)
{
	struct t2m_kv *kv;
	uint32_t cap;

	if (need <= a->cap)
		return 0;
	if (need > T2M_MAX_ATTRS)
		return -1;
	for (cap = 1; cap < need; cap *= 2)
		;
	if ((kv = kv_alloc(m->arena, cap)) == NULL)
		return -1;
	if (a->n > 0)
		memcpy(kv, a->kv, (size_t)a->n * sizeof *kv);
	kv_spare(m->arena, a);
	a->kv = kv;
	a->cap = cap;
	return 0;
}

int
t2m_attrs_reserve(struct t2m_manifest *m, struct t2m_attrs *a, uint32_t n,
    t2m_error *err)
{
	if (n > T2M_MAX_ATTRS - a->n)
		return t2m_fail(err, "more than %u attributes", T2M_MAX_ATTRS);
	if (a->n + n <= a->cap)
		return 0;
	if (a->cap == 0 && a->n == 0) {
		/* Exactly n: the caller knows how many are coming. */
		if ((a->kv = kv_alloc(m->arena, n)) == NULL)
			return t2m_fail(err, "out of memory");
		a->cap = n;
		return 0;
	}
	if (attrs_grow(m, a, a->n + n) < 0)
		return t2m_fail(err, "out of memory");
	return 0;
}

/* val, checked, as m keeps the value of key: a tensor's module, when m
 * has it, shares the module's path. */
static const char *
attr_value(struct t2m_manifest *m, const char *key, const char *val,
    t2m_error *err)
{
	const char *v;
	long j;

	if (check_string("attribute name", key, err) < 0 ||
	    check_string("attribute value", val, err) < 0)
		return NULL;
	if (strcmp(key, "module") == 0 &&
	    (j = t2m_manifest_find_module(m, val)) >= 0)
		return m->modules[j].path;
	if ((v = intern(m, val, strlen(val))) == NULL)
		t2m_fail(err, "out of memory");
	return v;
}

/* Append key=v to a, v as attr_value made it. */
static int
attrs_append(struct t2m_manifest *m, struct t2m_attrs *a, const char *key,
    const char *v, t2m_error *err)
{
	const char *k;

	if (a->n + 1 > T2M_MAX_ATTRS)
		return t2m_fail(err, "more than %u attributes", a->n);
	if (attrs_grow(m, a, a->n + 1) < 0 ||
	    (k = intern(m, key, strlen(key))) == NULL)
		return t2m_fail(err, "out of memory");
	a->kv[a->n].key = k;
	a->kv[a->n++].val = v;
	return 0;
}

int
t2m_attrs_set(struct t2m_manifest *m, struct t2m_attrs *a, const char *key,
    const char *val, t2m_error *err)
{
	const char *v;
	uint32_t i;

	if ((v = attr_value(m, key, val, err)) == NULL)
		return -1;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->kv[i].key, key) == 0) {
			/* A shared array is copied before it changes. */
			if (a->cap < a->n && attrs_grow(m, a, a->n) < 0)
				return t2m_fail(err, "out of memory");
			a->kv[i].val = v;
			return 0;
		}
	return attrs_append(m, a, key, v, err);
}

int
t2m_attrs_add(struct t2m_manifest *m, struct t2m_attrs *a, const char *key,
    const char *val, t2m_error *err)
{
	const char *v;

	if ((v = attr_value(m, key, val, err)) == NULL)
		return -1;
	if (a->cap < a->n && attrs_grow(m, a, a->n) < 0)
		return t2m_fail(err, "out of memory");
	return attrs_append(m, a, key, v, err);
}

static int
by_key_ptr(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

int
t2m_attrs_twice(const struct t2m_attrs *a, const char **twice)
{
	const char **k;
	uint32_t i, j;

	*twice = NULL;
	if (a->n <= 16) {
		for (i = 1; i < a->n && !*twice; i++)
			for (j = 0; j < i && !*twice; j++)
				if (strcmp(a->kv[i].key, a->kv[j].key) == 0)
					*twice = a->kv[i].key;
		return *twice != NULL;
	}
	/* Sorted, the same keys come together: n log n, for the maps of
	 * 65536 pairs a file may hold. */
	if ((k = malloc(a->n * sizeof *k)) == NULL)
		return -1;
	for (i = 0; i < a->n; i++)
		k[i] = a->kv[i].key;
	qsort(k, a->n, sizeof *k, by_key_ptr);
	for (i = 1; i < a->n && !*twice; i++)
		if (strcmp(k[i], k[i - 1]) == 0)
			*twice = k[i];
	free(k);
	return *twice != NULL;
}

int
t2m_attrs_unset(struct t2m_manifest *m, struct t2m_attrs *a, const char *key)
{
	uint32_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->kv[i].key, key) == 0)
			break;
	if (i == a->n)
		return 0;
	if (a->cap < a->n && attrs_grow(m, a, a->n) < 0)
		return -1;
	memmove(&a->kv[i], &a->kv[i + 1], (a->n - i - 1) * sizeof a->kv[0]);
	a->n--;
	return 0;
}

void
t2m_attrs_share(struct t2m_manifest *m, struct t2m_attrs *a)
{
	struct t2m_index *x = m->index;
	struct share *sh;
	uint64_t h = a->n;
	uint32_t i;

	if (a->n == 0 || a->cap < a->n)
		return;		/* nothing to share, or shared already */
	if (x->shared == NULL && x->nshare < CACHE_AFTER)
		x->nshare++;
	if (x->shared == NULL && (x->nshare < CACHE_AFTER ||
	    (x->shared = calloc(SHARE_SLOTS, sizeof *x->shared)) == NULL))
		return;
	for (i = 0; i < a->n; i++) {
		h = (h ^ (uint64_t)(uintptr_t)a->kv[i].key) *
		    0x9e3779b97f4a7c15u;
		h = (h ^ (uint64_t)(uintptr_t)a->kv[i].val) *
		    0x9e3779b97f4a7c15u;
	}
	sh = &x->shared[(h >> 40) & (SHARE_SLOTS - 1)];
	if (sh->n == a->n && memcmp(sh->kv, a->kv,
	    (size_t)a->n * sizeof *a->kv) == 0) {
		kv_spare(m->arena, a);
		a->kv = (struct t2m_kv *)(uintptr_t)sh->kv;
	} else {
		sh->kv = a->kv;
		sh->n = a->n;
	}
	a->cap = 0;
}
