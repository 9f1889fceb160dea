/* Declarative configuration tables: a vg_node map into a C struct.
 *
 * Rules beyond what conf.h states:
 *   - Keys with def == NULL: STR, PATH and NODE fields are set to NULL when
 *     the key is absent (optional; the caller decides whether that is an
 *     error). INT, BOOL, SIZE and DURATION keys without a default are
 *     required: their absence is "FILE:LINE: missing required key 'x'".
 *   - def is ignored for NODE (a node cannot be made from text here).
 *   - INT is decimal with an optional '-'; no spaces, no '+', no hex.
 *   - SIZE is digits with an optional K, M or G suffix (powers of 1024).
 *   - DURATION needs a unit (ms, s, m, h, d) unless it is 0: a bare "30"
 *     is refused because seconds and milliseconds are too easy to confuse.
 *   - BOOL accepts true/false/yes/no/on/off in any case.
 *   - STR and PATH must be scalars; a PATH must not be empty.
 *   - Bounds (min, max) apply when either is non-zero; for SIZE they are
 *     compared as unsigned (a negative min counts as 0).
 * On error, the STR/PATH fields this call allocated are freed and set to
 * NULL; other fields it wrote keep their values. Allocation failures return
 * -ENOMEM (with "out of memory" in err); every other error is VG_ECONFIG.
 */
#include "vigil/conf.h"
#include "vigil/err.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

_Static_assert(sizeof(unsigned long long) == sizeof(uint64_t), "strtoull must give 64 bits");
_Static_assert(sizeof(long long) == sizeof(int64_t), "strtoll must give 64 bits");

int vg_conf_errf(char *err, size_t errlen, const vg_node *at, const char *fmt, ...)
{
    if (!err || !errlen) return VG_ECONFIG;
    int k = 0;
    if (at && at->file && at->line > 0)
        k = snprintf(err, errlen, "%s:%d: ", at->file, at->line);
    else if (at && at->file)
        k = snprintf(err, errlen, "%s: ", at->file);
    else
        err[0] = '\0';
    size_t off = k < 0 ? 0 : (size_t)k;
    if (off < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + off, errlen - off, fmt, ap);
        va_end(ap);
    }
    return VG_ECONFIG;
}

const vg_node *vg_node_blame_only(const vg_node *top, const char *only)
{
    if (top->kind != VG_NODE_MAP || top->n == 0) return top;
    for (size_t i = 0; i < top->n; i++)
        if (strcmp(top->keys[i]->str, only) != 0) return top->keys[i];
    return top->keys[0];
}

static int conf_nomem(char *err, size_t errlen)
{
    if (err && errlen) snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

/* What a value looked like, for "got ..." in messages. */
static const char *conf_kind_name(const vg_node *n)
{
    return n->kind == VG_NODE_MAP ? "a map" : "a list";
}

/* "'name' must be WHAT, got 'text'", or "expected WHAT, got ..." for the
 * public helpers, which do not know the key's name. */
static int conf_bad(char *err, size_t errlen, const vg_node *n, const char *name, const char *what)
{
    if (n->kind != VG_NODE_SCALAR) {
        if (name)
            return vg_conf_errf(err, errlen, n, "'%s' must be %s, got %s", name, what,
                                conf_kind_name(n));
        return vg_conf_errf(err, errlen, n, "expected %s, got %s", what, conf_kind_name(n));
    }
    if (name) return vg_conf_errf(err, errlen, n, "'%s' must be %s, got '%s'", name, what, n->str);
    return vg_conf_errf(err, errlen, n, "expected %s, got '%s'", what, n->str);
}

static int conf_range(char *err, size_t errlen, const vg_node *n, const char *name)
{
    if (name) return vg_conf_errf(err, errlen, n, "'%s' is out of range, got '%s'", name, n->str);
    return vg_conf_errf(err, errlen, n, "value is out of range, got '%s'", n->str);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the run of ASCII digits at s (locale-free, unlike isdigit). */
static size_t digits(const char *s)
{
    size_t i = 0;
    while (is_digit(s[i]))
        i++;
    return i;
}

#define WHAT_INT "an integer"
#define WHAT_BOOL "a boolean (true/false, yes/no, on/off)"
#define WHAT_SIZE "a size (bytes, or a number with suffix K, M or G, e.g. 64M)"
#define WHAT_DURATION "a duration (a number with unit ms, s, m, h or d, e.g. 15m)"

static int conf_int(const vg_node *n, const char *name, int64_t *out, char *err, size_t errlen)
{
    if (n->kind != VG_NODE_SCALAR) return conf_bad(err, errlen, n, name, WHAT_INT);
    const char *s = n->str;
    size_t sign = s[0] == '-';
    size_t nd = digits(s + sign);
    if (nd == 0 || s[sign + nd] != '\0') return conf_bad(err, errlen, n, name, WHAT_INT);
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE) return conf_range(err, errlen, n, name);
    *out = v;
    return 0;
}

static int conf_size(const vg_node *n, const char *name, uint64_t *out, char *err, size_t errlen)
{
    if (n->kind != VG_NODE_SCALAR) return conf_bad(err, errlen, n, name, WHAT_SIZE);
    const char *s = n->str;
    size_t nd = digits(s);
    unsigned shift;
    /* The whole syntax is checked before the number, so that "9999...X"
     * is a syntax error, not an overflow. */
    if (nd == 0) return conf_bad(err, errlen, n, name, WHAT_SIZE);
    if (s[nd] == '\0')
        shift = 0;
    else if (s[nd + 1] != '\0')
        return conf_bad(err, errlen, n, name, WHAT_SIZE);
    else if (s[nd] == 'K')
        shift = 10;
    else if (s[nd] == 'M')
        shift = 20;
    else if (s[nd] == 'G')
        shift = 30;
    else
        return conf_bad(err, errlen, n, name, WHAT_SIZE);
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE || v > (UINT64_MAX >> shift)) return conf_range(err, errlen, n, name);
    *out = (uint64_t)v << shift;
    return 0;
}

