/*
 * Small path helpers for the start-up checks (config and socket files).
 */
#ifndef SG_PATH_H
#define SG_PATH_H

#include <stddef.h>

/* The directory part of path into out (len bytes): "." for a bare name,
 * "/" for a file in the root. Truncated to len like snprintf. */
void path_dir(const char *path, char *out, size_t len);

#endif
