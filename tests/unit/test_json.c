/* test_json.c - the strict JSON pull parser and the JSON string writer. */
#include <stdlib.h>

#include "unit.h"

static char decoded[4096];
static size_t decoded_len;
static t2m_error jerr;

/*
 * Decode text (n bytes) as one JSON string into decoded/decoded_len.
 * Returns "" on success, else the parser's message.
 */
static const char *
decode(const char *text, size_t n)
{
	struct t2m_json j;
	const char *s;
	size_t len;

	jerr.msg[0] = '\0';
	decoded_len = 0;
	t2m_json_init(&j, text, n, &jerr);
	if (t2m_json_string(&j, &s, &len) < 0) {
		t2m_json_free(&j);
		return jerr.msg[0] ? jerr.msg : "(failed without a message)";
	}
	if (len < sizeof decoded) {
		memcpy(decoded, s, len);
		decoded_len = len;
	}
	if (s[len] != '\0')
		printf("# decoded string is not NUL-terminated\n");
	t2m_json_free(&j);
	return "";
}

#define DECODE(lit) decode((lit), sizeof(lit) - 1)
#define CHECK_DECODED(want) do { \
	CHECK_INT(sizeof(want) - 1, decoded_len); \
	CHECK(memcmp(decoded, (want), sizeof(want) - 1) == 0); \
} while (0)

TEST(json_string_escapes)
{
	CHECK_STR("", DECODE("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\""));
	CHECK_DECODED("a\"b\\c/d\be\ff\ng\rh\ti");
	CHECK_STR("", DECODE("\"\""));
	CHECK_DECODED("");
	CHECK_STR("", DECODE("\"\\\\\\\\\""));
	CHECK_DECODED("\\\\");
	CHECK_STR("", DECODE("\"plain \x7f gr\xc3\xb6\xc3\x9f" "e\""));
	CHECK_DECODED("plain \x7f gr\xc3\xb6\xc3\x9f" "e");
}

