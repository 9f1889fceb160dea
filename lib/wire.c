/* The one encoder and the one strict decoder of docs/protocol.md (EVENTS
 * frames taken first by the direct decoder of wire_events.c, which gives
 * the same result or leaves the frame to this one). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/err.h"
#include "vigil/wire.h"
#include "wire_events.h"
#define VG_ALERT_FIELDS 17 /* an alert without a cut raw line (protocol version 1's form) */
#define VG_ALERT_FIELDS_CUT 18 /* ... with one: raw_cut after the raw lines */

/* ---- encoding ---------------------------------------------------------- */

static int vg__sb_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write((msgpack_sbuffer *)data, buf, len);
}

static void vg__pack_str(msgpack_packer *pk, vg_str s)
{
    if (!s.p) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_str(pk, s.len);
    msgpack_pack_str_body(pk, s.p, s.len);
}

static void vg__pack_bin(msgpack_packer *pk, vg_str s)
{
    if (!s.p) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_bin(pk, s.len);
    msgpack_pack_bin_body(pk, s.p, s.len);
}

static void vg__pack_cstr(msgpack_packer *pk, const char *s)
{
    vg__pack_str(pk, vg_str_c(s ? s : ""));
}

int vg_wire_pack_event(msgpack_sbuffer *sb, const vg_event *ev)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, vg__sb_write);
    msgpack_pack_array(&pk, VG_EVENT_FIELDS);
    msgpack_pack_int64(&pk, ev->recv_us);
    msgpack_pack_int64(&pk, ev->ts_us);
    msgpack_pack_int32(&pk, ev->tz_min);
    msgpack_pack_int16(&pk, ev->pri);
    msgpack_pack_uint16(&pk, ev->flags);
    vg__pack_str(&pk, ev->host);
    vg__pack_str(&pk, ev->app);
    vg__pack_str(&pk, ev->procid);
    vg__pack_str(&pk, ev->msgid);
    vg__pack_str(&pk, ev->sd);
    vg__pack_bin(&pk, ev->msg);
    vg__pack_bin(&pk, ev->raw);
    vg__pack_str(&pk, ev->src);
    vg__pack_str(&pk, ev->agency);
    vg__pack_str(&pk, ev->site);
    vg__pack_str(&pk, ev->reason);
    return 0;
}

int vg_wire_pack_alert(msgpack_sbuffer *sb, const vg_alert *al)
{
    if (al->nfields > VG_ALERT_MAX_FIELDS || al->ntags > VG_ALERT_MAX_TAGS ||
        al->nraw > VG_ALERT_MAX_RAW)
        return VG_ETOOBIG;
    /* only the marks of lines the alert has: a record without a cut line
     * stays byte for byte what protocol version 1 wrote */
    uint32_t cut = al->raw_cut & (uint32_t)((UINT64_C(1) << al->nraw) - 1);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, vg__sb_write);
    msgpack_pack_array(&pk, cut ? VG_ALERT_FIELDS_CUT : VG_ALERT_FIELDS);
    vg__pack_str(&pk, al->id.p ? al->id : vg_str_c(""));
    vg__pack_str(&pk, al->rule_id.p ? al->rule_id : vg_str_c(""));
    vg__pack_str(&pk, al->rule_name.p ? al->rule_name : vg_str_c(""));
    vg__pack_str(&pk, al->kind.p ? al->kind : vg_str_c("match"));
    msgpack_pack_int32(&pk, al->level);
    msgpack_pack_int64(&pk, al->ts_us);
    msgpack_pack_int64(&pk, al->first_us);
    msgpack_pack_uint64(&pk, al->count);
    vg__pack_str(&pk, al->host);
    vg__pack_str(&pk, al->app);
    vg__pack_str(&pk, al->src);
    vg__pack_str(&pk, al->agency);
    vg__pack_str(&pk, al->site);
    vg__pack_bin(&pk, al->message);
    msgpack_pack_map(&pk, al->nfields);
    for (uint32_t i = 0; i < al->nfields; i++) {
        vg__pack_str(&pk, al->fields[i].key.p ? al->fields[i].key : vg_str_c(""));
        vg__pack_str(&pk, al->fields[i].val.p ? al->fields[i].val : vg_str_c(""));
    }
    msgpack_pack_array(&pk, al->ntags);
    for (uint32_t i = 0; i < al->ntags; i++)
        vg__pack_str(&pk, al->tags[i].p ? al->tags[i] : vg_str_c(""));
    msgpack_pack_array(&pk, al->nraw);
    for (uint32_t i = 0; i < al->nraw; i++)
        vg__pack_bin(&pk, al->raw[i].p ? al->raw[i] : vg_str_c(""));
    if (cut)
        msgpack_pack_uint32(&pk, cut);
    return 0;
}

