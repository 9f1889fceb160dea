/* Clock and growable buffer (see util.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vigil/util.h"

int64_t vg_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int vg_streak_fail(vg_streak *s, uint64_t now_ms)
{
    if (s->count && s->ended && now_ms - s->ended_ms >= VG_STREAK_GRACE_MS)
        s->count = 0; /* a whole grace period without a failure ended it */
    s->ended = 0;
    if (s->count++ == 0) {
        s->first_ms = s->logged_ms = now_ms;
        s->said_fail = 1;
        return VG_STREAK_FIRST;
    }
    if (now_ms - s->logged_ms < 60000)
        return VG_STREAK_QUIET;
    s->logged_ms = now_ms;
    s->said_fail = 1;
    return VG_STREAK_REMIND;
}

uint64_t vg_streak_end(vg_streak *s, uint64_t now_ms, double *secs)
{
    *secs = 0;
    if (!s->count || s->ended)
        return 0;
    s->ended = 1;
    s->ended_ms = now_ms;
    if (!s->said_fail) /* its last line said it recovered: failures since were quiet */
        return 0;
    s->said_fail = 0;
    s->logged_ms = now_ms;
    *secs = (double)(now_ms - s->first_ms) / 1000;
    return s->count;
}

bool vg_streak_failing(const vg_streak *s)
{
    return s->count && !s->ended;
}

bool vg_streak_overdue(vg_streak *s, uint64_t now_ms)
{
    if (!vg_streak_failing(s) || s->said_fail || now_ms - s->logged_ms < 60000)
        return false;
    s->logged_ms = now_ms;
    s->said_fail = 1;
    return true;
}

bool vg_streak_active(const vg_streak *s, uint64_t now_ms)
{
    return s->count && (!s->ended || now_ms - s->ended_ms < VG_STREAK_GRACE_MS);
}

bool vg_budget_take(vg_budget *b, uint64_t now_ms, uint64_t *held)
{
    if (b->window_ms == 0 || now_ms - b->window_ms >= 60000) {
        b->window_ms = now_ms ? now_ms : 1;
        b->used = 0;
    }
    if (b->used >= VG_BUDGET_LINES) {
        b->held++;
        return false;
    }
    b->used++;
    *held = b->held;
    b->held = 0;
    return true;
}

int vg_buf_reserve(vg_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return -ENOMEM;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int vg_buf_add(vg_buf *b, const void *p, size_t n)
{
    if (vg_buf_reserve(b, n))
        return -ENOMEM;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int vg_buf_addc(vg_buf *b, char c)
{
    return vg_buf_add(b, &c, 1);
}

int vg_buf_adds(vg_buf *b, const char *s)
{
    return vg_buf_add(b, s, strlen(s));
}

int vg_buf_addf(vg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || vg_buf_reserve(b, (size_t)n + 1))
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void vg_buf_free(vg_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int vg_is_ip(vg_str v)
{
    char tmp[64];
    unsigned char bin[16];
    if (!v.p || v.len == 0 || v.len >= sizeof(tmp) || memchr(v.p, '\0', v.len))
        return 0; /* inet_pton would stop at a NUL: "10.0.0.1\0junk" is no address */
    memcpy(tmp, v.p, v.len);
    tmp[v.len] = '\0';
    return inet_pton(AF_INET, tmp, bin) == 1 || inet_pton(AF_INET6, tmp, bin) == 1;
}

int vg_is_port(vg_str v)
{
    if (!v.p || v.len == 0 || v.len > 5)
        return 0;
    unsigned n = 0;
    for (uint32_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return 0;
        n = n * 10 + (unsigned)(v.p[i] - '0');
    }
    return n <= 65535;
}

int vg_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

int vg_open_read(const char *path, bool *fifo)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -errno;
    int fl = fcntl(fd, F_GETFL);
    if (fstat(fd, &sb) != 0 || fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *fifo = S_ISFIFO(sb.st_mode);
    return fd;
}

int vg_fsync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    int rc = 0, fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

/* Lexical normalisation of in into out (cap bytes): see vg_path_resolve.
 * A relative path keeps the leading ".." it cannot collapse; an empty one
 * is ".". 0 or -ENAMETOOLONG. */
static int vg__path_norm(const char *in, char *out, size_t cap)
{
    size_t ends[PATH_MAX / 2]; /* where each kept segment ends in out */
    size_t nseg = 0, o = 0;
    int abs = in[0] == '/';
    if (cap < 2)
        return -ENAMETOOLONG;
    if (abs)
        out[o++] = '/';
    for (const char *p = in, *e; *p; p = e) {
        while (*p == '/')
            p++;
        for (e = p; *e && *e != '/'; e++)
            ;
        size_t n = (size_t)(e - p);
        if (n == 0 || (n == 1 && p[0] == '.'))
            continue;
        int up = n == 2 && p[0] == '.' && p[1] == '.';
        size_t top = nseg ? ends[nseg - 1] : 0;
        if (up && nseg && !(top >= 2 && out[top - 1] == '.' && out[top - 2] == '.' &&
                            (top == 2 || out[top - 3] == '/'))) {
            nseg--; /* "NAME/.." */
            o = nseg ? ends[nseg - 1] : (size_t)abs;
            continue;
        }
        if (up && abs && !nseg) /* "/.." is "/" */
            continue;
        int sep = nseg > 0;
        if (o + sep + n + 1 > cap || nseg == sizeof(ends) / sizeof(ends[0])) {
            out[0] = '\0';
            return -ENAMETOOLONG;
        }
        if (sep)
            out[o++] = '/';
        memcpy(out + o, p, n);
        o += n;
        ends[nseg++] = o;
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = '\0';
    return 0;
}

int vg_path_resolve(const char *dir, const char *v, char *out, size_t cap)
{
    char joined[PATH_MAX * 2], norm[PATH_MAX * 2];
    int n = v[0] == '/' || !dir ? snprintf(joined, sizeof(joined), "%s", v)
                                : snprintf(joined, sizeof(joined), "%s/%s", dir, v);
    int rc = n < 0 || (size_t)n >= sizeof(joined) ? -ENAMETOOLONG
                                                   : vg__path_norm(joined, norm, sizeof(norm));
    if (rc == 0) {
        /* the directory, through its symlinks, when it exists */
        char *slash = strrchr(norm, '/'), real[PATH_MAX];
        const char *base = slash ? slash + 1 : norm;
        char dpart[PATH_MAX * 2];
        snprintf(dpart, sizeof(dpart), "%.*s", slash ? (int)(slash - norm) : 1,
                 slash ? (slash == norm ? "/" : norm) : ".");
        int dots = strcmp(base, ".") == 0 || strcmp(base, "..") == 0; /* a directory */
        if (dots && realpath(norm, real))
            n = snprintf(out, cap, "%s", real);
        else if (!dots && realpath(dpart, real))
            n = snprintf(out, cap, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base);
        else
            n = snprintf(out, cap, "%s", norm);
        if (n < 0 || (size_t)n >= cap)
            rc = -ENAMETOOLONG;
    }
    if (rc && cap)
        out[0] = '\0';
    return rc;
}

int vg_mkdirs(const char *dir, unsigned parent_mode, unsigned mode)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, (mode_t)parent_mode) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}
