/*
 * t2m.h - libt2m, the library behind the t2m filters.
 *
 * It holds everything two filters share: the tensor-record stream
 * (t2m-stream(5)), the manifest it begins with, the safetensors reader and
 * writer, and the small I/O helpers they stand on.  Nothing here prints or
 * exits: a function that can fail returns -1 (or NULL) and leaves a message
 * in the caller's t2m_error, already carrying the position ("record 3 at
 * offset 4096: ...").  The caller adds the program and input names.
 */
#ifndef T2M_H
#define T2M_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define T2M_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------ */

#define T2M_ERRLEN 512

typedef struct t2m_error {
	char msg[T2M_ERRLEN];
	int errnum;		/* errno of a failed system call, else 0 */
	const char *subject;	/* what failed when not the input ("<stdout>") */
} t2m_error;

/* Set err's message (printf-style); always returns -1. */
int t2m_fail(t2m_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like t2m_fail, and records errno and appends strerror(errno). */
int t2m_fail_errno(t2m_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A filter's end on e: "prog: subject: message" and exit 1, where the
 * subject is e's own or name; a closed pipe (EPIPE) dies by SIGPIPE
 * instead, quietly, as a pipeline expects. */
void t2m_die(const char *name, const t2m_error *e);
/* A filter's long options, each alone on its command line: --version
 * prints "prog version", --help prints help (which begins with the usage
 * line); either on the standard output, then exit 0.  Returns otherwise. */
void t2m_long_options(int argc, char **argv, const char *prog,
    const char *help);
/* Print help on the standard output and exit 0 (1 if it cannot be
 * written): -h. */
void t2m_help(const char *help) __attribute__((noreturn));
/* Put "prefix: " in front of the message already in err; returns -1. */
int t2m_prefix(t2m_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- dtypes ------------------------------------------------------------ */

/*
 * Element types.  The numeric values are part of the stream format
 * (t2m-stream(5)) and never change; new types are appended.
 */
enum t2m_dtype {
	T2M_BOOL = 1, T2M_U8, T2M_I8, T2M_I16, T2M_U16, T2M_F16, T2M_BF16,
	T2M_I32, T2M_U32, T2M_F32, T2M_F64, T2M_I64, T2M_U64,
	T2M_F8_E4M3, T2M_F8_E5M2, T2M_C64, T2M_C128, T2M_F8_E8M0,
	T2M_F8_E4M3FNUZ, T2M_F8_E5M2FNUZ, T2M_F4, T2M_F6_E2M3, T2M_F6_E3M2,
	T2M_DTYPE_END
};

/* The safetensors spelling ("F32"), or NULL for a code that is not a dtype. */
const char *t2m_dtype_name(int dtype);
/* Code for a name of n bytes, or 0 when unknown. */
int t2m_dtype_lookup(const char *name, size_t n);
/* Bits per element (4 for F4, 128 for C128); 0 for an unknown code. */
unsigned t2m_dtype_bits(int dtype);
/* Whether safetensors has the type (C128 is the one it lacks). */
int t2m_dtype_in_safetensors(int dtype);

#define T2M_MAXDIM 64

/*
 * Bytes held by a tensor of the given dtype and shape: every product
 * overflow-checked against 2^63, sub-byte types required to fill whole
 * bytes.  0 on success, -1 with a message otherwise.
 */
int t2m_tensor_bytes(int dtype, int ndim, const uint64_t *shape,
    uint64_t *nbytes, t2m_error *err);

/* ---- manifest ---------------------------------------------------------- */

struct t2m_kv {
	const char *key;
	const char *val;
};

/* A string-to-string map that keeps insertion order.  Its n pairs are in
 * the arena of the manifest that holds it; cap < n says they are shared
 * with other attributes (t2m_attrs_share) and so copied before a change. */
struct t2m_attrs {
	struct t2m_kv *kv;
	uint32_t n, cap;
};

struct t2m_tensor {
	const char *name;
	uint64_t *shape;
	uint64_t nbytes;
	struct t2m_attrs attrs;
	int dtype;
	int ndim;
};

struct t2m_module {
	const char *path;
	struct t2m_attrs attrs;
};

struct t2m_arena;
struct t2m_index;

/*
 * Everything a stream says before its data: facts about the source
 * (info: never written into output files), metadata carried into the
 * output (safetensors __metadata__), the module tree when the source has
 * one, and every tensor.  Strings live in the manifest's arena and stay
 * valid until t2m_manifest_free.
 */
struct t2m_manifest {
	struct t2m_attrs info;
	struct t2m_attrs meta;
	struct t2m_module *modules;
	uint32_t nmodules, capmodules;
	struct t2m_tensor *tensors;
	uint32_t ntensors, captensors;
	struct t2m_arena *arena;
	struct t2m_index *index;	/* tensor name -> position */
};

/* Limits every reader enforces; t2m-stream(5) documents them. */
#define T2M_MAX_TENSORS   (1u << 24)
#define T2M_MAX_MODULES   (1u << 24)
#define T2M_MAX_ATTRS     (1u << 16)
#define T2M_MAX_STRING    (1u << 20)
#define T2M_MAX_MANIFEST  ((uint64_t)1 << 30)

struct t2m_manifest *t2m_manifest_new(void);
void t2m_manifest_free(struct t2m_manifest *m);

/* A copy of s (n bytes) in m's arena, NUL-terminated. */
const char *t2m_manifest_strndup(struct t2m_manifest *m, const char *s,
    size_t n);

/*
 * Append a tensor.  The name must be valid UTF-8 without NUL, unique, at
 * most T2M_MAX_STRING bytes; the shape is copied and nbytes computed.
 * Returns the new tensor, or NULL with a message.
 */
struct t2m_tensor *t2m_manifest_add(struct t2m_manifest *m, const char *name,
    int dtype, int ndim, const uint64_t *shape, t2m_error *err);
/* Room in m for exactly this many tensors and modules in all, when
 * known beforehand: growing by doubling would leave up to half unused.
 * -1 when out of memory or over the limits. */
int t2m_manifest_reserve(struct t2m_manifest *m, uint32_t ntensors,
    uint32_t nmodules);

/*
 * t2m_manifest_add, keeping name (T2M_REF_NAME) or shape (T2M_REF_SHAPE)
 * by reference, not copied: what is kept must stay as it is for m's life
 * (a plan's output naming its input's tensors).
 */
#define T2M_REF_NAME	1
#define T2M_REF_SHAPE	2
struct t2m_tensor *t2m_manifest_add_ref(struct t2m_manifest *m,
    const char *name, int dtype, int ndim, const uint64_t *shape, int ref,
    t2m_error *err);

/* Position of the tensor called name, or -1. */
long t2m_manifest_find(const struct t2m_manifest *m, const char *name);
/* Position of the first module at path, or -1. */
long t2m_manifest_find_module(const struct t2m_manifest *m,
    const char *path);
/*
 * 1 when m's tensors are in MLX's layout: converted by t2m-transpose
 * (metadata t2m.layout=mlx), or read from a file that says it holds MLX
 * arrays (metadata format=mlx, as mlx-lm saves them).  A transpose plan
 * passes such a stream on unchanged.
 */
int t2m_manifest_mlx(const struct t2m_manifest *m);

struct t2m_module *t2m_manifest_add_module(struct t2m_manifest *m,
    const char *path, t2m_error *err);

/* Set key to val in attrs (replacing an old value); both are copied, the
 * short ones kept once per manifest. */
int t2m_attrs_set(struct t2m_manifest *m, struct t2m_attrs *a,
    const char *key, const char *val, t2m_error *err);
/* Append key=val to attrs without looking for key there already: for
 * reading many pairs, followed by t2m_attrs_twice. */
int t2m_attrs_add(struct t2m_manifest *m, struct t2m_attrs *a,
    const char *key, const char *val, t2m_error *err);
/* 1 with *twice a key of attrs that appears more than once, 0 when none
 * does, -1 when out of memory. */
int t2m_attrs_twice(const struct t2m_attrs *a, const char **twice);
/* Remove key from attrs, if there; -1 only when out of memory (a shared
 * array is copied first). */
int t2m_attrs_unset(struct t2m_manifest *m, struct t2m_attrs *a,
    const char *key);
/*
 * Make room in attrs for n more pairs, from m's arena; an empty attrs gets
 * exactly n.  Only an economy: t2m_attrs_set makes room as it needs.
 * Attribute arrays belong to the manifest that allocated them.
 */
int t2m_attrs_reserve(struct t2m_manifest *m, struct t2m_attrs *a,
    uint32_t n, t2m_error *err);
/*
 * Let a, once complete, share its pairs with attributes of m seen before
 * that have the same keys and values in the same order: tensors and
 * modules of one kind repeat theirs.  Either copies them before a change,
 * so this is only an economy.
 */
void t2m_attrs_share(struct t2m_manifest *m, struct t2m_attrs *a);
/* Value of key, or NULL. */
const char *t2m_attrs_get(const struct t2m_attrs *a, const char *key);

/* 1 when s (n bytes) is valid UTF-8 (no overlongs, surrogates, NUL). */
int t2m_utf8_valid(const char *s, size_t n);

/* ---- byte input -------------------------------------------------------- */

/*
 * A buffered reader over a file descriptor that knows where it is, tells
 * a clean end of input from a short read and from an I/O error, and
 * refuses a terminal.
 */
struct t2m_in {
	int fd;
	const char *name;	/* for messages: a path or "<stdin>" */
	unsigned char *buf;
	size_t cap, head, tail;
	uint64_t pos;		/* offset of the next byte handed out */
	uint64_t size;		/* file size when regular, else 0 */
	int regular;		/* a regular file: size known, pread works */
	int fifo;		/* a pipe */
	int eof;
	size_t maxread;		/* cap on one read(2); 0 = none (tests) */
	/* Instead of read(2) on fd: a decompressor or archive member. */
	ssize_t (*readfn)(void *ctx, void *p, size_t n, t2m_error *err);
	void *rctx;
	/* Moves from a pipe into a file may leave their last bytes (up to a
	 * pipe's worth) waiting, for the next move to join or for
	 * t2m_in_settle to write. */
	int gather;
};

int t2m_in_init(struct t2m_in *in, int fd, const char *name, size_t bufsize,
    t2m_error *err);
/* An input whose bytes come from fn(ctx, ...) rather than a descriptor. */
int t2m_in_init_fn(struct t2m_in *in, ssize_t (*fn)(void *, void *, size_t,
    t2m_error *), void *ctx, const char *name, t2m_error *err);
void t2m_in_free(struct t2m_in *in);
/* Read up to n bytes; fewer only at end of input.  -1 on an I/O error. */
ssize_t t2m_in_read(struct t2m_in *in, void *p, size_t n, t2m_error *err);
/* The same, but with nothing buffered read no further than n bytes: the
 * bytes after stay in the descriptor for t2m_in_move. */
ssize_t t2m_in_read_lean(struct t2m_in *in, void *p, size_t n,
    t2m_error *err);
/* Read exactly n bytes of `what`, or fail saying how many arrived. */
int t2m_in_full(struct t2m_in *in, void *p, size_t n, const char *what,
    t2m_error *err);
/* Make at least n bytes (n <= buffer size) visible at *p, or fewer at EOF.
 * Returns how many are visible, -1 on error. */
ssize_t t2m_in_peek(struct t2m_in *in, size_t n, const unsigned char **p,
    t2m_error *err);
/* Discard up to n bytes; *done says how many (fewer only at the end). */
int t2m_in_discard(struct t2m_in *in, uint64_t n, uint64_t *done,
    t2m_error *err);
/* Discard exactly n bytes of `what`. */
int t2m_in_skip(struct t2m_in *in, uint64_t n, const char *what,
    t2m_error *err);
/* 1 at end of input, 0 if bytes remain, -1 on error. */
int t2m_in_at_end(struct t2m_in *in, t2m_error *err);
/*
 * Move the next n bytes of input to descriptor `to` (at *toff, advanced,
 * when toff; else at its position), by splice(2) where the OS can.
 * Returns the count, fewer than n only at the end of input; -1 on error,
 * with err->subject = toname when writing failed.
 */
int64_t t2m_in_move(struct t2m_in *in, int to, uint64_t *toff, uint64_t n,
    const char *toname, t2m_error *err);
/* Write what moves with in->gather set left waiting: before the files
 * they went to are used otherwise.  -1 on error, as t2m_in_move. */
int t2m_in_settle(struct t2m_in *in, t2m_error *err);
/*
 * Read the next n bytes of input into p, exactly, and write them to
 * descriptor `to` as well.  Pipe to pipe on Linux the bytes are passed on
 * by tee(2), not written, so that they are copied once rather than twice.
 * -1 on error (truncated input as t2m_in_full says it, with `what`), with
 * err->subject = toname when writing failed.
 */
int t2m_in_tee(struct t2m_in *in, int to, void *p, size_t n,
    const char *what, const char *toname, t2m_error *err);
/* Move n bytes at offset off of file `from` to `to`, the same way; buf
 * carries them where splice cannot. */
int t2m_move_range(int from, uint64_t off, int to, uint64_t n, void *buf,
    size_t bufsize, const char *toname, t2m_error *err);

/* ---- byte output ------------------------------------------------------- */

/* Pipes get buffers of this size where the OS allows (Linux);
 * t2m_pipe_grow asks for it, and says 1 when fd is a pipe. */
#define T2M_PIPE_SIZE	(1 << 20)
int t2m_pipe_grow(int fd);

/* write(2) until done; EINTR retried.  -1 with errno set on failure. */
int t2m_write_full(int fd, const void *p, size_t n);
/* The same, to a pipe, so that its reader is not drawn to this CPU. */
int t2m_pipe_write(int fd, const void *p, size_t n);
int t2m_pwrite_full(int fd, const void *p, size_t n, uint64_t off);
/* Read exactly n bytes at off, retrying short reads; -1 with a message
 * (the offset, and strerror or "file ends early"). */
int t2m_pread_full(int fd, void *p, size_t n, uint64_t off,
    t2m_error *err);

/*
 * An output file written in place of `path` atomically: a temporary file
 * beside it, renamed over it on commit and removed on abort or when the
 * process gets SIGINT, SIGTERM, SIGHUP or SIGPIPE (see t2m_out_signals).
 * A character device (/dev/null, /dev/full) is written directly, and so
 * is "-", standard output, when it is a file or a character device.
 */
struct t2m_out {
	int fd;
	char *path;		/* the final name */
	char *tmp;		/* the temporary, or NULL when direct */
	int direct;
};

int t2m_out_open(struct t2m_out *o, const char *path, t2m_error *err);
int t2m_out_commit(struct t2m_out *o, t2m_error *err);
void t2m_out_abort(struct t2m_out *o);
/* Install handlers that remove pending temporaries and re-raise. */
void t2m_out_signals(void);

/* ---- CRC-32 (ISO-HDLC, as zip and zlib use) ---------------------------- */

uint32_t t2m_crc32(uint32_t crc, const void *p, size_t n);

/* ---- the stream (t2m-stream(5)) ---------------------------------------- */

#define T2M_STREAM_MAJOR 1
#define T2M_STREAM_MINOR 0
#define T2M_CHUNK_DEFAULT ((size_t)1 << 20)

struct t2m_reader;
struct t2m_writer;

/* One data record: bytes [offset, offset+length) of tensor `index`. */
struct t2m_chunk {
	uint32_t index;
	uint64_t offset;
	uint64_t length;
};

struct t2m_reader *t2m_reader_new(int fd, const char *name, t2m_error *err);
/* A reader taking over in, bytes already peeked included (in's buffer
 * now belongs to the reader: do not free in). */
struct t2m_reader *t2m_reader_from(struct t2m_in *in, t2m_error *err);
void t2m_reader_free(struct t2m_reader *r);
/*
 * Read the stream header and the manifest.  The manifest belongs to the
 * reader; it is valid until t2m_reader_free.
 */
int t2m_reader_begin(struct t2m_reader *r, struct t2m_manifest **m,
    t2m_error *err);
/*
 * Advance to the next data record, skipping what is left of the current
 * payload.  Returns 1 with *c filled, 0 after a valid end record (counts
 * checked, every tensor complete, nothing after it), -1 on error.
 */
int t2m_reader_next(struct t2m_reader *r, struct t2m_chunk *c,
    t2m_error *err);
/*
 * Read up to n bytes of the current payload.  Returns the count, 0 when
 * the payload is done, -1 on error (a short payload is an error).
 */
ssize_t t2m_reader_read(struct t2m_reader *r, void *p, size_t n,
    t2m_error *err);
/*
 * Write what is left of the current payload to descriptor fd at offset
 * off, by splice(2) where the OS can.  Its last bytes may wait to be
 * joined with the next payload's: t2m_reader_settle writes them, and must
 * be called before the files are used otherwise.  A failed write sets
 * err->subject to name.
 */
int t2m_reader_move(struct t2m_reader *r, int fd, uint64_t off,
    const char *name, t2m_error *err);
int t2m_reader_settle(struct t2m_reader *r, t2m_error *err);
/* Pass over the next n bytes (at most what is left) of the current
 * payload by moving them to null, a descriptor that keeps nothing
 * (/dev/null): from a pipe they are never copied. */
int t2m_reader_drop(struct t2m_reader *r, uint64_t n, int null,
    t2m_error *err);
/* Append what is left of the current payload to tensor `index` of w, the
 * same way: a tensor that passes through unchanged is never copied. */
int t2m_reader_pass(struct t2m_reader *r, struct t2m_writer *w,
    uint32_t index, t2m_error *err);
/* Where the reader is, for messages: "record 3 at offset 4096". */
const char *t2m_reader_where(struct t2m_reader *r);

struct t2m_writer *t2m_writer_new(int fd, const char *name, size_t chunk,
    t2m_error *err);
void t2m_writer_free(struct t2m_writer *w);
/* Write the stream header and the manifest.  m must outlive the writer. */
int t2m_writer_begin(struct t2m_writer *w, const struct t2m_manifest *m,
    t2m_error *err);
/*
 * Append n bytes to tensor `index`, after the bytes already written for
 * it; split into records of at most the chunk size.
 */
int t2m_writer_data(struct t2m_writer *w, uint32_t index, const void *p,
    size_t n, t2m_error *err);
/* The same, n bytes at offset off of the file fd, moved by splice(2)
 * where the OS can. */
int t2m_writer_data_fd(struct t2m_writer *w, uint32_t index, int fd,
    uint64_t off, uint64_t n, t2m_error *err);
/* The same, the next n bytes of in, which are also read into p
 * (t2m_in_tee). */
int t2m_writer_data_in(struct t2m_writer *w, uint32_t index,
    struct t2m_in *in, void *p, size_t n, const char *what, t2m_error *err);
/* Check that every tensor is complete, write the end record, flush. */
int t2m_writer_end(struct t2m_writer *w, t2m_error *err);

/* ---- safetensors ------------------------------------------------------- */

#define T2M_ST_MAX_HEADER 100000000u

/*
 * Read a safetensors header from in (positioned at the file's start) and
 * validate it as the reference parser does.  On success *m lists the
 * tensors in the order of their data (so the bytes that follow can be
 * read front to back) and its metadata holds __metadata__.
 */
int t2m_st_read_header(struct t2m_in *in, struct t2m_manifest **m,
    t2m_error *err);

/*
 * The layout t2m-pack writes for m: tensors sorted by element size,
 * largest first, then by name bytewise; offsets contiguous from 0; the
 * JSON header with __metadata__ (m's metadata with "format": "mlx", and
 * the hidden tensors, their base64 left as placeholders to fill in with
 * t2m_st_fill_hidden) padded with spaces to a multiple of 8.  A tensor
 * tied to another (attribute t2m.tie, t2m-stream(5)) of its dtype and
 * shape has no bytes of its own: "t2m.tie.<name>" is a __metadata__ key
 * whose value is the other's name, and its offset is UINT64_MAX.
 */
struct t2m_st_layout {
	uint32_t *order;	/* order[k] = manifest position of k-th tensor */
	uint32_t ntensors;	/* tensors in the data section */
	uint64_t *offset;	/* offset[i] = data offset of manifest tensor i */
	uint64_t *b64_at;	/* hidden tensor i: where in header its base64
				   goes; UINT64_MAX for the others */
	char *header;		/* 8-byte length + JSON + padding */
	size_t header_len;
	uint64_t data_len;
};

/* A tensor with the attribute t2m.hidden=1 is not part of the model: it
 * is kept so t2m-transpose -r can restore what conversion dropped or
 * merged.  t2m-pack writes it into __metadata__ as
 * "t2m.hidden.<name>": {"dtype":..., "shape":[...], "data":"<base64>"},
 * and t2m-unpack makes it a hidden tensor again. */
int t2m_tensor_hidden(const struct t2m_tensor *t);
/* Position of the tensor whose bytes tensor i has (attribute t2m.tie,
 * t2m-stream(5)) when a file can hold the two as one: of one dtype and
 * shape, neither hidden, the one named tied to no other.  Else -1. */
long t2m_tensor_tie(const struct t2m_manifest *m, uint32_t i);

int t2m_st_layout(const struct t2m_manifest *m, struct t2m_st_layout *l,
    t2m_error *err);
void t2m_st_layout_free(struct t2m_st_layout *l);
/* Put hidden tensor i's bytes (all of them) into l's header. */
void t2m_st_fill_hidden(struct t2m_st_layout *l, uint32_t i,
    const void *bytes, size_t n);
/* The same, into the file fd that l's header was written to (at offset
 * 0), so the header need not be kept.  -1 with errno set. */
int t2m_st_write_hidden(const struct t2m_st_layout *l, int fd, uint32_t i,
    const void *bytes, size_t n);

/* ---- unpack: any supported input to a stream ---------------------------- */

struct t2m_unpack_opts {
	size_t chunk;		/* data record size; 0 = default */
	const char *select;	/* -k: dotted path of the subtree to convert */
	int skip_unsupported;	/* -s: skip quantized, sparse, meta tensors */
	int ignore_crc;		/* -c: do not check zip CRC-32s */
	const char *member;	/* -m: the member of a tar bundle to read */
	struct t2m_buf *listing;	/* -l: list the objects here instead */
	/* Analysis: hand over the manifest, read no tensor data, write no
	 * stream (w may be NULL).  The manifest is valid during the call. */
	int (*manifest)(void *ctx, const struct t2m_manifest *m,
	    t2m_error *err);
	void *manifest_ctx;
	void (*warn)(void *ctx, const char *msg);	/* warnings, or NULL */
	void *warn_ctx;
};

/*
 * Detect in's format and write it to w as a stream (or, with listing
 * set, describe what it holds and write no stream; w may be NULL).
 */
int t2m_unpack(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, t2m_error *err);

/* ---- a growing byte buffer (always NUL-terminated) ------------------ */

struct t2m_buf {
	char *p;
	size_t len, cap;
	int nomem;		/* set once an allocation failed */
};

void t2m_buf_add(struct t2m_buf *b, const void *p, size_t n);
void t2m_buf_str(struct t2m_buf *b, const char *s);
void t2m_buf_printf(struct t2m_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s as a JSON string literal: quotes, escapes for '"', '\\' and controls. */
void t2m_buf_json(struct t2m_buf *b, const char *s);
void t2m_buf_free(struct t2m_buf *b);

/* ---- small helpers for filters ------------------------------------------ */

/* Parse a size such as 4096, 64K, 1M (binary units). 0 ok, -1 bad. */
int t2m_parse_size(const char *s, uint64_t *out);

/* ---- t2m-pack's other outputs: PyTorch, shards; a progress line ------- */

/*
 * A PyTorch checkpoint (torch.save's zip format, version 3) holding m's
 * tensors as a state dict, an OrderedDict in manifest order, laid out
 * before any data arrives.  Tensors with a legacy storage class are saved
 * as torch 1.x and 2.x save them; U16, U32, U64 and the float8 types as
 * torch 2.x saves them (an untyped storage and the dtype).  Refused: a
 * hidden tensor, F4 and F6 (no PyTorch dtype).  Every entry of the zip
 * is stored, its data 64-byte aligned; entries are, in order,
 * <archive>/data.pkl, byteorder, data/<i> for each tensor i, version.  A
 * tie (t2m_tensor_tie) has no entry: it views the storage of the tensor
 * it names, as torch.save saves tied weights.  m must outlive the layout:
 * t2m_pt_finish makes data.pkl from it again rather than hold it.
 */
struct t2m_pt;

/* The archive name torch.save would use for path: its last component
 * without the last extension; "archive" when that is empty or not
 * printable ASCII, or for "-". */
void t2m_pt_archive_name(const char *path, char *name, size_t size);
struct t2m_pt *t2m_pt_layout(const struct t2m_manifest *m,
    const char *archive, t2m_error *err);
/* Where tensor i's data begins in the file (UINT64_MAX for a tie, whose
 * bytes are not written); the file's whole size. */
uint64_t t2m_pt_offset(const struct t2m_pt *p, uint32_t i);
uint64_t t2m_pt_size(const struct t2m_pt *p);
/* Add the next n bytes of tensor i to its CRC-32: each tensor's bytes in
 * order, as a stream delivers them; a tie's too, though not written. */
void t2m_pt_crc(struct t2m_pt *p, uint32_t i, const void *buf, size_t n);
/* Once every tensor's bytes have gone by: a tie whose bytes were not
 * those of the tensor it names, or -1. */
long t2m_pt_untied(const struct t2m_pt *p);
/* Once every tensor's bytes are written: write the rest (pickle, small
 * records, zip headers).  -1 with errno set. */
int t2m_pt_finish(struct t2m_pt *p, int fd);
void t2m_pt_free(struct t2m_pt *p);

/*
 * m split into safetensors shards of at most max bytes of tensor data
 * each, as Hugging Face shards a model: the tensors in t2m_st_layout's
 * order, filled greedily; a tensor larger than max gets a shard of its
 * own.  There is always at least one shard, and at most 99999.  Each
 * shard has its own manifest (m's metadata; the hidden tensors all go
 * to the first shard, a tie to the shard of the tensor it names; m's
 * names and shapes, so m must outlive s) and
 * layout, whose header is not kept (NULL): t2m_st_layout of shard k's
 * manifest makes it again, the same, when the shard is written.
 */
#define T2M_MAX_SHARDS 99999u

struct t2m_st_shards {
	uint32_t n;
	struct t2m_manifest **m;	/* shard k's tensors */
	struct t2m_st_layout *l;	/* shard k's layout */
	uint32_t *shard;	/* shard[i]: the shard of m's tensor i */
	uint32_t *sub;		/* sub[i]: its position in that shard */
	unsigned char *tied;	/* tied[i]: written as its tie's bytes */
	uint64_t total;		/* bytes of tensor data, hidden excluded */
};

int t2m_st_shard(const struct t2m_manifest *m, uint64_t max,
    struct t2m_st_shards *s, t2m_error *err);
void t2m_st_shards_free(struct t2m_st_shards *s);
/* Shard k's file name, "model-00001-of-00003.safetensors" (k from 0). */
void t2m_st_shard_name(const struct t2m_st_shards *s, uint32_t k,
    char *name, size_t size);
/* model.safetensors.index.json: total_size and the weight map, keys
 * sorted bytewise, indented by two spaces, a newline at the end. */
void t2m_st_shard_index(const struct t2m_manifest *m,
    const struct t2m_st_shards *s, struct t2m_buf *b);

/*
 * Files written into a directory that appear together or not at all.
 * When the directory does not exist, the files are written in a new
 * temporary directory beside it (.<dir>.XXXXXX), renamed into place
 * whole on commit.  When it exists, each file is a temporary
 * (.<name>.XXXXXX) in it, and commit renames them one by one in order.
 * Abort, or SIGINT, SIGTERM, SIGHUP, SIGPIPE or SIGXFSZ (with
 * t2m_outdir_signals), removes every temporary.
 */
struct t2m_outdir_file {
	char *path;		/* the final name */
	char *tmp;		/* where it is written until commit */
	int fd;
};

struct t2m_outdir {
	const char *name;	/* dir as the caller gave it, for messages */
	char *dir;
	char *tmpdir;		/* the new directory, or NULL */
	struct t2m_outdir_file *f;
	uint32_t n;
};

/* Create names[0..n) in dir.  On failure err->subject is dir, which
 * must outlive o. */
int t2m_outdir_open(struct t2m_outdir *o, const char *dir,
    const char *const *names, uint32_t n, t2m_error *err);
int t2m_outdir_commit(struct t2m_outdir *o, t2m_error *err);
void t2m_outdir_abort(struct t2m_outdir *o);
void t2m_outdir_signals(void);

/*
 * A progress line on a terminal: "label: 1.0 GiB of 4.0 GiB (25%),
 * 900.0 MiB/s, 0:03 left", redrawn in place at most four times a second
 * and once more when the total is reached, and wiped by
 * t2m_progress_end.  When fd is not a terminal, or belongs to another
 * process group (a background job), nothing is written.
 */
struct t2m_progress {
	int fd, on;
	const char *label;
	uint64_t total, done;
	double start, last;	/* seconds on the monotonic clock */
	size_t shown;		/* characters on the line now */
};

void t2m_progress_begin(struct t2m_progress *p, int fd, uint64_t total,
    const char *label);
void t2m_progress_add(struct t2m_progress *p, uint64_t n);
void t2m_progress_end(struct t2m_progress *p);

/* ---- t2m-pack's copy of the stream into its outputs (lib/pack.c) ----- */

/*
 * Where each tensor of a stream goes in safetensors files: into fd[f]
 * (named name[f] in messages) at layout l[f], f = file[i] for tensor i,
 * found there as tensor sub[i] of that layout.  One file: file and sub
 * are NULL, and tensor i is tensor i.  m[f], file f's manifest, makes
 * its header again where l[f] does not hold it (shards); m is NULL when
 * every l[f] holds its header.  progress, when not NULL, counts the
 * stream's bytes as they are taken.
 */
struct t2m_pack {
	uint32_t nfiles;
	const int *fd;
	const char *const *name;
	struct t2m_st_layout *l;
	const uint32_t *file, *sub;
	struct t2m_manifest *const *m;
	struct t2m_progress *progress;
};

/*
 * Read the rest of stream r, whose manifest is m, into p's files: the
 * headers first, each tensor's bytes to its place, a hidden tensor's
 * into its header at the end; a tie's bytes are not written but its two
 * ends checked against those of the tensor it names.  A file longer
 * than its layout (written over) is cut to length.  -1 on failure, with
 * err->subject the file when writing failed.
 */
int t2m_pack_st(struct t2m_reader *r, const struct t2m_manifest *m,
    const struct t2m_pack *p, t2m_error *err);
/* The same into a PyTorch checkpoint laid out as pt, in fd: each
 * tensor's CRC-32 computed on the way, then the rest of the archive. */
int t2m_pack_pt(struct t2m_reader *r, const struct t2m_manifest *m, int fd,
    const char *name, struct t2m_pt *pt, struct t2m_progress *progress,
    t2m_error *err);

/* ---- sharded input: an index and its shards (lib/sharded.c) ---------- */

/*
 * t2m_unpack reads a Hugging Face shard index (JSON with a "weight_map"
 * from tensor to shard file) as one stream of all its shards.  Given a
 * directory instead, this finds the index in it: its one *.index.json,
 * or of several the one *.safetensors.index.json.  *path (malloc'd) is
 * dir/name.  Fails with a message when there is none, or no one choice.
 */
int t2m_index_find(const char *dir, char **path, t2m_error *err);

#endif
