/*
 * torch.c - PyTorch's meaning for pickled objects: the callables torch.save
 * uses (OrderedDict, _rebuild_tensor_v2, ...) are interpreted, never run;
 * storages come from persistent ids; a state dict, a Lightning checkpoint
 * or a pickled nn.Module is flattened to the names state_dict() gives.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torch.h"

#define VISITING 0x01		/* pk.flags: on the walker's path */
#define MAX_VISITS (1u << 22)	/* objects one walk may reach */
#define MAX_NAMED (1u << 30)	/* bytes of names one walk may build */
/* Bytes that views repeating their storage's elements may take written
 * out, all together: expand() makes them, and a few bytes of pickle can
 * ask for petabytes.  (A listing writes no elements and counts none.) */
#define MAX_REPEATED ((uint64_t)1 << 30)
#define MAX_LISTING ((size_t)64 << 20)	/* bytes of -l output */
#define MAX_DEPTH 1000
#define ARENA_BLOCK ((size_t)256 << 10)

/* Under AddressSanitizer tensors are allocated one by one, so it still
 * sees a use after free. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TH_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(TH_ASAN)
#define TH_ASAN 1
#endif

/* ---- memory: arenas and pools ---- */

struct th_arena_block {
	struct th_arena_block *next;
	size_t size;		/* bytes mapped, this header included */
};

/* n bytes, 8-aligned, until the arena is freed. */
static void *
arena_alloc(struct th_arena *a, size_t n)
{
	struct th_arena_block *b;
	size_t size;
	void *p;
	int big;

	n = (n + 7) & ~(size_t)7;
	if (n > a->left) {
		big = n > ARENA_BLOCK / 4;
		size = big ? n : ARENA_BLOCK - sizeof *b;
		if (size > SIZE_MAX - sizeof *b ||
		    (b = pk_pages(sizeof *b + size)) == NULL)
			return NULL;
		b->size = sizeof *b + size;
		if (big && a->head != NULL) {
			/* A block of its own, behind the current one. */
			b->next = a->head->next;
			a->head->next = b;
			return b + 1;
		}
		b->next = a->head;
		a->head = b;
		a->at = (unsigned char *)(b + 1);
		a->left = size;
	}
	p = a->at;
	a->at += n;
	a->left -= n;
	return p;
}

static void
arena_free(struct th_arena *a)
{
	struct th_arena_block *b;

	while ((b = a->head) != NULL) {
		a->head = b->next;
		pk_pages_free(b, b->size);
	}
	a->at = NULL;
	a->left = 0;
}

static void *
pool_get(struct th_pool *p)
{
	void *o;

#ifdef TH_ASAN
	return malloc(p->size);
#endif
	if ((o = p->free) != NULL) {
		memcpy(&p->free, o, sizeof p->free);
		return o;
	}
	return arena_alloc(&p->mem, p->size);
}

static void
pool_put(struct th_pool *p, void *o)
{
#ifdef TH_ASAN
	free(o);
	return;
#endif
	memcpy(o, &p->free, sizeof p->free);
	p->free = o;
}

/* ---- names of types ---- */

static const struct {
	const char *name;	/* torch.<name>Storage */
	int dtype;
	const char *quantized;	/* its quantized dtype, or NULL */
} storage_types[] = {
	{ "Double", T2M_F64, NULL }, { "Float", T2M_F32, NULL },
	{ "Half", T2M_F16, NULL }, { "BFloat16", T2M_BF16, NULL },
	{ "Long", T2M_I64, NULL }, { "Int", T2M_I32, NULL },
	{ "Short", T2M_I16, NULL }, { "Char", T2M_I8, NULL },
	{ "Byte", T2M_U8, NULL }, { "Bool", T2M_BOOL, NULL },
	{ "ComplexFloat", T2M_C64, NULL },
	{ "ComplexDouble", T2M_C128, NULL },
	{ "UInt16", T2M_U16, NULL }, { "UInt32", T2M_U32, NULL },
	{ "UInt64", T2M_U64, NULL },
	{ "Float8_e4m3fn", T2M_F8_E4M3, NULL },
	{ "Float8_e5m2", T2M_F8_E5M2, NULL },
	{ "QInt8", T2M_I8, "qint8" }, { "QUInt8", T2M_U8, "quint8" },
	{ "QInt32", T2M_I32, "qint32" }, { "QUInt4x2", T2M_U8, "quint4x2" },
	{ "QUInt2x4", T2M_U8, "quint2x4" },
	{ "Untyped", T2M_U8, NULL },
};

static const struct {
	const char *name;	/* torch.<name> */
	int dtype;		/* 0: a dtype t2m cannot carry */
} dtype_names[] = {
	{ "float64", T2M_F64 }, { "double", T2M_F64 },
	{ "float32", T2M_F32 }, { "float", T2M_F32 },
	{ "float16", T2M_F16 }, { "half", T2M_F16 },
	{ "bfloat16", T2M_BF16 },
	{ "int64", T2M_I64 }, { "long", T2M_I64 },
	{ "int32", T2M_I32 }, { "int", T2M_I32 },
	{ "int16", T2M_I16 }, { "short", T2M_I16 },
	{ "int8", T2M_I8 }, { "uint8", T2M_U8 }, { "bool", T2M_BOOL },
	{ "uint16", T2M_U16 }, { "uint32", T2M_U32 }, { "uint64", T2M_U64 },
	{ "complex64", T2M_C64 }, { "cfloat", T2M_C64 },
	{ "complex128", T2M_C128 }, { "cdouble", T2M_C128 },
	{ "float8_e4m3fn", T2M_F8_E4M3 }, { "float8_e5m2", T2M_F8_E5M2 },
	{ "float8_e4m3fnuz", T2M_F8_E4M3FNUZ },
	{ "float8_e5m2fnuz", T2M_F8_E5M2FNUZ },
	{ "float8_e8m0fnu", T2M_F8_E8M0 },
};

/* The dtype a GLOBAL torch.<name> stands for; *known = 0 if not a dtype. */
static int
dtype_of_global(const struct pk *g, const char **name)
{
	size_t k;

	*name = NULL;
	if (g == NULL || g->type != PK_GLOBAL ||
	    strcmp(g->u.global.module, "torch") != 0)
		return -1;
	*name = g->u.global.name;
	for (k = 0; k < sizeof dtype_names / sizeof dtype_names[0]; k++)
		if (strcmp(dtype_names[k].name, g->u.global.name) == 0)
			return dtype_names[k].dtype;
	return 0;
}

uint64_t
th_storage_numel(const struct pk_storage *s)
{
	return s->nbytes / (t2m_dtype_bits(s->dtype) / 8);
}

unsigned
th_itemsize(const struct pk_tensor *x)
{
	return t2m_dtype_bits(x->dtype) / 8;
}

uint64_t
th_numel(const struct pk_tensor *x)
{
	uint64_t n = 1;
	int d;

	for (d = 0; d < x->ndim; d++)
		n *= th_size(x)[d];
	return n;
}

/* Whether elements of these sizes and strides lie in C order without
 * gaps; no elements do.  The sizes are not checked yet: a product past
 * INT64_MAX answers no, and the bounds check then refuses the view. */
static int
c_order(int ndim, const uint64_t *size, const int64_t *stride)
{
	int64_t want = 1;
	int d;

	for (d = 0; d < ndim; d++)
		if (size[d] == 0)
			return 1;
	for (d = ndim - 1; d >= 0; d--) {
		if (size[d] != 1 && stride[d] != want)
			return 0;
		if (size[d] > (uint64_t)(INT64_MAX / want))
			return 0;
		want *= (int64_t)size[d];
	}
	return 1;
}

int
th_contiguous(const struct pk_tensor *x)
{
	return !(x->bits & TX_STRIDES);
}

void
th_span(const struct pk_tensor *x, uint64_t *begin, uint64_t *end)
{
	uint64_t last = x->offset;
	int d;

	if (!(x->bits & TX_STRIDES))
		last += th_numel(x) - 1;
	else
		for (d = 0; d < x->ndim; d++)
			last += (th_size(x)[d] - 1) *
			    (uint64_t)th_stride(x)[d];
	*begin = x->offset * th_itemsize(x);
	*end = (last + 1) * th_itemsize(x);
}

/* ---- errors in hooks ---- */

