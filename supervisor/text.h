/*
 * Text the log writes from bytes it does not trust: paths, argv, comm and
 * exe come from a target and may be any bytes, while every log line must
 * be valid UTF-8 JSON that a strict parser takes. Nothing here allocates:
 * the caller gives the buffers (the log's per-call path allocates nothing
 * beyond the event it builds).
 */
#ifndef SG_TEXT_H
#define SG_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Whether n bytes of s are well-formed UTF-8 (Unicode 15, table 3-7: no
 * overlong forms, no surrogates, nothing above U+10FFFF). NUL is a
 * character like any other. */
bool text_utf8_valid(const char *s, size_t n);

/* The length of s once a well-formed sequence split by a cut at n is
 * dropped: for a value sysgated cut at its own bound, so that the cut
 * never makes ill-formed bytes. Bytes that were ill-formed before the cut
 * stay. */
size_t text_utf8_cut(const char *s, size_t n);

/* The room text_utf8_repair needs for n bytes (its NUL included). */
#define TEXT_REPAIR_ROOM(n) (3 * (n) + 1)

/*
 * Writes n bytes of s to out as well-formed UTF-8: each maximal ill-formed
 * subpart (Unicode's "substitution of maximal subparts", the rule of
 * Python's decode('utf-8', 'replace') and of WHATWG's decoder) becomes one
 * U+FFFD. out holds cap bytes, at least TEXT_REPAIR_ROOM(n); it is
 * NUL-terminated. Returns the length written; *valid says whether s was
 * well-formed (out is then a copy).
 */
size_t text_utf8_repair(const char *s, size_t n, char *out, size_t cap, bool *valid);

/* The room text_base64 needs for n bytes (its NUL included). */
#define TEXT_BASE64_ROOM(n) (((n) + 2) / 3 * 4 + 1)

/* n bytes of s in base64 (RFC 4648, the standard alphabet with padding)
 * into out (at least TEXT_BASE64_ROOM(n) bytes), NUL-terminated. Returns
 * the length written. */
size_t text_base64(const void *s, size_t n, char *out, size_t cap);

/*
 * A serialised JSON line made safe to read on a terminal and with every
 * strict parser: raw DEL, the C1 controls (U+0080..U+009F) and U+2028,
 * U+2029 become \u escapes of the same code points (lossless: they decode
 * to what they replace), and any ill-formed byte left becomes U+FFFD (the
 * log's fields are repaired before, with their bytes kept: this is the
 * last guard). The escapes are valid only because such bytes can stand in
 * a JSON text inside strings alone. Returns the length of the result; out
 * may be NULL to learn it (then cap is ignored), else it holds cap bytes,
 * at least that length, and is not NUL-terminated.
 */
size_t text_json_safe(const char *in, size_t n, char *out, size_t cap);

#endif
