/*
 * json.c - the JSON t2m reads and writes.  The reader is a strict pull
 * parser: exact 64-bit integers, UTF-8 checked, positions in every
 * message, depth capped.  It reads headers whose structure the caller
 * knows (safetensors), so it builds no tree.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- buffer ---- */

void
t2m_buf_add(struct t2m_buf *b, const void *p, size_t n)
{
	size_t cap;
	char *np;

	if (b->nomem)
		return;
	if (n >= b->cap - b->len || b->p == NULL) {
		cap = b->cap ? b->cap : 256;
		while (cap - b->len <= n) {
			if (cap > SIZE_MAX / 2) {
				b->nomem = 1;
				return;
			}
			cap *= 2;
		}
		if ((np = realloc(b->p, cap)) == NULL) {
			b->nomem = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
t2m_buf_str(struct t2m_buf *b, const char *s)
{
	t2m_buf_add(b, s, strlen(s));
}

void
t2m_buf_printf(struct t2m_buf *b, const char *fmt, ...)
{
	char small[256], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->nomem = 1;
		return;
	}
	if ((size_t)n < sizeof small) {
		t2m_buf_add(b, small, (size_t)n);
		return;
	}
	if ((big = malloc((size_t)n + 1)) == NULL) {
		b->nomem = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t2m_buf_add(b, big, (size_t)n);
	free(big);
}

void
t2m_buf_json(struct t2m_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	char esc[6];

	t2m_buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		t2m_buf_add(b, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"':  t2m_buf_add(b, "\\\"", 2); break;
		case '\\': t2m_buf_add(b, "\\\\", 2); break;
		case '\n': t2m_buf_add(b, "\\n", 2); break;
		case '\t': t2m_buf_add(b, "\\t", 2); break;
		case '\r': t2m_buf_add(b, "\\r", 2); break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			t2m_buf_add(b, esc, 6);
		}
	}
	t2m_buf_add(b, run, (size_t)(s - run));
	t2m_buf_add(b, "\"", 1);
}

void
t2m_buf_free(struct t2m_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- parser ---- */

void
t2m_json_init(struct t2m_json *j, const char *p, size_t n, t2m_error *err)
{
	memset(j, 0, sizeof *j);
	j->p = j->start = p;
	j->end = p + n;
	j->err = err;
}

void
t2m_json_free(struct t2m_json *j)
{
	free(j->tmp);
	j->tmp = NULL;
}

size_t
t2m_json_offset(const struct t2m_json *j)
{
	return (size_t)(j->p - j->start);
}

int
t2m_json_fail(struct t2m_json *j, const char *fmt, ...)
{
	char msg[T2M_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return t2m_fail(j->err, "header byte %zu: %s", t2m_json_offset(j), msg);
}

int
t2m_json_peek(struct t2m_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
	return j->p < j->end ? (unsigned char)*j->p : -1;
}

int
t2m_json_expect(struct t2m_json *j, int c, const char *what)
{
	int got = t2m_json_peek(j);

	if (got != c) {
		if (got < 0)
			return t2m_json_fail(j, "header ends where %s was "
			    "expected", what);
		if (got >= 0x20 && got < 0x7f)
			return t2m_json_fail(j, "expected %s, found '%c'",
			    what, got);
		return t2m_json_fail(j, "expected %s, found byte 0x%02x",
		    what, got);
	}
	j->p++;
	return 0;
}

static int
hex4(struct t2m_json *j, uint32_t *v)
{
	int i, c;

	*v = 0;
	if (j->end - j->p < 4)
		return t2m_json_fail(j, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		c = (unsigned char)*j->p++;
		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return t2m_json_fail(j, "bad \\u escape");
		*v = *v << 4 | (uint32_t)c;
	}
	return 0;
}

static int
tmp_put(struct t2m_json *j, size_t *len, const char *p, size_t n)
{
	char *np;
	size_t cap;

	if (n > j->tmpcap - *len || j->tmp == NULL) {
		cap = j->tmpcap ? j->tmpcap : 64;
		while (cap - *len <= n)
			cap *= 2;
		if ((np = realloc(j->tmp, cap)) == NULL)
			return t2m_json_fail(j, "out of memory");
		j->tmp = np;
		j->tmpcap = cap;
	}
	memcpy(j->tmp + *len, p, n);
	*len += n;
	return 0;
}

int
t2m_json_string(struct t2m_json *j, const char **s, size_t *n)
{
	const char *run, *begin;
	uint32_t cp, lo;
	size_t len = 0;
	char u[4];
	int c;

	if (t2m_json_expect(j, '"', "a string") < 0)
		return -1;
	begin = j->p - 1;
	for (run = j->p;; ) {
		if (j->p >= j->end) {
			j->p = begin;
			return t2m_json_fail(j, "unterminated string");
		}
		c = (unsigned char)*j->p;
		if (c == '"')
			break;
		if (c < 0x20)
			return t2m_json_fail(j, "control byte 0x%02x in a "
			    "string", c);
		if (c != '\\') {
			j->p++;
			continue;
		}
		if (tmp_put(j, &len, run, (size_t)(j->p - run)) < 0)
			return -1;
		if (++j->p >= j->end)
			return t2m_json_fail(j, "truncated escape");
		switch (*j->p++) {
		case '"':  u[0] = '"'; break;
		case '\\': u[0] = '\\'; break;
		case '/':  u[0] = '/'; break;
		case 'b':  u[0] = '\b'; break;
		case 'f':  u[0] = '\f'; break;
		case 'n':  u[0] = '\n'; break;
		case 'r':  u[0] = '\r'; break;
		case 't':  u[0] = '\t'; break;
		case 'u':
			if (hex4(j, &cp) < 0)
				return -1;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (j->end - j->p < 2 || j->p[0] != '\\' ||
				    j->p[1] != 'u')
					return t2m_json_fail(j, "unpaired "
					    "surrogate in \\u escape");
				j->p += 2;
				if (hex4(j, &lo) < 0)
					return -1;
				if (lo < 0xDC00 || lo > 0xDFFF)
					return t2m_json_fail(j, "unpaired "
					    "surrogate in \\u escape");
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				    (lo - 0xDC00);
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				return t2m_json_fail(j, "unpaired surrogate "
				    "in \\u escape");
			}
			if (cp == 0)
				return t2m_json_fail(j, "NUL in a string");
			if (cp < 0x80) {
				u[0] = (char)cp;
				c = 1;
			} else if (cp < 0x800) {
				u[0] = (char)(0xC0 | cp >> 6);
				u[1] = (char)(0x80 | (cp & 0x3F));
				c = 2;
			} else if (cp < 0x10000) {
				u[0] = (char)(0xE0 | cp >> 12);
				u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
				u[2] = (char)(0x80 | (cp & 0x3F));
				c = 3;
			} else {
				u[0] = (char)(0xF0 | cp >> 18);
				u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
				u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
				u[3] = (char)(0x80 | (cp & 0x3F));
				c = 4;
			}
			if (tmp_put(j, &len, u, (size_t)c) < 0)
				return -1;
			run = j->p;
			continue;
		default:
			j->p--;
			return t2m_json_fail(j, "bad escape '\\%c'",
			    *j->p >= 0x20 && *j->p < 0x7f ? *j->p : '?');
		}
		if (tmp_put(j, &len, u, 1) < 0)
			return -1;
		run = j->p;
	}
	if (tmp_put(j, &len, run, (size_t)(j->p - run)) < 0 ||
	    tmp_put(j, &len, "", 1) < 0)
		return -1;
	len--;
	if (!t2m_utf8_valid(j->tmp, len)) {
		j->p = begin;
		return t2m_json_fail(j, "string is not valid UTF-8");
	}
	j->p++;
	*s = j->tmp;
	*n = len;
	return 0;
}

int
t2m_json_uint(struct t2m_json *j, uint64_t *v)
{
	const char *begin;
	uint64_t x = 0;
	int c = t2m_json_peek(j);

	if (c == '-')
		return t2m_json_fail(j, "negative number");
	if (c < '0' || c > '9')
		return t2m_json_fail(j, "expected a non-negative integer");
	begin = j->p;
	if (c == '0' && j->end - j->p > 1 && j->p[1] >= '0' && j->p[1] <= '9')
		return t2m_json_fail(j, "number with a leading zero");
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		if (x > (UINT64_MAX - 9) / 10 &&
		    (x > UINT64_MAX / 10 ||
		    (uint64_t)(*j->p - '0') > UINT64_MAX - x * 10)) {
			j->p = begin;
			return t2m_json_fail(j, "integer does not fit in 64 "
			    "bits");
		}
		x = x * 10 + (uint64_t)(*j->p++ - '0');
	}
	if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E')) {
		j->p = begin;
		return t2m_json_fail(j, "expected an integer, found a "
		    "fraction or exponent");
	}
	*v = x;
	return 0;
}

