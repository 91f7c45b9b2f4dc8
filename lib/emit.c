/*
 * emit.c - write the tensors that view a storage while its bytes go by
 * once, front to back.  Contiguous views are cut out of each chunk as it
 * passes, so memory stays at one chunk however large the storage.  A
 * view whose elements are not in C order (a transpose, a step, channels
 * last) needs random access: the part of the storage it spans is held in
 * memory and gathered - the O(tensor) case of the memory contract.
 */
#include <sys/mman.h>

#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit.h"

static uint32_t
seq_of(const struct pk_tensor *x)
{
	return x->storage->seq;
}

int
emit_init(struct emitter *e, struct t2m_writer *w, struct th_pickle *t,
    struct th_item *items, uint32_t nitems, size_t chunk, t2m_error *err)
{
	uint32_t i, s, *fill;

	memset(e, 0, sizeof *e);
	e->w = w;
	e->items = items;
	e->nitems = nitems;
	e->nstorages = t->nstorages;
	/* Chunks hold whole elements of any type (16 bytes at most). */
	e->chunk = chunk < 16 ? 16 : chunk & ~(size_t)15;
	e->by_storage = malloc((nitems + 1) * sizeof *e->by_storage);
	e->first = calloc(t->nstorages + 2, sizeof *e->first);
	fill = calloc(t->nstorages + 1, sizeof *fill);
	e->buf = malloc(e->chunk);
	e->out = malloc(e->chunk);
	if (e->by_storage == NULL || e->first == NULL || fill == NULL ||
	    e->buf == NULL || e->out == NULL) {
		free(fill);
		emit_free(e);
		return t2m_fail(err, "out of memory");
	}
	/* Counting sort of the items by storage. */
	for (i = 0; i < nitems; i++)
		e->first[seq_of(items[i].tensor) + 1]++;
	for (s = 0; s < t->nstorages; s++)
		e->first[s + 1] += e->first[s];
	for (i = 0; i < nitems; i++) {
		s = seq_of(items[i].tensor);
		e->by_storage[e->first[s] + fill[s]++] = i;
	}
	free(fill);
	return 0;
}

void
emit_free(struct emitter *e)
{
	free(e->by_storage);
	free(e->first);
	free(e->buf);
	free(e->out);
	memset(e, 0, sizeof *e);
}

uint32_t
emit_users(const struct emitter *e, const struct pk_storage *s)
{
	return e->first[s->seq + 1] - e->first[s->seq];
}

/* Order of items by what they view (storage, offset, dtype, sizes,
 * strides), then by position: the same view comes together, its first
 * name first. */
static const struct th_item *sort_items;

static uint64_t
view_seq(const struct pk_tensor *x)
{
	return x->storage ? (uint64_t)x->storage->seq + 1 : 0;
}

static int
by_view(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	const struct pk_tensor *x = sort_items[a].tensor;
	const struct pk_tensor *y = sort_items[b].tensor;
	int n;

	if (view_seq(x) != view_seq(y))
		return view_seq(x) < view_seq(y) ? -1 : 1;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	if (x->dtype != y->dtype || x->ndim != y->ndim ||
	    (x->bits & TX_STRIDES) != (y->bits & TX_STRIDES))
		return x->dtype != y->dtype ? x->dtype - y->dtype :
		    x->ndim != y->ndim ? x->ndim - y->ndim :
		    (x->bits & TX_STRIDES) - (y->bits & TX_STRIDES);
	n = x->bits & TX_STRIDES ? 2 * x->ndim : x->ndim;
	if (x != y && (n = memcmp(x->dim, y->dim, (size_t)n *
	    sizeof x->dim[0])) != 0)
		return n;
	return a < b ? -1 : a > b;
}

static int
same_view(const struct pk_tensor *x, const struct pk_tensor *y)
{
	int n = x->bits & TX_STRIDES ? 2 * x->ndim : x->ndim;

	if (x->storage == NULL)
		return 0;
	return x == y || (x->storage == y->storage &&
	    x->offset == y->offset && x->dtype == y->dtype &&
	    x->ndim == y->ndim &&
	    (x->bits & TX_STRIDES) == (y->bits & TX_STRIDES) &&
	    memcmp(x->dim, y->dim, (size_t)n * sizeof x->dim[0]) == 0);
}

