/* The lines of a multi-line YAML scalar (yaml_src.h, vg_node_line_at).
 *
 * libyaml gives a scalar's text and where it starts and ends in the file,
 * not where each byte of the text came from: a block scalar ('|', '>')
 * drops its indentation, a folded or plain or quoted one turns line breaks
 * into spaces, a double-quoted one turns escapes into bytes. So the loader
 * keeps the source of every scalar over several lines, and an error at a
 * byte of the text (a regex that does not compile at offset N) reads that
 * source again, as libyaml's scanner reads it (scan_block_scalar,
 * scan_plain_scalar, scan_flow_scalar), noting the line of each byte it
 * makes. That reading is trusted only when it makes exactly libyaml's
 * text; otherwise vg_node_line_at says it cannot tell (0), and the caller
 * names the scalar's first line and says so. Lines broken by NEL, LS, PS
 * or a lone CR are not followed (libyaml counts them as lines; an editor
 * may not): such a scalar is one whose lines cannot be told. */
#include "yaml_src.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct vg_yaml_src {
    char *text;   /* the file from the start of the scalar's first line to its end mark;
                   * NULL: not kept (vg__yaml_src_new), the lines cannot be told */
    size_t len;   /* of text */
    size_t start; /* where the scalar (its tag, quote, indicator or first byte) is in text */
    int line;     /* 1-based line of text's first byte */
    int style;    /* yaml_scalar_style_t */
};

/* The length of the line break at buf[i] as libyaml counts lines (LF,
 * CR LF, a lone CR, NEL, LS, PS), 0 if none. */
static size_t src_any_break(const char *buf, size_t len, size_t i)
{
    const unsigned char *b = (const unsigned char *)buf;
    if (i >= len)
        return 0;
    if (b[i] == '\n')
        return 1;
    if (b[i] == '\r')
        return i + 1 < len && b[i + 1] == '\n' ? 2 : 1;
    if (b[i] == 0xC2 && i + 1 < len && b[i + 1] == 0x85)
        return 2;
    if (b[i] == 0xE2 && i + 2 < len && b[i + 1] == 0x80 && (b[i + 2] == 0xA8 || b[i + 2] == 0xA9))
        return 3;
    return 0;
}

/* Moves cur to line m->line, then finds the byte of column m->column (in
 * characters, as libyaml counts columns) into *pos. False if the mark is
 * behind cur or outside buf. */
static bool src_seek(const char *buf, size_t len, vg__yaml_cur *cur, const yaml_mark_t *m,
                     size_t *pos)
{
    if (m->line < cur->line)
        return false;
    while (cur->line < m->line) {
        size_t i = cur->pos, k = 0;
        while (i < len && !(k = src_any_break(buf, len, i)))
            i++;
        if (i >= len)
            return false;
        cur->pos = i + k;
        cur->line++;
    }
    size_t p = cur->pos;
    for (size_t c = 0; c < m->column; c++) {
        if (p >= len || src_any_break(buf, len, p))
            return false;
        unsigned char b = (unsigned char)buf[p];
        p += b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    }
    if (p > len)
        return false;
    *pos = p;
    return true;
}

