/* test_manifest.c - the manifest: tensors, name index, modules, attrs. */
#include <stdlib.h>

#include "unit.h"

TEST(manifest_many_tensors)
{
	struct t2m_manifest *m;
	struct t2m_tensor *t;
	t2m_error err;
	char name[64];
	uint64_t shape[1];
	uint32_t i, bad = 0;

	m = t2m_manifest_new();
	CHECK(m != NULL);
	for (i = 0; i < 100000; i++) {
		snprintf(name, sizeof name, "layers.%u.weight", i);
		shape[0] = i % 7 + 1;
		if ((t = t2m_manifest_add(m, name, T2M_F16, 1, shape,
		    &err)) == NULL) {
			printf("# add %s: %s\n", name, err.msg);
			unit_failures++;
			break;
		}
	}
	CHECK_INT(100000, m->ntensors);
	for (i = 0; i < m->ntensors; i++) {
		snprintf(name, sizeof name, "layers.%u.weight", i);
		if (t2m_manifest_find(m, name) != (long)i ||
		    strcmp(m->tensors[i].name, name) != 0 ||
		    m->tensors[i].nbytes != 2 * (i % 7 + 1) ||
		    m->tensors[i].shape[0] != i % 7 + 1)
			bad++;
	}
	CHECK_INT(0, bad);
	CHECK_INT(-1, t2m_manifest_find(m, "layers.100000.weight"));
	CHECK_INT(-1, t2m_manifest_find(m, "layers.5.weigh"));
	CHECK_INT(-1, t2m_manifest_find(m, "layers.5.weightx"));
	CHECK_INT(-1, t2m_manifest_find(m, ""));

	/* A late duplicate is caught and leaves everything as it was. */
	CHECK(t2m_manifest_add(m, "layers.77777.weight", T2M_U8, 0, NULL,
	    &err) == NULL);
	CHECK_MSG("'layers.77777.weight' appears twice", err.msg);
	CHECK_INT(100000, m->ntensors);
	CHECK_INT(77777, t2m_manifest_find(m, "layers.77777.weight"));
	CHECK_INT(T2M_F16, m->tensors[77777].dtype);
	t2m_manifest_free(m);
}

TEST(manifest_add_copies)
{
	struct t2m_manifest *m = t2m_manifest_new();
	struct t2m_tensor *t;
	uint64_t shape[3] = { 2, 3, 4 };
	char name[] = "w\xc3\xa9ight";
	t2m_error err;

	t = t2m_manifest_add(m, name, T2M_BF16, 3, shape, &err);
	CHECK(t != NULL);
	name[0] = 'X';
	shape[1] = 99;
	CHECK_STR("w\xc3\xa9ight", m->tensors[0].name);
	CHECK_INT(T2M_BF16, m->tensors[0].dtype);
	CHECK_INT(3, m->tensors[0].ndim);
	CHECK_U64(3, m->tensors[0].shape[1]);
	CHECK_U64(48, m->tensors[0].nbytes);
	CHECK_INT(0, m->tensors[0].attrs.n);
	CHECK_INT(0, t2m_manifest_find(m, "w\xc3\xa9ight"));
	CHECK_INT(-1, t2m_manifest_find(m, "X\xc3\xa9ight"));

	/* A scalar and the empty name are tensors like any other. */
	CHECK(t2m_manifest_add(m, "", T2M_F64, 0, NULL, &err) != NULL);
	CHECK_U64(8, m->tensors[1].nbytes);
	CHECK_INT(0, m->tensors[1].ndim);
	CHECK_INT(1, t2m_manifest_find(m, ""));
	t2m_manifest_free(m);
}

