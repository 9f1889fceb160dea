/* Fuzz target: vg_yaml_load_mem and vg_conf_apply (include/vigil/conf.h)
 * on arbitrary bytes, as if they were a configuration file "fuzz.yaml".
 *
 * Checked:
 *   - load: 0 with a tree and an empty err, or VG_ECONFIG (-ENOMEM) with no
 *     tree and err "fuzz.yaml:LINE: reason", LINE within the input; a
 *     smaller err buffer gets a NUL-terminated prefix of the same message;
 *   - the tree: every node names the file and a line within the input;
 *     vg_node_line_at of each byte of a scalar is 0 for all of them (a
 *     multi-line scalar whose lines cannot be told) or lines from the
 *     scalar's own on, in order, within the input;
 *     scalars have text and no children; map keys are scalars, never
 *     repeated, and vg_node_get finds each one's value; nesting is bounded;
 *   - vg_conf_apply of two tables (all key types; one with a required key)
 *     on the root and on nested maps, and the parse helpers on every node:
 *     0 with every value within its bounds, or VG_ECONFIG with
 *     "fuzz.yaml:LINE: " in err and every STR/PATH field NULL (freed);
 *     LeakSanitizer checks that vg_conf_release frees the rest.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vigil/conf.h"
#include "vigil/err.h"

#define NAME "fuzz.yaml"
#define ERRLEN 512
#define MAX_DEPTH 64 /* VG__YAML_MAX_DEPTH in lib/yaml.c */

static int g_maxline;

typedef struct conf {
    char *name;
    char *path;
    int64_t workers;
    bool enabled;
    uint64_t max_size;
    int64_t timeout;
    const vg_node *rules;
    int64_t limit;
    int64_t offset;
    uint64_t size;
    int64_t delay;
} conf;

static const vg_conf_key tab_opt[] = {
    {"name", VG_CONF_STR, "vigil", offsetof(conf, name), "a string", 0, 0},
    {"path", VG_CONF_PATH, NULL, offsetof(conf, path), "a path", 0, 0},
    {"workers", VG_CONF_INT, "4", offsetof(conf, workers), "bounded int", 1, 64},
    {"enabled", VG_CONF_BOOL, "true", offsetof(conf, enabled), "a bool", 0, 0},
    {"max_size", VG_CONF_SIZE, "64M", offsetof(conf, max_size), "bounded size", 1024,
     INT64_C(1) << 40},
    {"timeout", VG_CONF_DURATION, "15s", offsetof(conf, timeout), "bounded duration", 1,
     86400000},
    {"rules", VG_CONF_NODE, NULL, offsetof(conf, rules), "a node", 0, 0},
    {NULL, 0, NULL, 0, NULL, 0, 0},
};

static const vg_conf_key tab_req[] = {
    {"name", VG_CONF_STR, NULL, offsetof(conf, name), "optional string", 0, 0},
    {"offset", VG_CONF_INT, "0", offsetof(conf, offset), "unbounded int", 0, 0},
    {"size", VG_CONF_SIZE, "0", offsetof(conf, size), "unbounded size", 0, 0},
    {"delay", VG_CONF_DURATION, "0", offsetof(conf, delay), "unbounded duration", 0, 0},
    {"path", VG_CONF_PATH, "spool", offsetof(conf, path), "path with a default", 0, 0},
    {"limit", VG_CONF_INT, NULL, offsetof(conf, limit), "required int", 0, 0},
    {NULL, 0, NULL, 0, NULL, 0, 0},
};

/* An upper bound of the lines libyaml can count: it breaks lines at LF, CR,
 * CR LF, NEL, LS and PS, and reads UTF-16 too. */
static int max_line(const uint8_t *p, size_t n)
{
    if (n >= 2 && ((p[0] == 0xFE && p[1] == 0xFF) || (p[0] == 0xFF && p[1] == 0xFE)))
        return (int)n + 1;
    int lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += p[i] == '\n' || p[i] == '\r' || p[i] == 0x85 || p[i] == 0xA8 || p[i] == 0xA9;
    return lines;
}

