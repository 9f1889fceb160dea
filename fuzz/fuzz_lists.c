/* Fuzz target: watchlist files (cor_lists_load_file), the threat
 * information the units share, which arrive from outside: the input is a
 * list file, loaded into a real LMDB store as list "a".
 *
 * Checked:
 *   - a refused file: a negative code, err "PATH:LINE: reason" with LINE
 *     within the file, and the list as it was (its dump unchanged);
 *   - an accepted file: the count is the list's size and the number of
 *     entries its dump writes; its dump (canonical form), loaded as list "b", dumps to the same entries with the same
 *     count ("loading a dump gives the same list", docs/watchlists.md);
 *   - every entry of the dump that is not a network or a one-label domain
 *     (".tk") is found by a lookup of its own text: addresses, hashes,
 *     domains and strings are read the same way as entries and as values;
 *   - a network ("A/N") holds its own address A, and a one-label domain
 *     (".tk", the label not all digits) a name under it ("x.tk")
 *     (docs/watchlists.md, Matching).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cor_lists.h"
#include "fuzz.h"
#include "vigil/store.h"

#define ERRLEN 1024

static char g_dir[PATH_MAX - 64]; /* the store and the files */
static char g_file[PATH_MAX];     /* g_dir/list.txt: the input */
static char g_dump[PATH_MAX];     /* g_dir/dump.txt: list a's dump, loaded as b */
static vg_store *g_st;
static cor_lists *g_lists;

static void fz_cleanup(void)
{
    cor_lists_close(g_lists);
    vg_store_close(g_st);
    const char *const names[] = {"list.txt", "dump.txt", "data.mdb", "lock.mdb"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char p[PATH_MAX + 16];
        snprintf(p, sizeof(p), "%s/%s", g_dir, names[i]);
        unlink(p);
    }
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_tmpdir(g_dir, sizeof(g_dir), "lists");
    snprintf(g_file, sizeof(g_file), "%s/list.txt", g_dir);
    snprintf(g_dump, sizeof(g_dump), "%s/dump.txt", g_dir);
    /* no fsync: the target is about parsing and lookups, not power loss */
    FZ_CHECK(vg_store_open_ex(&g_st, g_dir, 64, VG_STORE_ASYNC_SYNC) == 0);
    FZ_CHECK(cor_lists_open(g_st, &g_lists) == 0);
    atexit(fz_cleanup);
    return 0;
}

/* The dump of list name in a malloc'd string (*len bytes); *body is where
 * the entries start, after a header line that names the list. NULL for a
 * list never loaded. */
static char *fz_dump(const char *name, size_t *len, size_t *body)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    FZ_CHECK(f != NULL);
    int rc = cor_lists_dump(g_lists, name, f);
    FZ_CHECK(fclose(f) == 0);
    if (rc == -ENOENT) {
        free(buf);
        return NULL;
    }
    FZ_CHECKF(rc == 0, "dump of %s: %d", name, rc);
    FZ_CHECKF(n > 0 && buf[0] == '#', "dump of %s has no header", name);
    char *nl = memchr(buf, '\n', n);
    *body = nl ? (size_t)(nl + 1 - buf) : n;
    *len = n;
    return buf;
}

/* s[0, n) with bytes other than printable ASCII written \xHH, for messages
 * (into a static buffer: one call per message). */
static const char *fz_esc(const char *s, size_t n)
{
    static char out[8192];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < sizeof(out); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || (c >= 0x20 && c < 0x7f && c != '\\'))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

static long fz_lines(const uint8_t *p, size_t n)
{
    long lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += p[i] == '\n';
    return lines + (n > 0 && p[n - 1] != '\n');
}

/* Whether the dumped entry p[0, n) is a network, "A/N" with A of digits and
 * dots, or of hex digits, ':' and '.' with a ':' (such a line is a network
 * or refused, docs/watchlists.md); *an is A's length. */
static int fz_network(const char *p, size_t n, size_t *an)
{
    const char *sl = memchr(p, '/', n);
    if (!sl || sl == p) return 0;
    size_t a = (size_t)(sl - p), colons = 0, v4 = 1;
    for (size_t i = 0; i < a; i++) {
        char c = p[i];
        colons += c == ':';
        v4 &= (c >= '0' && c <= '9') || c == '.';
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == ':' || c == '.'))
            return 0;
    }
    *an = a;
    return v4 || colons > 0;
}

