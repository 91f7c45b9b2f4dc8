/*
 * safetensors.c - reading and laying out safetensors files.
 *
 * The reader accepts what the reference parser (huggingface/safetensors,
 * tensor.rs) accepts and refuses what it refuses, with the position of
 * the fault: header length at most 100,000,000 bytes and not zero; a
 * UTF-8 JSON object; known dtype names; shape x element size = extent;
 * offsets contiguous from 0 with no hole or overlap; nothing after the
 * last tensor; __metadata__ a string-to-string map.  It is stricter in
 * two places the reference leaves loose: a tensor name or a metadata key
 * that appears twice is refused rather than silently overwritten.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "le.h"

struct entry {
	char *name;
	uint64_t begin, end;
	uint64_t shape[T2M_MAXDIM];
	int ndim, dtype;
	uint32_t seq;		/* position in the JSON, to break ties */
};

static int
parse_metadata(struct t2m_json *j, struct t2m_manifest *m)
{
	const char *s, *twice;
	char *key;
	size_t n;

	if (t2m_json_null(j))
		return 0;
	if (t2m_json_expect(j, '{', "'{' (__metadata__ is an object)") < 0)
		return -1;
	if (t2m_json_peek(j) == '}') {
		t2m_json_expect(j, '}', "'}'");
		return 0;
	}
	for (;;) {
		if (t2m_json_string(j, &s, &n) < 0)
			return -1;
		if ((key = strdup(s)) == NULL)
			return t2m_json_fail(j, "out of memory");
		if (t2m_json_expect(j, ':', "':'") < 0) {
			free(key);
			return -1;
		}
		if (t2m_json_peek(j) != '"') {
			free(key);
			return t2m_json_fail(j, "__metadata__ value is not a "
			    "string");
		}
		if (t2m_json_string(j, &s, &n) < 0 ||
		    t2m_attrs_add(m, &m->meta, key, s, j->err) < 0) {
			free(key);
			return -1;
		}
		free(key);
		if (t2m_json_peek(j) != ',')
			break;
		t2m_json_expect(j, ',', "','");
	}
	if (t2m_json_expect(j, '}', "',' or '}'") < 0)
		return -1;
	switch (t2m_attrs_twice(&m->meta, &twice)) {
	case 1:
		return t2m_json_fail(j, "__metadata__ key appears twice");
	case -1:
		return t2m_json_fail(j, "out of memory");
	}
	return 0;
}

static int
parse_uint_array(struct t2m_json *j, uint64_t *v, int max, int *n,
    const char *what)
{
	*n = 0;
	if (t2m_json_expect(j, '[', what) < 0)
		return -1;
	if (t2m_json_peek(j) == ']')
		return t2m_json_expect(j, ']', "']'");
	for (;;) {
		if (*n == max)
			return t2m_json_fail(j, "more than %d entries", max);
		if (t2m_json_uint(j, &v[(*n)++]) < 0)
			return -1;
		if (t2m_json_peek(j) != ',')
			break;
		t2m_json_expect(j, ',', "','");
	}
	return t2m_json_expect(j, ']', "',' or ']'");
}

