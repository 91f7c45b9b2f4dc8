/* test_safetensors.c - the safetensors header reader and the pack layout. */
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

/* ---- files built byte by byte ---- */

static int
bytes_fd(const void *p, size_t n)
{
	char path[] = "/tmp/t2m-unit.XXXXXX";
	int fd;

	if ((fd = mkstemp(path)) < 0) {
		perror("mkstemp");
		exit(1);
	}
	unlink(path);
	if (t2m_write_full(fd, p, n) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		perror("temporary file");
		exit(1);
	}
	return fd;
}

/* 8-byte length `declared`, then hlen bytes of header, then ndata bytes. */
static unsigned char *
st_image(uint64_t declared, const char *hdr, size_t hlen, size_t ndata,
    size_t *len)
{
	unsigned char *p;
	size_t i;

	*len = 8 + hlen + ndata;
	if ((p = malloc(*len + 1)) == NULL)
		abort();
	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(declared >> (8 * i));
	memcpy(p + 8, hdr, hlen);
	for (i = 0; i < ndata; i++)
		p[8 + hlen + i] = (unsigned char)(i * 7 + 1);
	return p;
}

static t2m_error sterr;
static struct t2m_manifest *stm;	/* the last manifest read */
static uint64_t st_pos;			/* input position after the header */

/*
 * Read the header of a file made of declared, hdr (hlen bytes) and ndata
 * bytes of data.  Returns "" and leaves the manifest in stm, or the
 * message.  pipe_it feeds it through a pipe instead of a file.
 */
static const char *
st_read_raw(uint64_t declared, const char *hdr, size_t hlen, size_t ndata,
    int pipe_it)
{
	struct t2m_in in;
	unsigned char *img;
	size_t len;
	int fd, p[2], rc;

	t2m_manifest_free(stm);
	stm = NULL;
	sterr.msg[0] = '\0';
	img = st_image(declared, hdr, hlen, ndata, &len);
	if (pipe_it) {
		/* Small enough for the pipe's buffer, so no deadlock. */
		if (len > 60000 || pipe(p) < 0 ||
		    t2m_write_full(p[1], img, len) < 0)
			abort();
		close(p[1]);
		fd = p[0];
	} else {
		fd = bytes_fd(img, len);
	}
	free(img);
	if (t2m_in_init(&in, fd, "test.safetensors", 0, &sterr) < 0) {
		close(fd);
		return sterr.msg;
	}
	rc = t2m_st_read_header(&in, &stm, &sterr);
	st_pos = in.pos;
	t2m_in_free(&in);
	close(fd);
	if (rc < 0) {
		if (stm != NULL) {
			printf("# failed, yet returned a manifest\n");
			unit_failures++;
		}
		return sterr.msg[0] ? sterr.msg : "(failed without a message)";
	}
	return "";
}

static const char *
st_read(const char *json, size_t ndata)
{
	return st_read_raw(strlen(json), json, strlen(json), ndata, 0);
}

/* Tensor k of stm, checked against name, dtype and shape. */
static void
check_tensor(uint32_t k, const char *name, int dtype, int ndim,
    const uint64_t *shape, uint64_t nbytes)
{
	const struct t2m_tensor *t;
	int d;

	if (stm == NULL || k >= stm->ntensors) {
		printf("# no tensor %u\n", k);
		unit_failures++;
		return;
	}
	t = &stm->tensors[k];
	CHECK_STR(name, t->name);
	CHECK_INT(dtype, t->dtype);
	CHECK_INT(ndim, t->ndim);
	for (d = 0; d < ndim && d < t->ndim; d++)
		CHECK_U64(shape[d], t->shape[d]);
	CHECK_U64(nbytes, t->nbytes);
}

/* ---- valid headers ---- */

TEST(st_read_normal)
{
	static const char h[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],"
	    "\"data_offsets\":[0,24]},\"b\":{\"dtype\":\"I64\",\"shape\":[2],"
	    "\"data_offsets\":[24,40]}}";

	CHECK_STR("", st_read(h, 40));
	CHECK_INT(2, stm->ntensors);
	check_tensor(0, "w", T2M_F32, 2, (uint64_t[]){ 2, 3 }, 24);
	check_tensor(1, "b", T2M_I64, 1, (uint64_t[]){ 2 }, 16);
	CHECK_INT(0, stm->meta.n);
	CHECK_INT(0, stm->info.n);
	/* The input is left at the first data byte. */
	CHECK_U64(8 + strlen(h), st_pos);
	/* A pipe gives the same answer, with no size to check against. */
	CHECK_STR("", st_read_raw(strlen(h), h, strlen(h), 40, 1));
	CHECK_INT(2, stm->ntensors);
	CHECK_U64(8 + strlen(h), st_pos);
}

