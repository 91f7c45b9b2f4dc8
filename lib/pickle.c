/*
 * pickle.c - the pickle virtual machine of pickle.h: every opcode of
 * protocols 0-5, nothing executed.  See pickle.h for the memory model.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pickle.h"

enum {
	MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2',
	FLOAT = 'F', INT = 'I', BININT = 'J', BININT1 = 'K', LONG = 'L',
	BININT2 = 'M', NONE = 'N', PERSID = 'P', BINPERSID = 'Q',
	REDUCE = 'R', STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U',
	UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b',
	GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', GET = 'g',
	BINGET = 'h', INST = 'i', LONG_BINGET = 'j', LIST = 'l',
	EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q',
	LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')',
	SETITEMS = 'u', BINFLOAT = 'G',
	PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84,
	TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88,
	NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
	BINBYTES = 'B', SHORT_BINBYTES = 'C',
	SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e,
	EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92,
	STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
	BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98
};

#define IMMORTAL 0x80		/* flags bit of the static nodes */
#define PK_FREE 0xff		/* type of a node on the free list */
#define BLOCK_BYTES ((size_t)256 << 10)	/* nodes allocated at a time */
#define RELEASE_STEP ((size_t)1 << 20)	/* bytes between consumed hooks */

/*
 * Under AddressSanitizer a dead node's contents are poisoned, so a use
 * after free is still caught although the memory stays in the block.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(PK_ASAN)
#define PK_ASAN 1
#endif
#ifdef PK_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* One decoded opcode and its argument. */
struct op {
	int code;
	size_t at;		/* offset of the opcode byte */
	uint64_t u;		/* unsigned argument (ids, lengths) */
	int64_t i;		/* integer argument */
	double f;
	const unsigned char *data;	/* string/bytes/line argument */
	size_t len;
	const unsigned char *data2;	/* second line (GLOBAL, INST) */
	size_t len2;
};

/* A set or map keyed by memo id (< 2^63), open addressing. */
struct idmap {
	uint64_t *keys;		/* id + 1; 0 = empty */
	struct pk **vals;	/* NULL for a set */
	size_t mask, n;
};

/* Nodes are carved from blocks; a dead one goes on the free list,
 * linked through its state, with type PK_FREE. */
struct pk_block {
	struct pk_block *next;
	struct pk nodes[];
};

#define BLOCK_NODES ((BLOCK_BYTES - sizeof(struct pk_block)) / \
	sizeof(struct pk))

struct pk_vm {
	struct pk_hooks hooks;
	struct pk_limits lim;
	struct pk_block *blocks;	/* newest first */
	uint32_t carved;	/* nodes used of the newest block */
	struct pk *free;	/* dead nodes to reuse */
	uint64_t nodes;		/* live ones */
	struct pk none, yes, no, mark;
	struct pk **stack;
	uint32_t sp, cap;
	uint32_t *marks;
	uint32_t nmarks, capmarks;
	struct idmap memo;
	struct idmap used;	/* ids some GET reads; NULL keys = keep all */
	int use_filter;
	struct idmap defined;	/* ids defined, when MEMOIZE needs len(memo) */
	int need_defined;
	uint64_t memo_len;
	struct pk **work;	/* pending frees */
	size_t nwork, capwork;
	int draining, tearing;
	const char *name;
	size_t at;		/* current opcode */
	char where[128];
};

/* ---- errors ---- */

const char *
pk_where(struct pk_vm *vm)
{
	snprintf(vm->where, sizeof vm->where, "%s offset %zu",
	    vm->name ? vm->name : "pickle", vm->at);
	return vm->where;
}

void
pk_at(struct pk_vm *vm, const char *name, size_t at)
{
	vm->name = name;
	vm->at = at;
}

