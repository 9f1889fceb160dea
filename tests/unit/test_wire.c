/* Unit tests for lib/wire.c: every message type and record survives an
 * encode/decode round trip field for field, the decoder refuses everything
 * docs/protocol.md does not allow (VG_EPROTO, message left empty), and a
 * deterministic mutation loop checks that no malformed payload crashes it.
 * Mutated payloads live in heap buffers of their exact size, so ASan sees
 * any read past the end. The sender's batches are checked end to end over a
 * real Unix socket to a receiver in the same loop: frames stay under
 * VG_FRAME_MAX however large the records. */
#include "vigil/err.h"
#include "vigil/receiver.h"
#include "vigil/sender.h"
#include "vigil/wire.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vt_tmp.h"
#include "../../lib/wire_events.h"

/* ---- helpers ----------------------------------------------------------- */

/* Reads the 4-byte big-endian header of the frame at sb->data + *off,
 * checks that the payload fits in sb, and advances *off past the frame. */
static const char *next_frame(const msgpack_sbuffer *sb, size_t *off, size_t *len)
{
    ck_assert_uint_ge(sb->size, *off + VG_FRAME_HDR);
    const unsigned char *h = (const unsigned char *)sb->data + *off;
    size_t n = ((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | (size_t)h[3];
    ck_assert_uint_le(*off + VG_FRAME_HDR + n, sb->size);
    const char *p = sb->data + *off + VG_FRAME_HDR;
    *off += VG_FRAME_HDR + n;
    *len = n;
    return p;
}

/* The payload of the only frame in sb: the header must cover the rest exactly. */
static const char *only_frame(const msgpack_sbuffer *sb, size_t *len)
{
    size_t off = 0;
    const char *p = next_frame(sb, &off, len);
    ck_assert_uint_eq(off, sb->size);
    return p;
}

static vg_str S(const char *s)
{
    return vg_str_c(s);
}

static vg_str B(const char *p, size_t n)
{
    return vg_str_n(p, n);
}

#define assert_view(got, exp) assert_view_((got), (exp), #got)
static void assert_view_(vg_str got, vg_str exp, const char *what)
{
    if (!exp.p) {
        ck_assert_msg(got.p == NULL, "%s: expected absent, got %u bytes", what, got.len);
        return;
    }
    ck_assert_msg(got.p != NULL, "%s: expected %u bytes, got absent", what, exp.len);
    ck_assert_msg(got.len == exp.len, "%s: length %u, expected %u", what, got.len, exp.len);
    ck_assert_msg(memcmp(got.p, exp.p, exp.len) == 0, "%s: bytes differ", what);
}

/* Views must point into the buffer that was decoded (the header says so). */
static void assert_inside(vg_str s, const char *buf, size_t len)
{
    if (!s.p || s.len == 0)
        return;
    uintptr_t p = (uintptr_t)s.p, b = (uintptr_t)buf;
    ck_assert_msg(p >= b && p + s.len <= b + len, "view of %u bytes outside the payload", s.len);
}

static void assert_event_eq(const vg_event *got, const vg_event *exp)
{
    ck_assert_int_eq(got->recv_us, exp->recv_us);
    ck_assert_int_eq(got->ts_us, exp->ts_us);
    ck_assert_int_eq(got->tz_min, exp->tz_min);
    ck_assert_int_eq(got->pri, exp->pri);
    ck_assert_uint_eq(got->flags, exp->flags);
    assert_view(got->host, exp->host);
    assert_view(got->app, exp->app);
    assert_view(got->procid, exp->procid);
    assert_view(got->msgid, exp->msgid);
    assert_view(got->sd, exp->sd);
    assert_view(got->msg, exp->msg);
    assert_view(got->raw, exp->raw);
    assert_view(got->src, exp->src);
    assert_view(got->agency, exp->agency);
    assert_view(got->site, exp->site);
    assert_view(got->reason, exp->reason);
}

static void assert_event_inside(const vg_event *e, const char *buf, size_t len)
{
    const vg_str *v[] = {&e->host, &e->app, &e->procid, &e->msgid, &e->sd, &e->msg,
                         &e->raw, &e->src, &e->agency, &e->site, &e->reason};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_inside(*v[i], buf, len);
}

static void assert_alert_eq(const vg_alert *got, const vg_alert *exp)
{
    assert_view(got->id, exp->id);
    assert_view(got->rule_id, exp->rule_id);
    assert_view(got->rule_name, exp->rule_name);
    assert_view(got->kind, exp->kind);
    ck_assert_int_eq(got->level, exp->level);
    ck_assert_int_eq(got->ts_us, exp->ts_us);
    ck_assert_int_eq(got->first_us, exp->first_us);
    ck_assert_uint_eq(got->count, exp->count);
    assert_view(got->host, exp->host);
    assert_view(got->app, exp->app);
    assert_view(got->src, exp->src);
    assert_view(got->agency, exp->agency);
    assert_view(got->site, exp->site);
    assert_view(got->message, exp->message);
    ck_assert_uint_eq(got->nfields, exp->nfields);
    for (uint32_t i = 0; i < exp->nfields; i++) {
        assert_view(got->fields[i].key, exp->fields[i].key);
        assert_view(got->fields[i].val, exp->fields[i].val);
    }
    ck_assert_uint_eq(got->ntags, exp->ntags);
    for (uint32_t i = 0; i < exp->ntags; i++)
        assert_view(got->tags[i], exp->tags[i]);
    ck_assert_uint_eq(got->nraw, exp->nraw);
    for (uint32_t i = 0; i < exp->nraw; i++)
        assert_view(got->raw[i], exp->raw[i]);
}

static void assert_alert_inside(const vg_alert *a, const char *buf, size_t len)
{
    assert_inside(a->id, buf, len);
    assert_inside(a->rule_id, buf, len);
    assert_inside(a->rule_name, buf, len);
    assert_inside(a->kind, buf, len);
    assert_inside(a->host, buf, len);
    assert_inside(a->app, buf, len);
    assert_inside(a->src, buf, len);
    assert_inside(a->agency, buf, len);
    assert_inside(a->site, buf, len);
    assert_inside(a->message, buf, len);
    for (uint32_t i = 0; i < a->nfields; i++) {
        assert_inside(a->fields[i].key, buf, len);
        assert_inside(a->fields[i].val, buf, len);
    }
    for (uint32_t i = 0; i < a->ntags; i++)
        assert_inside(a->tags[i], buf, len);
    for (uint32_t i = 0; i < a->nraw; i++)
        assert_inside(a->raw[i], buf, len);
}

static int msg_is_empty(const vg_msg *m)
{
    static const vg_msg zero;
    return memcmp(m, &zero, sizeof(zero)) == 0;
}

/* Decodes a copy of buf[0..len) in a heap block of exactly len bytes and
 * expects VG_EPROTO with the message left empty (and vg_msg_free safe). */
#define expect_eproto(buf, len) expect_eproto_((buf), (len), __LINE__)
static void expect_eproto_(const void *buf, size_t len, int line)
{
    char *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    if (len)
        memcpy(copy, buf, len);
    vg_msg m;
    memset(&m, 0xa5, sizeof(m));
    int rc = vg_wire_decode(copy, len, &m);
    ck_assert_msg(rc == VG_EPROTO, "line %d: rc %d, expected VG_EPROTO", line, rc);
    ck_assert_msg(msg_is_empty(&m), "line %d: message not left empty", line);
    vg_msg_free(&m);
    ck_assert(msg_is_empty(&m));
    free(copy);
}

/* A msgpack_sbuffer with a packer on it, for hand-made payloads. Keep it on
 * the stack where it was initialised: the packer points at the buffer. */
typedef struct craft {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} craft;

static void craft_init(craft *c)
{
    msgpack_sbuffer_init(&c->sb);
    msgpack_packer_init(&c->pk, &c->sb, msgpack_sbuffer_write);
}

static void craft_done(craft *c)
{
    msgpack_sbuffer_destroy(&c->sb);
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pk_bin(msgpack_packer *pk, const char *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

/* One msgpack value of a chosen kind, to put where a field is expected. */
enum vkind { V_NIL, V_UINT, V_INT, V_STR, V_BIN, V_FLOAT, V_TRUE, V_ARRAY, V_MAP, V_ARRAY0,
             V_STRS, V_BINS };
typedef struct val {
    enum vkind k;
    int64_t i;  /* V_INT */
    uint64_t u; /* V_UINT */
    const char *s; /* V_STR, V_BIN */
} val;

#define NIL ((val){V_NIL, 0, 0, NULL})
#define U(x) ((val){V_UINT, 0, (x), NULL})
#define I(x) ((val){V_INT, (x), 0, NULL})
#define STR(x) ((val){V_STR, 0, 0, (x)})
#define BIN(x) ((val){V_BIN, 0, 0, (x)})
#define FLT ((val){V_FLOAT, 0, 0, NULL})
#define TRUE_ ((val){V_TRUE, 0, 0, NULL})
#define ARR ((val){V_ARRAY, 0, 0, NULL})
#define MAP0 ((val){V_MAP, 0, 0, NULL})
#define ARR0 ((val){V_ARRAY0, 0, 0, NULL})
#define STRS(x) ((val){V_STRS, 0, 0, (x)}) /* [str x, str "T1110"] */
#define BINS(x) ((val){V_BINS, 0, 0, (x)}) /* [bin x, bin "raw 2"] */

static void pk_val(msgpack_packer *pk, val v)
{
    switch (v.k) {
    case V_NIL:
        msgpack_pack_nil(pk);
        break;
    case V_UINT:
        msgpack_pack_uint64(pk, v.u);
        break;
    case V_INT:
        msgpack_pack_int64(pk, v.i);
        break;
    case V_STR:
        pk_str(pk, v.s);
        break;
    case V_BIN:
        pk_bin(pk, v.s, strlen(v.s));
        break;
    case V_FLOAT:
        msgpack_pack_double(pk, 1.5);
        break;
    case V_TRUE:
        msgpack_pack_true(pk);
        break;
    case V_ARRAY: /* [1] */
        msgpack_pack_array(pk, 1);
        msgpack_pack_uint8(pk, 1);
        break;
    case V_MAP: /* {} */
        msgpack_pack_map(pk, 0);
        break;
    case V_ARRAY0: /* [] */
        msgpack_pack_array(pk, 0);
        break;
    case V_STRS:
        msgpack_pack_array(pk, 2);
        pk_str(pk, v.s);
        pk_str(pk, "T1110");
        break;
    case V_BINS:
        msgpack_pack_array(pk, 2);
        pk_bin(pk, v.s, strlen(v.s));
        pk_bin(pk, "raw 2", 5);
        break;
    }
}

/* ---- fixtures ---------------------------------------------------------- */

static const char raw_bin[] = "\xff\xfe\x00<13>\xc3\x28 bad \xed\xa0\x80 utf-8\x00";
static const char msg_bin[] = "\x00\x01\x02\xfe\xff\xc0\xc1";

/* Three events: all fields set; most absent with pri -1; empty-but-present
 * strings, binary msg and extreme numbers. */
static void event_fixtures(vg_event ev[3])
{
    memset(ev, 0, 3 * sizeof(*ev));
    ev[0] = (vg_event){
        .recv_us = 1700000000123456,
        .ts_us = 1699999999000001,
        .tz_min = 330,
        .pri = 134,
        .flags = VG_EV_RFC5424 | VG_EV_BOM | VG_EV_TRUNCATED,
        .host = S("web-01.example.org"),
        .app = S("sshd"),
        .procid = S("4242"),
        .msgid = S("ID47"),
        .sd = S("[exampleSDID@32473 iut=\"3\" eventSource=\"Application\"]"),
        .msg = S("Failed password for root from 10.1.2.3 port 22 ssh2 \xc3\xa9"),
        .raw = S("<134>1 2023-11-14T22:13:19.000001+05:30 web-01.example.org sshd 4242 ID47 "
                 "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] Failed password"),
        .src = S("10.0.0.5:51400"),
        .agency = S("police"),
        .site = S("hq"),
        .reason = S("cut at 8192 bytes"),
    };
    ev[1] = (vg_event){
        .recv_us = -86400000000,
        .ts_us = -1,
        .tz_min = -720,
        .pri = -1,
        .flags = VG_EV_MALFORMED | VG_EV_NO_TS | VG_EV_NO_HOST,
        .raw = B(raw_bin, sizeof(raw_bin) - 1),
        .src = S("unix"),
        .reason = S("no PRI"),
    };
    ev[2] = (vg_event){
        .recv_us = INT64_MAX,
        .ts_us = INT64_MIN,
        .tz_min = -1440,
        .pri = 0,
        .flags = 0xffff,
        .host = S(""),
        .app = S(""),
        .procid = VG_STR_NULL,
        .msgid = S("-"),
        .sd = S(""),
        .msg = B(msg_bin, sizeof(msg_bin) - 1),
        .raw = S(""),
        .src = S("[::1]:514"),
        .agency = S("unknown"),
        .site = S(""),
        .reason = VG_STR_NULL,
    };
}

/* Two alerts: a correlation with every field set (binary message and raw
 * lines, an empty tag and an empty raw line); a minimal one with the
 * optional strings absent, no fields, tags or raw lines, extreme times. */
static void alert_fixtures(vg_alert al[2])
{
    memset(al, 0, 2 * sizeof(*al));
    al[0].id = S("0123456789abcdef0123456789abcdef");
    al[0].rule_id = S("ssh.bruteforce");
    al[0].rule_name = S("SSH brute force");
    al[0].kind = S("event_count");
    al[0].level = 15;
    al[0].ts_us = 1700000000123456;
    al[0].first_us = 1699999940000001;
    al[0].count = UINT64_MAX;
    al[0].host = S("web-01");
    al[0].app = S("sshd");
    al[0].src = S("10.0.0.5:51400");
    al[0].agency = S("police");
    al[0].site = S("hq");
    al[0].message = B(msg_bin, sizeof(msg_bin) - 1);
    al[0].nfields = 3;
    al[0].fields[0] = (vg_kv){S("src_ip"), S("10.1.2.3")};
    al[0].fields[1] = (vg_kv){S("user"), S("root")};
    al[0].fields[2] = (vg_kv){S("empty"), S("")};
    al[0].ntags = 3;
    al[0].tags[0] = S("attack.t1110");
    al[0].tags[1] = S("attack.credential_access");
    al[0].tags[2] = S("");
    al[0].nraw = 3;
    al[0].raw[0] = S("<38>Nov 14 22:13:19 web-01 sshd[1]: Failed password for root");
    al[0].raw[1] = B(raw_bin, sizeof(raw_bin) - 1);
    al[0].raw[2] = S("");

    al[1].id = S("ffffffffffffffffffffffffffffffff");
    al[1].rule_id = S("r");
    al[1].rule_name = S("");
    al[1].kind = S("");
    al[1].level = 0;
    al[1].ts_us = -5;
    al[1].first_us = INT64_MIN;
    al[1].count = 1;
    /* host, app, src, agency, site, message absent; no fields, tags, raw */
}

/* Packs n records into one batch frame; offs/lens receive where each
 * record's own encoding sits in recs (for the single-record decoders). */
static void pack_events(msgpack_sbuffer *recs, const vg_event *ev, size_t n, size_t *offs,
                        size_t *lens)
{
    for (size_t i = 0; i < n; i++) {
        offs[i] = recs->size;
        ck_assert_int_eq(vg_wire_pack_event(recs, &ev[i]), 0);
        lens[i] = recs->size - offs[i];
        ck_assert_uint_gt(lens[i], 0);
    }
}

static void build_batch(msgpack_sbuffer *sb, enum vg_msg_type type, uint64_t first,
                        const msgpack_sbuffer *recs, const size_t *offs, const size_t *lens,
                        size_t n)
{
    size_t start;
    ck_assert_int_eq(vg_wire_batch_begin(sb, type, first, (uint32_t)n, &start), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(vg_wire_batch_add(sb, recs->data + offs[i], lens[i]), 0);
    ck_assert_int_eq(vg_wire_batch_end(sb, start), 0);
}

/* The payload (no header) of a valid EVENTS frame with the three fixtures,
 * in a malloc'd block of exactly *len bytes. */
static char *valid_events_payload(size_t *len)
{
    vg_event ev[3];
    event_fixtures(ev);
    msgpack_sbuffer recs, sb;
    msgpack_sbuffer_init(&recs);
    msgpack_sbuffer_init(&sb);
    size_t offs[3], lens[3];
    pack_events(&recs, ev, 3, offs, lens);
    build_batch(&sb, VG_MSG_EVENTS, 77, &recs, offs, lens, 3);
    const char *p = only_frame(&sb, len);
    char *out = malloc(*len);
    ck_assert_ptr_nonnull(out);
    memcpy(out, p, *len);
    msgpack_sbuffer_destroy(&recs);
    msgpack_sbuffer_destroy(&sb);
    return out;
}

/* ---- round trips ------------------------------------------------------- */

START_TEST(test_ack_exact_bytes)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_frame_ack(&sb, 7), 0);
    static const unsigned char want[] = {0, 0, 0, 3, 0x92, 0x04, 0x07};
    ck_assert_uint_eq(sb.size, sizeof(want));
    ck_assert_mem_eq(sb.data, want, sizeof(want));

    /* a second frame is appended after the first, with its own header */
    ck_assert_int_eq(vg_wire_frame_ack(&sb, 0x0102030405060708), 0);
    static const unsigned char want2[] = {0,    0,    0,    11,   0x92, 0x04, 0xcf, 1,
                                          2,    3,    4,    5,    6,    7,    8};
    ck_assert_uint_eq(sb.size, sizeof(want) + sizeof(want2));
    ck_assert_mem_eq(sb.data + sizeof(want), want2, sizeof(want2));
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_ack_roundtrip)
{
    static const uint64_t seqs[] = {0, 1, 127, 128, 65536, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
                                    UINT64_MAX};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
        ck_assert_int_eq(vg_wire_frame_ack(&sb, seqs[i]), 0);
    size_t off = 0;
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        size_t len;
        const char *p = next_frame(&sb, &off, &len);
        vg_msg m;
        ck_assert_int_eq(vg_wire_decode(p, len, &m), 0);
        ck_assert_int_eq(m.type, VG_MSG_ACK);
        ck_assert_uint_eq(m.seq, seqs[i]);
        ck_assert_uint_eq(m.count, 0);
        ck_assert_ptr_null(m.events);
        ck_assert_ptr_null(m.alerts);
        vg_msg_free(&m);
        ck_assert(msg_is_empty(&m));
    }
    ck_assert_uint_eq(off, sb.size);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_hello_roundtrip)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_frame_hello(&sb, "collector", "col-a", 0xdeadbeefcafef00d, 12345), 0);
    ck_assert_int_eq(vg_wire_frame_hello(&sb, NULL, NULL, 0, UINT64_MAX), 0);

    size_t off = 0, len;
    const char *p = next_frame(&sb, &off, &len);
    vg_msg m;
    ck_assert_int_eq(vg_wire_decode(p, len, &m), 0);
    ck_assert_int_eq(m.type, VG_MSG_HELLO);
    ck_assert_uint_eq(m.version, VG_PROTO_VERSION);
    assert_view(m.role, S("collector"));
    assert_view(m.name, S("col-a"));
    assert_inside(m.role, p, len);
    assert_inside(m.name, p, len);
    ck_assert_uint_eq(m.epoch, 0xdeadbeefcafef00d);
    ck_assert_uint_eq(m.seq, 12345);
    vg_msg_free(&m);

    /* NULL role/name are sent as empty strings, which are present, not absent */
    p = next_frame(&sb, &off, &len);
    ck_assert_uint_eq(off, sb.size);
    ck_assert_int_eq(vg_wire_decode(p, len, &m), 0);
    ck_assert_int_eq(m.type, VG_MSG_HELLO);
    assert_view(m.role, S(""));
    assert_view(m.name, S(""));
    ck_assert_uint_eq(m.epoch, 0);
    ck_assert_uint_eq(m.seq, UINT64_MAX);
    vg_msg_free(&m);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_stats_roundtrip)
{
    const vg_stat st[] = {{"received", 12}, {"dropped", 0}, {"bytes", UINT64_MAX}, {"", 5}};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_frame_stats(&sb, "collector", st, 4), 0);
    size_t len;
    const char *p = only_frame(&sb, &len);
    vg_msg m;
    ck_assert_int_eq(vg_wire_decode(p, len, &m), 0);
    ck_assert_int_eq(m.type, VG_MSG_STATS);
    assert_view(m.name, S("collector"));
    ck_assert_uint_eq(m.nstats, 4);
    for (uint32_t i = 0; i < 4; i++) {
        ck_assert_str_eq(m.stats[i].name, st[i].name);
        ck_assert_uint_eq(m.stats[i].value, st[i].value);
        /* names are NUL-terminated copies, not views into the payload */
        uintptr_t n = (uintptr_t)m.stats[i].name, b = (uintptr_t)p;
        ck_assert(n < b || n >= b + len);
    }
    vg_msg_free(&m);
    ck_assert(msg_is_empty(&m));
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_stats_limits)
{
    static vg_stat st[VG_STATS_MAX + 1];
    static char names[VG_STATS_MAX + 1][16];
    for (int i = 0; i <= VG_STATS_MAX; i++) {
        snprintf(names[i], sizeof(names[i]), "c%03d", i);
        st[i] = (vg_stat){names[i], (uint64_t)i * 1000003u};
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_frame_stats(&sb, "x", st, VG_STATS_MAX + 1), VG_ETOOBIG);
    ck_assert_uint_eq(sb.size, 0);
    ck_assert_int_eq(vg_wire_frame_stats(&sb, "x", st, VG_STATS_MAX), 0);
    size_t len;
    const char *p = only_frame(&sb, &len);
    vg_msg m;
    ck_assert_int_eq(vg_wire_decode(p, len, &m), 0);
    ck_assert_uint_eq(m.nstats, VG_STATS_MAX);
    for (int i = 0; i < VG_STATS_MAX; i++) {
        ck_assert_str_eq(m.stats[i].name, names[i]);
        ck_assert_uint_eq(m.stats[i].value, (uint64_t)i * 1000003u);
    }
    vg_msg_free(&m);
    msgpack_sbuffer_destroy(&sb);

    /* zero counters is a valid message */
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_frame_stats(&sb, "idle", NULL, 0), 0);
    p = only_frame(&sb, &len);
    ck_assert_int_eq(vg_wire_decode(p, len, &m), 0);
    ck_assert_int_eq(m.type, VG_MSG_STATS);
    assert_view(m.name, S("idle"));
    ck_assert_uint_eq(m.nstats, 0);
    vg_msg_free(&m);
    msgpack_sbuffer_destroy(&sb);

    /* a peer sending VG_STATS_MAX + 1 counters is refused */
    craft c;
    craft_init(&c);
    msgpack_pack_array(&c.pk, 3);
    msgpack_pack_uint8(&c.pk, VG_MSG_STATS);
    pk_str(&c.pk, "x");
    msgpack_pack_map(&c.pk, VG_STATS_MAX + 1);
    for (int i = 0; i <= VG_STATS_MAX; i++) {
        pk_str(&c.pk, names[i]);
        msgpack_pack_uint64(&c.pk, 1);
    }
    expect_eproto(c.sb.data, c.sb.size);
    craft_done(&c);
}
END_TEST

