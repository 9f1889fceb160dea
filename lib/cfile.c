/* Configured files, opened and read without blocking on what is not a
 * regular file: see include/vigil/cfile.h. */
#include "vigil/cfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/err.h"

const char *vg_cfile_kind(unsigned m)
{
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

int vg_cfile_open(const char *path, uint64_t max, uint64_t *size, char *err, size_t errlen)
{
    char ebuf[128];
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror_r(e, ebuf, sizeof(ebuf)));
        return VG_ECONFIG;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        snprintf(err, errlen,
                 "%s: is %s, not a regular file (refused without reading it: it could "
                 "block or never end)",
                 path, vg_cfile_kind(sb.st_mode));
        return VG_ECONFIG;
    }
    if (max && (uint64_t)sb.st_size > max) {
        close(fd);
        snprintf(err, errlen, "%s: is %llu bytes, more than the limit of %llu", path,
                 (unsigned long long)sb.st_size, (unsigned long long)max);
        return VG_ECONFIG;
    }
    /* blocking again: a regular file reads the same either way, and the
     * caller may hand the descriptor to stdio */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror_r(e, ebuf, sizeof(ebuf)));
        return VG_ECONFIG;
    }
    if (size) *size = (uint64_t)sb.st_size;
    return fd;
}

int vg_cfile_read(const char *path, size_t max, char **buf, size_t *len, char *err,
                  size_t errlen)
{
    char ebuf[128];
    uint64_t size = 0;
    *buf = NULL;
    *len = 0;
    if (!max) max = VG_CFILE_MAX;
    int fd = vg_cfile_open(path, max, &size, err, errlen);
    if (fd < 0) return fd;
    /* Sized by fstat, one byte over: filling it means the file grew (read
     * to its end anyway, as a file being rewritten may have shrunk). */
    size_t cap = (size_t)size + 1, n = 0;
    char *b = malloc(cap + 1);
    int rc = 0;
    if (!b) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                snprintf(err, errlen, "%s: is more than the limit of %zu bytes", path, max);
                rc = VG_ECONFIG;
                goto out;
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(b, ncap + 1);
            if (!nb) {
                snprintf(err, errlen, "%s: out of memory", path);
                rc = -ENOMEM;
                goto out;
            }
            b = nb;
            cap = ncap;
        }
        ssize_t k = read(fd, b + n, cap - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            snprintf(err, errlen, "%s: cannot read: %s", path,
                     strerror_r(errno, ebuf, sizeof(ebuf)));
            rc = VG_ECONFIG;
            goto out;
        }
        if (k == 0) break;
        n += (size_t)k;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    b = NULL;
out:
    free(b);
    close(fd);
    return rc;
}