static int
vfail(struct pk_vm *vm, t2m_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
vfail(struct pk_vm *vm, t2m_error *err, const char *fmt, ...)
{
	char msg[T2M_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return t2m_fail(err, "%s: %s", pk_where(vm), msg);
}

/* ---- id maps ---- */

static size_t
idmap_slot(const struct idmap *m, uint64_t id)
{
	size_t j = t2m_hash_mix(id) & m->mask;

	while (m->keys[j] && m->keys[j] != id + 1)
		j = (j + 1) & m->mask;
	return j;
}

static int
idmap_grow(struct idmap *m, int with_vals)
{
	struct idmap nm;
	size_t size = m->keys ? (m->mask + 1) * 2 : 64, i, j;

	nm.keys = calloc(size, sizeof *nm.keys);
	nm.vals = with_vals ? calloc(size, sizeof *nm.vals) : NULL;
	if (nm.keys == NULL || (with_vals && nm.vals == NULL)) {
		free(nm.keys);
		free(nm.vals);
		return -1;
	}
	nm.mask = size - 1;
	nm.n = m->n;
	if (m->keys)
		for (i = 0; i <= m->mask; i++) {
			if (!m->keys[i])
				continue;
			j = idmap_slot(&nm, m->keys[i] - 1);
			nm.keys[j] = m->keys[i];
			if (with_vals)
				nm.vals[j] = m->vals[i];
		}
	free(m->keys);
	free(m->vals);
	*m = nm;
	return 0;
}

/* Insert id; returns the slot, or -1 when out of memory. */
static long
idmap_put(struct idmap *m, uint64_t id, int with_vals)
{
	size_t j;

	if ((m->keys == NULL || (m->n + 1) * 2 > m->mask + 1) &&
	    idmap_grow(m, with_vals) < 0)
		return -1;
	j = idmap_slot(m, id);
	if (!m->keys[j]) {
		m->keys[j] = id + 1;
		m->n++;
	}
	return (long)j;
}

static int
idmap_has(const struct idmap *m, uint64_t id)
{
	return m->keys && m->keys[idmap_slot(m, id)] != 0;
}

static void
idmap_free(struct idmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

/* ---- decoding ---- */

static uint64_t
le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

static int
line(const unsigned char *p, size_t n, size_t *pos, const unsigned char **s,
    size_t *len)
{
	const unsigned char *nl = memchr(p + *pos, '\n', n - *pos);

	if (nl == NULL)
		return -1;
	*s = p + *pos;
	*len = (size_t)(nl - (p + *pos));
	*pos = (size_t)(nl - p) + 1;
	return 0;
}

/*
 * Decode the opcode at *pos.  Lengths are checked against the buffer
 * here, once, for both passes.  Returns 0; -2 when the buffer ends
 * inside the opcode (more bytes may complete it); -1 when it is invalid.
 * Both failures leave a message.
 */
static int
decode(const unsigned char *p, size_t n, size_t *pos, struct op *op,
    const char *name, t2m_error *err)
{
	size_t at = *pos, k, left;
	int width = 0;

	memset(op, 0, sizeof *op);
	op->at = at;
	if (at >= n) {
		t2m_fail(err, "%s offset %zu: pickle ends without STOP", name,
		    at);
		return -2;
	}
	op->code = p[at];
	k = at + 1;
	left = n - k;
	switch (op->code) {
	case MARK: case STOP: case POP: case POP_MARK: case DUP: case NONE:
	case BINPERSID: case REDUCE: case APPEND: case BUILD: case DICT:
	case EMPTY_DICT: case APPENDS: case LIST: case EMPTY_LIST: case OBJ:
	case SETITEM: case TUPLE: case EMPTY_TUPLE: case SETITEMS:
	case NEWOBJ: case TUPLE1: case TUPLE2: case TUPLE3: case NEWTRUE:
	case NEWFALSE: case EMPTY_SET: case ADDITEMS: case FROZENSET:
	case NEWOBJ_EX: case STACK_GLOBAL: case MEMOIZE: case NEXT_BUFFER:
	case READONLY_BUFFER:
		break;
	case BININT1: case BINGET: case BINPUT: case PROTO: case EXT1:
		width = 1;
		break;
	case BININT2: case EXT2:
		width = 2;
		break;
	case BININT: case LONG_BINGET: case LONG_BINPUT: case EXT4:
		width = 4;
		break;
	case BINFLOAT: case FRAME:
		width = 8;
		break;
	case SHORT_BINSTRING: case SHORT_BINBYTES: case SHORT_BINUNICODE:
	case LONG1:
		if (left < 1)
			goto short_arg;
		op->u = p[k++];
		goto data;
	case BINSTRING: case BINUNICODE: case BINBYTES: case LONG4:
		if (left < 4)
			goto short_arg;
		op->u = le(p + k, 4);
		if ((op->code == BINSTRING || op->code == LONG4) &&
		    op->u >= 0x80000000u)
			return t2m_fail(err, "%s offset %zu: negative length",
			    name, at);
		k += 4;
		goto data;
	case BINUNICODE8: case BINBYTES8: case BYTEARRAY8:
		if (left < 8)
			goto short_arg;
		op->u = le(p + k, 8);
		k += 8;
		goto data;
	case INT: case LONG: case FLOAT: case STRING: case UNICODE:
	case GET: case PUT: case PERSID:
		if (line(p, n, &k, &op->data, &op->len) < 0)
			goto short_arg;
		*pos = k;
		return 0;
	case GLOBAL: case INST:
		if (line(p, n, &k, &op->data, &op->len) < 0 ||
		    line(p, n, &k, &op->data2, &op->len2) < 0)
			goto short_arg;
		*pos = k;
		return 0;
	default:
		return t2m_fail(err, "%s offset %zu: unknown pickle opcode "
		    "0x%02x", name, at, op->code);
	}
	if (width) {
		if (left < (size_t)width)
			goto short_arg;
		op->u = le(p + k, width);
		if (op->code == BINFLOAT) {
			uint64_t bits = 0;
			int b;
			/* BINFLOAT is big-endian. */
			for (b = 0; b < 8; b++)
				bits = bits << 8 | p[k + b];
			memcpy(&op->f, &bits, sizeof op->f);
		}
		if (op->code == BININT)
			op->i = (int64_t)(int32_t)(uint32_t)op->u;
		else
			op->i = (int64_t)op->u;
		if (op->code == EXT4 && op->i < 0)
			return t2m_fail(err, "%s offset %zu: negative "
			    "extension code", name, at);
		*pos = k + (size_t)width;
		return 0;
	}
	*pos = k;
	return 0;
data:
	if (op->u > n - k) {
		t2m_fail(err, "%s offset %zu: length %llu runs past the end of "
		    "the pickle (%zu bytes left)", name, at,
		    (unsigned long long)op->u, n - k);
		return -2;
	}
	op->data = p + k;
	op->len = (size_t)op->u;
	*pos = k + op->len;
	return 0;
short_arg:
	t2m_fail(err, "%s offset %zu: pickle ends inside the argument of "
	    "opcode 0x%02x", name, at, op->code);
	return -2;
}

/* Parse a decimal memo id from a text line. */
static int
text_id(const struct op *op, uint64_t *id)
{
	uint64_t v = 0;
	size_t k;

	if (op->len == 0 || op->len > 19)
		return -1;
	for (k = 0; k < op->len; k++) {
		if (op->data[k] < '0' || op->data[k] > '9')
			return -1;
		v = v * 10 + (uint64_t)(op->data[k] - '0');
	}
	*id = v;
	return 0;
}

/*
 * Pass one: from *pos, find STOP and note which memo ids are read back.
 * Returns 1 with *pos just after STOP, 0 when the buffer ends first
 * (*pos at the incomplete opcode, so a caller can add bytes and go on),
 * -1 on an invalid opcode.
 */
static int
scan(const unsigned char *p, size_t n, size_t *pos, struct idmap *used,
    int *memoize, int *put, const char *name, t2m_error *err)
{
	size_t at;
	struct op op;
	uint64_t id;
	int rc;

	for (;;) {
		at = *pos;
		if ((rc = decode(p, n, pos, &op, name, err)) < 0) {
			*pos = at;
			return rc == -2 ? 0 : -1;
		}
		switch (op.code) {
		case STOP:
			return 1;
		case GET:
			if (text_id(&op, &id) < 0)
				return t2m_fail(err, "%s offset %zu: bad memo "
				    "id", name, op.at);
			goto get;
		case BINGET: case LONG_BINGET:
			id = op.u;
get:
			if (used && idmap_put(used, id, 0) < 0)
				return t2m_fail(err, "out of memory");
			break;
		case PUT: case BINPUT: case LONG_BINPUT:
			*put = 1;
			break;
		case MEMOIZE:
			*memoize = 1;
			break;
		}
	}
}

int
pk_scan(const unsigned char *p, size_t n, size_t *pos, const char *name,
    t2m_error *err)
{
	int memoize = 0, put = 0;

	return scan(p, n, pos, NULL, &memoize, &put, name, err);
}

/* ---- nodes ---- */

void *
pk_pages(size_t n)
{
	void *p;

	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1,
	    0);
	return p == MAP_FAILED ? NULL : p;
}

void
pk_pages_free(void *p, size_t n)
{
	if (p != NULL)
		munmap(p, n);
}

struct pk *
pk_ref(struct pk *o)
{
	if (o && !(o->flags & IMMORTAL))
		o->refs++;
	return o;
}

struct pk *
pk_alloc(struct pk_vm *vm, int type, t2m_error *err)
{
	struct pk_block *b;
	struct pk *o;

	if (vm->nodes >= vm->lim.max_nodes) {
		vfail(vm, err, "more than %llu live objects",
		    (unsigned long long)vm->lim.max_nodes);
		return NULL;
	}
	if ((o = vm->free) != NULL) {
		UNPOISON(&o->u, sizeof o->u);
		vm->free = o->state;
	} else {
		if (vm->blocks == NULL || vm->carved == BLOCK_NODES) {
			if ((b = pk_pages(BLOCK_BYTES)) == NULL) {
				vfail(vm, err, "out of memory");
				return NULL;
			}
			b->next = vm->blocks;
			vm->blocks = b;
			vm->carved = 0;
		}
		o = &vm->blocks->nodes[vm->carved++];
	}
	memset(o, 0, sizeof *o);
	o->type = (uint8_t)type;
	o->refs = 1;
	vm->nodes++;
	return o;
}

static void
drop_child(struct pk_vm *vm, struct pk *c)
{
	struct pk **nw;
	size_t cap;

	if (c == NULL || (c->flags & IMMORTAL) || --c->refs > 0)
		return;
	if (vm->nwork == vm->capwork) {
		cap = vm->capwork ? vm->capwork * 2 : 256;
		if ((nw = realloc(vm->work, cap * sizeof *nw)) == NULL)
			return;	/* left on the list; pk_free frees it */
		vm->work = nw;
		vm->capwork = cap;
	}
	vm->work[vm->nwork++] = c;
}

static void
destroy(struct pk_vm *vm, struct pk *o)
{
	uint32_t k;

	if (!vm->tearing) {
		drop_child(vm, o->state);
		switch (o->type) {
		case PK_TUPLE: case PK_LIST: case PK_SET: case PK_DICT:
			for (k = 0; k < o->u.seq.n; k++)
				drop_child(vm, o->u.seq.v[k]);
			break;
		case PK_OBJ:
			drop_child(vm, o->u.obj.callable);
			drop_child(vm, o->u.obj.args);
			drop_child(vm, o->u.obj.items);
			break;
		}
	}
	switch (o->type) {
	case PK_STR: case PK_BYTES: case PK_BIGINT:
		free(o->u.str.s);
		break;
	case PK_TUPLE: case PK_LIST: case PK_SET: case PK_DICT:
		free(o->u.seq.v);
		break;
	case PK_GLOBAL:
		free(o->u.global.module);
		free(o->u.global.name);
		break;
	case PK_STORAGE: case PK_TENSOR:
		if (vm->hooks.free_payload)
			vm->hooks.free_payload(vm->hooks.ctx, vm, o);
		break;
	}
	o->type = PK_FREE;
	o->state = vm->free;
	vm->free = o;
	POISON(&o->u, sizeof o->u);
	vm->nodes--;
}

void
pk_unref(struct pk_vm *vm, struct pk *o)
{
	if (vm->tearing)
		return;
	drop_child(vm, o);
	if (vm->draining)
		return;
	vm->draining = 1;
	while (vm->nwork > 0)
		destroy(vm, vm->work[--vm->nwork]);
	vm->draining = 0;
}

struct pk *
pk_str(struct pk_vm *vm, const char *s, size_t n, t2m_error *err)
{
	struct pk *o;

	if ((o = pk_alloc(vm, PK_STR, err)) == NULL)
		return NULL;
	if ((o->u.str.s = malloc(n + 1)) == NULL) {
		pk_unref(vm, o);
		vfail(vm, err, "out of memory");
		return NULL;
	}
	memcpy(o->u.str.s, s, n);
	o->u.str.s[n] = '\0';
	o->u.str.n = n;
	return o;
}

static struct pk *
new_bytes(struct pk_vm *vm, int type, const unsigned char *s, size_t n,
    t2m_error *err)
{
	struct pk *o = pk_str(vm, (const char *)s, n, err);

	if (o)
		o->type = (uint8_t)type;
	return o;
}

static struct pk *
new_int(struct pk_vm *vm, int64_t v, t2m_error *err)
{
	struct pk *o = pk_alloc(vm, PK_INT, err);

	if (o)
		o->u.i = v;
	return o;
}

/* A container holding items[0..n), taking over their references. */
static struct pk *
new_seq(struct pk_vm *vm, int type, struct pk **items, uint32_t n,
    t2m_error *err)
{
	struct pk *o;
	uint32_t k;

	if ((o = pk_alloc(vm, type, err)) == NULL)
		goto fail;
	if (n > 0) {
		if ((o->u.seq.v = malloc(n * sizeof *o->u.seq.v)) == NULL) {
			pk_unref(vm, o);
			vfail(vm, err, "out of memory");
			goto fail;
		}
		memcpy(o->u.seq.v, items, n * sizeof *items);
		o->u.seq.n = o->u.seq.cap = n;
	}
	return o;
fail:
	for (k = 0; k < n; k++)
		pk_unref(vm, items[k]);
	return NULL;
}

/* Append items (taking their references) to a container. */
static int
seq_add(struct pk_vm *vm, struct pk *o, struct pk **items, uint32_t n,
    t2m_error *err)
{
	struct pk **nv;
	uint32_t cap, k;

	if (n == 0)
		return 0;
	if (n > UINT32_MAX - o->u.seq.n - 1)
		goto fail;
	if (o->u.seq.n + n > o->u.seq.cap) {
		cap = o->u.seq.cap ? o->u.seq.cap : 4;
		while (cap < o->u.seq.n + n)
			cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
		if ((nv = realloc(o->u.seq.v, cap * sizeof *nv)) == NULL)
			goto fail;
		o->u.seq.v = nv;
		o->u.seq.cap = cap;
	}
	memcpy(o->u.seq.v + o->u.seq.n, items, n * sizeof *items);
	o->u.seq.n += n;
	return 0;
fail:
	for (k = 0; k < n; k++)
		pk_unref(vm, items[k]);
	return vfail(vm, err, "out of memory");
}

const char *
pk_a_type(const struct pk *o)
{
	static const char *const names[] = {
		"None", "a bool", "an int", "an int", "a float", "a str",
		"a bytes", "a tuple", "a list", "a set", "a dict", "a global",
		"an object", "a storage", "a tensor", "a mark"
	};

	return o->type < sizeof names / sizeof names[0] ? names[o->type] :
	    "something unknown";
}

const char *
pk_type_name(const struct pk *o)
{
	static const char *const names[] = {
		"None", "bool", "int", "int", "float", "str", "bytes",
		"tuple", "list", "set", "dict", "global", "object",
		"storage", "tensor", "mark"
	};

	return o->type < sizeof names / sizeof names[0] ? names[o->type] :
	    "?";
}

/* Python 2 module names, as pickle's NAME_MAPPING applies them. */
static const char *
py3_module(const char *m)
{
	if (strcmp(m, "__builtin__") == 0)
		return "builtins";
	if (strcmp(m, "copy_reg") == 0)
		return "copyreg";
	return m;
}

int
pk_is_global(const struct pk *o, const char *module, const char *name)
{
	return o && o->type == PK_GLOBAL &&
	    strcmp(o->u.global.name, name) == 0 &&
	    strcmp(o->u.global.module, module) == 0;
}

struct pk *
pk_dict_get(const struct pk *d, const char *key)
{
	uint32_t k;

	if (d && d->type == PK_OBJ)
		d = d->u.obj.items;
	if (d == NULL || d->type != PK_DICT)
		return NULL;
	/* The last binding wins, as it would in Python. */
	for (k = d->u.seq.n; k >= 2; k -= 2) {
		const struct pk *kk = d->u.seq.v[k - 2];
		if (kk->type == PK_STR && strcmp(kk->u.str.s, key) == 0)
			return d->u.seq.v[k - 1];
	}
	return NULL;
}

/* ---- the machine ---- */

struct pk_vm *
pk_new(const struct pk_hooks *hooks, const struct pk_limits *limits)
{
	static const struct pk_limits defaults = PK_DEFAULT_LIMITS;
	struct pk_vm *vm;

	if ((vm = calloc(1, sizeof *vm)) == NULL)
		return NULL;
	if (hooks)
		vm->hooks = *hooks;
	vm->lim = limits ? *limits : defaults;
	vm->none.type = PK_NONE;
	vm->yes.type = vm->no.type = PK_BOOL;
	vm->yes.u.i = 1;
	vm->mark.type = PK_MARK;
	vm->none.flags = vm->yes.flags = vm->no.flags = vm->mark.flags =
	    IMMORTAL;
	return vm;
}

void
pk_free(struct pk_vm *vm)
{
	struct pk_block *b;
	uint32_t k, n;
	size_t j;

	if (vm == NULL)
		return;
	/* Drop references in order first so hooks see live nodes. */
	while (vm->sp > 0)
		pk_unref(vm, vm->stack[--vm->sp]);
	if (vm->memo.keys)
		for (j = 0; j <= vm->memo.mask; j++)
			if (vm->memo.keys[j])
				pk_unref(vm, vm->memo.vals[j]);
	/* Whatever is left is held by cycles. */
	vm->tearing = 1;
	for (b = vm->blocks, n = vm->carved; b; b = b->next, n = BLOCK_NODES)
		for (k = 0; k < n; k++)
			if (b->nodes[k].type != PK_FREE)
				destroy(vm, &b->nodes[k]);
	while ((b = vm->blocks) != NULL) {
		vm->blocks = b->next;
		UNPOISON(b, BLOCK_BYTES);
		pk_pages_free(b, BLOCK_BYTES);
	}
	free(vm->stack);
	free(vm->marks);
	free(vm->work);
	idmap_free(&vm->memo);
	idmap_free(&vm->used);
	idmap_free(&vm->defined);
	free(vm);
}

static int
push(struct pk_vm *vm, struct pk *o, t2m_error *err)
{
	struct pk **ns;
	uint32_t cap;

	if (o == NULL)
		return -1;
	if (vm->sp == vm->cap) {
		if (vm->cap >= vm->lim.max_stack) {
			pk_unref(vm, o);
			return vfail(vm, err, "stack deeper than %u",
			    vm->lim.max_stack);
		}
		cap = vm->cap ? vm->cap * 2 : 64;
		if (cap > vm->lim.max_stack)
			cap = vm->lim.max_stack;
		if ((ns = realloc(vm->stack, cap * sizeof *ns)) == NULL) {
			pk_unref(vm, o);
			return vfail(vm, err, "out of memory");
		}
		vm->stack = ns;
		vm->cap = cap;
	}
	vm->stack[vm->sp++] = o;
	return 0;
}

/* Bottom of the current frame: nothing below the last MARK may be popped. */
static uint32_t
floor_of(const struct pk_vm *vm)
{
	return vm->nmarks ? vm->marks[vm->nmarks - 1] : 0;
}

static struct pk *
pop(struct pk_vm *vm, t2m_error *err)
{
	if (vm->sp <= floor_of(vm)) {
		vfail(vm, err, "stack underflow");
		return NULL;
	}
	return vm->stack[--vm->sp];
}

static struct pk *
top(struct pk_vm *vm, t2m_error *err)
{
	if (vm->sp <= floor_of(vm)) {
		vfail(vm, err, "stack underflow");
		return NULL;
	}
	return vm->stack[vm->sp - 1];
}

/* Pop back to the last MARK; the items stay in place until consumed. */
static int
pop_mark(struct pk_vm *vm, struct pk ***items, uint32_t *n, t2m_error *err)
{
	uint32_t m;

	if (vm->nmarks == 0)
		return vfail(vm, err, "no MARK to pop to");
	m = vm->marks[--vm->nmarks];
	*items = vm->stack ? vm->stack + m : NULL;	/* nothing pushed yet */
	*n = vm->sp - m;
	vm->sp = m;
	return 0;
}

static void
drop_items(struct pk_vm *vm, struct pk **items, uint32_t n)
{
	uint32_t k;

	for (k = 0; k < n; k++)
		pk_unref(vm, items[k]);
}

/* REDUCE, NEWOBJ, INST, OBJ: ask the hook, else make an inert object. */
static struct pk *
call(struct pk_vm *vm, struct pk *callable, struct pk *args, int newobj,
    t2m_error *err)
{
	struct pk *o;
	int handled = 0;

	if (vm->hooks.call) {
		o = vm->hooks.call(vm->hooks.ctx, vm, callable, args, newobj,
		    &handled, err);
		if (handled) {
			pk_unref(vm, callable);
			pk_unref(vm, args);
			return o;
		}
	}
	if ((o = pk_alloc(vm, PK_OBJ, err)) == NULL) {
		pk_unref(vm, callable);
		pk_unref(vm, args);
		return NULL;
	}
	o->u.obj.callable = callable;
	o->u.obj.args = args;
	o->newobj = (uint8_t)newobj;
	return o;
}

static struct pk *
make_global(struct pk_vm *vm, const unsigned char *mod, size_t mlen,
    const unsigned char *name, size_t nlen, t2m_error *err)
{
	const char *m3;
	struct pk *o;

	if (!t2m_utf8_valid((const char *)mod, mlen) ||
	    !t2m_utf8_valid((const char *)name, nlen)) {
		vfail(vm, err, "global name is not valid UTF-8");
		return NULL;
	}
	if ((o = pk_alloc(vm, PK_GLOBAL, err)) == NULL)
		return NULL;
	o->u.global.module = strndup((const char *)mod, mlen);
	o->u.global.name = strndup((const char *)name, nlen);
	if (o->u.global.module == NULL || o->u.global.name == NULL) {
		pk_unref(vm, o);
		vfail(vm, err, "out of memory");
		return NULL;
	}
	m3 = py3_module(o->u.global.module);
	if (m3 != o->u.global.module) {
		char *c = strdup(m3);
		if (c == NULL) {
			pk_unref(vm, o);
			vfail(vm, err, "out of memory");
			return NULL;
		}
		free(o->u.global.module);
		o->u.global.module = c;
	}
	return o;
}

static int
build(struct pk_vm *vm, struct pk *target, struct pk *state, t2m_error *err)
{
	switch (target->type) {
	case PK_DICT: case PK_OBJ: case PK_TENSOR: case PK_LIST: case PK_SET:
	case PK_STORAGE:
		if (target->flags & IMMORTAL)
			break;
		if (state == target->state) {
			/* Its __dict__ updated with itself: nothing new. */
			pk_unref(vm, state);
			return 0;
		}
		if (target->state && target->state->type == PK_DICT &&
		    state->type == PK_DICT) {
			/* A second BUILD adds to the first, like __dict__. */
			uint32_t k;
			for (k = 0; k < state->u.seq.n; k++)
				pk_ref(state->u.seq.v[k]);
			if (seq_add(vm, target->state, state->u.seq.v,
			    state->u.seq.n, err) < 0) {
				pk_unref(vm, state);
				return -1;
			}
			pk_unref(vm, state);
			return 0;
		}
		pk_unref(vm, target->state);
		target->state = state;
		return 0;
	}
	pk_unref(vm, state);
	return vfail(vm, err, "BUILD on %s", pk_a_type(target));
}

/* SETITEM(S) and APPEND(S) onto the container at the top of the stack. */
static int
add_items(struct pk_vm *vm, struct pk *target, struct pk **items,
    uint32_t n, int dict, t2m_error *err)
{
	struct pk *c = target;

	if (dict && n % 2 != 0) {
		drop_items(vm, items, n);
		return vfail(vm, err, "SETITEMS with an odd number of items");
	}
	if (target->type == PK_OBJ) {
		/* A dict or list subclass built by REDUCE or NEWOBJ. */
		if (target->u.obj.items == NULL &&
		    (target->u.obj.items = pk_alloc(vm, dict ? PK_DICT :
		    PK_LIST, err)) == NULL) {
			drop_items(vm, items, n);
			return -1;
		}
		c = target->u.obj.items;
	}
	if (c->type != (dict ? PK_DICT : PK_LIST)) {
		drop_items(vm, items, n);
		return vfail(vm, err, "%s on %s", dict ? "SETITEM" :
		    "APPEND", pk_a_type(target));
	}
	return seq_add(vm, c, items, n, err);
}

static int
memo_put(struct pk_vm *vm, uint64_t id, t2m_error *err)
{
	struct pk *o;
	long j;

	if ((o = top(vm, err)) == NULL)
		return vfail(vm, err, "PUT with an empty stack");
	if (o->type == PK_MARK)
		return vfail(vm, err, "PUT of a MARK");
	if (id >= (uint64_t)1 << 62)
		return vfail(vm, err, "memo id %llu is too large",
		    (unsigned long long)id);
	if (vm->need_defined) {
		if (!idmap_has(&vm->defined, id))
			vm->memo_len++;
		if (idmap_put(&vm->defined, id, 0) < 0)
			return vfail(vm, err, "out of memory");
	} else {
		vm->memo_len++;
	}
	if (vm->use_filter && !idmap_has(&vm->used, id))
		return 0;	/* never read back: do not keep it alive */
	if (vm->memo.n >= vm->lim.max_memo)
		return vfail(vm, err, "more than %llu memo entries",
		    (unsigned long long)vm->lim.max_memo);
	if ((j = idmap_put(&vm->memo, id, 1)) < 0)
		return vfail(vm, err, "out of memory");
	pk_unref(vm, vm->memo.vals[j]);
	vm->memo.vals[j] = pk_ref(o);
	return 0;
}

/* Decode LONG1/LONG4 little-endian two's complement. */
static struct pk *
long_bytes(struct pk_vm *vm, const unsigned char *b, size_t n, t2m_error *err)
{
	size_t k;
	int neg;

	if (n == 0)
		return new_int(vm, 0, err);
	neg = (b[n - 1] & 0x80) != 0;
	if (n <= 8) {
		uint64_t v = le(b, (int)n);
		if (neg && n < 8)
			v |= ~(uint64_t)0 << (8 * n);
		return new_int(vm, (int64_t)v, err);
	}
	/* Longer encodings may still hold an int64. */
	for (k = 8; k < n; k++)
		if (b[k] != (neg ? 0xff : 0x00))
			break;
	if (k == n && ((b[7] & 0x80) != 0) == neg)
		return new_int(vm, (int64_t)le(b, 8), err);
	return new_bytes(vm, PK_BIGINT, b, n, err);
}

/* INT and LONG text: decimal, optional sign, LONG's trailing L. */
static struct pk *
text_int(struct pk_vm *vm, const struct op *op, t2m_error *err)
{
	const unsigned char *s = op->data;
	size_t n = op->len, k = 0;
	uint64_t v = 0, lim;
	int neg = 0;

	if (op->code == INT && n == 2 && s[0] == '0' && (s[1] == '0' ||
	    s[1] == '1'))
		return s[1] == '1' ? &vm->yes : &vm->no;
	if (op->code == LONG && n > 0 && s[n - 1] == 'L')
		n--;
	if (k < n && (s[k] == '-' || s[k] == '+'))
		neg = s[k++] == '-';
	if (k == n) {
		vfail(vm, err, "bad integer text");
		return NULL;
	}
	lim = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
	for (; k < n; k++) {
		if (s[k] < '0' || s[k] > '9') {
			vfail(vm, err, "bad integer text");
			return NULL;
		}
		if (v > (lim - (uint64_t)(s[k] - '0')) / 10) {
			/* Too big for int64: keep the text as a big int. */
			return new_bytes(vm, PK_BIGINT, op->data, op->len,
			    err);
		}
		v = v * 10 + (uint64_t)(s[k] - '0');
	}
	return new_int(vm, neg ? (int64_t)(0 - v) : (int64_t)v, err);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
put_utf8(struct t2m_buf *b, uint32_t cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		t2m_buf_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		t2m_buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		t2m_buf_add(b, u, 3);
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		t2m_buf_add(b, u, 4);
	}
}

/* STRING: a Python 2 repr, quoted, with backslash escapes. */
static struct pk *
text_string(struct pk_vm *vm, const struct op *op, t2m_error *err)
{
	const unsigned char *s = op->data;
	struct t2m_buf b = { 0 };
	size_t n = op->len, k;
	struct pk *o;
	int c, h, l;

	if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0]) {
		vfail(vm, err, "STRING argument is not quoted");
		return NULL;
	}
	for (k = 1; k < n - 1; k++) {
		c = s[k];
		if (c != '\\') {
			t2m_buf_add(&b, &s[k], 1);
			continue;
		}
		if (++k >= n - 1)
			goto bad;
		switch (c = s[k]) {
		case 'n': c = '\n'; break;
		case 't': c = '\t'; break;
		case 'r': c = '\r'; break;
		case 'a': c = '\a'; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'v': c = '\v'; break;
		case '\\': case '\'': case '"': break;
		case 'x':
			if (k + 2 >= n - 1 || (h = hexval(s[k + 1])) < 0 ||
			    (l = hexval(s[k + 2])) < 0)
				goto bad;
			c = h << 4 | l;
			k += 2;
			break;
		default:
			if (c >= '0' && c <= '7') {
				int v = c - '0', d;
				for (d = 0; d < 2 && k + 1 < n - 1 &&
				    s[k + 1] >= '0' && s[k + 1] <= '7'; d++)
					v = v * 8 + (s[++k] - '0');
				c = v & 0xff;
			} else {
				/* Unknown escapes stay as written. */
				t2m_buf_add(&b, "\\", 1);
			}
		}
		{
			unsigned char ch = (unsigned char)c;
			t2m_buf_add(&b, &ch, 1);
		}
	}
	if (b.nomem) {
		t2m_buf_free(&b);
		vfail(vm, err, "out of memory");
		return NULL;
	}
	o = pk_str(vm, b.p ? b.p : "", b.len, err);
	t2m_buf_free(&b);
	return o;
bad:
	t2m_buf_free(&b);
	vfail(vm, err, "bad escape in STRING");
	return NULL;
}

