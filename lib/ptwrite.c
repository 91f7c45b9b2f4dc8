/*
 * ptwrite.c - laying out a PyTorch checkpoint (torch.save's zip format)
 * that holds a state dict, so t2m-pack can write tensors back for
 * PyTorch as they arrive.
 *
 * The archive is what torch.save writes for an OrderedDict of tensors:
 * <archive>/data.pkl, a protocol-2 pickle of the dict whose tensors
 * point at storages by persistent id; <archive>/byteorder; one stored
 * entry <archive>/data/<key> per tensor, 64-byte aligned; and
 * <archive>/version.  Everything but the tensor bytes depends only on
 * the manifest, so it is all computed before the first data record.
 * The pickle uses only the opcodes and globals torch.load's weights_only
 * unpickler accepts; it is made twice, to learn its size and checksum
 * and to write it, and never held whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zipw.h"

/* How a dtype is pickled.  torch 1.x and 2.x know every dtype with a
 * legacy storage class; the newer dtypes have none, and torch 2.x saves
 * them as an untyped (byte) storage with the dtype beside it. */
struct ptype {
	const char *storage;	/* torch.<X>Storage, or NULL */
	const char *dtype;	/* torch.<dtype> for _rebuild_tensor_v3 */
};

static const struct ptype ptypes[T2M_DTYPE_END] = {
	[T2M_BOOL] = { "BoolStorage", NULL },
	[T2M_U8] = { "ByteStorage", NULL },
	[T2M_I8] = { "CharStorage", NULL },
	[T2M_I16] = { "ShortStorage", NULL },
	[T2M_I32] = { "IntStorage", NULL },
	[T2M_I64] = { "LongStorage", NULL },
	[T2M_F16] = { "HalfStorage", NULL },
	[T2M_BF16] = { "BFloat16Storage", NULL },
	[T2M_F32] = { "FloatStorage", NULL },
	[T2M_F64] = { "DoubleStorage", NULL },
	[T2M_C64] = { "ComplexFloatStorage", NULL },
	[T2M_C128] = { "ComplexDoubleStorage", NULL },
	[T2M_U16] = { NULL, "uint16" },
	[T2M_U32] = { NULL, "uint32" },
	[T2M_U64] = { NULL, "uint64" },
	[T2M_F8_E4M3] = { NULL, "float8_e4m3fn" },
	[T2M_F8_E5M2] = { NULL, "float8_e5m2" },
	[T2M_F8_E8M0] = { NULL, "float8_e8m0fnu" },
	[T2M_F8_E4M3FNUZ] = { NULL, "float8_e4m3fnuz" },
	[T2M_F8_E5M2FNUZ] = { NULL, "float8_e5m2fnuz" },
};

/* Entries before the storages: data.pkl, byteorder.  version is last. */
#define NHEAD 2

struct t2m_pt {
	struct zipw z;
	uint32_t ntensors;
	uint32_t *key;		/* tensor i's storage is data/<key[i]> */
	uint32_t *entry;	/* entry[i]: its zip entry, or UINT32_MAX */
	uint32_t *tcrc;		/* a tie's CRC-32, as its bytes go by */
	char *names;		/* the entries' names, NUL-separated */
	const struct t2m_manifest *m;	/* what data.pkl is made from */
};

/* ---- the pickle ---- */

enum {
	M_ODICT, M_V2, M_V3, M_STORAGE, M_CPU, M_UNTYPED,
	M_TYPE,			/* + dtype: its storage class or dtype */
	M_END = M_TYPE + T2M_DTYPE_END
};

struct pickler {
	struct t2m_buf *b;
	long memo[M_END];	/* memo slot of each object, or -1 */
	uint32_t next;
	/* Where b's bytes go as it fills: measured, or written at off. */
	int fd;			/* -1: measure */
	uint64_t len, off;
	uint32_t crc;
};

/* Hand b's bytes on (with force, however few there are).  -1 with errno
 * set when writing fails. */
static int
drain(struct pickler *p, int force)
{
	if (p->b->len < ((size_t)64 << 10) && !force)
		return 0;
	if (p->fd < 0)
		p->crc = t2m_crc32(p->crc, p->b->p, p->b->len);
	else if (t2m_pwrite_full(p->fd, p->b->p, p->b->len, p->off +
	    p->len) < 0)
		return -1;
	p->len += p->b->len;
	p->b->len = 0;
	return 0;
}

static void
op(struct pickler *p, int c)
{
	unsigned char u = (unsigned char)c;

	t2m_buf_add(p->b, &u, 1);
}