START_TEST(test_events_roundtrip)
{
    vg_event ev[3];
    event_fixtures(ev);
    msgpack_sbuffer recs, sb;
    msgpack_sbuffer_init(&recs);
    msgpack_sbuffer_init(&sb);
    size_t offs[3], lens[3];
    pack_events(&recs, ev, 3, offs, lens);
    /* something before the batch: the batch must carry its own header */
    ck_assert_int_eq(vg_wire_frame_ack(&sb, 9), 0);
    build_batch(&sb, VG_MSG_EVENTS, 1000, &recs, offs, lens, 3);

    size_t off = 0, len;
    (void)next_frame(&sb, &off, &len);
    const char *p = next_frame(&sb, &off, &len);
    ck_assert_uint_eq(off, sb.size);
    vg_msg m;
    ck_assert_int_eq(vg_wire_decode(p, len, &m), 0);
    ck_assert_int_eq(m.type, VG_MSG_EVENTS);
    ck_assert_uint_eq(m.seq, 1000);
    ck_assert_uint_eq(m.count, 3);
    ck_assert_ptr_nonnull(m.events);
    ck_assert_ptr_null(m.alerts);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(m.events[i].seq, 1000 + i);
        assert_event_eq(&m.events[i], &ev[i]);
        assert_event_inside(&m.events[i], p, len);
    }
    ck_assert_int_eq(vg_event_facility(&m.events[0]), 16);
    ck_assert_int_eq(vg_event_severity(&m.events[0]), 6);
    ck_assert_int_eq(vg_event_facility(&m.events[1]), -1);
    ck_assert_int_eq(vg_event_severity(&m.events[1]), -1);
    vg_msg_free(&m);
    ck_assert(msg_is_empty(&m));

    /* each stored record decodes on its own; seq is not part of a record */
    for (int i = 0; i < 3; i++) {
        vg_event one;
        memset(&one, 0x5a, sizeof(one));
        ck_assert_int_eq(vg_wire_decode_event(recs.data + offs[i], lens[i], &one), 0);
        ck_assert_uint_eq(one.seq, 0);
        assert_event_eq(&one, &ev[i]);
        assert_event_inside(&one, recs.data + offs[i], lens[i]);
        /* an event record is not an alert record */
        vg_alert al;
        ck_assert_int_eq(vg_wire_decode_alert(recs.data + offs[i], lens[i], &al), VG_EPROTO);
    }
    msgpack_sbuffer_destroy(&recs);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* A record large enough that three bytes of the length header are in use,
 * in a batch of one at the highest first_seq the decoder accepts. */
START_TEST(test_events_large_record)
{
    size_t big = 0x012345;
    char *raw = malloc(big);
    ck_assert_ptr_nonnull(raw);
    for (size_t i = 0; i < big; i++)
        raw[i] = (char)(i * 131 + 7);
    vg_event ev = {.pri = 13, .raw = B(raw, big), .msg = B(raw + 1, big - 1)};
    msgpack_sbuffer recs, sb;
    msgpack_sbuffer_init(&recs);
    msgpack_sbuffer_init(&sb);
    size_t offs[1], lens[1];
    pack_events(&recs, &ev, 1, offs, lens);
    build_batch(&sb, VG_MSG_EVENTS, UINT64_MAX - 1, &recs, offs, lens, 1);
    const unsigned char *h = (const unsigned char *)sb.data;
    ck_assert_uint_eq(h[0], 0);
    ck_assert_uint_eq(h[1], 0x02); /* 2 * 0x012345 plus a few bytes of overhead */
    size_t len;
    const char *p = only_frame(&sb, &len);
    vg_msg m;
    ck_assert_int_eq(vg_wire_decode(p, len, &m), 0);
    ck_assert_uint_eq(m.count, 1);
    ck_assert_uint_eq(m.seq, UINT64_MAX - 1);
    ck_assert_uint_eq(m.events[0].seq, UINT64_MAX - 1);
    assert_event_eq(&m.events[0], &ev);
    vg_msg_free(&m);
    msgpack_sbuffer_destroy(&recs);
    msgpack_sbuffer_destroy(&sb);
    free(raw);
}
END_TEST

START_TEST(test_alerts_roundtrip)
{
    vg_alert al[2];
    alert_fixtures(al);
    msgpack_sbuffer recs, sb;
    msgpack_sbuffer_init(&recs);
    msgpack_sbuffer_init(&sb);
    size_t offs[2], lens[2];
    for (int i = 0; i < 2; i++) {
        offs[i] = recs.size;
        ck_assert_int_eq(vg_wire_pack_alert(&recs, &al[i]), 0);
        lens[i] = recs.size - offs[i];
    }
    build_batch(&sb, VG_MSG_ALERTS, 1, &recs, offs, lens, 2);
    size_t len;
    const char *p = only_frame(&sb, &len);
    vg_msg m;
    ck_assert_int_eq(vg_wire_decode(p, len, &m), 0);
    ck_assert_int_eq(m.type, VG_MSG_ALERTS);
    ck_assert_uint_eq(m.seq, 1);
    ck_assert_uint_eq(m.count, 2);
    ck_assert_ptr_null(m.events);
    ck_assert_ptr_nonnull(m.alerts);
    for (uint32_t i = 0; i < 2; i++) {
        ck_assert_uint_eq(m.alerts[i].seq, 1 + i);
        assert_alert_eq(&m.alerts[i], &al[i]);
        assert_alert_inside(&m.alerts[i], p, len);
    }
    vg_msg_free(&m);

    for (int i = 0; i < 2; i++) {
        vg_alert one;
        memset(&one, 0x5a, sizeof(one));
        ck_assert_int_eq(vg_wire_decode_alert(recs.data + offs[i], lens[i], &one), 0);
        ck_assert_uint_eq(one.seq, 0);
        assert_alert_eq(&one, &al[i]);
        vg_event ev;
        ck_assert_int_eq(vg_wire_decode_event(recs.data + offs[i], lens[i], &ev), VG_EPROTO);
    }
    msgpack_sbuffer_destroy(&recs);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* Cut marks (protocol version 2): written as an 18th element only when a
 * line is cut, so a record without (and one of version 1) is the 17 of
 * version 1; a mark of no line, or a zero one, is refused. */
START_TEST(test_alert_raw_cut)
{
    vg_alert al, got;
    memset(&al, 0, sizeof(al));
    al.id = S("00000000000000000000000000000001");
    al.rule_id = S("r.x");
    al.rule_name = S("X");
    al.kind = S("event_count");
    al.raw[al.nraw++] = S("<13>whole");
    al.raw[al.nraw++] = S("<13>cut");
    al.raw_cut = 1u << 1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_pack_alert(&sb, &al), 0);
    ck_assert_uint_eq((unsigned char)sb.data[0], 0xdc); /* array 16 */
    ck_assert_uint_eq((unsigned char)sb.data[2], 18);
    ck_assert_uint_eq((unsigned char)sb.data[sb.size - 1], 0x02); /* raw_cut 2 */
    ck_assert_int_eq(vg_wire_decode_alert(sb.data, sb.size, &got), 0);
    ck_assert_uint_eq(got.nraw, 2);
    ck_assert_uint_eq(got.raw_cut, 2);
    /* a mark of no line, or zero: refused */
    sb.data[sb.size - 1] = 0x04;
    ck_assert_int_eq(vg_wire_decode_alert(sb.data, sb.size, &got), VG_EPROTO);
    sb.data[sb.size - 1] = 0x00;
    ck_assert_int_eq(vg_wire_decode_alert(sb.data, sb.size, &got), VG_EPROTO);
    /* the 17 elements of version 1 without the mark: read as whole lines */
    sb.data[2] = 17;
    ck_assert_int_eq(vg_wire_decode_alert(sb.data, sb.size - 1, &got), 0);
    ck_assert_uint_eq(got.nraw, 2);
    ck_assert_uint_eq(got.raw_cut, 0);
    /* no line cut (a mark past the lines is not one): version 1's bytes */
    msgpack_sbuffer_clear(&sb);
    al.raw_cut = 1u << 2;
    ck_assert_int_eq(vg_wire_pack_alert(&sb, &al), 0);
    ck_assert_uint_eq((unsigned char)sb.data[2], 17);
    ck_assert_int_eq(vg_wire_decode_alert(sb.data, sb.size, &got), 0);
    ck_assert_uint_eq(got.raw_cut, 0);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_alert_fields_limits)
{
    static char keys[VG_ALERT_MAX_FIELDS][8], vals[VG_ALERT_MAX_FIELDS][8];
    static char tags[VG_ALERT_MAX_TAGS][8], raws[VG_ALERT_MAX_RAW][8];
    vg_alert al;
    memset(&al, 0, sizeof(al));
    al.id = S("00000000000000000000000000000001");
    al.rule_id = S("r.x");
    al.rule_name = S("X");
    al.kind = S("value_count");
    al.level = 7;
    al.ts_us = INT64_MAX;
    al.first_us = -1;
    al.count = 3;
    for (int i = 0; i < VG_ALERT_MAX_FIELDS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        snprintf(vals[i], sizeof(vals[i]), "v%d", i * 7);
        al.fields[i] = (vg_kv){S(keys[i]), S(vals[i])};
    }
    for (int i = 0; i < VG_ALERT_MAX_TAGS; i++) {
        snprintf(tags[i], sizeof(tags[i]), "t%d", i);
        al.tags[i] = S(tags[i]);
    }
    for (int i = 0; i < VG_ALERT_MAX_RAW; i++) {
        snprintf(raws[i], sizeof(raws[i]), "<%d>x", i);
        al.raw[i] = S(raws[i]);
    }
    al.nfields = VG_ALERT_MAX_FIELDS;
    al.ntags = VG_ALERT_MAX_TAGS;
    al.nraw = VG_ALERT_MAX_RAW;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_pack_alert(&sb, &al), 0);
    vg_alert got;
    ck_assert_int_eq(vg_wire_decode_alert(sb.data, sb.size, &got), 0);
    assert_alert_eq(&got, &al);
    assert_alert_inside(&got, sb.data, sb.size);

    /* one over any limit: refused, nothing written */
    size_t before = sb.size;
    al.nfields = VG_ALERT_MAX_FIELDS + 1;
    ck_assert_int_eq(vg_wire_pack_alert(&sb, &al), VG_ETOOBIG);
    ck_assert_uint_eq(sb.size, before);
    al.nfields = VG_ALERT_MAX_FIELDS;
    al.ntags = VG_ALERT_MAX_TAGS + 1;
    ck_assert_int_eq(vg_wire_pack_alert(&sb, &al), VG_ETOOBIG);
    ck_assert_uint_eq(sb.size, before);
    al.ntags = VG_ALERT_MAX_TAGS;
    al.nraw = VG_ALERT_MAX_RAW + 1;
    ck_assert_int_eq(vg_wire_pack_alert(&sb, &al), VG_ETOOBIG);
    ck_assert_uint_eq(sb.size, before);
    al.nraw = UINT32_MAX;
    ck_assert_int_eq(vg_wire_pack_alert(&sb, &al), VG_ETOOBIG);
    ck_assert_uint_eq(sb.size, before);
    msgpack_sbuffer_destroy(&sb);

    /* NULL id / rule / key / value / tag are encoded as empty strings, a
     * NULL kind as "match", a NULL raw line as empty bytes */
    memset(&al, 0, sizeof(al));
    al.nfields = 1;
    al.ntags = 1;
    al.nraw = 1;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_pack_alert(&sb, &al), 0);
    ck_assert_int_eq(vg_wire_decode_alert(sb.data, sb.size, &got), 0);
    assert_view(got.id, S(""));
    assert_view(got.rule_id, S(""));
    assert_view(got.rule_name, S(""));
    assert_view(got.kind, S("match"));
    assert_view(got.host, VG_STR_NULL);
    assert_view(got.app, VG_STR_NULL);
    assert_view(got.src, VG_STR_NULL);
    assert_view(got.message, VG_STR_NULL);
    ck_assert_int_eq(got.ts_us, 0);
    ck_assert_int_eq(got.first_us, 0);
    ck_assert_uint_eq(got.nfields, 1);
    assert_view(got.fields[0].key, S(""));
    assert_view(got.fields[0].val, S(""));
    ck_assert_uint_eq(got.ntags, 1);
    assert_view(got.tags[0], S(""));
    ck_assert_uint_eq(got.nraw, 1);
    assert_view(got.raw[0], S(""));
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_batch_begin_bad_type)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    size_t start = 12345;
    ck_assert_int_eq(vg_wire_batch_begin(&sb, VG_MSG_HELLO, 1, 1, &start), -EINVAL);
    ck_assert_int_eq(vg_wire_batch_begin(&sb, VG_MSG_ACK, 1, 1, &start), -EINVAL);
    ck_assert_int_eq(vg_wire_batch_begin(&sb, (enum vg_msg_type)0, 1, 1, &start), -EINVAL);
    ck_assert_uint_eq(sb.size, 0);
    ck_assert_uint_eq(start, 12345);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* ---- rejections -------------------------------------------------------- */

