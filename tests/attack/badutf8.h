/*
 * The bytes the badutf8 attack puts in its comm, a path, a socket path
 * and execve's argv (tests/attack/badutf8.c), shared with its test. None
 * is UTF-8: overlong forms, surrogates, code points above U+10FFFF, a
 * sequence cut short, bytes that are never UTF-8; with controls (ESC,
 * DEL, a C1 CSI) that a terminal showing the log would act on.
 */
#ifndef SG_ATTACK_BADUTF8_H
#define SG_ATTACK_BADUTF8_H

/* prctl(PR_SET_NAME): 15 bytes at most. */
#define BADUTF8_COMM "c\xFF\xED\xA0\x80\x7F\x1B\xC2\x9B" "1"
#define BADUTF8_PATH                                                                            \
	"/nonexistent/\xFF\xFE overlong \xC0\xAF\xE0\x80\xAF surrogate \xED\xA0\x80\xED\xBF\xBF " \
	"big \xF4\x90\x80\x80\xF5\x80 esc \x1B[2J del \x7F csi \xC2\x9B" "31m nl \n ok \xC3\xA9 cut \xE2\x82"
#define BADUTF8_SOCK "/nonexistent/sock-\xFF\xC0\x80"
#define BADUTF8_PROG "/nonexistent/prog-\xED\xA0\x80"
#define BADUTF8_ARG1 "arg-\xFE\xFF"
#define BADUTF8_ARG2 "fine-\xC3\xA9"
#define BADUTF8_ARG3 "\xF0\x9F\x98"

#endif
