/* A stand-alone driver for the fuzz targets: the main() that every build
 * links each target with, so that `meson test --suite fuzz` runs them
 * without libFuzzer (see fuzz/README.md; the libFuzzer builds link
 * libFuzzer's main instead of this file).
 *
 *   fuzz_X [options] PATH...
 *
 * 1. Replays every input: each PATH is a file (one input) or a directory
 *    (each regular file in it, in name order). With --lines FILE each line
 *    of FILE is an input; with --tsv COL FILE the COL-th (0-based) column of
 *    each row after the header, C escapes (\\ \t \n \r \xHH) undone.
 * 2. Then mutates those inputs for a bounded time: byte and bit flips,
 *    "interesting" values, inserts, deletes, duplicated ranges, splices of
 *    two inputs, and changes to decimal numbers in the text, one to eight
 *    at a time. The random stream is seeded, so
 *    a run is reproducible: the seed is printed, and VG_FUZZ_SEED (a number,
 *    or "time") overrides it.
 *
 * Bounds: -n ITER (default 20000) and -s SECONDS (default 15), whichever
 * comes first; -n 0 only replays. VG_FUZZ_ITERS and VG_FUZZ_SECONDS, when
 * set, override both, so that `meson test` runs can be made longer.
 * Mutants are at most -m BYTES (default 4096) long.
 *
 * A target reports a bug by crashing (abort(), a sanitizer report, a
 * signal). The driver then saves the input being run to
 * $VG_FUZZ_ARTIFACTS/crash-<target> (default: the current directory) and
 * prints the mutation number, so that `fuzz_X crash-<target>` replays it.
 * Each input is passed in a heap block of exactly its size, so that
 * AddressSanitizer sees any read past its end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

#define FZ_DEFAULT_SEED UINT64_C(0x5EED0F1C11)
#define FZ_DEFAULT_ITERS 20000
#define FZ_DEFAULT_SECONDS 15
#define FZ_DEFAULT_MAXLEN 4096

typedef struct fz_input {
    uint8_t *p;
    size_t n;
} fz_input;

static struct {
    fz_input *v;
    size_t n, cap;
} corpus;

/* What the crash handler saves: the input being run, and where it came from. */
static const char *g_name = "fuzz";
static const uint8_t *volatile g_cur;
static volatile size_t g_cur_len;
static volatile long long g_iter = -1; /* -1: replaying the corpus */
static char g_crash_path[4096];
static char g_origin[4096];
static volatile sig_atomic_t g_saved;

/* ---- random numbers: splitmix64, a fixed and portable stream ----------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in 0..n-1 (n > 0; the bias of % is irrelevant here). */
static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

/* ---- crash reporting (async-signal-safe: write(2) only) ---------------- */

static void put_str(int fd, const char *s)
{
    ssize_t r = write(fd, s, strlen(s));
    (void)r;
}

static void put_num(int fd, long long v)
{
    char d[24];
    size_t i = sizeof(d);
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[--i] = '-';
    ssize_t r = write(fd, d + i, sizeof(d) - i);
    (void)r;
}