/*
 * Names for one tensor (tied weights): the same storage, offset, dtype,
 * sizes and strides.  Each but the first in the checkpoint's order gets
 * t2m.tie, the first one's name (t2m-stream(5)).  Sorted, not compared
 * pair by pair: a storage may have a great many views.
 */
static int
mark_ties(struct t2m_manifest *m, uint32_t base,
    const struct th_item *items, uint32_t nitems, t2m_error *err)
{
	uint32_t *v, k, first = 0;
	int rc = 0;

	if (nitems < 2)
		return 0;
	if ((v = malloc(nitems * sizeof *v)) == NULL)
		return t2m_fail(err, "out of memory");
	for (k = 0; k < nitems; k++)
		v[k] = k;
	/* qsort has no context argument in C11; unpack is single-threaded. */
	sort_items = items;
	qsort(v, nitems, sizeof *v, by_view);
	sort_items = NULL;
	for (k = 1; k < nitems && rc == 0; k++) {
		if (!same_view(items[v[first]].tensor, items[v[k]].tensor)) {
			first = k;
			continue;
		}
		if (m->tensors[base + v[k]].nbytes > 0)
			rc = t2m_attrs_set(m, &m->tensors[base + v[k]].attrs,
			    "t2m.tie", m->tensors[base + v[first]].name, err);
	}
	free(v);
	return rc;
}

int
emit_manifest(struct t2m_manifest *m, struct th_item *items,
    uint32_t nitems, t2m_error *err)
{
	struct pk_tensor *x;
	uint32_t i, base = m->ntensors;

	/* Exactly the room needed; more than the limit fails below. */
	if (nitems <= T2M_MAX_TENSORS - m->ntensors &&
	    t2m_manifest_reserve(m, m->ntensors + nitems, m->nmodules) < 0)
		return t2m_fail(err, "out of memory at %u tensors", nitems);
	for (i = 0; i < nitems; i++) {
		x = items[i].tensor;
		if (t2m_manifest_add(m, items[i].name, x->dtype, x->ndim,
		    th_size(x), err) == NULL)
			return -1;
		free(items[i].name);
		items[i].name = NULL;
	}
	return mark_ties(m, base, items, nitems, err);
}

/* Reverse each element's bytes: big-endian storages become little. */
static void
swap(unsigned char *p, size_t n, unsigned isz)
{
	unsigned char t;
	size_t k;
	unsigned a, b;

	if (isz <= 1)
		return;
	for (k = 0; k + isz <= n; k += isz)
		for (a = 0, b = isz - 1; a < b; a++, b--) {
			t = p[k + a];
			p[k + a] = p[k + b];
			p[k + b] = t;
		}
}

/* Complex numbers swap each half on its own. */
static unsigned
swap_unit(int dtype)
{
	unsigned isz = t2m_dtype_bits(dtype) / 8;

	return dtype == T2M_C64 || dtype == T2M_C128 ? isz / 2 : isz;
}

/* Copy a strided view out of region (which starts at storage byte base)
 * in C order, writing chunk by chunk. */
static int
gather(struct emitter *e, uint32_t item, const struct pk_tensor *x,
    const unsigned char *region, uint64_t base, t2m_error *err)
{
	uint64_t idx[T2M_MAXDIM] = { 0 }, numel = th_numel(x), k, elem;
	const uint64_t *size = th_size(x);
	const int64_t *stride = th_stride(x);
	unsigned isz = th_itemsize(x);
	size_t fill = 0;
	int d;

	for (k = 0; k < numel; k++) {
		elem = x->offset;
		for (d = 0; d < x->ndim; d++)
			elem += idx[d] * (uint64_t)stride[d];
		memcpy(e->out + fill, region + (elem * isz - base), isz);
		fill += isz;
		if (fill + isz > e->chunk) {
			if (t2m_writer_data(e->w, e->base + item, e->out,
			    fill, err) < 0)
				return -1;
			fill = 0;
		}
		for (d = x->ndim - 1; d >= 0; d--) {
			if (++idx[d] < size[d])
				break;
			idx[d] = 0;
		}
	}
	if (fill && t2m_writer_data(e->w, e->base + item, e->out, fill,
	    err) < 0)
		return -1;
	return 0;
}