/* UNICODE: raw-unicode-escape; bytes are Latin-1 but \uXXXX, \UXXXXXXXX. */
static struct pk *
text_unicode(struct pk_vm *vm, const struct op *op, t2m_error *err)
{
	const unsigned char *s = op->data;
	struct t2m_buf b = { 0 };
	size_t n = op->len, k;
	uint32_t cp;
	struct pk *o;
	int d, w, h;

	for (k = 0; k < n; k++) {
		if (s[k] == '\\' && k + 1 < n && (s[k + 1] == 'u' ||
		    s[k + 1] == 'U')) {
			w = s[k + 1] == 'u' ? 4 : 8;
			if (k + 2 + (size_t)w > n)
				goto bad;
			cp = 0;
			for (d = 0; d < w; d++) {
				if ((h = hexval(s[k + 2 + (size_t)d])) < 0)
					goto bad;
				cp = cp << 4 | (uint32_t)h;
			}
			if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
				goto bad;
			put_utf8(&b, cp);
			k += 1 + (size_t)w;
		} else {
			put_utf8(&b, s[k]);
		}
	}
	if (b.nomem) {
		t2m_buf_free(&b);
		vfail(vm, err, "out of memory");
		return NULL;
	}
	o = pk_str(vm, b.p ? b.p : "", b.len, err);
	t2m_buf_free(&b);
	return o;
bad:
	t2m_buf_free(&b);
	vfail(vm, err, "bad escape in UNICODE");
	return NULL;
}