TEST(json_string_unicode_escapes)
{
	CHECK_STR("", DECODE("\"\\u0041\\u007f\\u0080\\u00e9\\u00C9\\u00fF\""));
	CHECK_DECODED("A\x7f\xc2\x80\xc3\xa9\xc3\x89\xc3\xbf");
	CHECK_STR("", DECODE("\"\\u07ff\\u0800\\u20AC\\ud7ff\\ue000\\uffff\""));
	CHECK_DECODED("\xdf\xbf\xe0\xa0\x80\xe2\x82\xac\xed\x9f\xbf"
	    "\xee\x80\x80\xef\xbf\xbf");
	/* Surrogate pairs become one 4-byte sequence. */
	CHECK_STR("", DECODE("\"x\\ud83d\\ude00y\""));
	CHECK_DECODED("x\xf0\x9f\x98\x80y");
	CHECK_STR("", DECODE("\"\\uD800\\uDC00\\udbff\\udfff\""));
	CHECK_DECODED("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
}

TEST(json_string_rejects)
{
	CHECK_MSG("unpaired surrogate", DECODE("\"\\ud800\""));
	CHECK_MSG("unpaired surrogate", DECODE("\"\\ud800x\""));
	CHECK_MSG("unpaired surrogate", DECODE("\"\\ud800\\u0041\""));
	CHECK_MSG("unpaired surrogate", DECODE("\"\\ud800\\ud800\""));
	CHECK_MSG("unpaired surrogate", DECODE("\"\\ud800\\ue000\""));
	CHECK_MSG("unpaired surrogate", DECODE("\"\\udbff\\uffff\""));
	CHECK_MSG("unpaired surrogate", DECODE("\"\\udc00\""));
	CHECK_MSG("unpaired surrogate", DECODE("\"\\ude00\\ud83d\""));
	CHECK_MSG("unpaired surrogate", DECODE("\"\\udbff"));
	CHECK_MSG("control byte 0x01", DECODE("\"a\x01\""));
	CHECK_MSG("control byte 0x1f", DECODE("\"\x1f\""));
	CHECK_MSG("control byte 0x0a", DECODE("\"a\nb\""));
	CHECK_MSG("control byte 0x09", DECODE("\"\t\""));
	CHECK_MSG("control byte 0x00", DECODE("\"a\0\""));
	CHECK_MSG("NUL in a string", DECODE("\"a\\u0000b\""));
	CHECK_MSG("bad escape", DECODE("\"\\x\""));
	CHECK_MSG("bad escape", DECODE("\"\\'\""));
	CHECK_MSG("bad escape", DECODE("\"\\U0041\""));
	CHECK_MSG("bad \\u escape", DECODE("\"\\u00g0\""));
	CHECK_MSG("bad \\u escape", DECODE("\"\\u-123\""));
	CHECK_MSG("truncated \\u escape", DECODE("\"\\u12"));
	CHECK_MSG("truncated escape", DECODE("\"\\"));
	CHECK_MSG("unterminated string", DECODE("\"abc"));
	CHECK_MSG("unterminated string", DECODE("\""));
	CHECK_MSG("not valid UTF-8", DECODE("\"\xc0\x80\""));
	CHECK_MSG("not valid UTF-8", DECODE("\"\xed\xa0\x80\""));
	CHECK_MSG("not valid UTF-8", DECODE("\"ab\xff\""));
	CHECK_MSG("not valid UTF-8", DECODE("\"\xe2\x82\""));
	CHECK_MSG("expected a string", DECODE("abc"));
	CHECK_MSG("header ends where a string was expected", DECODE("  "));
}

/* Positions count bytes from the start of the buffer. */
TEST(json_error_offsets)
{
	struct t2m_json j;
	t2m_error err;
	uint64_t v;

	CHECK_MSG("header byte 5: control byte 0x01", DECODE("  \"ab\x01\""));
	CHECK_MSG("header byte 2: unterminated string", DECODE("  \"abc"));
	CHECK_MSG("header byte 0: string is not valid UTF-8",
	    DECODE("\"\xff\""));
	CHECK_MSG("header byte 3: bad escape '\\q'", DECODE("\" \\q\""));

	t2m_json_init(&j, " \n -7", 5, &err);
	CHECK_INT(-1, t2m_json_uint(&j, &v));
	CHECK_MSG("header byte 3: negative number", err.msg);
	t2m_json_free(&j);

	t2m_json_init(&j, "[1,\t 18446744073709551616]", 26, &err);
	CHECK_INT(0, t2m_json_expect(&j, '[', "'['"));
	CHECK_INT(0, t2m_json_uint(&j, &v));
	CHECK_U64(1, v);
	CHECK_INT(0, t2m_json_expect(&j, ',', "','"));
	CHECK_INT(-1, t2m_json_uint(&j, &v));
	CHECK_MSG("header byte 5: integer does not fit in 64 bits", err.msg);
	t2m_json_free(&j);

	t2m_json_init(&j, "   x", 4, &err);
	CHECK_INT(-1, t2m_json_expect(&j, '{', "'{'"));
	CHECK_MSG("header byte 3: expected '{', found 'x'", err.msg);
	t2m_json_free(&j);

	t2m_json_init(&j, "  \x01", 3, &err);
	CHECK_INT(-1, t2m_json_expect(&j, ':', "':'"));
	CHECK_MSG("header byte 2: expected ':', found byte 0x01", err.msg);
	t2m_json_free(&j);

	t2m_json_init(&j, "  ", 2, &err);
	CHECK_INT(-1, t2m_json_expect(&j, ':', "':'"));
	CHECK_MSG("header byte 2: header ends where ':' was expected",
	    err.msg);
	t2m_json_free(&j);
}

/* Strings follow each other in one scratch buffer; each must be whole. */
TEST(json_string_sequence)
{
	char text[3000], want[1000];
	struct t2m_json j;
	t2m_error err;
	const char *s;
	size_t n, i, at = 0;

	/* A long string with escapes scattered through it grows the scratch. */
	text[at++] = '"';
	for (i = 0; i < sizeof want; i++) {
		want[i] = (char)('a' + i % 26);
		if (i % 37 == 0) {
			memcpy(text + at, "\\u0041", 6);
			at += 6;
			want[i] = 'A';
		} else if (i % 11 == 0) {
			memcpy(text + at, "\\n", 2);
			at += 2;
			want[i] = '\n';
		} else {
			text[at++] = want[i];
		}
	}
	memcpy(text + at, "\" \"short\"", 9);
	at += 9;
	t2m_json_init(&j, text, at, &err);
	CHECK_INT(0, t2m_json_string(&j, &s, &n));
	CHECK_INT(sizeof want, n);
	CHECK(n == sizeof want && memcmp(s, want, n) == 0);
	CHECK_INT(0, t2m_json_string(&j, &s, &n));
	CHECK_INT(5, n);
	CHECK_STR("short", s);
	CHECK_INT(at, t2m_json_offset(&j));
	CHECK_INT(-1, t2m_json_peek(&j));
	t2m_json_free(&j);
}

static const char *
uint_of(const char *text, uint64_t *v, size_t *end)
{
	struct t2m_json j;

	jerr.msg[0] = '\0';
	*v = 12345;
	t2m_json_init(&j, text, strlen(text), &jerr);
	if (t2m_json_uint(&j, v) < 0) {
		t2m_json_free(&j);
		return jerr.msg;
	}
	*end = t2m_json_offset(&j);
	t2m_json_free(&j);
	return "";
}

TEST(json_uint)
{
	uint64_t v;
	size_t end;

	CHECK_STR("", uint_of("0", &v, &end));
	CHECK_U64(0, v);
	CHECK_INT(1, end);
	CHECK_STR("", uint_of("0]", &v, &end));
	CHECK_U64(0, v);
	CHECK_INT(1, end);
	CHECK_STR("", uint_of(" \t\r\n42,", &v, &end));
	CHECK_U64(42, v);
	CHECK_INT(6, end);
	CHECK_STR("", uint_of("18446744073709551615", &v, &end));
	CHECK_U64(UINT64_MAX, v);
	CHECK_STR("", uint_of("18446744073709551609", &v, &end));
	CHECK_U64(UINT64_MAX - 6, v);
	CHECK_STR("", uint_of("1844674407370955161", &v, &end));
	CHECK_U64(1844674407370955161u, v);
	CHECK_MSG("does not fit in 64 bits",
	    uint_of("18446744073709551616", &v, &end));
	CHECK_MSG("does not fit in 64 bits",
	    uint_of("18446744073709551620", &v, &end));
	CHECK_MSG("does not fit in 64 bits",
	    uint_of("184467440737095516150", &v, &end));
	CHECK_MSG("does not fit in 64 bits",
	    uint_of("99999999999999999999", &v, &end));
	CHECK_MSG("leading zero", uint_of("01", &v, &end));
	CHECK_MSG("leading zero", uint_of("007", &v, &end));
	CHECK_MSG("negative", uint_of("-1", &v, &end));
	CHECK_MSG("negative", uint_of("-0", &v, &end));
	CHECK_MSG("fraction or exponent", uint_of("1.0", &v, &end));
	CHECK_MSG("fraction or exponent", uint_of("0.5", &v, &end));
	CHECK_MSG("fraction or exponent", uint_of("1e2", &v, &end));
	CHECK_MSG("fraction or exponent", uint_of("1E2", &v, &end));
	CHECK_MSG("non-negative integer", uint_of("+1", &v, &end));
	CHECK_MSG("non-negative integer", uint_of("x", &v, &end));
	CHECK_MSG("non-negative integer", uint_of("\"1\"", &v, &end));
	CHECK_MSG("non-negative integer", uint_of("", &v, &end));
}

/* Skip the first value of text: "" and the offset after it, or the error. */
static const char *
skip_of(const char *text, size_t n, size_t *end)
{
	struct t2m_json j;

	jerr.msg[0] = '\0';
	t2m_json_init(&j, text, n, &jerr);
	if (t2m_json_skip(&j) < 0) {
		t2m_json_free(&j);
		return jerr.msg[0] ? jerr.msg : "(failed without a message)";
	}
	*end = t2m_json_offset(&j);
	t2m_json_free(&j);
	return "";
}

TEST(json_skip_values)
{
	static const char nested[] = " {\"a\":[1,-2.5e+3,{\"b\":null}],"
	    "\"c\":\"x\\\"y}\",\"d\":true,\"e\":false,\"f\":[],\"g\":{},"
	    "\"h\":[[0],[1E-2, 0.0]] } ,tail";
	static const struct {
		const char *text;
		size_t end;
	} ok[] = {
		{ "0", 1 }, { "-0", 2 }, { "12.5e-3]", 7 }, { "1E+9,", 4 },
		{ "true,", 4 }, { "false", 5 }, { "null ", 4 },
		{ "\"a]b\"]", 5 }, { "[ ]x", 3 }, { "{ }", 3 },
		{ "[\"]\",[\"[\"]]]", 11 },
	};
	size_t end, i;

	CHECK_STR("", skip_of(nested, sizeof nested - 1, &end));
	CHECK_INT(strstr(nested, "} ,") - nested + 1, end);
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		end = 0;
		if (strcmp(skip_of(ok[i].text, strlen(ok[i].text), &end),
		    "") != 0 || end != ok[i].end) {
			printf("# skip of '%s': %s, end %zu\n", ok[i].text,
			    jerr.msg, end);
			unit_failures++;
		}
	}
}