/*
 * A file that shrinks while it is read through a mapping faults on the
 * pages it lost: SIGBUS, which kills the process.  While emit_direct
 * checks a storage, on_bus jumps back to the check in file_crc, which
 * fails as a short read would.  A SIGBUS anywhere else gets the default
 * action, as before.  One check at a time: the filters have one thread.
 */
static sigjmp_buf *volatile bus_jump;

static void
on_bus(int sig)
{
	if (bus_jump != NULL)
		siglongjmp(*bus_jump, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Catch SIGBUS with on_bus; 0 if it cannot be. */
static int
bus_catch(struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_bus;
	sa.sa_flags = SA_NODEFER;	/* unblocked after the jump */
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, old) == 0;
}

/* The CRC-32 of n mapped bytes; -1 if reading them faults. */
static int
crc_guarded(const unsigned char *p, size_t n, uint32_t *crc)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 0) != 0) {
		bus_jump = NULL;
		return -1;
	}
	bus_jump = &jb;
	*crc = t2m_crc32(*crc, p, n);
	bus_jump = NULL;
	return 0;
}

/*
 * The CRC-32 of n bytes at offset at of file fd, read through a window
 * mapped WINDOW bytes at a time, up to limit: checking costs no copy,
 * and the pieces emit_direct checks one after another share a mapping,
 * *w.  Without w (SIGBUS is not caught), or where mapping fails, through
 * the chunk buffer.
 */
#define WINDOW ((size_t)4 << 20)
#define DIRECT_MIN ((uint64_t)128 << 10)
#ifndef MAP_POPULATE
#define MAP_POPULATE 0		/* Linux: fault the window in at once */
#endif

struct window {
	unsigned char *p;	/* NULL when nothing is mapped */
	uint64_t at;		/* its file offset (a page's) */
	size_t len;
};

static void
unmap(struct window *w)
{
	if (w->p != NULL)
		munmap(w->p, w->len);
	w->p = NULL;
}

static int
file_crc(struct emitter *e, int fd, uint64_t at, uint64_t n, uint64_t limit,
    struct window *w, uint32_t *crc, t2m_error *err)
{
	static long page;
	uint64_t pos, off, lead;
	unsigned char *p;
	size_t k, len;

	if (page == 0 && (page = sysconf(_SC_PAGESIZE)) <= 0)
		page = 4096;
	for (pos = 0; pos < n; pos += k) {
		off = at + pos;
		if (w != NULL && (w->p == NULL || off < w->at ||
		    off >= w->at + w->len)) {
			unmap(w);
			lead = off % (uint64_t)page;
			len = limit - off < WINDOW ? (size_t)(limit - off) :
			    WINDOW;
			len += (size_t)lead;
			p = mmap(NULL, len, PROT_READ, MAP_SHARED |
			    MAP_POPULATE, fd, (off_t)(off - lead));
			if (p != MAP_FAILED)
				*w = (struct window){ p, off - lead, len };
		}
		if (w != NULL && w->p != NULL) {
			k = w->at + w->len - off < n - pos ?
			    (size_t)(w->at + w->len - off) : (size_t)(n - pos);
			if (crc_guarded(w->p + (off - w->at), k, crc) < 0)
				return t2m_fail(err, "offset %llu: the file "
				    "shrank while it was read",
				    (unsigned long long)off);
			continue;
		}
		k = n - pos < e->chunk ? (size_t)(n - pos) : e->chunk;
		if (t2m_pread_full(fd, e->buf, k, off, err) < 0)
			return -1;
		*crc = t2m_crc32(*crc, e->buf, k);
	}
	return 0;
}

/*
 * The storage lies in a file as it is: each tensor viewing it is moved
 * from the file to the stream without this process touching its bytes
 * (splice(2)), beyond reading them once for the CRC.  The two alternate a
 * quarter of a pipe at a time, so that this process checks one piece
 * while the processes downstream copy the pieces before, and the copy
 * finds in the cache what the check has just read.  Checked whole and
 * then sent, each side waits for the other; a pipe's worth at a time,
 * the pipeline falls now and then into a lockstep twice as slow
 * (measured in scripts/bench).  The CRC is compared when the storage is
 * done, and nothing downstream is final before that.
 */