/* One tensor entry: {"dtype": ..., "shape": [...], "data_offsets": [b, e]} */
static int
parse_entry(struct t2m_json *j, struct entry *e)
{
	enum { DTYPE = 1, SHAPE = 2, OFFSETS = 4 };
	size_t entry_at = t2m_json_offset(j), n;
	uint64_t off[3];
	int seen = 0, k, count;
	const char *s;

	if (t2m_json_expect(j, '{', "'{' (a tensor entry is an object)") < 0)
		return -1;
	if (t2m_json_peek(j) != '}')
		for (;;) {
			if (t2m_json_string(j, &s, &n) < 0)
				return -1;
			k = strcmp(s, "dtype") == 0 ? DTYPE :
			    strcmp(s, "shape") == 0 ? SHAPE :
			    strcmp(s, "data_offsets") == 0 ? OFFSETS : 0;
			if (k & seen)
				return t2m_json_fail(j, "field '%s' appears "
				    "twice", s);
			seen |= k;
			if (t2m_json_expect(j, ':', "':'") < 0)
				return -1;
			if (k == DTYPE) {
				if (t2m_json_peek(j) != '"')
					return t2m_json_fail(j, "dtype is not "
					    "a string");
				if (t2m_json_string(j, &s, &n) < 0)
					return -1;
				if ((e->dtype = t2m_dtype_lookup(s, n)) == 0 ||
				    !t2m_dtype_in_safetensors(e->dtype))
					return t2m_json_fail(j, "unknown dtype "
					    "'%s'", s);
			} else if (k == SHAPE) {
				if (parse_uint_array(j, e->shape, T2M_MAXDIM,
				    &e->ndim, "'[' (shape is an array)") < 0)
					return -1;
			} else if (k == OFFSETS) {
				if (parse_uint_array(j, off, 3, &count,
				    "'[' (data_offsets is an array)") < 0)
					return -1;
				if (count != 2)
					return t2m_json_fail(j, "data_offsets "
					    "has %d entries, not 2", count);
				e->begin = off[0];
				e->end = off[1];
			} else if (t2m_json_skip(j) < 0) {
				return -1;
			}
			if (t2m_json_peek(j) != ',')
				break;
			t2m_json_expect(j, ',', "','");
		}
	if (t2m_json_expect(j, '}', "',' or '}'") < 0)
		return -1;
	if (seen != (DTYPE | SHAPE | OFFSETS)) {
		j->p = j->start + entry_at;
		return t2m_json_fail(j, "tensor '%s' lacks %s", e->name,
		    !(seen & DTYPE) ? "a dtype" : !(seen & SHAPE) ?
		    "a shape" : "data_offsets");
	}
	return 0;
}