TEST(st_read_scalar_and_empty)
{
	CHECK_STR("", st_read("{\"s\":{\"dtype\":\"F64\",\"shape\":[],"
	    "\"data_offsets\":[0,8]}}", 8));
	check_tensor(0, "s", T2M_F64, 0, NULL, 8);

	/* An empty tensor sits at the offset where the next one begins. */
	CHECK_STR("", st_read("{\"x\":{\"dtype\":\"U8\",\"shape\":[4],"
	    "\"data_offsets\":[0,4]},\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],"
	    "\"data_offsets\":[0,0]}}", 4));
	CHECK_INT(2, stm->ntensors);
	check_tensor(0, "z", T2M_F32, 2, (uint64_t[]){ 0, 3 }, 0);
	check_tensor(1, "x", T2M_U8, 1, (uint64_t[]){ 4 }, 4);

	CHECK_STR("", st_read("{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],"
	    "\"data_offsets\":[4,4]},\"x\":{\"dtype\":\"U8\",\"shape\":[4],"
	    "\"data_offsets\":[0,4]}}", 4));
	check_tensor(0, "x", T2M_U8, 1, (uint64_t[]){ 4 }, 4);
	check_tensor(1, "z", T2M_F32, 2, (uint64_t[]){ 0, 3 }, 0);

	CHECK_STR("", st_read("{\"e\":{\"dtype\":\"BOOL\",\"shape\":[0],"
	    "\"data_offsets\":[0,0]}}", 0));
	check_tensor(0, "e", T2M_BOOL, 1, (uint64_t[]){ 0 }, 0);
}

TEST(st_read_offset_order)
{
	CHECK_STR("", st_read("{\"m\":{\"dtype\":\"U8\",\"shape\":[4],"
	    "\"data_offsets\":[4,8]},\"z\":{\"dtype\":\"I16\",\"shape\":[2],"
	    "\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[8,12]}}", 12));
	CHECK_INT(3, stm->ntensors);
	check_tensor(0, "z", T2M_I16, 1, (uint64_t[]){ 2 }, 4);
	check_tensor(1, "m", T2M_U8, 1, (uint64_t[]){ 4 }, 4);
	check_tensor(2, "a", T2M_F32, 1, (uint64_t[]){ 1 }, 4);
	CHECK_INT(1, t2m_manifest_find(stm, "m"));
}

TEST(st_read_whitespace_and_extras)
{
	static const char h[] = " \n\t\r{ \"w\" : { \"shape\" : [ 1 , 2 ] ,"
	    "\"extra\":{\"deep\":[1,{\"x\":null},\"s\",-1.5e3,true]},"
	    "\"dtype\":\"BF16\", \"data_offsets\":[0,4] } }        ";

	CHECK_STR("", st_read(h, 4));
	CHECK_INT(1, stm->ntensors);
	check_tensor(0, "w", T2M_BF16, 2, (uint64_t[]){ 1, 2 }, 4);
	CHECK_U64(8 + strlen(h), st_pos);

	CHECK_STR("", st_read("{}", 0));
	CHECK_INT(0, stm->ntensors);
	CHECK_INT(0, stm->meta.n);
	CHECK_U64(10, st_pos);
	CHECK_STR("", st_read("{}      ", 0));
	CHECK_STR("", st_read("{ }", 0));
}

TEST(st_read_metadata)
{
	CHECK_STR("", st_read("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
	    "\"data_offsets\":[0,1]},\"__metadata__\":{\"format\":\"pt\","
	    "\"k\\u00e9y\":\"v\\\"al\\n\",\"empty\":\"\"}}", 1));
	CHECK_INT(1, stm->ntensors);
	CHECK_INT(3, stm->meta.n);
	CHECK_STR("format", stm->meta.kv[0].key);
	CHECK_STR("pt", stm->meta.kv[0].val);
	CHECK_STR("k\xc3\xa9y", stm->meta.kv[1].key);
	CHECK_STR("v\"al\n", stm->meta.kv[1].val);
	CHECK_STR("empty", stm->meta.kv[2].key);
	CHECK_STR("", stm->meta.kv[2].val);
	/* Metadata never lands in info, and is not a tensor. */
	CHECK_INT(0, stm->info.n);
	CHECK_INT(-1, t2m_manifest_find(stm, "__metadata__"));

	CHECK_STR("", st_read("{\"__metadata__\":{}}", 0));
	CHECK_INT(0, stm->meta.n);
	CHECK_STR("", st_read("{\"__metadata__\":null}", 0));
	CHECK_INT(0, stm->meta.n);
}

