/*
 * Unit tests of text.c: what the log makes of bytes that are not UTF-8.
 * The repair is checked against the counts of Python's
 * bytes.decode('utf-8', 'replace') (Unicode's maximal subparts), and a
 * line built the way log.c builds one is parsed back by json-c with
 * JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <json.h>

#include "text.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_valid(void **state)
{
	(void)state;
	assert_true(text_utf8_valid(S("")));
	assert_true(text_utf8_valid(S("plain ascii /etc/passwd")));
	assert_true(text_utf8_valid(S("\xC3\xA9")));             /* U+00E9 */
	assert_true(text_utf8_valid(S("\xE2\x82\xAC")));         /* U+20AC */
	assert_true(text_utf8_valid(S("\xF0\x9D\x84\x9E")));     /* U+1D11E */
	assert_true(text_utf8_valid(S("\xF4\x8F\xBF\xBF")));     /* U+10FFFF, the last */
	assert_true(text_utf8_valid(S("\xED\x9F\xBF")));         /* U+D7FF, before the surrogates */
	assert_true(text_utf8_valid(S("\xEE\x80\x80")));         /* U+E000, after them */
	assert_true(text_utf8_valid(S("a\0b")));                 /* NUL is a character */
	assert_true(text_utf8_valid(S("\x7F\xC2\x80\xC2\x9F"))); /* DEL, C1: well-formed */
}

static void test_invalid(void **state)
{
	(void)state;
	assert_false(text_utf8_valid(S("\xC0\x80")));         /* overlong NUL */
	assert_false(text_utf8_valid(S("\xC1\xBF")));         /* overlong */
	assert_false(text_utf8_valid(S("\xE0\x80\xAF")));     /* overlong '/' */
	assert_false(text_utf8_valid(S("\xE0\x9F\xBF")));     /* overlong */
	assert_false(text_utf8_valid(S("\xF0\x80\x80\xAF"))); /* overlong '/' */
	assert_false(text_utf8_valid(S("\xF0\x8F\xBF\xBF"))); /* overlong */
	assert_false(text_utf8_valid(S("\xED\xA0\x80")));     /* U+D800, a surrogate */
	assert_false(text_utf8_valid(S("\xED\xBF\xBF")));     /* U+DFFF */
	assert_false(text_utf8_valid(S("\xF4\x90\x80\x80"))); /* U+110000 */
	assert_false(text_utf8_valid(S("\xF5\x80\x80\x80")));
	assert_false(text_utf8_valid(S("\xFF")));
	assert_false(text_utf8_valid(S("\xFE")));
	assert_false(text_utf8_valid(S("\x80")));             /* a lone continuation */
	assert_false(text_utf8_valid(S("a\xE2\x82")));        /* cut short at the end */
	assert_false(text_utf8_valid(S("\xE2\x82" "A")));     /* cut short inside */
}