static int
by_offset(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
free_entries(struct entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

/* Parse the JSON header text into *m (tensors sorted by offset). */
static int
parse_header(const char *text, size_t len, struct t2m_manifest *m,
    uint64_t *data_len, t2m_error *err)
{
	struct t2m_json j;
	struct entry *e = NULL, *ne;
	size_t n = 0, cap = 0, i, slen;
	uint64_t at = 0, need;
	int meta_seen = 0, rc = -1;
	const char *s;

	t2m_json_init(&j, text, len, err);
	if (t2m_json_expect(&j, '{', "'{' (the header is a JSON object)") < 0)
		goto out;
	if (t2m_json_peek(&j) != '}')
		for (;;) {
			if (t2m_json_string(&j, &s, &slen) < 0)
				goto out;
			if (strcmp(s, "__metadata__") == 0) {
				if (meta_seen++) {
					t2m_json_fail(&j, "__metadata__ "
					    "appears twice");
					goto out;
				}
				if (t2m_json_expect(&j, ':', "':'") < 0 ||
				    parse_metadata(&j, m) < 0)
					goto out;
			} else {
				if (n == cap) {
					cap = cap ? cap * 2 : 64;
					if (cap > T2M_MAX_TENSORS ||
					    (ne = realloc(e, cap * sizeof *e))
					    == NULL) {
						t2m_json_fail(&j, "too many "
						    "tensors");
						goto out;
					}
					e = ne;
				}
				memset(&e[n], 0, sizeof e[n]);
				e[n].seq = (uint32_t)n;
				if ((e[n].name = strdup(s)) == NULL) {
					t2m_json_fail(&j, "out of memory");
					goto out;
				}
				n++;
				if (t2m_json_expect(&j, ':', "':'") < 0 ||
				    parse_entry(&j, &e[n - 1]) < 0)
					goto out;
			}
			if (t2m_json_peek(&j) != ',')
				break;
			t2m_json_expect(&j, ',', "','");
		}
	if (t2m_json_expect(&j, '}', "',' or '}'") < 0)
		goto out;
	if (t2m_json_peek(&j) != -1) {
		t2m_json_fail(&j, "trailing characters after the header "
		    "object (pad with spaces only)");
		goto out;
	}

	if (n > 0)
		qsort(e, n, sizeof *e, by_offset);
	for (i = 0; i < n; i++) {
		if (t2m_tensor_bytes(e[i].dtype, e[i].ndim, e[i].shape, &need,
		    err) < 0) {
			t2m_prefix(err, "tensor '%s'", e[i].name);
			goto out;
		}
		if (e[i].end < e[i].begin) {
			t2m_fail(err, "tensor '%s': data_offsets [%llu, %llu] "
			    "end before they begin", e[i].name,
			    (unsigned long long)e[i].begin,
			    (unsigned long long)e[i].end);
			goto out;
		}
		if (e[i].begin != at) {
			t2m_fail(err, "tensor '%s': data_offsets [%llu, %llu] "
			    "%s (the previous tensor ends at %llu)", e[i].name,
			    (unsigned long long)e[i].begin,
			    (unsigned long long)e[i].end,
			    e[i].begin > at ? "leave a hole" : "overlap",
			    (unsigned long long)at);
			goto out;
		}
		if (e[i].end - e[i].begin != need) {
			t2m_fail(err, "tensor '%s': data_offsets [%llu, %llu] "
			    "hold %llu bytes, but its shape and %s need %llu",
			    e[i].name, (unsigned long long)e[i].begin,
			    (unsigned long long)e[i].end,
			    (unsigned long long)(e[i].end - e[i].begin),
			    t2m_dtype_name(e[i].dtype),
			    (unsigned long long)need);
			goto out;
		}
		if (t2m_manifest_add(m, e[i].name, e[i].dtype, e[i].ndim,
		    e[i].shape, err) == NULL)
			goto out;
		at = e[i].end;
	}
	*data_len = at;
	rc = 0;
out:
	t2m_json_free(&j);
	free_entries(e, n);
	return rc;
}

/*
 * The header text: allocated at once from a regular file, whose size
 * bounds it, but grown as bytes arrive from a pipe, so a lying length
 * costs nothing.
 */
static int
read_text(struct t2m_in *in, size_t n, char **out, t2m_error *err)
{
	size_t have = 0, cap = in->regular ? n : 0, want;
	char *buf = NULL, *nb;
	ssize_t k;

	*out = NULL;
	if (in->regular && (buf = malloc(n ? n : 1)) == NULL)
		return t2m_fail(err, "out of memory for a %zu-byte header", n);
	while (have < n) {
		if (have == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > n)
				cap = n;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				return t2m_fail(err, "out of memory for a "
				    "%zu-byte header", n);
			}
			buf = nb;
		}
		want = cap - have;
		if ((k = t2m_in_read(in, buf + have, want, err)) < 0) {
			free(buf);
			return -1;
		}
		have += (size_t)k;
		if ((size_t)k < want) {
			free(buf);
			return t2m_fail(err, "offset 8: truncated header (%zu "
			    "bytes expected, %zu read)", n, have);
		}
	}
	*out = buf;
	return 0;
}

int
t2m_st_read_header(struct t2m_in *in, struct t2m_manifest **mp,
    t2m_error *err)
{
	unsigned char b[8];
	struct t2m_manifest *m;
	uint64_t hlen, data_len, total;
	char *text;
	ssize_t k;

	*mp = NULL;
	if ((k = t2m_in_read(in, b, 8, err)) < 0)
		return -1;
	if (k < 8)
		return t2m_fail(err, "%zd bytes: too short for a safetensors "
		    "header", k);
	hlen = t2m_le64(b);
	if (hlen == 0)
		return t2m_fail(err, "header length is 0");
	if (hlen > T2M_ST_MAX_HEADER)
		return t2m_fail(err, "header length %llu exceeds %u",
		    (unsigned long long)hlen, T2M_ST_MAX_HEADER);
	if (in->regular && hlen > in->size - 8)
		return t2m_fail(err, "header length %llu runs past the end "
		    "of the %llu-byte file", (unsigned long long)hlen,
		    (unsigned long long)in->size);
	if (read_text(in, (size_t)hlen, &text, err) < 0)
		return -1;
	if ((m = t2m_manifest_new()) == NULL) {
		free(text);
		return t2m_fail(err, "out of memory");
	}
	if (parse_header(text, (size_t)hlen, m, &data_len, err) < 0) {
		free(text);
		t2m_manifest_free(m);
		return -1;
	}
	free(text);
	if (in->regular) {
		total = 8 + hlen + data_len;
		if (data_len > UINT64_MAX - 8 - hlen || total > in->size) {
			t2m_fail(err, "truncated: the header promises %llu "
			    "bytes of data, the file holds %llu",
			    (unsigned long long)data_len,
			    (unsigned long long)(in->size - 8 - hlen));
			t2m_manifest_free(m);
			return -1;
		}
		if (total < in->size) {
			t2m_fail(err, "%llu bytes after the last tensor",
			    (unsigned long long)(in->size - total));
			t2m_manifest_free(m);
			return -1;
		}
	}
	*mp = m;
	return 0;
}