TEST(manifest_add_refuses)
{
	struct t2m_manifest *m = t2m_manifest_new();
	uint64_t shape[T2M_MAXDIM + 1];
	t2m_error err;
	char *big;
	int i;

	for (i = 0; i <= T2M_MAXDIM; i++)
		shape[i] = 1;
	CHECK(t2m_manifest_add(m, "bad\xff", T2M_U8, 1, shape, &err) == NULL);
	CHECK_MSG("tensor name is not valid UTF-8", err.msg);
	CHECK(t2m_manifest_add(m, "\xed\xa0\x80", T2M_U8, 1, shape, &err) ==
	    NULL);
	shape[0] = 3;
	CHECK(t2m_manifest_add(m, "odd", T2M_F4, 1, shape, &err) == NULL);
	CHECK_MSG("tensor 'odd': 3 elements of F4 do not fill whole bytes",
	    err.msg);
	shape[0] = 1;
	CHECK(t2m_manifest_add(m, "deep", T2M_U8, T2M_MAXDIM + 1, shape,
	    &err) == NULL);
	CHECK_MSG("tensor 'deep': 65 dimensions", err.msg);
	CHECK(t2m_manifest_add(m, "nodtype", 0, 1, shape, &err) == NULL);

	big = malloc(T2M_MAX_STRING + 2);
	memset(big, 'n', T2M_MAX_STRING + 1);
	big[T2M_MAX_STRING + 1] = '\0';
	CHECK(t2m_manifest_add(m, big, T2M_U8, 1, shape, &err) == NULL);
	CHECK_MSG("at most 1048576", err.msg);
	big[T2M_MAX_STRING] = '\0';
	CHECK(t2m_manifest_add(m, big, T2M_U8, 1, shape, &err) != NULL);
	free(big);

	/* Refused tensors leave no trace in the list or the index. */
	CHECK_INT(1, m->ntensors);
	CHECK_INT(-1, t2m_manifest_find(m, "odd"));
	CHECK_INT(-1, t2m_manifest_find(m, "deep"));
	CHECK_INT(-1, t2m_manifest_find(m, "nodtype"));
	CHECK(t2m_manifest_add(m, "odd", T2M_F4, 1,
	    (uint64_t[]){ 4 }, &err) != NULL);
	CHECK_INT(1, t2m_manifest_find(m, "odd"));
	t2m_manifest_free(m);
}

TEST(attrs_set_replaces_in_place)
{
	struct t2m_manifest *m = t2m_manifest_new();
	struct t2m_attrs *a = &m->meta;
	char val[] = "one";
	t2m_error err;

	CHECK_INT(0, t2m_attrs_set(m, a, "a", val, &err));
	CHECK_INT(0, t2m_attrs_set(m, a, "b", "two", &err));
	CHECK_INT(0, t2m_attrs_set(m, a, "c", "three", &err));
	val[0] = 'X';
	CHECK_STR("one", t2m_attrs_get(a, "a"));
	CHECK_INT(0, t2m_attrs_set(m, a, "b", "a much longer second value",
	    &err));
	CHECK_INT(0, t2m_attrs_set(m, a, "a", "", &err));
	CHECK_INT(3, a->n);
	CHECK_STR("a", a->kv[0].key);
	CHECK_STR("", a->kv[0].val);
	CHECK_STR("b", a->kv[1].key);
	CHECK_STR("a much longer second value", a->kv[1].val);
	CHECK_STR("c", a->kv[2].key);
	CHECK_STR("three", a->kv[2].val);
	CHECK_STR("a much longer second value", t2m_attrs_get(a, "b"));
	CHECK(t2m_attrs_get(a, "d") == NULL);
	CHECK(t2m_attrs_get(a, "") == NULL);
	CHECK(t2m_attrs_get(&m->info, "a") == NULL);

	CHECK_INT(-1, t2m_attrs_set(m, a, "\xc0\x80", "v", &err));
	CHECK_MSG("attribute name is not valid UTF-8", err.msg);
	CHECK_INT(-1, t2m_attrs_set(m, a, "d", "\xed\xa0\x80", &err));
	CHECK_MSG("attribute value is not valid UTF-8", err.msg);
	CHECK_INT(-1, t2m_attrs_set(m, a, "b", "\xff", &err));
	CHECK_INT(3, a->n);
	CHECK_STR("a much longer second value", t2m_attrs_get(a, "b"));
	t2m_manifest_free(m);
}