static void
le(struct pickler *p, uint64_t v, int n)
{
	unsigned char u[8];
	int i;

	for (i = 0; i < n; i++)
		u[i] = (unsigned char)(v >> (8 * i));
	t2m_buf_add(p->b, u, (size_t)n);
}

/* An integer below 2^63 in the shortest form Python's pickler uses. */
static void
pint(struct pickler *p, uint64_t v)
{
	int n;

	if (v < 256) {
		op(p, 'K');			/* BININT1 */
		le(p, v, 1);
	} else if (v < 65536) {
		op(p, 'M');			/* BININT2 */
		le(p, v, 2);
	} else if (v < ((uint64_t)1 << 31)) {
		op(p, 'J');			/* BININT */
		le(p, v, 4);
	} else {
		/* LONG1: two's complement, so the top bit must stay 0. */
		for (n = 1; n < 8 && v >> (8 * n - 1) != 0; n++)
			;
		op(p, 0x8a);
		le(p, (uint64_t)n, 1);
		le(p, v, n);
	}
}

static void
pstr(struct pickler *p, const char *s)
{
	size_t n = strlen(s);

	op(p, 'X');				/* BINUNICODE */
	le(p, n, 4);
	t2m_buf_add(p->b, s, n);
}

/* Push an object made once and memoized, by its slot. */
static void
memo_get(struct pickler *p, int slot)
{
	if (p->memo[slot] < 256) {
		op(p, 'h');			/* BINGET */
		le(p, (uint64_t)p->memo[slot], 1);
	} else {
		op(p, 'j');			/* LONG_BINGET */
		le(p, (uint64_t)p->memo[slot], 4);
	}
}

static void
memo_put(struct pickler *p, int slot)
{
	p->memo[slot] = p->next++;
	if (p->memo[slot] < 256) {
		op(p, 'q');			/* BINPUT */
		le(p, (uint64_t)p->memo[slot], 1);
	} else {
		op(p, 'r');			/* LONG_BINPUT */
		le(p, (uint64_t)p->memo[slot], 4);
	}
}

static void
global(struct pickler *p, int slot, const char *module, const char *name)
{
	if (p->memo[slot] >= 0) {
		memo_get(p, slot);
		return;
	}
	op(p, 'c');				/* GLOBAL */
	t2m_buf_str(p->b, module);
	t2m_buf_add(p->b, "\n", 1);
	t2m_buf_str(p->b, name);
	t2m_buf_add(p->b, "\n", 1);
	memo_put(p, slot);
}

static void
memo_str(struct pickler *p, int slot, const char *s)
{
	if (p->memo[slot] >= 0) {
		memo_get(p, slot);
		return;
	}
	pstr(p, s);
	memo_put(p, slot);
}

static void
tuple(struct pickler *p, const uint64_t *v, int n)
{
	int i;

	if (n == 0) {
		op(p, ')');			/* EMPTY_TUPLE */
		return;
	}
	if (n > 3)
		op(p, '(');			/* MARK */
	for (i = 0; i < n; i++)
		pint(p, v[i]);
	op(p, n == 1 ? 0x85 : n == 2 ? 0x86 : n == 3 ? 0x87 : 't');
}

/* Strides of a contiguous tensor as PyTorch computes them: a dimension
 * of size 0 counts as 1.  Only a tensor with no elements can overflow. */
static int
strides(const struct t2m_tensor *t, uint64_t *s, t2m_error *err)
{
	uint64_t acc = 1, d;
	int i;

	for (i = t->ndim - 1; i >= 0; i--) {
		s[i] = acc;
		d = t->shape[i] ? t->shape[i] : 1;
		if (i > 0 && acc > (((uint64_t)1 << 63) - 1) / d)
			return t2m_fail(err, "tensor '%s': its strides exceed "
			    "PyTorch's 64-bit range", t->name);
		acc *= d;
	}
	return 0;
}

/*
 * One item of the dict: name, then
 *   _rebuild_tensor_v2(persistent_id(('storage', torch.<X>Storage, key,
 *       'cpu', numel)), 0, size, stride, False, OrderedDict())
 * or, for the dtypes without a storage class,
 *   _rebuild_tensor_v3(persistent_id(('storage', torch.UntypedStorage,
 *       key, 'cpu', nbytes)), 0, size, stride, False, OrderedDict(), dtype)
 * as torch.save writes them.
 */