/* ---- layout for writing ---- */

int
t2m_tensor_hidden(const struct t2m_tensor *t)
{
	const char *v = t2m_attrs_get(&t->attrs, "t2m.hidden");

	return v && strcmp(v, "1") == 0;
}

long
t2m_tensor_tie(const struct t2m_manifest *m, uint32_t i)
{
	const struct t2m_tensor *t = &m->tensors[i], *u;
	const char *v = t2m_attrs_get(&t->attrs, "t2m.tie");
	long k;

	if (v == NULL || t->nbytes == 0 || t2m_tensor_hidden(t) ||
	    (k = t2m_manifest_find(m, v)) < 0 || (uint32_t)k == i)
		return -1;
	u = &m->tensors[k];
	if (t2m_tensor_hidden(u) || t2m_attrs_get(&u->attrs, "t2m.tie") ||
	    u->dtype != t->dtype || u->ndim != t->ndim ||
	    memcmp(u->shape, t->shape, (size_t)t->ndim * sizeof t->shape[0]))
		return -1;
	return k;
}

static const struct t2m_manifest *sort_m;

static int
by_size_then_name(const void *a, const void *b)
{
	const struct t2m_tensor *x = &sort_m->tensors[*(const uint32_t *)a];
	const struct t2m_tensor *y = &sort_m->tensors[*(const uint32_t *)b];
	unsigned bx = t2m_dtype_bits(x->dtype), by = t2m_dtype_bits(y->dtype);

	if (bx != by)
		return bx > by ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* A __metadata__ entry: a stream metadata pair, or a hidden tensor. */
struct mentry {
	const char *key;	/* for a hidden tensor, its name */
	const char *val;
	int32_t hidden;		/* manifest position, or -1 */
	char *ownkey;
};

static int
by_key(const void *a, const void *b)
{
	return strcmp(((const struct mentry *)a)->key,
	    ((const struct mentry *)b)->key);
}

/* ---- the header's size, counted before it is made ---- */

/* Bytes of s as t2m_buf_json writes it, quotes included. */
static size_t
json_len(const char *s)
{
	size_t n = 2;
	unsigned char c;

	for (; (c = (unsigned char)*s) != '\0'; s++)
		if (c >= 0x20 && c != '"' && c != '\\')
			n++;
		else if (c == '"' || c == '\\' || c == '\n' || c == '\t' ||
		    c == '\r')
			n += 2;
		else
			n += 6;
	return n;
}

static size_t
digits(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* "a,b,c" for a shape. */
static size_t
dims_len(const struct t2m_tensor *t)
{
	size_t n = t->ndim > 1 ? (size_t)t->ndim - 1 : 0;
	int d;

	for (d = 0; d < t->ndim; d++)
		n += digits(t->shape[d]);
	return n;
}

#define LIT(s) (sizeof(s) - 1)

/*
 * The header's length, as t2m_st_layout makes it (length field and
 * padding included), so it is made in a buffer of just that size: a
 * model of many tensors has a header of megabytes.  On the way, l's
 * offsets, b64_at and data_len, as making it sets them.  0 when the
 * total size overflows, which making it reports.
 */
static size_t
header_len(const struct t2m_manifest *m, struct t2m_st_layout *l,
    const struct mentry *meta, uint32_t nmeta)
{
	const struct t2m_tensor *t;
	uint64_t at = 0;
	size_t n;
	uint32_t i, k;

	n = 8 + LIT("{\"__metadata__\":{");
	for (i = 0; i < nmeta; i++) {
		n += (i ? 1 : 0) + json_len(meta[i].key) + 1;
		if (meta[i].hidden < 0) {
			n += json_len(meta[i].val);
			continue;
		}
		t = &m->tensors[meta[i].hidden];
		n += LIT("\"{\\\"dtype\\\":\\\"") +
		    strlen(t2m_dtype_name(t->dtype)) +
		    LIT("\\\",\\\"shape\\\":[") + dims_len(t) +
		    LIT("],\\\"data\\\":\\\"");
		l->b64_at[meta[i].hidden] = n;
		n += t2m_base64_len(t->nbytes) + LIT("\\\"}\"");
	}
	n++;
	for (k = 0; k < l->ntensors; k++) {
		t = &m->tensors[l->order[k]];
		l->offset[l->order[k]] = at;
		n += 1 + json_len(t->name) + LIT(":{\"dtype\":\"") +
		    strlen(t2m_dtype_name(t->dtype)) + LIT("\",\"shape\":[") +
		    dims_len(t) + LIT("],\"data_offsets\":[") + digits(at) + 1 +
		    digits(at + t->nbytes) + LIT("]}");
		if (t->nbytes > UINT64_MAX / 2 - at)
			return 0;
		at += t->nbytes;
	}
	n++;
	while ((n - 8) % 8 != 0)
		n++;
	l->data_len = at;
	return n;
}

/* The layout; without fill, all but the header itself. */
static int
layout(const struct t2m_manifest *m, struct t2m_st_layout *l, int fill,
    t2m_error *err)
{
	struct t2m_buf b = { 0 };
	struct mentry *meta = NULL;
	const struct t2m_tensor *t;
	uint64_t at = 0;
	uint32_t i, k, nmeta = 0, nt = 0, nhidden = 0, nties = 0, nplain;
	const char *format;
	size_t len;
	char *key;
	long tie;
	int d;

	memset(l, 0, sizeof *l);
	for (i = 0; i < m->ntensors; i++) {
		nhidden += t2m_tensor_hidden(&m->tensors[i]);
		nties += t2m_attrs_get(&m->tensors[i].attrs, "t2m.tie") != NULL;
		if (m->tensors[i].dtype == T2M_C128)
			return t2m_fail(err, "tensor '%s': complex128 cannot be "
			    "stored in safetensors (it has no C128 dtype)",
			    m->tensors[i].name);
		if (!t2m_dtype_in_safetensors(m->tensors[i].dtype))
			return t2m_fail(err, "tensor '%s': safetensors has no "
			    "%s dtype", m->tensors[i].name,
			    t2m_dtype_name(m->tensors[i].dtype));
		if (strcmp(m->tensors[i].name, "__metadata__") == 0)
			return t2m_fail(err, "a tensor cannot be called "
			    "'__metadata__' in safetensors");
	}
	if ((l->order = malloc((m->ntensors + 1) * sizeof *l->order)) == NULL ||
	    (l->offset = malloc((m->ntensors + 1) * sizeof *l->offset)) ==
	    NULL || (l->b64_at = malloc((m->ntensors + 1) *
	    sizeof *l->b64_at)) == NULL || (meta = calloc(m->meta.n +
	    nhidden + nties + 2, sizeof *meta)) == NULL)
		goto nomem;
	for (i = 0; i < m->ntensors; i++) {
		l->b64_at[i] = UINT64_MAX;
		l->offset[i] = 0;
		if (!t2m_tensor_hidden(&m->tensors[i]))
			continue;
		meta[nmeta].hidden = (int32_t)i;
		if ((meta[nmeta].ownkey = malloc(strlen(m->tensors[i].name) +
		    12)) == NULL)
			goto nomem;
		strcpy(meta[nmeta].ownkey, "t2m.hidden.");
		strcat(meta[nmeta].ownkey, m->tensors[i].name);
		meta[nmeta].key = meta[nmeta].ownkey;
		nmeta++;
	}

	/* __metadata__: the stream's metadata, "format" saying whose layout
	 * the tensors are in: "mlx" when converted (or read as MLX arrays),
	 * else what the stream says, else PyTorch's, "pt". */
	if (t2m_manifest_mlx(m))
		format = "mlx";
	else if ((format = t2m_attrs_get(&m->meta, "format")) == NULL)
		format = "pt";
	meta[nmeta++] = (struct mentry){ "format", format, -1, NULL };
	for (i = 0; i < m->meta.n; i++)
		if (strcmp(m->meta.kv[i].key, "format") != 0)
			meta[nmeta++] = (struct mentry){ m->meta.kv[i].key,
			    m->meta.kv[i].val, -1, NULL };
	for (i = 0; i < nmeta; i++)
		if (meta[i].hidden < 0 &&
		    strncmp(meta[i].key, "t2m.hidden.", 11) == 0) {
			t2m_fail(err, "metadata key '%s' is reserved for hidden "
			    "tensors", meta[i].key);
			goto fail;
		}
	qsort(meta, nmeta, sizeof *meta, by_key);

	/* A tie's bytes are its tensor's: it is written once, and the tie
	 * is the metadata "t2m.tie.<name>": "<that tensor's name>" - unless
	 * the key is taken already, or the metadata would have more pairs
	 * than a stream's map holds (t2m-unpack could not read it). */
	nplain = nmeta;
	for (i = 0; i < m->ntensors; i++) {
		if (t2m_tensor_hidden(&m->tensors[i]))
			continue;
		if (nties > 0 && nmeta < T2M_MAX_ATTRS &&
		    (tie = t2m_tensor_tie(m, i)) >= 0) {
			if ((key = malloc(strlen(m->tensors[i].name) + 9)) ==
			    NULL)
				goto nomem;
			strcpy(key, "t2m.tie.");
			strcat(key, m->tensors[i].name);
			if (bsearch(&(struct mentry){ key, NULL, -1, NULL },
			    meta, nplain, sizeof *meta, by_key) == NULL) {
				l->offset[i] = UINT64_MAX;
				meta[nmeta++] = (struct mentry){ key,
				    m->tensors[tie].name, -1, key };
				continue;
			}
			free(key);
		}
		l->order[nt++] = i;
	}
	if (nmeta > nplain)
		qsort(meta, nmeta, sizeof *meta, by_key);
	l->ntensors = nt;
	/* qsort has no context argument in C11; filters are single-threaded. */
	sort_m = m;
	qsort(l->order, nt, sizeof *l->order, by_size_then_name);
	sort_m = NULL;

	/* Its size first: refused before it is made, and made in a buffer
	 * of just that size. */
	if ((len = header_len(m, l, meta, nmeta)) == 0) {
		t2m_fail(err, "total size overflows");
		goto fail;
	}
	if (len - 8 > T2M_ST_MAX_HEADER) {
		t2m_fail(err, "safetensors header of %zu bytes exceeds the "
		    "format's limit of %u", len - 8, T2M_ST_MAX_HEADER);
		goto fail;
	}
	if (!fill) {
		for (i = 0; i < nmeta; i++)
			free(meta[i].ownkey);
		free(meta);
		l->header_len = len;
		return 0;	/* offsets, b64_at and data_len are set */
	}
	if ((b.p = malloc(len + 1)) == NULL)
		goto nomem;
	b.cap = len + 1;
	t2m_buf_add(&b, "12345678", 8);	/* length, filled in below */
	t2m_buf_str(&b, "{\"__metadata__\":{");
	for (i = 0; i < nmeta; i++) {
		if (i)
			t2m_buf_add(&b, ",", 1);
		t2m_buf_json(&b, meta[i].key);
		t2m_buf_add(&b, ":", 1);
		if (meta[i].hidden < 0) {
			t2m_buf_json(&b, meta[i].val);
			continue;
		}
		/* A JSON object as a string value: its quotes escaped. */
		t = &m->tensors[meta[i].hidden];
		t2m_buf_printf(&b, "\"{\\\"dtype\\\":\\\"%s\\\",\\\"shape\\\":"
		    "[", t2m_dtype_name(t->dtype));
		for (d = 0; d < t->ndim; d++)
			t2m_buf_printf(&b, d ? ",%llu" : "%llu",
			    (unsigned long long)t->shape[d]);
		t2m_buf_str(&b, "],\\\"data\\\":\\\"");
		l->b64_at[meta[i].hidden] = b.len;
		for (k = 0; k < t2m_base64_len(t->nbytes); k++)
			t2m_buf_add(&b, "A", 1);
		t2m_buf_str(&b, "\\\"}\"");
	}
	t2m_buf_add(&b, "}", 1);
	for (k = 0; k < nt; k++) {
		i = l->order[k];
		t = &m->tensors[i];
		l->offset[i] = at;
		t2m_buf_add(&b, ",", 1);
		t2m_buf_json(&b, t->name);
		t2m_buf_printf(&b, ":{\"dtype\":\"%s\",\"shape\":[",
		    t2m_dtype_name(t->dtype));
		for (d = 0; d < t->ndim; d++)
			t2m_buf_printf(&b, d ? ",%llu" : "%llu",
			    (unsigned long long)t->shape[d]);
		t2m_buf_printf(&b, "],\"data_offsets\":[%llu,%llu]}",
		    (unsigned long long)at,
		    (unsigned long long)(at + t->nbytes));
		if (t->nbytes > UINT64_MAX / 2 - at) {
			t2m_fail(err, "total size overflows");
			goto fail;
		}
		at += t->nbytes;
	}
	t2m_buf_add(&b, "}", 1);
	while ((b.len - 8) % 8 != 0)
		t2m_buf_add(&b, " ", 1);
	if (b.nomem)
		goto nomem;
	if (b.len - 8 > T2M_ST_MAX_HEADER) {
		t2m_fail(err, "safetensors header of %zu bytes exceeds the "
		    "format's limit of %u", b.len - 8, T2M_ST_MAX_HEADER);
		goto fail;
	}
	t2m_put64((unsigned char *)b.p, b.len - 8);
	for (i = 0; i < nmeta; i++)
		free(meta[i].ownkey);
	free(meta);
	l->header = b.p;
	l->header_len = b.len;
	l->data_len = at;
	return 0;
nomem:
	t2m_fail(err, "out of memory");
fail:
	for (i = 0; meta && i < nmeta; i++)
		free(meta[i].ownkey);
	t2m_buf_free(&b);
	free(meta);
	t2m_st_layout_free(l);
	return -1;
}

int
t2m_st_layout(const struct t2m_manifest *m, struct t2m_st_layout *l,
    t2m_error *err)
{
	return layout(m, l, 1, err);
}

int
t2m_st_order(const struct t2m_manifest *m, struct t2m_st_layout *l,
    t2m_error *err)
{
	return layout(m, l, 0, err);
}

void
t2m_st_fill_hidden(struct t2m_st_layout *l, uint32_t i, const void *bytes,
    size_t n)
{
	t2m_base64_encode(l->header + l->b64_at[i], bytes, n);
}

int
t2m_st_write_hidden(const struct t2m_st_layout *l, int fd, uint32_t i,
    const void *bytes, size_t n)
{
	const unsigned char *p = bytes;
	char out[(48 << 10) / 3 * 4];
	uint64_t at = l->b64_at[i];
	size_t k;

	/* A piece at a time: whole groups of 3 bytes until the last. */
	do {
		k = n < (48 << 10) ? n : (48 << 10);
		t2m_base64_encode(out, p, k);
		if (t2m_pwrite_full(fd, out, (size_t)t2m_base64_len(k), at) < 0)
			return -1;
		at += t2m_base64_len(k);
		p += k;
		n -= k;
	} while (n > 0);
	return 0;
}

void
t2m_st_layout_free(struct t2m_st_layout *l)
{
	free(l->order);
	free(l->offset);
	free(l->b64_at);
	free(l->header);
	memset(l, 0, sizeof *l);
}