static int conf_duration(const vg_node *n, const char *name, int64_t *out, char *err, size_t errlen)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};

    if (n->kind != VG_NODE_SCALAR) return conf_bad(err, errlen, n, name, WHAT_DURATION);
    const char *s = n->str;
    size_t nd = digits(s);
    int64_t mult = 0;
    if (nd == 0) return conf_bad(err, errlen, n, name, WHAT_DURATION);
    if (s[nd] == '\0' && strspn(s, "0") == nd) mult = 1; /* zero needs no unit */
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && !mult; i++)
        if (strcmp(s + nd, units[i].unit) == 0) mult = units[i].ms;
    if (!mult) return conf_bad(err, errlen, n, name, WHAT_DURATION);
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v > INT64_MAX / mult) return conf_range(err, errlen, n, name);
    *out = v * mult;
    return 0;
}

static int conf_bool(const vg_node *n, const char *name, bool *out, char *err, size_t errlen)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};

    if (n->kind == VG_NODE_SCALAR) {
        for (size_t i = 0; i < 3; i++) {
            if (strcasecmp(n->str, yes[i]) == 0) {
                *out = true;
                return 0;
            }
            if (strcasecmp(n->str, no[i]) == 0) {
                *out = false;
                return 0;
            }
        }
    }
    return conf_bad(err, errlen, n, name, WHAT_BOOL);
}

int vg_conf_parse_size(const vg_node *n, uint64_t *out, char *err, size_t errlen)
{
    return conf_size(n, NULL, out, err, errlen);
}

int vg_conf_parse_duration(const vg_node *n, int64_t *out, char *err, size_t errlen)
{
    return conf_duration(n, NULL, out, err, errlen);
}

int vg_conf_parse_bool(const vg_node *n, bool *out, char *err, size_t errlen)
{
    return conf_bool(n, NULL, out, err, errlen);
}

/* Appends s (len bytes) to the path being built at *p, putting exactly one
 * '/' between it and what is already there. */
static void path_add(char *out, char **p, const char *s, size_t len)
{
    if (*p > out && (*p)[-1] != '/' && (len == 0 || s[0] != '/')) *(*p)++ = '/';
    memcpy(*p, s, len);
    *p += len;
    **p = '\0';
}

/* Lexical only (no realpath): the config's directory is taken as written,
 * so symlinked config directories resolve the way the operator sees them.
 * A relative or NULL file is taken against the current directory, so the
 * result is absolute even if the daemon changes directory later. Returns
 * NULL (errno set) if memory or the current directory is unavailable. */