START_TEST(test_reject_unknown_type)
{
    static const uint64_t types[] = {0, 6, 255, 256, (1ull << 32) | VG_MSG_HELLO, UINT64_MAX};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        /* shaped like a valid HELLO but for the type */
        craft c;
        craft_init(&c);
        msgpack_pack_array(&c.pk, 6);
        msgpack_pack_uint64(&c.pk, types[i]);
        msgpack_pack_uint32(&c.pk, 1);
        pk_str(&c.pk, "collector");
        pk_str(&c.pk, "a");
        msgpack_pack_uint64(&c.pk, 1);
        msgpack_pack_uint64(&c.pk, 1);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
        /* and like an ACK */
        craft_init(&c);
        msgpack_pack_array(&c.pk, 2);
        msgpack_pack_uint64(&c.pk, types[i]);
        msgpack_pack_uint64(&c.pk, 1);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
    }
    /* the type itself of the wrong kind */
    const val bad[] = {I(-4), STR("\x04"), NIL, FLT, TRUE_, ARR};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        craft c;
        craft_init(&c);
        msgpack_pack_array(&c.pk, 2);
        pk_val(&c.pk, bad[i]);
        msgpack_pack_uint64(&c.pk, 1);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
    }
}
END_TEST

START_TEST(test_reject_top_level)
{
    const val bad[] = {NIL, U(4), I(-1), STR("ack"), BIN("\x92\x04\x01"), FLT, TRUE_, MAP0};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        craft c;
        craft_init(&c);
        pk_val(&c.pk, bad[i]);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
    }
    /* a map that looks like an ACK */
    craft c;
    craft_init(&c);
    msgpack_pack_map(&c.pk, 1);
    msgpack_pack_uint8(&c.pk, VG_MSG_ACK);
    msgpack_pack_uint8(&c.pk, 1);
    expect_eproto(c.sb.data, c.sb.size);
    craft_done(&c);
    /* empty and one-element arrays */
    expect_eproto("\x90", 1);
    expect_eproto("\x91\x04", 2);
    expect_eproto("", 0);
    /* the reserved byte 0xc1 */
    expect_eproto("\x92\x04\xc1", 3);
}
END_TEST

/* HELLO fields: index 1..5 replaced by v; n elements in all. */
static void craft_hello(craft *c, uint32_t n, int idx, val v)
{
    const val def[6] = {U(VG_MSG_HELLO), U(1), STR("collector"), STR("col-a"), U(99), U(5)};
    msgpack_pack_array(&c->pk, n);
    for (uint32_t i = 0; i < n; i++)
        pk_val(&c->pk, (int)i == idx ? v : (i < 6 ? def[i] : U(0)));
}

START_TEST(test_reject_hello)
{
    craft c;
    /* control: the crafted HELLO is valid as is */
    craft_init(&c);
    craft_hello(&c, 6, -1, NIL);
    vg_msg m;
    ck_assert_int_eq(vg_wire_decode(c.sb.data, c.sb.size, &m), 0);
    ck_assert_uint_eq(m.version, 1);
    assert_view(m.role, S("collector"));
    assert_view(m.name, S("col-a"));
    ck_assert_uint_eq(m.epoch, 99);
    ck_assert_uint_eq(m.seq, 5);
    vg_msg_free(&m);
    craft_done(&c);

    /* another protocol version still decodes: refusing it is the caller's job */
    craft_init(&c);
    craft_hello(&c, 6, 1, U(UINT32_MAX));
    ck_assert_int_eq(vg_wire_decode(c.sb.data, c.sb.size, &m), 0);
    ck_assert_uint_eq(m.version, UINT32_MAX);
    vg_msg_free(&m);
    craft_done(&c);

    static const uint32_t counts[] = {2, 3, 5, 7};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        craft_init(&c);
        craft_hello(&c, counts[i], -1, NIL);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
    }
    const struct {
        int idx;
        val v;
    } bad[] = {
        {1, STR("1")},  {1, I(-1)},      {1, U((uint64_t)UINT32_MAX + 1)}, {1, NIL},
        {2, U(1)},      {2, NIL},        {2, BIN("collector")},            {2, ARR},
        {3, U(7)},      {3, NIL},        {3, BIN("col-a")},                {4, I(-1)},
        {4, STR("99")}, {4, NIL},        {4, FLT},                         {5, STR("5")},
        {5, I(-5)},     {5, TRUE_},      {5, MAP0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        craft_init(&c);
        craft_hello(&c, 6, bad[i].idx, bad[i].v);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
    }
}
END_TEST

START_TEST(test_reject_ack_stats)
{
    craft c;
    const val bad_seq[] = {STR("1"), I(-1), NIL, FLT, BIN("\x01")};
    for (size_t i = 0; i < sizeof(bad_seq) / sizeof(bad_seq[0]); i++) {
        craft_init(&c);
        msgpack_pack_array(&c.pk, 2);
        msgpack_pack_uint8(&c.pk, VG_MSG_ACK);
        pk_val(&c.pk, bad_seq[i]);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
    }
    craft_init(&c);
    msgpack_pack_array(&c.pk, 3);
    msgpack_pack_uint8(&c.pk, VG_MSG_ACK);
    msgpack_pack_uint8(&c.pk, 1);
    msgpack_pack_uint8(&c.pk, 1);
    expect_eproto(c.sb.data, c.sb.size);
    craft_done(&c);

    /* STATS: element counts, name type, map shape, counter keys and values */
    for (uint32_t n = 2; n <= 4; n += 2) {
        craft_init(&c);
        msgpack_pack_array(&c.pk, n);
        msgpack_pack_uint8(&c.pk, VG_MSG_STATS);
        pk_str(&c.pk, "x");
        if (n > 2)
            msgpack_pack_map(&c.pk, 0);
        if (n > 3)
            msgpack_pack_nil(&c.pk);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
    }
    const val bad_name[] = {NIL, U(1), BIN("x"), ARR};
    for (size_t i = 0; i < sizeof(bad_name) / sizeof(bad_name[0]); i++) {
        craft_init(&c);
        msgpack_pack_array(&c.pk, 3);
        msgpack_pack_uint8(&c.pk, VG_MSG_STATS);
        pk_val(&c.pk, bad_name[i]);
        msgpack_pack_map(&c.pk, 0);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
    }
    const val bad_map[] = {ARR, NIL, U(0), STR("")};
    for (size_t i = 0; i < sizeof(bad_map) / sizeof(bad_map[0]); i++) {
        craft_init(&c);
        msgpack_pack_array(&c.pk, 3);
        msgpack_pack_uint8(&c.pk, VG_MSG_STATS);
        pk_str(&c.pk, "x");
        pk_val(&c.pk, bad_map[i]);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
    }
    /* the bad entry is the second one, after a good one */
    const struct {
        val k, v;
    } bad_kv[] = {
        {STR("neg"), I(-1)}, {STR("str"), STR("1")}, {STR("nil"), NIL},   {STR("flt"), FLT},
        {STR("arr"), ARR},   {STR("bool"), TRUE_},   {U(1), U(1)},         {NIL, U(1)},
        {BIN("bin"), U(1)},
    };
    for (size_t i = 0; i < sizeof(bad_kv) / sizeof(bad_kv[0]); i++) {
        craft_init(&c);
        msgpack_pack_array(&c.pk, 3);
        msgpack_pack_uint8(&c.pk, VG_MSG_STATS);
        pk_str(&c.pk, "x");
        msgpack_pack_map(&c.pk, 2);
        pk_str(&c.pk, "ok");
        msgpack_pack_uint64(&c.pk, 3);
        pk_val(&c.pk, bad_kv[i].k);
        pk_val(&c.pk, bad_kv[i].v);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
    }
}
END_TEST

/* An event record: 'n' fields, default values, field idx replaced by v. */
static void craft_event(msgpack_packer *pk, uint32_t n, int idx, val v)
{
    const val def[16] = {U(1000), I(-1000), I(-60), U(13), U(0), STR("h"), STR("a"), STR("1"),
                         STR("m"), STR("-"), BIN("msg"), BIN("raw"), STR("unix"), STR("ag"),
                         STR("si"), NIL};
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        pk_val(pk, (int)i == idx ? v : (i < 16 ? def[i] : NIL));
}

/* The default value of alert field i (docs/protocol.md, 17 fields). */
static val alert_def(uint32_t i)
{
    const val def[17] = {STR("0123456789abcdef0123456789abcdef"), STR("r.id"), STR("Rule"),
                         STR("temporal"), U(3), I(-7), I(-9), U(2), STR("h"), NIL,
                         STR("10.0.0.1"), NIL, STR("s"), BIN("m"), MAP0, STRS("attack.t1078"),
                         BINS("<13>raw 1")};
    return i < 17 ? def[i] : NIL;
}

static void craft_alert(msgpack_packer *pk, uint32_t n, int idx, val v)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        pk_val(pk, (int)i == idx ? v : alert_def(i));
}

/* The header of a 17-field alert and its default fields 0..upto-1: the
 * caller packs the rest. */
static void craft_alert_upto(msgpack_packer *pk, uint32_t upto)
{
    msgpack_pack_array(pk, 17);
    for (uint32_t i = 0; i < upto; i++)
        pk_val(pk, alert_def(i));
}

/* [type, first, [good, record]] where record is built by fn(n, idx, v). */
static void craft_batch(craft *c, enum vg_msg_type type, uint64_t first, uint32_t n, int idx,
                        val v)
{
    msgpack_pack_array(&c->pk, 3);
    msgpack_pack_uint8(&c->pk, (uint8_t)type);
    msgpack_pack_uint64(&c->pk, first);
    msgpack_pack_array(&c->pk, 2);
    if (type == VG_MSG_EVENTS) {
        craft_event(&c->pk, 16, -1, NIL);
        craft_event(&c->pk, n, idx, v);
    } else {
        craft_alert(&c->pk, 17, -1, NIL);
        craft_alert(&c->pk, n, idx, v);
    }
}

/* Checks one mutated record both inside a batch and on its own. */
static void expect_record(enum vg_msg_type type, uint32_t n, int idx, val v, int ok)
{
    craft c;
    craft_init(&c);
    craft_batch(&c, type, 10, n, idx, v);
    if (ok) {
        vg_msg m;
        ck_assert_msg(vg_wire_decode(c.sb.data, c.sb.size, &m) == 0, "idx %d kind %d", idx, v.k);
        ck_assert_uint_eq(m.count, 2);
        ck_assert_uint_eq(type == VG_MSG_EVENTS ? m.events[1].seq : m.alerts[1].seq, 11);
        vg_msg_free(&m);
    } else {
        expect_eproto(c.sb.data, c.sb.size);
    }
    craft_done(&c);

    craft_init(&c);
    int rc;
    if (type == VG_MSG_EVENTS) {
        craft_event(&c.pk, n, idx, v);
        vg_event ev;
        rc = vg_wire_decode_event(c.sb.data, c.sb.size, &ev);
    } else {
        craft_alert(&c.pk, n, idx, v);
        vg_alert al;
        rc = vg_wire_decode_alert(c.sb.data, c.sb.size, &al);
    }
    ck_assert_msg(rc == (ok ? 0 : VG_EPROTO), "record idx %d kind %d: rc %d", idx, v.k, rc);
    craft_done(&c);
}