TEST(attrs_many_keys)
{
	struct t2m_manifest *m = t2m_manifest_new();
	char key[32], val[32];
	t2m_error err;
	uint32_t i, bad = 0;

	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof key, "k%u", i);
		snprintf(val, sizeof val, "v%u", i);
		if (t2m_attrs_set(m, &m->info, key, val, &err) < 0)
			bad++;
	}
	CHECK_INT(0, bad);
	CHECK_INT(2000, m->info.n);
	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof key, "k%u", i);
		snprintf(val, sizeof val, "v%u", i);
		if (strcmp(m->info.kv[i].key, key) != 0 ||
		    strcmp(m->info.kv[i].val, val) != 0)
			bad++;
	}
	CHECK_INT(0, bad);
	t2m_manifest_free(m);
}

TEST(manifest_modules)
{
	struct t2m_manifest *m = t2m_manifest_new();
	struct t2m_module *mod;
	char path[] = "encoder.layers.0";
	t2m_error err;

	CHECK((mod = t2m_manifest_add_module(m, path, &err)) != NULL);
	CHECK_INT(0, t2m_attrs_set(m, &mod->attrs, "class", "Linear", &err));
	path[0] = 'X';
	CHECK((mod = t2m_manifest_add_module(m, "", &err)) != NULL);
	CHECK(t2m_manifest_add_module(m, "bad\xc3", &err) == NULL);
	CHECK_MSG("module path is not valid UTF-8", err.msg);
	CHECK_INT(2, m->nmodules);
	CHECK_STR("encoder.layers.0", m->modules[0].path);
	CHECK_STR("Linear", t2m_attrs_get(&m->modules[0].attrs, "class"));
	CHECK_STR("", m->modules[1].path);
	CHECK_INT(0, m->modules[1].attrs.n);
	t2m_manifest_free(m);
	t2m_manifest_free(NULL);
}

TEST(manifest_strndup)
{
	struct t2m_manifest *m = t2m_manifest_new();
	const char *s;

	s = t2m_manifest_strndup(m, "abcdef", 3);
	CHECK_STR("abc", s);
	s = t2m_manifest_strndup(m, "", 0);
	CHECK_STR("", s);
	t2m_manifest_free(m);
}

/* Attributes alike share one array, and each copies it before a change;
 * short values repeated are kept once. */
TEST(attrs_share_copy_on_write)
{
	struct t2m_manifest *m = t2m_manifest_new();
	struct t2m_tensor *t;
	char name[32];
	t2m_error err;
	uint32_t i, bad = 0;

	CHECK(t2m_manifest_add_module(m, "blocks.0", &err) != NULL);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "blocks.0.w%u", i);
		if ((t = t2m_manifest_add(m, name, T2M_U8, 0, NULL,
		    &err)) == NULL ||
		    t2m_attrs_set(m, &t->attrs, "module", "blocks.0",
		    &err) < 0 ||
		    t2m_attrs_set(m, &t->attrs, "rule", "identity", &err) < 0) {
			bad++;
			continue;
		}
		t2m_attrs_share(m, &t->attrs);
	}
	CHECK_INT(0, bad);
	/* The module's path is the attribute's value, not a copy. */
	CHECK(m->tensors[5].attrs.kv[0].val == m->modules[0].path);
	CHECK(m->tensors[900].attrs.kv[1].val ==
	    m->tensors[901].attrs.kv[1].val);
	CHECK(m->tensors[998].attrs.kv == m->tensors[999].attrs.kv);
	CHECK(m->tensors[999].attrs.cap < m->tensors[999].attrs.n);

	/* A change to one leaves the others as they were. */
	CHECK_INT(0, t2m_attrs_set(m, &m->tensors[999].attrs, "rule",
	    "permute", &err));
	CHECK_STR("permute", t2m_attrs_get(&m->tensors[999].attrs, "rule"));
	CHECK_STR("identity", t2m_attrs_get(&m->tensors[998].attrs, "rule"));
	CHECK_INT(0, t2m_attrs_set(m, &m->tensors[997].attrs, "cast", "F64",
	    &err));
	CHECK_INT(3, m->tensors[997].attrs.n);
	CHECK_INT(2, m->tensors[996].attrs.n);
	CHECK(t2m_attrs_get(&m->tensors[996].attrs, "cast") == NULL);
	for (i = 0; i < 997; i++)
		if (m->tensors[i].attrs.n != 2 || strcmp(t2m_attrs_get(
		    &m->tensors[i].attrs, "rule"), "identity") != 0 ||
		    strcmp(t2m_attrs_get(&m->tensors[i].attrs, "module"),
		    "blocks.0") != 0)
			bad++;
	CHECK_INT(0, bad);
	/* Sharing again is harmless; so is sharing nothing. */
	t2m_attrs_share(m, &m->tensors[0].attrs);
	t2m_attrs_share(m, &m->info);
	CHECK_INT(0, m->info.n);
	t2m_manifest_free(m);
}

