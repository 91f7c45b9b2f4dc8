/*
 * pickle.h - a pickle reader that executes nothing.
 *
 * It runs every opcode of protocols 0 to 5 over a buffer in memory and
 * builds inert nodes: GLOBAL gives a named reference, REDUCE and NEWOBJ
 * ask a hook (the torch layer knows OrderedDict and _rebuild_tensor_v2)
 * and otherwise give an inert object naming the callable and keeping its
 * arguments.  The memo, the stack, the nesting and the number of live
 * nodes are capped; every length is checked against what is left.
 *
 * Memory: a first pass over the opcodes finds which memo entries are ever
 * read back, and only those are kept, so temporaries (argument tuples,
 * storage ids) are freed as soon as they are used.  Nodes are reference
 * counted and come from blocks the reader owns (no allocation of their
 * own), so cycles, which pickles may build, are freed with the reader.
 */
#ifndef T2M_PICKLE_H
#define T2M_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "t2m.h"

enum pk_type {
	PK_NONE, PK_BOOL, PK_INT, PK_BIGINT, PK_FLOAT, PK_STR, PK_BYTES,
	PK_TUPLE, PK_LIST, PK_SET, PK_DICT,
	PK_GLOBAL,		/* module.name, not resolved */
	PK_OBJ,			/* an inert object: callable(args), state */
	PK_STORAGE,		/* a persistent storage reference (torch layer) */
	PK_TENSOR,		/* a rebuilt tensor (torch layer) */
	PK_MARK			/* internal: the stack mark */
};

struct pk_storage;
struct pk_tensor;

struct pk {
	struct pk *state;	/* BUILD state of a dict, object or tensor */
	uint32_t refs;
	uint8_t type;
	uint8_t flags;		/* traversal marks, free for users */
	uint8_t newobj;		/* OBJ: made by NEWOBJ, not REDUCE */
	union {
		int64_t i;				/* BOOL, INT */
		double f;				/* FLOAT */
		struct { char *s; size_t n; } str;	/* STR BYTES BIGINT */
		struct { struct pk **v; uint32_t n, cap; } seq;
		/* TUPLE LIST SET; DICT holds key, value pairs: n = 2 x pairs */
		struct { char *module, *name; } global;
		struct {
			struct pk *callable;	/* GLOBAL (or any node) */
			struct pk *args;	/* TUPLE, or NULL */
			struct pk *items;	/* LIST or DICT added later */
		} obj;
		struct pk_storage *storage;
		struct pk_tensor *tensor;
	} u;
};

struct pk_vm;

/* Hooks the torch layer supplies; each returns a new reference or NULL
 * with a message in err.  A NULL hook means "inert". */
struct pk_hooks {
	void *ctx;
	/* REDUCE or NEWOBJ of callable with args; *handled = 0 for inert. */
	struct pk *(*call)(void *ctx, struct pk_vm *vm, struct pk *callable,
	    struct pk *args, int newobj, int *handled, t2m_error *err);
	/* BINPERSID / PERSID. */
	struct pk *(*persid)(void *ctx, struct pk_vm *vm, struct pk *pid,
	    t2m_error *err);
	/* Free the payload of a STORAGE or TENSOR node that dies. */
	void (*free_payload)(void *ctx, struct pk_vm *vm, struct pk *o);
	/* While running: p[0..n) of the pickle will not be read again,
	 * so its owner may release the memory.  NULL: never told. */
	void (*consumed)(void *ctx, const unsigned char *p, size_t n);
};

struct pk_limits {
	uint64_t max_nodes;	/* live nodes */
	uint64_t max_memo;	/* memo entries kept */
	uint32_t max_stack;	/* stack entries */
	uint32_t max_marks;	/* open MARKs */
};

#define PK_DEFAULT_LIMITS { 1u << 24, 1u << 24, 1u << 20, 1u << 16 }

/*
 * Find where the pickle at p ends, checking that every opcode is known
 * and every length fits.  Start at *pos (0, or where an earlier call
 * stopped).  Returns 1 with *pos just after STOP; 0 when p[0..n) ends
 * first, *pos at the incomplete opcode (add bytes and call again); -1
 * on an invalid opcode.  For pickles whose length nothing else gives.
 */
int pk_scan(const unsigned char *p, size_t n, size_t *pos, const char *name,
    t2m_error *err);

struct pk_vm *pk_new(const struct pk_hooks *hooks,
    const struct pk_limits *limits);
/* Frees every node still alive, cycles included. */
void pk_free(struct pk_vm *vm);
/*
 * Run the pickle in p[0..n) (exactly one pickle, ending with STOP).
 * name is used in messages ("data.pkl offset 123: ...").  Returns the
 * result (a new reference) or NULL.
 */
struct pk *pk_load(struct pk_vm *vm, const unsigned char *p, size_t n,
    const char *name, t2m_error *err);

/*
 * Memory straight from the system, in whole pages, for blocks that are
 * freed all at once: given back to it when freed, however the heap lies.
 */
void *pk_pages(size_t n);
void pk_pages_free(void *p, size_t n);

/* Node helpers for hooks and traversals. */
struct pk *pk_alloc(struct pk_vm *vm, int type, t2m_error *err);
struct pk *pk_ref(struct pk *o);
void pk_unref(struct pk_vm *vm, struct pk *o);
/* A new STR node holding a copy of s. */
struct pk *pk_str(struct pk_vm *vm, const char *s, size_t n, t2m_error *err);
/* Where the reader is, for messages: "data.pkl offset 123". */
const char *pk_where(struct pk_vm *vm);
/* Say where hooks called outside pk_load work, for pk_where: name is
 * kept, not copied. */
void pk_at(struct pk_vm *vm, const char *name, size_t at);

/* A global's name matches module and name (Python 2 names mapped). */
int pk_is_global(const struct pk *o, const char *module, const char *name);
/* Value of a DICT (or an OBJ's items) for a string key, or NULL. */
struct pk *pk_dict_get(const struct pk *dict, const char *key);
/* The type's name for messages ("tuple", "dict"), and with its article
 * ("a tuple", "an int"). */
const char *pk_type_name(const struct pk *o);
const char *pk_a_type(const struct pk *o);

#endif
