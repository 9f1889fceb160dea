/* Alerts as ECS JSON lines (see ecs.h, docs/alerts.md).
 *
 * Named captures with a well-known name map to ECS fields (src_ip ->
 * source.ip, user -> user.name, ...); an address that is not a valid IP,
 * or a port that is not 0..65535, is not put in an ECS field (a SIEM would
 * reject the whole document) but kept under vigil.fields with every other
 * capture. Key order is fixed so that output is byte-for-byte
 * reproducible: replay and live runs can be compared with diff.
 *
 * Speed: a replay with 1,000 rules writes an alert every ~100 lines, so
 * this is on the hot path. The whole alert is reserved once, keys are
 * literals with their lengths known at compile time, numbers are written
 * by hand (no printf) and strings go through vg_json_escape, which copies
 * runs of plain ASCII eight bytes at a time. */
#include <string.h>

#include "vigil/ecs.h"
#include "vigil/syslog.h"

enum { VG__STR, VG__IP, VG__PORT };
enum { VG__REL_NONE, VG__REL_IP, VG__REL_USER };

typedef struct vg__ecs_map {
    const char *capture;
    uint8_t caplen;
    const char *object; /* ECS object */
    uint8_t objlen;
    const char *field;  /* "ip", "name", "port"; "target.name" is nested */
    uint8_t type;
    uint8_t related;    /* VG__REL_*: listed under related.ip / related.user */
} vg__ecs_map;

#define VG__S(s) s, (uint8_t)(sizeof(s) - 1)
static const vg__ecs_map vg__ecs_known[] = {
    {VG__S("src_ip"), VG__S("source"), "ip", VG__IP, VG__REL_IP},
    {VG__S("src_port"), VG__S("source"), "port", VG__PORT, VG__REL_NONE},
    {VG__S("dst_ip"), VG__S("destination"), "ip", VG__IP, VG__REL_IP},
    {VG__S("dst_port"), VG__S("destination"), "port", VG__PORT, VG__REL_NONE},
    {VG__S("user"), VG__S("user"), "name", VG__STR, VG__REL_USER},
    {VG__S("target_user"), VG__S("user"), "target.name", VG__STR, VG__REL_USER},
};
#define VG__NKNOWN (sizeof(vg__ecs_known) / sizeof(vg__ecs_known[0]))
#define VG__TARGET 5 /* target_user: user.target.name */

/* Appends n bytes. The alert's size was reserved up front, so this is a
 * copy; vg_buf_add (which grows the buffer, or sets b->oom) only runs if
 * that estimate was short. */
static inline void vg__put(vg_buf *b, const char *s, size_t n)
{
    if (b->cap - b->len >= n) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    } else {
        vg_buf_add(b, s, n);
    }
}

/* A string literal, its length known at compile time. */
#define VG__LIT(b, s) vg__put((b), (s), sizeof(s) - 1)

static inline void vg__putc(vg_buf *b, char c)
{
    if (b->cap > b->len)
        b->p[b->len++] = c;
    else
        vg_buf_add(b, &c, 1);
}

static void vg__str(vg_buf *b, vg_str v)
{
    vg__putc(b, '"');
    vg_json_escape(b, v);
    vg__putc(b, '"');
}

/* A key-value pair whose prefix (comma, quoted key, colon) is a literal. */
#define VG__KV(b, prefix, v) (VG__LIT((b), prefix), vg__str((b), (v)))

/* Decimal digits of v, as printf's %llu writes them. */
static void vg__uint(vg_buf *b, uint64_t v)
{
    char d[20];
    size_t i = sizeof(d);
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    vg__put(b, d + i, sizeof(d) - i);
}

/* %d, for the level. */
static void vg__int(vg_buf *b, int32_t v)
{
    if (v < 0) {
        vg__putc(b, '-');
        vg__uint(b, (uint64_t)0 - (uint64_t)(int64_t)v);
    } else {
        vg__uint(b, (uint64_t)v);
    }
}

/* The ECS mapping a capture may use, or -1 (it goes to vigil.fields). */
static int vg__slot(const vg_kv *f)
{
    for (size_t k = 0; k < VG__NKNOWN; k++) {
        const vg__ecs_map *m = &vg__ecs_known[k];
        if (!f->key.p || f->key.len != m->caplen || memcmp(f->key.p, m->capture, m->caplen) != 0)
            continue;
        switch (m->type) {
        case VG__IP:
            return vg_is_ip(f->val) ? (int)k : -1;
        case VG__PORT:
            return vg_is_port(f->val) ? (int)k : -1;
        default: /* an empty value (pam's "ruser= ") maps nothing, as in CEF */
            return f->val.len > 0 ? (int)k : -1;
        }
    }
    return -1;
}

