/*
 * zipw.h - writing a zip archive of stored (uncompressed) entries whose
 * sizes are known before their data, as PyTorch's checkpoints are: the
 * whole layout is computed first, the data written at its offsets in any
 * order, the headers last.  Internal to libt2m.
 */
#ifndef T2M_ZIPW_H
#define T2M_ZIPW_H

#include "internal.h"

/* Every entry's data starts at a multiple of this, as torch.save's do. */
#define ZIPW_ALIGN 64

struct zipw_entry {
	const char *name;	/* the whole name, owned by the caller */
	uint64_t size;
	uint32_t crc;		/* set by the caller before zipw_finish */
	uint64_t lfh;		/* offset of the local header */
	uint64_t data;		/* offset of the data */
};

struct zipw {
	struct zipw_entry *e;
	uint32_t n;
	uint64_t cd;		/* offset of the central directory */
	uint64_t end;		/* size of the whole archive */
};

/* Lay out z->e[0..n) in order from offset 0; fails only when the
 * archive would exceed 2^63 bytes or a name 65535 bytes. */
int zipw_layout(struct zipw *z, t2m_error *err);
/* Write every local header, the central directory and the end records.
 * -1 with errno set (from pwrite) or ENOMEM. */
int zipw_finish(int fd, const struct zipw *z);

#endif
