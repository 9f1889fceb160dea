/* Running a shell command from a unit test and keeping what it printed.
 * Header-only, like vt_tmp.h: the unit tests that use it link nothing
 * else of the test support. */
#ifndef VT_CMD_H
#define VT_CMD_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* Runs cmd with /bin/sh and sets *out to all it wrote on stdout (redirect
 * stderr in cmd to keep that too), NUL-terminated, at most 1 MiB; the
 * caller frees *out. Returns the exit status, 128 if it did not exit (a
 * signal), -1 if it could not run. */
static inline int vt_capture(const char *cmd, char **out)
{
    *out = NULL;
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t cap = 1 << 20, len = 0, r;
    char *b = calloc(1, cap);
    while (b && len + 1 < cap && (r = fread(b + len, 1, cap - len - 1, p)) > 0)
        len += r;
    int st = pclose(p);
    *out = b;
    if (!b)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

#endif