/* Every dtype safetensors has is read; C128, which it lacks, is not. */
TEST(st_read_every_dtype)
{
	char h[256];
	uint64_t n;
	int dt;
	t2m_error err;

	for (dt = 1; dt < T2M_DTYPE_END; dt++) {
		CHECK_INT(0, t2m_tensor_bytes(dt, 1, (uint64_t[]){ 8 }, &n,
		    &err));
		snprintf(h, sizeof h, "{\"t\":{\"dtype\":\"%s\",\"shape\":[8],"
		    "\"data_offsets\":[0,%llu]}}", t2m_dtype_name(dt),
		    (unsigned long long)n);
		if (dt == T2M_C128) {
			CHECK_MSG("unknown dtype 'C128'", st_read(h, n));
			continue;
		}
		CHECK_STR("", st_read(h, n));
		check_tensor(0, "t", dt, 1, (uint64_t[]){ 8 }, n);
	}
}

/* ---- refused headers ---- */

TEST(st_rejects_header_length)
{
	static const char h[] = "{}";

	CHECK_MSG("header length is 0", st_read_raw(0, h, 2, 0, 0));
	CHECK_MSG("header length 100000001 exceeds 100000000",
	    st_read_raw(100000001, h, 2, 0, 0));
	CHECK_MSG("exceeds", st_read_raw(UINT64_MAX, h, 2, 0, 0));
	/* At the limit the length is allowed, and then the file is short. */
	CHECK_MSG("header length 100000000 runs past the end of the 10-byte "
	    "file", st_read_raw(100000000, h, 2, 0, 0));
	CHECK_MSG("header length 3 runs past the end",
	    st_read_raw(3, h, 2, 0, 0));
	CHECK_MSG("truncated header (3 bytes expected, 2 read)",
	    st_read_raw(3, h, 2, 0, 1));
	CHECK_MSG("header length 2 runs past the end of the 8-byte file",
	    st_read_raw(2, h, 0, 0, 0));
	{
		struct t2m_manifest *keep = t2m_manifest_new(), *m = keep;
		struct t2m_in in;
		int fd = bytes_fd("\x02\0\0", 3);

		CHECK_INT(0, t2m_in_init(&in, fd, "short", 0, &sterr));
		CHECK_INT(-1, t2m_st_read_header(&in, &m, &sterr));
		CHECK_MSG("3 bytes: too short for a safetensors header",
		    sterr.msg);
		CHECK(m == NULL);
		t2m_in_free(&in);
		t2m_manifest_free(keep);
		close(fd);
	}
}

TEST(st_rejects_bad_json)
{
	static const char nul_padded[] = "{}\0\0\0\0\0\0";

	CHECK_MSG("not valid UTF-8", st_read("{\"\xff\":{}}", 0));
	CHECK_MSG("not valid UTF-8", st_read("{\"__metadata__\":"
	    "{\"a\":\"\xc0\x80\"}}", 0));
	CHECK_MSG("found byte 0xc3", st_read("{\xc3\xa9}", 0));
	CHECK_MSG("trailing characters after the header object",
	    st_read_raw(8, nul_padded, 8, 0, 0));
	CHECK_MSG("header byte 2: trailing characters",
	    st_read_raw(8, nul_padded, 8, 0, 0));
	CHECK_MSG("trailing characters", st_read("{} {}", 0));
	CHECK_MSG("trailing characters", st_read("{}x", 0));
	CHECK_MSG("the header is a JSON object", st_read("[]", 0));
	CHECK_MSG("the header is a JSON object", st_read("\"{}\"", 0));
	CHECK_MSG("header byte 1", st_read("{", 0));
	CHECK_MSG("a tensor entry is an object", st_read("{\"w\":[1]}", 0));
	CHECK_MSG("a tensor entry is an object", st_read("{\"w\":null}", 0));
	CHECK_MSG("',' or '}'", st_read("{\"__metadata__\":{} \"w\":{}}", 0));
}

#define ENTRY(dtype, shape, offs) \
	"{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" \
	offs "}"