static struct pk *
hfail(struct pk_vm *vm, t2m_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static struct pk *
hfail(struct pk_vm *vm, t2m_error *err, const char *fmt, ...)
{
	char msg[T2M_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t2m_fail(err, "%s: %s", pk_where(vm), msg);
	return NULL;
}

static int
int_arg(const struct pk *o, int64_t *v)
{
	if (o == NULL || (o->type != PK_INT && o->type != PK_BOOL))
		return -1;
	*v = o->u.i;
	return 0;
}

/* Item k of a tuple or list, or NULL: of anything else, NULL. */
static struct pk *
arg(const struct pk *args, uint32_t k)
{
	return args && (args->type == PK_TUPLE || args->type == PK_LIST) &&
	    k < args->u.seq.n ? args->u.seq.v[k] : NULL;
}

/* ---- persistent ids: storages ---- */

/* A legacy storage view: elements [root_offset, ...) of its root. */
struct th_view {
	struct pk_storage s;
	struct pk_storage *root;
	uint64_t root_offset;
};

const char *
th_quantized(const struct pk_storage *s)
{
	return s->quantized ? storage_types[s->quantized - 1].quantized :
	    NULL;
}

static void
free_payload(void *ctx, struct pk_vm *vm, struct pk *o)
{
	struct th_pickle *t = ctx;

	(void)vm;
	if (o->type == PK_TENSOR) {
		th_tensor_drop(t, o->u.tensor);
	} else if (o->u.storage->view) {
		free(o->u.storage->key);
		free((struct th_view *)o->u.storage);
	}
}

static void
consumed(void *ctx, const unsigned char *p, size_t n)
{
	struct th_pickle *t = ctx;

	if (t->consumed)
		t->consumed(t->consumed_ctx, p, n);
}

/* *quantized: 0, or 1 + the storage_types entry of a quantized type. */
static int
storage_class(const struct pk *cls, int *dtype, int *untyped, int *quantized)
{
	const char *n;
	size_t k, len;

	if (cls == NULL || cls->type != PK_GLOBAL)
		return -1;
	/* torch.load maps any name ending in Storage, whatever the module:
	 * torch.FloatStorage, torch.cuda.FloatStorage, torch.storage.Untyped. */
	n = cls->u.global.name;
	len = strlen(n);
	if (len < 7 || strcmp(n + len - 7, "Storage") != 0)
		return -1;
	if (strcmp(n, "TypedStorage") == 0)
		return -1;
	for (k = 0; k < sizeof storage_types / sizeof storage_types[0]; k++)
		if (strlen(storage_types[k].name) == len - 7 &&
		    strncmp(storage_types[k].name, n, len - 7) == 0) {
			*dtype = storage_types[k].dtype;
			*quantized = storage_types[k].quantized ? (int)k + 1 :
			    0;
			*untyped = strcmp(n, "UntypedStorage") == 0;
			return 0;
		}
	return -1;
}

int
th_storage_dtype(const struct pk *cls)
{
	int dtype, untyped, quantized;

	if (storage_class(cls, &dtype, &untyped, &quantized) < 0 || quantized ||
	    untyped)
		return -1;
	return dtype;
}

/* The slot of the key index holding key, or the empty one it would go
 * in. */
static uint32_t *
key_slot(const struct th_pickle *t, const char *key)
{
	size_t j = t2m_hash_str(key) & t->keymask;

	while (t->bykey[j] != 0 &&
	    strcmp(th_storage_at(t, t->bykey[j] - 1)->key, key) != 0)
		j = (j + 1) & t->keymask;
	return &t->bykey[j];
}

/* Room in the key index for one more storage. */
static int
key_grow(struct th_pickle *t)
{
	uint32_t *old = t->bykey, k, *slot;
	size_t size;

	if (old != NULL && ((size_t)t->nstorages + 1) * 2 <= t->keymask + 1)
		return 0;
	size = old ? (t->keymask + 1) * 2 : 64;
	if ((t->bykey = calloc(size, sizeof *t->bykey)) == NULL) {
		t->bykey = old;
		return -1;
	}
	t->keymask = (uint32_t)(size - 1);
	for (k = 0; k < t->nstorages; k++) {
		slot = key_slot(t, th_storage_at(t, k)->key);
		*slot = k + 1;
	}
	free(old);
	return 0;
}

struct pk_storage *
th_find_storage(const struct th_pickle *t, const char *key)
{
	uint32_t *slot;

	if (t->bykey == NULL)
		return NULL;
	slot = key_slot(t, key);
	return *slot ? th_storage_at(t, *slot - 1) : NULL;
}

struct pk *
th_find_preset(struct th_pickle *t, const char *key)
{
	long k = t2m_strmap_get(&t->presets, key);

	return k < 0 ? NULL : t->preset[k].node;
}

/* A node for the storage called key, made now or met before. */
static struct pk *
storage_node(struct th_pickle *t, struct pk_vm *vm, const char *kstr,
    int dtype, int untyped, int quantized, uint64_t numel,
    t2m_error *err)
{
	struct pk_storage *s, **nc;
	struct pk *o;
	uint32_t c;
	size_t klen;

	if ((s = th_find_storage(t, kstr)) != NULL) {
		if (s->dtype != dtype || th_storage_numel(s) != numel)
			return hfail(vm, err, "storage '%s' is referenced as "
			    "two different types or sizes", kstr);
	} else {
		if (numel > (UINT64_MAX >> 1) / (t2m_dtype_bits(dtype) / 8))
			return hfail(vm, err, "storage '%s': %" PRIu64
			    " elements is too many", kstr, numel);
		if (t->nstorages >= T2M_MAX_TENSORS)
			return hfail(vm, err, "too many storages");
		if (t->nstorages % TH_STORAGE_CHUNK == 0) {
			c = t->nstorages / TH_STORAGE_CHUNK;
			if ((nc = realloc(t->chunk, (c + 1) * sizeof *nc)) ==
			    NULL)
				return hfail(vm, err, "out of memory");
			t->chunk = nc;
			t->chunk[c] = arena_alloc(&t->mem,
			    TH_STORAGE_CHUNK * sizeof *t->chunk[c]);
			if (t->chunk[c] == NULL)
				return hfail(vm, err, "out of memory");
		}
		klen = strlen(kstr);
		s = th_storage_at(t, t->nstorages);
		if (key_grow(t) < 0 ||
		    (s->key = arena_alloc(&t->mem, klen + 1)) == NULL)
			return hfail(vm, err, "out of memory");
		memcpy(s->key, kstr, klen + 1);
		s->nbytes = numel * (t2m_dtype_bits(dtype) / 8);
		s->seq = t->nstorages;
		s->quantized = (uint8_t)quantized;
		s->dtype = (uint8_t)dtype;
		s->untyped = (uint8_t)untyped;
		s->view = 0;
		*key_slot(t, s->key) = t->nstorages + 1;
		t->nstorages++;
	}
	if ((o = pk_alloc(vm, PK_STORAGE, err)) == NULL)
		return NULL;
	o->u.storage = s;
	return o;
}

static struct pk *
persid(void *ctx, struct pk_vm *vm, struct pk *pid, t2m_error *err)
{
	struct th_pickle *t = ctx;
	struct pk *tag, *cls, *key, *view, *o;
	int dtype, untyped, quantized;
	int64_t numel;
	char keybuf[32];
	const char *kstr;

	if (t->mode == TH_TAR01) {
		/* torch 0.1: str(key) of a tensor saved in the 'tensors'
		 * member, or (class, source file, source) of a module. */
		if (pid->type == PK_STR) {
			struct pk *x = th_find_preset(t, pid->u.str.s);
			if (x && x->type == PK_TENSOR)
				return pk_ref(x);
			return hfail(vm, err, "persistent id '%.64s' names no "
			    "saved tensor", pid->u.str.s);
		}
		if (pid->type == PK_TUPLE && pid->u.seq.n == 3)
			return pk_ref(arg(pid, 0));
		return hfail(vm, err, "unsupported persistent id (%s)",
		    pk_a_type(pid));
	}
	if (pid->type != PK_TUPLE || (tag = arg(pid, 0)) == NULL ||
	    tag->type != PK_STR)
		return hfail(vm, err, "persistent id is %s, not a tuple "
		    "naming its kind", pk_a_type(pid));
	if (strcmp(tag->u.str.s, "module") == 0 && pid->u.seq.n == 4)
		/* legacy full-model pickles: ('module', cls, file, source) */
		return pk_ref(arg(pid, 1));
	if (strcmp(tag->u.str.s, "storage") != 0 ||
	    pid->u.seq.n != (t->mode == TH_LEGACY ? 6u : 5u))
		return hfail(vm, err, "unsupported persistent id ('%s' with "
		    "%u fields)", tag->u.str.s, pid->u.seq.n);
	cls = arg(pid, 1);
	key = arg(pid, 2);
	if (storage_class(cls, &dtype, &untyped, &quantized) < 0)
		return hfail(vm, err, "unknown storage type %s%s%s",
		    cls && cls->type == PK_GLOBAL ? cls->u.global.module : "",
		    cls && cls->type == PK_GLOBAL ? "." : "",
		    cls && cls->type == PK_GLOBAL ? cls->u.global.name :
		    pk_type_name(cls));
	if (key->type == PK_STR) {
		kstr = key->u.str.s;
	} else if (key->type == PK_INT) {
		snprintf(keybuf, sizeof keybuf, "%" PRId64, key->u.i);
		kstr = keybuf;
	} else {
		return hfail(vm, err, "storage key is %s",
		    pk_a_type(key));
	}
	if (strlen(kstr) != key->u.str.n && key->type == PK_STR)
		return hfail(vm, err, "storage key holds NUL");
	if (int_arg(arg(pid, 4), &numel) < 0 || numel < 0)
		return hfail(vm, err, "storage '%s': bad element count", kstr);

	if ((o = storage_node(t, vm, kstr, dtype, untyped, quantized,
	    (uint64_t)numel, err)) == NULL)
		return NULL;
	/* Legacy storage views: (view_key, offset, size) into this root. */
	view = t->mode == TH_LEGACY ? arg(pid, 5) : NULL;
	if (view && view->type != PK_NONE) {
		struct pk *vo, *vkey = arg(view, 0);
		int64_t off, vsize;
		if (view->type != PK_TUPLE || view->u.seq.n != 3 ||
		    vkey == NULL || vkey->type != PK_STR ||
		    int_arg(arg(view, 1), &off) < 0 ||
		    int_arg(arg(view, 2), &vsize) < 0 || off < 0 || vsize < 0 ||
		    (uint64_t)off > th_storage_numel(o->u.storage) ||
		    (uint64_t)vsize > th_storage_numel(o->u.storage) -
		    (uint64_t)off) {
			pk_unref(vm, o);
			return hfail(vm, err, "bad storage view of '%s'", kstr);
		}
		vo = th_storage_view(t, vkey->u.str.s, o->u.storage,
		    (uint64_t)off, (uint64_t)vsize, err);
		pk_unref(vm, o);
		return vo;
	}
	return o;
}

/* ---- rebuilding tensors ---- */

static int
shape_arg(struct pk *o, uint64_t *v, int64_t *sv, int *n)
{
	uint32_t k;
	int64_t x;

	if (o == NULL || (o->type != PK_TUPLE && o->type != PK_LIST) ||
	    o->u.seq.n > T2M_MAXDIM)
		return -1;
	for (k = 0; k < o->u.seq.n; k++) {
		if (int_arg(o->u.seq.v[k], &x) < 0 || x < 0)
			return -1;
		if (v)
			v[k] = (uint64_t)x;
		if (sv)
			sv[k] = x;
	}
	*n = (int)o->u.seq.n;
	return 0;
}

/* The pool for tensors of ndim dimensions, strided or not, or -1. */
static int
pool_of(const struct th_pickle *t, int ndim, int strided)
{
	int k = 2 * ndim + (strided != 0);

	return k < (int)(sizeof t->tensors / sizeof t->tensors[0]) ? k : -1;
}

/* A tensor node with room for ndim sizes (and strides, if strided)
 * after it; what names its type when that is not a dense one t2m
 * knows. */
static struct pk *
new_tensor(struct th_pickle *t, struct pk_vm *vm, int kind, int ndim,
    int strided, const char *what, t2m_error *err)
{
	size_t words = (size_t)ndim * (strided ? 2 : 1);
	struct pk_tensor *x;
	struct pk *o;
	int k = pool_of(t, ndim, strided);

	/* torch's names are short; 47 bytes were always enough */
	if (what)
		x = malloc(sizeof *x + words * sizeof x->dim[0] + 48);
	else if (k >= 0)
		x = pool_get(&t->tensors[k]);
	else
		x = malloc(sizeof *x + words * sizeof x->dim[0]);
	if (x == NULL)
		return hfail(vm, err, "out of memory");
	memset(x, 0, sizeof *x);
	x->holds = 1;
	x->kind = (uint8_t)kind;
	x->ndim = (uint8_t)ndim;
	x->bits = strided ? TX_STRIDES : 0;
	if (what) {
		x->bits |= TX_NAMED;
		snprintf((char *)(x->dim + words), 48, "%s", what);
	}
	if ((o = pk_alloc(vm, PK_TENSOR, err)) == NULL) {
		th_tensor_drop(t, x);
		return NULL;
	}
	o->u.tensor = x;
	return o;
}

void
th_tensor_drop(struct th_pickle *t, struct pk_tensor *x)
{
	int k;

	if (x == NULL || --x->holds > 0)
		return;
	k = pool_of(t, x->ndim, x->bits & TX_STRIDES);
	if (!(x->bits & TX_NAMED) && k >= 0)
		pool_put(&t->tensors[k], x);
	else
		free(x);
}

/*
 * A dense tensor viewing storage s, its last element checked to lie in
 * the storage with overflow-safe arithmetic.  Legacy storage views are
 * resolved to their root.
 */
static struct pk *
tensor_node(struct th_pickle *t, struct pk_vm *vm, struct pk_storage *s,
    int dtype, int kind, const char *dname, uint64_t offset, int ndim,
    const uint64_t *size, const int64_t *stride, const char *fn,
    t2m_error *err)
{
	struct pk_tensor *x;
	uint64_t last, isz, numel = 1, avail, step;
	struct pk *o;
	int d, strided;

	for (d = 0; d < ndim; d++)
		if (stride[d] < 0)
			return hfail(vm, err, "%s: negative stride", fn);
	strided = !c_order(ndim, size, stride);
	if ((o = new_tensor(t, vm, kind, ndim, strided,
	    kind != TK_DENSE || dtype == 0 ? dname : NULL, err)) == NULL)
		return NULL;
	x = o->u.tensor;
	x->dtype = (uint8_t)dtype;
	x->offset = offset;
	for (d = 0; d < ndim; d++) {
		x->dim[d] = size[d];
		if (strided)
			x->dim[ndim + d] = (uint64_t)stride[d];
	}
	isz = dtype ? t2m_dtype_bits(dtype) / 8 : 1;
	for (d = 0; d < ndim; d++) {
		if (size[d] != 0 && numel > UINT64_MAX / 2 / size[d]) {
			pk_unref(vm, o);
			return hfail(vm, err, "%s: shape overflows", fn);
		}
		numel *= size[d];
	}
	if (numel > 0) {
		/* The last element must lie inside the storage. */
		last = x->offset;
		for (d = 0; d < ndim; d++) {
			step = size[d] - 1;
			if (stride[d] != 0 && step > (UINT64_MAX / 4 - last) /
			    (uint64_t)stride[d]) {
				pk_unref(vm, o);
				return hfail(vm, err, "%s: strides overflow", fn);
			}
			last += step * (uint64_t)stride[d];
		}
		avail = s->nbytes / isz;
		if (last >= avail) {
			hfail(vm, err, "%s: view (offset %" PRIu64 ", last "
			    "element %" PRIu64 ") runs past its storage '%s' of "
			    "%" PRIu64 " elements", fn, x->offset, last, s->key,
			    avail);
			pk_unref(vm, o);
			return NULL;
		}
	}
	/* Checked against the view; now address its root directly. */
	while (s->view) {
		x->offset += ((struct th_view *)s)->root_offset;
		s = ((struct th_view *)s)->root;
	}
	x->storage = s;
	return o;
}

/* _rebuild_tensor{,_v2,_v3}(storage, offset, size, stride, ...). */
static struct pk *
rebuild(struct th_pickle *t, struct pk_vm *vm, const char *fn,
    struct pk *args, int v3, t2m_error *err)
{
	struct pk *st = arg(args, 0);
	struct pk_storage *s;
	uint64_t size[T2M_MAXDIM];
	int64_t stride[T2M_MAXDIM], off;
	int nsize, nstride, dtype, kind = TK_DENSE;
	const char *dname = NULL;

	if (st == NULL)
		return hfail(vm, err, "%s: no arguments", fn);
	if (st->type != PK_STORAGE)
		return hfail(vm, err, "%s: argument 1 is %s, not a storage",
		    fn, pk_a_type(st));
	s = st->u.storage;
	if (int_arg(arg(args, 1), &off) < 0 || off < 0 ||
	    shape_arg(arg(args, 2), size, NULL, &nsize) < 0 ||
	    shape_arg(arg(args, 3), NULL, stride, &nstride) < 0 ||
	    nsize != nstride)
		return hfail(vm, err, "%s: bad offset, size or stride", fn);
	if (v3) {
		dtype = dtype_of_global(arg(args, 6), &dname);
		if (dtype < 0 || !s->untyped)
			return hfail(vm, err, "%s: argument 7 is not a dtype "
			    "or the storage is typed", fn);
		if (dtype == 0)
			kind = TK_OTHER;
	} else {
		if (s->untyped)
			return hfail(vm, err, "%s: an untyped storage needs "
			    "_rebuild_tensor_v3", fn);
		dtype = s->dtype;
		if (th_quantized(s))
			kind = TK_QUANTIZED;
	}
	return tensor_node(t, vm, s, dtype, kind, dname, (uint64_t)off, nsize,
	    size, stride, fn, err);
}

/* Tensors t2m cannot convert still become tensors, so names can be given
 * in the error (or the warning when skipping). */
static struct pk *
unsupported(struct th_pickle *t, struct pk_vm *vm, int kind, const char *what,
    t2m_error *err)
{
	return new_tensor(t, vm, kind, 0, 0, what, err);
}

/* torch's name for what a _rebuild_* call makes, from its arguments. */
static const char *
rebuilt_type(const char *fn, struct pk *args, char *buf, size_t cap)
{
	struct pk *a0 = arg(args, 0), *l;
	const char *dname;

	if (strcmp(fn, "_rebuild_qtensor") == 0)
		return a0 && a0->type == PK_STORAGE &&
		    th_quantized(a0->u.storage) ? th_quantized(a0->u.storage) :
		    "quantized";
	if (strncmp(fn, "_rebuild_sparse", 15) == 0) {
		/* the layout: _get_layout('torch.sparse_coo'), kept inert */
		if (a0 && a0->type == PK_OBJ && (l = arg(a0->u.obj.args, 0)) &&
		    l->type == PK_STR) {
			snprintf(buf, cap, "%s", strncmp(l->u.str.s, "torch.",
			    6) == 0 ? l->u.str.s + 6 : l->u.str.s);
			return buf;
		}
		return "sparse";
	}
	if (strcmp(fn, "_rebuild_meta_tensor_no_storage") == 0 &&
	    dtype_of_global(a0, &dname) >= 0) {
		snprintf(buf, cap, "%s, no data", dname);
		return buf;
	}
	return fn;
}

static int
global_in(const struct pk *g, const char *module)
{
	return g && g->type == PK_GLOBAL &&
	    strcmp(g->u.global.module, module) == 0;
}

/* A dict from a dict or a sequence of pairs (OrderedDict([(k, v)])). */
static struct pk *
dict_from(struct pk_vm *vm, struct pk *src, t2m_error *err)
{
	struct pk *d, *pair;
	uint32_t n, k;

	if (src->type != PK_DICT)
		for (k = 0; k < src->u.seq.n; k++) {
			pair = src->u.seq.v[k];
			if ((pair->type != PK_TUPLE && pair->type != PK_LIST) ||
			    pair->u.seq.n != 2)
				return hfail(vm, err, "dict from a sequence "
				    "holding %s", pk_a_type(pair));
		}
	n = src->type == PK_DICT ? src->u.seq.n : 2 * src->u.seq.n;
	if ((d = pk_alloc(vm, PK_DICT, err)) == NULL || n == 0)
		return d;
	if ((d->u.seq.v = malloc(n * sizeof *d->u.seq.v)) == NULL) {
		pk_unref(vm, d);
		return hfail(vm, err, "out of memory");
	}
	for (k = 0; k < n; k++)
		d->u.seq.v[k] = pk_ref(src->type == PK_DICT ? src->u.seq.v[k] :
		    src->u.seq.v[k / 2]->u.seq.v[k % 2]);
	d->u.seq.n = d->u.seq.cap = n;
	return d;
}

static struct pk *
call_hook(void *ctx, struct pk_vm *vm, struct pk *fn, struct pk *args,
    int newobj, int *handled, t2m_error *err);

static struct pk *
call_known(struct th_pickle *t, struct pk_vm *vm, struct pk *fn,
    struct pk *args, int *handled, t2m_error *err)
{
	const char *name;
	struct pk *a0 = arg(args, 0), *o;
	uint32_t n = args ? args->u.seq.n : 0;
	char tb[48];
	int h;

	*handled = 1;
	if (fn->type != PK_GLOBAL) {
		*handled = 0;
		return NULL;
	}
	name = fn->u.global.name;
	if (pk_is_global(fn, "collections", "OrderedDict") ||
	    pk_is_global(fn, "builtins", "dict") ||
	    pk_is_global(fn, "collections", "defaultdict")) {
		if (n == 0 || pk_is_global(fn, "collections", "defaultdict"))
			return pk_alloc(vm, PK_DICT, err);
		if (a0->type == PK_DICT || a0->type == PK_LIST ||
		    a0->type == PK_TUPLE)
			return dict_from(vm, a0, err);
	} else if (pk_is_global(fn, "builtins", "set") ||
	    pk_is_global(fn, "builtins", "frozenset")) {
		if ((o = pk_alloc(vm, PK_SET, err)) == NULL)
			return NULL;
		if (n > 0 && (a0->type == PK_LIST || a0->type == PK_TUPLE ||
		    a0->type == PK_SET) && a0->u.seq.n > 0) {
			uint32_t k;
			if ((o->u.seq.v = malloc(a0->u.seq.n *
			    sizeof *o->u.seq.v)) == NULL) {
				pk_unref(vm, o);
				return hfail(vm, err, "out of memory");
			}
			for (k = 0; k < a0->u.seq.n; k++)
				o->u.seq.v[k] = pk_ref(a0->u.seq.v[k]);
			o->u.seq.n = o->u.seq.cap = a0->u.seq.n;
		}
		return o;
	} else if (pk_is_global(fn, "_codecs", "encode") && n >= 1 &&
	    a0->type == PK_STR) {
		/* bytes pickled at protocol 2: latin-1 text to bytes */
		const unsigned char *s = (const unsigned char *)a0->u.str.s;
		size_t k, m = 0;
		if ((o = pk_str(vm, "", 0, err)) == NULL)
			return NULL;
		free(o->u.str.s);
		if ((o->u.str.s = malloc(a0->u.str.n + 1)) == NULL) {
			o->type = PK_NONE;
			pk_unref(vm, o);
			return hfail(vm, err, "out of memory");
		}
		for (k = 0; k < a0->u.str.n; k++) {
			if (s[k] < 0x80)
				o->u.str.s[m++] = (char)s[k];
			else if ((s[k] & 0xE0) == 0xC0 && k + 1 < a0->u.str.n)
				o->u.str.s[m++] = (char)(((s[k] & 0x1F) << 6) |
				    (s[k + 1] & 0x3F)), k++;
		}
		o->u.str.n = m;
		o->type = PK_BYTES;
		return o;
	} else if (global_in(fn, "torch._utils")) {
		if (strcmp(name, "_rebuild_tensor") == 0)
			return rebuild(t, vm, name, args, 0, err);
		if (strcmp(name, "_rebuild_tensor_v2") == 0)
			return rebuild(t, vm, name, args, 0, err);
		if (strcmp(name, "_rebuild_tensor_v3") == 0)
			return rebuild(t, vm, name, args, 1, err);
		if (strcmp(name, "_rebuild_parameter") == 0 ||
		    strcmp(name, "_rebuild_parameter_with_state") == 0 ||
		    strcmp(name, "_rebuild_device_tensor_from_cpu_tensor") ==
		    0) {
			if (a0 && a0->type == PK_TENSOR)
				return pk_ref(a0);
			return hfail(vm, err, "%s of %s", name,
			    a0 ? pk_a_type(a0) : "missing value");
		}
		if (strcmp(name, "_rebuild_qtensor") == 0)
			return unsupported(t, vm, TK_QUANTIZED,
			    rebuilt_type(name, args, tb, sizeof tb), err);
		if (strncmp(name, "_rebuild_sparse", 15) == 0)
			return unsupported(t, vm, TK_SPARSE, rebuilt_type(name,
			    args, tb, sizeof tb), err);
		if (strcmp(name, "_rebuild_meta_tensor_no_storage") == 0)
			return unsupported(t, vm, TK_META, rebuilt_type(name,
			    args, tb, sizeof tb), err);
		if (strcmp(name, "_rebuild_nested_tensor") == 0)
			return unsupported(t, vm, TK_NESTED, "nested", err);
		if (strncmp(name, "_rebuild_", 9) == 0)
			return unsupported(t, vm, TK_OTHER, name, err);
	} else if (pk_is_global(fn, "torch._tensor", "_rebuild_from_type_v2")) {
		/* (func, new_type, args, state): the tensor is func(*args). */
		struct pk *f = a0, *fa = arg(args, 2);
		if (f == NULL || fa == NULL || fa->type != PK_TUPLE)
			return hfail(vm, err, "bad _rebuild_from_type_v2");
		/* It may name itself: bound the recursion. */
		if (t->rebuild_depth >= 16)
			return hfail(vm, err, "_rebuild_from_type_v2 nested "
			    "more than 16 deep");
		t->rebuild_depth++;
		o = call_hook(t, vm, f, fa, 0, &h, err);
		t->rebuild_depth--;
		if (!h)
			return hfail(vm, err, "_rebuild_from_type_v2 of an "
			    "unknown function %s.%s", f->type == PK_GLOBAL ?
			    f->u.global.module : "?", f->type == PK_GLOBAL ?
			    f->u.global.name : "?");
		return o;
	} else if (pk_is_global(fn, "torch.nn.parameter", "Parameter") ||
	    pk_is_global(fn, "torch", "Tensor")) {
		if (a0 && a0->type == PK_TENSOR)
			return pk_ref(a0);
		if (n == 0)
			return unsupported(t, vm, TK_OTHER, "empty Parameter",
			    err);
	} else if (pk_is_global(fn, "torch", "Size") && a0 &&
	    a0->type == PK_TUPLE) {
		return pk_ref(a0);
	} else if (global_in(fn, "torch.jit._pickle") && a0 &&
	    (strncmp(name, "build_", 6) == 0 ||
	    strcmp(name, "restore_type_tag") == 0)) {
		return pk_ref(a0);
	} else if (pk_is_global(fn, "copyreg", "_reconstructor") && a0) {
		/* object.__reduce_ex__ < 2: an instance of a0 */
		if ((o = pk_alloc(vm, PK_OBJ, err)) == NULL)
			return NULL;
		o->u.obj.callable = pk_ref(a0);
		o->newobj = 1;
		return o;
	}
	*handled = 0;
	return NULL;
}

static struct pk *
call_hook(void *ctx, struct pk_vm *vm, struct pk *fn, struct pk *args,
    int newobj, int *handled, t2m_error *err)
{
	(void)newobj;
	return call_known(ctx, vm, fn, args, handled, err);
}

int
th_init(struct th_pickle *t, int mode, t2m_error *err)
{
	struct pk_hooks hooks = { t, call_hook, persid, free_payload,
	    consumed };
	size_t k;

	memset(t, 0, sizeof *t);
	t->mode = mode;
	for (k = 0; k < sizeof t->tensors / sizeof t->tensors[0]; k++)
		t->tensors[k].size = sizeof(struct pk_tensor) +
		    k / 2 * (k % 2 ? 2 : 1) * sizeof(uint64_t);
	snprintf(t->name, sizeof t->name, "pickle");
	if ((t->vm = pk_new(&hooks, NULL)) == NULL)
		return t2m_fail(err, "out of memory");
	return 0;
}

int
th_load(struct th_pickle *t, const unsigned char *p, size_t n,
    const char *name, int mode, t2m_error *err)
{
	if (t->vm == NULL && th_init(t, mode, err) < 0)
		return -1;
	snprintf(t->name, sizeof t->name, "%s", name);
	if ((t->root = pk_load(t->vm, p, n, t->name, err)) == NULL)
		return -1;
	return 0;
}

struct pk *
th_storage(struct th_pickle *t, const char *key, int dtype, uint64_t numel,
    t2m_error *err)
{
	return storage_node(t, t->vm, key, dtype, 0, 0, numel, err);
}

struct pk *
th_storage_view(struct th_pickle *t, const char *key, struct pk_storage *r,
    uint64_t offset, uint64_t numel, t2m_error *err)
{
	struct th_view *v;
	struct pk *o;

	if (offset > th_storage_numel(r) ||
	    numel > th_storage_numel(r) - offset)
		return hfail(t->vm, err, "storage view '%s' runs past its root "
		    "'%s'", key, r->key);
	if ((v = malloc(sizeof *v)) == NULL)
		return hfail(t->vm, err, "out of memory");
	v->s = *r;
	if ((v->s.key = strdup(key)) == NULL) {
		free(v);
		return hfail(t->vm, err, "out of memory");
	}
	v->s.nbytes = numel * (t2m_dtype_bits(r->dtype) / 8);
	v->s.view = 1;
	v->root = r;
	v->root_offset = offset;
	if ((o = pk_alloc(t->vm, PK_STORAGE, err)) == NULL) {
		free(v->s.key);
		free(v);
		return NULL;
	}
	o->u.storage = &v->s;
	return o;
}

struct pk *
th_tensor(struct th_pickle *t, struct pk_storage *s, uint64_t offset,
    int ndim, const uint64_t *size, const int64_t *stride, t2m_error *err)
{
	return tensor_node(t, t->vm, s, s->dtype, TK_DENSE, NULL, offset, ndim,
	    size, stride, "tensor", err);
}

int
th_preset_add(struct th_pickle *t, const char *key, struct pk *tensor,
    t2m_error *err)
{
	struct th_preset *np;
	uint32_t cap;

	if (t->npreset == t->cappreset) {
		cap = t->cappreset ? t->cappreset * 2 : 16;
		if (cap > T2M_MAX_TENSORS ||
		    (np = realloc(t->preset, cap * sizeof *np)) == NULL)
			return t2m_fail(err, "too many tensors");
		t->preset = np;
		t->cappreset = cap;
	}
	if ((t->preset[t->npreset].key = strdup(key)) == NULL)
		return t2m_fail(err, "out of memory");
	if (t2m_strmap_put(&t->presets, t->preset[t->npreset].key,
	    t->npreset) < 0) {
		free(t->preset[t->npreset].key);
		return t2m_fail(err, "out of memory");
	}
	t->preset[t->npreset++].node = pk_ref(tensor);
	return 0;
}

void
th_release(struct th_pickle *t)
{
	uint32_t k;

	if (t->vm == NULL)
		return;
	/* pk_free takes the tree down without following it, which would
	 * need a list of all it holds. */
	t->root = NULL;
	for (k = 0; k < t->npreset; k++)
		free(t->preset[k].key);
	free(t->preset);
	t->preset = NULL;
	t->npreset = t->cappreset = 0;
	t2m_strmap_free(&t->presets);
	pk_free(t->vm);
	t->vm = NULL;
}

void
th_free(struct th_pickle *t)
{
	size_t k;

	th_release(t);
	for (k = 0; k < sizeof t->tensors / sizeof t->tensors[0]; k++)
		arena_free(&t->tensors[k].mem);
	arena_free(&t->mem);
	free(t->chunk);
	free(t->bykey);
	memset(t, 0, sizeof *t);
}

/* ---- flattening to state_dict() names ---- */

struct walker {
	struct th_pickle *t;
	const struct th_opts *o;
	struct t2m_manifest *m;	/* NULL when listing */
	struct t2m_buf *skipped;	/* JSON of what was skipped, or NULL */
	uint32_t nskipped;
	struct th_item *items;
	uint32_t n, cap;
	struct t2m_buf *list;	/* -l output, or NULL */
	uint64_t visits;
	char *path;		/* the name walked: every level's, in turn */
	size_t plen;
	uint64_t named;		/* bytes of the names built */
	uint64_t repeated;	/* bytes of views repeating elements */
	int depth;
	t2m_error *err;
	int sole;		/* consuming, and nothing shares the path */
};

static int walk(struct walker *w, struct pk *o, const char *name);

static void
warn(struct walker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
warn(struct walker *w, const char *fmt, ...)
{
	char msg[T2M_ERRLEN];
	va_list ap;

	if (w->o == NULL || w->o->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	w->o->warn(w->o->warn_ctx, msg);
}

/* Warn of a skipped tensor, and note it for the manifest ("skipped"),
 * so a report made downstream still sees it. */
static void
skip(struct walker *w, const char *kind, const char *where, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
skip(struct walker *w, const char *kind, const char *where, const char *fmt,
    ...)
{
	char msg[T2M_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	warn(w, "%s", msg);
	if (w->skipped == NULL || w->nskipped >= 1000)
		return;
	t2m_buf_add(w->skipped, w->nskipped++ ? "," : "[", 1);
	t2m_buf_str(w->skipped, "{\"kind\":");
	t2m_buf_json(w->skipped, kind);
	t2m_buf_str(w->skipped, ",\"where\":");
	t2m_buf_json(w->skipped, where);
	t2m_buf_str(w->skipped, ",\"message\":");
	t2m_buf_json(w->skipped, msg);
	t2m_buf_add(w->skipped, "}", 1);
}

/*
 * The walk's names are one buffer, w->path, long enough for any: each
 * level adds ".key" (key alone at the top) on the way down and cuts it
 * off on the way back, so the name a level was given is its own again.
 * A long key shared through the memo is still written into every name
 * beneath it, as many times as the memo multiplies them: so a name may
 * not pass T2M_MAX_STRING, nor the names of one walk MAX_NAMED bytes
 * together.
 */
static int
path_start(struct walker *w, const char *name)
{
	size_t n = strlen(name);

	if (n > T2M_MAX_STRING)
		return t2m_fail(w->err, "a name of %zu bytes (at most %u)", n,
		    T2M_MAX_STRING);
	if ((w->path = malloc(T2M_MAX_STRING + 1)) == NULL)
		return t2m_fail(w->err, "out of memory");
	memcpy(w->path, name, n + 1);
	w->plen = n;
	return 0;
}

/* Down to key; *back gets where to cut.  NULL with the error set. */
static const char *
descend(struct walker *w, const char *key, size_t *back)
{
	size_t a = w->plen, b = strlen(key);

	if (a + b + 1 > T2M_MAX_STRING) {
		t2m_fail(w->err, "a name under '%.64s' is longer than %u bytes",
		    w->path, T2M_MAX_STRING);
		return NULL;
	}
	if ((w->named += a + b + 2) > MAX_NAMED) {
		t2m_fail(w->err, "'%.60s%s': the names beneath pass %u MiB "
		    "(shared references multiply)", w->path, a > 60 ? "..." :
		    "", MAX_NAMED >> 20);
		return NULL;
	}
	*back = a;
	if (a)
		w->path[a++] = '.';
	memcpy(w->path + a, key, b + 1);
	w->plen = a + b;
	return w->path;
}

static void
ascend(struct walker *w, size_t back)
{
	w->path[back] = '\0';
	w->plen = back;
}

/* A dict key as a name part: str as it is, int in decimal. */
static int
key_text(const struct pk *k, char *buf, size_t cap, const char **out)
{
	if (k->type == PK_STR) {
		if (strlen(k->u.str.s) != k->u.str.n)
			return -1;
		*out = k->u.str.s;
		return 0;
	}
	if (k->type == PK_INT) {
		snprintf(buf, cap, "%" PRId64, k->u.i);
		*out = buf;
		return 0;
	}
	return -1;
}

static const char *
class_name(const struct pk *o, char *buf, size_t cap)
{
	const struct pk *c = o->type == PK_OBJ ? o->u.obj.callable : NULL;

	if (c == NULL || c->type != PK_GLOBAL)
		return "object";
	snprintf(buf, cap, "%s.%s", c->u.global.module, c->u.global.name);
	return buf;
}

/* An object's attribute dict: BUILD state, or the dict of (dict, slots). */
static struct pk *
attr_dict(const struct pk *o)
{
	struct pk *s = o->state;

	if (s && s->type == PK_TUPLE && s->u.seq.n == 2)
		s = s->u.seq.v[0];
	return s && s->type == PK_DICT ? s : NULL;
}

static int
is_module(const struct pk *o)
{
	struct pk *d;

	if (o->type != PK_OBJ || (d = attr_dict(o)) == NULL)
		return 0;
	return pk_dict_get(d, "_modules") != NULL &&
	    pk_dict_get(d, "_parameters") != NULL;
}

static int
is_script_module(const struct pk *o)
{
	const struct pk *c = o->type == PK_OBJ ? o->u.obj.callable : NULL;

	return c && c->type == PK_GLOBAL && attr_dict(o) != NULL &&
	    (strcmp(c->u.global.module, "__torch__") == 0 ||
	    strncmp(c->u.global.module, "__torch__.", 10) == 0);
}

/* A module's class as Python names it: TorchScript's __torch__. prefix
 * and ___torch_mangle_N parts removed. */
static void
module_class(const struct pk *o, struct t2m_buf *b)
{
	const struct pk *c = o->u.obj.callable;
	const char *m, *p, *dot;

	if (c == NULL || c->type != PK_GLOBAL) {
		t2m_buf_str(b, "?");
		return;
	}
	m = c->u.global.module;
	if (strcmp(m, "__torch__") == 0)
		m = "";
	else if (strncmp(m, "__torch__.", 10) == 0)
		m += 10;
	for (p = m; *p; p = dot ? dot + 1 : p + strlen(p)) {
		dot = strchr(p, '.');
		if (strncmp(p, "___torch_mangle_", 16) == 0)
			continue;
		t2m_buf_add(b, p, dot ? (size_t)(dot - p) : strlen(p));
		t2m_buf_add(b, ".", 1);
	}
	t2m_buf_str(b, c->u.global.name);
}

/* The shortest text that reads back as the same double. */
static void
float_text(struct t2m_buf *b, double f)
{
	char txt[32];
	int prec;

	for (prec = 1; prec < 17; prec++) {
		snprintf(txt, sizeof txt, "%.*g", prec, f);
		if (strtod(txt, NULL) == f)
			break;
	}
	snprintf(txt, sizeof txt, "%.*g", prec, f);
	t2m_buf_str(b, txt);
}

/*
 * A constructor attribute as JSON text, if it is a plain value of at most
 * limit bytes.  Lists are cut short past the limit: the memo can make a
 * list of many references to one list of many references, whose text
 * grows as the product of their lengths.
 */
#define ATTR_JSON_MAX 4096
static int
attr_json(struct t2m_buf *b, const struct pk *v, int depth, size_t limit)
{
	uint32_t k;

	if (b->len > limit)
		return -1;
	switch (v->type) {
	case PK_NONE:
		t2m_buf_str(b, "null");
		return 0;
	case PK_BOOL:
		t2m_buf_str(b, v->u.i ? "true" : "false");
		return 0;
	case PK_INT:
		t2m_buf_printf(b, "%" PRId64, v->u.i);
		return 0;
	case PK_FLOAT:
		if (v->u.f != v->u.f || v->u.f - v->u.f != 0)
			return -1;	/* NaN, inf: not JSON */
		float_text(b, v->u.f);
		return 0;
	case PK_STR:
		if (!t2m_utf8_valid(v->u.str.s, v->u.str.n))
			return -1;
		t2m_buf_json(b, v->u.str.s);
		return 0;
	case PK_TUPLE: case PK_LIST:
		if (depth > 4)
			return -1;
		t2m_buf_add(b, "[", 1);
		for (k = 0; k < v->u.seq.n; k++) {
			if (k)
				t2m_buf_add(b, ", ", 2);
			if (attr_json(b, v->u.seq.v[k], depth + 1, limit) < 0)
				return -1;
		}
		t2m_buf_add(b, "]", 1);
		return b->len > limit ? -1 : 0;
	default:
		return -1;
	}
}

static int
emit(struct walker *w, struct pk *o, const char *name)
{
	struct pk_tensor *x = o->u.tensor;
	struct th_item *ni;
	uint64_t numel, isz;
	uint32_t cap;
	const char *kind = NULL;

	switch (x->kind) {
	case TK_QUANTIZED: kind = "a quantized tensor"; break;
	case TK_SPARSE: kind = "a sparse tensor"; break;
	case TK_META: kind = "a meta tensor"; break;
	case TK_NESTED: kind = "a nested tensor"; break;
	case TK_DENSE: if (x->dtype) break; /* FALLTHROUGH */
	default: kind = "a kind of tensor t2m does not know";
	}
	if (kind == NULL && x->dtype == T2M_C128 && w->o &&
	    w->o->skip_unsupported) {
		/* The stream carries it, but no output format can. */
		skip(w, "complex128", name, "skipping tensor '%s': complex128 "
		    "cannot be stored in safetensors", name);
		return 0;
	}
	if (kind) {
		if (w->o && w->o->skip_unsupported) {
			skip(w, x->kind == TK_QUANTIZED ? "quantized" :
			    x->kind == TK_SPARSE ? "sparse" : x->kind == TK_META ?
			    "meta" : "unsupported-tensor", name, "skipping "
			    "tensor '%s', %s (%s)", name, kind, th_what(x));
			return 0;
		}
		return t2m_fail(w->err, "tensor '%s' is %s (%s), which t2m "
		    "cannot convert (-s skips it)", name, kind, th_what(x));
	}
	if (!t2m_utf8_valid(name, strlen(name))) {
		/* Show it with its bad bytes escaped. */
		struct t2m_buf b = { 0 };
		const unsigned char *c;
		for (c = (const unsigned char *)name; *c && b.len < 200; c++)
			if (*c >= 0x20 && *c < 0x7f)
				t2m_buf_add(&b, c, 1);
			else
				t2m_buf_printf(&b, "\\x%02x", *c);
		t2m_fail(w->err, "tensor name '%s' is not valid UTF-8",
		    b.p ? b.p : "");
		t2m_buf_free(&b);
		return -1;
	}
	/* More elements than the storage holds: some repeat. */
	isz = t2m_dtype_bits(x->dtype) / 8;
	numel = th_numel(x);
	if (isz && numel > x->storage->nbytes / isz &&
	    (numel > MAX_REPEATED / isz ||
	    (w->repeated += numel * isz) > MAX_REPEATED))
		return t2m_fail(w->err, "tensor '%s' repeats elements of its "
		    "storage (stride 0, as expand() makes): with those before "
		    "it, more than %" PRIu64 " MiB to write out", name,
		    MAX_REPEATED >> 20);
	if (w->n == w->cap) {
		cap = w->cap ? w->cap * 2 : 64;
		if (cap > T2M_MAX_TENSORS || (ni = realloc(w->items,
		    cap * sizeof *ni)) == NULL)
			return t2m_fail(w->err, "too many tensors");
		w->items = ni;
		w->cap = cap;
	}
	if ((w->items[w->n].name = strdup(name)) == NULL)
		return t2m_fail(w->err, "out of memory");
	w->items[w->n++].tensor = x;
	x->holds++;
	return 0;
}

/* Record a module (path, class, plain attributes) in the manifest. */
static int
add_module(struct walker *w, struct pk *o, const char *path)
{
	struct t2m_buf b = { 0 };
	struct t2m_module *mod;
	struct pk *d = attr_dict(o);
	const char *key;
	char kb[32];
	uint32_t k;

	if (w->m == NULL)
		return 0;
	if ((mod = t2m_manifest_add_module(w->m, path, w->err)) == NULL)
		return -1;
	module_class(o, &b);
	if (b.nomem || t2m_attrs_set(w->m, &mod->attrs, "class", b.p,
	    w->err) < 0) {
		t2m_buf_free(&b);
		return b.nomem ? t2m_fail(w->err, "out of memory") : -1;
	}
	for (k = 0; d && k + 1 < d->u.seq.n; k += 2) {
		if (key_text(d->u.seq.v[k], kb, sizeof kb, &key) < 0 ||
		    key[0] == '_' || strcmp(key, "training") == 0 ||
		    strcmp(key, "class") == 0 || !t2m_utf8_valid(key,
		    strlen(key)))
			continue;
		b.len = 0;
		if (attr_json(&b, d->u.seq.v[k + 1], 0, ATTR_JSON_MAX) < 0)
			continue;
		if (b.nomem || t2m_attrs_set(w->m, &mod->attrs, key, b.p,
		    w->err) < 0) {
			t2m_buf_free(&b);
			return b.nomem ? t2m_fail(w->err, "out of memory") : -1;
		}
	}
	t2m_buf_free(&b);
	return 0;
}

/* One entry of a dict: walk the value under prefix.key (prefix is
 * w->path). */
static int
walk_entry(struct walker *w, struct pk *k, struct pk *v, const char *prefix)
{
	const char *key, *name;
	char kb[32];
	size_t back;
	int rc;

	if (key_text(k, kb, sizeof kb, &key) < 0) {
		warn(w, "skipping an entry of '%s' whose key is %s",
		    prefix, pk_a_type(k));
		return 0;
	}
	if ((name = descend(w, key, &back)) == NULL)
		return -1;
	rc = walk(w, v, name);
	ascend(w, back);
	return rc;
}

/* A pickled nn.Module: parameters, persistent buffers, then children. */
static int
walk_module(struct walker *w, struct pk *o, const char *prefix)
{
	struct pk *d = attr_dict(o), *params, *bufs, *mods, *skip;
	uint32_t k, j;
	char kb[32];
	const char *key;
	int persistent;

	if (add_module(w, o, prefix) < 0)
		return -1;
	params = pk_dict_get(d, "_parameters");
	bufs = pk_dict_get(d, "_buffers");
	mods = pk_dict_get(d, "_modules");
	skip = pk_dict_get(d, "_non_persistent_buffers_set");
	if (params && params->type == PK_DICT)
		for (k = 0; k + 1 < params->u.seq.n; k += 2)
			if (params->u.seq.v[k + 1]->type != PK_NONE &&
			    walk_entry(w, params->u.seq.v[k],
			    params->u.seq.v[k + 1], prefix) < 0)
				return -1;
	if (bufs && bufs->type == PK_DICT)
		for (k = 0; k + 1 < bufs->u.seq.n; k += 2) {
			persistent = 1;
			if (skip && skip->type == PK_SET &&
			    key_text(bufs->u.seq.v[k], kb, sizeof kb, &key) ==
			    0)
				for (j = 0; j < skip->u.seq.n; j++)
					if (skip->u.seq.v[j]->type == PK_STR &&
					    strcmp(skip->u.seq.v[j]->u.str.s,
					    key) == 0)
						persistent = 0;
			if (persistent && bufs->u.seq.v[k + 1]->type !=
			    PK_NONE && walk_entry(w, bufs->u.seq.v[k],
			    bufs->u.seq.v[k + 1], prefix) < 0)
				return -1;
		}
	if (mods && mods->type == PK_DICT)
		for (k = 0; k + 1 < mods->u.seq.n; k += 2)
			if (mods->u.seq.v[k + 1]->type != PK_NONE &&
			    walk_entry(w, mods->u.seq.v[k],
			    mods->u.seq.v[k + 1], prefix) < 0)
				return -1;
	return 0;
}

/* A TorchScript module object: its attributes hold tensors and children. */
static int
walk_script_module(struct walker *w, struct pk *o, const char *prefix)
{
	struct pk *d = attr_dict(o), *v;
	uint32_t k;
	int pass;

	if (add_module(w, o, prefix) < 0)
		return -1;
	/* Tensors first, then submodules, as state_dict() orders them. */
	for (pass = 0; pass < 2; pass++)
		for (k = 0; k + 1 < d->u.seq.n; k += 2) {
			v = d->u.seq.v[k + 1];
			if ((pass == 0) != (v->type == PK_TENSOR))
				continue;
			if (pass == 1 && !(v->type == PK_OBJ &&
			    is_script_module(v)))
				continue;
			if (walk_entry(w, d->u.seq.v[k], v, prefix) < 0)
				return -1;
		}
	return 0;
}

static void
list_leaf(struct walker *w, const char *name, const struct pk *o)
{
	struct t2m_buf *b = w->list;
	char cb[256];
	int d;

	t2m_buf_str(b, *name ? name : "(top)");
	t2m_buf_add(b, "\t", 1);
	switch (o->type) {
	case PK_TENSOR:
		if (o->u.tensor->kind == TK_DENSE && o->u.tensor->dtype) {
			t2m_buf_printf(b, "tensor %s [",
			    t2m_dtype_name(o->u.tensor->dtype));
			for (d = 0; d < o->u.tensor->ndim; d++)
				t2m_buf_printf(b, d ? ", %" PRIu64 : "%" PRIu64,
				    th_size(o->u.tensor)[d]);
			t2m_buf_str(b, "]");
		} else {
			t2m_buf_printf(b, "tensor (%s, not convertible)",
			    *th_what(o->u.tensor) ? th_what(o->u.tensor) :
			    "unsupported");
		}
		break;
	case PK_STR:
		t2m_buf_str(b, "str ");
		if (o->u.str.n <= 80 && t2m_utf8_valid(o->u.str.s, o->u.str.n))
			t2m_buf_json(b, o->u.str.s);
		else
			t2m_buf_printf(b, "(%zu bytes)", o->u.str.n);
		break;
	case PK_BYTES:
		t2m_buf_printf(b, "bytes (%zu)", o->u.str.n);
		break;
	case PK_INT:
		t2m_buf_printf(b, "int %" PRId64, o->u.i);
		break;
	case PK_BIGINT:
		t2m_buf_str(b, "int (big)");
		break;
	case PK_BOOL:
		t2m_buf_str(b, o->u.i ? "bool True" : "bool False");
		break;
	case PK_FLOAT:
		t2m_buf_str(b, "float ");
		float_text(b, o->u.f);
		break;
	case PK_NONE:
		t2m_buf_str(b, "None");
		break;
	case PK_GLOBAL:
		t2m_buf_printf(b, "global %s.%s", o->u.global.module,
		    o->u.global.name);
		break;
	case PK_OBJ:
		t2m_buf_printf(b, "object %s", class_name(o, cb, sizeof cb));
		break;
	case PK_STORAGE:
		t2m_buf_printf(b, "storage %s", o->u.storage->key);
		break;
	default:
		t2m_buf_printf(b, "%s (empty)", pk_type_name(o));
	}
	t2m_buf_add(b, "\n", 1);
}

/*
 * An object of a class t2m cannot name (a custom class, or a call it does
 * not know): its state and arguments are searched, and tensors found
 * there are skipped with a warning - never silently.
 */
static int
probe_object(struct walker *w, struct pk *o, const char *name)
{
	struct pk *parts[2] = { attr_dict(o), o->u.obj.args };
	struct walker probe;
	uint32_t found = 0;
	char cb[256];
	int k, rc = 0;

	for (k = 0; k < 2 && rc == 0; k++) {
		if (parts[k] == NULL)
			continue;
		probe = *w;
		probe.o = NULL;
		probe.sole = 0;
		probe.skipped = NULL;
		probe.items = NULL;
		probe.n = probe.cap = 0;
		probe.m = NULL;
		rc = walk(&probe, parts[k], name);
		found += probe.n;
		th_items_free(w->t, probe.items, probe.n);
		w->visits = probe.visits;
		w->named = probe.named;
		w->repeated = probe.repeated;
	}
	if (rc == 0 && found)
		skip(w, "unknown-class", *name ? name : "(top)",
		    "skipping %u tensor%s inside '%s', %s %s%s", found,
		    found == 1 ? "" : "s", *name ? name : "(top)",
		    o->newobj ? "an object of class" : "the result of",
		    class_name(o, cb, sizeof cb), o->newobj ? "" :
		    "(...)");
	return rc;
}

/* -l: a list or tuple of plain values fits on one line. */
static int
list_plain(struct walker *w, const char *name, const struct pk *o)
{
	struct t2m_buf b = { 0 };
	int ok;

	/* n items take at least 3n bytes: "[", one each, ", " between,
	 * "]"; 100 hold at most 33. */
	ok = o->u.seq.n > 0 && o->u.seq.n <= 33 &&
	    attr_json(&b, o, 0, 100) == 0 && !b.nomem;
	if (ok) {
		t2m_buf_printf(w->list, "%s\t%s %s\n", *name ? name : "(top)",
		    pk_type_name(o), b.p);
	}
	t2m_buf_free(&b);
	return ok;
}

static int
walk(struct walker *w, struct pk *o, const char *name)
{
	char kb[32];
	uint32_t k;
	int rc = 0, sole = w->sole;

	if (++w->visits > MAX_VISITS)
		return t2m_fail(w->err, "'%.60s%s': more than %u objects "
		    "reached (shared references multiply)", name,
		    strlen(name) > 60 ? "..." : "", MAX_VISITS);
	if (o->flags & VISITING)
		return 0;	/* a cycle holds nothing new */
	if (w->list && w->list->len > MAX_LISTING)
		return t2m_fail(w->err, "the listing passes %zu MiB (shared "
		    "references multiply it); stopped", MAX_LISTING >> 20);
	if (w->depth >= MAX_DEPTH)
		return t2m_fail(w->err, "'%.60s%s': nested deeper than %d",
		    name, strlen(name) > 60 ? "..." : "", MAX_DEPTH);
	w->depth++;
	o->flags |= VISITING;
	/* Held by one parent alone, o is reached once. */
	w->sole = sole && o->refs == 1;
	switch (o->type) {
	case PK_TENSOR:
		if (w->list)
			list_leaf(w, name, o);
		else
			rc = emit(w, o, name);
		break;
	case PK_DICT:
		if (o->u.seq.n == 0 && w->list)
			list_leaf(w, name, o);
		for (k = 0; rc == 0 && k + 1 < o->u.seq.n; k += 2) {
			rc = walk_entry(w, o->u.seq.v[k], o->u.seq.v[k + 1],
			    name);
			if (w->sole) {
				/* Walked once and for all: the items hold the
				 * tensors, th_release frees the rest. */
				pk_unref(w->t->vm, o->u.seq.v[k]);
				pk_unref(w->t->vm, o->u.seq.v[k + 1]);
				o->u.seq.v[k] = o->u.seq.v[k + 1] = NULL;
			}
		}
		break;
	case PK_LIST: case PK_TUPLE:
		if (w->list && list_plain(w, name, o))
			break;
		if (o->u.seq.n == 0 && w->list)
			list_leaf(w, name, o);
		for (k = 0; rc == 0 && k < o->u.seq.n; k++) {
			const char *sub;
			size_t back;
			snprintf(kb, sizeof kb, "%u", k);
			if ((sub = descend(w, kb, &back)) == NULL) {
				rc = -1;
				break;
			}
			rc = walk(w, o->u.seq.v[k], sub);
			ascend(w, back);
		}
		break;
	case PK_OBJ:
		if (is_module(o)) {
			rc = walk_module(w, o, name);
		} else if (is_script_module(o)) {
			rc = walk_script_module(w, o, name);
		} else if (o->u.obj.items) {
			rc = walk(w, o->u.obj.items, name);
		} else if (w->list) {
			list_leaf(w, name, o);
			if (attr_dict(o))
				rc = walk(w, attr_dict(o), name);
		} else {
			rc = probe_object(w, o, name);
		}
		break;
	default:
		if (w->list)
			list_leaf(w, name, o);
	}
	o->flags &= (uint8_t)~VISITING;
	w->depth--;
	w->sole = sole;
	return rc;
}

void
th_items_free(struct th_pickle *t, struct th_item *items, uint32_t n)
{
	uint32_t k;

	for (k = 0; k < n; k++) {
		free(items[k].name);
		th_tensor_drop(t, items[k].tensor);
	}
	free(items);
}

/* The entry called key of a dict, list or module, for -k. */
static struct pk *
child(struct pk *o, const char *key)
{
	struct pk *d, *v;
	char kb[32], *end;
	unsigned long idx;
	uint32_t k;

	if (o->type == PK_OBJ && (is_module(o) || is_script_module(o))) {
		d = attr_dict(o);
		if (is_module(o)) {
			static const char *const parts[] = {
				"_modules", "_parameters", "_buffers"
			};
			for (k = 0; k < 3; k++)
				if ((v = pk_dict_get(pk_dict_get(d, parts[k]),
				    key)) != NULL)
					return v;
			return NULL;
		}
		return pk_dict_get(d, key);
	}
	if (o->type == PK_OBJ)
		o = o->u.obj.items ? o->u.obj.items : attr_dict(o);
	if (o == NULL)
		return NULL;
	if (o->type == PK_DICT) {
		for (k = o->u.seq.n; k >= 2; k -= 2) {
			const char *t;
			if (key_text(o->u.seq.v[k - 2], kb, sizeof kb, &t) == 0 &&
			    strcmp(t, key) == 0)
				return o->u.seq.v[k - 1];
		}
		return NULL;
	}
	if (o->type == PK_LIST || o->type == PK_TUPLE) {
		idx = strtoul(key, &end, 10);
		if (*key && *end == '\0' && idx < o->u.seq.n)
			return o->u.seq.v[idx];
	}
	return NULL;
}

/* The keys of o, for the message when -k names something absent. */
static void
keys_of(struct pk *o, struct t2m_buf *b)
{
	char kb[32];
	const char *t;
	uint32_t k, shown = 0;

	if (o->type == PK_OBJ)
		o = o->u.obj.items ? o->u.obj.items : attr_dict(o);
	if (o == NULL || o->type != PK_DICT) {
		t2m_buf_str(b, "it is not a dict");
		return;
	}
	for (k = 0; k + 1 < o->u.seq.n && shown < 12; k += 2)
		if (key_text(o->u.seq.v[k], kb, sizeof kb, &t) == 0)
			t2m_buf_printf(b, "%s%s", shown++ ? ", " : "keys: ", t);
	if (shown == 0)
		t2m_buf_str(b, "no keys");
	else if (o->u.seq.n / 2 > shown)
		t2m_buf_str(b, ", ...");
}

int
th_flatten(struct th_pickle *t, const struct th_opts *o,
    struct t2m_manifest *m, struct th_item **items, uint32_t *nitems,
    t2m_error *err)
{
	struct t2m_buf skipped = { 0 };
	struct walker w = { .t = t, .o = o, .m = m, .skipped = &skipped,
	    .err = err };
	struct pk *at = t->root, *next;
	struct th_item *shrunk;
	char *path = NULL, *part, *save;
	int rc;

	w.sole = t->consume;
	*items = NULL;
	*nitems = 0;
	if (o && o->select && *o->select) {
		if ((path = strdup(o->select)) == NULL)
			return t2m_fail(err, "out of memory");
		for (part = strtok_r(path, ".", &save); part;
		    part = strtok_r(NULL, ".", &save)) {
			if ((next = child(at, part)) == NULL) {
				struct t2m_buf b = { 0 };
				keys_of(at, &b);
				t2m_fail(err, "-k %s: no entry '%s' (%s)",
				    o->select, part, b.p ? b.p : "");
				t2m_buf_free(&b);
				free(path);
				return -1;
			}
			at = next;
		}
		free(path);
	} else if ((next = child(at, "state_dict")) != NULL &&
	    !is_module(at) && !is_script_module(at) &&
	    (next->type == PK_DICT || next->type == PK_OBJ)) {
		/* Lightning and most training scripts: the weights live
		 * under "state_dict". */
		at = next;
	}
	/* A tensor on its own is named by -k's path, or "tensor". */
	rc = path_start(&w, at->type != PK_TENSOR ? "" : o && o->select &&
	    *o->select ? o->select : "tensor");
	if (rc == 0)
		rc = walk(&w, at, w.path);
	free(w.path);
	if (rc == 0 && w.nskipped) {
		t2m_buf_add(&skipped, "]", 1);
		if (skipped.nomem)
			rc = t2m_fail(err, "out of memory");
		else
			rc = t2m_attrs_set(m, &m->info, "skipped", skipped.p,
			    err);
	}
	t2m_buf_free(&skipped);
	if (rc < 0) {
		th_items_free(t, w.items, w.n);
		return -1;
	}
	/* They last while the storages are written: no room to spare. */
	if (w.n > 0 && w.n < w.cap &&
	    (shrunk = realloc(w.items, w.n * sizeof *shrunk)) != NULL)
		w.items = shrunk;
	*items = w.items;
	*nitems = w.n;
	return 0;
}

int
th_list(struct th_pickle *t, struct t2m_buf *out, t2m_error *err)
{
	struct walker w = { .t = t, .list = out, .err = err };
	int rc;

	if ((rc = path_start(&w, "")) == 0)
		rc = walk(&w, t->root, w.path);
	free(w.path);
	return rc;
}