static void save_crash(void)
{
    if (g_saved || !g_cur)
        return;
    g_saved = 1;
    put_str(2, "\n==== ");
    put_str(2, g_name);
    put_str(2, ": crashed on ");
    if (g_iter < 0) {
        put_str(2, "input ");
        put_str(2, g_origin);
    } else {
        put_str(2, "mutation ");
        put_num(2, g_iter);
        put_str(2, " (");
        put_str(2, g_origin);
        put_str(2, ")");
    }
    put_str(2, ", ");
    put_num(2, (long long)g_cur_len);
    put_str(2, " bytes\n");
    int fd = open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        size_t off = 0;
        while (off < g_cur_len) {
            ssize_t w = write(fd, (const uint8_t *)g_cur + off, g_cur_len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        close(fd);
        put_str(2, "==== input saved to ");
        put_str(2, g_crash_path);
        put_str(2, "; replay it with: ");
        put_str(2, g_name);
        put_str(2, " ");
        put_str(2, g_crash_path);
        put_str(2, "\n");
    }
}

/* UBSan calls this on each report, before it exits: its runtime (GCC's
 * libubsan) does not run the death callback of ASan's. */
void __ubsan_on_report(void);
void __ubsan_on_report(void)
{
    save_crash();
}

static void on_signal(int sig)
{
    save_crash();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- loading inputs ----------------------------------------------------- */

static void die(const char *what, const char *path)
{
    fprintf(stderr, "%s: %s %s: %s\n", g_name, what, path, strerror(errno));
    exit(2);
}

static void add_input(const uint8_t *p, size_t n)
{
    if (corpus.n == corpus.cap) {
        corpus.cap = corpus.cap ? corpus.cap * 2 : 64;
        corpus.v = realloc(corpus.v, corpus.cap * sizeof(*corpus.v));
        if (!corpus.v)
            abort();
    }
    uint8_t *c = malloc(n ? n : 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    corpus.v[corpus.n++] = (fz_input){c, n};
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open", path);
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf)
            abort();
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    if (ferror(f))
        die("cannot read", path);
    fclose(f);
    *len = n;
    return buf;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        die("cannot stat", path);
    if (!S_ISDIR(st.st_mode)) {
        size_t n;
        uint8_t *p = read_file(path, &n);
        add_input(p, n);
        free(p);
        return;
    }
    DIR *d = opendir(path);
    if (!d)
        die("cannot open", path);
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 32;
            names = realloc(names, cap * sizeof(*names));
            if (!names)
                abort();
        }
        names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof(*names), name_cmp);
    for (size_t i = 0; i < nn; i++) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", path, names[i]);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            add_path(full);
        free(names[i]);
    }
    free(names);
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                               : -1;
}

/* Adds each line of path (col < 0), or column col of each row after the
 * first with C escapes undone (col >= 0). */
static void add_lines(const char *path, int col)
{
    size_t len;
    uint8_t *buf = read_file(path, &len), *out = malloc(len + 1);
    if (!out)
        abort();
    size_t i = 0;
    for (int row = 0; i < len; row++) {
        size_t e = i;
        while (e < len && buf[e] != '\n')
            e++;
        if (col < 0) {
            add_input(buf + i, e - i);
        } else if (row > 0) {
            size_t b = i;
            for (int c = 0; c < col && b < e; c++) {
                while (b < e && buf[b] != '\t')
                    b++;
                if (b < e)
                    b++;
            }
            size_t f = b, n = 0;
            while (f < e && buf[f] != '\t')
                f++;
            for (size_t k = b; k < f; k++) {
                if (buf[k] != '\\' || k + 1 >= f) {
                    out[n++] = buf[k];
                    continue;
                }
                uint8_t c = buf[++k];
                if (c == 'n')
                    out[n++] = '\n';
                else if (c == 'r')
                    out[n++] = '\r';
                else if (c == 't')
                    out[n++] = '\t';
                else if (c == 'x' && k + 2 < f && hexval(buf[k + 1]) >= 0 &&
                         hexval(buf[k + 2]) >= 0) {
                    out[n++] = (uint8_t)(hexval(buf[k + 1]) * 16 + hexval(buf[k + 2]));
                    k += 2;
                } else {
                    out[n++] = c;
                }
            }
            add_input(out, n);
        }
        i = e + 1;
    }
    free(out);
    free(buf);
}

/* ---- running and mutating ----------------------------------------------- */

/* Runs one input from a heap block of exactly its size. */
static void run_one(const uint8_t *p, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    if (n)
        memcpy(copy, p, n);
    g_cur = copy;
    g_cur_len = n;
    LLVMFuzzerTestOneInput(n ? copy : (const uint8_t *)"", n);
    g_cur = NULL;
    free(copy);
}