TEST(st_rejects_bad_entries)
{
	CHECK_MSG("unknown dtype 'f32'",
	    st_read("{\"w\":" ENTRY("f32", "[1]", "[0,4]") "}", 4));
	CHECK_MSG("unknown dtype 'Q8'",
	    st_read("{\"w\":" ENTRY("Q8", "[1]", "[0,1]") "}", 1));
	CHECK_MSG("unknown dtype 'F32 '",
	    st_read("{\"w\":" ENTRY("F32 ", "[1]", "[0,4]") "}", 4));
	CHECK_MSG("dtype is not a string", st_read("{\"w\":{\"dtype\":10,"
	    "\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
	CHECK_MSG("tensor 'w' lacks a shape", st_read("{\"w\":{\"dtype\":"
	    "\"F32\",\"data_offsets\":[0,4]}}", 4));
	CHECK_MSG("tensor 'w' lacks a dtype", st_read("{\"w\":{\"shape\":[1],"
	    "\"data_offsets\":[0,4]}}", 4));
	CHECK_MSG("tensor 'w' lacks data_offsets", st_read("{\"w\":{\"dtype\":"
	    "\"F32\",\"shape\":[1]}}", 4));
	CHECK_MSG("lacks", st_read("{\"w\":{}}", 0));
	CHECK_MSG("data_offsets has 3 entries, not 2",
	    st_read("{\"w\":" ENTRY("U8", "[1]", "[0,1,1]") "}", 1));
	CHECK_MSG("data_offsets has 1 entries",
	    st_read("{\"w\":" ENTRY("U8", "[1]", "[1]") "}", 1));
	CHECK_MSG("data_offsets has 0 entries",
	    st_read("{\"w\":" ENTRY("U8", "[0]", "[]") "}", 0));
	CHECK_MSG("more than 3 entries",
	    st_read("{\"w\":" ENTRY("U8", "[1]", "[0,1,1,1]") "}", 1));
	CHECK_MSG("negative number",
	    st_read("{\"w\":" ENTRY("U8", "[-1]", "[0,1]") "}", 1));
	CHECK_MSG("negative number",
	    st_read("{\"w\":" ENTRY("U8", "[1]", "[0,-1]") "}", 1));
	CHECK_MSG("fraction or exponent",
	    st_read("{\"w\":" ENTRY("U8", "[1.0]", "[0,1]") "}", 1));
	CHECK_MSG("fraction or exponent",
	    st_read("{\"w\":" ENTRY("U8", "[1]", "[0,1e0]") "}", 1));
	CHECK_MSG("shape is an array",
	    st_read("{\"w\":" ENTRY("U8", "1", "[0,1]") "}", 1));
	CHECK_MSG("data_offsets is an array",
	    st_read("{\"w\":" ENTRY("U8", "[1]", "{}") "}", 1));
	CHECK_MSG("field 'dtype' appears twice", st_read("{\"w\":{\"dtype\":"
	    "\"U8\",\"shape\":[1],\"dtype\":\"U8\",\"data_offsets\":[0,1]}}",
	    1));
	CHECK_MSG("field 'shape' appears twice", st_read("{\"w\":{\"shape\":"
	    "[1],\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
	    1));
	CHECK_MSG("field 'data_offsets' appears twice", st_read("{\"w\":"
	    "{\"data_offsets\":[0,1],\"dtype\":\"U8\",\"shape\":[1],"
	    "\"data_offsets\":[0,1]}}", 1));
	CHECK_MSG("more than 64 entries", st_read("{\"w\":" ENTRY("U8",
	    "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
	    "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
	    "1]", "[0,1]") "}", 1));
	CHECK_STR("", st_read("{\"w\":" ENTRY("U8",
	    "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
	    "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]",
	    "[0,1]") "}", 1));
	CHECK_INT(64, stm->tensors[0].ndim);
	CHECK_MSG("shape overflows", st_read("{\"w\":" ENTRY("U8",
	    "[4294967296,4294967296]", "[0,0]") "}", 0));
	CHECK_MSG("whole bytes",
	    st_read("{\"w\":" ENTRY("F4", "[3]", "[0,1]") "}", 1));
}

TEST(st_rejects_bad_offsets)
{
	CHECK_MSG("tensor 'b': data_offsets [8, 12] leave a hole (the "
	    "previous tensor ends at 4)", st_read("{\"a\":" ENTRY("U8", "[4]",
	    "[0,4]") ",\"b\":" ENTRY("U8", "[4]", "[8,12]") "}", 12));
	CHECK_MSG("tensor 'a': data_offsets [4, 8] leave a hole (the "
	    "previous tensor ends at 0)",
	    st_read("{\"a\":" ENTRY("U8", "[4]", "[4,8]") "}", 8));
	CHECK_MSG("tensor 'b': data_offsets [2, 6] overlap", st_read("{\"a\":"
	    ENTRY("U8", "[4]", "[0,4]") ",\"b\":" ENTRY("U8", "[4]", "[2,6]")
	    "}", 6));
	CHECK_MSG("overlap", st_read("{\"a\":" ENTRY("U8", "[4]", "[0,4]")
	    ",\"b\":" ENTRY("U8", "[4]", "[0,4]") "}", 8));
	CHECK_MSG("data_offsets [4, 0] end before they begin",
	    st_read("{\"a\":" ENTRY("U8", "[4]", "[4,0]") "}", 4));
	CHECK_MSG("tensor 'w': data_offsets [0, 4] hold 4 bytes, but its "
	    "shape and F32 need 8",
	    st_read("{\"w\":" ENTRY("F32", "[2]", "[0,4]") "}", 4));
	CHECK_MSG("hold 8 bytes", st_read("{\"w\":" ENTRY("F32", "[1]",
	    "[0,8]") "}", 8));
	CHECK_MSG("hold 0 bytes", st_read("{\"w\":" ENTRY("F32", "[1]",
	    "[0,0]") "}", 0));
	CHECK_MSG("need 0", st_read("{\"w\":" ENTRY("F32", "[0]",
	    "[0,4]") "}", 4));
	CHECK_MSG("hold 18446744073709551615 bytes", st_read("{\"w\":"
	    ENTRY("U8", "[1]", "[0,18446744073709551615]") "}", 1));
	CHECK(stm == NULL);
}

TEST(st_rejects_bad_file_size)
{
	static const char h[] = "{\"w\":" ENTRY("U8", "[4]", "[0,4]") "}";

	CHECK_STR("", st_read(h, 4));
	CHECK_MSG("1 bytes after the last tensor", st_read(h, 5));
	CHECK_MSG("truncated: the header promises 4 bytes of data, the file "
	    "holds 3", st_read(h, 3));
	CHECK_MSG("truncated", st_read(h, 0));
	CHECK_MSG("bytes after the last tensor", st_read("{}", 1));
	/* Through a pipe the data is the caller's to check. */
	CHECK_STR("", st_read_raw(strlen(h), h, strlen(h), 3, 1));
}

TEST(st_rejects_duplicates)
{
	CHECK_MSG("__metadata__ appears twice", st_read("{\"__metadata__\":"
	    "{\"a\":\"1\"},\"__metadata__\":{\"b\":\"2\"}}", 0));
	CHECK_MSG("__metadata__ value is not a string",
	    st_read("{\"__metadata__\":{\"a\":1}}", 0));
	CHECK_MSG("__metadata__ value is not a string",
	    st_read("{\"__metadata__\":{\"a\":null}}", 0));
	CHECK_MSG("__metadata__ value is not a string",
	    st_read("{\"__metadata__\":{\"a\":[\"x\"]}}", 0));
	CHECK_MSG("__metadata__ is an object",
	    st_read("{\"__metadata__\":[]}", 0));
	CHECK_MSG("__metadata__ is an object",
	    st_read("{\"__metadata__\":\"x\"}", 0));
	CHECK_MSG("__metadata__ key appears twice", st_read("{\"__metadata__\":"
	    "{\"a\":\"1\",\"b\":\"2\",\"a\":\"1\"}}", 0));
	/* Among many keys (found by sorting them). */
	CHECK_MSG("__metadata__ key appears twice", st_read("{\"__metadata__\":"
	    "{\"k\":\"\",\"a\":\"\",\"b\":\"\",\"c\":\"\",\"d\":\"\","
	    "\"e\":\"\",\"f\":\"\",\"g\":\"\",\"h\":\"\",\"i\":\"\","
	    "\"j\":\"\",\"l\":\"\",\"m\":\"\",\"n\":\"\",\"o\":\"\","
	    "\"p\":\"\",\"q\":\"\",\"k\":\"\"}}", 0));
	CHECK_MSG("tensor 'a' appears twice", st_read("{\"a\":" ENTRY("U8",
	    "[4]", "[0,4]") ",\"a\":" ENTRY("U8", "[4]", "[4,8]") "}", 8));
	/* Escapes do not hide a duplicate. */
	CHECK_MSG("appears twice", st_read("{\"a\":" ENTRY("U8", "[4]",
	    "[0,4]") ",\"\\u0061\":" ENTRY("U8", "[4]", "[4,8]") "}", 8));
}

/* ---- layout ---- */

static struct t2m_manifest *
new_manifest(void)
{
	struct t2m_manifest *m = t2m_manifest_new();

	if (m == NULL)
		abort();
	return m;
}

static void
add(struct t2m_manifest *m, const char *name, int dtype, int ndim,
    const uint64_t *shape)
{
	t2m_error err;

	if (t2m_manifest_add(m, name, dtype, ndim, shape, &err) == NULL) {
		printf("# add %s: %s\n", name, err.msg);
		abort();
	}
}

static uint64_t
get64le(const char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | (unsigned char)p[i];
	return v;
}

/* Write l's header and zeroed data to a file and read it back into stm. */
static const char *
read_back(const struct t2m_st_layout *l)
{
	uint64_t hlen = get64le(l->header);
	const char *msg;

	msg = st_read_raw(hlen, l->header + 8, l->header_len - 8,
	    (size_t)l->data_len, 0);
	return msg;
}

/* The header's length, padding and alignment. */
static void
check_framing(const struct t2m_st_layout *l)
{
	const char *end;
	size_t n;

	CHECK(l->header_len >= 8 + 2);
	CHECK_U64(l->header_len - 8, get64le(l->header));
	CHECK_INT(0, (l->header_len - 8) % 8);
	/* After the closing brace: fewer than 8 spaces and nothing else. */
	for (end = l->header + l->header_len; end[-1] == ' '; end--)
		;
	CHECK(end[-1] == '}');
	n = (size_t)(l->header + l->header_len - end);
	CHECK(n < 8);
}

TEST(st_layout_order)
{
	static const struct {
		const char *name;
		int dtype;
		uint64_t n;
	} in[] = {
		{ "a_bool", T2M_BOOL, 3 },
		{ "f6", T2M_F6_E3M2, 4 },
		{ "e_i64", T2M_I64, 1 },
		{ "b_u8", T2M_U8, 2 },
		{ "\xc3\xa9t\xc3\xa9", T2M_F64, 1 },
		{ "d_f32", T2M_F32, 1 },
		{ "c_f16", T2M_F16, 2 },
		{ "f4", T2M_F4, 2 },
		{ "f_f64", T2M_F64, 2 },
		{ "alpha", T2M_F64, 1 },
		{ "Zeta", T2M_F32, 2 },
		{ "c64", T2M_C64, 1 },
		{ "e_i64_", T2M_U8, 0 },
	};
	/* Bits descending, then names by bytes: 'Z' < 'a' < 0xc3. */
	static const char *want[] = {
		"alpha", "c64", "e_i64", "f_f64", "\xc3\xa9t\xc3\xa9",
		"Zeta", "d_f32", "c_f16", "a_bool", "b_u8", "e_i64_", "f6",
		"f4",
	};
	struct t2m_manifest *m = new_manifest();
	struct t2m_st_layout l;
	t2m_error err;
	uint64_t at = 0;
	size_t i, k;

	for (i = 0; i < sizeof in / sizeof in[0]; i++)
		add(m, in[i].name, in[i].dtype, 1, &in[i].n);
	CHECK_INT(0, t2m_st_layout(m, &l, &err));
	for (k = 0; k < sizeof want / sizeof want[0]; k++) {
		i = l.order[k];
		CHECK_STR(want[k], m->tensors[i].name);
		CHECK_U64(at, l.offset[i]);
		at += m->tensors[i].nbytes;
	}
	CHECK_U64(8 + 8 + 8 + 16 + 8 + 8 + 4 + 4 + 3 + 2 + 0 + 3 + 1, at);
	CHECK_U64(at, l.data_len);
	check_framing(&l);

	/* The header says the same: read back, tensors come in this order. */
	CHECK_STR("", read_back(&l));
	CHECK_INT(sizeof want / sizeof want[0], stm->ntensors);
	for (k = 0; k < sizeof want / sizeof want[0] && k < stm->ntensors;
	    k++) {
		i = l.order[k];
		check_tensor((uint32_t)k, want[k], m->tensors[i].dtype, 1,
		    m->tensors[i].shape, m->tensors[i].nbytes);
	}
	t2m_st_layout_free(&l);
	t2m_manifest_free(m);
}

TEST(st_layout_header_exact)
{
	static const char want[] = "{\"__metadata__\":{\"Alpha\":\"2\","
	    "\"format\":\"pt\",\"zeta\":\"1\",\"\xc3\xa9\":\"3\"},"
	    "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
	    "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],"
	    "\"data_offsets\":[12,36]},"
	    "\"s\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[36,38]},"
	    "\"e\":{\"dtype\":\"U8\",\"shape\":[0,5],"
	    "\"data_offsets\":[38,38]}}";
	struct t2m_manifest *m = new_manifest();
	struct t2m_st_layout l;
	t2m_error err;
	size_t n = sizeof want - 1, pad = (8 - n % 8) % 8, i;

	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "zeta", "1", &err));
	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "format", "pt", &err));
	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "Alpha", "2", &err));
	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "\xc3\xa9", "3", &err));
	CHECK_INT(0, t2m_attrs_set(m, &m->info, "source", "x.pt", &err));
	add(m, "w", T2M_F32, 2, (uint64_t[]){ 2, 3 });
	add(m, "s", T2M_F16, 0, NULL);
	add(m, "e", T2M_U8, 2, (uint64_t[]){ 0, 5 });
	add(m, "b", T2M_F32, 1, (uint64_t[]){ 3 });
	CHECK_INT(0, t2m_st_layout(m, &l, &err));
	CHECK_INT(8 + n + pad, l.header_len);
	CHECK_U64(n + pad, get64le(l.header));
	CHECK(l.header_len >= 8 + n && memcmp(l.header + 8, want, n) == 0);
	if (l.header_len >= 8 + n && memcmp(l.header + 8, want, n) != 0)
		printf("# got %.*s\n", (int)(l.header_len - 8), l.header + 8);
	for (i = 8 + n; i < l.header_len; i++)
		CHECK_INT(' ', l.header[i]);
	CHECK_U64(38, l.data_len);
	CHECK_U64(12, l.offset[0]);
	CHECK_U64(36, l.offset[1]);
	CHECK_U64(38, l.offset[2]);
	CHECK_U64(0, l.offset[3]);
	/* The manifest itself is left as it was. */
	CHECK_STR("pt", t2m_attrs_get(&m->meta, "format"));
	CHECK_STR("w", m->tensors[0].name);
	t2m_st_layout_free(&l);
	t2m_manifest_free(m);
}