static int
item(struct pickler *p, const struct t2m_tensor *t, uint32_t key,
    t2m_error *err)
{
	const struct ptype *pt = &ptypes[t->dtype];
	uint64_t s[T2M_MAXDIM];
	char k[16];

	if (strides(t, s, err) < 0)
		return -1;
	pstr(p, t->name);
	if (pt->storage)
		global(p, M_V2, "torch._utils", "_rebuild_tensor_v2");
	else
		global(p, M_V3, "torch._utils", "_rebuild_tensor_v3");
	op(p, '(');
	op(p, '(');
	memo_str(p, M_STORAGE, "storage");
	if (pt->storage)
		global(p, M_TYPE + t->dtype, "torch", pt->storage);
	else
		global(p, M_UNTYPED, "torch.storage", "UntypedStorage");
	snprintf(k, sizeof k, "%u", key);
	pstr(p, k);
	memo_str(p, M_CPU, "cpu");
	pint(p, pt->storage ? t->nbytes / (t2m_dtype_bits(t->dtype) / 8) :
	    t->nbytes);
	op(p, 't');				/* TUPLE */
	op(p, 'Q');				/* BINPERSID */
	pint(p, 0);				/* storage offset */
	tuple(p, t->shape, t->ndim);
	tuple(p, s, t->ndim);
	op(p, 0x89);				/* NEWFALSE: requires_grad */
	memo_get(p, M_ODICT);			/* backward hooks: OrderedDict() */
	op(p, ')');
	op(p, 'R');
	if (!pt->storage)
		global(p, M_TYPE + t->dtype, "torch", pt->dtype);
	op(p, 't');
	op(p, 'R');				/* REDUCE */
	return 0;
}

/*
 * The whole data.pkl: an OrderedDict, items set 1000 at a time as
 * Python's pickler batches them.  With fd -1, only its size and CRC-32;
 * else written to fd at off (-1 with errno set on a write error).
 */
static int
pickle_dict(const struct t2m_manifest *m, const uint32_t *key, int fd,
    uint64_t off, uint64_t *len, uint32_t *crc, t2m_error *err)
{
	struct t2m_buf b = { 0 };
	struct pickler p;
	uint32_t i;
	int k, rc = -1;

	memset(&p, 0, sizeof p);
	p.b = &b;
	p.fd = fd;
	p.off = off;
	for (k = 0; k < M_END; k++)
		p.memo[k] = -1;
	op(&p, 0x80);				/* PROTO 2 */
	op(&p, 2);
	global(&p, M_ODICT, "collections", "OrderedDict");
	op(&p, ')');
	op(&p, 'R');
	for (i = 0; i < m->ntensors; i++) {
		if (i % 1000 == 0)
			op(&p, '(');
		if (item(&p, &m->tensors[i], key[i], err) < 0)
			goto out;
		if (i % 1000 == 999 || i + 1 == m->ntensors)
			op(&p, 'u');		/* SETITEMS */
		if (b.nomem)
			break;
		if (drain(&p, 0) < 0)
			goto out;
	}
	op(&p, '.');				/* STOP */
	if (b.nomem) {
		t2m_fail(err, "out of memory");
		goto out;
	}
	if (drain(&p, 1) < 0)
		goto out;
	*len = p.len;
	*crc = p.crc;
	rc = 0;
out:
	t2m_buf_free(&b);
	return rc;
}

/* ---- the archive ---- */

static int
check(const struct t2m_manifest *m, t2m_error *err)
{
	const struct t2m_tensor *t;
	uint32_t i;

	for (i = 0; i < m->ntensors; i++) {
		t = &m->tensors[i];
		if (t2m_tensor_hidden(t))
			return t2m_fail(err, "tensor '%s' is hidden, kept for "
			    "t2m-transpose -r: run the stream through "
			    "t2m-transpose -r first", t->name);
		if (t->dtype <= 0 || t->dtype >= T2M_DTYPE_END ||
		    (!ptypes[t->dtype].storage && !ptypes[t->dtype].dtype))
			return t2m_fail(err, "tensor '%s': PyTorch has no %s "
			    "dtype", t->name, t2m_dtype_name(t->dtype));
	}
	return 0;
}

void
t2m_pt_archive_name(const char *path, char *name, size_t size)
{
	const char *base = strrchr(path, '/'), *dot, *c;
	size_t n;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	n = dot ? (size_t)(dot - base) : strlen(base);
	for (c = base; c < base + n; c++)
		if (*c < 0x20 || *c > 0x7e || *c == '\\')
			break;
	if (n == 0 || c < base + n || n >= size || strcmp(path, "-") == 0)
		snprintf(name, size, "archive");
	else
		snprintf(name, size, "%.*s", (int)n, base);
}

/* Append "<archive>/<rel>" and its NUL. */
static void
entry_name(struct t2m_buf *b, const char *archive, const char *rel)
{
	t2m_buf_str(b, archive);
	t2m_buf_add(b, "/", 1);
	t2m_buf_str(b, rel);
	t2m_buf_add(b, "", 1);
}