/* Reserves the 4-byte length header; vg__frame_end fills it in. */
static size_t vg__frame_begin(msgpack_sbuffer *sb)
{
    static const char zero[VG_FRAME_HDR];
    size_t start = sb->size;
    msgpack_sbuffer_write(sb, zero, sizeof(zero));
    return start;
}

static int vg__frame_end(msgpack_sbuffer *sb, size_t start)
{
    size_t len = sb->size - start - VG_FRAME_HDR;
    if (len > VG_FRAME_MAX)
        return VG_ETOOBIG;
    unsigned char *h = (unsigned char *)sb->data + start;
    h[0] = (unsigned char)(len >> 24);
    h[1] = (unsigned char)(len >> 16);
    h[2] = (unsigned char)(len >> 8);
    h[3] = (unsigned char)len;
    return 0;
}

int vg_wire_frame_hello(msgpack_sbuffer *sb, const char *role, const char *name, uint64_t epoch,
                        uint64_t last_seq)
{
    return vg_wire_frame_hello_v(sb, VG_PROTO_VERSION, role, name, epoch, last_seq);
}

int vg_wire_frame_hello_v(msgpack_sbuffer *sb, uint32_t version, const char *role,
                          const char *name, uint64_t epoch, uint64_t last_seq)
{
    size_t start = vg__frame_begin(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, vg__sb_write);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_uint8(&pk, VG_MSG_HELLO);
    msgpack_pack_uint32(&pk, version);
    vg__pack_cstr(&pk, role);
    vg__pack_cstr(&pk, name);
    msgpack_pack_uint64(&pk, epoch);
    msgpack_pack_uint64(&pk, last_seq);
    return vg__frame_end(sb, start);
}

int vg_wire_frame_ack(msgpack_sbuffer *sb, uint64_t seq)
{
    size_t start = vg__frame_begin(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, vg__sb_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint8(&pk, VG_MSG_ACK);
    msgpack_pack_uint64(&pk, seq);
    return vg__frame_end(sb, start);
}

int vg_wire_frame_stats(msgpack_sbuffer *sb, const char *name, const vg_stat *st, uint32_t n)
{
    if (n > VG_STATS_MAX)
        return VG_ETOOBIG;
    size_t start = vg__frame_begin(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, vg__sb_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint8(&pk, VG_MSG_STATS);
    vg__pack_cstr(&pk, name);
    msgpack_pack_map(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        vg__pack_cstr(&pk, st[i].name);
        msgpack_pack_uint64(&pk, st[i].value);
    }
    return vg__frame_end(sb, start);
}

int vg_wire_batch_begin(msgpack_sbuffer *sb, enum vg_msg_type type, uint64_t first_seq,
                        uint32_t count, size_t *start)
{
    if (type != VG_MSG_EVENTS && type != VG_MSG_ALERTS)
        return -EINVAL;
    *start = vg__frame_begin(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, vg__sb_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint8(&pk, (uint8_t)type);
    msgpack_pack_uint64(&pk, first_seq);
    msgpack_pack_array(&pk, count);
    return 0;
}

int vg_wire_batch_add(msgpack_sbuffer *sb, const void *rec, size_t len)
{
    return msgpack_sbuffer_write(sb, rec, len) == 0 ? 0 : -ENOMEM;
}

int vg_wire_batch_end(msgpack_sbuffer *sb, size_t start)
{
    return vg__frame_end(sb, start);
}

/* ---- strict decoding --------------------------------------------------- */

static int vg__get_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return VG_EPROTO;
    *v = o->via.u64;
    return 0;
}

static int vg__get_i64(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX)
            return VG_EPROTO;
        *v = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return 0;
    }
    return VG_EPROTO;
}

