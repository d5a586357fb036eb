/*
 * The start-up error object: formatting only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

void sg_error_set(sg_error_t *e, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

const char *sg_error_str(const sg_error_t *e, char *buf, size_t len)
{
	if (e->file[0] && e->line > 0)
		snprintf(buf, len, "%s:%d: %s", e->file, e->line, e->msg);
	else if (e->file[0])
		snprintf(buf, len, "%s: %s", e->file, e->msg);
	else
		snprintf(buf, len, "%s", e->msg);
	return buf;
}