struct t2m_pt *
t2m_pt_layout(const struct t2m_manifest *m, const char *archive,
    t2m_error *err)
{
	struct t2m_buf names = { 0 };
	struct t2m_pt *p;
	uint32_t i, n;
	size_t at;
	long tie;
	char rel[32];

	if (check(m, err) < 0)
		return NULL;
	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (p->key = malloc((m->ntensors + 1) * sizeof *p->key)) == NULL ||
	    (p->entry = malloc((m->ntensors + 1) * sizeof *p->entry)) ==
	    NULL || (p->tcrc = calloc(m->ntensors + 1, sizeof *p->tcrc)) ==
	    NULL)
		goto nomem;
	n = NHEAD;
	for (i = 0; i < m->ntensors; i++) {
		p->key[i] = i;
		p->entry[i] = UINT32_MAX;
		if ((tie = t2m_tensor_tie(m, i)) >= 0)
			p->key[i] = (uint32_t)tie;
		else
			p->entry[i] = n++;
	}
	if ((p->z.e = calloc(n + 1, sizeof *p->z.e)) == NULL)
		goto nomem;
	p->z.n = n + 1;
	p->ntensors = m->ntensors;
	p->m = m;
	if (pickle_dict(m, p->key, -1, 0, &p->z.e[0].size, &p->z.e[0].crc,
	    err) < 0)
		goto fail;
	entry_name(&names, archive, "data.pkl");
	entry_name(&names, archive, "byteorder");
	for (i = 0; i < m->ntensors; i++) {
		if (p->entry[i] == UINT32_MAX)
			continue;
		snprintf(rel, sizeof rel, "data/%u", i);
		entry_name(&names, archive, rel);
	}
	entry_name(&names, archive, "version");
	n = p->z.n;
	p->names = names.p;
	if (names.nomem)
		goto nomem;
	for (i = 0, at = 0; i < n; i++) {
		p->z.e[i].name = p->names + at;
		at += strlen(p->names + at) + 1;
	}
	p->z.e[1].size = 6;
	p->z.e[1].crc = t2m_crc32(0, "little", 6);
	for (i = 0; i < m->ntensors; i++)
		if (p->entry[i] != UINT32_MAX)
			p->z.e[p->entry[i]].size = m->tensors[i].nbytes;
	p->z.e[n - 1].size = 2;
	p->z.e[n - 1].crc = t2m_crc32(0, "3\n", 2);
	if (zipw_layout(&p->z, err) < 0)
		goto fail;
	return p;
nomem:
	t2m_fail(err, "out of memory");
fail:
	if (p == NULL || p->names == NULL)
		t2m_buf_free(&names);
	t2m_pt_free(p);
	return NULL;
}

uint64_t
t2m_pt_offset(const struct t2m_pt *p, uint32_t i)
{
	return p->entry[i] == UINT32_MAX ? UINT64_MAX :
	    p->z.e[p->entry[i]].data;
}

uint64_t
t2m_pt_size(const struct t2m_pt *p)
{
	return p->z.end;
}

void
t2m_pt_crc(struct t2m_pt *p, uint32_t i, const void *buf, size_t n)
{
	if (p->entry[i] != UINT32_MAX)
		p->z.e[p->entry[i]].crc = t2m_crc32(p->z.e[p->entry[i]].crc,
		    buf, n);
	else
		p->tcrc[i] = t2m_crc32(p->tcrc[i], buf, n);
}

long
t2m_pt_untied(const struct t2m_pt *p)
{
	uint32_t i;

	for (i = 0; i < p->ntensors; i++)
		if (p->entry[i] == UINT32_MAX &&
		    p->tcrc[i] != p->z.e[p->entry[p->key[i]]].crc)
			return (long)i;
	return -1;
}

int
t2m_pt_finish(struct t2m_pt *p, int fd)
{
	const struct zipw_entry *e = p->z.e;
	uint64_t len;
	uint32_t crc;
	t2m_error err;

	/* Made again as it was measured; only a write can fail now. */
	if (pickle_dict(p->m, p->key, fd, e[0].data, &len, &crc, &err) < 0)
		return -1;
	if (t2m_pwrite_full(fd, "little", 6, e[1].data) < 0 ||
	    t2m_pwrite_full(fd, "3\n", 2, e[p->z.n - 1].data) < 0)
		return -1;
	return zipw_finish(fd, &p->z);
}

void
t2m_pt_free(struct t2m_pt *p)
{
	if (p == NULL)
		return;
	free(p->z.e);
	free(p->names);
	free(p->key);
	free(p->entry);
	free(p->tcrc);
	free(p);
}
