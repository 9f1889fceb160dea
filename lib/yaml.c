/* YAML files into vg_node trees (libyaml's event parser).
 *
 * The tree is deliberately poorer than YAML: every scalar is text, maps keep
 * key order, and the features that make configuration hard to read or unsafe
 * to load are refused with "PATH:LINE: reason":
 *   - anchors and aliases (refused, not resolved: an alias bomb cannot be
 *     expanded by accident, and every value is written where it is used);
 *   - duplicate keys in a map (libyaml accepts them, and "last one wins" hides
 *     mistakes);
 *   - keys that are not scalars;
 *   - NUL bytes in scalars (they would truncate the C string silently);
 *   - more than one document in a file;
 *   - nesting deeper than VG__YAML_MAX_DEPTH collections;
 *   - a FIFO that nothing writes to (opened without waiting for a writer).
 * Tags (e.g. "!!int 5") are ignored: the node keeps the text "5".
 * A scalar over several lines keeps its source (yaml_src.c), so that an
 * error at a byte of its text can name that byte's line (vg_node_line_at).
 *
 * Ownership: the root owns the tree and the one strdup'ed copy of the path
 * that every node's 'file' points to; vg_node_free(root) frees both.
 */
#include "vigil/cfile.h"
#include "vigil/conf.h"
#include "vigil/err.h"
#include "vigil/util.h"
#include "yaml_src.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

/* Collections nested deeper than this are refused: the tree is built and
 * freed recursively, so a hostile "[[[[..." must not reach the stack limit. */
#define VG__YAML_MAX_DEPTH 64
/* Configuration files are small; a bigger file is a mistake or an attack. */
#define VG__YAML_MAX_FILE VG_CFILE_MAX

struct vg__yp {
    yaml_parser_t parser;
    const char *buf; /* the whole input, to turn reader-error offsets into lines */
    size_t len;
    const char *file; /* the shared copy of the path (owned by the root at the end) */
    vg__yaml_cur cur; /* where multi-line scalars were looked for in buf (yaml_src.h) */
    char *err;
    size_t errlen;
};

static int yp_fail(struct vg__yp *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "FILE:LINE: reason" into st->err; returns VG_ECONFIG. */
static int yp_fail(struct vg__yp *st, int line, const char *fmt, ...)
{
    if (st->err && st->errlen) {
        int k = snprintf(st->err, st->errlen, "%s:%d: ", st->file, line);
        size_t off = k < 0 ? 0 : (size_t)k;
        if (off < st->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(st->err + off, st->errlen - off, fmt, ap);
            va_end(ap);
        }
    }
    return VG_ECONFIG;
}

static int yp_nomem(struct vg__yp *st)
{
    if (st->err && st->errlen) snprintf(st->err, st->errlen, "%s: out of memory", st->file);
    return -ENOMEM;
}

/* Reports the parser's error. Reader errors (bad encoding) leave problem_mark
 * unset and give a byte offset instead, so the line is counted from it. */
static int yp_syntax(struct vg__yp *st)
{
    const yaml_parser_t *p = &st->parser;
    int line = (int)p->problem_mark.line + 1;

    if (p->error == YAML_MEMORY_ERROR) return yp_nomem(st);
    if (p->error == YAML_READER_ERROR) {
        size_t end = p->problem_offset < st->len ? p->problem_offset : st->len;
        line = 1;
        for (size_t i = 0; i < end; i++)
            line += st->buf[i] == '\n';
    } else {
        /* At end of input libyaml's mark is past the final newline (or on a
         * line it invents when there is none): name the last real line. */
        int last = st->len && st->buf[st->len - 1] != '\n';
        for (size_t i = 0; i < st->len; i++)
            last += st->buf[i] == '\n';
        bool at_end = line > last || (p->problem && strstr(p->problem, "end of stream"));
        if (line > last) line = last > 0 ? last : 1;
        int from = (int)p->context_mark.line + 1;
        /* libyaml's words for the two mistakes people make most in rule
         * files say nothing of the cause: say it (the mark is on the tab,
         * or on the ':' of the line it could not take) */
        size_t at = p->problem_mark.index;
        if (p->problem && at < st->len && st->buf[at] == '\t' &&
            strstr(p->problem, "cannot start any token"))
            return yp_fail(st, line, "a tab character: YAML indents with spaces only (%s)",
                           p->problem);
        if (p->problem && strstr(p->problem, "mapping values are not allowed"))
            return yp_fail(st, line, "%s: this line is indented deeper than the key above it, "
                           "or has ': ' inside a value that is not quoted (quote it: "
                           "'Failed: x')", p->problem);
        /* The mistake is where the quote or bracket was opened, not where
         * the parser gave up on it: at the end of the file (an unclosed
         * quote), that line is the one to name; elsewhere, it is added. */
        if (p->context && from < line && at_end)
            return yp_fail(st, from, "%s (%s that starts at this line: the file ends before it is "
                           "closed)", p->problem ? p->problem : "syntax error", p->context);
        if (p->context && from < line)
            return yp_fail(st, line, "%s (%s started at line %d)",
                           p->problem ? p->problem : "syntax error", p->context, from);
    }
    if (p->context)
        return yp_fail(st, line, "%s (%s)", p->problem ? p->problem : "syntax error", p->context);
    return yp_fail(st, line, "%s", p->problem ? p->problem : "syntax error");
}

static int yp_next(struct vg__yp *st, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&st->parser, ev)) return yp_syntax(st);
    return 0;
}

