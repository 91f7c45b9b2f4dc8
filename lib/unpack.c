/*
 * unpack.c - any supported input to a stream: detect the format from the
 * first bytes, write the manifest, then the data in the order the input
 * holds it.  A shard index (JSON) is read by sharded.c, which comes back
 * here for each shard.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "internal.h"
#include "unpack.h"

enum format {
	F_UNKNOWN, F_SAFETENSORS, F_STREAM, F_ZIP, F_LEGACY, F_WRAPPED, F_INDEX
};

static enum format
detect(const unsigned char *p, size_t n)
{
	uint64_t hlen = 0;
	size_t i;
	int k;

	if (n >= 4 && memcmp(p, "PK\3\4", 4) == 0)
		return F_ZIP;
	if (n >= 4 && memcmp(p, "\x89T2M", 4) == 0)
		return F_STREAM;
	if (is_torch_legacy(p, n))
		return F_LEGACY;
	/*
	 * Safetensors before the compressors and tar: its header length
	 * can begin 1f 8b, as gzip does (a length of 35615 + 65536 k), and
	 * its JSON can hold "ustar" at offset 257.  No gzip or tar file
	 * passes for safetensors: gzip's ninth byte is 0, 2 or 4, and a
	 * tar name short enough to give a length below 2^32 is padded with
	 * NULs through its ninth byte.
	 */
	if (n >= 9) {
		for (k = 7; k >= 0; k--)
			hlen = hlen << 8 | p[k];
		if (hlen > 0 && hlen <= T2M_ST_MAX_HEADER) {
			for (i = 8; i < n && (p[i] == ' ' || p[i] == '\n' ||
			    p[i] == '\r' || p[i] == '\t'); i++)
				;
			if (i < n && p[i] == '{')
				return F_SAFETENSORS;
		}
	}
	if ((n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0) ||	/* zstd */
	    (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) ||		/* gzip */
	    (n >= 6 && memcmp(p, "\xfd" "7zXZ", 5) == 0) ||	/* xz */
	    (n >= 3 && memcmp(p, "BZh", 3) == 0) ||		/* bzip2 */
	    (n >= 262 && memcmp(p + 257, "ustar", 5) == 0))	/* tar */
		return F_WRAPPED;
	/* JSON text: a shard index, or nothing t2m reads.  (A safetensors
	 * length of 8 bytes of JSON text would be above 2^56.) */
	for (i = 0; i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' ||
	    p[i] == '\t'); i++)
		;
	if (i < n && p[i] == '{')
		return F_INDEX;
	return F_UNKNOWN;
}

/* ---- safetensors ---- */

/*
 * The tensor a __metadata__ pair would name again as a tie, or NULL: a
 * key "t2m.tie.<name>", as t2m-pack writes ties once; or, as safetensors'
 * save_model and Hugging Face's converter record the names they drop for
 * sharing another's storage, a dotted name naming a dotted name
 * ("lm_head.weight": "model.embed_tokens.weight").  The dots keep other
 * metadata what it is ("format": "pt").
 */
static const char *
tie_name(const char *key, const char *val)
{
	if (strncmp(key, "t2m.tie.", 8) == 0)
		return key + 8;
	if (strncmp(key, "t2m.", 4) == 0 || !strchr(key, '.') ||
	    !strchr(val, '.'))
		return NULL;
	return key;
}

/*
 * Ties written once (t2m.tie, t2m-stream(5)): a __metadata__ pair naming
 * a tensor (tie_name), where no tensor is called that and the value
 * names one of the first nregular, is that tensor again, with that
 * one's bytes.  tie[k] of each such tensor k (from nregular on) is the
 * tensor it names; *nties counts them.
 */
