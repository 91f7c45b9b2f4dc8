/*
 * manifest.c - the manifest: tensors, modules and string maps, with their
 * strings in one arena so a model of 100,000 tensors costs a few
 * megabytes, and a hash index so names stay unique.
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

struct t2m_arena {
	struct block *head;
};

static void *
arena_alloc(struct t2m_arena *a, size_t n)
{
	struct block *b = a->head;
	size_t cap;
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (b == NULL || b->cap - b->used < n) {
		cap = n > 65536 ? n : 65536;
		if ((b = malloc(sizeof *b + cap)) == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->used;
	b->used += n;
	return p;
}

const char *
t2m_manifest_strndup(struct t2m_manifest *m, const char *s, size_t n)
{
	char *p;

	if (n > SIZE_MAX - 1 || (p = arena_alloc(m->arena, n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ---- name index ---- */

struct t2m_index {
	struct t2m_strmap names;	/* tensor name -> position */
	struct t2m_strmap modules;	/* module path -> first position */
};

long
t2m_manifest_find(const struct t2m_manifest *m, const char *name)
{
	return t2m_strmap_get(&m->index->names, name);
}

long
t2m_manifest_find_module(const struct t2m_manifest *m, const char *path)
{
	return t2m_strmap_get(&m->index->modules, path);
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
	return m;
}

void
t2m_manifest_free(struct t2m_manifest *m)
{
	struct block *b, *next;
	uint32_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->ntensors; i++)
		free(m->tensors[i].attrs.kv);
	for (i = 0; i < m->nmodules; i++)
		free(m->modules[i].attrs.kv);
	free(m->tensors);
	free(m->modules);
	free(m->info.kv);
	free(m->meta.kv);
	if (m->arena)
		for (b = m->arena->head; b; b = next) {
			next = b->next;
			free(b);
		}
	free(m->arena);
	if (m->index) {
		t2m_strmap_free(&m->index->names);
		t2m_strmap_free(&m->index->modules);
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

struct t2m_tensor *
t2m_manifest_add(struct t2m_manifest *m, const char *name, int dtype,
    int ndim, const uint64_t *shape, t2m_error *err)
{
	struct t2m_tensor *t;
	uint64_t nbytes;

	if (check_string("tensor name", name, err) < 0)
		return NULL;
	if (t2m_tensor_bytes(dtype, ndim, shape, &nbytes, err) < 0) {
		t2m_prefix(err, "tensor '%s'", name);
		return NULL;
	}
	if (t2m_manifest_find(m, name) >= 0) {
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
	if ((t->name = t2m_manifest_strndup(m, name, strlen(name))) == NULL ||
	    (t->shape = arena_alloc(m->arena, sizeof(uint64_t) *
	    (ndim ? ndim : 1))) == NULL)
		goto nomem;
	if (ndim)
		memcpy(t->shape, shape, sizeof(uint64_t) * ndim);
	if (t2m_strmap_put(&m->index->names, t->name, m->ntensors) < 0)
		goto nomem;
	m->ntensors++;
	return t;
nomem:
	t2m_fail(err, "out of memory at tensor '%s'", name);
	return NULL;
}

struct t2m_module *
t2m_manifest_add_module(struct t2m_manifest *m, const char *path,
    t2m_error *err)
{
	struct t2m_module *mod;

	if (check_string("module path", path, err) < 0)
		return NULL;
	if (grow((void **)&m->modules, &m->capmodules, m->nmodules + 1,
	    sizeof *m->modules, T2M_MAX_MODULES) < 0) {
		t2m_fail(err, "too many modules (%u)", m->nmodules);
		return NULL;
	}
	mod = &m->modules[m->nmodules];
	memset(mod, 0, sizeof *mod);
	if ((mod->path = t2m_manifest_strndup(m, path, strlen(path))) == NULL ||
	    (t2m_strmap_get(&m->index->modules, mod->path) < 0 &&
	    t2m_strmap_put(&m->index->modules, mod->path, m->nmodules) < 0)) {
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

int
t2m_attrs_set(struct t2m_manifest *m, struct t2m_attrs *a, const char *key,
    const char *val, t2m_error *err)
{
	const char *v;
	uint32_t i;

	if (check_string("attribute name", key, err) < 0 ||
	    check_string("attribute value", val, err) < 0)
		return -1;
	if ((v = t2m_manifest_strndup(m, val, strlen(val))) == NULL)
		return t2m_fail(err, "out of memory");
	for (i = 0; i < a->n; i++)
		if (strcmp(a->kv[i].key, key) == 0) {
			a->kv[i].val = v;
			return 0;
		}
	if (grow((void **)&a->kv, &a->cap, a->n + 1, sizeof *a->kv,
	    T2M_MAX_ATTRS) < 0)
		return t2m_fail(err, "more than %u attributes", a->n);
	if ((a->kv[a->n].key = t2m_manifest_strndup(m, key, strlen(key))) ==
	    NULL)
		return t2m_fail(err, "out of memory");
	a->kv[a->n++].val = v;
	return 0;
}