static int ev_line(const yaml_event_t *ev)
{
    return (int)ev->start_mark.line + 1;
}

static vg_node *node_new(struct vg__yp *st, enum vg_node_kind kind, int line)
{
    vg_node *n = calloc(1, sizeof(*n));
    if (n) {
        n->kind = kind;
        n->line = line;
        n->file = st->file;
    }
    return n;
}

/* Frees a node and its children, but not 'file' (the root's to free). */
static void node_free_tree(vg_node *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) node_free_tree(n->keys[i]);
        node_free_tree(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->str);
    vg__yaml_src_free(n->src);
    free(n);
}

/* Makes room for one more pair/item; *cap is the caller's capacity. */
static int node_grow(vg_node *n, size_t *cap)
{
    if (n->n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    vg_node **items = realloc(n->items, ncap * sizeof(*items));
    if (!items) return -ENOMEM;
    n->items = items;
    if (n->kind == VG_NODE_MAP) {
        vg_node **keys = realloc(n->keys, ncap * sizeof(*keys));
        if (!keys) return -ENOMEM;
        n->keys = keys;
    }
    *cap = ncap;
    return 0;
}

struct key_ref {
    const char *s;
    size_t i;
};

static int key_ref_cmp(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    if (c) return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Refuses a map with a repeated key, naming the first repetition in document
 * order. Sorting keeps this O(n log n) on maps with very many keys. */
static int map_check_dups(struct vg__yp *st, const vg_node *m)
{
    if (m->n < 2) return 0;
    struct key_ref *r = malloc(m->n * sizeof(*r));
    if (!r) return yp_nomem(st);
    for (size_t i = 0; i < m->n; i++)
        r[i] = (struct key_ref){m->keys[i]->str, i};
    qsort(r, m->n, sizeof(*r), key_ref_cmp);

    size_t dup = m->n, first = 0, group = 0;
    for (size_t i = 1; i < m->n; i++) {
        if (strcmp(r[i].s, r[group].s) != 0) {
            group = i;
        } else if (r[i].i < dup) {
            dup = r[i].i;
            first = r[group].i;
        }
    }
    free(r);
    if (dup == m->n) return 0;
    return yp_fail(st, m->keys[dup]->line, "duplicate key '%s' (first at line %d)",
                   m->keys[dup]->str, m->keys[first]->line);
}

static int anchor_check(struct vg__yp *st, const yaml_event_t *ev, const yaml_char_t *anchor)
{
    if (anchor) return yp_fail(st, ev_line(ev), "YAML anchors and aliases are not supported");
    return 0;
}

/* Builds the node that starts with *ev (already read; the caller deletes it),
 * reading events up to the end of the node. depth counts the collections
 * that enclose it. On error *out is NULL and nothing is leaked. */
static int yp_node(struct vg__yp *st, const yaml_event_t *ev, int depth, vg_node **out)
{
    vg_node *n = NULL;
    size_t cap = 0;
    int rc = 0;
    yaml_event_type_t end;

    *out = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return yp_fail(st, ev_line(ev), "YAML anchors and aliases are not supported");
    case YAML_SCALAR_EVENT:
        if ((rc = anchor_check(st, ev, ev->data.scalar.anchor))) return rc;
        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
            return yp_fail(st, ev_line(ev), "NUL byte in a scalar");
        if (!(n = node_new(st, VG_NODE_SCALAR, ev_line(ev)))) return yp_nomem(st);
        if (!(n->str = malloc(ev->data.scalar.length + 1))) {
            free(n);
            return yp_nomem(st);
        }
        memcpy(n->str, ev->data.scalar.value, ev->data.scalar.length);
        n->str[ev->data.scalar.length] = '\0';
        /* kept so that an error inside it can name its own line */
        if (ev->start_mark.line != ev->end_mark.line &&
            vg__yaml_src_new(st->buf, st->len, &st->cur, ev, &n->src) != 0) {
            node_free_tree(n);
            return yp_nomem(st);
        }
        *out = n;
        return 0;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (depth >= VG__YAML_MAX_DEPTH)
            return yp_fail(st, ev_line(ev), "nesting deeper than %d levels", VG__YAML_MAX_DEPTH);
        break;
    default: /* the parser never gives stream/document events here */
        return yp_fail(st, ev_line(ev), "unexpected YAML event %d", (int)ev->type);
    }
    if (ev->type == YAML_SEQUENCE_START_EVENT) {
        if ((rc = anchor_check(st, ev, ev->data.sequence_start.anchor))) return rc;
        n = node_new(st, VG_NODE_SEQ, ev_line(ev));
        end = YAML_SEQUENCE_END_EVENT;
    } else {
        if ((rc = anchor_check(st, ev, ev->data.mapping_start.anchor))) return rc;
        n = node_new(st, VG_NODE_MAP, ev_line(ev));
        end = YAML_MAPPING_END_EVENT;
    }
    if (!n) return yp_nomem(st);

    for (;;) {
        yaml_event_t cev;
        vg_node *key = NULL, *val = NULL;

        if ((rc = yp_next(st, &cev))) break;
        if (cev.type == end) {
            yaml_event_delete(&cev);
            break;
        }
        if (n->kind == VG_NODE_MAP) {
            if (cev.type != YAML_SCALAR_EVENT && cev.type != YAML_ALIAS_EVENT)
                rc = yp_fail(st, ev_line(&cev), "map keys must be scalars");
            else
                rc = yp_node(st, &cev, depth + 1, &key);
            yaml_event_delete(&cev);
            if (rc) break;
            if ((rc = yp_next(st, &cev))) {
                node_free_tree(key);
                break;
            }
        }
        rc = yp_node(st, &cev, depth + 1, &val);
        yaml_event_delete(&cev);
        if (!rc && node_grow(n, &cap) < 0) rc = yp_nomem(st);
        if (rc) {
            node_free_tree(key);
            node_free_tree(val);
            break;
        }
        if (n->kind == VG_NODE_MAP) n->keys[n->n] = key;
        n->items[n->n++] = val;
    }
    if (!rc && n->kind == VG_NODE_MAP) rc = map_check_dups(st, n);
    if (rc) {
        node_free_tree(n);
        return rc;
    }
    *out = n;
    return 0;
}

/* Reads the stream: zero documents (empty file) or exactly one. */
static int yp_stream(struct vg__yp *st, vg_node **root)
{
    yaml_event_t ev;
    vg_node *n = NULL;
    int rc;

    if ((rc = yp_next(st, &ev))) /* STREAM-START */
        return rc;
    yaml_event_delete(&ev);
    if ((rc = yp_next(st, &ev))) return rc;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        goto empty;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */

    if ((rc = yp_next(st, &ev))) return rc;
    /* "---" alone (or a document of only comments after it) is a null
     * document: treat it like an empty file. */
    if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0 &&
        ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev.data.scalar.anchor &&
        !ev.data.scalar.tag) {
        yaml_event_delete(&ev);
    } else {
        rc = yp_node(st, &ev, 0, &n);
        yaml_event_delete(&ev);
        if (rc) return rc;
    }

    if ((rc = yp_next(st, &ev))) /* DOCUMENT-END */
        goto fail;
    yaml_event_delete(&ev);
    if ((rc = yp_next(st, &ev))) goto fail;
    if (ev.type != YAML_STREAM_END_EVENT) {
        rc = yp_fail(st, ev_line(&ev), "more than one YAML document");
        yaml_event_delete(&ev);
        goto fail;
    }
    yaml_event_delete(&ev);
    if (n) {
        *root = n;
        return 0;
    }
empty:
    if (!(*root = node_new(st, VG_NODE_MAP, 1))) return yp_nomem(st);
    return 0;
fail:
    node_free_tree(n);
    return rc;
}