TEST(json_skip_rejects)
{
	static const char *bad[] = {
		"", "[1,]", "[1 2]", "[", "{", "]", "}", ",", "{\"a\"}",
		"{\"a\":}", "{\"a\":1,}", "{\"a\":1 \"b\":2}", "{1:2}",
		"{a:1}", "tru", "nul", "fals", "True", "-", "1.", "1.e3",
		"1e", "1e+", ".5", "\"abc", "\"\\u0000\"", "'a'", "[\"\x01\"]",
		"+1", "NaN", "Infinity",
	};
	size_t end, i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (strcmp(skip_of(bad[i], strlen(bad[i]), &end), "") == 0) {
			printf("# skip accepted '%s'\n", bad[i]);
			unit_failures++;
		}
	CHECK_MSG("header byte 3: unexpected character",
	    skip_of("[1,]", 4, &end));
}

static char *
nest(int depth, const char *open, const char *close, const char *inner)
{
	size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
	char *s, *p;
	int i;

	if ((p = s = malloc(depth * (lo + lc) + li + 2)) == NULL)
		return NULL;
	for (i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

TEST(json_depth_cap)
{
	char *s, *twice;
	size_t end, n;

	s = nest(T2M_JSON_MAXDEPTH, "[", "]", "1");
	CHECK_STR("", skip_of(s, strlen(s), &end));
	CHECK_INT(strlen(s), end);
	/* The depth comes back down: the same value again still fits. */
	n = strlen(s);
	twice = malloc(2 * n + 2);
	memcpy(twice, s, n);
	twice[n] = ',';
	memcpy(twice + n + 1, s, n + 1);
	{
		struct t2m_json j;

		t2m_json_init(&j, twice, 2 * n + 1, &jerr);
		CHECK_INT(0, t2m_json_skip(&j));
		CHECK_INT(0, t2m_json_expect(&j, ',', "','"));
		CHECK_INT(0, t2m_json_skip(&j));
		CHECK_INT(-1, t2m_json_peek(&j));
		t2m_json_free(&j);
	}
	free(twice);
	free(s);

	s = nest(T2M_JSON_MAXDEPTH + 1, "[", "]", "");
	CHECK_MSG("nested deeper than 64", skip_of(s, strlen(s), &end));
	free(s);
	/* Empty containers close their level too. */
	{
		char flat[1000];
		int i;

		strcpy(flat, "[");
		for (i = 0; i < 100; i++)
			strcat(flat, i % 2 ? "[]," : "{},");
		strcat(flat, "[]]");
		CHECK_STR("", skip_of(flat, strlen(flat), &end));
		CHECK_INT(strlen(flat), end);
	}
	s = nest(T2M_JSON_MAXDEPTH + 1, "{\"k\":", "}", "0");
	CHECK_MSG("nested deeper than 64", skip_of(s, strlen(s), &end));
	free(s);
	s = nest(T2M_JSON_MAXDEPTH, "{\"k\":", "}", "[]");
	CHECK_MSG("nested deeper than 64", skip_of(s, strlen(s), &end));
	free(s);
	/* Far deeper input fails at the cap, not by overflowing the stack. */
	s = nest(1000000, "[", "]", "");
	CHECK_MSG("nested deeper than 64", skip_of(s, strlen(s), &end));
	free(s);
}

TEST(json_null)
{
	struct t2m_json j;
	t2m_error err;

	t2m_json_init(&j, "  null,", 7, &err);
	CHECK_INT(1, t2m_json_null(&j));
	CHECK_INT(6, t2m_json_offset(&j));
	CHECK_INT(',', t2m_json_peek(&j));
	t2m_json_free(&j);
	t2m_json_init(&j, "nul", 3, &err);
	CHECK_INT(0, t2m_json_null(&j));
	CHECK_INT('n', t2m_json_peek(&j));
	t2m_json_free(&j);
	t2m_json_init(&j, "5", 1, &err);
	CHECK_INT(0, t2m_json_null(&j));
	CHECK_INT(0, t2m_json_offset(&j));
	t2m_json_free(&j);
}

/* JSON text for s as t2m_buf_json writes it. */
static char *
quote(const char *s)
{
	static struct t2m_buf b;

	t2m_buf_free(&b);
	t2m_buf_json(&b, s);
	return b.nomem ? NULL : b.p;
}

TEST(json_writer_escapes)
{
	char all[128], back[128];
	const char *q, *s;
	struct t2m_json j;
	t2m_error err;
	size_t n;
	int c;

	CHECK_STR("\"\"", quote(""));
	CHECK_STR("\"plain\"", quote("plain"));
	CHECK_STR("\"a\\\"b\\\\c\\n\\t\\r\\u0001\\u001f\x7f/\xc3\xa9\"",
	    quote("a\"b\\c\n\t\r\x01\x1f\x7f/\xc3\xa9"));
	CHECK_STR("\"\\u0008\\u000c\\u000b\"", quote("\b\f\v"));

	/* Every byte from 1 to 127 decodes back to itself. */
	for (c = 1; c < 128; c++)
		all[c - 1] = (char)c;
	all[127] = '\0';
	q = quote(all);
	t2m_json_init(&j, q, strlen(q), &err);
	CHECK_INT(0, t2m_json_string(&j, &s, &n));
	CHECK_INT(127, n);
	memcpy(back, s, n < sizeof back ? n : sizeof back);
	CHECK(n == 127 && memcmp(back, all, 127) == 0);
	t2m_json_free(&j);
}

TEST(json_buf_printf_long)
{
	struct t2m_buf b = { 0 };
	char want[1001];

	memset(want, 'x', 1000);
	want[1000] = '\0';
	t2m_buf_str(&b, "<");
	t2m_buf_printf(&b, "%s%d", want, 42);
	CHECK_INT(0, b.nomem);
	CHECK_INT(1003, b.len);
	CHECK(b.p != NULL && b.p[0] == '<' &&
	    memcmp(b.p + 1, want, 1000) == 0 && strcmp(b.p + 1001, "42") == 0);
	t2m_buf_free(&b);
}