static void fz_write(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    FZ_CHECK(f != NULL);
    FZ_CHECK(n == 0 || fwrite(p, 1, n, f) == n);
    FZ_CHECK(fclose(f) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_st) LLVMFuzzerInitialize(NULL, NULL);
    fz_write(g_file, data, size);
    size_t before_len = 0, before_body = 0, count = 0;
    char *before = fz_dump("a", &before_len, &before_body);
    char err[ERRLEN];
    err[0] = '\0';
    int rc = cor_lists_load_file(g_lists, "a", g_file, &count, err, sizeof(err));
    if (rc != 0) {
        FZ_CHECKF(rc < 0, "rc %d", rc);
        size_t fl = strlen(g_file);
        FZ_CHECKF(strncmp(err, g_file, fl) == 0 && err[fl] == ':', "no file named: '%s'", err);
        char *end;
        long line = strtol(err + fl + 1, &end, 10);
        FZ_CHECKF(end > err + fl + 1 && end[0] == ':' && end[1] == ' ' && end[2],
                  "not PATH:LINE: reason: '%s'", err);
        FZ_CHECKF(line >= 1 && line <= fz_lines(data, size), "line %ld: '%s'", line, err);
        size_t after_len = 0, after_body = 0;
        char *after = fz_dump("a", &after_len, &after_body);
        FZ_CHECKF((!before && !after) || (before && after && before_len == after_len &&
                                          memcmp(before, after, before_len) == 0),
                  "a refused file changed the list");
        free(before);
        free(after);
        return 0;
    }
    free(before);
    FZ_CHECKF(count == cor_lists_size(g_lists, "a"), "count %zu, size %llu", count,
              (unsigned long long)cor_lists_size(g_lists, "a"));
    size_t alen = 0, blen = 0, abody = 0, bbody = 0, bcount = 0;
    char *a = fz_dump("a", &alen, &abody);
    FZ_CHECK(a != NULL);
    fz_write(g_dump, a, alen);
    rc = cor_lists_load_file(g_lists, "b", g_dump, &bcount, err, sizeof(err));
    FZ_CHECKF(rc == 0, "the dump of a was refused: %s\n%s", err, fz_esc(a, alen));
    char *b = fz_dump("b", &blen, &bbody);
    FZ_CHECK(b != NULL);
    if (!(bcount == count && alen - abody == blen - bbody &&
          memcmp(a + abody, b + bbody, alen - abody) == 0)) {
        fprintf(stderr, "dump of a:\n%s", fz_esc(a, alen));
        fprintf(stderr, "---\ndump of b, loaded from it:\n%s---\n", fz_esc(b, blen));
        FZ_CHECKF(0, "loading a dump changed the list (%zu -> %zu entries)", count, bcount);
    }
    cor_list *h = NULL;
    FZ_CHECK(cor_lists_handle(g_lists, "a", &h) == 0);
    /* by length: a string entry may hold a NUL */
    size_t entries = 0;
    for (char *p = a + abody, *end = a + alen; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p), an = 0, digits = 0;
        for (size_t i = 1; i < n; i++) /* after a leading '.' */
            digits += p[i] >= '0' && p[i] <= '9';
        entries += n > 0;
        if (n > 0 && p[0] != '#' && !memchr(p, '/', n) && p[0] != '.')
            FZ_CHECKF(cor_list_contains(h, (vg_str){p, (uint32_t)n}), "entry '%s' not found",
                      fz_esc(p, n));
        else if (n > 0 && p[0] != '#' && fz_network(p, n, &an))
            FZ_CHECKF(cor_list_contains(h, (vg_str){p, (uint32_t)an}),
                      "network '%s' does not hold its own address", fz_esc(p, n));
        else if (n > 1 && n < 200 && p[0] == '.' && !memchr(p + 1, '.', n - 1) &&
                 digits < n - 1) {
            char sub[256];
            int sn = snprintf(sub, sizeof(sub), "x%.*s", (int)n, p);
            FZ_CHECKF(cor_list_contains(h, (vg_str){sub, (uint32_t)sn}),
                      "top-level domain '%s' does not hold '%s'", fz_esc(p, n), sub);
        }
        p += n + (nl != NULL);
    }
    FZ_CHECKF(entries == count, "%zu entries dumped, %zu loaded", entries, count);
    free(a);
    free(b);
    return 0;
}