/* related.ip / related.user: every mapped address or user, once each. */
static void vg__related(vg_buf *b, const vg_alert *al, const int *slot, int which, int *opened)
{
    int n = 0;
    for (uint32_t i = 0; i < al->nfields; i++) {
        if (slot[i] < 0 || vg__ecs_known[slot[i]].related != which)
            continue;
        int dup = 0;
        for (uint32_t j = 0; j < i && !dup; j++)
            dup = slot[j] >= 0 && vg__ecs_known[slot[j]].related == which &&
                  al->fields[j].val.len == al->fields[i].val.len &&
                  (al->fields[i].val.len == 0 ||
                   memcmp(al->fields[j].val.p, al->fields[i].val.p, al->fields[i].val.len) == 0);
        if (dup)
            continue;
        if (n == 0) {
            if (!*opened)
                VG__LIT(b, ",\"related\":{");
            else
                vg__putc(b, ',');
            *opened = 1;
            if (which == VG__REL_IP)
                VG__LIT(b, "\"ip\":[");
            else
                VG__LIT(b, "\"user\":[");
        } else {
            vg__putc(b, ',');
        }
        vg__str(b, al->fields[i].val);
        n++;
    }
    if (n)
        vg__putc(b, ']');
}

/* Room for al as JSON when no byte needs escaping (most alerts): the
 * reservation is a hint, a longer result still fits (vg__put grows b). */
static size_t vg__estimate(const vg_alert *al, size_t observer_len)
{
    size_t n = 768 + observer_len + al->id.len + al->rule_id.len + al->rule_name.len +
               al->kind.len + al->host.len + al->app.len + al->src.len + al->agency.len +
               al->site.len + 2 * al->message.len;
    for (uint32_t i = 0; i < al->ntags; i++)
        n += al->tags[i].len + 3;
    for (uint32_t i = 0; i < al->nfields; i++)
        n += 2 * (al->fields[i].key.len + al->fields[i].val.len) + 48;
    for (uint32_t i = 0; i < al->nraw; i++)
        n += al->raw[i].len + 6; /* quotes, comma, and its place in raw_truncated */
    return n;
}

/* Has an earlier capture of the same name gone to vigil.fields? Then this
 * one is left out: a JSON object with a repeated key is refused by
 * Elasticsearch (and undefined in RFC 8259). */
static int vg__seen_before(const vg_alert *al, const int *slot, uint32_t i)
{
    const vg_str k = al->fields[i].key;
    for (uint32_t j = 0; j < i; j++)
        if (slot[j] < 0 && al->fields[j].key.len == k.len &&
            (k.len == 0 || memcmp(al->fields[j].key.p, k.p, k.len) == 0))
            return 1;
    return 0;
}

