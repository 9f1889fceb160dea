/* Configuration: YAML files loaded into a small tree that remembers where
 * every node came from, so that every complaint names file, line and reason.
 *
 * vg_yaml_load reads one file (libyaml) into a vg_node tree owned by the
 * caller (vg_node_free). Scalars keep their text; maps keep key order.
 * vg_conf_apply then fills a struct from a map node using a declarative
 * table (key, type, default, offset, description): unknown keys, wrong
 * types and out-of-range values are refused with "FILE:LINE: reason".
 */
#ifndef VIGIL_CONF_H
#define VIGIL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vg_node_kind { VG_NODE_SCALAR, VG_NODE_MAP, VG_NODE_SEQ };

typedef struct vg_node vg_node;
typedef struct vg_yaml_src vg_yaml_src; /* a multi-line scalar's source (lib/yaml_src.c) */
struct vg_node {
    enum vg_node_kind kind;
    int line;           /* 1-based line of the node's first character */
    const char *file;   /* the path given to vg_yaml_load (shared by every node) */
    char *str;          /* SCALAR: its text, NUL-terminated */
    size_t n;           /* MAP: number of pairs; SEQ: number of items */
    vg_node **keys;     /* MAP: key scalars (n) */
    vg_node **items;    /* MAP: values (n); SEQ: items (n) */
    vg_yaml_src *src;   /* SCALAR over several lines: its source, for vg_node_line_at; else
                         * NULL. Owned by the node. */
};

/* Loads path into *root. On error returns VG_ECONFIG (or -ENOMEM) and
 * writes "PATH:LINE: reason" into err. An empty file gives an empty MAP.
 * The file is read by vg_cfile_read (vigil/cfile.h): one that is not a
 * regular file (a FIFO, a device, a directory) or is over 16 MiB is
 * refused ("PATH: reason") before any read. */
int vg_yaml_load(const char *path, vg_node **root, char *err, size_t errlen);
/* Same, from a memory buffer; 'name' stands in for the path in messages. */
int vg_yaml_load_mem(const char *name, const char *buf, size_t len, vg_node **root, char *err,
                     size_t errlen);
void vg_node_free(vg_node *root);

/* The file line of byte off of scalar n's text (off at or past its end: of
 * its last byte), 1-based: n->line for a scalar on one line. For a scalar
 * over several lines (a block '|' or '>', a quoted or plain scalar folded
 * over lines) the loader kept its source, and the line is found by reading
 * that source as libyaml does, checked against the text it gave: 0 when
 * that reading does not give the same text (a form this reading does not
 * follow, such as lines broken by NEL, LS, PS or a lone CR), so that a
 * caller names the scalar's first line and says so rather than a wrong
 * line. */
int vg_node_line_at(const vg_node *n, size_t off);

/* The value under key in a MAP node, or NULL (also when map is not a MAP). */
const vg_node *vg_node_get(const vg_node *map, const char *key);

/* The node to name when a file's top level should be {only: ...} and is
 * not: its first key other than 'only' (a stray key's line, where the
 * file's first line held a good 'only:'), else 'only' itself, else top
 * (not a map, or an empty one). */
const vg_node *vg_node_blame_only(const vg_node *top, const char *only);

/* Writes "FILE:LINE: <fmt...>" into err; returns VG_ECONFIG. */
int vg_conf_errf(char *err, size_t errlen, const vg_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

enum vg_conf_type {
    VG_CONF_STR,      /* char *   (strdup'ed; vg_conf_release frees it) */
    VG_CONF_PATH,     /* char *   made absolute against the config file's directory */
    VG_CONF_INT,      /* int64_t  decimal */
    VG_CONF_BOOL,     /* bool     true/false/yes/no/on/off */
    VG_CONF_SIZE,     /* uint64_t bytes; suffixes K, M, G (binary), e.g. "64M" */
    VG_CONF_DURATION, /* int64_t  milliseconds; suffixes ms, s, m, h, d, e.g. "15m" */
    VG_CONF_NODE,     /* const vg_node * the raw node (lists, nested maps), NULL if absent */
    VG_CONF_NAME,     /* char *   like STR, but a name (vg_conf_name_ok): it ends up in paths,
                         store keys and the wire */
};

typedef struct vg_conf_key {
    const char *key;
    enum vg_conf_type type;
    const char *def;  /* default as text (parsed like a YAML value); NULL = no default */
    size_t off;       /* offsetof() the field in the target struct */
    const char *desc; /* one line for --help and docs */
    int64_t min, max; /* INT/SIZE/DURATION bounds, inclusive; both 0 = unbounded */
} vg_conf_key;

/* Fills base from map (which may be NULL: all defaults) per tab (ended by a
 * {NULL} entry). 'file' is used for relative PATHs when map is NULL. */
int vg_conf_apply(const vg_node *map, const char *file, const vg_conf_key *tab, void *base,
                  char *err, size_t errlen);
/* Frees the STR/PATH fields that vg_conf_apply allocated. */
void vg_conf_release(const vg_conf_key *tab, void *base);

/* One key of a reload's "changed, needs a restart" list. */
typedef struct vg_conf_change {
    const char *key;
    bool changed;
} vg_conf_change;

/* Writes the keys of tab[0..n) that changed into out (NUL-terminated, cut
 * to cap), comma-separated; returns how many changed (0: none). */
int vg_conf_changed_list(const vg_conf_change *tab, size_t n, char *out, size_t cap);

/* Helpers for hand-parsed nodes; each reports errors like vg_conf_apply. */
int vg_conf_parse_size(const vg_node *n, uint64_t *out, char *err, size_t errlen);
int vg_conf_parse_duration(const vg_node *n, int64_t *out, char *err, size_t errlen);
int vg_conf_parse_bool(const vg_node *n, bool *out, char *err, size_t errlen);
/* A name that may go into a path, a store key and the wire: 1 to
 * VG_CONF_NAME_MAX letters, digits, '.', '_' or '-', not starting with '.'
 * (so never "." or ".."). Instance and output names. */
#define VG_CONF_NAME_MAX 64
bool vg_conf_name_ok(const char *name);
/* Refuses a path value (scalar n, named 'what' in the message, e.g. "'run_dir'")
 * that YAML or a shell would read otherwise than Vigil does: '~' or '~/x'
 * (no home directory expansion here: it made a directory named '~'), and
 * null / Null / NULL (YAML's "no value": it made a file named 'null'). */
int vg_conf_path_check(const vg_node *n, const char *what, char *err, size_t errlen);
/* Resolves rel against the directory of file; returns a malloc'ed path. */
char *vg_conf_path(const char *file, const char *rel);

#endif