TEST(st_layout_padding)
{
	char name[32];
	struct t2m_manifest *m;
	struct t2m_st_layout l;
	t2m_error err;
	int len, seen[8] = { 0 }, r;

	for (len = 0; len < 24; len++) {
		m = new_manifest();
		memset(name, 'n', (size_t)len);
		name[len] = '\0';
		add(m, name, T2M_U8, 1, (uint64_t[]){ 1 });
		CHECK_INT(0, t2m_st_layout(m, &l, &err));
		check_framing(&l);
		/* Count the padding lengths seen, to know all 8 were tried. */
		for (r = 0; l.header[l.header_len - 1 - r] == ' '; r++)
			;
		if (r < 8)
			seen[r] = 1;
		CHECK_STR("", read_back(&l));
		check_tensor(0, name, T2M_U8, 1, (uint64_t[]){ 1 }, 1);
		t2m_st_layout_free(&l);
		t2m_manifest_free(m);
	}
	for (r = 0; r < 8; r++)
		CHECK_INT(1, seen[r]);

	m = new_manifest();
	CHECK_INT(0, t2m_st_layout(m, &l, &err));
	CHECK_INT(8 + 32, l.header_len);
	CHECK(memcmp(l.header + 8, "{\"__metadata__\":{\"format\":\"pt\"}}",
	    32) == 0);
	CHECK_U64(0, l.data_len);
	t2m_st_layout_free(&l);
	t2m_manifest_free(m);
}