TEST(attrs_reserve_exact)
{
	struct t2m_manifest *m = t2m_manifest_new();
	t2m_error err;

	CHECK_INT(0, t2m_attrs_reserve(m, &m->meta, 3, &err));
	CHECK_INT(3, m->meta.cap);
	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "a", "1", &err));
	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "b", "2", &err));
	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "c", "3", &err));
	CHECK_INT(3, m->meta.cap);
	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "d", "4", &err));
	CHECK_INT(4, m->meta.n);
	CHECK_STR("3", t2m_attrs_get(&m->meta, "c"));
	CHECK_STR("4", t2m_attrs_get(&m->meta, "d"));
	CHECK_INT(-1, t2m_attrs_reserve(m, &m->meta, T2M_MAX_ATTRS, &err));
	CHECK_INT(4, m->meta.n);
	t2m_manifest_free(m);
}

/* Names and shapes kept by reference are the caller's own; a manifest
 * sized beforehand holds as many as it said without growing. */
TEST(manifest_add_ref_and_reserve)
{
	struct t2m_manifest *src = t2m_manifest_new(), *m;
	struct t2m_tensor *t;
	char name[32];
	t2m_error err;
	uint32_t i, bad = 0;

	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof name, "t%u", i);
		if (t2m_manifest_add(src, name, T2M_F32, 2,
		    (uint64_t[]){ i + 1, 2 }, &err) == NULL)
			bad++;
	}
	CHECK_INT(0, bad);
	m = t2m_manifest_new();
	CHECK_INT(0, t2m_manifest_reserve(m, 300, 0));
	CHECK_INT(300, m->captensors);
	for (i = 0; i < 300; i++) {
		t = &src->tensors[i];
		if (t2m_manifest_add_ref(m, t->name, T2M_F16, t->ndim,
		    t->shape, i % 2 ? T2M_REF_NAME : T2M_REF_SHAPE,
		    &err) == NULL)
			bad++;
	}
	CHECK_INT(0, bad);
	CHECK_INT(300, m->captensors);
	CHECK(m->tensors[1].name == src->tensors[1].name);
	CHECK(m->tensors[2].name != src->tensors[2].name);
	CHECK(m->tensors[2].shape == src->tensors[2].shape);
	CHECK(m->tensors[1].shape != src->tensors[1].shape);
	CHECK_U64(16, m->tensors[3].nbytes);
	CHECK_INT(123, t2m_manifest_find(m, "t123"));
	CHECK(t2m_manifest_add_ref(m, "t7", T2M_U8, 0, NULL, T2M_REF_NAME,
	    &err) == NULL);
	CHECK_MSG("'t7' appears twice", err.msg);
	CHECK_INT(-1, t2m_manifest_reserve(m, T2M_MAX_TENSORS + 1, 0));
	t2m_manifest_free(m);
	t2m_manifest_free(src);
}

/* The positional map over an array of keys, through growth. */
static const char *
key_at(const void *ctx, uint32_t pos)
{
	return ((char *const *)ctx)[pos];
}

