/*
 * shards.c - splitting a model into safetensors shards with an index, as
 * Hugging Face and mlx-lm lay sharded checkpoints out:
 * model-00001-of-00003.safetensors ... and model.safetensors.index.json
 * naming each tensor's shard.  Each shard is an ordinary safetensors
 * file laid out by t2m_st_layout, so a shard read alone is valid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Which shard each tensor of m goes to, in t2m_st_layout's order. */
static int
assign(const struct t2m_manifest *m, uint64_t max, struct t2m_st_shards *s,
    t2m_error *err)
{
	struct t2m_st_layout all;
	uint64_t used = 0, sz;
	uint32_t j, i, k = 0, here = 0;

	/* The single-file layout gives the order, and refuses what no
	 * safetensors file can hold; its header is not needed. */
	if (t2m_st_order(m, &all, err) < 0)
		return -1;
	for (i = 0; i < m->ntensors; i++)
		s->shard[i] = 0;	/* hidden tensors: the first shard */
	for (j = 0; j < all.ntensors; j++) {
		i = all.order[j];
		sz = m->tensors[i].nbytes;
		if (here > 0 && (used > max || sz > max - used)) {
			k++;
			used = here = 0;
		}
		if (k >= T2M_MAX_SHARDS) {
			t2m_st_layout_free(&all);
			return t2m_fail(err, "more than %u shards of at most "
			    "%llu bytes: choose a larger size", T2M_MAX_SHARDS,
			    (unsigned long long)max);
		}
		s->shard[i] = k;
		s->total += sz;
		used += sz;
		here++;
	}
	/* A tie goes with the tensor it names, whose bytes are its own. */
	for (i = 0; i < m->ntensors; i++)
		if (all.offset[i] == UINT64_MAX) {
			s->tied[i] = 1;
			s->shard[i] = s->shard[t2m_tensor_tie(m, i)];
		}
	s->n = k + 1;
	t2m_st_layout_free(&all);
	return 0;
}

/* Shard k's manifest: its tensors in m's order, and m's metadata.  It
 * names m's tensors and shapes, as m outlives it. */
static struct t2m_manifest *
sub_manifest(const struct t2m_manifest *m, struct t2m_st_shards *s,
    uint32_t k, uint32_t count, t2m_error *err)
{
	const struct t2m_tensor *t;
	struct t2m_manifest *sm;
	struct t2m_tensor *st;
	uint32_t i;

	if ((sm = t2m_manifest_new()) == NULL ||
	    t2m_manifest_reserve(sm, count, 0) < 0) {
		t2m_manifest_free(sm);
		t2m_fail(err, "out of memory");
		return NULL;
	}
	for (i = 0; i < m->meta.n; i++)
		if (t2m_attrs_set(sm, &sm->meta, m->meta.kv[i].key,
		    m->meta.kv[i].val, err) < 0)
			goto fail;
	for (i = 0; i < m->ntensors; i++) {
		t = &m->tensors[i];
		if (s->shard[i] != k)
			continue;
		s->sub[i] = sm->ntensors;
		if ((st = t2m_manifest_add_ref(sm, t->name, t->dtype, t->ndim,
		    t->shape, T2M_REF_NAME | T2M_REF_SHAPE, err)) == NULL)
			goto fail;
		if (t2m_tensor_hidden(t) && t2m_attrs_set(sm, &st->attrs,
		    "t2m.hidden", "1", err) < 0)
			goto fail;
		if (s->tied[i] && t2m_attrs_set(sm, &st->attrs, "t2m.tie",
		    t2m_attrs_get(&t->attrs, "t2m.tie"), err) < 0)
			goto fail;
	}
	return sm;
fail:
	t2m_manifest_free(sm);
	return NULL;
}

int
t2m_st_shard(const struct t2m_manifest *m, uint64_t max,
    struct t2m_st_shards *s, t2m_error *err)
{
	uint32_t k, i, *count = NULL;

	memset(s, 0, sizeof *s);
	if ((s->shard = malloc((m->ntensors + 1) * sizeof *s->shard)) ==
	    NULL || (s->sub = malloc((m->ntensors + 1) * sizeof *s->sub)) ==
	    NULL || (s->tied = calloc(m->ntensors + 1, 1)) == NULL) {
		t2m_fail(err, "out of memory");
		goto fail;
	}
	if (assign(m, max, s, err) < 0)
		goto fail;
	if ((s->m = calloc(s->n, sizeof *s->m)) == NULL ||
	    (s->l = calloc(s->n, sizeof *s->l)) == NULL ||
	    (count = calloc(s->n, sizeof *count)) == NULL) {
		t2m_fail(err, "out of memory");
		goto fail;
	}
	for (i = 0; i < m->ntensors; i++)
		count[s->shard[i]]++;
	for (k = 0; k < s->n; k++) {
		if ((s->m[k] = sub_manifest(m, s, k, count[k], err)) == NULL)
			goto fail;
		/* The header is made when the shard is written: never all
		 * of them held at once. */
		if (t2m_st_order(s->m[k], &s->l[k], err) < 0) {
			char name[64];
			t2m_st_shard_name(s, k, name, sizeof name);
			t2m_prefix(err, "%s", name);
			goto fail;
		}
	}
	free(count);
	return 0;
fail:
	free(count);
	t2m_st_shards_free(s);
	return -1;
}

void
t2m_st_shards_free(struct t2m_st_shards *s)
{
	uint32_t k;

	for (k = 0; s->m && k < s->n; k++)
		t2m_manifest_free(s->m[k]);
	for (k = 0; s->l && k < s->n; k++)
		t2m_st_layout_free(&s->l[k]);
	free(s->m);
	free(s->l);
	free(s->shard);
	free(s->sub);
	free(s->tied);
	memset(s, 0, sizeof *s);
}

void
t2m_st_shard_name(const struct t2m_st_shards *s, uint32_t k, char *name,
    size_t size)
{
	snprintf(name, size, "model-%05u-of-%05u.safetensors", k + 1, s->n);
}

static const struct t2m_manifest *sort_m;

static int
by_name(const void *a, const void *b)
{
	return strcmp(sort_m->tensors[*(const uint32_t *)a].name,
	    sort_m->tensors[*(const uint32_t *)b].name);
}

void
t2m_st_shard_index(const struct t2m_manifest *m,
    const struct t2m_st_shards *s, struct t2m_buf *b)
{
	uint32_t *v, i, n = 0;
	char name[64];

	if ((v = malloc((m->ntensors + 1) * sizeof *v)) == NULL) {
		b->nomem = 1;
		return;
	}
	for (i = 0; i < m->ntensors; i++)
		if (!t2m_tensor_hidden(&m->tensors[i]) && !s->tied[i])
			v[n++] = i;
	/* qsort has no context argument in C11; filters are single-threaded. */
	sort_m = m;
	qsort(v, n, sizeof *v, by_name);
	sort_m = NULL;
	t2m_buf_printf(b, "{\n  \"metadata\": {\n    \"total_size\": %llu\n"
	    "  },\n  \"weight_map\": {", (unsigned long long)s->total);
	for (i = 0; i < n; i++) {
		t2m_buf_str(b, i ? ",\n    " : "\n    ");
		t2m_buf_json(b, m->tensors[v[i]].name);
		t2m_st_shard_name(s, s->shard[v[i]], name, sizeof name);
		t2m_buf_printf(b, ": \"%s\"", name);
	}
	t2m_buf_str(b, n ? "\n  }\n}\n" : "}\n}\n");
	free(v);
}