int vg_ecs_alert(vg_buf *b, const vg_alert *al, const char *observer)
{
    char ts[40], first[40];
    size_t start = b->len, olen = observer ? strlen(observer) : 0;
    b->oom = 0;
    if (vg_buf_reserve(b, vg__estimate(al, olen)))
        return -12; /* -ENOMEM */
    size_t tslen = vg_time_format(al->ts_us, ts, sizeof(ts)), firstlen = tslen;
    if (al->first_us && al->first_us != al->ts_us)
        firstlen = vg_time_format(al->first_us, first, sizeof(first));
    else
        memcpy(first, ts, tslen + 1);
    VG__LIT(b, "{\"@timestamp\":\"");
    vg__put(b, ts, tslen);
    VG__LIT(b, "\",\"ecs\":{\"version\":\"" VG_ECS_VERSION "\"}");
    VG__LIT(b, ",\"event\":{\"kind\":\"alert\"");
    VG__KV(b, ",\"id\":", al->id);
    VG__LIT(b, ",\"severity\":");
    vg__int(b, al->level);
    VG__LIT(b, ",\"start\":\"");
    vg__put(b, first, firstlen);
    VG__LIT(b, "\",\"end\":\"");
    vg__put(b, ts, tslen);
    VG__LIT(b, "\"}");
    VG__KV(b, ",\"rule\":{\"id\":", al->rule_id);
    VG__KV(b, ",\"name\":", al->rule_name);
    vg__putc(b, '}');
    if (al->ntags) {
        VG__LIT(b, ",\"tags\":[");
        for (uint32_t i = 0; i < al->ntags; i++) {
            if (i)
                vg__putc(b, ',');
            vg__str(b, al->tags[i]);
        }
        vg__putc(b, ']');
    }
    if (al->host.p) {
        VG__KV(b, ",\"host\":{\"name\":", al->host);
        vg__putc(b, '}');
    }
    if (al->app.p) {
        VG__KV(b, ",\"process\":{\"name\":", al->app);
        vg__putc(b, '}');
    }
    int slot[VG_ALERT_MAX_FIELDS];
    for (uint32_t i = 0; i < al->nfields; i++) {
        slot[i] = vg__slot(&al->fields[i]);
        for (uint32_t j = 0; j < i && slot[i] >= 0; j++)
            if (slot[j] == slot[i])
                slot[i] = -1; /* the first capture of a name maps; the others stay visible */
    }
    /* ECS objects from captures, in the fixed order of vg__ecs_known; the
     * first capture of a name wins. */
    const vg__ecs_map *open_obj = NULL;
    for (size_t k = 0; k < VG__NKNOWN; k++) {
        for (uint32_t i = 0; i < al->nfields; i++) {
            if (slot[i] != (int)k)
                continue;
            const vg__ecs_map *m = &vg__ecs_known[k];
            int first_in_obj = !open_obj || open_obj->objlen != m->objlen ||
                               memcmp(open_obj->object, m->object, m->objlen) != 0;
            if (first_in_obj) {
                if (open_obj)
                    vg__putc(b, '}');
                VG__LIT(b, ",\"");
                vg__put(b, m->object, m->objlen);
                VG__LIT(b, "\":{");
                open_obj = m;
            }
            if (!first_in_obj)
                vg__putc(b, ',');
            if (k == VG__TARGET) { /* nested: user.target.name */
                VG__KV(b, "\"target\":{\"name\":", al->fields[i].val);
                vg__putc(b, '}');
            } else if (m->type == VG__PORT) {
                /* digits only, but maybe with leading zeros ("0398"), which
                 * a JSON number must not have: written from its value */
                uint64_t port = 0;
                for (uint32_t d = 0; d < al->fields[i].val.len; d++)
                    port = port * 10 + (uint64_t)(al->fields[i].val.p[d] - '0');
                VG__LIT(b, "\"port\":");
                vg__uint(b, port);
            } else if (m->type == VG__IP) {
                VG__KV(b, "\"ip\":", al->fields[i].val);
            } else {
                VG__KV(b, "\"name\":", al->fields[i].val);
            }
        }
    }
    if (open_obj)
        vg__putc(b, '}');
    int rel = 0;
    vg__related(b, al, slot, VG__REL_IP, &rel);
    vg__related(b, al, slot, VG__REL_USER, &rel);
    if (rel)
        vg__putc(b, '}');
    if (al->message.p)
        VG__KV(b, ",\"message\":", al->message);
    VG__LIT(b, ",\"observer\":{\"vendor\":\"Vigil\",\"product\":\"vigil\"");
    VG__KV(b, ",\"name\":", vg_str_n(observer, olen));
    vg__putc(b, '}');
    VG__KV(b, ",\"labels\":{\"agency\":", al->agency.p ? al->agency : vg_str_c("unknown"));
    VG__KV(b, ",\"site\":", al->site.p ? al->site : vg_str_c("unknown"));
    vg__putc(b, '}');
    VG__KV(b, ",\"vigil\":{\"kind\":", al->kind.p ? al->kind : vg_str_c("match"));
    VG__LIT(b, ",\"count\":");
    vg__uint(b, al->count);
    if (al->src.p)
        VG__KV(b, ",\"sender\":", al->src);
    int any = 0;
    for (uint32_t i = 0; i < al->nfields; i++) {
        if (slot[i] >= 0 || vg__seen_before(al, slot, i))
            continue;
        if (any)
            vg__putc(b, ',');
        else
            VG__LIT(b, ",\"fields\":{");
        vg__str(b, al->fields[i].key);
        vg__putc(b, ':');
        vg__str(b, al->fields[i].val);
        any = 1;
    }
    if (any)
        vg__putc(b, '}');
    if (al->nraw) {
        VG__LIT(b, ",\"raw\":[");
        for (uint32_t i = 0; i < al->nraw; i++) {
            if (i)
                vg__putc(b, ',');
            vg__str(b, al->raw[i]);
        }
        vg__putc(b, ']');
        /* which of them are incomplete (0-based positions in raw): only
         * when one is, so that an alert without keeps its bytes */
        int cut = 0;
        for (uint32_t i = 0; i < al->nraw; i++) {
            if (!(al->raw_cut & (UINT32_C(1) << i)))
                continue;
            if (cut++)
                vg__putc(b, ',');
            else
                VG__LIT(b, ",\"raw_truncated\":[");
            vg__uint(b, i);
        }
        if (cut)
            vg__putc(b, ']');
    }
    VG__LIT(b, "}}\n");
    if (b->oom) {
        b->len = start;
        return -12; /* -ENOMEM */
    }
    return 0;
}