static struct pk *
text_float(struct pk_vm *vm, const struct op *op, t2m_error *err)
{
	char buf[64], *end;
	struct pk *o;
	double f;

	if (op->len == 0 || op->len >= sizeof buf) {
		vfail(vm, err, "bad float text");
		return NULL;
	}
	memcpy(buf, op->data, op->len);
	buf[op->len] = '\0';
	errno = 0;
	f = strtod(buf, &end);
	if (*end != '\0' || end == buf) {
		vfail(vm, err, "bad float text");
		return NULL;
	}
	if ((o = pk_alloc(vm, PK_FLOAT, err)) != NULL)
		o->u.f = f;
	return o;
}

/*
 * A str.  It may hold invalid UTF-8 (Python pickles str with
 * surrogatepass) or NUL; whoever turns it into a name checks it.
 */
static struct pk *
unicode(struct pk_vm *vm, const struct op *op, t2m_error *err)
{
	return pk_str(vm, (const char *)op->data, op->len, err);
}

static struct pk *
persistent(struct pk_vm *vm, struct pk *pid, t2m_error *err)
{
	struct pk *o;

	if (vm->hooks.persid == NULL) {
		pk_unref(vm, pid);
		vfail(vm, err, "persistent id without a loader");
		return NULL;
	}
	o = vm->hooks.persid(vm->hooks.ctx, vm, pid, err);
	pk_unref(vm, pid);
	return o;
}