/* Bytes that mean something to one parser or another. */
static const uint8_t interesting8[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xc3, 0xdc, 0xdd,
                                       0xde, 0xdf, 0xef, 0xf4, '\n', '\r', '\t', ' ', '<', '>',
                                       '[', ']', '"', '\\', '=', ':', '-', '|', '{', '}', '0',
                                       '9', '*', '&', '!'};

/* Applies one random mutation to buf[0..*n) (capacity max). */
static void mutate_once(uint8_t *buf, size_t *n, size_t max)
{
    size_t len = *n;
    switch (rng_below(10)) {
    case 0: /* flip a bit */
        if (len)
            buf[rng_below(len)] ^= (uint8_t)(1u << rng_below(8));
        break;
    case 1: /* a random byte */
        if (len)
            buf[rng_below(len)] = (uint8_t)rng_next();
        break;
    case 2: /* an interesting byte */
        if (len)
            buf[rng_below(len)] = interesting8[rng_below(sizeof(interesting8))];
        break;
    case 3: { /* insert 1..4 bytes */
        size_t k = 1 + rng_below(4);
        if (len + k > max)
            break;
        size_t at = rng_below(len + 1);
        memmove(buf + at + k, buf + at, len - at);
        for (size_t i = 0; i < k; i++)
            buf[at + i] = rng_below(2) ? interesting8[rng_below(sizeof(interesting8))]
                                       : (uint8_t)rng_next();
        *n = len + k;
        break;
    }
    case 4: { /* delete a range */
        if (!len)
            break;
        size_t at = rng_below(len), k = 1 + rng_below(len - at < 16 ? len - at : 16);
        memmove(buf + at, buf + at + k, len - at - k);
        *n = len - k;
        break;
    }
    case 5: { /* duplicate a range of itself elsewhere */
        if (!len)
            break;
        size_t from = rng_below(len), k = 1 + rng_below(len - from < 32 ? len - from : 32);
        if (len + k > max)
            break;
        uint8_t tmp[32];
        memcpy(tmp, buf + from, k);
        size_t at = rng_below(len + 1);
        memmove(buf + at + k, buf + at, len - at);
        memcpy(buf + at, tmp, k);
        *n = len + k;
        break;
    }
    case 6: { /* splice: our prefix, another input's suffix */
        const fz_input *o = &corpus.v[rng_below(corpus.n)];
        size_t cut = rng_below(len + 1), from = rng_below(o->n + 1), k = o->n - from;
        if (cut + k > max)
            k = max - cut;
        memcpy(buf + cut, o->p + from, k);
        *n = cut + k;
        break;
    }
    case 7: { /* insert a piece of another input */
        const fz_input *o = &corpus.v[rng_below(corpus.n)];
        if (!o->n)
            break;
        size_t from = rng_below(o->n), k = 1 + rng_below(o->n - from < 64 ? o->n - from : 64);
        if (len + k > max)
            break;
        size_t at = rng_below(len + 1);
        memmove(buf + at + k, buf + at, len - at);
        memcpy(buf + at, o->p + from, k);
        *n = len + k;
        break;
    }
    case 9: { /* a decimal number in the text: +-1, *2, /2 or another */
        size_t b = len ? rng_below(len) : 0;
        while (b < len && (buf[b] < '0' || buf[b] > '9'))
            b++;
        if (b >= len)
            break;
        size_t e = b;
        unsigned long long v = 0;
        while (e < len && buf[e] >= '0' && buf[e] <= '9' && e - b < 18)
            v = v * 10 + (unsigned)(buf[e++] - '0');
        switch (rng_below(5)) {
        case 0: v++; break;
        case 1: v--; break;
        case 2: v *= 2; break;
        case 3: v /= 2; break;
        default: v = rng_next() % 100000; break;
        }
        char d[24];
        int k = snprintf(d, sizeof(d), "%llu", v);
        if (len - (e - b) + (size_t)k > max)
            break;
        memmove(buf + b + k, buf + e, len - e);
        memcpy(buf + b, d, (size_t)k);
        *n = len - (e - b) + (size_t)k;
        break;
    }
    case 8: { /* a boundary value in 1, 2 or 4 bytes, either byte order */
        static const uint32_t vals[] = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
                                        0x10000, 0x7fffffff, 0x80000000u, 0xffffffffu};
        size_t w = (size_t)1 << rng_below(3);
        if (len < w)
            break;
        uint32_t v = vals[rng_below(sizeof(vals) / sizeof(vals[0]))];
        if (rng_below(2))
            v = ~v;
        size_t at = rng_below(len - w + 1);
        for (size_t i = 0; i < w; i++)
            buf[at + i] = (uint8_t)(v >> (8 * (rng_below(2) ? i : w - 1 - i)));
        break;
    }
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long env_num(const char *name, long long def)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    return strtoll(s, NULL, 0);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s [-n ITER] [-s SECONDS] [-m MAXLEN] [--lines FILE] [--tsv COL FILE] "
            "PATH...\n",
            g_name);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *slash = strrchr(argv[0], '/');
    g_name = slash ? slash + 1 : argv[0];
    long long iters = FZ_DEFAULT_ITERS;
    double seconds = FZ_DEFAULT_SECONDS;
    size_t maxlen = FZ_DEFAULT_MAXLEN;
    uint64_t seed = FZ_DEFAULT_SEED;
    const char *es = getenv("VG_FUZZ_SEED");
    if (es && !strcmp(es, "time"))
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    else if (es && *es)
        seed = strtoull(es, NULL, 0);

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            iters = strtoll(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "-m") && i + 1 < argc)
            maxlen = (size_t)strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--lines") && i + 1 < argc)
            add_lines(argv[++i], -1);
        else if (!strcmp(argv[i], "--tsv") && i + 2 < argc) {
            int col = atoi(argv[++i]);
            add_lines(argv[++i], col);
        } else if (argv[i][0] == '-')
            usage();
        else
            add_path(argv[i]);
    }
    if (corpus.n == 0)
        usage();
    iters = env_num("VG_FUZZ_ITERS", iters);
    seconds = (double)env_num("VG_FUZZ_SECONDS", (long long)seconds);
    if (maxlen < 16)
        maxlen = 16;

    const char *dir = getenv("VG_FUZZ_ARTIFACTS");
    snprintf(g_crash_path, sizeof(g_crash_path), "%s/crash-%s", dir && *dir ? dir : ".", g_name);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(save_crash);
    static const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], on_signal);

    double t0 = now_s();
    for (size_t i = 0; i < corpus.n; i++) {
        snprintf(g_origin, sizeof(g_origin), "#%zu of the corpus", i);
        run_one(corpus.v[i].p, corpus.v[i].n);
    }
    double t1 = now_s();
    printf("%s: replayed %zu inputs in %.2f s\n", g_name, corpus.n, t1 - t0);

    printf("%s: seed 0x%llx (set VG_FUZZ_SEED to change), up to %lld mutations or %.0f s\n", g_name,
           (unsigned long long)seed, iters, seconds);
    fflush(stdout);
    rng_state = seed;
    uint8_t *buf = malloc(maxlen);
    if (!buf)
        abort();
    long long it;
    for (it = 0; it < iters; it++) {
        if ((it & 63) == 0 && now_s() - t1 >= seconds)
            break;
        size_t base = rng_below(corpus.n), n = corpus.v[base].n;
        if (n > maxlen)
            n = maxlen;
        memcpy(buf, corpus.v[base].p, n);
        size_t k = 1 + rng_below(8);
        for (size_t j = 0; j < k; j++)
            mutate_once(buf, &n, maxlen);
        g_iter = it;
        snprintf(g_origin, sizeof(g_origin), "seed 0x%llx, from corpus #%zu",
                 (unsigned long long)seed, base);
        run_one(buf, n);
    }
    g_iter = -1;
    printf("%s: %lld mutations in %.2f s, no crash\n", g_name, it, now_s() - t1);
    free(buf);
    for (size_t i = 0; i < corpus.n; i++)
        free(corpus.v[i].p);
    free(corpus.v);
    return 0;
}