#define DIRECT_STEP ((uint64_t)T2M_PIPE_SIZE / 4)
static int
emit_direct(struct emitter *e, const struct pk_storage *s,
    struct bytesrc *src, uint32_t *crc, t2m_error *err)
{
	const uint32_t *users = e->by_storage + e->first[s->seq];
	uint32_t nusers = emit_users(e, s), u;
	const struct pk_tensor *x;
	uint64_t checked = 0, b, end, from, to, limit = src->at + s->nbytes;
	struct window win = { NULL, 0, 0 }, *w = NULL;
	struct sigaction old;
	int rc = -1;

	if (e->crc && bus_catch(&old))
		w = &win;

	for (u = 0; u < nusers; u++) {
		x = e->items[users[u]].tensor;
		if (th_numel(x) == 0)
			continue;
		th_span(x, &b, &end);
		for (from = b; from < end; from = to) {
			to = (from / DIRECT_STEP + 1) * DIRECT_STEP;
			if (to > end)
				to = end;
			if (e->crc && checked < to) {
				if (file_crc(e, src->fd, src->at + checked,
				    to - checked, limit, w, crc, err) < 0)
					goto out;
				checked = to;
			}
			if (t2m_writer_data_fd(e->w, e->base + users[u],
			    src->fd, src->at + from, to - from, err) < 0)
				goto out;
		}
	}
	if (e->crc && checked < s->nbytes &&
	    file_crc(e, src->fd, src->at + checked, s->nbytes - checked, limit,
	    w, crc, err) < 0)
		goto out;
	rc = 0;
out:
	if (w != NULL) {
		unmap(w);
		sigaction(SIGBUS, &old, NULL);
	}
	return rc;
}

/* The one item with elements that views storage s, or UINT32_MAX. */
static uint32_t
sole_user(const struct emitter *e, const struct pk_storage *s)
{
	const uint32_t *users = e->by_storage + e->first[s->seq];
	uint32_t nusers = emit_users(e, s), u, sole = UINT32_MAX;

	for (u = 0; u < nusers; u++) {
		if (th_numel(e->items[users[u]].tensor) == 0)
			continue;
		if (sole != UINT32_MAX)
			return UINT32_MAX;
		sole = users[u];
	}
	return sole;
}

/*
 * The storage's bytes are the next of a pipe and one contiguous tensor
 * views them: its part is passed on by tee(2) as it is read for the CRC,
 * so that this process copies it once, not twice.  Bytes outside the view
 * are read and dropped.
 */
static int
emit_teed(struct emitter *e, const struct pk_storage *s,
    struct bytesrc *src, uint32_t item, uint32_t *crc, t2m_error *err)
{
	uint64_t pos, b, end, from, to;
	size_t n;

	th_span(e->items[item].tensor, &b, &end);
	for (pos = 0; pos < s->nbytes; pos += n) {
		n = s->nbytes - pos < e->chunk ? (size_t)(s->nbytes - pos) :
		    e->chunk;
		from = pos > b ? pos : b;
		to = pos + n < end ? pos + n : end;
		if (from >= to)
			from = to = pos + n;
		if ((from > pos && src->read(src->ctx, e->buf,
		    (size_t)(from - pos), err) < 0) ||
		    (to > from && t2m_writer_data_in(e->w, e->base + item,
		    src->in, e->buf + (from - pos), (size_t)(to - from),
		    "storage data", err) < 0) ||
		    (pos + n > to && src->read(src->ctx, e->buf + (to - pos),
		    (size_t)(pos + n - to), err) < 0))
			return -1;
		if (e->crc)
			*crc = t2m_crc32(*crc, e->buf, n);
	}
	return 0;
}

/*
 * The memo lets a small pickle name one view a million times, each
 * writing the storage's bytes again: the tensors of the storages read so
 * far are held to T2M_FANOUT times their bytes (internal.h) - checked
 * before a storage's bytes are read, against storages whose size the
 * input has confirmed by then.
 */
static int
fanout(struct emitter *e, const struct pk_storage *s, t2m_error *err)
{
	const uint32_t *users = e->by_storage + e->first[s->seq];
	uint32_t nusers = emit_users(e, s), u;
	const struct pk_tensor *x;
	uint64_t n, give = 0;

	for (u = 0; u < nusers; u++) {
		x = e->items[users[u]].tensor;
		/* No view is larger than its storage, but repeats (capped
		 * by the walk); neither overflows. */
		n = th_numel(x) * (t2m_dtype_bits(x->dtype) / 8);
		give = n > UINT64_MAX - give ? UINT64_MAX : give + n;
	}
	if (t2m_fanout_add(&e->fan, s->nbytes, give) < 0)
		return t2m_fail(err, "storage '%s': with those before it, its "
		    "%u tensors come to more than %d times the storages' "
		    "bytes and %llu MiB (shared references multiply)", s->key,
		    nusers, T2M_FANOUT,
		    (unsigned long long)(T2M_FANOUT_SLACK >> 20));
	return 0;
}