static int vg__get_range(const msgpack_object *o, int64_t lo, int64_t hi, int64_t *v)
{
    if (vg__get_i64(o, v) != 0 || *v < lo || *v > hi)
        return VG_EPROTO;
    return 0;
}

/* str or nil (nil -> absent). Strings are not checked for UTF-8: syslog
 * carries whatever bytes senders put in it. */
static int vg__get_str(const msgpack_object *o, vg_str *s, int nil_ok)
{
    if (o->type == MSGPACK_OBJECT_NIL && nil_ok) {
        *s = VG_STR_NULL;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_STR)
        return VG_EPROTO;
    *s = vg_str_n(o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
    return 0;
}

static int vg__get_bin(const msgpack_object *o, vg_str *s)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        *s = VG_STR_NULL;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_BIN)
        return VG_EPROTO;
    *s = vg_str_n(o->via.bin.size ? o->via.bin.ptr : "", o->via.bin.size);
    return 0;
}

static int vg__event_from(const msgpack_object *o, vg_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != VG_EVENT_FIELDS)
        return VG_EPROTO;
    const msgpack_object *f = o->via.array.ptr;
    int64_t v = 0;
    int rc = 0;
    rc |= vg__get_i64(&f[0], &ev->recv_us);
    rc |= vg__get_i64(&f[1], &ev->ts_us);
    rc |= vg__get_range(&f[2], -24 * 60, 24 * 60, &v);
    ev->tz_min = (int32_t)v;
    rc |= vg__get_range(&f[3], -1, 191, &v);
    ev->pri = (int16_t)v;
    rc |= vg__get_range(&f[4], 0, UINT16_MAX, &v);
    ev->flags = (uint16_t)v;
    rc |= vg__get_str(&f[5], &ev->host, 1);
    rc |= vg__get_str(&f[6], &ev->app, 1);
    rc |= vg__get_str(&f[7], &ev->procid, 1);
    rc |= vg__get_str(&f[8], &ev->msgid, 1);
    rc |= vg__get_str(&f[9], &ev->sd, 1);
    rc |= vg__get_bin(&f[10], &ev->msg);
    rc |= vg__get_bin(&f[11], &ev->raw);
    rc |= vg__get_str(&f[12], &ev->src, 1);
    rc |= vg__get_str(&f[13], &ev->agency, 1);
    rc |= vg__get_str(&f[14], &ev->site, 1);
    rc |= vg__get_str(&f[15], &ev->reason, 1);
    if (rc == 0 && !ev->raw.p)
        return VG_EPROTO; /* raw is the one field that is never absent */
    return rc ? VG_EPROTO : 0;
}

