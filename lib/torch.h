/*
 * torch.h - what PyTorch's pickles mean: storages, tensors, state dicts
 * and module trees, read from pickle.h's inert nodes.  Internal to libt2m.
 */
#ifndef T2M_TORCH_H
#define T2M_TORCH_H

#include "internal.h"
#include "pickle.h"

/*
 * A storage named by a persistent id: the bytes of one archive record.
 * Storages belong to the th_pickle, not to the nodes naming them, and
 * outlive the reader (th_release); a legacy storage view belongs to its
 * node, since tensors address its root.
 */
struct pk_storage {
	char *key;		/* record name ("0" for data/0) */
	uint64_t nbytes;
	uint32_t seq;		/* order of first appearance */
	uint8_t dtype;		/* element type; U8 for an untyped storage */
	uint8_t untyped;
	uint8_t quantized;	/* a quantized type (th_quantized names it) */
	uint8_t view;		/* a legacy storage view, owned by its node */
};

enum tensor_kind {
	TK_DENSE, TK_QUANTIZED, TK_SPARSE, TK_META, TK_NESTED, TK_OTHER
};

/*
 * A tensor: its node holds it, and so does each item naming it, so the
 * items outlive the reader.  Kept small, for models of 100,000 tensors:
 * ndim sizes follow it (th_size); then ndim strides (th_stride), unless
 * its elements lie in C order without gaps, which the sizes say; then,
 * for a tensor that is not a dense one of a type t2m knows, torch's name
 * of its type (th_what).
 */
struct pk_tensor {
	struct pk_storage *storage;	/* NULL without data */
	uint64_t offset;	/* in elements of dtype */
	uint32_t holds;
	uint8_t kind;
	uint8_t dtype;		/* 0 when t2m has no type for it */
	uint8_t ndim;
	uint8_t bits;		/* TX_STRIDES, TX_NAMED */
	uint64_t dim[];
};

#define TX_STRIDES 0x01		/* strides follow the sizes */
#define TX_NAMED 0x02		/* the name follows; malloc made it */

#define th_size(x) ((x)->dim)
#define th_stride(x) ((const int64_t *)((x)->dim + (x)->ndim))
#define th_what(x) ((x)->bits & TX_NAMED ? (const char *)((x)->dim + \
	((x)->bits & TX_STRIDES ? 2 : 1) * (x)->ndim) : "")

/* One tensor to write: its name (until emit_manifest has copied it) and
 * the tensor, held. */
struct th_item {
	char *name;
	struct pk_tensor *tensor;
};