TEST(st_layout_escapes)
{
	static const char *names[] = {
		"q\"uote", "back\\slash", "ctl\x01\x1f\n\t\r\b\f", "del\x7f",
		"slash/", "\xc3\xbcn\xc3\xaf\xc2\xa9 \xf0\x9f\x98\x80", "",
		"\\u0041", "\"", "\\",
	};
	struct t2m_manifest *m = new_manifest();
	struct t2m_st_layout l;
	t2m_error err;
	size_t i;
	long k;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		add(m, names[i], T2M_U8, 1, (uint64_t[]){ i + 1 });
	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "k\"\\\n", "v\x02\xc3\xa9",
	    &err));
	CHECK_INT(0, t2m_st_layout(m, &l, &err));
	CHECK(strstr(l.header + 8, "\"ctl\\u0001\\u001f\\n\\t\\r") != NULL);
	CHECK(strstr(l.header + 8, "\"q\\\"uote\"") != NULL);
	CHECK(strstr(l.header + 8, "\"back\\\\slash\"") != NULL);
	CHECK_STR("", read_back(&l));
	CHECK_INT(sizeof names / sizeof names[0], stm->ntensors);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		k = t2m_manifest_find(stm, names[i]);
		CHECK(k >= 0);
		if (k >= 0)
			CHECK_U64(i + 1, stm->tensors[k].nbytes);
	}
	CHECK_STR("v\x02\xc3\xa9", t2m_attrs_get(&stm->meta, "k\"\\\n"));
	CHECK_STR("pt", t2m_attrs_get(&stm->meta, "format"));
	CHECK_INT(2, stm->meta.n);
	t2m_st_layout_free(&l);
	t2m_manifest_free(m);
}