/* Each case: the input and how many U+FFFD its repair holds (Python's). */
static void test_repair(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
		{ S("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD" },
		{ S("\xE0\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
		{ S("\xF0\x80\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
		{ S("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
		{ S("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
		{ S("\xFF"), "\xEF\xBF\xBD" },
		{ S("a\xE2\x82"), "a\xEF\xBF\xBD" },
		{ S("\xE2\x82" "A"), "\xEF\xBF\xBD" "A" },
		{ S("\xF0\x9D\x84" "A"), "\xEF\xBF\xBD" "A" },
		{ S("\xE2\x82\xE2\x82\xAC"), "\xEF\xBF\xBD\xE2\x82\xAC" },
		{ S("/tmp/\xC3\xA9t\xC3\xA9"), "/tmp/\xC3\xA9t\xC3\xA9" },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool valid;
		size_t len = text_utf8_repair(cases[i].in, cases[i].n, out, sizeof(out), &valid);

		assert_int_equal(len, strlen(cases[i].want));
		assert_memory_equal(out, cases[i].want, len);
		assert_int_equal(out[len], '\0');
		assert_true(text_utf8_valid(out, len));
		assert_int_equal(valid, strcmp(cases[i].in, cases[i].want) == 0);
	}
}

/* Every byte, every pair of bytes: the repair is always well-formed and
 * never longer than TEXT_REPAIR_ROOM says. */
static void test_repair_all_pairs(void **state)
{
	char in[3], out[TEXT_REPAIR_ROOM(3)];

	(void)state;
	for (unsigned a = 0; a < 256; a++) {
		for (unsigned b = 0; b < 256; b++) {
			bool valid;
			size_t len;

			in[0] = (char)a;
			in[1] = (char)b;
			in[2] = (char)0xBF;
			len = text_utf8_repair(in, 3, out, sizeof(out), &valid);
			assert_true(len < sizeof(out));
			assert_true(text_utf8_valid(out, len));
			assert_int_equal(valid, text_utf8_valid(in, 3));
		}
	}
}

/* Too small a buffer: a prefix, well-formed, reported as not a copy. */
static void test_repair_small_buffer(void **state)
{
	char out[4];
	bool valid;

	(void)state;
	assert_int_equal(text_utf8_repair(S("ab\xE2\x82\xAC"), out, sizeof(out), &valid), 2);
	assert_string_equal(out, "ab");
	assert_false(valid);
}

static void test_cut(void **state)
{
	(void)state;
	assert_int_equal(text_utf8_cut(S("")), 0);
	assert_int_equal(text_utf8_cut(S("abc")), 3);
	assert_int_equal(text_utf8_cut(S("abc\xE2\x82")), 3);     /* a split U+20AC goes */
	assert_int_equal(text_utf8_cut(S("abc\xE2")), 3);
	assert_int_equal(text_utf8_cut(S("abc\xE2\x82\xAC")), 6); /* whole: stays */
	assert_int_equal(text_utf8_cut(S("\xF0\x9D\x84")), 0);
	assert_int_equal(text_utf8_cut(S("x\xC3")), 1);
	/* Ill-formed before any cut: stays, to be repaired and shown. */
	assert_int_equal(text_utf8_cut(S("ab\xED\xA0")), 4);      /* a surrogate's start */
	assert_int_equal(text_utf8_cut(S("ab\xF4\x90")), 4);      /* beyond U+10FFFF */
	assert_int_equal(text_utf8_cut(S("ab\xE0\x80")), 4);      /* overlong */
	assert_int_equal(text_utf8_cut(S("a\x80")), 2);
	assert_int_equal(text_utf8_cut(S("a\xFF")), 2);
	assert_int_equal(text_utf8_cut(S("\x80\x80\x80\x80")), 4);
}

static void test_base64(void **state)
{
	static const char *const want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					     "Zm9vYmFy" }; /* RFC 4648, section 10 */
	char out[16];

	(void)state;
	for (size_t n = 0; n <= 6; n++) {
		assert_int_equal(text_base64("foobar", n, out, sizeof(out)), strlen(want[n]));
		assert_string_equal(out, want[n]);
	}
	assert_int_equal(text_base64("\xFF\xFE\x00", 3, out, sizeof(out)), 4);
	assert_string_equal(out, "//4A");
	assert_int_equal(text_base64("foobar", 6, out, 8), 0); /* no room: nothing */
	assert_string_equal(out, "");
}

static void check_safe(const char *in, size_t n, const char *want)
{
	char out[64];
	size_t len = text_json_safe(in, n, NULL, 0);

	assert_int_equal(len, strlen(want));
	assert_int_equal(text_json_safe(in, n, out, sizeof(out)), len);
	assert_memory_equal(out, want, len);
}

static void test_json_safe(void **state)
{
	(void)state;
	check_safe(S("{\"a\":\"b\"}"), "{\"a\":\"b\"}");
	check_safe(S("\"\x7F\""), "\"\\u007f\"");
	check_safe(S("\"\xC2\x80\xC2\x9B\xC2\x9F\xC2\xA0\""), "\"\\u0080\\u009b\\u009f\xC2\xA0\"");
	check_safe(S("\"\xE2\x80\xA8\xE2\x80\xA9\xE2\x80\xAA\""), "\"\\u2028\\u2029\xE2\x80\xAA\"");
	check_safe(S("\"\xFF\xC3\xA9\""), "\"\xEF\xBF\xBD\xC3\xA9\"");
}

/* A value as log.c writes it: repaired, with its bytes in base64 beside
 * it when they were not UTF-8, serialised by json-c, made safe. */
static char *line_of(const char *bytes, size_t n, char *buf, size_t cap)
{
	char text[TEXT_REPAIR_ROOM(256)], b64[TEXT_BASE64_ROOM(256)];
	json_object *o = json_object_new_object();
	const char *s;
	bool valid;
	size_t len = text_utf8_repair(bytes, n, text, sizeof(text), &valid);

	json_object_object_add(o, "path", json_object_new_string_len(text, (int)len));
	if (!valid) {
		text_base64(bytes, n, b64, sizeof(b64));
		json_object_object_add(o, "path_b64", json_object_new_string(b64));
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	len = text_json_safe(s, strlen(s), NULL, 0);
	assert_true(len < cap);
	text_json_safe(s, strlen(s), buf, cap);
	buf[len] = '\0';
	json_object_put(o);
	return buf;
}

static json_object *parse_strict(const char *line)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, line, (int)strlen(line) + 1);
	if (!o)
		fail_msg("not strict JSON (%s): %s",
			 json_tokener_error_desc(json_tokener_get_error(tok)), line);
	json_tokener_free(tok);
	return o;
}

/* Every byte value, NUL included, in one path: the line parses strictly,
 * has no raw control byte, and path_b64 gives the bytes back. */
static void test_line_every_byte(void **state)
{
	char bytes[256], line[8192], back[256], *p;
	json_object *o, *v;
	size_t n = 0;

	(void)state;
	for (unsigned i = 0; i < 256; i++)
		bytes[i] = (char)i;
	line_of(bytes, sizeof(bytes), line, sizeof(line));
	for (p = line; *p; p++) {
		unsigned char c = (unsigned char)*p;

		assert_true(c >= 0x20 && c != 0x7F);
		if (c == 0xC2)
			assert_true((unsigned char)p[1] >= 0xA0); /* no raw C1 */
	}
	o = parse_strict(line);
	assert_true(json_object_object_get_ex(o, "path_b64", &v));
	/* Decode the base64 back, the plain way. */
	for (const char *s = json_object_get_string(v); s[0] && s[1] && s[2] && s[3]; s += 4) {
		static const char abc[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		unsigned q = 0;

		for (int k = 0; k < 4; k++)
			q = q << 6 | (s[k] == '=' ? 0 : (unsigned)(strchr(abc, s[k]) - abc));
		back[n++] = (char)(q >> 16);
		if (s[2] != '=')
			back[n++] = (char)(q >> 8);
		if (s[3] != '=')
			back[n++] = (char)q;
	}
	assert_int_equal(n, sizeof(bytes));
	assert_memory_equal(back, bytes, n);
	assert_true(json_object_object_get_ex(o, "path", &v));
	assert_true(text_utf8_valid(json_object_get_string(v), (size_t)json_object_get_string_len(v)));
	json_object_put(o);
}

/* Well-formed text, NUL, DEL and C1 included, needs no _b64: the string
 * alone gives it back, escapes and all. */
static void test_line_valid_text(void **state)
{
	static const char in[] = "a\0b\x7F\xC2\x85\xE2\x80\xA8\xF0\x9D\x84\x9E\n";
	char line[512];
	json_object *o, *v;

	(void)state;
	line_of(in, sizeof(in) - 1, line, sizeof(line));
	assert_non_null(strstr(line, "\\u0000"));
	assert_non_null(strstr(line, "\\u007f"));
	assert_non_null(strstr(line, "\\u0085"));
	assert_non_null(strstr(line, "\\u2028"));
	o = parse_strict(line);
	assert_false(json_object_object_get_ex(o, "path_b64", &v));
	assert_true(json_object_object_get_ex(o, "path", &v));
	assert_int_equal(json_object_get_string_len(v), sizeof(in) - 1);
	assert_memory_equal(json_object_get_string(v), in, sizeof(in) - 1);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_repair),
		cmocka_unit_test(test_repair_all_pairs),
		cmocka_unit_test(test_repair_small_buffer),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_json_safe),
		cmocka_unit_test(test_line_every_byte),
		cmocka_unit_test(test_line_valid_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