struct th_opts {
	const char *select;	/* -k: dotted path of the subtree to take */
	int skip_unsupported;	/* -s: skip quantized/sparse/meta, warn */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

/* How persistent ids look. */
enum th_mode {
	TH_ZIP,			/* ('storage', cls, key, location, numel) */
	TH_LEGACY,		/* the same with a 6th field, storage views */
	TH_TAR01		/* a key of a preset tensor, or (cls, file, src) */
};

struct th_preset {
	char *key;
	struct pk *node;
};

/* Blocks of memory handed out front to back and freed all at once. */
struct th_arena {
	struct th_arena_block *head;
	unsigned char *at;
	size_t left;
};

/* Fixed-size objects from blocks, reused through a free list. */
struct th_pool {
	struct th_arena mem;
	void *free;
	size_t size;
};

/* A pickle loaded with torch's meaning. */
struct th_pickle {
	struct pk_vm *vm;	/* NULL once released */
	struct pk *root;
	struct pk_storage **chunk;	/* storages by seq (th_storage_at) */
	uint32_t nstorages;
	uint32_t *bykey;	/* storage seq + 1 by key hash; 0 = empty */
	uint32_t keymask;
	struct th_arena mem;	/* storages and their keys */
	struct th_pool tensors[10];	/* by 2 x ndim + strided, ndim <= 4 */
	/* The pickle's bytes before n will not be read again (or NULL). */
	void (*consumed)(void *ctx, const unsigned char *p, size_t n);
	void *consumed_ctx;
	struct th_preset *preset;	/* TH_TAR01: tensors by key */
	uint32_t npreset, cappreset;
	struct t2m_strmap presets;	/* preset key -> position */
	int rebuild_depth;	/* _rebuild_from_type_v2 nesting */
	/* th_release follows th_flatten: the entries of a dict reached
	 * only once may be freed as soon as they are walked. */
	int consume;
	int mode;
	char name[64];
};

/* Storage seq k, k < nstorages: in order of first appearance. */
#define TH_STORAGE_CHUNK 4096
#define th_storage_at(t, k) \
	(&(t)->chunk[(k) / TH_STORAGE_CHUNK][(k) % TH_STORAGE_CHUNK])

/* Start t: its VM, for th_storage and th_tensor before th_load. */
int th_init(struct th_pickle *t, int mode, t2m_error *err);
/* Run the pickle p[0..n) (th_init first if not yet done). */
int th_load(struct th_pickle *t, const unsigned char *p, size_t n,
    const char *name, int mode, t2m_error *err);
void th_free(struct th_pickle *t);
/*
 * Free the reader and every node (the object tree, presets), keeping the
 * storages and the tensors items hold: what emitting needs.  The tree is
 * gone after it: no more th_flatten, th_list or th_find_preset.
 */
void th_release(struct th_pickle *t);

/* The storage called key (new, or the same one again). */
struct pk *th_storage(struct th_pickle *t, const char *key, int dtype,
    uint64_t numel, t2m_error *err);
/* A storage that is elements [offset, offset+numel) of root. */
struct pk *th_storage_view(struct th_pickle *t, const char *key,
    struct pk_storage *root, uint64_t offset, uint64_t numel,
    t2m_error *err);
/* A dense tensor over storage s, bounds checked. */
struct pk *th_tensor(struct th_pickle *t, struct pk_storage *s,
    uint64_t offset, int ndim, const uint64_t *size, const int64_t *stride,
    t2m_error *err);
/* TH_TAR01: the tensor persistent id `key` stands for. */
int th_preset_add(struct th_pickle *t, const char *key, struct pk *tensor,
    t2m_error *err);
/* The storage called key, or NULL. */
struct pk_storage *th_find_storage(const struct th_pickle *t,
    const char *key);
/* TH_TAR01: the preset (tensor or storage view) called key, or NULL. */
struct pk *th_find_preset(struct th_pickle *t, const char *key);
/* The dtype of a storage class GLOBAL (torch.FloatStorage), or -1. */
int th_storage_dtype(const struct pk *cls);

/*
 * Choose the subtree (-k, else a top-level "state_dict" entry, else the
 * whole object) and flatten it: tensors into items (named as PyTorch's
 * state_dict() names them), modules into m's module list.  Unsupported
 * tensors fail, or are skipped with a warning under skip_unsupported.
 */
int th_flatten(struct th_pickle *t, const struct th_opts *o,
    struct t2m_manifest *m, struct th_item **items, uint32_t *nitems,
    t2m_error *err);
void th_items_free(struct th_pickle *t, struct th_item *items, uint32_t n);
/* Let go of a tensor an item held. */
void th_tensor_drop(struct th_pickle *t, struct pk_tensor *x);

/* torch's name of a quantized storage's type, or NULL. */
const char *th_quantized(const struct pk_storage *s);
/* A storage's element count. */
uint64_t th_storage_numel(const struct pk_storage *s);
/* The element size in bytes of a tensor's dtype. */
unsigned th_itemsize(const struct pk_tensor *x);
/* Whether x's elements lie in C order without gaps. */
int th_contiguous(const struct pk_tensor *x);
/* Byte range [*begin, *end) of x's storage that x touches (numel > 0). */
void th_span(const struct pk_tensor *x, uint64_t *begin, uint64_t *end);
uint64_t th_numel(const struct pk_tensor *x);

/* Print the object tree (-l): one line per leaf, tensors included. */
int th_list(struct th_pickle *t, struct t2m_buf *out, t2m_error *err);

#endif