static int vg__alert_from(const msgpack_object *o, vg_alert *al)
{
    memset(al, 0, sizeof(*al));
    if (o->type != MSGPACK_OBJECT_ARRAY ||
        (o->via.array.size != VG_ALERT_FIELDS && o->via.array.size != VG_ALERT_FIELDS_CUT))
        return VG_EPROTO;
    const msgpack_object *f = o->via.array.ptr;
    int64_t v = 0;
    int rc = 0;
    rc |= vg__get_str(&f[0], &al->id, 0);
    rc |= vg__get_str(&f[1], &al->rule_id, 0);
    rc |= vg__get_str(&f[2], &al->rule_name, 0);
    rc |= vg__get_str(&f[3], &al->kind, 0);
    rc |= vg__get_range(&f[4], 0, 15, &v);
    al->level = (int32_t)v;
    rc |= vg__get_i64(&f[5], &al->ts_us);
    rc |= vg__get_i64(&f[6], &al->first_us);
    rc |= vg__get_u64(&f[7], &al->count);
    rc |= vg__get_str(&f[8], &al->host, 1);
    rc |= vg__get_str(&f[9], &al->app, 1);
    rc |= vg__get_str(&f[10], &al->src, 1);
    rc |= vg__get_str(&f[11], &al->agency, 1);
    rc |= vg__get_str(&f[12], &al->site, 1);
    rc |= vg__get_bin(&f[13], &al->message);
    if (rc)
        return VG_EPROTO;
    const msgpack_object *m = &f[14];
    if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size > VG_ALERT_MAX_FIELDS)
        return VG_EPROTO;
    al->nfields = m->via.map.size;
    for (uint32_t i = 0; i < al->nfields; i++) {
        rc |= vg__get_str(&m->via.map.ptr[i].key, &al->fields[i].key, 0);
        rc |= vg__get_str(&m->via.map.ptr[i].val, &al->fields[i].val, 0);
    }
    const msgpack_object *t = &f[15];
    if (t->type != MSGPACK_OBJECT_ARRAY || t->via.array.size > VG_ALERT_MAX_TAGS)
        return VG_EPROTO;
    al->ntags = t->via.array.size;
    for (uint32_t i = 0; i < al->ntags; i++)
        rc |= vg__get_str(&t->via.array.ptr[i], &al->tags[i], 0);
    const msgpack_object *r = &f[16];
    if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size > VG_ALERT_MAX_RAW)
        return VG_EPROTO;
    al->nraw = r->via.array.size;
    for (uint32_t i = 0; i < al->nraw; i++) {
        rc |= vg__get_bin(&r->via.array.ptr[i], &al->raw[i]);
        if (!al->raw[i].p)
            rc = VG_EPROTO;
    }
    if (o->via.array.size == VG_ALERT_FIELDS_CUT) {
        /* a mark for each cut line: at least one, and none past the lines */
        uint64_t cut = 0;
        rc |= vg__get_u64(&f[17], &cut);
        if (cut == 0 || cut >= (UINT64_C(1) << al->nraw))
            rc = VG_EPROTO;
        al->raw_cut = (uint32_t)cut;
    }
    return rc ? VG_EPROTO : 0;
}

static uint64_t vg__be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* msgpack-c allocates a container's elements as soon as it reads the header,
 * before they arrive: a 5-byte payload declaring 2^32 elements makes it ask
 * for tens of GiB (and an ASan build abort). This pass walks the encoding
 * first and refuses it when the objects still owed exceed the bytes left
 * (each takes at least one), or a str/bin/ext is longer than what remains,
 * so that the unpacker then allocates O(len). */
