/* Fuzz target: the strict decoders of include/vigil/wire.h on arbitrary
 * bytes. Every input goes to vg_wire_decode (as a frame payload) and to
 * vg_wire_decode_event and vg_wire_decode_alert (as a stored record).
 *
 * Checked:
 *   - an error is VG_EPROTO (or -ENOMEM) and leaves *m empty (all zero);
 *   - a decoded message keeps the schema's bounds (batch of >= 1 record
 *     from seq >= 1, level 0..15, PRI -1..191, UTC offset within a day, raw
 *     present, at most VG_STATS_MAX counters, ...) and its views lie inside
 *     the payload (or are empty);
 *   - round trip: what was decoded, encoded again with the one encoder
 *     (frames with their length header), decodes to the same message; and
 *     encoding that gives the same bytes again (the encoding is canonical).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vigil/err.h"
#include "vigil/wire.h"

static const char *g_buf;
static size_t g_len;

/* A view from a decoder: absent, empty, or inside the input. */
static void check_view(vg_str v)
{
    if (!v.p) {
        FZ_CHECK(v.len == 0);
        return;
    }
    if (v.len == 0)
        return; /* "" */
    uintptr_t b = (uintptr_t)g_buf, p = (uintptr_t)v.p;
    FZ_CHECK(p >= b && p <= b + g_len && v.len <= b + g_len - p);
}

static int str_eq(vg_str a, vg_str b)
{
    if (!a.p || !b.p)
        return !a.p && !b.p;
    return a.len == b.len && (a.len == 0 || !memcmp(a.p, b.p, a.len));
}

static void check_event(const vg_event *e)
{
    FZ_CHECK(e->raw.p != NULL);
    FZ_CHECK(e->pri >= -1 && e->pri <= 191);
    FZ_CHECK(e->tz_min >= -24 * 60 && e->tz_min <= 24 * 60);
    const vg_str *v[] = {&e->host, &e->app, &e->procid, &e->msgid, &e->sd, &e->msg,
                         &e->raw,  &e->src, &e->agency, &e->site,  &e->reason};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        check_view(*v[i]);
}

static void check_alert(const vg_alert *a)
{
    FZ_CHECK(a->level >= 0 && a->level <= 15);
    FZ_CHECK(a->id.p && a->rule_id.p && a->rule_name.p && a->kind.p);
    FZ_CHECK(a->nfields <= VG_ALERT_MAX_FIELDS && a->ntags <= VG_ALERT_MAX_TAGS &&
             a->nraw <= VG_ALERT_MAX_RAW);
    const vg_str *v[] = {&a->id,  &a->rule_id, &a->rule_name, &a->kind, &a->host,
                         &a->app, &a->src,     &a->agency,    &a->site, &a->message};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        check_view(*v[i]);
    for (uint32_t i = 0; i < a->nfields; i++) {
        FZ_CHECK(a->fields[i].key.p && a->fields[i].val.p);
        check_view(a->fields[i].key);
        check_view(a->fields[i].val);
    }
    for (uint32_t i = 0; i < a->ntags; i++) {
        FZ_CHECK(a->tags[i].p);
        check_view(a->tags[i]);
    }
    for (uint32_t i = 0; i < a->nraw; i++) {
        FZ_CHECK(a->raw[i].p);
        check_view(a->raw[i]);
    }
    FZ_CHECK((uint64_t)a->raw_cut < (UINT64_C(1) << a->nraw)); /* marks of its lines only */
}

static int event_eq(const vg_event *a, const vg_event *b)
{
    return a->seq == b->seq && a->recv_us == b->recv_us && a->ts_us == b->ts_us &&
           a->tz_min == b->tz_min && a->pri == b->pri && a->flags == b->flags &&
           str_eq(a->host, b->host) && str_eq(a->app, b->app) && str_eq(a->procid, b->procid) &&
           str_eq(a->msgid, b->msgid) && str_eq(a->sd, b->sd) && str_eq(a->msg, b->msg) &&
           str_eq(a->raw, b->raw) && str_eq(a->src, b->src) && str_eq(a->agency, b->agency) &&
           str_eq(a->site, b->site) && str_eq(a->reason, b->reason);
}