START_TEST(test_event_fields)
{
    /* controls: values at the edge of what is allowed */
    const struct {
        int idx;
        val v;
    } good[] = {
        {0, I(INT64_MIN)}, {0, U(INT64_MAX)}, {1, I(-1)},   {2, I(-1440)},     {2, U(1440)},
        {3, I(-1)},        {3, U(0)},         {3, U(191)},  {4, U(UINT16_MAX)}, {5, NIL},
        {5, STR("")},      {9, NIL},          {10, NIL},    {10, BIN("")},      {11, BIN("")},
        {12, NIL},         {15, STR("why")},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        expect_record(VG_MSG_EVENTS, 16, good[i].idx, good[i].v, 1);

    const struct {
        int idx;
        val v;
    } bad[] = {
        {0, STR("1000")}, {0, NIL},          {0, FLT},           {0, U((uint64_t)INT64_MAX + 1)},
        {1, TRUE_},       {1, BIN("x")},     {2, I(-1441)},      {2, U(1441)},
        {2, STR("0")},    {3, U(192)},       {3, I(-2)},         {3, STR("13")},
        {3, NIL},         {4, U(65536)},     {4, I(-1)},         {4, STR("")},
        {5, U(1)},        {5, BIN("h")},     {6, ARR},           {7, I(1)},
        {8, MAP0},        {9, BIN("-")},     {10, STR("msg")},   {10, U(0)},
        {11, NIL},        {11, STR("raw")},  {11, ARR},          {12, BIN("unix")},
        {13, U(5)},       {14, TRUE_},       {15, BIN("why")},   {15, FLT},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_record(VG_MSG_EVENTS, 16, bad[i].idx, bad[i].v, 0);

    /* wrong element counts */
    expect_record(VG_MSG_EVENTS, 15, -1, NIL, 0);
    expect_record(VG_MSG_EVENTS, 17, -1, NIL, 0);
    expect_record(VG_MSG_EVENTS, 0, -1, NIL, 0);
}
END_TEST

/* Decodes a 17-field alert whose fields 0..13 are the defaults, followed
 * by fields, tags and raw as packed by the caller into c (after
 * craft_alert_upto(.., 14)), alone and as the second record of a batch. */
static int decode_crafted_alert(craft *c, vg_alert *al)
{
    int rc = vg_wire_decode_alert(c->sb.data, c->sb.size, al);
    craft b;
    craft_init(&b);
    msgpack_pack_array(&b.pk, 3);
    msgpack_pack_uint8(&b.pk, VG_MSG_ALERTS);
    msgpack_pack_uint8(&b.pk, 1);
    msgpack_pack_array(&b.pk, 2);
    craft_alert(&b.pk, 17, -1, NIL);
    msgpack_sbuffer_write(&b.sb, c->sb.data, c->sb.size);
    if (rc == 0) {
        vg_msg m;
        ck_assert_int_eq(vg_wire_decode(b.sb.data, b.sb.size, &m), 0);
        ck_assert_uint_eq(m.count, 2);
        vg_msg_free(&m);
    } else {
        expect_eproto(b.sb.data, b.sb.size);
    }
    craft_done(&b);
    return rc;
}

START_TEST(test_alert_fields)
{
    /* controls: the defaults decode, field for field */
    {
        craft c;
        craft_init(&c);
        craft_alert(&c.pk, 17, -1, NIL);
        vg_alert al;
        ck_assert_int_eq(vg_wire_decode_alert(c.sb.data, c.sb.size, &al), 0);
        assert_view(al.id, S("0123456789abcdef0123456789abcdef"));
        assert_view(al.rule_id, S("r.id"));
        assert_view(al.rule_name, S("Rule"));
        assert_view(al.kind, S("temporal"));
        ck_assert_int_eq(al.level, 3);
        ck_assert_int_eq(al.ts_us, -7);
        ck_assert_int_eq(al.first_us, -9);
        ck_assert_uint_eq(al.count, 2);
        assert_view(al.host, S("h"));
        assert_view(al.app, VG_STR_NULL);
        assert_view(al.src, S("10.0.0.1"));
        assert_view(al.agency, VG_STR_NULL);
        assert_view(al.site, S("s"));
        assert_view(al.message, S("m"));
        ck_assert_uint_eq(al.nfields, 0);
        ck_assert_uint_eq(al.ntags, 2);
        assert_view(al.tags[0], S("attack.t1078"));
        assert_view(al.tags[1], S("T1110"));
        ck_assert_uint_eq(al.nraw, 2);
        assert_view(al.raw[0], S("<13>raw 1"));
        assert_view(al.raw[1], S("raw 2"));
        craft_done(&c);
    }
    const struct {
        int idx;
        val v;
    } good[] = {
        {0, STR("")},         {3, STR("")},          {3, STR("absence")},
        {4, U(0)},            {4, U(15)},            {5, U(0)},
        {5, I(INT64_MIN)},    {5, U(INT64_MAX)},     {6, I(INT64_MIN)},
        {6, U(INT64_MAX)},    {7, U(0)},             {7, U(UINT64_MAX)},
        {8, NIL},             {9, STR("sshd")},      {9, STR("")},
        {10, NIL},            {11, STR("a")},        {12, NIL},
        {13, NIL},            {13, BIN("")},         {15, ARR0},
        {15, STRS("")},       {16, ARR0},            {16, BINS("")},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        expect_record(VG_MSG_ALERTS, 17, good[i].idx, good[i].v, 1);

    const struct {
        int idx;
        val v;
    } bad[] = {
        {0, NIL},          {0, U(1)},          {0, BIN("id")},
        {1, NIL},          {1, BIN("r")},      {2, NIL},
        {2, U(2)},         {3, NIL},           {3, BIN("match")},
        {3, U(0)},         {3, ARR0},          {4, U(16)},
        {4, I(-1)},        {4, STR("3")},      {4, NIL},
        {5, STR("0")},     {5, FLT},           {5, NIL},
        {5, U((uint64_t)INT64_MAX + 1)},       {6, STR("0")},
        {6, FLT},          {6, NIL},           {6, U((uint64_t)INT64_MAX + 1)},
        {7, I(-1)},        {7, STR("2")},      {7, NIL},
        {7, FLT},          {8, U(1)},          {8, BIN("h")},
        {9, ARR},          {9, BIN("sshd")},   {10, TRUE_},
        {10, BIN("10.0.0.1")},                 {11, ARR},
        {11, U(0)},        {12, TRUE_},        {12, BIN("s")},
        {13, STR("m")},    {13, U(0)},         {14, ARR},
        {14, ARR0},        {14, NIL},          {14, STR("")},
        {15, NIL},         {15, MAP0},         {15, STR("t")},
        {15, ARR},         {15, BINS("t")},    {16, NIL},
        {16, MAP0},        {16, BIN("r")},     {16, ARR},
        {16, STRS("r")},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_record(VG_MSG_ALERTS, 17, bad[i].idx, bad[i].v, 0);

    /* wrong element counts, the old 11-field layout included */
    expect_record(VG_MSG_ALERTS, 16, -1, NIL, 0);
    expect_record(VG_MSG_ALERTS, 18, -1, NIL, 0);
    expect_record(VG_MSG_ALERTS, 11, -1, NIL, 0);
    expect_record(VG_MSG_ALERTS, 0, -1, NIL, 0);

    /* the fields map: keys and values are strings, never nil, at most 32 */
    const struct {
        val k, v;
        int ok;
    } kv[] = {
        {STR("k"), STR("v"), 1}, {STR(""), STR(""), 1}, {STR("k"), NIL, 0},   {NIL, STR("v"), 0},
        {STR("k"), U(1), 0},     {U(1), STR("v"), 0},   {STR("k"), BIN("v"), 0},
        {BIN("k"), STR("v"), 0},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        craft c;
        craft_init(&c);
        craft_alert_upto(&c.pk, 14);
        msgpack_pack_map(&c.pk, 2);
        pk_str(&c.pk, "first");
        pk_str(&c.pk, "ok");
        pk_val(&c.pk, kv[i].k);
        pk_val(&c.pk, kv[i].v);
        pk_val(&c.pk, alert_def(15));
        pk_val(&c.pk, alert_def(16));
        vg_alert al;
        int rc = decode_crafted_alert(&c, &al);
        ck_assert_msg(rc == (kv[i].ok ? 0 : VG_EPROTO), "kv %zu: rc %d", i, rc);
        if (kv[i].ok) {
            ck_assert_uint_eq(al.nfields, 2);
            assert_view(al.fields[0].key, S("first"));
            assert_view(al.fields[0].val, S("ok"));
            assert_view(al.fields[1].key, kv[i].k.s ? S(kv[i].k.s) : VG_STR_NULL);
            ck_assert_uint_eq(al.ntags, 2);
            ck_assert_uint_eq(al.nraw, 2);
        }
        craft_done(&c);
    }

    /* tags: strings (never nil, never bin); raw: bytes (never nil, never str) */
    const struct {
        int which; /* 15 tags, 16 raw */
        val v;
        int ok;
    } el[] = {
        {15, STR(""), 1},  {15, STR("T1021"), 1}, {15, NIL, 0},  {15, BIN("t"), 0},
        {15, U(1), 0},     {15, ARR0, 0},         {15, MAP0, 0}, {16, BIN(""), 1},
        {16, BIN("r"), 1}, {16, NIL, 0},          {16, STR("r"), 0}, {16, U(1), 0},
        {16, ARR0, 0},     {16, TRUE_, 0},
    };
    for (size_t i = 0; i < sizeof(el) / sizeof(el[0]); i++) {
        craft c;
        craft_init(&c);
        craft_alert_upto(&c.pk, 15);
        if (el[i].which == 15) {
            msgpack_pack_array(&c.pk, 2);
            pk_str(&c.pk, "first");
            pk_val(&c.pk, el[i].v);
            pk_val(&c.pk, alert_def(16));
        } else {
            pk_val(&c.pk, alert_def(15));
            msgpack_pack_array(&c.pk, 2);
            pk_bin(&c.pk, "first", 5);
            pk_val(&c.pk, el[i].v);
        }
        vg_alert al;
        int rc = decode_crafted_alert(&c, &al);
        ck_assert_msg(rc == (el[i].ok ? 0 : VG_EPROTO), "element %zu: rc %d", i, rc);
        if (el[i].ok) {
            const vg_str *got = el[i].which == 15 ? al.tags : al.raw;
            ck_assert_uint_eq(el[i].which == 15 ? al.ntags : al.nraw, 2);
            assert_view(got[0], S("first"));
            assert_view(got[1], S(el[i].v.s));
        }
        craft_done(&c);
    }

    /* at most 16 tags and 16 raw lines */
    for (int which = 15; which <= 16; which++) {
        uint32_t max = which == 15 ? VG_ALERT_MAX_TAGS : VG_ALERT_MAX_RAW;
        for (uint32_t n = max; n <= max + 1; n++) {
            craft c;
            craft_init(&c);
            craft_alert_upto(&c.pk, 15);
            if (which == 16)
                pk_val(&c.pk, alert_def(15));
            msgpack_pack_array(&c.pk, n);
            for (uint32_t i = 0; i < n; i++) {
                char x[8];
                snprintf(x, sizeof(x), "x%u", i);
                if (which == 15)
                    pk_str(&c.pk, x);
                else
                    pk_bin(&c.pk, x, strlen(x));
            }
            if (which == 15)
                pk_val(&c.pk, alert_def(16));
            vg_alert al;
            int rc = decode_crafted_alert(&c, &al);
            ck_assert_msg(rc == (n <= max ? 0 : VG_EPROTO), "%s %u: rc %d",
                          which == 15 ? "tags" : "raw", n, rc);
            if (rc == 0) {
                ck_assert_uint_eq(which == 15 ? al.ntags : al.nraw, n);
                assert_view((which == 15 ? al.tags : al.raw)[n - 1], S("x15"));
            }
            craft_done(&c);
        }
    }

    for (uint32_t n = VG_ALERT_MAX_FIELDS; n <= VG_ALERT_MAX_FIELDS + 1; n++) {
        craft c;
        craft_init(&c);
        craft_alert_upto(&c.pk, 14);
        msgpack_pack_map(&c.pk, n);
        for (uint32_t i = 0; i < n; i++) {
            char k[8];
            snprintf(k, sizeof(k), "k%u", i);
            pk_str(&c.pk, k);
            pk_str(&c.pk, "v");
        }
        pk_val(&c.pk, alert_def(15));
        pk_val(&c.pk, alert_def(16));
        vg_alert al;
        int rc = decode_crafted_alert(&c, &al);
        ck_assert_int_eq(rc, n <= VG_ALERT_MAX_FIELDS ? 0 : VG_EPROTO);
        craft_done(&c);
    }
}
END_TEST

START_TEST(test_reject_batch_shape)
{
    craft c;
    /* control */
    craft_init(&c);
    craft_batch(&c, VG_MSG_EVENTS, 1, 16, -1, NIL);
    vg_msg m;
    ck_assert_int_eq(vg_wire_decode(c.sb.data, c.sb.size, &m), 0);
    ck_assert_uint_eq(m.seq, 1);
    ck_assert_uint_eq(m.count, 2);
    ck_assert_uint_eq(m.events[0].seq, 1);
    ck_assert_uint_eq(m.events[1].seq, 2);
    vg_msg_free(&m);
    craft_done(&c);

    /* first_seq 0 */
    craft_init(&c);
    craft_batch(&c, VG_MSG_EVENTS, 0, 16, -1, NIL);
    expect_eproto(c.sb.data, c.sb.size);
    craft_done(&c);
    craft_init(&c);
    craft_batch(&c, VG_MSG_ALERTS, 0, 17, -1, NIL);
    expect_eproto(c.sb.data, c.sb.size);
    craft_done(&c);

    /* first_seq + count must not pass UINT64_MAX: the last record may be
     * UINT64_MAX - 1, so that "next" is still representable */
    const struct {
        uint64_t first;
        int ok;
    } edge[] = {{UINT64_MAX - 2, 1}, {UINT64_MAX - 1, 0}, {UINT64_MAX, 0}};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        for (int t = VG_MSG_EVENTS; t <= VG_MSG_ALERTS; t++) {
            craft_init(&c);
            craft_batch(&c, (enum vg_msg_type)t, edge[i].first, t == VG_MSG_EVENTS ? 16 : 17, -1,
                        NIL);
            if (edge[i].ok) {
                ck_assert_int_eq(vg_wire_decode(c.sb.data, c.sb.size, &m), 0);
                ck_assert_uint_eq(m.count, 2);
                uint64_t last = t == VG_MSG_EVENTS ? m.events[1].seq : m.alerts[1].seq;
                ck_assert_uint_eq(last, UINT64_MAX - 1);
                vg_msg_free(&m);
            } else {
                expect_eproto(c.sb.data, c.sb.size);
            }
            craft_done(&c);
        }
    }

    /* empty batch; records not an array; wrong element counts; bad first_seq */
    for (int t = VG_MSG_EVENTS; t <= VG_MSG_ALERTS; t++) {
        const val bad_recs[] = {ARR /* [1]: a record that is an int */, MAP0, NIL, STR("")};
        craft_init(&c);
        msgpack_pack_array(&c.pk, 3);
        msgpack_pack_uint8(&c.pk, (uint8_t)t);
        msgpack_pack_uint8(&c.pk, 1);
        msgpack_pack_array(&c.pk, 0);
        expect_eproto(c.sb.data, c.sb.size);
        craft_done(&c);
        for (size_t i = 0; i < sizeof(bad_recs) / sizeof(bad_recs[0]); i++) {
            craft_init(&c);
            msgpack_pack_array(&c.pk, 3);
            msgpack_pack_uint8(&c.pk, (uint8_t)t);
            msgpack_pack_uint8(&c.pk, 1);
            pk_val(&c.pk, bad_recs[i]);
            expect_eproto(c.sb.data, c.sb.size);
            craft_done(&c);
        }
        const val bad_first[] = {I(-1), STR("1"), NIL, FLT};
        for (size_t i = 0; i < sizeof(bad_first) / sizeof(bad_first[0]); i++) {
            craft_init(&c);
            msgpack_pack_array(&c.pk, 3);
            msgpack_pack_uint8(&c.pk, (uint8_t)t);
            pk_val(&c.pk, bad_first[i]);
            msgpack_pack_array(&c.pk, 1);
            if (t == VG_MSG_EVENTS)
                craft_event(&c.pk, 16, -1, NIL);
            else
                craft_alert(&c.pk, 17, -1, NIL);
            expect_eproto(c.sb.data, c.sb.size);
            craft_done(&c);
        }
        for (uint32_t n = 2; n <= 4; n += 2) {
            craft_init(&c);
            msgpack_pack_array(&c.pk, n);
            msgpack_pack_uint8(&c.pk, (uint8_t)t);
            msgpack_pack_uint8(&c.pk, 1);
            if (n == 4) {
                msgpack_pack_array(&c.pk, 1);
                if (t == VG_MSG_EVENTS)
                    craft_event(&c.pk, 16, -1, NIL);
                else
                    craft_alert(&c.pk, 17, -1, NIL);
                msgpack_pack_nil(&c.pk);
            }
            expect_eproto(c.sb.data, c.sb.size);
            craft_done(&c);
        }
    }

    /* records of the other kind */
    craft_init(&c);
    msgpack_pack_array(&c.pk, 3);
    msgpack_pack_uint8(&c.pk, VG_MSG_EVENTS);
    msgpack_pack_uint8(&c.pk, 1);
    msgpack_pack_array(&c.pk, 1);
    craft_alert(&c.pk, 17, -1, NIL);
    expect_eproto(c.sb.data, c.sb.size);
    craft_done(&c);
    craft_init(&c);
    msgpack_pack_array(&c.pk, 3);
    msgpack_pack_uint8(&c.pk, VG_MSG_ALERTS);
    msgpack_pack_uint8(&c.pk, 1);
    msgpack_pack_array(&c.pk, 1);
    craft_event(&c.pk, 16, -1, NIL);
    expect_eproto(c.sb.data, c.sb.size);
    craft_done(&c);
}
END_TEST

START_TEST(test_reject_trailing_bytes)
{
    size_t len;
    char *p = valid_events_payload(&len);
    vg_msg m;
    ck_assert_int_eq(vg_wire_decode(p, len, &m), 0);
    vg_msg_free(&m);
    static const char tails[][2] = {{(char)0xc0}, {0x00}, {(char)0x90}, {0x01}};
    char *q = malloc(len + 2);
    ck_assert_ptr_nonnull(q);
    memcpy(q, p, len);
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        q[len] = tails[i][0];
        expect_eproto(q, len + 1);
    }
    q[len] = (char)0xc0, q[len + 1] = (char)0xc0;
    expect_eproto(q, len + 2);
    free(q);
    free(p);

    /* after a small message */
    expect_eproto("\x92\x04\x01\xc0", 4);
    /* after a single record */
    vg_event ev[3];
    event_fixtures(ev);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_pack_event(&sb, &ev[0]), 0);
    msgpack_sbuffer_write(&sb, "\xc0", 1);
    vg_event one;
    ck_assert_int_eq(vg_wire_decode_event(sb.data, sb.size - 1, &one), 0);
    ck_assert_int_eq(vg_wire_decode_event(sb.data, sb.size, &one), VG_EPROTO);
    msgpack_sbuffer_destroy(&sb);
    vg_alert al[2];
    alert_fixtures(al);
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_pack_alert(&sb, &al[0]), 0);
    msgpack_sbuffer_write(&sb, "\x00", 1);
    vg_alert a1;
    ck_assert_int_eq(vg_wire_decode_alert(sb.data, sb.size - 1, &a1), 0);
    ck_assert_int_eq(vg_wire_decode_alert(sb.data, sb.size, &a1), VG_EPROTO);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_reject_truncated)
{
    size_t len;
    char *p = valid_events_payload(&len);
    ck_assert_uint_gt(len, 300);
    for (size_t n = 0; n < len; n++)
        expect_eproto(p, n);
    free(p);

    /* a single record, truncated, through the record decoder */
    vg_event ev[3];
    event_fixtures(ev);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_pack_event(&sb, &ev[0]), 0);
    for (size_t n = 0; n < sb.size; n++) {
        char *q = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(q);
        memcpy(q, sb.data, n);
        vg_event one;
        ck_assert_int_eq(vg_wire_decode_event(q, n, &one), VG_EPROTO);
        free(q);
    }
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* Container headers that declare far more elements than the payload holds.
 * Each must be refused without trying to allocate for the declared size. */
