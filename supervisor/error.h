/*
 * Start-up error object: where (file, line) and what. Filled by the config
 * loader and the policy loader; printed by main as "file:line: message".
 * The per-call path does not use it.
 */
#ifndef SG_ERROR_H
#define SG_ERROR_H

#include <stddef.h>

typedef struct sg_error {
	char file[256]; /* "" when not about a file */
	int line;       /* 0 when unknown */
	char msg[512];
} sg_error_t;

/* Sets e (when not NULL); file may be NULL, line 0. Returns nothing so it
 * can sit before a return of the errno. */
void sg_error_set(sg_error_t *e, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "file:line: msg", "file: msg" or "msg" into buf. */
const char *sg_error_str(const sg_error_t *e, char *buf, size_t len);

#endif