/* Execute one opcode. */
static int
step(struct pk_vm *vm, const struct op *op, t2m_error *err)
{
	struct pk **items = NULL, *a, *b, *c, *o;
	uint32_t n = 0, *nm;
	uint64_t id;

	switch (op->code) {
	case MARK:
		if (vm->nmarks == vm->capmarks) {
			if (vm->capmarks >= vm->lim.max_marks)
				return vfail(vm, err, "more than %u nested "
				    "MARKs", vm->lim.max_marks);
			n = vm->capmarks ? vm->capmarks * 2 : 16;
			if ((nm = realloc(vm->marks, n * sizeof *nm)) == NULL)
				return vfail(vm, err, "out of memory");
			vm->marks = nm;
			vm->capmarks = n;
		}
		vm->marks[vm->nmarks++] = vm->sp;
		return 0;
	case POP:
		if (vm->sp > floor_of(vm)) {
			pk_unref(vm, vm->stack[--vm->sp]);
			return 0;
		}
		/* With the frame empty, Python pops the MARK instead. */
		/* FALLTHROUGH */
	case POP_MARK:
		if (pop_mark(vm, &items, &n, err) < 0)
			return -1;
		drop_items(vm, items, n);
		return 0;
	case DUP:
		if ((o = top(vm, err)) == NULL)
			return -1;
		return push(vm, pk_ref(o), err);
	case NONE:
		return push(vm, &vm->none, err);
	case NEWTRUE:
		return push(vm, &vm->yes, err);
	case NEWFALSE:
		return push(vm, &vm->no, err);
	case INT: case LONG:
		if ((o = text_int(vm, op, err)) == NULL)
			return -1;
		return push(vm, o, err);
	case BININT: case BININT1: case BININT2:
		return push(vm, new_int(vm, op->i, err), err);
	case LONG1: case LONG4:
		return push(vm, long_bytes(vm, op->data, op->len, err), err);
	case FLOAT:
		return push(vm, text_float(vm, op, err), err);
	case BINFLOAT:
		if ((o = pk_alloc(vm, PK_FLOAT, err)) == NULL)
			return -1;
		o->u.f = op->f;
		return push(vm, o, err);
	case STRING:
		return push(vm, text_string(vm, op, err), err);
	case BINSTRING: case SHORT_BINSTRING:
		/* Python 2 str: torch.load decodes it as UTF-8. */
		return push(vm, unicode(vm, op, err), err);
	case UNICODE:
		return push(vm, text_unicode(vm, op, err), err);
	case BINUNICODE: case SHORT_BINUNICODE: case BINUNICODE8:
		return push(vm, unicode(vm, op, err), err);
	case BINBYTES: case SHORT_BINBYTES: case BINBYTES8: case BYTEARRAY8:
		return push(vm, new_bytes(vm, PK_BYTES, op->data, op->len,
		    err), err);
	case EMPTY_TUPLE:
		return push(vm, new_seq(vm, PK_TUPLE, NULL, 0, err), err);
	case TUPLE1: case TUPLE2: case TUPLE3:
		n = (uint32_t)(op->code - TUPLE1 + 1);
		if (vm->sp - floor_of(vm) < n)
			return vfail(vm, err, "stack underflow");
		vm->sp -= n;
		return push(vm, new_seq(vm, PK_TUPLE, vm->stack + vm->sp, n,
		    err), err);
	case TUPLE:
		if (pop_mark(vm, &items, &n, err) < 0)
			return -1;
		return push(vm, new_seq(vm, PK_TUPLE, items, n, err), err);
	case EMPTY_LIST:
		return push(vm, new_seq(vm, PK_LIST, NULL, 0, err), err);
	case LIST:
		if (pop_mark(vm, &items, &n, err) < 0)
			return -1;
		return push(vm, new_seq(vm, PK_LIST, items, n, err), err);
	case EMPTY_DICT:
		return push(vm, new_seq(vm, PK_DICT, NULL, 0, err), err);
	case DICT:
		if (pop_mark(vm, &items, &n, err) < 0)
			return -1;
		if (n % 2 != 0) {
			drop_items(vm, items, n);
			return vfail(vm, err, "DICT with an odd number of "
			    "items");
		}
		return push(vm, new_seq(vm, PK_DICT, items, n, err), err);
	case EMPTY_SET:
		return push(vm, new_seq(vm, PK_SET, NULL, 0, err), err);
	case FROZENSET:
		if (pop_mark(vm, &items, &n, err) < 0)
			return -1;
		return push(vm, new_seq(vm, PK_SET, items, n, err), err);
	case ADDITEMS:
		if (pop_mark(vm, &items, &n, err) < 0)
			return -1;
		if ((o = top(vm, err)) == NULL || o->type != PK_SET) {
			drop_items(vm, items, n);
			return o ? vfail(vm, err, "ADDITEMS on %s",
			    pk_a_type(o)) : -1;
		}
		return seq_add(vm, o, items, n, err);
	case APPEND:
		if ((a = pop(vm, err)) == NULL)
			return -1;
		if ((o = top(vm, err)) == NULL) {
			pk_unref(vm, a);
			return -1;
		}
		return add_items(vm, o, &a, 1, 0, err);
	case APPENDS:
	case SETITEMS:
		if (pop_mark(vm, &items, &n, err) < 0)
			return -1;
		if ((o = top(vm, err)) == NULL) {
			drop_items(vm, items, n);
			return -1;
		}
		return add_items(vm, o, items, n, op->code == SETITEMS, err);
	case SETITEM:
		if ((b = pop(vm, err)) == NULL)
			return -1;
		if ((a = pop(vm, err)) == NULL) {
			pk_unref(vm, b);
			return -1;
		}
		if ((o = top(vm, err)) == NULL) {
			pk_unref(vm, a);
			pk_unref(vm, b);
			return -1;
		}
		{
			struct pk *kv[2] = { a, b };
			return add_items(vm, o, kv, 2, 1, err);
		}
	case GLOBAL:
		return push(vm, make_global(vm, op->data, op->len, op->data2,
		    op->len2, err), err);
	case STACK_GLOBAL:
		if ((b = pop(vm, err)) == NULL)
			return -1;
		if ((a = pop(vm, err)) == NULL) {
			pk_unref(vm, b);
			return -1;
		}
		if (a->type != PK_STR || b->type != PK_STR) {
			pk_unref(vm, a);
			pk_unref(vm, b);
			return vfail(vm, err, "STACK_GLOBAL needs two strings");
		}
		o = make_global(vm, (unsigned char *)a->u.str.s, a->u.str.n,
		    (unsigned char *)b->u.str.s, b->u.str.n, err);
		pk_unref(vm, a);
		pk_unref(vm, b);
		return push(vm, o, err);
	case EXT1: case EXT2: case EXT4:
		{
			char code[24];
			snprintf(code, sizeof code, "%lld",
			    (long long)op->i);
			return push(vm, make_global(vm,
			    (const unsigned char *)"copyreg.extension", 17,
			    (const unsigned char *)code, strlen(code), err),
			    err);
		}
	case REDUCE:
		if ((b = pop(vm, err)) == NULL)
			return -1;
		if ((a = pop(vm, err)) == NULL) {
			pk_unref(vm, b);
			return -1;
		}
		if (b->type != PK_TUPLE) {
			const char *tn = pk_a_type(b);
			pk_unref(vm, a);
			pk_unref(vm, b);
			return vfail(vm, err, "REDUCE arguments are %s, not a "
			    "tuple", tn);
		}
		return push(vm, call(vm, a, b, 0, err), err);
	case NEWOBJ:
		if ((b = pop(vm, err)) == NULL)
			return -1;
		if ((a = pop(vm, err)) == NULL) {
			pk_unref(vm, b);
			return -1;
		}
		if (b->type != PK_TUPLE) {
			const char *tn = pk_a_type(b);
			pk_unref(vm, a);
			pk_unref(vm, b);
			return vfail(vm, err, "NEWOBJ arguments are %s, not a "
			    "tuple", tn);
		}
		return push(vm, call(vm, a, b, 1, err), err);
	case NEWOBJ_EX:
		if ((c = pop(vm, err)) == NULL)
			return -1;
		pk_unref(vm, c);	/* keyword arguments: not needed */
		if ((b = pop(vm, err)) == NULL)
			return -1;
		if ((a = pop(vm, err)) == NULL) {
			pk_unref(vm, b);
			return -1;
		}
		if (b->type != PK_TUPLE) {
			pk_unref(vm, a);
			pk_unref(vm, b);
			return vfail(vm, err, "NEWOBJ_EX arguments are not a "
			    "tuple");
		}
		return push(vm, call(vm, a, b, 1, err), err);
	case INST:
		if (pop_mark(vm, &items, &n, err) < 0)
			return -1;
		if ((b = new_seq(vm, PK_TUPLE, items, n, err)) == NULL)
			return -1;
		if ((a = make_global(vm, op->data, op->len, op->data2,
		    op->len2, err)) == NULL) {
			pk_unref(vm, b);
			return -1;
		}
		return push(vm, call(vm, a, b, 0, err), err);
	case OBJ:
		if (pop_mark(vm, &items, &n, err) < 0)
			return -1;
		if (n == 0)
			return vfail(vm, err, "OBJ without a class");
		a = items[0];
		if ((b = new_seq(vm, PK_TUPLE, items + 1, n - 1, err)) ==
		    NULL) {
			pk_unref(vm, a);
			return -1;
		}
		return push(vm, call(vm, a, b, 1, err), err);
	case BUILD:
		if ((b = pop(vm, err)) == NULL)
			return -1;
		if ((o = top(vm, err)) == NULL) {
			pk_unref(vm, b);
			return -1;
		}
		return build(vm, o, b, err);
	case PERSID:
		if ((a = unicode(vm, op, err)) == NULL)
			return -1;
		return push(vm, persistent(vm, a, err), err);
	case BINPERSID:
		if ((a = pop(vm, err)) == NULL)
			return -1;
		return push(vm, persistent(vm, a, err), err);
	case GET: case BINGET: case LONG_BINGET:
		if (op->code == GET) {
			if (text_id(op, &id) < 0)
				return vfail(vm, err, "bad memo id");
		} else {
			id = op->u;
		}
		if (!idmap_has(&vm->memo, id))
			return vfail(vm, err, "memo id %llu was never stored",
			    (unsigned long long)id);
		return push(vm, pk_ref(vm->memo.vals[idmap_slot(&vm->memo,
		    id)]), err);
	case PUT:
		if (text_id(op, &id) < 0)
			return vfail(vm, err, "bad memo id");
		return memo_put(vm, id, err);
	case BINPUT: case LONG_BINPUT:
		return memo_put(vm, op->u, err);
	case MEMOIZE:
		return memo_put(vm, vm->memo_len, err);
	case PROTO:
		if (op->u > 5)
			return vfail(vm, err, "pickle protocol %llu is not "
			    "supported (0 to 5 are)",
			    (unsigned long long)op->u);
		return 0;
	case FRAME:
		return 0;
	case READONLY_BUFFER:
		return top(vm, err) ? 0 : -1;
	case NEXT_BUFFER:
		return vfail(vm, err, "out-of-band buffers (NEXT_BUFFER) are "
		    "not supported");
	}
	return vfail(vm, err, "unknown pickle opcode 0x%02x", op->code);
}