int vg_yaml_load_mem(const char *name, const char *buf, size_t len, vg_node **root, char *err,
                     size_t errlen)
{
    struct vg__yp st = {.buf = buf, .len = len, .err = err, .errlen = errlen};
    char *file;
    int rc;

    *root = NULL;
    if (err && errlen) err[0] = '\0';
    if (!(file = strdup(name ? name : "(memory)"))) {
        st.file = name ? name : "(memory)";
        return yp_nomem(&st);
    }
    st.file = file;
    if (!yaml_parser_initialize(&st.parser)) {
        rc = yp_nomem(&st);
        free(file);
        return rc;
    }
    yaml_parser_set_input_string(&st.parser, (const unsigned char *)buf, len);
    rc = yp_stream(&st, root);
    yaml_parser_delete(&st.parser);
    if (rc) free(file);
    return rc;
}

/* The file is read by vg_cfile_read: a FIFO (with a writer or not), a
 * device, a directory or a file of more than VG__YAML_MAX_FILE bytes is
 * refused before any read. Each daemon reads its configuration, rules and
 * calendars at every SIGHUP, in its loop: a FIFO whose writer wrote
 * nothing held it there (no events, no signals), /dev/zero was read up to
 * the limit. */
int vg_yaml_load(const char *path, vg_node **root, char *err, size_t errlen)
{
    char ebuf[1];
    char *buf = NULL;
    size_t len = 0;
    *root = NULL;
    int rc = vg_cfile_read(path, VG__YAML_MAX_FILE, &buf, &len, err && errlen ? err : ebuf,
                           err && errlen ? errlen : sizeof(ebuf));
    if (!rc) rc = vg_yaml_load_mem(path, buf, len, root, err, errlen);
    free(buf);
    return rc;
}

/* Only for roots returned by vg_yaml_load*: the root owns 'file'. */
void vg_node_free(vg_node *root)
{
    if (!root) return;
    char *file = (char *)root->file;
    node_free_tree(root);
    free(file);
}

const vg_node *vg_node_get(const vg_node *map, const char *key)
{
    if (!map || map->kind != VG_NODE_MAP || !key) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->str, key) == 0) return map->items[i];
    return NULL;
}