static int
literal(struct t2m_json *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return t2m_json_fail(j, "unexpected character");
	j->p += n;
	return 0;
}

int
t2m_json_null(struct t2m_json *j)
{
	if (t2m_json_peek(j) == 'n' && j->end - j->p >= 4 &&
	    memcmp(j->p, "null", 4) == 0) {
		j->p += 4;
		return 1;
	}
	return 0;
}

static int
skip_number(struct t2m_json *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return t2m_json_fail(j, "bad number");
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return t2m_json_fail(j, "bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return t2m_json_fail(j, "bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	return 0;
}

int
t2m_json_skip(struct t2m_json *j)
{
	const char *s;
	size_t n;
	int c = t2m_json_peek(j), rc = 0;

	switch (c) {
	case '"':
		return t2m_json_string(j, &s, &n);
	case 't':
		return literal(j, "true");
	case 'f':
		return literal(j, "false");
	case 'n':
		return literal(j, "null");
	case '[':
	case '{':
		if (++j->depth > T2M_JSON_MAXDEPTH)
			return t2m_json_fail(j, "nested deeper than %d",
			    T2M_JSON_MAXDEPTH);
		j->p++;
		if (t2m_json_peek(j) == (c == '[' ? ']' : '}')) {
			j->p++;
			j->depth--;
			return 0;
		}
		for (;;) {
			if (c == '{' && (t2m_json_string(j, &s, &n) < 0 ||
			    t2m_json_expect(j, ':', "':'") < 0))
				return -1;
			if (t2m_json_skip(j) < 0)
				return -1;
			if (t2m_json_peek(j) == ',') {
				j->p++;
				continue;
			}
			rc = t2m_json_expect(j, c == '[' ? ']' : '}',
			    c == '[' ? "',' or ']'" : "',' or '}'");
			break;
		}
		j->depth--;
		return rc;
	case -1:
		return t2m_json_fail(j, "header ends where a value was "
		    "expected");
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return skip_number(j);
		return t2m_json_fail(j, "unexpected character");
	}
}

/* ---- base64 (RFC 4648), for tensors kept in safetensors metadata ---- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
t2m_base64_len(uint64_t n)
{
	return (size_t)((n + 2) / 3 * 4);
}

void
t2m_base64_encode(char *out, const unsigned char *in, size_t n)
{
	size_t k;
	uint32_t v;

	for (k = 0; k + 3 <= n; k += 3) {
		v = (uint32_t)in[k] << 16 | (uint32_t)in[k + 1] << 8 | in[k + 2];
		*out++ = b64[v >> 18];
		*out++ = b64[(v >> 12) & 63];
		*out++ = b64[(v >> 6) & 63];
		*out++ = b64[v & 63];
	}
	if (n - k == 1) {
		v = (uint32_t)in[k] << 16;
		*out++ = b64[v >> 18];
		*out++ = b64[(v >> 12) & 63];
		*out++ = '=';
		*out++ = '=';
	} else if (n - k == 2) {
		v = (uint32_t)in[k] << 16 | (uint32_t)in[k + 1] << 8;
		*out++ = b64[v >> 18];
		*out++ = b64[(v >> 12) & 63];
		*out++ = b64[(v >> 6) & 63];
		*out++ = '=';
	}
}

static int
b64val(int c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int
t2m_base64_decode(const char *in, size_t len, unsigned char *out,
    size_t *n)
{
	size_t k, o = 0;
	int a, b, c, d;

	if (len % 4 != 0)
		return -1;
	for (k = 0; k < len; k += 4) {
		a = b64val(in[k]);
		b = b64val(in[k + 1]);
		c = in[k + 2] == '=' && k + 4 == len ? -2 : b64val(in[k + 2]);
		d = in[k + 3] == '=' && k + 4 == len ? -2 : b64val(in[k + 3]);
		if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2))
			return -1;
		out[o++] = (unsigned char)(a << 2 | b >> 4);
		if (c >= 0)
			out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
		if (d >= 0)
			out[o++] = (unsigned char)((c & 3) << 6 | d);
	}
	*n = o;
	return 0;
}