TEST(st_layout_metadata_format)
{
	struct t2m_manifest *m = new_manifest();
	struct t2m_st_layout l;
	t2m_error err;
	const char *p;
	int count = 0;

	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "format", "pt", &err));
	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "t2m.layout", "mlx", &err));
	CHECK_INT(0, t2m_attrs_set(m, &m->meta, "formats", "x", &err));
	add(m, "format", T2M_U8, 1, (uint64_t[]){ 1 });
	CHECK_INT(0, t2m_st_layout(m, &l, &err));
	for (p = l.header + 8; (p = strstr(p, "\"format\":\"")) != NULL; p++)
		count++;
	CHECK_INT(1, count);
	CHECK(strstr(l.header + 8, "\"pt\"") == NULL);
	CHECK_STR("", read_back(&l));
	CHECK_INT(3, stm->meta.n);
	CHECK_STR("mlx", t2m_attrs_get(&stm->meta, "format"));
	CHECK_STR("x", t2m_attrs_get(&stm->meta, "formats"));
	CHECK_INT(0, t2m_manifest_find(stm, "format"));
	t2m_st_layout_free(&l);
	t2m_manifest_free(m);
}

/* "format" says whose layout the tensors are in: "mlx" when the stream
 * is in MLX's (t2m.layout, or a format of "mlx" read from the input),
 * else the stream's own, else "pt". */