char *vg_conf_path(const char *file, const char *rel)
{
    if (!rel) {
        errno = EINVAL;
        return NULL;
    }
    if (rel[0] == '/') return strdup(rel);
    while (rel[0] == '.' && rel[1] == '/') {
        rel += 2;
        while (rel[0] == '/')
            rel++;
    }

    const char *dir = file ? file : "";
    const char *slash = strrchr(dir, '/');
    size_t dlen = slash ? (size_t)(slash - dir) : 0;
    if (slash && dlen == 0) dlen = 1; /* "/vigil.yaml": the directory is "/" */
    while (dlen >= 2 && dir[0] == '.' && dir[1] == '/') {
        dir += 2;
        dlen -= 2;
        while (dlen && dir[0] == '/')
            dir++, dlen--;
    }
    if (dlen == 1 && dir[0] == '.') dlen = 0;

    char *cwd = NULL;
    if (dir[0] != '/' && !(cwd = getcwd(NULL, 0))) return NULL;
    size_t clen = cwd ? strlen(cwd) : 0, rlen = strlen(rel);
    char *out = malloc(clen + dlen + rlen + 3);
    if (out) {
        char *p = out;
        *p = '\0';
        path_add(out, &p, cwd ? cwd : "", clen);
        path_add(out, &p, dir, dlen);
        path_add(out, &p, rel, rlen);
    }
    free(cwd);
    return out;
}

int vg_conf_path_check(const vg_node *n, const char *what, char *err, size_t errlen)
{
    if (n->str[0] == '~')
        return vg_conf_errf(err, errlen, n,
                            "%s is '%s': '~' is not expanded to a home directory here (it would "
                            "name '%s' in the configuration file's directory): write the full "
                            "path",
                            what, n->str, n->str);
    if (strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
        strcmp(n->str, "NULL") == 0)
        return vg_conf_errf(err, errlen, n,
                            "%s is '%s', which YAML reads as no value (it would name '%s' in the "
                            "configuration file's directory): leave the key out",
                            what, n->str, n->str);
    return 0;
}

/* Checks v against the key's inclusive bounds (none when both are 0). */
static int conf_bounds(const vg_conf_key *k, const vg_node *n, int64_t v, char *err, size_t errlen)
{
    if ((k->min || k->max) && (v < k->min || v > k->max)) {
        const char *unit = k->type == VG_CONF_DURATION ? " ms" : "";
        return vg_conf_errf(err, errlen, n,
                            "'%s' must be between %" PRId64 " and %" PRId64 "%s, got '%s'", k->key,
                            k->min, k->max, unit, n->str);
    }
    return 0;
}

static int conf_bounds_u(const vg_conf_key *k, const vg_node *n, uint64_t v, char *err,
                         size_t errlen)
{
    uint64_t lo = k->min < 0 ? 0 : (uint64_t)k->min;
    uint64_t hi = k->max < 0 ? 0 : (uint64_t)k->max;
    if ((k->min || k->max) && (v < lo || v > hi))
        return vg_conf_errf(err, errlen, n,
                            "'%s' must be between %" PRIu64 " and %" PRIu64 " bytes, got '%s'",
                            k->key, lo, hi, n->str);
    return 0;
}

/* Parses node n (the value, or the default made into a node) into the
 * field of key k. 'file' is the config file for PATH resolution. */
static int conf_one(const vg_conf_key *k, const vg_node *n, const char *file, void *base, char *err,
                    size_t errlen)
{
    char *field = (char *)base + k->off;
    int rc;

    switch (k->type) {
    case VG_CONF_STR:
    case VG_CONF_NAME:
    case VG_CONF_PATH: {
        if (n->kind != VG_NODE_SCALAR)
            return conf_bad(err, errlen, n, k->key,
                            k->type == VG_CONF_PATH ? "a path" : "a string");
        if (k->type == VG_CONF_PATH && n->str[0] == '\0')
            return vg_conf_errf(err, errlen, n, "'%s' must be a non-empty path", k->key);
        if (k->type == VG_CONF_PATH && n->line > 0) { /* not for the program's defaults */
            char what[96];
            snprintf(what, sizeof(what), "'%s'", k->key);
            if ((rc = vg_conf_path_check(n, what, err, errlen))) return rc;
        }
        if (k->type == VG_CONF_NAME && !vg_conf_name_ok(n->str))
            return vg_conf_errf(err, errlen, n,
                                "'%s' must be 1 to %d letters, digits, '.', '_' or '-', not "
                                "starting with '.' (got '%s')",
                                k->key, VG_CONF_NAME_MAX, n->str);
        char *s = k->type == VG_CONF_PATH ? vg_conf_path(file, n->str) : strdup(n->str);
        if (!s) return conf_nomem(err, errlen);
        *(char **)field = s;
        return 0;
    }
    case VG_CONF_INT: {
        int64_t v = 0;
        if ((rc = conf_int(n, k->key, &v, err, errlen)) || (rc = conf_bounds(k, n, v, err, errlen)))
            return rc;
        *(int64_t *)field = v;
        return 0;
    }
    case VG_CONF_DURATION: {
        int64_t v = 0;
        if ((rc = conf_duration(n, k->key, &v, err, errlen)) ||
            (rc = conf_bounds(k, n, v, err, errlen)))
            return rc;
        *(int64_t *)field = v;
        return 0;
    }
    case VG_CONF_SIZE: {
        uint64_t v = 0;
        if ((rc = conf_size(n, k->key, &v, err, errlen)) ||
            (rc = conf_bounds_u(k, n, v, err, errlen)))
            return rc;
        *(uint64_t *)field = v;
        return 0;
    }
    case VG_CONF_BOOL:
        return conf_bool(n, k->key, (bool *)field, err, errlen);
    case VG_CONF_NODE:
        *(const vg_node **)field = n;
        return 0;
    }
    return vg_conf_errf(err, errlen, n, "'%s' has an unknown type %d", k->key, (int)k->type);
}

