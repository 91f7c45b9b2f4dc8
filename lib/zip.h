/*
 * zip.h - the zip archives torch.save and torch.jit.save write: a reader
 * of the central directory for files (random access with pread) and of
 * local headers for pipes (front to back).  Internal to libt2m.
 */
#ifndef T2M_ZIP_H
#define T2M_ZIP_H

#include "internal.h"

struct zip_entry {
	char *name;
	uint64_t lfh;		/* offset of the local header */
	uint64_t data;		/* offset of the data */
	uint64_t csize, usize;
	uint32_t crc;
	uint16_t method, flags;
};

/* The entries besides the storage records: the records of a model of
 * 100,000 tensors would take more memory than the rest of the reading. */
struct zip_cd {
	struct zip_entry *e;	/* sorted by data offset */
	uint32_t n;
	uint32_t ndata;		/* storage records, prefix/data/<key> */
	char *prefix;		/* "archive" for "archive/data.pkl" */
	struct t2m_strmap byname;	/* entry name -> position */
	uint64_t cd_off;
};

/* Read and check the central directory of the regular file in->fd:
 * every entry is checked, all but the storage records kept. */
int zip_read_cd(struct t2m_in *in, struct zip_cd *z, t2m_error *err);
/*
 * Read the directory again for the storage records, calling fn with
 * each one's key (what follows "data/") and entry, whose name lasts
 * until fn returns.  Stops at the first failure.
 */
int zip_each_data(struct t2m_in *in, const struct zip_cd *z,
    int (*fn)(void *ctx, const char *key, const struct zip_entry *e,
    t2m_error *err), void *ctx, t2m_error *err);
void zip_cd_free(struct zip_cd *z);
/* The entry prefix/rel, or NULL. */
const struct zip_entry *zip_find(const struct zip_cd *z, const char *rel);
/* Read a whole entry (stored, or deflated up to max bytes) into memory,
 * checking its CRC-32 unless ignore_crc. */
int zip_load(struct t2m_in *in, const struct zip_entry *e, uint64_t max,
    int ignore_crc, unsigned char **out, size_t *len, t2m_error *err);

/* Read a stored entry's usize bytes into p, checking its CRC-32 unless
 * ignore_crc. */
int zip_read_stored(struct t2m_in *in, const struct zip_entry *e,
    unsigned char *p, int ignore_crc, t2m_error *err);

/* A local header met while reading front to back. */
struct zip_lfh {
	char *name;
	uint64_t at;		/* offset of the header */
	uint64_t csize, usize;	/* from the header (0 when deferred) */
	uint32_t crc;
	uint16_t flags, method;
	int zip64;		/* had a zip64 extra field */
	int deferred;		/* sizes and CRC follow the data (bit 3) */
};

/* The next local header: 1, or 0 at the central directory, or -1. */
int zip_next(struct t2m_in *in, struct zip_lfh *h, t2m_error *err);
void zip_lfh_free(struct zip_lfh *h);
/*
 * After reading size bytes of the entry's data with CRC crc: read the
 * data descriptor if there is one, and check sizes (and the CRC unless
 * ignore_crc).
 */
int zip_finish(struct t2m_in *in, const struct zip_lfh *h, uint64_t size,
    uint32_t crc, int ignore_crc, t2m_error *err);
/*
 * Read a small entry whose size only its data descriptor gives, by
 * finding the descriptor (at most max bytes).
 */
int zip_read_small(struct t2m_in *in, const struct zip_lfh *h, size_t max,
    unsigned char **out, size_t *len, int ignore_crc, t2m_error *err);

/* The message for a CRC mismatch, which explains -c. */
int zip_crc_fail(t2m_error *err, const char *name, uint32_t stored,
    uint32_t computed);

#endif