static int
restore_ties(struct t2m_manifest *m, uint32_t nregular, uint32_t **tie,
    uint32_t *nties, t2m_error *err)
{
	const struct t2m_tensor *u;
	struct t2m_tensor *t;
	uint32_t k, keep = 0, n = 0;
	long j;

	*tie = NULL;
	*nties = 0;
	for (k = 0; k < m->meta.n; k++) {
		const char *val = m->meta.kv[k].val;
		const char *name = tie_name(m->meta.kv[k].key, val);
		if (name == NULL || t2m_manifest_find(m, name) >= 0 ||
		    (j = t2m_manifest_find(m, val)) < 0 ||
		    (uint32_t)j >= nregular || m->tensors[j].nbytes == 0) {
			m->meta.kv[keep++] = m->meta.kv[k];
			continue;
		}
		if (*tie == NULL && (*tie = malloc((m->meta.n + 1) *
		    sizeof **tie)) == NULL)
			return t2m_fail(err, "out of memory");
		u = &m->tensors[j];
		if ((t = t2m_manifest_add(m, name, u->dtype, u->ndim,
		    u->shape, err)) == NULL || t2m_attrs_set(m, &t->attrs,
		    "t2m.tie",
		    m->tensors[j].name, err) < 0)
			return -1;
		(*tie)[n++] = (uint32_t)j;
	}
	m->meta.n = keep;
	*nties = n;
	return 0;
}

/* Copy the tensors' bytes, which follow each other in manifest order;
 * tensor i is base + i in the stream.  The ties (restore_ties), from
 * tensor ntensors on, get the bytes of the tensor each names as they
 * pass. */
static int
copy_sequential(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_manifest *m, uint32_t ntensors, uint32_t base,
    const uint32_t *tie, uint32_t nties, size_t chunk, t2m_error *err)
{
	struct t2m_fanout fan = { 0, 0 };
	unsigned char *buf;
	uint64_t left, at, n, copies;
	uint32_t i, d, *first = NULL, *next = NULL;
	ssize_t k;
	size_t want;
	int rc = -1;

	/* Each tensor's ties, a list through next. */
	if (nties > 0 && ((first = malloc((ntensors + 1) * sizeof *first)) ==
	    NULL || (next = malloc(nties * sizeof *next)) == NULL)) {
		free(first);
		return t2m_fail(err, "out of memory");
	}
	for (i = 0; nties > 0 && i < ntensors; i++)
		first[i] = UINT32_MAX;
	for (d = nties; d-- > 0;) {
		next[d] = first[tie[d]];
		first[tie[d]] = d;
	}
	if ((buf = malloc(chunk)) == NULL) {
		free(first);
		free(next);
		return t2m_fail(err, "out of memory");
	}
	for (i = 0; i < ntensors; i++) {
		at = in->pos;
		/* Ties multiply what a small file asks to write: held to
		 * T2M_FANOUT times what is read (internal.h). */
		for (copies = 1, d = nties ? first[i] : UINT32_MAX;
		    d != UINT32_MAX; d = next[d])
			copies++;
		n = m->tensors[i].nbytes;
		if (t2m_fanout_add(&fan, n, n != 0 && copies > UINT64_MAX / n ?
		    UINT64_MAX : n * copies) < 0) {
			t2m_fail(err, "tensor '%s': with those before it, it "
			    "and its %llu ties come to more than %d times the "
			    "tensors' bytes and %llu MiB", m->tensors[i].name,
			    (unsigned long long)(copies - 1), T2M_FANOUT,
			    (unsigned long long)(T2M_FANOUT_SLACK >> 20));
			goto out;
		}
		for (left = n; left > 0; left -= (size_t)k) {
			want = left < chunk ? (size_t)left : chunk;
			if ((k = t2m_in_read(in, buf, want, err)) < 0)
				goto out;
			if ((size_t)k < want) {
				t2m_fail(err, "offset %llu: tensor '%s' is "
				    "truncated (%llu bytes expected, %llu "
				    "read)", (unsigned long long)at,
				    m->tensors[i].name,
				    (unsigned long long)m->tensors[i].nbytes,
				    (unsigned long long)(m->tensors[i].nbytes -
				    left + (uint64_t)k));
				goto out;
			}
			if (t2m_writer_data(w, base + i, buf, (size_t)k,
			    err) < 0)
				goto out;
			for (d = nties ? first[i] : UINT32_MAX;
			    d != UINT32_MAX; d = next[d])
				if (t2m_writer_data(w, base + ntensors + d, buf,
				    (size_t)k, err) < 0)
					goto out;
		}
	}
	rc = 0;
out:
	free(buf);
	free(first);
	free(next);
	return rc;
}

