/*
 * Text the log writes from bytes it does not trust (text.h): UTF-8
 * checks, the repair of ill-formed bytes, base64 for the bytes a repair
 * replaced, and the last pass over a serialised line.
 */
#include <string.h>

#include "text.h"

/*
 * The sequence at s (n bytes left), by Unicode's table 3-7 of well-formed
 * byte sequences: its length when it is well-formed; else 0, with *bad
 * the length of its maximal subpart (the lead byte and the continuation
 * bytes that fit it, at least 1) and *at_end whether the bytes ran out
 * before the sequence did (it may have been cut, not made ill-formed).
 */
static size_t seq(const unsigned char *s, size_t n, size_t *bad, bool *at_end)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need;

	*at_end = false;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 4;
	else {
		*bad = 1; /* a continuation byte, an overlong lead (C0, C1), F5..FF */
		return 0;
	}
	if (c == 0xE0)
		lo = 0xA0; /* below: overlong */
	else if (c == 0xED)
		hi = 0x9F; /* above: a surrogate, U+D800..U+DFFF */
	else if (c == 0xF0)
		lo = 0x90; /* below: overlong */
	else if (c == 0xF4)
		hi = 0x8F; /* above: beyond U+10FFFF */
	for (size_t i = 1; i < need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			*at_end = i >= n;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return need;
}

bool text_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, bad;
	bool at_end;

	while (i < n) {
		size_t k = seq(p + i, n - i, &bad, &at_end);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

size_t text_utf8_cut(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = n, bad;
	bool at_end;

	/* The last lead byte: at most three continuation bytes back. */
	while (start > 0 && n - start < 4) {
		start--;
		if ((p[start] & 0xC0) != 0x80)
			break;
	}
	if (start == n || seq(p + start, n - start, &bad, &at_end) != 0)
		return n;
	return at_end && bad == n - start ? start : n;
}

size_t text_utf8_repair(const char *s, size_t n, char *out, size_t cap, bool *valid)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, bad;
	bool at_end;

	*valid = true;
	if (cap == 0)
		return 0;
	while (i < n) {
		size_t k = seq(p + i, n - i, &bad, &at_end);
		size_t w = k ? k : 3;

		if (o + w >= cap)
			break; /* the caller gave less than TEXT_REPAIR_ROOM(n) */
		if (k) {
			memcpy(out + o, p + i, k);
			i += k;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			i += bad;
			*valid = false;
		}
		o += w;
	}
	if (i < n)
		*valid = false;
	out[o] = '\0';
	return o;
}

size_t text_base64(const void *s, size_t n, char *out, size_t cap)
{
	/* The alphabet, and the padding at 64. */
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
	const unsigned char *p = s;
	size_t o = 0;

	if (cap < TEXT_BASE64_ROOM(n)) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = abc[(v >> 18) & 63];
		out[o++] = abc[(v >> 12) & 63];
		out[o++] = abc[i + 1 < n ? (v >> 6) & 63 : 64];
		out[o++] = abc[i + 2 < n ? v & 63 : 64];
	}
	out[o] = '\0';
	return o;
}

/* Appends len bytes of b at *o when out is not NULL (and they fit). */
static void put(char *out, size_t cap, size_t *o, const char *b, size_t len)
{
	if (out && *o + len <= cap)
		memcpy(out + *o, b, len);
	*o += len;
}

static void put_u(char *out, size_t cap, size_t *o, unsigned cp)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = { '\\', 'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15],
		      hex[cp & 15] };

	put(out, cap, o, e, sizeof(e));
}

size_t text_json_safe(const char *in, size_t n, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, o = 0, bad;
	bool at_end;

	while (i < n) {
		size_t k = seq(p + i, n - i, &bad, &at_end);

		if (k == 0) {
			put(out, cap, &o, "\xEF\xBF\xBD", 3);
			i += bad;
		} else if (k == 1 && p[i] == 0x7F) {
			put_u(out, cap, &o, 0x7F);
		} else if (k == 2 && p[i] == 0xC2 && p[i + 1] <= 0x9F) {
			put_u(out, cap, &o, p[i + 1]); /* C1: U+0080..U+009F */
		} else if (k == 3 && p[i] == 0xE2 && p[i + 1] == 0x80 &&
			   (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
			put_u(out, cap, &o, 0x2000u | (p[i + 2] & 0x3Fu)); /* U+2028, U+2029 */
		} else {
			put(out, cap, &o, (const char *)p + i, k);
		}
		i += k;
	}
	return o;
}
