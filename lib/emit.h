/*
 * emit.h - from a storage's bytes to the data of the tensors that view it.
 * Internal to libt2m.
 */
#ifndef T2M_EMIT_H
#define T2M_EMIT_H

#include "internal.h"
#include "torch.h"

/* Reads the next n bytes of the storage being emitted (exactly n).  When
 * `direct`, they are also at offset `at` of the regular file fd, and may be
 * moved from there without being read.  When `in`, they are the next bytes
 * of that input, and may be passed on as they are read (t2m_in_tee). */
struct bytesrc {
	int (*read)(void *ctx, void *p, size_t n, t2m_error *err);
	void *ctx;
	int direct;
	int fd;
	uint64_t at;
	struct t2m_in *in;
};

struct emitter {
	struct t2m_writer *w;
	struct th_item *items;	/* manifest tensor i = items[i] */
	uint32_t nitems;
	uint32_t *by_storage;	/* item indices grouped by storage seq */
	uint32_t *first;	/* by storage seq: start in by_storage */
	uint32_t nstorages;
	int swap;		/* source is big-endian */
	int crc;		/* compute the storages' CRC-32 */
	uint32_t base;		/* stream position of item 0 (a shard's) */
	size_t chunk;
	unsigned char *buf, *out;
	struct t2m_fanout fan;	/* the storages so far, their tensors */
};

int emit_init(struct emitter *e, struct t2m_writer *w, struct th_pickle *t,
    struct th_item *items, uint32_t nitems, size_t chunk, t2m_error *err);
void emit_free(struct emitter *e);
/* How many items view storage s. */
uint32_t emit_users(const struct emitter *e, const struct pk_storage *s);
/*
 * Consume all s->nbytes bytes of storage s from src, writing the data
 * of every item viewing it.  *crc gets the CRC-32 of the bytes (0 unless
 * e->crc is set).
 */
int emit_storage(struct emitter *e, const struct pk_storage *s,
    struct bytesrc *src, uint32_t *crc, t2m_error *err);

/* Add the manifest entries for items, in order, freeing each name once
 * the manifest has its copy. */
int emit_manifest(struct t2m_manifest *m, struct th_item *items,
    uint32_t nitems, t2m_error *err);

#endif