static int vg__check_sizes(const unsigned char *p, size_t len)
{
    size_t pos = 0;
    uint64_t need = 1; /* objects owed to the containers opened so far; <= len */
    while (need > 0) {
        if (pos >= len || need > len - pos)
            return VG_EPROTO;
        unsigned c = p[pos++];
        need--;
        size_t lenb = 0;    /* width of the length or count that follows */
        uint64_t body = 0;  /* bytes after the header */
        uint64_t items = 0; /* objects per counted element: 1 array, 2 map, 0 bytes */
        uint64_t extra = 0; /* ext: the type byte */
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
            continue;
        if (c <= 0x8f) {
            need += 2 * (uint64_t)(c & 0x0f);
            continue;
        }
        if (c <= 0x9f) {
            need += c & 0x0f;
            continue;
        }
        if (c <= 0xbf) {
            body = c & 0x1f;
        } else {
            switch (c) {
            case 0xc4: /* bin 8 */
            case 0xd9: /* str 8 */
                lenb = 1;
                break;
            case 0xc5:
            case 0xda:
                lenb = 2;
                break;
            case 0xc6:
            case 0xdb:
                lenb = 4;
                break;
            case 0xc7: /* ext 8, 16, 32 */
            case 0xc8:
            case 0xc9:
                lenb = c == 0xc7 ? 1 : c == 0xc8 ? 2 : 4;
                extra = 1;
                break;
            case 0xcc: /* uint 8, int 8 */
            case 0xd0:
                body = 1;
                break;
            case 0xcd:
            case 0xd1:
                body = 2;
                break;
            case 0xca: /* float 32 */
            case 0xce:
            case 0xd2:
                body = 4;
                break;
            case 0xcb: /* float 64 */
            case 0xcf:
            case 0xd3:
                body = 8;
                break;
            case 0xd4: /* fixext 1, 2, 4, 8, 16 */
            case 0xd5:
            case 0xd6:
            case 0xd7:
            case 0xd8:
                body = 1 + (1u << (c - 0xd4));
                break;
            case 0xdc: /* array 16, 32 */
            case 0xdd:
                lenb = c == 0xdc ? 2 : 4;
                items = 1;
                break;
            case 0xde: /* map 16, 32 */
            case 0xdf:
                lenb = c == 0xde ? 2 : 4;
                items = 2;
                break;
            default: /* 0xc1 is never used */
                return VG_EPROTO;
            }
        }
        if (lenb) {
            if (len - pos < lenb)
                return VG_EPROTO;
            uint64_t n = vg__be(p + pos, lenb);
            pos += lenb;
            if (items)
                need += items * n;
            else
                body = n + extra;
        }
        if (body > len - pos)
            return VG_EPROTO;
        pos += body;
    }
    return 0;
}

/* Unpacks exactly one object filling buf[0..len); trailing bytes are an
 * error, because they mean the sender and we disagree about the schema. */
static int vg__unpack_one(const char *buf, size_t len, msgpack_unpacked *u)
{
    size_t off = 0;
    if (vg__check_sizes((const unsigned char *)buf, len))
        return VG_EPROTO;
    msgpack_unpacked_init(u);
    msgpack_unpack_return r = msgpack_unpack_next(u, buf, len, &off);
    if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_unpacked_destroy(u);
        return VG_EPROTO;
    }
    return 0;
}

int vg_wire_decode_event(const char *buf, size_t len, vg_event *ev)
{
    msgpack_unpacked u;
    int rc = vg__unpack_one(buf, len, &u);
    if (rc)
        return rc;
    rc = vg__event_from(&u.data, ev);
    msgpack_unpacked_destroy(&u);
    return rc;
}

int vg_wire_decode_alert(const char *buf, size_t len, vg_alert *al)
{
    msgpack_unpacked u;
    int rc = vg__unpack_one(buf, len, &u);
    if (rc)
        return rc;
    rc = vg__alert_from(&u.data, al);
    msgpack_unpacked_destroy(&u);
    return rc;
}

void vg_msg_free(vg_msg *m)
{
    free(m->events);
    free(m->alerts);
    free(m->namebuf);
    memset(m, 0, sizeof(*m));
}