/* Fail unless the input is used up. */
static int
at_end(struct t2m_in *in, const char *what, t2m_error *err)
{
	int end;

	if ((end = t2m_in_at_end(in, err)) < 0)
		return -1;
	if (!end)
		return t2m_fail(err, "offset %llu: data after %s",
		    (unsigned long long)in->pos, what);
	return 0;
}

/* Hidden tensors t2m-pack kept in __metadata__ become tensors again. */
struct hidden {
	uint32_t index;
	unsigned char *data;
	size_t n;
};

static int
restore_hidden(struct t2m_manifest *m, struct hidden **out, uint32_t *nout,
    t2m_error *err)
{
	struct hidden *h = NULL;
	uint64_t shape[T2M_MAXDIM];
	struct t2m_tensor *t;
	cJSON *j = NULL, *dt, *sh, *data, *e;
	uint32_t k, keep = 0, n = 0;
	int ndim, dtype, rc = -1;
	size_t len;

	*out = NULL;
	*nout = 0;
	if ((h = calloc(m->meta.n + 1, sizeof *h)) == NULL)
		return t2m_fail(err, "out of memory");
	for (k = 0; k < m->meta.n; k++) {
		const char *key = m->meta.kv[k].key;
		if (strncmp(key, "t2m.hidden.", 11) != 0) {
			m->meta.kv[keep++] = m->meta.kv[k];
			continue;
		}
		j = cJSON_Parse(m->meta.kv[k].val);
		dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
		sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
		data = cJSON_GetObjectItemCaseSensitive(j, "data");
		if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) ||
		    !cJSON_IsString(data) || (dtype = t2m_dtype_lookup(
		    dt->valuestring, strlen(dt->valuestring))) == 0 ||
		    cJSON_GetArraySize(sh) > T2M_MAXDIM)
			goto bad;
		ndim = 0;
		cJSON_ArrayForEach(e, sh) {
			if (!cJSON_IsNumber(e) || e->valuedouble < 0 ||
			    e->valuedouble > 9007199254740992.0 ||
			    e->valuedouble != (double)(uint64_t)e->valuedouble)
				goto bad;
			shape[ndim++] = (uint64_t)e->valuedouble;
		}
		if ((t = t2m_manifest_add(m, key + 11, dtype, ndim, shape,
		    err)) == NULL)
			goto out;
		len = strlen(data->valuestring);
		if (t2m_base64_len(t->nbytes) != len ||
		    (h[n].data = malloc(len / 4 * 3 + 1)) == NULL ||
		    t2m_base64_decode(data->valuestring, len, h[n].data,
		    &h[n].n) < 0 || h[n].n != t->nbytes)
			goto bad;
		h[n].index = (uint32_t)(t - m->tensors);
		n++;
		if (t2m_attrs_set(m, &t->attrs, "t2m.hidden", "1", err) < 0)
			goto out;
		cJSON_Delete(j);
		j = NULL;
	}
	m->meta.n = keep;
	*out = h;
	*nout = n;
	return 0;
bad:
	t2m_fail(err, "__metadata__ '%s' is not a tensor t2m-pack kept",
	    m->meta.kv[k].key);
out:
	cJSON_Delete(j);
	while (n > 0)
		free(h[--n].data);
	free(h[n].data);
	free(h);
	return rc;
}