int
emit_storage(struct emitter *e, const struct pk_storage *s,
    struct bytesrc *src, uint32_t *crc, t2m_error *err)
{
	const uint32_t *users = e->by_storage + e->first[s->seq];
	uint32_t nusers = emit_users(e, s), u;
	uint64_t pos, lo = UINT64_MAX, hi = 0, b, end, from, to;
	const struct pk_tensor *x;
	unsigned char *region = NULL;
	size_t cap = 0;		/* bytes of region allocated */
	unsigned unit = 0;
	int strided = 0, rc = -1;
	size_t n;

	*crc = 0;
	if (fanout(e, s, err) < 0)
		return -1;
	for (u = 0; u < nusers; u++) {
		x = e->items[users[u]].tensor;
		if (unit && swap_unit(x->dtype) != unit)
			return t2m_fail(err, "storage '%s' is viewed as two "
			    "different types", s->key);
		unit = swap_unit(x->dtype);
		if (th_numel(x) == 0)
			continue;
		th_span(x, &b, &end);
		if (b < lo)
			lo = b;
		if (end > hi)
			hi = end;
		if (!th_contiguous(x))
			strided = 1;
	}
	/* Small storages are cheaper read than mapped and spliced. */
	if (src->direct && !strided && !(e->swap && unit > 1) &&
	    s->nbytes >= DIRECT_MIN)
		return emit_direct(e, s, src, crc, err);
	if (src->in && !strided && !(e->swap && unit > 1) &&
	    s->nbytes >= DIRECT_MIN && (u = sole_user(e, s)) != UINT32_MAX)
		return emit_teed(e, s, src, u, crc, err);
	/* The region a strided view spans grows as its bytes arrive, so a
	 * storage that only claims to be huge costs nothing. */
	/* One pass over the storage's bytes. */
	for (pos = 0; pos < s->nbytes; pos += n) {
		n = s->nbytes - pos < e->chunk ? (size_t)(s->nbytes - pos) :
		    e->chunk;
		if (src->read(src->ctx, e->buf, n, err) < 0)
			goto out;
		if (e->crc)
			*crc = t2m_crc32(*crc, e->buf, n);
		if (e->swap && unit > 1)
			swap(e->buf, n, unit);
		if (strided && pos + n > lo && pos < hi) {
			from = pos > lo ? pos : lo;
			to = pos + n < hi ? pos + n : hi;
			if (to - lo > cap) {
				unsigned char *nr;
				size_t ncap = cap ? cap : (size_t)1 << 20;
				while (ncap < to - lo)
					ncap = ncap > SIZE_MAX / 2 ? SIZE_MAX :
					    ncap * 2;
				if (ncap > hi - lo)
					ncap = (size_t)(hi - lo);
				if ((nr = realloc(region, ncap)) == NULL) {
					t2m_fail(err, "out of memory holding "
					    "%llu bytes of storage '%s' for a "
					    "strided view", (unsigned long long)
					    (hi - lo), s->key);
					goto out;
				}
				region = nr;
				cap = ncap;
			}
			memcpy(region + (from - lo), e->buf + (from - pos),
			    (size_t)(to - from));
		}
		for (u = 0; u < nusers; u++) {
			x = e->items[users[u]].tensor;
			if (th_numel(x) == 0 || !th_contiguous(x))
				continue;
			th_span(x, &b, &end);
			from = pos > b ? pos : b;
			to = pos + n < end ? pos + n : end;
			if (from < to && t2m_writer_data(e->w,
			    e->base + users[u], e->buf + (from - pos),
			    (size_t)(to - from), err) < 0)
				goto out;
		}
	}
	for (u = 0; strided && u < nusers; u++) {
		x = e->items[users[u]].tensor;
		if (th_numel(x) > 0 && !th_contiguous(x) &&
		    gather(e, users[u], x, region, lo, err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(region);
	return rc;
}