static int alert_eq(const vg_alert *a, const vg_alert *b)
{
    if (!(a->seq == b->seq && str_eq(a->id, b->id) && str_eq(a->rule_id, b->rule_id) &&
          str_eq(a->rule_name, b->rule_name) && str_eq(a->kind, b->kind) &&
          a->level == b->level && a->ts_us == b->ts_us && a->first_us == b->first_us &&
          a->count == b->count && str_eq(a->host, b->host) && str_eq(a->app, b->app) &&
          str_eq(a->src, b->src) && str_eq(a->agency, b->agency) && str_eq(a->site, b->site) &&
          str_eq(a->message, b->message) && a->nfields == b->nfields && a->ntags == b->ntags &&
          a->nraw == b->nraw && a->raw_cut == b->raw_cut))
        return 0;
    for (uint32_t i = 0; i < a->nfields; i++)
        if (!str_eq(a->fields[i].key, b->fields[i].key) || !str_eq(a->fields[i].val, b->fields[i].val))
            return 0;
    for (uint32_t i = 0; i < a->ntags; i++)
        if (!str_eq(a->tags[i], b->tags[i]))
            return 0;
    for (uint32_t i = 0; i < a->nraw; i++)
        if (!str_eq(a->raw[i], b->raw[i]))
            return 0;
    return 1;
}

static void check_msg(const vg_msg *m)
{
    switch (m->type) {
    case VG_MSG_HELLO:
        FZ_CHECK(m->role.p && m->name.p);
        check_view(m->role);
        check_view(m->name);
        break;
    case VG_MSG_EVENTS:
    case VG_MSG_ALERTS:
        FZ_CHECK(m->count >= 1 && m->seq >= 1 && m->seq <= UINT64_MAX - m->count);
        FZ_CHECK((m->type == VG_MSG_EVENTS) == (m->events != NULL));
        FZ_CHECK((m->type == VG_MSG_ALERTS) == (m->alerts != NULL));
        for (uint32_t i = 0; i < m->count; i++) {
            if (m->events) {
                FZ_CHECK(m->events[i].seq == m->seq + i);
                check_event(&m->events[i]);
            } else {
                FZ_CHECK(m->alerts[i].seq == m->seq + i);
                check_alert(&m->alerts[i]);
            }
        }
        break;
    case VG_MSG_ACK:
        break;
    case VG_MSG_STATS:
        FZ_CHECK(m->name.p && m->nstats <= VG_STATS_MAX && m->namebuf);
        check_view(m->name);
        for (uint32_t i = 0; i < m->nstats; i++)
            FZ_CHECK(m->stats[i].name);
        break;
    default:
        FZ_CHECKF(0, "decoded an unknown type %d", (int)m->type);
    }
}

/* A NUL-terminated copy of v (the frame encoders take C strings). */
static char *cstr(vg_str v)
{
    char *s = malloc(v.len + 1);
    if (!s)
        abort();
    if (v.len)
        memcpy(s, v.p, v.len);
    s[v.len] = '\0';
    return s;
}

/* Equal as the C strings the encoder sees (up to a NUL inside). */
static int cstr_eq(vg_str orig, vg_str back)
{
    size_t n = strnlen(orig.p, orig.len);
    return back.p && back.len == n && (n == 0 || !memcmp(orig.p, back.p, n));
}

/* Encodes m as one frame into sb. */
static void encode_msg(const vg_msg *m, msgpack_sbuffer *sb)
{
    int rc = 0;
    switch (m->type) {
    case VG_MSG_HELLO: {
        char *role = cstr(m->role), *name = cstr(m->name);
        rc = vg_wire_frame_hello(sb, role, name, m->epoch, m->seq);
        free(role);
        free(name);
        break;
    }
    case VG_MSG_ACK:
        rc = vg_wire_frame_ack(sb, m->seq);
        break;
    case VG_MSG_STATS: {
        char *name = cstr(m->name);
        rc = vg_wire_frame_stats(sb, name, m->stats, m->nstats);
        free(name);
        break;
    }
    case VG_MSG_EVENTS:
    case VG_MSG_ALERTS: {
        size_t start;
        FZ_CHECK(vg_wire_batch_begin(sb, m->type, m->seq, m->count, &start) == 0);
        for (uint32_t i = 0; i < m->count; i++) {
            msgpack_sbuffer rec;
            msgpack_sbuffer_init(&rec);
            if (m->type == VG_MSG_EVENTS)
                FZ_CHECK(vg_wire_pack_event(&rec, &m->events[i]) == 0);
            else
                FZ_CHECK(vg_wire_pack_alert(&rec, &m->alerts[i]) == 0);
            FZ_CHECK(vg_wire_batch_add(sb, rec.data, rec.size) == 0);
            msgpack_sbuffer_destroy(&rec);
        }
        rc = vg_wire_batch_end(sb, start);
        break;
    }
    }
    FZ_CHECK(rc == 0);
    FZ_CHECK(sb->size >= VG_FRAME_HDR);
    const unsigned char *h = (const unsigned char *)sb->data;
    size_t plen = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    FZ_CHECK(plen == sb->size - VG_FRAME_HDR);
}