static int
unpack_safetensors(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, size_t chunk,
    const struct shard_sink *sink, t2m_error *err)
{
	struct t2m_manifest *m;
	struct hidden *hidden = NULL;
	uint32_t i, nhidden = 0, nregular, base = sink ? sink->base : 0;
	uint32_t *tie = NULL, nties = 0;
	int d, rc = -1;

	if (t2m_st_read_header(in, &m, err) < 0)
		return -1;
	nregular = m->ntensors;
	if (restore_ties(m, nregular, &tie, &nties, err) < 0 ||
	    restore_hidden(m, &hidden, &nhidden, err) < 0)
		goto out;
	if (o->listing) {
		/* The tensors of the stream, as a pickle's are listed. */
		for (i = 0; i < m->ntensors; i++) {
			t2m_buf_printf(o->listing, "%s\ttensor %s [",
			    m->tensors[i].name,
			    t2m_dtype_name(m->tensors[i].dtype));
			for (d = 0; d < m->tensors[i].ndim; d++)
				t2m_buf_printf(o->listing, d ? ", %llu" : "%llu",
				    (unsigned long long)m->tensors[i].shape[d]);
			t2m_buf_str(o->listing, "]\n");
		}
		rc = 0;
		goto out;
	}
	if (t2m_attrs_set(m, &m->info, "format", "safetensors", err) < 0 ||
	    t2m_attrs_set(m, &m->info, "source", in->name, err) < 0)
		goto out;
	if (o->manifest) {
		rc = o->manifest(o->manifest_ctx, m, err) < 0 ? -1 : 0;
		goto out;
	}
	if ((sink ? sink->check(sink->ctx, m, err) :
	    t2m_writer_begin(w, m, err)) < 0 ||
	    copy_sequential(in, w, m, nregular, base, tie, nties, chunk,
	    err) < 0 || at_end(in, "the last tensor", err) < 0)
		goto out;
	for (i = 0; i < nhidden; i++)
		if (t2m_writer_data(w, base + hidden[i].index, hidden[i].data,
		    hidden[i].n, err) < 0)
			goto out;
	rc = sink ? 0 : t2m_writer_end(w, err);
out:
	for (i = 0; i < nhidden; i++)
		free(hidden[i].data);
	free(hidden);
	free(tie);
	t2m_manifest_free(m);
	return rc;
}

int
unpack_any(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, int depth, t2m_error *err)
{
	size_t chunk = o->chunk ? o->chunk : T2M_CHUNK_DEFAULT;
	const unsigned char *p;
	ssize_t n;

	if ((n = t2m_in_peek(in, 512, &p, err)) < 0)
		return -1;
	if (n == 0)
		return t2m_fail(err, "empty input");
	switch (detect(p, (size_t)n)) {
	case F_SAFETENSORS:
		return unpack_safetensors(in, w, o, chunk, NULL, err);
	case F_ZIP:
		return unpack_torch_zip(in, w, o, chunk, NULL, err);
	case F_LEGACY:
		return unpack_torch_legacy(in, w, o, chunk, NULL, err);
	case F_WRAPPED:
		return unpack_wrapped(in, w, o, depth, err);
	case F_INDEX:
		return unpack_index(in, w, o, err);
	case F_STREAM:
		return t2m_fail(err, "already a t2m stream; t2m-unpack reads "
		    "checkpoints");
	default:
		return t2m_fail(err, "not a checkpoint format t2m knows "
		    "(first bytes %02x %02x %02x %02x)", p[0],
		    n > 1 ? p[1] : 0, n > 2 ? p[2] : 0, n > 3 ? p[3] : 0);
	}
}

/* Shards are what Hugging Face writes: no archives, no TorchScript (the
 * caller refuses it), and never another index. */
int
unpack_shard(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, const struct shard_sink *sink,
    t2m_error *err)
{
	size_t chunk = o->chunk ? o->chunk : T2M_CHUNK_DEFAULT;
	const unsigned char *p;
	ssize_t n;

	if ((n = t2m_in_peek(in, 512, &p, err)) < 0)
		return -1;
	if (n == 0)
		return t2m_fail(err, "empty file");
	switch (detect(p, (size_t)n)) {
	case F_SAFETENSORS:
		return unpack_safetensors(in, w, o, chunk, sink, err);
	case F_ZIP:
		return unpack_torch_zip(in, w, o, chunk, sink, err);
	case F_LEGACY:
		return unpack_torch_legacy(in, w, o, chunk, sink, err);
	case F_INDEX:
		return t2m_fail(err, "a shard index cannot be a shard");
	default:
		return t2m_fail(err, "a shard must be a safetensors file or a "
		    "PyTorch checkpoint (first bytes %02x %02x %02x %02x)",
		    p[0], n > 1 ? p[1] : 0, n > 2 ? p[2] : 0,
		    n > 3 ? p[3] : 0);
	}
}

int
t2m_unpack(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, t2m_error *err)
{
	static const struct t2m_unpack_opts none;

	return unpack_any(in, w, o ? o : &none, 0, err);
}