TEST(st_layout_format_by_layout)
{
	static const struct {
		const char *layout, *format, *want;
	} c[] = {
		{ NULL, NULL, "pt" },
		{ NULL, "pt", "pt" },
		{ NULL, "tf", "tf" },
		{ NULL, "mlx", "mlx" },
		{ "mlx", NULL, "mlx" },
		{ "mlx", "flax", "mlx" },
		{ "other", NULL, "pt" },
	};
	struct t2m_manifest *m;
	struct t2m_st_layout l;
	t2m_error err;
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		m = new_manifest();
		if (c[i].layout)
			CHECK_INT(0, t2m_attrs_set(m, &m->meta, "t2m.layout",
			    c[i].layout, &err));
		if (c[i].format)
			CHECK_INT(0, t2m_attrs_set(m, &m->meta, "format",
			    c[i].format, &err));
		add(m, "w", T2M_F32, 1, (uint64_t[]){ 2 });
		CHECK_INT(0, t2m_st_layout(m, &l, &err));
		CHECK_STR("", read_back(&l));
		CHECK_STR(c[i].want, t2m_attrs_get(&stm->meta, "format"));
		t2m_st_layout_free(&l);
		t2m_manifest_free(m);
	}
}

TEST(st_layout_refuses_c128)
{
	struct t2m_manifest *m = new_manifest();
	struct t2m_st_layout l;
	t2m_error err;

	add(m, "ok", T2M_C64, 1, (uint64_t[]){ 1 });
	add(m, "z", T2M_C128, 1, (uint64_t[]){ 2 });
	CHECK_INT(-1, t2m_st_layout(m, &l, &err));
	CHECK_MSG("tensor 'z'", err.msg);
	CHECK_MSG("C128", err.msg);
	CHECK(l.header == NULL && l.order == NULL && l.offset == NULL);
	t2m_manifest_free(m);
}

/*
 * A tensor may be called "__metadata__" in a stream; the layout must not
 * write a header that no safetensors reader accepts.
 */
TEST(st_layout_tensor_named_metadata)
{
	struct t2m_manifest *m = new_manifest();
	struct t2m_st_layout l;
	t2m_error err;

	add(m, "__metadata__", T2M_U8, 1, (uint64_t[]){ 4 });
	if (t2m_st_layout(m, &l, &err) == 0) {
		CHECK_STR("", read_back(&l));
		t2m_st_layout_free(&l);
	} else {
		CHECK_MSG("__metadata__", err.msg);
	}
	t2m_manifest_free(m);
}

/*
 * The layout without its header (t2m_st_order) agrees with the whole one
 * on every size and place; a header written and let go takes the hidden
 * tensors' base64 where the kept one would have it.
 */
TEST(st_order_and_write_hidden)
{
	struct t2m_manifest *m = new_manifest();
	struct t2m_st_layout l, o;
	unsigned char bytes[100000];
	char *file;
	t2m_error err;
	uint32_t i;
	int fd;

	for (i = 0; i < sizeof bytes; i++)
		bytes[i] = (unsigned char)(i * 7 + i / 251);
	add(m, "a\"b\\c\td\x01.weight", T2M_F32, 2, (uint64_t[]){ 3, 12345 });
	add(m, "\xc3\xa9t\xc3\xa9", T2M_BF16, 0, NULL);
	add(m, "hidden.big", T2M_U8, 1, (uint64_t[]){ sizeof bytes });
	add(m, "hidden.small", T2M_I64, 0, NULL);
	add(m, "z", T2M_F16, 3, (uint64_t[]){ 0, 10, 1000000 });
	if (t2m_attrs_set(m, &m->tensors[2].attrs, "t2m.hidden", "1",
	    &err) < 0 || t2m_attrs_set(m, &m->tensors[3].attrs, "t2m.hidden",
	    "1", &err) < 0 || t2m_attrs_set(m, &m->meta, "note", "x\ny\"z",
	    &err) < 0)
		abort();
	CHECK_INT(0, t2m_st_layout(m, &l, &err));
	CHECK_INT(0, t2m_st_order(m, &o, &err));
	CHECK(o.header == NULL);
	CHECK_U64(l.header_len, o.header_len);
	CHECK_U64(l.data_len, o.data_len);
	CHECK_INT(l.ntensors, o.ntensors);
	for (i = 0; i < m->ntensors; i++) {
		CHECK_U64(l.offset[i], o.offset[i]);
		CHECK_U64(l.b64_at[i], o.b64_at[i]);
	}
	for (i = 0; i < l.ntensors; i++)
		CHECK_INT(l.order[i], o.order[i]);

	fd = bytes_fd(l.header, l.header_len);
	CHECK_INT(0, t2m_st_write_hidden(&o, fd, 2, bytes, sizeof bytes));
	CHECK_INT(0, t2m_st_write_hidden(&o, fd, 3, bytes, 8));
	t2m_st_fill_hidden(&l, 2, bytes, sizeof bytes);
	t2m_st_fill_hidden(&l, 3, bytes, 8);
	if ((file = malloc(l.header_len)) == NULL)
		abort();
	CHECK_INT((long)l.header_len, pread(fd, file, l.header_len, 0));
	CHECK(memcmp(file, l.header, l.header_len) == 0);
	CHECK_STR("", read_back(&l));
	free(file);
	close(fd);
	t2m_st_layout_free(&l);
	t2m_st_layout_free(&o);
	t2m_manifest_free(m);
}
