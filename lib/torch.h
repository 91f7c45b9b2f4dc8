/*
 * torch.h - what PyTorch's pickles mean: storages, tensors, state dicts
 * and module trees, read from pickle.h's inert nodes.  Internal to libt2m.
 */
#ifndef T2M_TORCH_H
#define T2M_TORCH_H

#include "internal.h"
#include "pickle.h"

/* A storage named by a persistent id: the bytes of one archive record. */
struct pk_storage {
	char *key;		/* record name ("0" for data/0) */
	int dtype;		/* element type; U8 for an untyped storage */
	int untyped;
	const char *quantized;	/* torch's name of a quantized type, or NULL */
	uint64_t numel;		/* elements of dtype */
	uint64_t nbytes;
	struct pk *root;	/* legacy storage view: the root storage */
	uint64_t root_offset;	/* its offset in root elements */
	uint32_t seq;		/* order of first appearance */
	void *user;		/* container layer's bookkeeping */
};

enum tensor_kind {
	TK_DENSE, TK_QUANTIZED, TK_SPARSE, TK_META, TK_NESTED, TK_OTHER
};

struct pk_tensor {
	struct pk *storage;	/* PK_STORAGE, or NULL without data */
	int kind;
	int dtype;		/* 0 when t2m has no type for it */
	char what[48];		/* torch's name of its type, for messages */
	int ndim;
	uint64_t offset;	/* in elements of dtype */
	uint64_t *size;		/* ndim of each, allocated with the tensor: */
	int64_t *stride;	/* a model of 100,000 tensors stays small */
};

/* One tensor to write: its name and the node holding it. */
struct th_item {
	char *name;
	struct pk *tensor;
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

/* A pickle loaded with torch's meaning. */
struct th_pickle {
	struct pk_vm *vm;
	struct pk *root;
	struct pk **storages;	/* in order of first appearance */
	uint32_t nstorages, capstorages;
	struct t2m_strmap bykey;	/* storage key -> position */
	struct th_preset *preset;	/* TH_TAR01: tensors by key */
	uint32_t npreset, cappreset;
	struct t2m_strmap presets;	/* preset key -> position */
	int rebuild_depth;	/* _rebuild_from_type_v2 nesting */
	int mode;
	char name[64];
};

/* Start t: its VM, for th_storage and th_tensor before th_load. */
int th_init(struct th_pickle *t, int mode, t2m_error *err);
/* Run the pickle p[0..n) (th_init first if not yet done). */
int th_load(struct th_pickle *t, const unsigned char *p, size_t n,
    const char *name, int mode, t2m_error *err);
void th_free(struct th_pickle *t);

/* The storage called key (new, or the same one again). */
struct pk *th_storage(struct th_pickle *t, const char *key, int dtype,
    uint64_t numel, t2m_error *err);
/* A storage that is elements [offset, offset+numel) of root. */
struct pk *th_storage_view(struct th_pickle *t, const char *key,
    struct pk *root, uint64_t offset, uint64_t numel, t2m_error *err);
/* A dense tensor over storage st, bounds checked. */
struct pk *th_tensor(struct th_pickle *t, struct pk *st, uint64_t offset,
    int ndim, const uint64_t *size, const int64_t *stride, t2m_error *err);
/* TH_TAR01: the tensor persistent id `key` stands for. */
int th_preset_add(struct th_pickle *t, const char *key, struct pk *tensor,
    t2m_error *err);
/* The storage called key, or NULL. */
struct pk_storage *th_find_storage(struct th_pickle *t, const char *key);
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