int vg__yaml_src_new(const char *buf, size_t len, vg__yaml_cur *cur, const yaml_event_t *ev,
                     vg_yaml_src **out)
{
    vg_yaml_src *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->line = (int)ev->start_mark.line + 1;
    s->style = (int)ev->data.scalar.style;
    *out = s;
    /* libyaml reads UTF-16 after its BOM: columns are no byte counts then */
    if (len >= 2 && ((unsigned char)buf[0] == 0xFE || (unsigned char)buf[0] == 0xFF) &&
        ((unsigned char)buf[1] == 0xFE || (unsigned char)buf[1] == 0xFF))
        return 0;
    if (cur->line == 0 && cur->pos == 0 && len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        cur->pos = 3; /* libyaml's marks start after a UTF-8 BOM */
    size_t from, to;
    if (!src_seek(buf, len, cur, &ev->start_mark, &from))
        return 0;
    size_t line_start = cur->pos;
    if (!src_seek(buf, len, cur, &ev->end_mark, &to) || to < from)
        return 0;
    if (!(s->text = malloc(to - line_start + 1)))
        return -ENOMEM;
    memcpy(s->text, buf + line_start, to - line_start);
    s->text[to - line_start] = '\0';
    s->len = to - line_start;
    s->start = from - line_start;
    return 0;
}

void vg__yaml_src_free(vg_yaml_src *s)
{
    if (s)
        free(s->text);
    free(s);
}

/* ---- reading the source again --------------------------------------------- */

/* Bytes made, each with the line it came from. */
typedef struct src_out {
    char *v;
    int *ln;
    size_t n, cap;
    bool nomem;
} src_out;

static void out_put(src_out *o, const char *b, size_t k, int line)
{
    if (o->nomem)
        return;
    if (o->n + k > o->cap) {
        size_t cap = (o->cap ? o->cap * 2 : 64) + k;
        char *v = realloc(o->v, cap);
        int *ln = v ? realloc(o->ln, cap * sizeof(int)) : NULL;
        if (v)
            o->v = v;
        if (!v || !ln) {
            o->nomem = true;
            return;
        }
        o->ln = ln;
        o->cap = cap;
    }
    memcpy(o->v + o->n, b, k);
    for (size_t i = 0; i < k; i++)
        o->ln[o->n + i] = line;
    o->n += k;
}

/* Appends b to o and empties b (libyaml's JOIN then CLEAR). */
static void out_join(src_out *o, src_out *b)
{
    for (size_t i = 0; i < b->n; i++)
        out_put(o, b->v + i, 1, b->ln[i]);
    o->nomem |= b->nomem;
    b->n = 0;
}

static void out_free(src_out *o)
{
    free(o->v);
    free(o->ln);
}

typedef struct src_rd {
    const char *t;
    size_t i, end; /* position in t, and the scalar's end */
    size_t ls;     /* where the line of i starts */
    int line;      /* of i */
    src_out o;     /* the text made */
} src_rd;

/* A line break the reading follows: LF or CR LF (see the top). */
static size_t rd_brk(const src_rd *r, size_t i)
{
    if (i >= r->end)
        return 0;
    if (r->t[i] == '\n')
        return 1;
    return r->t[i] == '\r' && i + 1 < r->end && r->t[i + 1] == '\n' ? 2 : 0;
}

static bool rd_blank(const src_rd *r, size_t i)
{
    return i < r->end && (r->t[i] == ' ' || r->t[i] == '\t');
}

static void rd_skip_break(src_rd *r)
{
    r->i += rd_brk(r, r->i);
    r->ls = r->i;
    r->line++;
}

/* A tag before the scalar ("!!str |"): skipped, with the blanks and line
 * breaks after it. */
static void rd_skip_tag(src_rd *r)
{
    if (r->i >= r->end || r->t[r->i] != '!')
        return;
    while (r->i < r->end && !rd_blank(r, r->i) && !rd_brk(r, r->i))
        r->i++;
    while (rd_blank(r, r->i) || rd_brk(r, r->i)) {
        if (rd_brk(r, r->i))
            rd_skip_break(r);
        else
            r->i++;
    }
}

/* libyaml's scan_block_scalar_breaks: the indentation and empty lines
 * before a line of a block scalar, into *breaks. False on a tab where
 * libyaml wants indentation (it refuses the file). */
static bool rd_block_breaks(src_rd *r, size_t *indent, src_out *breaks)
{
    size_t max_indent = 0;
    for (;;) {
        while ((!*indent || r->i - r->ls < *indent) && r->i < r->end && r->t[r->i] == ' ')
            r->i++;
        if (r->i - r->ls > max_indent)
            max_indent = r->i - r->ls;
        if ((!*indent || r->i - r->ls < *indent) && r->i < r->end && r->t[r->i] == '\t')
            return false;
        if (!rd_brk(r, r->i))
            break;
        out_put(breaks, "\n", 1, r->line);
        rd_skip_break(r);
    }
    /* libyaml also takes at least the enclosing indentation + 1, unknown
     * here: a scalar whose lines are less indented than that is empty,
     * and an empty text is on the scalar's first line anyway */
    if (!*indent)
        *indent = max_indent ? max_indent : 1;
    return true;
}

/* A literal or folded block scalar, read with indentation indent (0: found
 * as libyaml finds it). libyaml's scan_block_scalar. */
static bool rd_block(src_rd *r, size_t indent, bool *explicit_indent)
{
    rd_skip_tag(r);
    if (r->i >= r->end || (r->t[r->i] != '|' && r->t[r->i] != '>'))
        return false;
    bool folded = r->t[r->i++] == '>';
    int chomp = 0;
    bool inc = false;
    for (int k = 0; k < 2 && r->i < r->end; k++) {
        char c = r->t[r->i];
        if ((c == '+' || c == '-') && !chomp)
            chomp = c == '+' ? 1 : -1;
        else if (c >= '1' && c <= '9' && !inc)
            inc = true;
        else
            break;
        r->i++;
    }
    *explicit_indent = inc;
    if (inc && !indent)
        return false; /* the caller tries the indentations */
    while (rd_blank(r, r->i))
        r->i++;
    if (r->i < r->end && r->t[r->i] == '#')
        while (r->i < r->end && !rd_brk(r, r->i))
            r->i++;
    if (r->i < r->end && !rd_brk(r, r->i))
        return false;
    if (r->i < r->end)
        rd_skip_break(r);
    src_out lead = {0}, trail = {0};
    bool leading_blank = false, ok = rd_block_breaks(r, &indent, &trail);
    while (ok && r->i < r->end && r->i - r->ls == indent) {
        bool trailing_blank = rd_blank(r, r->i);
        if (folded && lead.n == 1 && lead.v[0] == '\n' && !leading_blank && !trailing_blank) {
            if (!trail.n)
                out_put(&r->o, " ", 1, lead.ln[0]);
            lead.n = 0;
        } else {
            out_join(&r->o, &lead);
        }
        out_join(&r->o, &trail);
        leading_blank = rd_blank(r, r->i);
        while (r->i < r->end && !rd_brk(r, r->i)) {
            out_put(&r->o, r->t + r->i, 1, r->line);
            r->i++;
        }
        if (r->i < r->end) {
            out_put(&lead, "\n", 1, r->line);
            rd_skip_break(r);
        }
        ok = rd_block_breaks(r, &indent, &trail);
    }
    if (chomp != -1)
        out_join(&r->o, &lead);
    if (chomp == 1)
        out_join(&r->o, &trail);
    r->o.nomem |= lead.nomem || trail.nomem;
    out_free(&lead);
    out_free(&trail);
    return ok;
}

/* The blanks and line breaks between two parts of a plain or quoted
 * scalar, folded as libyaml folds them: a single break is a space (on the
 * line it ends), each further break a newline, and the blanks around
 * breaks go. *leading_blanks says whether a break (or an escaped one) was
 * met. */
static void rd_fold(src_rd *r, bool *leading_blanks, src_out *ws, src_out *lead, src_out *trail)
{
    while (rd_blank(r, r->i) || rd_brk(r, r->i)) {
        if (rd_blank(r, r->i)) {
            if (!*leading_blanks)
                out_put(ws, r->t + r->i, 1, r->line);
            r->i++;
        } else if (!*leading_blanks) {
            ws->n = 0;
            out_put(lead, "\n", 1, r->line);
            *leading_blanks = true;
            rd_skip_break(r);
        } else {
            out_put(trail, "\n", 1, r->line);
            rd_skip_break(r);
        }
    }
}

/* What rd_fold gathered, into the text (libyaml's join before the next
 * part). */
static void rd_fold_join(src_rd *r, bool *leading_blanks, src_out *ws, src_out *lead,
                         src_out *trail)
{
    if (*leading_blanks) {
        if (lead->n == 0 || lead->v[0] != '\n') {
            out_join(&r->o, lead);
            out_join(&r->o, trail);
        } else if (!trail->n) {
            out_put(&r->o, " ", 1, lead->ln[0]);
        } else {
            out_join(&r->o, trail);
        }
        lead->n = trail->n = 0;
        *leading_blanks = false;
    } else {
        out_join(&r->o, ws);
    }
}

/* A plain scalar over several lines (libyaml's scan_plain_scalar; where it
 * ends is the end mark). */
static bool rd_plain(src_rd *r)
{
    rd_skip_tag(r);
    src_out ws = {0}, lead = {0}, trail = {0};
    bool leading_blanks = false;
    while (r->i < r->end) {
        while (r->i < r->end && !rd_blank(r, r->i) && !rd_brk(r, r->i)) {
            if (leading_blanks || ws.n)
                rd_fold_join(r, &leading_blanks, &ws, &lead, &trail);
            out_put(&r->o, r->t + r->i, 1, r->line);
            r->i++;
        }
        rd_fold(r, &leading_blanks, &ws, &lead, &trail);
    }
    r->o.nomem |= ws.nomem || lead.nomem || trail.nomem;
    out_free(&ws);
    out_free(&lead);
    out_free(&trail);
    return true;
}

static int rd_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The escape at r->i ('\\' then a letter) of a double-quoted scalar. */
static bool rd_escape(src_rd *r)
{
    static const char simple[] = "0\0a\ab\bt\t\t\tn\nv\vf\fr\re\x1b  \"\"//''\\\\";
    if (r->i + 1 >= r->end)
        return false;
    char c = r->t[r->i + 1];
    for (size_t k = 0; k + 1 < sizeof(simple); k += 2)
        if (simple[k] == c) {
            out_put(&r->o, &simple[k + 1], 1, r->line);
            r->i += 2;
            return true;
        }
    uint32_t cp;
    size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (c == 'N' || c == '_' || c == 'L' || c == 'P') {
        cp = c == 'N' ? 0x85 : c == '_' ? 0xA0 : c == 'L' ? 0x2028 : 0x2029;
    } else if (digits) {
        cp = 0;
        for (size_t k = 0; k < digits; k++) {
            int h = r->i + 2 + k < r->end ? rd_hex(r->t[r->i + 2 + k]) : -1;
            if (h < 0)
                return false;
            cp = cp << 4 | (uint32_t)h;
        }
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return false;
    } else {
        return false;
    }
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    out_put(&r->o, u, n, r->line);
    r->i += 2 + digits;
    return true;
}

/* A single- or double-quoted scalar (libyaml's scan_flow_scalar). */
static bool rd_quoted(src_rd *r, bool single)
{
    const char q = single ? '\'' : '"';
    rd_skip_tag(r);
    if (r->i >= r->end || r->t[r->i] != q)
        return false;
    r->i++;
    src_out ws = {0}, lead = {0}, trail = {0};
    bool ok = true, leading_blanks = false;
    for (;;) {
        if (r->i >= r->end) {
            ok = false;
            break;
        }
        leading_blanks = false;
        while (ok && r->i < r->end && !rd_blank(r, r->i) && !rd_brk(r, r->i)) {
            const char *p = r->t + r->i;
            if (single && p[0] == '\'' && r->i + 1 < r->end && p[1] == '\'') {
                out_put(&r->o, "'", 1, r->line);
                r->i += 2;
            } else if (p[0] == q) {
                break;
            } else if (!single && p[0] == '\\' && rd_brk(r, r->i + 1)) {
                r->i++;
                rd_skip_break(r);
                leading_blanks = true;
                break;
            } else if (!single && p[0] == '\\') {
                ok = rd_escape(r);
            } else {
                out_put(&r->o, p, 1, r->line);
                r->i++;
            }
        }
        if (!ok)
            break;
        if (r->i < r->end && r->t[r->i] == q) {
            r->i++;
            break;
        }
        rd_fold(r, &leading_blanks, &ws, &lead, &trail);
        rd_fold_join(r, &leading_blanks, &ws, &lead, &trail);
    }
    r->o.nomem |= ws.nomem || lead.nomem || trail.nomem;
    out_free(&ws);
    out_free(&lead);
    out_free(&trail);
    return ok && r->i == r->end;
}

/* Reads s as its style with block indentation indent (0: as libyaml finds
 * it); the line of byte off if that makes text (tlen bytes), else 0. */
static int src_line_of(const vg_yaml_src *s, size_t indent, const char *text, size_t tlen,
                       size_t off, bool *explicit_indent)
{
    src_rd r = {.t = s->text, .i = s->start, .end = s->len, .ls = 0, .line = s->line};
    bool ok;
    *explicit_indent = false;
    switch (s->style) {
    case YAML_LITERAL_SCALAR_STYLE:
    case YAML_FOLDED_SCALAR_STYLE:
        ok = rd_block(&r, indent, explicit_indent);
        break;
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
        ok = rd_quoted(&r, s->style == YAML_SINGLE_QUOTED_SCALAR_STYLE);
        break;
    case YAML_PLAIN_SCALAR_STYLE:
        ok = rd_plain(&r);
        break;
    default:
        ok = false;
    }
    int line = 0;
    if (ok && !r.o.nomem && r.o.n == tlen && (tlen == 0 || memcmp(r.o.v, text, tlen) == 0))
        line = tlen == 0 ? s->line : r.o.ln[off < tlen ? off : tlen - 1];
    out_free(&r.o);
    return line;
}

int vg_node_line_at(const vg_node *n, size_t off)
{
    if (n->kind != VG_NODE_SCALAR || !n->src)
        return n->line;
    const vg_yaml_src *s = n->src;
    if (!s->text)
        return 0;
    /* breaks the reading does not follow (see the top) */
    for (size_t i = s->start; i < s->len; i++) {
        size_t k = src_any_break(s->text, s->len, i);
        if (k && !(s->text[i] == '\n' || (k == 2 && s->text[i] == '\r')))
            return 0;
        if (s->text[i] == '\r' && k == 1)
            return 0;
    }
    size_t tlen = strlen(n->str);
    bool explicit_indent;
    int line = src_line_of(s, 0, n->str, tlen, off, &explicit_indent);
    /* an explicit indentation indicator counts from the enclosing block's
     * indentation, which the tree does not keep: the one that makes the
     * text is it (two that both did would differ only in lines of spaces) */
    for (size_t ind = 1; !line && explicit_indent && ind <= 256; ind++)
        line = src_line_of(s, ind, n->str, tlen, off, &explicit_indent);
    return line;
}