START_TEST(test_reject_huge_counts)
{
    expect_eproto("\xdd\xff\xff\xff\xff", 5);
    expect_eproto("\xdf\xff\xff\xff\xff", 5);
    expect_eproto("\xdc\xff\xff", 3);
    expect_eproto("\xde\xff\xff", 3);
    /* EVENTS whose record array claims 2^31 records */
    expect_eproto("\x93\x02\x01\xdd\x80\x00\x00\x00", 8);
    /* STATS whose map claims 2^32 - 1 counters */
    expect_eproto("\x93\x05\xa1x\xdf\xff\xff\xff\xff", 9);
    /* nested: each level claims a large count */
    expect_eproto("\xdd\x10\x00\x00\x00\xdd\x10\x00\x00\x00\xdd\x10\x00\x00\x00", 15);
    /* strings and bins declaring more bytes than present */
    expect_eproto("\x92\x04\xdb\xff\xff\xff\xff", 7);
    expect_eproto("\x92\x04\xc6\xff\xff\xff\xff", 7);
}
END_TEST

/* A batch holds at most VG_BATCH_MAX records: a reader refuses one more.
 * Decoded records take up to 110 times their encoded size, so an uncapped
 * count let a 4 MiB frame of minimal alerts cost the receiver 440 MiB. */
START_TEST(test_reject_batch_over_max)
{
    vg_event ev[3];
    event_fixtures(ev);
    msgpack_sbuffer rec;
    msgpack_sbuffer_init(&rec);
    ck_assert_int_eq(vg_wire_pack_event(&rec, &ev[0]), 0);
    for (uint32_t n = VG_BATCH_MAX; n <= VG_BATCH_MAX + 1; n++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        size_t start, off = 0, len;
        ck_assert_int_eq(vg_wire_batch_begin(&sb, VG_MSG_EVENTS, 7, n, &start), 0);
        for (uint32_t i = 0; i < n; i++)
            ck_assert_int_eq(vg_wire_batch_add(&sb, rec.data, rec.size), 0);
        ck_assert_int_eq(vg_wire_batch_end(&sb, start), 0);
        const char *p = next_frame(&sb, &off, &len);
        vg_msg m;
        int rc = vg_wire_decode(p, len, &m);
        if (n == VG_BATCH_MAX) {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(m.count, VG_BATCH_MAX);
            ck_assert_uint_eq(m.events[VG_BATCH_MAX - 1].seq, 7 + VG_BATCH_MAX - 1);
            vg_msg_free(&m);
        } else {
            ck_assert_int_eq(rc, VG_EPROTO);
            ck_assert(msg_is_empty(&m));
        }
        msgpack_sbuffer_destroy(&sb);
    }
    msgpack_sbuffer_destroy(&rec);
}
END_TEST

START_TEST(test_reject_nested_deep)
{
    /* a record nested far deeper than any message */
    char buf[200];
    memset(buf, 0x91, sizeof(buf));
    buf[sizeof(buf) - 1] = 0x01;
    expect_eproto(buf, sizeof(buf));
    vg_event ev;
    ck_assert_int_eq(vg_wire_decode_event(buf, sizeof(buf), &ev), VG_EPROTO);
}
END_TEST

/* ---- mutations --------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Bytes that change the meaning of what follows in msgpack. */
static const unsigned char interesting[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                            0xc0, 0xc1, 0xc2, 0xc4, 0xc6, 0xca, 0xcb, 0xcf, 0xd3,
                                            0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};

/* Applies 1..4 random edits to buf (capacity cap) of *len bytes. */
static void mutate(unsigned char *buf, size_t *len, size_t cap)
{
    int edits = 1 + (int)(rng() % 4);
    for (int e = 0; e < edits; e++) {
        size_t n = *len;
        size_t at = n ? (size_t)(rng() % n) : 0;
        switch (rng() % 7) {
        case 0: /* flip a bit */
            if (n)
                buf[at] ^= (unsigned char)(1u << (rng() % 8));
            break;
        case 1: /* random byte */
            if (n)
                buf[at] = (unsigned char)rng();
            break;
        case 2: /* interesting byte */
        case 3:
            if (n)
                buf[at] = interesting[rng() % sizeof(interesting)];
            break;
        case 4: /* insert a byte */
            if (n < cap) {
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = (rng() & 1) ? (unsigned char)rng() : interesting[rng() % sizeof(interesting)];
                *len = n + 1;
            }
            break;
        case 5: /* delete a byte */
            if (n) {
                memmove(buf + at, buf + at + 1, n - at - 1);
                *len = n - 1;
            }
            break;
        case 6: /* cut the tail */
            *len = at;
            break;
        }
    }
}

/* What a successful decode of arbitrary bytes must still guarantee. */
static void check_decoded(const vg_msg *m, const char *buf, size_t len)
{
    ck_assert(m->type >= VG_MSG_HELLO && m->type <= VG_MSG_STATS);
    assert_inside(m->role, buf, len);
    assert_inside(m->name, buf, len);
    if (m->type == VG_MSG_EVENTS || m->type == VG_MSG_ALERTS) {
        ck_assert_uint_gt(m->count, 0);
        ck_assert_uint_gt(m->seq, 0);
        ck_assert_uint_le(m->seq, UINT64_MAX - m->count);
    }
    if (m->type == VG_MSG_EVENTS) {
        ck_assert_ptr_nonnull(m->events);
        for (uint32_t i = 0; i < m->count; i++) {
            const vg_event *e = &m->events[i];
            ck_assert_uint_eq(e->seq, m->seq + i);
            ck_assert(e->pri >= -1 && e->pri <= 191);
            ck_assert(e->tz_min >= -1440 && e->tz_min <= 1440);
            ck_assert_ptr_nonnull(e->raw.p);
            assert_event_inside(e, buf, len);
        }
    } else if (m->type == VG_MSG_ALERTS) {
        ck_assert_ptr_nonnull(m->alerts);
        for (uint32_t i = 0; i < m->count; i++) {
            const vg_alert *a = &m->alerts[i];
            ck_assert_uint_eq(a->seq, m->seq + i);
            ck_assert(a->level >= 0 && a->level <= 15);
            ck_assert_uint_le(a->nfields, VG_ALERT_MAX_FIELDS);
            ck_assert_uint_le(a->ntags, VG_ALERT_MAX_TAGS);
            ck_assert_uint_le(a->nraw, VG_ALERT_MAX_RAW);
            ck_assert_ptr_nonnull(a->id.p);
            ck_assert_ptr_nonnull(a->kind.p);
            for (uint32_t k = 0; k < a->nraw; k++)
                ck_assert_ptr_nonnull(a->raw[k].p);
            assert_alert_inside(a, buf, len);
        }
    } else if (m->type == VG_MSG_STATS) {
        ck_assert_uint_le(m->nstats, VG_STATS_MAX);
        for (uint32_t i = 0; i < m->nstats; i++)
            ck_assert_ptr_nonnull(m->stats[i].name);
    }
}

START_TEST(test_mutations)
{
    /* the corpus: one valid payload of each type, and the records alone */
    msgpack_sbuffer frames, recs;
    msgpack_sbuffer_init(&frames);
    msgpack_sbuffer_init(&recs);
    vg_event ev[3];
    event_fixtures(ev);
    vg_alert al[2];
    alert_fixtures(al);
    size_t eoffs[3], elens[3], aoffs[2], alens[2];
    pack_events(&recs, ev, 3, eoffs, elens);
    for (int i = 0; i < 2; i++) {
        aoffs[i] = recs.size;
        ck_assert_int_eq(vg_wire_pack_alert(&recs, &al[i]), 0);
        alens[i] = recs.size - aoffs[i];
    }
    const vg_stat st[] = {{"received", 12}, {"dropped", 0}, {"bytes", UINT64_MAX}};
    ck_assert_int_eq(vg_wire_frame_hello(&frames, "correlator", "cor-1", 77, 3), 0);
    ck_assert_int_eq(vg_wire_frame_ack(&frames, 1234567), 0);
    ck_assert_int_eq(vg_wire_frame_stats(&frames, "collector", st, 3), 0);
    build_batch(&frames, VG_MSG_EVENTS, 5, &recs, eoffs, elens, 3);
    build_batch(&frames, VG_MSG_ALERTS, 9, &recs, aoffs, alens, 2);

    const char *seed[5];
    size_t seedlen[5], off = 0;
    for (int i = 0; i < 5; i++)
        seed[i] = next_frame(&frames, &off, &seedlen[i]);
    ck_assert_uint_eq(off, frames.size);

    rng_state = 0x9e3779b97f4a7c15ull;
    int decoded = 0, refused = 0;
    unsigned char work[4096];
    for (int iter = 0; iter < 6000; iter++) {
        int which = iter % 7; /* 0..4 frames, 5 event record, 6 alert record */
        const char *src;
        size_t len;
        if (which < 5) {
            src = seed[which];
            len = seedlen[which];
        } else if (which == 5) {
            int k = (int)(rng() % 3);
            src = recs.data + eoffs[k];
            len = elens[k];
        } else {
            int k = (int)(rng() % 2);
            src = recs.data + aoffs[k];
            len = alens[k];
        }
        ck_assert_uint_lt(len, sizeof(work));
        memcpy(work, src, len);
        mutate(work, &len, sizeof(work));

        /* exactly len bytes on the heap, so ASan catches any over-read */
        char *buf = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(buf);
        memcpy(buf, work, len);
        int rc;
        if (which < 5) {
            vg_msg m;
            rc = vg_wire_decode(buf, len, &m);
            if (rc == 0) {
                check_decoded(&m, buf, len);
                vg_msg_free(&m);
            } else {
                ck_assert(msg_is_empty(&m));
                vg_msg_free(&m);
            }
        } else if (which == 5) {
            vg_event e;
            rc = vg_wire_decode_event(buf, len, &e);
            if (rc == 0) {
                ck_assert_ptr_nonnull(e.raw.p);
                assert_event_inside(&e, buf, len);
            }
        } else {
            vg_alert a;
            rc = vg_wire_decode_alert(buf, len, &a);
            if (rc == 0) {
                ck_assert_uint_le(a.ntags, VG_ALERT_MAX_TAGS);
                ck_assert_uint_le(a.nraw, VG_ALERT_MAX_RAW);
                for (uint32_t k = 0; k < a.nraw; k++)
                    ck_assert_ptr_nonnull(a.raw[k].p);
                assert_alert_inside(&a, buf, len);
            }
        }
        ck_assert_msg(rc == 0 || rc == VG_EPROTO, "iteration %d: rc %d", iter, rc);
        if (rc == 0)
            decoded++;
        else
            refused++;
        free(buf);
    }
    /* the loop exercised both outcomes */
    ck_assert_int_gt(decoded, 100);
    ck_assert_int_gt(refused, 1000);
    msgpack_sbuffer_destroy(&frames);
    msgpack_sbuffer_destroy(&recs);
}
END_TEST

/* ---- the direct EVENTS decoder ------------------------------------------ */

static int same_view(vg_str a, vg_str b)
{
    return (a.p == NULL) == (b.p == NULL) && a.len == b.len && (!a.len || a.p == b.p);
}

/* The direct decoder against the msgpack-c one on the same bytes: it takes
 * a frame exactly when the full decoder gives an EVENTS message, and then
 * gives the same message, view for view. (Plain comparisons, one assertion:
 * check writes down every assertion that passes, which made this loop's
 * 300,000 decodes take a minute.) */
static int direct_vs_tree(const char *buf, size_t len)
{
    vg_msg d, t;
    memset(&d, 0xa5, sizeof(d)); /* untouched when not taken */
    int rd = vg_wire_decode_events_direct(buf, len, &d);
    int rt = vg_wire_decode_tree(buf, len, &t);
    int tree_events = rt == 0 && t.type == VG_MSG_EVENTS;
    int same = (rd == 0) == tree_events;
    if (same && rd == 0) {
        same = d.type == VG_MSG_EVENTS && d.seq == t.seq && d.count == t.count && !d.alerts &&
               d.nstats == 0;
        for (uint32_t i = 0; same && i < d.count; i++) {
            const vg_event *a = &d.events[i], *b = &t.events[i];
            same = a->seq == b->seq && a->recv_us == b->recv_us && a->ts_us == b->ts_us &&
                   a->tz_min == b->tz_min && a->pri == b->pri && a->flags == b->flags &&
                   same_view(a->host, b->host) && same_view(a->app, b->app) &&
                   same_view(a->procid, b->procid) && same_view(a->msgid, b->msgid) &&
                   same_view(a->sd, b->sd) && same_view(a->msg, b->msg) &&
                   same_view(a->raw, b->raw) && same_view(a->src, b->src) &&
                   same_view(a->agency, b->agency) && same_view(a->site, b->site) &&
                   same_view(a->reason, b->reason);
        }
    }
    if (!same) {
        char hex[3 * 64 + 1] = "";
        for (size_t i = 0; i < len && i < 64; i++)
            snprintf(hex + 3 * i, 4, "%02x ", (unsigned char)buf[i]);
        ck_abort_msg("direct decoder %s (rc %d), full decoder rc %d type %d; %zu bytes: %s...",
                     rd == 0 ? "took it" : "left it", rd, rt, rt == 0 ? (int)t.type : 0, len,
                     hex);
    }
    if (rd == 0)
        vg_msg_free(&d);
    if (rt == 0)
        vg_msg_free(&t);
    return rd == 0;
}

/* An event record in the widest encodings msgpack allows (array 32, int 64,
 * int 16 negative, str 8/16/32, bin 16/32), as another encoder may write it. */
static const unsigned char wide_event[] = {
    0xdd, 0, 0, 0, 16,                         /* array 32 of 16 */
    0xd3, 0, 0, 0, 0, 0, 0, 0x03, 0xe8,        /* recv_us: int 64, 1000 */
    0xcf, 0, 0, 0, 0, 0, 0, 0x07, 0xd0,        /* ts_us: uint 64, 2000 */
    0xd1, 0xff, 0x88,                          /* tz_min: int 16, -120 */
    0xd0, 0x0d,                                /* pri: int 8, 13 */
    0xcd, 0x00, 0x01,                          /* flags: uint 16, 1 */
    0xd9, 1, 'h',                              /* host: str 8 */
    0xda, 0, 3, 'a', 'p', 'p',                 /* app: str 16 */
    0xdb, 0, 0, 0, 0,                          /* procid: str 32, empty */
    0xc0,                                      /* msgid: nil */
    0xa0,                                      /* sd: fixstr, empty */
    0xc6, 0, 0, 0, 2, 'm', 'm',                /* msg: bin 32 */
    0xc5, 0, 2, 'r', 'r',                      /* raw: bin 16 */
    0xa4, 'u', 'n', 'i', 'x',                  /* src */
    0xc0, 0xc0,                                /* agency, site: nil */
    0xd2, 0xff, 0xff, 0xff, 0xff,              /* reason: int 32, refused (the test puts nil here) */
};