struct pk *
pk_load(struct pk_vm *vm, const unsigned char *p, size_t n, const char *name,
    t2m_error *err)
{
	int memoize = 0, put = 0, rc;
	size_t pos = 0, len = 0, told = 0;
	struct op op;
	struct pk *result;

	vm->name = name;
	vm->at = 0;
	idmap_free(&vm->used);
	if ((rc = scan(p, n, &len, &vm->used, &memoize, &put, name, err)) < 0)
		return NULL;
	if (rc == 0)
		return NULL;	/* the message says where it ends */
	if (len != n) {
		t2m_fail(err, "%s offset %zu: bytes after STOP", name, len);
		return NULL;
	}
	vm->use_filter = 1;
	/* MEMOIZE numbers entries by len(memo): count distinct ids only
	 * when explicit PUTs could repeat an id. */
	vm->need_defined = memoize && put;
	for (;;) {
		if (decode(p, n, &pos, &op, name, err) < 0)
			return NULL;
		vm->at = op.at;
		if (op.code == STOP)
			break;
		if (step(vm, &op, err) < 0)
			return NULL;
		/* What lies before pos has been copied where it is kept. */
		if (vm->hooks.consumed && pos - told >= RELEASE_STEP) {
			vm->hooks.consumed(vm->hooks.ctx, p, pos);
			told = pos;
		}
	}
	if (vm->nmarks != 0) {
		vfail(vm, err, "STOP with an open MARK");
		return NULL;
	}
	if (vm->sp != 1) {
		vfail(vm, err, "STOP with %u objects on the stack (1 expected)",
		    vm->sp);
		return NULL;
	}
	result = vm->stack[--vm->sp];
	if (result->type == PK_MARK) {
		vfail(vm, err, "STOP with a MARK as the result");
		return NULL;
	}
	return result;
}