static int vg__decode_batch(const msgpack_object *a, vg_msg *m)
{
    if (a->via.array.size != 3 || vg__get_u64(&a->via.array.ptr[1], &m->seq) || m->seq == 0)
        return VG_EPROTO;
    const msgpack_object *recs = &a->via.array.ptr[2];
    if (recs->type != MSGPACK_OBJECT_ARRAY || recs->via.array.size == 0 ||
        recs->via.array.size > VG_BATCH_MAX)
        return VG_EPROTO;
    if (m->seq > UINT64_MAX - recs->via.array.size)
        return VG_EPROTO;
    m->count = recs->via.array.size;
    if (m->type == VG_MSG_EVENTS) {
        m->events = calloc(m->count, sizeof(*m->events));
        if (!m->events)
            return -ENOMEM;
        for (uint32_t i = 0; i < m->count; i++) {
            if (vg__event_from(&recs->via.array.ptr[i], &m->events[i]))
                return VG_EPROTO;
            m->events[i].seq = m->seq + i;
        }
    } else {
        m->alerts = calloc(m->count, sizeof(*m->alerts));
        if (!m->alerts)
            return -ENOMEM;
        for (uint32_t i = 0; i < m->count; i++) {
            if (vg__alert_from(&recs->via.array.ptr[i], &m->alerts[i]))
                return VG_EPROTO;
            m->alerts[i].seq = m->seq + i;
        }
    }
    return 0;
}

static int vg__decode_stats(const msgpack_object *a, vg_msg *m)
{
    if (a->via.array.size != 3 || vg__get_str(&a->via.array.ptr[1], &m->name, 0))
        return VG_EPROTO;
    const msgpack_object *map = &a->via.array.ptr[2];
    if (map->type != MSGPACK_OBJECT_MAP || map->via.map.size > VG_STATS_MAX)
        return VG_EPROTO;
    size_t need = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return VG_EPROTO;
        need += kv->key.via.str.size + 1;
    }
    m->namebuf = malloc(need ? need : 1);
    if (!m->namebuf)
        return -ENOMEM;
    char *p = m->namebuf;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        /* msgpack-c may give an empty str a NULL ptr: no memcpy from it */
        if (kv->key.via.str.size)
            memcpy(p, kv->key.via.str.ptr, kv->key.via.str.size);
        p[kv->key.via.str.size] = '\0';
        m->stats[i].name = p;
        m->stats[i].value = kv->val.via.u64;
        p += kv->key.via.str.size + 1;
    }
    m->nstats = map->via.map.size;
    return 0;
}

int vg_wire_decode(const char *payload, size_t len, vg_msg *m)
{
    if (vg_wire_decode_events_direct(payload, len, m) == 0)
        return 0;
    return vg_wire_decode_tree(payload, len, m);
}

int vg_wire_decode_tree(const char *payload, size_t len, vg_msg *m)
{
    memset(m, 0, sizeof(*m));
    msgpack_unpacked u;
    int rc = vg__unpack_one(payload, len, &u);
    if (rc)
        return rc;
    const msgpack_object *a = &u.data;
    uint64_t type;
    if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size < 2 ||
        vg__get_u64(&a->via.array.ptr[0], &type)) {
        rc = VG_EPROTO;
        goto out;
    }
    m->type = (enum vg_msg_type)type;
    switch (type) {
    case VG_MSG_HELLO: {
        uint64_t ver;
        if (a->via.array.size != 6 || vg__get_u64(&a->via.array.ptr[1], &ver) ||
            vg__get_str(&a->via.array.ptr[2], &m->role, 0) ||
            vg__get_str(&a->via.array.ptr[3], &m->name, 0) ||
            vg__get_u64(&a->via.array.ptr[4], &m->epoch) ||
            vg__get_u64(&a->via.array.ptr[5], &m->seq) || ver > UINT32_MAX) {
            rc = VG_EPROTO;
            break;
        }
        m->version = (uint32_t)ver;
        break;
    }
    case VG_MSG_EVENTS:
    case VG_MSG_ALERTS:
        rc = vg__decode_batch(a, m);
        break;
    case VG_MSG_ACK:
        if (a->via.array.size != 2 || vg__get_u64(&a->via.array.ptr[1], &m->seq))
            rc = VG_EPROTO;
        break;
    case VG_MSG_STATS:
        rc = vg__decode_stats(a, m);
        break;
    default:
        rc = VG_EPROTO;
    }
out:
    msgpack_unpacked_destroy(&u);
    if (rc)
        vg_msg_free(m);
    return rc;
}