START_TEST(test_events_direct_same)
{
    /* seed 1: vg_wire_pack_event's records in a vg_wire_batch frame */
    msgpack_sbuffer frames, recs;
    msgpack_sbuffer_init(&frames);
    msgpack_sbuffer_init(&recs);
    vg_event ev[3];
    event_fixtures(ev);
    size_t eoffs[3], elens[3];
    pack_events(&recs, ev, 3, eoffs, elens);
    build_batch(&frames, VG_MSG_EVENTS, 5, &recs, eoffs, elens, 3);
    size_t off = 0, len1;
    const char *seed1 = next_frame(&frames, &off, &len1);
    ck_assert(direct_vs_tree(seed1, len1));

    /* seed 2: the outer arrays as array 16/32, the type as uint 8, the
     * first seq as int 32, and the wide record before a packed one */
    unsigned char seed2[512];
    size_t len2 = 0;
    const unsigned char head[] = {0xdc, 0, 3, 0xcc, 2, 0xd2, 0, 0, 0, 7, 0xdd, 0, 0, 0, 2};
    memcpy(seed2, head, sizeof(head));
    len2 = sizeof(head);
    memcpy(seed2 + len2, wide_event, sizeof(wide_event) - 5);
    len2 += sizeof(wide_event) - 5;
    seed2[len2++] = 0xc0; /* reason: nil */
    memcpy(seed2 + len2, recs.data + eoffs[0], elens[0]);
    len2 += elens[0];
    ck_assert(direct_vs_tree((const char *)seed2, len2));
    vg_msg m;
    ck_assert_int_eq(vg_wire_decode_events_direct((const char *)seed2, len2, &m), 0);
    ck_assert_uint_eq(m.count, 2);
    ck_assert_uint_eq(m.seq, 7);
    ck_assert_int_eq(m.events[0].recv_us, 1000);
    ck_assert_int_eq(m.events[0].ts_us, 2000);
    ck_assert_int_eq(m.events[0].tz_min, -120);
    ck_assert_int_eq(m.events[0].pri, 13);
    ck_assert_uint_eq(m.events[0].flags, 1);
    ck_assert(vg_str_eq(m.events[0].app, "app"));
    ck_assert(m.events[0].procid.p && m.events[0].procid.len == 0);
    ck_assert_ptr_null(m.events[0].msgid.p);
    ck_assert(m.events[0].raw.len == 2 && memcmp(m.events[0].raw.p, "rr", 2) == 0);
    ck_assert_uint_eq(m.events[1].seq, 8);
    vg_msg_free(&m);
    /* an int where a str belongs: left to the full decoder, which refuses it */
    memcpy(seed2 + sizeof(head), wide_event, sizeof(wide_event));
    len2 = sizeof(head) + sizeof(wide_event);
    memcpy(seed2 + len2, recs.data + eoffs[0], elens[0]);
    len2 += elens[0];
    ck_assert(!direct_vs_tree((const char *)seed2, len2));
    memset(&m, 0, sizeof(m));
    ck_assert_int_eq(vg_wire_decode((const char *)seed2, len2, &m), VG_EPROTO);
    seed2[sizeof(head) + sizeof(wide_event) - 5] = 0xc0; /* back to nil */
    len2 = sizeof(head) + sizeof(wide_event) - 4 + elens[0];
    memmove(seed2 + sizeof(head) + sizeof(wide_event) - 4,
            seed2 + sizeof(head) + sizeof(wide_event), elens[0]);
    ck_assert(direct_vs_tree((const char *)seed2, len2));

    /* every byte of both seeds replaced by every value */
    int taken = 0, left = 0;
    unsigned char work[4096];
    for (int which = 0; which < 2; which++) {
        const char *src = which ? (const char *)seed2 : seed1;
        size_t len = which ? len2 : len1;
        char *buf = malloc(len); /* exactly len bytes: ASan sees an over-read */
        ck_assert_ptr_nonnull(buf);
        for (size_t at = 0; at < len; at++)
            for (int v = 0; v < 256; v++) {
                memcpy(buf, src, len);
                buf[at] = (char)v;
                if (direct_vs_tree(buf, len))
                    taken++;
                else
                    left++;
            }
        free(buf);
    }
    ck_assert_int_gt(taken, 10000);
    ck_assert_int_gt(left, 10000);

    /* and random edits, inserts and cuts */
    rng_state = 0x2545f4914f6cdd1dull;
    taken = left = 0;
    for (int iter = 0; iter < 10000; iter++) {
        const char *src = iter % 2 ? (const char *)seed2 : seed1;
        size_t len = iter % 2 ? len2 : len1;
        memcpy(work, src, len);
        mutate(work, &len, sizeof(work));
        char *buf = malloc(len ? len : 1); /* exactly len bytes: ASan sees an over-read */
        ck_assert_ptr_nonnull(buf);
        memcpy(buf, work, len);
        if (direct_vs_tree(buf, len))
            taken++;
        else
            left++;
        free(buf);
    }
    ck_assert_int_gt(taken, 500);
    ck_assert_int_gt(left, 2500);
    msgpack_sbuffer_destroy(&frames);
    msgpack_sbuffer_destroy(&recs);
}
END_TEST

/* ---- sender batching --------------------------------------------------- */

static char basedir[128]; /* per run, made and removed by the runner (vt_tmp.h) */

static void base_setup(void)
{
    vt_tmp_base(basedir, sizeof(basedir), "wire");
}

static void base_teardown(void)
{
    vt_rm_tree(basedir);
}

enum { BIG_N = 600, BIG_MSG = 65536 };

typedef struct big_rx {
    uint64_t next;   /* seq expected next */
    uint32_t counts[BIG_N];
    uint32_t batches;
    int bad;         /* first wrong record, as seq; 0: none */
} big_rx;

/* Takes records in order and checks that each is the one sent as its seq. */
static int big_on_batch(void *ud, vg_rstream *st, const vg_msg *m, uint32_t skip)
{
    big_rx *rx = ud;
    (void)st;
    char want[16];
    for (uint32_t i = skip; i < m->count; i++) {
        const vg_event *e = &m->events[i];
        snprintf(want, sizeof(want), "seq=%05llu", (unsigned long long)e->seq);
        if (!rx->bad && (e->seq != rx->next || e->msg.len != BIG_MSG || e->raw.len != BIG_MSG ||
                         memcmp(e->msg.p, want, strlen(want)) != 0))
            rx->bad = (int)e->seq;
        rx->next++;
    }
    if (rx->batches < BIG_N)
        rx->counts[rx->batches] = m->count - skip;
    rx->batches++;
    return 0;
}

static void big_tick(uv_timer_t *t)
{
    (void)t; /* only wakes uv_run(UV_RUN_ONCE) to look at the clock */
}

/* A real sender (queue q of store up) and receiver (store down) on one
 * loop, over the Unix socket sock, with a 20 ms tick (big_tick). */
typedef struct hop {
    uv_loop_t loop;
    vg_receiver_cfg rc;
    vg_receiver *r;
    vg_sender *s;
    uv_timer_t tick;
} hop;

/* hop_start with the sender's window (0: its default) and the highest
 * protocol the receiver takes (0: VG_PROTO_VERSION). */
static void hop_start_proto(hop *h, const char *sock, vg_store *up, vg_queue *q, vg_store *down,
                            int (*on_batch)(void *, vg_rstream *, const vg_msg *, uint32_t),
                            void *ud, uint32_t window, uint32_t proto_max)
{
    ck_assert_int_eq(uv_loop_init(&h->loop), 0);
    h->rc = (vg_receiver_cfg){.path = sock, .allow_uid = getuid(), .role = "correlator",
                              .name = "cor", .type = VG_MSG_EVENTS, .store = down,
                              .on_batch = on_batch, .ud = ud, .proto_max = proto_max};
    ck_assert_int_eq(vg_receiver_start(&h->loop, &h->rc, &h->r), 0);
    vg_sender_cfg sc = {.path = sock, .allow_uid = getuid(), .role = "collector", .name = "c1",
                        .type = VG_MSG_EVENTS, .store = up, .queue = q, .window = window};
    ck_assert_int_eq(vg_sender_start(&h->loop, &sc, &h->s), 0);
    uv_timer_init(&h->loop, &h->tick);
    uv_timer_start(&h->tick, big_tick, 20, 20);
}

static void hop_start_window(hop *h, const char *sock, vg_store *up, vg_queue *q, vg_store *down,
                             int (*on_batch)(void *, vg_rstream *, const vg_msg *, uint32_t),
                             void *ud, uint32_t window)
{
    hop_start_proto(h, sock, up, q, down, on_batch, ud, window, 0);
}

static void hop_start(hop *h, const char *sock, vg_store *up, vg_queue *q, vg_store *down,
                      int (*on_batch)(void *, vg_rstream *, const vg_msg *, uint32_t), void *ud)
{
    hop_start_window(h, sock, up, q, down, on_batch, ud, 0);
}

static void hop_stop(hop *h)
{
    vg_sender_stop(h->s);
    vg_receiver_stop(h->r);
    uv_close((uv_handle_t *)&h->tick, NULL);
    uint64_t deadline = uv_hrtime() + 5000000000ull;
    while (uv_run(&h->loop, UV_RUN_NOWAIT) && uv_hrtime() < deadline)
        ;
    ck_assert_int_eq(uv_loop_close(&h->loop), 0);
}

/* 600 events of two 64 KiB messages each (a collector with
 * max_message_size: 64K): 512 of them are over VG_FRAME_MAX, so batches
 * must stop at VG_BATCH_BYTES. Every record arrives once, in order, in
 * exactly the batches the budget allows, over one connection. */
START_TEST(test_sender_batch_byte_budget)
{
    char dir[256], up_dir[300], down_dir[300], sock[300];
    ck_assert_ptr_nonnull(vt_tmp_sub(dir, sizeof(dir), basedir));
    snprintf(up_dir, sizeof(up_dir), "%s/up", dir);
    snprintf(down_dir, sizeof(down_dir), "%s/down", dir);
    snprintf(sock, sizeof(sock), "%s/down.sock", dir);

    vg_store *up, *down;
    vg_queue *q;
    ck_assert_int_eq(vg_store_open(&up, up_dir, 256), 0);
    ck_assert_int_eq(vg_store_open(&down, down_dir, 16), 0);
    ck_assert_int_eq(vg_queue_open(up, "spool", &q), 0);
    char *msg = malloc(BIG_MSG), *raw = malloc(BIG_MSG);
    ck_assert(msg && raw);
    memset(msg, 'm', BIG_MSG);
    memset(raw, 'r', BIG_MSG);
    msgpack_sbuffer rec;
    msgpack_sbuffer_init(&rec);
    size_t rec_len = 0;
    ck_assert_int_eq(vg_store_begin(up), 0);
    for (int i = 1; i <= BIG_N; i++) {
        char head[16];
        int hn = snprintf(head, sizeof(head), "seq=%05d", i);
        memcpy(msg, head, (size_t)hn);
        vg_event ev = {.recv_us = 1, .ts_us = 1, .pri = 13, .host = S("h"), .app = S("app"),
                       .msg = B(msg, BIG_MSG), .raw = B(raw, BIG_MSG), .src = S("127.0.0.1"),
                       .agency = S("unknown"), .site = S("unknown")};
        msgpack_sbuffer_clear(&rec);
        ck_assert_int_eq(vg_wire_pack_event(&rec, &ev), 0);
        ck_assert(rec_len == 0 || rec.size == rec_len); /* all records the same size */
        rec_len = rec.size;
        uint64_t seq;
        ck_assert_int_eq(vg_queue_append(q, rec.data, rec.size, &seq), 0);
        ck_assert_uint_eq(seq, (uint64_t)i);
    }
    ck_assert_int_eq(vg_store_commit(up), 0);
    msgpack_sbuffer_destroy(&rec);
    free(msg);
    free(raw);
    ck_assert_uint_gt(512 * rec_len, VG_FRAME_MAX); /* the old 512-record batch did not fit */

    big_rx rx = {.next = 1};
    hop h;
    hop_start(&h, sock, up, q, down, big_on_batch, &rx);
    const vg_sender_stats *ss = vg_sender_get_stats(h.s);
    uint64_t deadline = uv_hrtime() + 20000000000ull; /* 20 s; a fixed run takes well under 1 s */
    while (ss->last_acked < BIG_N && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);

    /* Per batch: as many records as fit in VG_BATCH_BYTES (then the rest). */
    uint32_t per = (uint32_t)(VG_BATCH_BYTES / rec_len);
    uint32_t want_batches = (BIG_N + per - 1) / per;
    ck_assert_uint_eq(per, 63);
    ck_assert_uint_eq(ss->last_acked, BIG_N);
    ck_assert_uint_eq(ss->sent, BIG_N);
    ck_assert_uint_eq(ss->acked, BIG_N);
    ck_assert_uint_eq(ss->resent, 0);
    ck_assert_uint_eq(ss->reconnects, 1);
    ck_assert_uint_eq(ss->batches, want_batches);
    const vg_receiver_stats *rs = vg_receiver_get_stats(h.r);
    ck_assert_uint_eq(rs->records, BIG_N);
    ck_assert_uint_eq(rs->duplicates, 0);
    ck_assert_uint_eq(rs->batches, want_batches);
    ck_assert_uint_eq(vg_receiver_link_stats(h.r)->bad_frames, 0);
    ck_assert_int_eq(rx.bad, 0);
    ck_assert_uint_eq(rx.next, BIG_N + 1);
    ck_assert_uint_eq(rx.batches, want_batches);
    for (uint32_t i = 0; i < want_batches; i++)
        ck_assert_uint_eq(rx.counts[i], i + 1 < want_batches ? per : BIG_N - per * i);

    hop_stop(&h);
    vg_store_close(up);
    vg_store_close(down);
}
END_TEST

enum { BACKLOG_N = 5000 };

typedef struct backlog_rx {
    uint64_t next; /* seq expected next */
    uint32_t counts[8];
    uint32_t batches;
    int bad; /* first record out of order, as seq; 0: none */
} backlog_rx;

static int backlog_on_batch(void *ud, vg_rstream *st, const vg_msg *m, uint32_t skip)
{
    backlog_rx *rx = ud;
    (void)st;
    for (uint32_t i = skip; i < m->count; i++) {
        if (!rx->bad && m->events[i].seq != rx->next)
            rx->bad = (int)m->events[i].seq;
        rx->next++;
    }
    if (rx->batches < 8)
        rx->counts[rx->batches] = m->count - skip;
    rx->batches++;
    return 0;
}

/* A temporary directory with an upstream store whose queue holds
 * BACKLOG_N small events (committed, none sent), an empty downstream
 * store, and the path of the socket between them in sock (300 bytes). */
static void backlog_setup(char *sock, vg_store **up, vg_store **down, vg_queue **q)
{
    char dir[256], up_dir[300], down_dir[300];
    ck_assert_ptr_nonnull(vt_tmp_sub(dir, sizeof(dir), basedir));
    snprintf(up_dir, sizeof(up_dir), "%s/up", dir);
    snprintf(down_dir, sizeof(down_dir), "%s/down", dir);
    snprintf(sock, 300, "%s/down.sock", dir);
    ck_assert_int_eq(vg_store_open(up, up_dir, 64), 0);
    ck_assert_int_eq(vg_store_open(down, down_dir, 16), 0);
    ck_assert_int_eq(vg_queue_open(*up, "spool", q), 0);
    msgpack_sbuffer rec;
    msgpack_sbuffer_init(&rec);
    ck_assert_int_eq(vg_store_begin(*up), 0);
    for (int i = 1; i <= BACKLOG_N; i++) {
        vg_event ev = {.recv_us = 1, .ts_us = 1, .pri = 13, .host = S("h"), .app = S("app"),
                       .msg = B("m", 1), .raw = B("r", 1), .src = S("127.0.0.1"),
                       .agency = S("unknown"), .site = S("unknown")};
        msgpack_sbuffer_clear(&rec);
        ck_assert_int_eq(vg_wire_pack_event(&rec, &ev), 0);
        uint64_t seq;
        ck_assert_int_eq(vg_queue_append(*q, rec.data, rec.size, &seq), 0);
    }
    ck_assert_int_eq(vg_store_commit(*up), 0);
    msgpack_sbuffer_destroy(&rec);
}

/* A backlog (5,000 small events queued before the link is up) goes in
 * batches of VG_BATCH_MAX, 4,096 records (then the rest): one commit
 * downstream for each, where batches of 512 made ten commits, ten
 * fdatasyncs, for the same records (bench/README.md, session 30). */
