/* Temp directories for unit tests. Header-only: every unit test is one
 * executable. A failed assertion ends a forked Check test with _exit(),
 * skipping its teardown, so tests make their directories inside one base
 * directory that the runner process creates and removes. */
#ifndef VT_TMP_H
#define VT_TMP_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static inline int vt__rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* rm -rf dir (errors ignored: best effort cleanup). */
static inline void vt_rm_tree(const char *dir)
{
    nftw(dir, vt__rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Makes $TMPDIR/vg-test-NAME-XXXXXX into out, or exits the process. */
static inline void vt_tmp_base(char *out, size_t cap, const char *name)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/vg-test-%s-XXXXXX", base && *base ? base : "/tmp", name);
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(EXIT_FAILURE);
    }
}

/* Makes base/t-XXXXXX into out; returns out, or NULL on failure. */
static inline char *vt_tmp_sub(char *out, size_t cap, const char *base)
{
    snprintf(out, cap, "%s/t-XXXXXX", base);
    return mkdtemp(out);
}

#endif
