/* An EVENTS batch decoded straight from its bytes into vg_event records
 * (wire_events.h), without msgpack-c's object tree: the correlator's
 * decode of every event it takes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire_events.h"

typedef struct vg__rd {
    const unsigned char *p;
    size_t len, pos;
} vg__rd;

/* Big-endian unsigned of n bytes at the cursor; -1 when fewer are left. */
static int vg__be_n(vg__rd *r, size_t n, uint64_t *v)
{
    if (r->len - r->pos < n)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = x << 8 | r->p[r->pos + i];
    r->pos += n;
    *v = x;
    return 0;
}

/* An integer of any msgpack width, as msgpack-c reads it: *neg set when it
 * is below 0 (then *i holds it), else *u holds it. */
static int vg__int(vg__rd *r, int *neg, uint64_t *u, int64_t *i)
{
    if (r->pos >= r->len)
        return -1;
    unsigned c = r->p[r->pos++];
    uint64_t x;
    *neg = 0;
    if (c <= 0x7f) {
        *u = c;
        return 0;
    }
    if (c >= 0xe0) {
        *neg = 1;
        *i = (int8_t)c;
        return 0;
    }
    switch (c) {
    case 0xcc: case 0xcd: case 0xce: case 0xcf: /* uint 8..64 */
        if (vg__be_n(r, (size_t)1 << (c - 0xcc), &x))
            return -1;
        *u = x;
        return 0;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: { /* int 8..64 */
        size_t n = (size_t)1 << (c - 0xd0);
        if (vg__be_n(r, n, &x))
            return -1;
        int64_t s = n == 8 ? (int64_t)x
                  : (int64_t)(x ^ (UINT64_C(1) << (8 * n - 1))) - (INT64_C(1) << (8 * n - 1));
        if (s < 0) {
            *neg = 1;
            *i = s;
        }
        else
            *u = (uint64_t)s;
        return 0;
    }
    default:
        return -1;
    }
}

/* As wire.c's vg__get_i64 and vg__get_range. */
static int vg__range(vg__rd *r, int64_t lo, int64_t hi, int64_t *v)
{
    int neg;
    uint64_t u = 0;
    int64_t i = 0;
    if (vg__int(r, &neg, &u, &i))
        return -1;
    if (!neg) {
        if (u > INT64_MAX)
            return -1;
        i = (int64_t)u;
    }
    if (i < lo || i > hi)
        return -1;
    *v = i;
    return 0;
}

/* An array header: its element count. */
static int vg__array(vg__rd *r, uint64_t *n)
{
    if (r->pos >= r->len)
        return -1;
    unsigned c = r->p[r->pos++];
    if (c >= 0x90 && c <= 0x9f) {
        *n = c & 0x0f;
        return 0;
    }
    if (c == 0xdc || c == 0xdd)
        return vg__be_n(r, c == 0xdc ? 2 : 4, n);
    return -1;
}

/* A str (want_bin 0) or bin (1), or nil (absent); the view points into
 * the payload, as wire.c's decoder gives it. */
static int vg__bytes(vg__rd *r, int want_bin, vg_str *s)
{
    if (r->pos >= r->len)
        return -1;
    unsigned c = r->p[r->pos++];
    uint64_t n;
    if (c == 0xc0) {
        *s = VG_STR_NULL;
        return 0;
    }
    if (!want_bin && c >= 0xa0 && c <= 0xbf)
        n = c & 0x1f;
    else if (!want_bin && c >= 0xd9 && c <= 0xdb) {
        if (vg__be_n(r, (size_t)1 << (c - 0xd9), &n))
            return -1;
    }
    else if (want_bin && c >= 0xc4 && c <= 0xc6) {
        if (vg__be_n(r, (size_t)1 << (c - 0xc4), &n))
            return -1;
    }
    else
        return -1;
    if (n > r->len - r->pos)
        return -1;
    *s = vg_str_n(n ? (const char *)r->p + r->pos : "", (size_t)n);
    r->pos += (size_t)n;
    return 0;
}

/* One event record, the 16 elements of docs/protocol.md. */
static int vg__event(vg__rd *r, vg_event *ev)
{
    uint64_t n;
    int64_t v;
    if (vg__array(r, &n) || n != VG_EVENT_FIELDS)
        return -1;
    if (vg__range(r, INT64_MIN, INT64_MAX, &ev->recv_us) ||
        vg__range(r, INT64_MIN, INT64_MAX, &ev->ts_us))
        return -1;
    if (vg__range(r, -24 * 60, 24 * 60, &v))
        return -1;
    ev->tz_min = (int32_t)v;
    if (vg__range(r, -1, 191, &v))
        return -1;
    ev->pri = (int16_t)v;
    if (vg__range(r, 0, UINT16_MAX, &v))
        return -1;
    ev->flags = (uint16_t)v;
    if (vg__bytes(r, 0, &ev->host) || vg__bytes(r, 0, &ev->app) ||
        vg__bytes(r, 0, &ev->procid) || vg__bytes(r, 0, &ev->msgid) ||
        vg__bytes(r, 0, &ev->sd) || vg__bytes(r, 1, &ev->msg) || vg__bytes(r, 1, &ev->raw) ||
        vg__bytes(r, 0, &ev->src) || vg__bytes(r, 0, &ev->agency) ||
        vg__bytes(r, 0, &ev->site) || vg__bytes(r, 0, &ev->reason))
        return -1;
    return ev->raw.p ? 0 : -1; /* raw is the one field that is never absent */
}

int vg_wire_decode_events_direct(const char *payload, size_t len, vg_msg *m)
{
    vg__rd r = {(const unsigned char *)payload, len, 0};
    uint64_t n, type, seq;
    int neg;
    int64_t i;
    if (vg__array(&r, &n) || n != 3 || vg__int(&r, &neg, &type, &i) || neg ||
        type != VG_MSG_EVENTS)
        return 1;
    if (vg__int(&r, &neg, &seq, &i) || neg || seq == 0 || vg__array(&r, &n) || n == 0 ||
        n > VG_BATCH_MAX || seq > UINT64_MAX - n || n > len - r.pos)
        return 1;
    vg_event *ev = calloc((size_t)n, sizeof(*ev));
    if (!ev)
        return 1; /* the full decoder says -ENOMEM */
    for (uint64_t k = 0; k < n; k++) {
        if (vg__event(&r, &ev[k])) {
            free(ev);
            return 1;
        }
        ev[k].seq = seq + k;
    }
    if (r.pos != len) { /* bytes after the array */
        free(ev);
        return 1;
    }
    memset(m, 0, sizeof(*m));
    m->type = VG_MSG_EVENTS;
    m->seq = seq;
    m->count = (uint32_t)n;
    m->events = ev;
    return 0;
}
