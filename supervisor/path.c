/*
 * Small path helpers for the start-up checks (config and socket files).
 */
#include <stdio.h>
#include <string.h>

#include "path.h"

void path_dir(const char *path, char *out, size_t len)
{
	char *slash;

	snprintf(out, len, "%s", path);
	slash = strrchr(out, '/');
	if (!slash)
		snprintf(out, len, ".");
	else if (slash == out)
		out[1] = '\0';
	else
		*slash = '\0';
}