/* err must read "fuzz.yaml:LINE: " with 1 <= LINE <= g_maxline. */
static void check_err(const char *err)
{
    FZ_CHECKF(!strncmp(err, NAME ":", sizeof(NAME)), "err '%s'", err);
    const char *p = err + sizeof(NAME);
    long line = 0;
    size_t nd = 0;
    while (p[nd] >= '0' && p[nd] <= '9' && nd < 10)
        line = line * 10 + (p[nd++] - '0');
    FZ_CHECKF(nd > 0 && p[nd] == ':' && p[nd + 1] == ' ', "err '%s'", err);
    /* + 1: an error about an implicit null at the end (see check_tree) */
    FZ_CHECKF(line >= 1 && line <= g_maxline + 1, "line %ld of %d: '%s'", line, g_maxline, err);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_tree(const vg_node *n, const char *file, int depth)
{
    FZ_CHECK(n && n->file == file);
    /* An implicit null ("? key" without a value) takes the line of the
     * token after it: at the end of a file without a final newline, that
     * is one past the last line (libyaml's mark, a harmless quirk). */
    int implicit = n->kind == VG_NODE_SCALAR && n->str && !n->str[0];
    FZ_CHECKF(n->line >= 1 && n->line <= g_maxline + implicit, "line %d of %d", n->line,
              g_maxline);
    if (n->kind == VG_NODE_SCALAR) {
        FZ_CHECK(n->str && n->n == 0);
        /* the line of each byte of a multi-line scalar: its own or a later
         * one, never going back, or 0 (cannot be told) for all of them */
        size_t len = strlen(n->str);
        int prev = n->line, first = vg_node_line_at(n, 0);
        for (size_t i = 0; first && i <= len && i < 4096; i++) {
            int l = vg_node_line_at(n, i);
            FZ_CHECKF(l >= prev && l <= g_maxline + implicit, "byte %zu on line %d (from %d, of %d)",
                      i, l, prev, g_maxline);
            prev = l;
        }
        FZ_CHECK(n->src || first == n->line);
        return;
    }
    FZ_CHECK(n->kind == VG_NODE_MAP || n->kind == VG_NODE_SEQ);
    FZ_CHECK(depth < MAX_DEPTH);
    FZ_CHECK(!n->str && (n->n == 0 || n->items));
    if (n->kind == VG_NODE_SEQ) {
        FZ_CHECK(!n->keys);
    } else if (n->n) {
        FZ_CHECK(n->keys);
        const char **k = malloc(n->n * sizeof(*k));
        if (!k)
            abort();
        for (size_t i = 0; i < n->n; i++) {
            FZ_CHECK(n->keys[i] && n->keys[i]->kind == VG_NODE_SCALAR);
            check_tree(n->keys[i], file, depth + 1);
            k[i] = n->keys[i]->str;
        }
        qsort(k, n->n, sizeof(*k), str_cmp);
        for (size_t i = 1; i < n->n; i++)
            FZ_CHECKF(strcmp(k[i - 1], k[i]) != 0, "duplicate key '%s'", k[i]);
        free(k);
        for (size_t i = 0; i < n->n && i < 64; i++)
            FZ_CHECK(vg_node_get(n, n->keys[i]->str) == n->items[i]);
    }
    for (size_t i = 0; i < n->n; i++)
        check_tree(n->items[i], file, depth + 1);
}

static void apply(const vg_node *map, const vg_conf_key *tab)
{
    char *err = malloc(ERRLEN);
    conf c;
    if (!err)
        abort();
    memset(&c, 0, sizeof(c));
    int rc = vg_conf_apply(map, NAME, tab, &c, err, ERRLEN);
    if (rc) {
        FZ_CHECKF(rc == VG_ECONFIG, "rc %d", rc);
        check_err(err);
        FZ_CHECK(!c.name && !c.path);
    } else {
        FZ_CHECK(err[0] == '\0');
        if (tab == tab_opt) {
            FZ_CHECK(c.name);
            FZ_CHECK(c.workers >= 1 && c.workers <= 64);
            FZ_CHECK(c.max_size >= 1024 && c.max_size <= (UINT64_C(1) << 40));
            FZ_CHECK(c.timeout >= 1 && c.timeout <= 86400000);
            FZ_CHECK(c.rules == vg_node_get(map, "rules"));
        } else {
            FZ_CHECK(vg_node_get(map, "limit") != NULL); /* required */
            FZ_CHECK(c.delay >= 0);
        }
        FZ_CHECK(!c.path || c.path[0] == '/');
        vg_conf_release(tab, &c);
        FZ_CHECK(!c.name && !c.path);
    }
    free(err);
}

/* The parse helpers and vg_conf_apply on every node (up to *budget). */
static void walk(const vg_node *n, int *budget)
{
    if ((*budget)-- <= 0)
        return;
    char *err = malloc(ERRLEN);
    if (!err)
        abort();
    uint64_t sz;
    int64_t ms;
    bool b;
    if (vg_conf_parse_size(n, &sz, err, ERRLEN))
        check_err(err);
    if (vg_conf_parse_duration(n, &ms, err, ERRLEN))
        check_err(err);
    else
        FZ_CHECK(ms >= 0);
    if (vg_conf_parse_bool(n, &b, err, ERRLEN))
        check_err(err);
    free(err);
    if (n->kind == VG_NODE_MAP)
        apply(n, tab_opt);
    for (size_t i = 0; i < n->n; i++)
        walk(n->items[i], budget);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *err = malloc(ERRLEN);
    vg_node *root = (vg_node *)1;
    if (!err)
        abort();
    g_maxline = max_line(data, size);

    int rc = vg_yaml_load_mem(NAME, (const char *)data, size, &root, err, ERRLEN);
    if (rc) {
        FZ_CHECKF(rc == VG_ECONFIG || rc == -ENOMEM, "rc %d", rc);
        FZ_CHECK(root == NULL);
        FZ_CHECK(memchr(err, '\0', ERRLEN));
        if (rc == VG_ECONFIG) {
            check_err(err);
            /* A short buffer: the same message, cut and terminated. */
            char *small = malloc(12);
            vg_node *r2 = NULL;
            if (!small)
                abort();
            FZ_CHECK(vg_yaml_load_mem(NAME, (const char *)data, size, &r2, small, 12) == rc);
            FZ_CHECK(!r2 && memchr(small, '\0', 12) && !strncmp(small, err, 11));
            free(small);
        }
        free(err);
        return 0;
    }
    FZ_CHECK(root != NULL && err[0] == '\0');
    FZ_CHECK(root->file && !strcmp(root->file, NAME));
    check_tree(root, root->file, 0);

    apply(root, tab_opt);
    apply(root, tab_req);
    int budget = 256;
    walk(root, &budget);

    vg_node_free(root);
    free(err);
    return 0;
}