TEST(posmap_grows_and_finds)
{
	struct t2m_posmap t;
	char *keys[5000] = { NULL };
	uint32_t i, bad = 0;

	t2m_posmap_init(&t, key_at, keys);
	CHECK_INT(-1, t2m_posmap_get(&t, "none", t2m_hash_str("none")));
	for (i = 0; i < 5000; i++) {
		keys[i] = malloc(16);
		snprintf(keys[i], 16, "key%u", i);
		if (i == 2500)
			CHECK_INT(0, t2m_posmap_reserve(&t, 5000));
		if (t2m_posmap_add(&t, i, t2m_hash_str(keys[i])) < 0)
			bad++;
	}
	CHECK_INT(0, bad);
	for (i = 0; i < 5000; i++)
		if (t2m_posmap_get(&t, keys[i], t2m_hash_str(keys[i])) !=
		    (long)i)
			bad++;
	CHECK_INT(0, bad);
	CHECK_INT(-1, t2m_posmap_get(&t, "key5000", t2m_hash_str("key5000")));
	t2m_posmap_free(&t);
	for (i = 0; i < 5000; i++)
		free(keys[i]);
}

/* Pairs appended unchecked, then repeats found: by pairs up to 16, by
 * sorting above; removal, from a shared array too. */
TEST(attrs_add_twice_unset)
{
	struct t2m_manifest *m = t2m_manifest_new();
	struct t2m_attrs *a, *b;
	const char *twice;
	char key[32];
	t2m_error err;
	int i, bad = 0;

	CHECK(m != NULL);
	a = &m->meta;
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof key, "k%d", i);
		bad += t2m_attrs_add(m, a, key, "v", &err) < 0;
	}
	CHECK_INT(0, bad);
	CHECK_INT(0, t2m_attrs_twice(a, &twice));
	CHECK(twice == NULL);
	CHECK_INT(0, t2m_attrs_add(m, a, "k3", "again", &err));
	CHECK_INT(1, t2m_attrs_twice(a, &twice));
	CHECK_STR("k3", twice);
	b = &m->info;
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "key.%d", (i * 7919) % 5000);
		bad += t2m_attrs_add(m, b, key, "v", &err) < 0;
	}
	CHECK_INT(0, bad);
	CHECK_INT(5000, b->n);
	CHECK_INT(0, t2m_attrs_twice(b, &twice));
	CHECK_INT(0, t2m_attrs_add(m, b, "key.4321", "v", &err));
	CHECK_INT(1, t2m_attrs_twice(b, &twice));
	CHECK_STR("key.4321", twice);

	/* Unset: the pairs after move up; a missing key is no error. */
	CHECK_INT(0, t2m_attrs_unset(m, a, "k1"));
	CHECK_INT(5, a->n);
	CHECK(t2m_attrs_get(a, "k1") == NULL);
	CHECK_STR("k2", a->kv[1].key);
	CHECK_INT(0, t2m_attrs_unset(m, a, "nothing"));
	CHECK_INT(5, a->n);

	/* Two tensors sharing one array: removing from one leaves the
	 * other whole. */
	CHECK(t2m_manifest_add(m, "x", T2M_U8, 0, NULL, &err) != NULL);
	CHECK(t2m_manifest_add(m, "y", T2M_U8, 0, NULL, &err) != NULL);
	CHECK_INT(0, t2m_attrs_set(m, &m->tensors[0].attrs, "t2m.tie", "w",
	    &err));
	CHECK_INT(0, t2m_attrs_set(m, &m->tensors[0].attrs, "rule", "r",
	    &err));
	/* as t2m_attrs_share leaves them, once it has seen enough */
	m->tensors[1].attrs = m->tensors[0].attrs;
	m->tensors[1].attrs.cap = 0;
	CHECK_INT(0, t2m_attrs_unset(m, &m->tensors[1].attrs, "t2m.tie"));
	CHECK_INT(1, m->tensors[1].attrs.n);
	CHECK_STR("r", t2m_attrs_get(&m->tensors[1].attrs, "rule"));
	CHECK_INT(2, m->tensors[0].attrs.n);
	CHECK_STR("w", t2m_attrs_get(&m->tensors[0].attrs, "t2m.tie"));
	t2m_manifest_free(m);
}