static void msg_roundtrip(const vg_msg *m)
{
    msgpack_sbuffer sb, sb2;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&sb2);
    encode_msg(m, &sb);
    vg_msg m2;
    int rc = vg_wire_decode(sb.data + VG_FRAME_HDR, sb.size - VG_FRAME_HDR, &m2);
    FZ_CHECKF(rc == 0, "re-encoded type %d does not decode: %d", (int)m->type, rc);
    FZ_CHECK(m2.type == m->type && m2.seq == m->seq);
    switch (m->type) {
    case VG_MSG_HELLO:
        FZ_CHECK(m2.version == VG_PROTO_VERSION && m2.epoch == m->epoch);
        FZ_CHECK(cstr_eq(m->role, m2.role) && cstr_eq(m->name, m2.name));
        break;
    case VG_MSG_STATS:
        FZ_CHECK(cstr_eq(m->name, m2.name) && m2.nstats == m->nstats);
        for (uint32_t i = 0; i < m->nstats; i++)
            FZ_CHECK(!strcmp(m->stats[i].name, m2.stats[i].name) &&
                     m->stats[i].value == m2.stats[i].value);
        break;
    case VG_MSG_EVENTS:
    case VG_MSG_ALERTS:
        FZ_CHECK(m2.count == m->count);
        for (uint32_t i = 0; i < m->count; i++)
            FZ_CHECKF(m->events ? event_eq(&m->events[i], &m2.events[i])
                                : alert_eq(&m->alerts[i], &m2.alerts[i]),
                      "record %u changed in the round trip", i);
        break;
    default:
        break;
    }
    encode_msg(&m2, &sb2);
    FZ_CHECK(sb.size == sb2.size && !memcmp(sb.data, sb2.data, sb.size));
    vg_msg_free(&m2);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&sb2);
}

static void event_roundtrip(const vg_event *e)
{
    msgpack_sbuffer sb, sb2;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&sb2);
    FZ_CHECK(vg_wire_pack_event(&sb, e) == 0);
    vg_event e2;
    FZ_CHECK(vg_wire_decode_event(sb.data, sb.size, &e2) == 0);
    FZ_CHECK(event_eq(e, &e2));
    FZ_CHECK(vg_wire_pack_event(&sb2, &e2) == 0);
    FZ_CHECK(sb.size == sb2.size && !memcmp(sb.data, sb2.data, sb.size));
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&sb2);
}

static void alert_roundtrip(const vg_alert *a)
{
    msgpack_sbuffer sb, sb2;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&sb2);
    FZ_CHECK(vg_wire_pack_alert(&sb, a) == 0);
    vg_alert *a2 = malloc(sizeof(*a2));
    if (!a2)
        abort();
    FZ_CHECK(vg_wire_decode_alert(sb.data, sb.size, a2) == 0);
    FZ_CHECK(alert_eq(a, a2));
    FZ_CHECK(vg_wire_pack_alert(&sb2, a2) == 0);
    FZ_CHECK(sb.size == sb2.size && !memcmp(sb.data, sb2.data, sb.size));
    free(a2);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&sb2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const vg_msg zero;
    static vg_msg m;     /* static: a vg_msg holds 128 counters */
    static vg_alert al;
    vg_event ev;
    int rc;

    g_buf = (const char *)data;
    g_len = size;

    rc = vg_wire_decode(g_buf, size, &m);
    if (rc == 0) {
        check_msg(&m);
        msg_roundtrip(&m);
        vg_msg_free(&m);
    } else {
        FZ_CHECKF(rc == VG_EPROTO || rc == -ENOMEM, "rc %d", rc);
    }
    FZ_CHECK(!memcmp(&m, &zero, sizeof(m)));

    rc = vg_wire_decode_event(g_buf, size, &ev);
    if (rc == 0) {
        FZ_CHECK(ev.seq == 0);
        check_event(&ev);
        event_roundtrip(&ev);
    } else {
        FZ_CHECKF(rc == VG_EPROTO, "rc %d", rc);
    }

    rc = vg_wire_decode_alert(g_buf, size, &al);
    if (rc == 0) {
        FZ_CHECK(al.seq == 0);
        check_alert(&al);
        alert_roundtrip(&al);
    } else {
        FZ_CHECKF(rc == VG_EPROTO, "rc %d", rc);
    }
    return 0;
}