/* "FILE:LINE: unknown key 'x' (expected one of: a, b, c)". */
static int conf_unknown(const vg_conf_key *tab, const vg_node *key, char *err, size_t errlen)
{
    size_t len = 1;
    for (const vg_conf_key *k = tab; k->key; k++)
        len += strlen(k->key) + 2;
    char *list = malloc(len);
    if (!list) return conf_nomem(err, errlen);
    char *p = list;
    *p = '\0';
    for (const vg_conf_key *k = tab; k->key; k++)
        p += sprintf(p, "%s%s", p == list ? "" : ", ", k->key);
    int rc =
        vg_conf_errf(err, errlen, key, "unknown key '%s' (expected one of: %s)", key->str, list);
    free(list);
    return rc;
}

int vg_conf_apply(const vg_node *map, const char *file, const vg_conf_key *tab, void *base,
                  char *err, size_t errlen)
{
    const vg_conf_key *k;
    int rc = 0;

    if (err && errlen) err[0] = '\0';
    if (map) {
        file = map->file;
        if (map->kind != VG_NODE_MAP) return conf_bad(err, errlen, map, NULL, "a map");
        for (size_t i = 0; i < map->n; i++) {
            for (k = tab; k->key && strcmp(k->key, map->keys[i]->str) != 0; k++)
                ;
            if (!k->key) return conf_unknown(tab, map->keys[i], err, errlen);
        }
    }

    for (k = tab; k->key; k++) {
        const vg_node *n = vg_node_get(map, k->key);
        if (n) {
            rc = conf_one(k, n, file, base, err, errlen);
        } else if (k->type == VG_CONF_NODE) {
            *(const vg_node **)((char *)base + k->off) = NULL;
        } else if (k->def) {
            /* A default is parsed like a value written in the file; an
             * error in it is the program's, so it carries no location. */
            vg_node d = {.kind = VG_NODE_SCALAR, .str = (char *)k->def};
            rc = conf_one(k, &d, file, base, err, errlen);
        } else if (k->type == VG_CONF_STR || k->type == VG_CONF_NAME || k->type == VG_CONF_PATH) {
            *(char **)((char *)base + k->off) = NULL;
        } else {
            vg_node at = {.kind = VG_NODE_MAP, .file = file, .line = map ? map->line : 0};
            rc = vg_conf_errf(err, errlen, &at, "missing required key '%s'", k->key);
        }
        if (rc) break;
    }
    if (rc) {
        /* Only the entries before k were filled by this call. */
        for (const vg_conf_key *j = tab; j < k; j++) {
            if (j->type == VG_CONF_STR || j->type == VG_CONF_NAME || j->type == VG_CONF_PATH) {
                char **f = (char **)((char *)base + j->off);
                free(*f);
                *f = NULL;
            }
        }
    }
    return rc;
}

bool vg_conf_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > VG_CONF_NAME_MAX || name[0] == '.')
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

void vg_conf_release(const vg_conf_key *tab, void *base)
{
    for (const vg_conf_key *k = tab; k->key; k++) {
        if (k->type == VG_CONF_STR || k->type == VG_CONF_NAME || k->type == VG_CONF_PATH) {
            char **f = (char **)((char *)base + k->off);
            free(*f);
            *f = NULL;
        }
    }
}

int vg_conf_changed_list(const vg_conf_change *tab, size_t n, char *out, size_t cap)
{
    int count = 0;
    size_t off = 0;
    if (cap)
        out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!tab[i].changed)
            continue;
        if (off < cap) {
            int k = snprintf(out + off, cap - off, "%s%s", count ? ", " : "", tab[i].key);
            off += k > 0 ? (size_t)k : 0;
        }
        count++;
    }
    return count;
}