START_TEST(test_sender_backlog_batches)
{
    char sock[300];
    vg_store *up, *down;
    vg_queue *q;
    backlog_setup(sock, &up, &down, &q);

    backlog_rx rx = {.next = 1};
    hop h;
    hop_start(&h, sock, up, q, down, backlog_on_batch, &rx);
    const vg_sender_stats *ss = vg_sender_get_stats(h.s);
    uint64_t deadline = uv_hrtime() + 20000000000ull;
    while (ss->last_acked < BACKLOG_N && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    ck_assert_uint_eq(ss->last_acked, BACKLOG_N);
    ck_assert_uint_eq(ss->sent, BACKLOG_N);
    ck_assert_uint_eq(ss->batches, 2);
    const vg_receiver_stats *rs = vg_receiver_get_stats(h.r);
    ck_assert_uint_eq(rs->records, BACKLOG_N);
    ck_assert_uint_eq(rs->batches, 2);
    ck_assert_int_eq(rx.bad, 0);
    ck_assert_uint_eq(rx.next, BACKLOG_N + 1);
    ck_assert_uint_eq(rx.batches, 2);
    ck_assert_uint_eq(rx.counts[0], 4096);
    ck_assert_uint_eq(rx.counts[1], BACKLOG_N - 4096);
    hop_stop(&h);
    vg_store_close(up);
    vg_store_close(down);
}
END_TEST

/* A downstream older than the sender (here a receiver that takes
 * protocol 2 at most, as a version-2 correlator does) closes the link at
 * the sender's HELLO in 3. The sender says HELLO in 2 on the next link
 * and sends batches of at most 512 records, which such a downstream takes:
 * the 5,000 events arrive, in order, in ten batches. Against protocol 1
 * (a version-1 downstream) the events step down once more; an alert
 * sender stops at 2 (an alert of version 2 may carry cut marks). */
static void older_downstream(uint32_t proto_max, uint32_t want_version)
{
    char sock[300];
    vg_store *up, *down;
    vg_queue *q;
    backlog_setup(sock, &up, &down, &q);

    backlog_rx rx = {.next = 1};
    hop h;
    hop_start_proto(&h, sock, up, q, down, backlog_on_batch, &rx, 0, proto_max);
    const vg_sender_stats *ss = vg_sender_get_stats(h.s);
    uint64_t deadline = uv_hrtime() + 30000000000ull;
    while (ss->last_acked < BACKLOG_N && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    ck_assert_uint_eq(ss->last_acked, BACKLOG_N);
    ck_assert_uint_eq(ss->version, want_version);
    ck_assert_uint_eq(ss->reconnects, 1); /* answered HELLOs */
    ck_assert_uint_eq(ss->batches, 10);
    ck_assert_int_eq(rx.bad, 0);
    ck_assert_uint_eq(rx.next, BACKLOG_N + 1);
    ck_assert_uint_eq(rx.batches, 10);
    ck_assert_uint_eq(rx.counts[0], VG_BATCH_MAX_V2);
    ck_assert_uint_eq(rx.counts[7], VG_BATCH_MAX_V2);
    hop_stop(&h);
    vg_store_close(up);
    vg_store_close(down);
}

START_TEST(test_sender_steps_down_to_older_downstream)
{
    older_downstream(2, 2);
    older_downstream(1, 1);
}
END_TEST

/* A downstream that cannot commit a batch of more than 1,000 records (a
 * store whose room is smaller than the batch: a shipper's small outbox
 * under a backlog of 4,096 alerts) refuses every such batch. The sender
 * halves its batches while links are lost with nothing acknowledged, so
 * the 5,000 events get through, in order; before, it sent the same 4,096
 * again for ever. */
static int small_room_on_batch(void *ud, vg_rstream *st, const vg_msg *m, uint32_t skip)
{
    if (m->count - skip > 1000)
        return -ENOSPC;
    return backlog_on_batch(ud, st, m, skip);
}

START_TEST(test_sender_halves_refused_batches)
{
    char sock[300];
    vg_store *up, *down;
    vg_queue *q;
    backlog_setup(sock, &up, &down, &q);
    backlog_rx rx = {.next = 1};
    hop h;
    hop_start_proto(&h, sock, up, q, down, small_room_on_batch, &rx, 0, 0);
    const vg_sender_stats *ss = vg_sender_get_stats(h.s);
    uint64_t deadline = uv_hrtime() + 40000000000ull;
    while (ss->last_acked < BACKLOG_N && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    ck_assert_uint_eq(ss->last_acked, BACKLOG_N);
    ck_assert_int_eq(rx.bad, 0);
    ck_assert_uint_eq(rx.next, BACKLOG_N + 1);
    ck_assert_uint_le(rx.counts[0], 1000);
    hop_stop(&h);
    vg_store_close(up);
    vg_store_close(down);
}
END_TEST

typedef struct lost_rx {
    uint64_t first, last; /* seqs seen (0: none) */
    uint32_t records;
} lost_rx;

static int lost_on_batch(void *ud, vg_rstream *st, const vg_msg *m, uint32_t skip)
{
    lost_rx *rx = ud;
    (void)st;
    for (uint32_t i = skip; i < m->count; i++) {
        if (!rx->first)
            rx->first = m->events[i].seq;
        rx->last = m->events[i].seq;
        rx->records++;
    }
    return 0;
}

static void lost_append(vg_store *st, vg_queue *q, int from, int to)
{
    msgpack_sbuffer rec;
    msgpack_sbuffer_init(&rec);
    ck_assert_int_eq(vg_store_begin(st), 0);
    for (int i = from; i <= to; i++) {
        vg_event ev = {.recv_us = 1, .ts_us = 1, .pri = 13, .host = S("h"), .app = S("app"),
                       .msg = S("x"), .raw = S("x"), .src = S("127.0.0.1"),
                       .agency = S("unknown"), .site = S("unknown")};
        msgpack_sbuffer_clear(&rec);
        ck_assert_int_eq(vg_wire_pack_event(&rec, &ev), 0);
        uint64_t seq;
        ck_assert_int_eq(vg_queue_append(q, rec.data, rec.size, &seq), 0);
        ck_assert_uint_eq(seq, (uint64_t)i);
    }
    ck_assert_int_eq(vg_store_commit(st), 0);
    msgpack_sbuffer_destroy(&rec);
}

/* The window bounds what is sent and not acknowledged: a downstream that
 * reads nothing gets exactly window records. The window was checked only
 * before each batch, which could then add up to 511 more. */
START_TEST(test_sender_window_is_a_bound)
{
    char dir[256], up_dir[300], down_dir[300], sock[300];
    ck_assert_ptr_nonnull(vt_tmp_sub(dir, sizeof(dir), basedir));
    snprintf(up_dir, sizeof(up_dir), "%s/up", dir);
    snprintf(down_dir, sizeof(down_dir), "%s/down", dir);
    snprintf(sock, sizeof(sock), "%s/down.sock", dir);
    vg_store *up, *down;
    vg_queue *q;
    ck_assert_int_eq(vg_store_open(&up, up_dir, 16), 0);
    ck_assert_int_eq(vg_store_open(&down, down_dir, 16), 0);
    ck_assert_int_eq(vg_queue_open(up, "spool", &q), 0);
    lost_append(up, q, 1, 1000);
    lost_rx rx = {0};
    hop h;
    hop_start_window(&h, sock, up, q, down, lost_on_batch, &rx, 700);
    const vg_sender_stats *ss = vg_sender_get_stats(h.s);
    /* the HELLO first, then the downstream stops reading */
    uint64_t deadline = uv_hrtime() + 10000000000ull;
    while (!ss->connected && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    ck_assert(ss->connected);
    vg_receiver_pause(h.r, 1);
    deadline = uv_hrtime() + 500000000ull; /* half a second of sending */
    while (uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_NOWAIT);
    ck_assert_uint_le(ss->sent, 700);
    ck_assert_uint_ge(ss->sent, 512); /* it did send */
    vg_receiver_pause(h.r, 0);
    deadline = uv_hrtime() + 20000000000ull;
    while (ss->last_acked < 1000 && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    ck_assert_uint_eq(ss->last_acked, 1000);
    ck_assert_uint_eq(rx.records, 1000);
    hop_stop(&h);
    vg_store_close(up);
    vg_store_close(down);
}
END_TEST

/* The downstream acknowledged 1..100 and the upstream trimmed them; then
 * the downstream's state is lost (a new, empty store) while 101..150 wait.
 * The sender used to compute its window from the old acknowledgement
 * (next - acked - 1 wrapped around) and sent nothing, saying nothing; the
 * receiver refused a stream that does not start at 1. Now the sender says
 * what is lost and sends what it holds, and the receiver, knowing nothing of
 * the stream, takes it from there. */
START_TEST(test_sender_downstream_lost_state)
{
    char dir[256], up_dir[300], a_dir[300], b_dir[300], sock[300];
    ck_assert_ptr_nonnull(vt_tmp_sub(dir, sizeof(dir), basedir));
    snprintf(up_dir, sizeof(up_dir), "%s/up", dir);
    snprintf(a_dir, sizeof(a_dir), "%s/a", dir);
    snprintf(b_dir, sizeof(b_dir), "%s/b", dir);
    snprintf(sock, sizeof(sock), "%s/down.sock", dir);
    vg_store *up, *a, *b;
    vg_queue *q;
    ck_assert_int_eq(vg_store_open(&up, up_dir, 16), 0);
    ck_assert_int_eq(vg_store_open(&a, a_dir, 16), 0);
    ck_assert_int_eq(vg_store_open(&b, b_dir, 16), 0);
    ck_assert_int_eq(vg_queue_open(up, "spool", &q), 0);
    lost_append(up, q, 1, 100);

    lost_rx rxa = {0}, rxb = {0};
    hop h;
    hop_start(&h, sock, up, q, a, lost_on_batch, &rxa);
    const vg_sender_stats *ss = vg_sender_get_stats(h.s);
    uint64_t deadline = uv_hrtime() + 20000000000ull;
    while ((ss->last_acked < 100 || vg_queue_count(q) > 0) && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    ck_assert_uint_eq(ss->last_acked, 100);
    ck_assert_uint_eq(vg_queue_count(q), 0); /* trimmed */
    ck_assert_uint_eq(rxa.records, 100);

    /* the downstream comes back with an empty state; 50 more wait */
    vg_receiver_stop(h.r);
    lost_append(up, q, 101, 150);
    h.rc.store = b;
    h.rc.ud = &rxb;
    ck_assert_int_eq(vg_receiver_start(&h.loop, &h.rc, &h.r), 0);
    deadline = uv_hrtime() + 20000000000ull;
    while (ss->last_acked < 150 && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    ck_assert_uint_eq(ss->last_acked, 150);
    ck_assert_uint_eq(rxb.records, 50);
    ck_assert_uint_eq(rxb.first, 101);
    ck_assert_uint_eq(rxb.last, 150);
    ck_assert_uint_eq(vg_receiver_get_stats(h.r)->records, 50);

    /* the downstream comes back restored from an older copy: it has the
     * stream up to 120 only, while the upstream trimmed up to 150 and
     * holds 151..200. Before, the receiver refused a batch starting past
     * 121 unless it knew nothing of the stream, and the hop stalled for
     * good; now it takes what there is from 151. */
    vg_receiver_stop(h.r);
    ck_assert_int_eq(vg_store_begin(b), 0);
    ck_assert_int_eq(vg_meta_put_u64(b, "stream.c1.last", 120), 0);
    ck_assert_int_eq(vg_store_commit(b), 0);
    lost_append(up, q, 151, 200);
    lost_rx rxc = {0};
    h.rc.ud = &rxc;
    ck_assert_int_eq(vg_receiver_start(&h.loop, &h.rc, &h.r), 0);
    deadline = uv_hrtime() + 20000000000ull;
    while (ss->last_acked < 200 && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    ck_assert_uint_eq(ss->last_acked, 200);
    ck_assert_uint_eq(rxc.records, 50);
    ck_assert_uint_eq(rxc.first, 151);
    ck_assert_uint_eq(rxc.last, 200);

    hop_stop(&h);
    vg_store_close(up);
    vg_store_close(a);
    vg_store_close(b);
}
END_TEST

/* A restarted sender (a collector killed after the correlator committed
 * 1..100 and before it trimmed them): its queue holds 1..150, and the
 * HELLO reply says the downstream has up to 100. Those were sent by the
 * earlier process: this one's acked counts only what it sent itself,
 * 101..150. It counted all 150, 100 more than it sent. */
START_TEST(test_sender_restart_counts_own_acks)
{
    char dir[256], up_dir[300], down_dir[300], sock[300];
    ck_assert_ptr_nonnull(vt_tmp_sub(dir, sizeof(dir), basedir));
    snprintf(up_dir, sizeof(up_dir), "%s/up", dir);
    snprintf(down_dir, sizeof(down_dir), "%s/down", dir);
    snprintf(sock, sizeof(sock), "%s/down.sock", dir);
    vg_store *up, *down;
    vg_queue *q;
    ck_assert_int_eq(vg_store_open(&up, up_dir, 16), 0);
    ck_assert_int_eq(vg_store_open(&down, down_dir, 16), 0);
    ck_assert_int_eq(vg_queue_open(up, "spool", &q), 0);
    lost_append(up, q, 1, 150);
    /* the downstream committed 1..100 of this stream (this epoch) */
    uint64_t epoch;
    ck_assert_int_eq(vg_queue_epoch(up, q, &epoch), 0);
    ck_assert_int_eq(vg_store_begin(down), 0);
    ck_assert_int_eq(vg_meta_put_u64(down, "stream.c1.epoch", epoch), 0);
    ck_assert_int_eq(vg_meta_put_u64(down, "stream.c1.last", 100), 0);
    ck_assert_int_eq(vg_store_commit(down), 0);

    lost_rx rx = {0};
    hop h;
    hop_start(&h, sock, up, q, down, lost_on_batch, &rx);
    const vg_sender_stats *ss = vg_sender_get_stats(h.s);
    uint64_t deadline = uv_hrtime() + 20000000000ull;
    while (ss->last_acked < 150 && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    ck_assert_uint_eq(ss->last_acked, 150);
    ck_assert_uint_eq(rx.records, 50);
    ck_assert_uint_eq(rx.first, 101);
    ck_assert_uint_eq(ss->sent, 50);
    ck_assert_uint_eq(ss->acked, 50);
    ck_assert_uint_eq(ss->resent, 0);

    /* a lost link and 10 more: counted as this process sends them */
    vg_receiver_stop(h.r);
    lost_append(up, q, 151, 160);
    ck_assert_int_eq(vg_receiver_start(&h.loop, &h.rc, &h.r), 0);
    deadline = uv_hrtime() + 20000000000ull;
    while (ss->last_acked < 160 && uv_hrtime() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    ck_assert_uint_eq(ss->last_acked, 160);
    ck_assert_uint_eq(ss->sent, 60);
    ck_assert_uint_eq(ss->acked, 60);
    hop_stop(&h);
    vg_store_close(up);
    vg_store_close(down);
}
END_TEST

/* ---- a receiver driven by hand, over raw sockets ------------------------- */

typedef struct raw_rx {
    uint32_t seen[64];  /* times on_batch was given each seq (of stream c2: seen2) */
    uint32_t seen2[64];
    int fail;           /* on_batch returns VG_EFULL */
    int refuse;         /* on_batch runs the batch, then returns VG_EFULL */
    int hold;           /* on_hold keeps a refused batch (set before raw_hop_start) */
    int holds, aborts;  /* on_hold and on_abort calls */
    vg_receiver **stop; /* on_abort stops this receiver */
} raw_rx;

static int raw_on_batch(void *ud, vg_rstream *st, const vg_msg *m, uint32_t skip)
{
    raw_rx *rx = ud;
    if (rx->fail)
        return VG_EFULL;
    uint32_t *seen = strcmp(st->name, "c2") == 0 ? rx->seen2 : rx->seen;
    for (uint32_t i = skip; i < m->count; i++)
        if (m->events[i].seq < 64)
            seen[m->events[i].seq]++;
    return rx->refuse ? VG_EFULL : 0;
}

static int raw_on_hold(void *ud)
{
    raw_rx *rx = ud;
    rx->holds++;
    return 1;
}

static void raw_on_abort(void *ud)
{
    raw_rx *rx = ud;
    rx->aborts++;
    if (rx->stop) {
        vg_receiver_stop(*rx->stop);
        *rx->stop = NULL;
    }
}

static int raw_connect(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Whether all of sb was written (a link the receiver closed takes none). */
static int raw_send(int fd, const msgpack_sbuffer *sb)
{
    return send(fd, sb->data, sb->size, MSG_NOSIGNAL) == (ssize_t)sb->size;
}

static void raw_hello_as(int fd, const char *name, uint64_t epoch)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_frame_hello(&sb, "collector", name, epoch, 0), 0);
    ck_assert(raw_send(fd, &sb));
    msgpack_sbuffer_destroy(&sb);
}

static void raw_hello(int fd, uint64_t epoch)
{
    raw_hello_as(fd, "c1", epoch);
}

/* Sends a batch of events first..last; whether it was written. */
static int raw_batch(int fd, uint64_t first, uint64_t last)
{
    vg_event ev = {.recv_us = 1, .ts_us = 1, .pri = 13, .host = S("h"), .app = S("app"),
                   .msg = S("x"), .raw = S("x"), .src = S("127.0.0.1"), .agency = S("unknown"),
                   .site = S("unknown")};
    msgpack_sbuffer rec, sb;
    msgpack_sbuffer_init(&rec);
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(vg_wire_pack_event(&rec, &ev), 0);
    size_t start;
    ck_assert_int_eq(
        vg_wire_batch_begin(&sb, VG_MSG_EVENTS, first, (uint32_t)(last - first + 1), &start), 0);
    for (uint64_t i = first; i <= last; i++)
        ck_assert_int_eq(vg_wire_batch_add(&sb, rec.data, rec.size), 0);
    ck_assert_int_eq(vg_wire_batch_end(&sb, start), 0);
    int ok = raw_send(fd, &sb);
    msgpack_sbuffer_destroy(&rec);
    msgpack_sbuffer_destroy(&sb);
    return ok;
}

static void spin(uv_loop_t *loop, int ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
    while (uv_hrtime() < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(2000);
    }
}

/* Whether the peer closed fd (EOF) within ms, reading what it sent. */
static int raw_closed(uv_loop_t *loop, int fd, int ms)
{
    char buf[4096];
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
    while (uv_hrtime() < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return 1;
        if (n < 0)
            usleep(2000);
    }
    return 0;
}

/* A receiver on its own loop and store under basedir, its socket in sock
 * (cap 300), for the raw-socket tests. */
typedef struct raw_hop {
    vg_store *down;
    uv_loop_t loop;
    vg_receiver_cfg rc;
} raw_hop;

static void raw_hop_start(raw_hop *h, char *sock, raw_rx *rx, vg_receiver **r)
{
    char dir[256], down_dir[300];
    ck_assert_ptr_nonnull(vt_tmp_sub(dir, sizeof(dir), basedir));
    snprintf(down_dir, sizeof(down_dir), "%s/down", dir);
    snprintf(sock, 300, "%s/down.sock", dir);
    ck_assert_int_eq(vg_store_open(&h->down, down_dir, 16), 0);
    ck_assert_int_eq(uv_loop_init(&h->loop), 0);
    h->rc = (vg_receiver_cfg){.path = sock, .allow_uid = getuid(), .role = "correlator",
                              .name = "cor", .type = VG_MSG_EVENTS, .store = h->down,
                              .on_batch = raw_on_batch, .on_abort = raw_on_abort,
                              .on_hold = rx->hold ? raw_on_hold : NULL, .ud = rx};
    ck_assert_int_eq(vg_receiver_start(&h->loop, &h->rc, r), 0);
}

/* Stops r (unless it is NULL: stopped already), runs the loop dry, closes
 * it, and returns the stream position the store holds. */
static uint64_t raw_hop_stop(raw_hop *h, vg_receiver *r)
{
    vg_receiver_stop(r);
    spin(&h->loop, 50);
    while (uv_run(&h->loop, UV_RUN_NOWAIT))
        ;
    ck_assert_int_eq(uv_loop_close(&h->loop), 0);
    uint64_t last = 99;
    ck_assert_int_eq(vg_meta_get_u64(h->down, "stream.c1.last", &last), 0);
    vg_store_close(h->down);
    return last;
}

/* A stream says HELLO on a new link while its older link is still open
 * (the upstream reconnected before its old link's end was read). Before,
 * both links applied their batches: 1..3 twice, and the stored position
 * went back from 10 to 3, so 4..10 would come again after the next
 * reconnect. Now the older link is closed when the newer says HELLO. */
START_TEST(test_receiver_same_stream_two_links)
{
    char sock[300];
    raw_rx rx = {0};
    raw_hop h;
    vg_receiver *r;
    raw_hop_start(&h, sock, &rx, &r);
    uv_loop_t *loop = &h.loop;
    int a = raw_connect(sock);
    raw_hello(a, 77);
    spin(loop, 100);
    int b = raw_connect(sock);
    raw_hello(b, 77);
    spin(loop, 100);
    (void)raw_batch(a, 1, 10); /* the old link's leftovers (taken before, if it is open) */
    ck_assert(raw_batch(b, 1, 3));
    ck_assert(raw_closed(loop, a, 2000));
    spin(loop, 200);
    ck_assert(raw_batch(b, 4, 10));
    spin(loop, 200);
    for (int i = 1; i <= 10; i++)
        ck_assert_msg(rx.seen[i] == 1, "seq %d applied %u times", i, rx.seen[i]);
    ck_assert_uint_eq(vg_receiver_get_stats(r)->records, 10);
    close(a);
    close(b);
    ck_assert_uint_eq(raw_hop_stop(&h, r), 10);
}
END_TEST

/* A refused batch that the owner keeps (on_hold: the correlator, whose
 * store is full of the shippers' backlog) is held: another stream's commit
 * writes its position with its own, and when its upstream sends it again
 * (and more), only what follows it is run. Each seq is run once, and
 * nothing is undone (no on_abort: the correlator reloaded its whole state
 * there, at every refusal). */
START_TEST(test_receiver_holds_refused_batch)
{
    char sock[300];
    raw_rx rx = {.refuse = 1, .hold = 1};
    raw_hop h;
    vg_receiver *r;
    raw_hop_start(&h, sock, &rx, &r);
    uv_loop_t *loop = &h.loop;
    int a = raw_connect(sock);
    raw_hello(a, 5);
    spin(loop, 100);
    ck_assert(raw_batch(a, 1, 3));
    ck_assert(raw_closed(loop, a, 2000));
    close(a);
    ck_assert_int_eq(rx.holds, 1);
    ck_assert_int_eq(rx.aborts, 0);
    ck_assert(vg_receiver_holding(r));
    uint64_t last = 99;
    ck_assert_int_eq(vg_meta_get_u64(h.down, "stream.c1.last", &last), 0);
    ck_assert_uint_eq(last, 0);
    /* stream c2's commit writes c1's position too */
    rx.refuse = 0;
    int b = raw_connect(sock);
    raw_hello_as(b, "c2", 6);
    spin(loop, 100);
    ck_assert(raw_batch(b, 1, 2));
    spin(loop, 200);
    ck_assert(!vg_receiver_holding(r));
    ck_assert_int_eq(vg_meta_get_u64(h.down, "stream.c1.last", &last), 0);
    ck_assert_uint_eq(last, 3);
    /* c1 back, sending 1..5 again: 4 and 5 are run, 1..3 are duplicates */
    a = raw_connect(sock);
    raw_hello(a, 5);
    spin(loop, 100);
    ck_assert(raw_batch(a, 1, 5));
    spin(loop, 200);
    for (int i = 1; i <= 5; i++)
        ck_assert_msg(rx.seen[i] == 1, "c1 seq %d run %u times", i, rx.seen[i]);
    ck_assert_uint_eq(rx.seen2[1], 1);
    ck_assert_uint_eq(rx.seen2[2], 1);
    ck_assert_int_eq(rx.aborts, 0);
    ck_assert_uint_eq(vg_receiver_get_stats(r)->records, 7);
    ck_assert_uint_eq(vg_receiver_get_stats(r)->duplicates, 3);
    ck_assert_uint_eq(vg_receiver_get_stats(r)->commit_errors, 1);
    close(a);
    close(b);
    ck_assert_uint_eq(raw_hop_stop(&h, r), 5);
}
END_TEST

/* The owner stops the receiver from on_abort (the correlator does when its
 * state cannot be reloaded after a failed commit). Before, the batch went
 * on using the freed receiver (ASan: heap use after free). */
START_TEST(test_receiver_stopped_in_abort)
{
    char sock[300];
    vg_receiver *r;
    raw_rx rx = {.fail = 1, .stop = &r};
    raw_hop h;
    raw_hop_start(&h, sock, &rx, &r);
    uv_loop_t *loop = &h.loop;
    int a = raw_connect(sock);
    raw_hello(a, 5);
    spin(loop, 100);
    ck_assert(raw_batch(a, 1, 3));
    ck_assert(raw_closed(loop, a, 2000));
    ck_assert_ptr_null(r); /* stopped by on_abort */
    close(a);
    ck_assert_uint_eq(raw_hop_stop(&h, r), 0); /* nothing of the batch was kept */
}
END_TEST

/* Reads the receiver's HELLO answer on fd (within 2 s) and returns its
 * version; 0 if none came. */
static uint32_t raw_answer_version(uv_loop_t *loop, int fd)
{
    char buf[4096];
    size_t have = 0;
    uint64_t end = uv_hrtime() + UINT64_C(2000000000);
    while (uv_hrtime() < end && have < sizeof(buf)) {
        uv_run(loop, UV_RUN_NOWAIT);
        ssize_t n = recv(fd, buf + have, sizeof(buf) - have, MSG_DONTWAIT);
        if (n > 0)
            have += (size_t)n;
        else
            usleep(2000);
        if (have >= VG_FRAME_HDR) {
            size_t len = ((size_t)(unsigned char)buf[0] << 24) |
                         ((size_t)(unsigned char)buf[1] << 16) |
                         ((size_t)(unsigned char)buf[2] << 8) | (unsigned char)buf[3];
            if (have >= VG_FRAME_HDR + len) {
                vg_msg m;
                ck_assert_int_eq(vg_wire_decode(buf + VG_FRAME_HDR, len, &m), 0);
                ck_assert_int_eq(m.type, VG_MSG_HELLO);
                uint32_t v = m.version;
                vg_msg_free(&m);
                return v;
            }
        }
    }
    return 0;
}

/* Protocol version 2 added an optional element to alerts: a receiver
 * takes an upstream of version 1 (whose records it decodes) and answers it
 * in version 1, which such an upstream requires; version 2 in version 2
 * (and 3, larger batches, in 3); a version it does not know closes the link. Before, anything but its
 * own version closed the link, so upgrading the shipper stalled the
 * correlators still at version 1. */
START_TEST(test_receiver_answers_in_senders_version)
{
    char sock[300];
    raw_rx rx = {0};
    raw_hop h;
    vg_receiver *r;
    raw_hop_start(&h, sock, &rx, &r);
    uv_loop_t *loop = &h.loop;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int a = raw_connect(sock);
    ck_assert_int_eq(vg_wire_frame_hello_v(&sb, 1, "collector", "c1", 11, 0), 0);
    ck_assert(raw_send(a, &sb));
    ck_assert_uint_eq(raw_answer_version(loop, a), 1);
    ck_assert(raw_batch(a, 1, 3));
    spin(loop, 200);
    ck_assert_uint_eq(vg_receiver_get_stats(r)->records, 3);
    close(a);
    spin(loop, 100);
    int b = raw_connect(sock);
    msgpack_sbuffer_clear(&sb);
    ck_assert_int_eq(vg_wire_frame_hello_v(&sb, 2, "collector", "c1", 11, 3), 0);
    ck_assert(raw_send(b, &sb));
    ck_assert_uint_eq(raw_answer_version(loop, b), 2);
    close(b);
    spin(loop, 100);
    int d = raw_connect(sock);
    msgpack_sbuffer_clear(&sb);
    ck_assert_int_eq(vg_wire_frame_hello_v(&sb, VG_PROTO_VERSION, "collector", "c1", 11, 3), 0);
    ck_assert(raw_send(d, &sb));
    ck_assert_uint_eq(raw_answer_version(loop, d), 3);
    close(d);
    spin(loop, 100);
    int c = raw_connect(sock);
    msgpack_sbuffer_clear(&sb);
    ck_assert_int_eq(vg_wire_frame_hello_v(&sb, VG_PROTO_VERSION + 1, "collector", "c1", 11, 3),
                     0);
    ck_assert(raw_send(c, &sb));
    ck_assert(raw_closed(loop, c, 2000));
    close(c);
    msgpack_sbuffer_destroy(&sb);
    ck_assert_uint_eq(raw_hop_stop(&h, r), 3);
}
END_TEST

/* Sends the first 10 bytes of a frame that says it holds 100. */
static void raw_half_frame(int fd)
{
    const char half[10] = {0, 0, 0, 100, 1, 2, 3, 4, 5, 6};
    ck_assert_int_eq(send(fd, half, sizeof(half), MSG_NOSIGNAL), (ssize_t)sizeof(half));
}

/* A link that ends in the middle of a frame counts one bad frame, whether
 * the peer closed cleanly (EOF) or with the receiver's replies unread
 * (ECONNRESET on the receiver's side). Before, a reset was not counted. */
START_TEST(test_receiver_cut_mid_frame_counted)
{
    char sock[300];
    raw_rx rx = {0};
    raw_hop h;
    vg_receiver *r;
    raw_hop_start(&h, sock, &rx, &r);
    uv_loop_t *loop = &h.loop;
    int a = raw_connect(sock);
    raw_hello(a, 9);
    raw_half_frame(a);
    spin(loop, 100);
    char buf[4096]; /* read what the receiver sent: the close is a plain EOF */
    while (recv(a, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
    close(a);
    spin(loop, 100);
    ck_assert_uint_eq(vg_receiver_link_stats(r)->bad_frames, 1);
    int b = raw_connect(sock);
    raw_hello(b, 9);
    raw_half_frame(b);
    spin(loop, 100);
    close(b); /* the receiver's reply unread: the receiver reads ECONNRESET */
    spin(loop, 100);
    ck_assert_uint_eq(vg_receiver_link_stats(r)->bad_frames, 2);
    ck_assert_uint_eq(vg_receiver_get_stats(r)->records, 0);
    ck_assert_uint_eq(raw_hop_stop(&h, r), 0);
}
END_TEST

static void count_accept(uv_stream_t *srv, int status)
{
    int *n = srv->data;
    if (status)
        return;
    uv_pipe_t *c = malloc(sizeof(*c));
    uv_pipe_init(srv->loop, c, 0);
    if (uv_accept(srv, (uv_stream_t *)c) == 0)
        (*n)++;
    uv_close((uv_handle_t *)c, (uv_close_cb)free); /* accepted, then closed at once */
}

/* A peer that accepts and closes at once: the sender backs off, doubling
 * from 100 ms. Before, every connect that succeeded reset the backoff, and
 * the sender reconnected (and sent a whole window) every 100 ms. */
START_TEST(test_client_backs_off_from_a_closing_peer)
{
    char dir[256], up_dir[300], sock[300];
    ck_assert_ptr_nonnull(vt_tmp_sub(dir, sizeof(dir), basedir));
    snprintf(up_dir, sizeof(up_dir), "%s/up", dir);
    snprintf(sock, sizeof(sock), "%s/down.sock", dir);
    vg_store *up;
    vg_queue *q;
    ck_assert_int_eq(vg_store_open(&up, up_dir, 16), 0);
    ck_assert_int_eq(vg_queue_open(up, "spool", &q), 0);
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    uv_pipe_t srv;
    int accepted = 0;
    uv_pipe_init(&loop, &srv, 0);
    srv.data = &accepted;
    ck_assert_int_eq(uv_pipe_bind(&srv, sock), 0);
    ck_assert_int_eq(uv_listen((uv_stream_t *)&srv, 16, count_accept), 0);
    vg_sender_cfg sc = {.path = sock, .allow_uid = getuid(), .role = "collector", .name = "c1",
                        .type = VG_MSG_EVENTS, .store = up, .queue = q};
    vg_sender *s;
    signal(SIGPIPE, SIG_IGN); /* as the daemons do: a write to the closed peer */
    ck_assert_int_eq(vg_sender_start(&loop, &sc, &s), 0);
    spin(&loop, 3000);
    /* 100 + 200 + 400 + 800 + 1600 ms: 5 or 6 connects in 3 s (30 before) */
    ck_assert_msg(accepted >= 3 && accepted <= 8, "%d connects in 3 s", accepted);
    vg_sender_stop(s);
    uv_close((uv_handle_t *)&srv, NULL);
    while (uv_run(&loop, UV_RUN_NOWAIT))
        ;
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    vg_store_close(up);
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *r = tcase_create("roundtrip");
    tcase_add_test(r, test_ack_exact_bytes);
    tcase_add_test(r, test_ack_roundtrip);
    tcase_add_test(r, test_hello_roundtrip);
    tcase_add_test(r, test_stats_roundtrip);
    tcase_add_test(r, test_stats_limits);
    tcase_add_test(r, test_events_roundtrip);
    tcase_add_test(r, test_events_large_record);
    tcase_add_test(r, test_alerts_roundtrip);
    tcase_add_test(r, test_alert_fields_limits);
    tcase_add_test(r, test_alert_raw_cut);
    tcase_add_test(r, test_batch_begin_bad_type);
    suite_add_tcase(s, r);

    TCase *j = tcase_create("reject");
    tcase_add_test(j, test_reject_unknown_type);
    tcase_add_test(j, test_reject_top_level);
    tcase_add_test(j, test_reject_hello);
    tcase_add_test(j, test_reject_ack_stats);
    tcase_add_test(j, test_event_fields);
    tcase_add_test(j, test_alert_fields);
    tcase_add_test(j, test_reject_batch_shape);
    tcase_add_test(j, test_reject_trailing_bytes);
    tcase_add_test(j, test_reject_truncated);
    tcase_add_test(j, test_reject_huge_counts);
    tcase_add_test(j, test_reject_batch_over_max);
    tcase_add_test(j, test_reject_nested_deep);
    suite_add_tcase(s, j);

    TCase *f = tcase_create("mutations");
    tcase_set_timeout(f, 120);
    tcase_add_test(f, test_mutations);
    tcase_add_test(f, test_events_direct_same);
    suite_add_tcase(s, f);

    TCase *b = tcase_create("batching");
    tcase_add_unchecked_fixture(b, base_setup, base_teardown);
    tcase_add_test(b, test_sender_batch_byte_budget);
    tcase_add_test(b, test_sender_backlog_batches);
    tcase_add_test(b, test_sender_steps_down_to_older_downstream);
    tcase_add_test(b, test_sender_halves_refused_batches);
    tcase_add_test(b, test_sender_downstream_lost_state);
    tcase_add_test(b, test_sender_restart_counts_own_acks);
    tcase_add_test(b, test_sender_window_is_a_bound);
    tcase_add_test(b, test_receiver_same_stream_two_links);
    tcase_add_test(b, test_receiver_stopped_in_abort);
    tcase_add_test(b, test_receiver_holds_refused_batch);
    tcase_add_test(b, test_receiver_cut_mid_frame_counted);
    tcase_add_test(b, test_receiver_answers_in_senders_version);
    tcase_add_test(b, test_client_backs_off_from_a_closing_peer);
    suite_add_tcase(s, b);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wire_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
