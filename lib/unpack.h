/*
 * unpack.h - the readers t2m_unpack dispatches to.  Internal to libt2m.
 * Each writes a whole stream to w (or a listing, with o->listing).
 */
#ifndef T2M_UNPACK_H
#define T2M_UNPACK_H

#include "t2m.h"

/*
 * A shard of a sharded checkpoint, read for its data: the stream has
 * begun with the manifest of all the shards, so instead of writing its
 * own manifest the reader hands it to check (which makes sure the shard
 * still says what it said when it was described), writes its tensors at
 * base onwards, and writes no end record.  NULL for a file on its own.
 */
struct shard_sink {
	int (*check)(void *ctx, const struct t2m_manifest *m, t2m_error *err);
	void *ctx;
	uint32_t base;
};

/* torch.save / torch.jit.save zip archives. */
int unpack_torch_zip(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, size_t chunk,
    const struct shard_sink *sink, t2m_error *err);
/* torch.save with _use_new_zipfile_serialization=False (torch < 1.6). */
int unpack_torch_legacy(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, size_t chunk,
    const struct shard_sink *sink, t2m_error *err);
/* The four members of torch 0.1's tar format, read into memory:
 * sys_info, pickle, tensors, storages. */
struct tar01 {
	unsigned char *p[4];
	size_t n[4];
};

int unpack_torch_tar01(struct t2m_in *in, const struct tar01 *members,
    struct t2m_writer *w, const struct t2m_unpack_opts *o, size_t chunk,
    t2m_error *err);
/* Whether p[0..n) starts with the legacy format's magic-number pickle. */
int is_torch_legacy(const unsigned char *p, size_t n);
/* zstd, gzip, xz, bzip2 and tar around a checkpoint. */
int unpack_wrapped(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, int depth, t2m_error *err);
/* A shard: safetensors or a PyTorch file (zip or legacy), nothing else;
 * with a sink, its data joins a stream already begun. */
int unpack_shard(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, const struct shard_sink *sink,
    t2m_error *err);
/* A Hugging Face shard index (JSON) and the shards it names, as one
 * stream (sharded.c). */
int unpack_index(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, t2m_error *err);
/* What t2m_unpack does, at a nesting depth (wrappers recurse). */
int unpack_any(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, int depth, t2m_error *err);

#endif
