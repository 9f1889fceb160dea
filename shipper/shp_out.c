/* The output driver (see shp_out.h): per output a cursor in the shared
 * outbox, batches, retries, backlog policy, rate limit and counters.
 *
 * Everything runs on the daemon's loop. Each output moves on its own: a
 * dead SIEM holds back only its own cursor; the outbox is trimmed to the
 * lowest cursor, so what any output still needs stays stored.
 *
 * Cursor keys in the meta table: "out.NAME.cursor" (highest outbox seq
 * settled for the output) and "out.NAME.rl" (its rate-limit windows), both
 * written in the transaction that moves the cursor, together with the
 * transport's own position (commit hook) and the outbox trim. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shp.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/wire.h"

#define SHP_TICK_MS 1000
#define SHP_SCAN_MAX 8192   /* outbox records looked at per pass (filtered ones included) */
#define SHP_RL_MAX 4096     /* rules tracked per rate-limited output */
/* A batch takes no more alerts past this many bytes: batch x max_message_size
 * may reach 1 TiB, and OpenSSL's and the kernel's write calls take an int */
#define SHP_BATCH_BYTES (64u << 20)
#define SHP_COMMIT_RETRY_MS 1000
/* A stop waits this long for the deliveries in flight (deployment.md: a
 * stop takes seconds; systemd's TimeoutStopSec is 60 s), polling. */
#define SHP_STOP_GRACE_MS 5000
#define SHP_STOP_POLL_MS 20
#define SHP_DROP_LOG_MS 60000 /* drop_oldest: a line a minute at most, after the first */

static void shp_out_pass(shp_out *o);
static int shp_batch_keep_unsettled(shp_batch *b);

/* ---- small helpers ---------------------------------------------------- */

static uint64_t shp_rand(void)
{
    static uint64_t x;
    if (!x)
        x = (uint64_t)vg_now_us() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

static int shp_key_of(char *buf, size_t cap, const char *name, const char *what)
{
    int n = snprintf(buf, cap, "out.%s.%s", name, what);
    return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

static int shp_key(char *buf, size_t cap, const shp_out *o, const char *what)
{
    return shp_key_of(buf, cap, o->conf.name, what);
}

int shp_out_start_cursor(vg_store *st, vg_queue *outbox, const char *name, uint64_t *cursor)
{
    char key[128];
    uint64_t cur = 0;
    int rc = shp_key_of(key, sizeof(key), name, "cursor");
    if (rc == 0)
        rc = vg_meta_get_u64(st, key, &cur);
    if (rc)
        return rc;
    /* A new output starts with what the outbox still holds. */
    uint64_t first = vg_queue_first(outbox);
    uint64_t floor = first ? first - 1 : vg_queue_last(outbox);
    *cursor = cur > floor ? cur : floor;
    return 0;
}

int shp_rec_alert(const void *rec, size_t len, vg_alert *al)
{
    return len >= SHP_REC_HDR
               ? vg_wire_decode_alert((const char *)rec + SHP_REC_HDR, len - SHP_REC_HDR, al)
               : VG_EPROTO;
}

static uint64_t shp_backlog(shp_out *o)
{
    uint64_t last = vg_queue_last(o->s->outbox);
    return last > o->cursor ? last - o->cursor : 0;
}

static void shp_copy(char *dst, size_t cap, vg_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

/* ---- rate-limit state, persisted as msgpack ----------------------------- */

static void shp_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Whether r's window is over at now. A window that starts after now was
 * opened while the wall clock was ahead (set back since, by NTP or by
 * hand): over too, else the rule's alerts stayed held, and their summary
 * unsent, until the clock caught up, hours or days later. */
static int shp_rl_over(const shp_rl_rule *r, int64_t now, int64_t win)
{
    return now >= r->window_us + win || now < r->window_us;
}

/* Only windows that still matter are stored: open ones, and closed ones
 * whose summary is not sent yet. */
static int shp_rl_live(const shp_out *o, const shp_rl_rule *r, int64_t now)
{
    return r->held != 0 ||
           (r->window_us != 0 && !shp_rl_over(r, now, o->conf.rate_window_ms * 1000));
}

static void shp_rl_pack(msgpack_packer *pk, const shp_rl_rule *r)
{
    msgpack_pack_array(pk, 13);
    msgpack_pack_str(pk, r->rule_id_len);
    msgpack_pack_str_body(pk, r->rule_id, r->rule_id_len);
    shp_pack_str(pk, r->rule_name);
    msgpack_pack_int64(pk, r->window_us);
    msgpack_pack_int64(pk, r->sent);
    msgpack_pack_int64(pk, r->held);
    msgpack_pack_int64(pk, r->first_us);
    msgpack_pack_int64(pk, r->last_us);
    msgpack_pack_int32(pk, r->level);
    shp_pack_str(pk, r->host);
    shp_pack_str(pk, r->agency);
    shp_pack_str(pk, r->site);
    msgpack_pack_int(pk, r->hosts_differ | r->agencies_differ << 1 | r->sites_differ << 2);
    msgpack_pack_int(pk, 0);
}

static int shp_rl_same(const shp_rl_rule *a, const shp_rl_rule *b)
{
    return a->rule_id_len == b->rule_id_len && memcmp(a->rule_id, b->rule_id, a->rule_id_len) == 0;
}

/* Adds held window h (a summary not delivered yet) into m: one window per
 * rule is stored, so a restart sends one summary of both. */
static void shp_rl_fold(shp_rl_rule *m, const shp_rl_rule *h)
{
    if (h->held == 0)
        return;
    if (m->held == 0) {
        int64_t sent = m->sent;
        char *id = m->rule_id;
        *m = *h;
        m->rule_id = id;
        m->sent = sent;
        return;
    }
    m->window_us = h->window_us; /* the older, closed one: the summary is due */
    m->held += h->held;
    if (h->first_us < m->first_us)
        m->first_us = h->first_us;
    if (h->last_us > m->last_us)
        m->last_us = h->last_us;
    if (h->level > m->level)
        m->level = h->level;
    m->hosts_differ |= h->hosts_differ || strcmp(m->host, h->host) != 0;
    m->agencies_differ |= h->agencies_differ || strcmp(m->agency, h->agency) != 0;
    m->sites_differ |= h->sites_differ || strcmp(m->site, h->site) != 0;
    if (m->hosts_differ)
        m->host[0] = '\0';
    if (m->agencies_differ)
        m->agency[0] = '\0';
    if (m->sites_differ)
        m->site[0] = '\0';
}

/* The snapshot of a summary item of the pending batch, or NULL. */
static const shp_rl_rule *shp_rl_snap_of(const shp_out *o, const shp_item *it)
{
    if (it->seq != 0)
        return NULL;
    for (size_t i = 0; i < o->nsnap; i++)
        if (o->rl_snap[i].window_us == it->rl_window &&
            vg_fnv1a(VG_FNV1A_INIT, o->rl_snap[i].rule_id, o->rl_snap[i].rule_id_len) ==
                it->rl_rule)
            return &o->rl_snap[i];
    return NULL;
}

/* Packs the windows that still matter; with pending (a batch still to be
 * delivered), the summaries it carries are folded back into them. Returns
 * the number of such summaries stored, or -ENOMEM. */
static int shp_rl_save(shp_out *o, msgpack_sbuffer *sb, const shp_batch *pending)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    int64_t now = vg_now_us();
    size_t n = 0, cap = o->nrl + (pending ? pending->n : 0);
    shp_rl_rule *v = malloc((cap ? cap : 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < o->nrl; i++)
        v[n++] = o->rl[i];
    int folded = 0;
    for (size_t i = 0; pending && i < pending->n; i++) {
        const shp_rl_rule *h = shp_rl_snap_of(o, &pending->items[i]);
        if (!h)
            continue;
        size_t j = 0;
        while (j < n && !shp_rl_same(&v[j], h))
            j++;
        if (j == n) { /* no current window: the snapshot, no alert sent in it yet */
            v[n] = *h;
            v[n++].sent = 0;
        } else {
            shp_rl_fold(&v[j], h);
        }
        folded++;
    }
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        live += (size_t)shp_rl_live(o, &v[i], now);
    msgpack_pack_array(&pk, live);
    for (size_t i = 0; i < n; i++)
        if (shp_rl_live(o, &v[i], now))
            shp_rl_pack(&pk, &v[i]);
    free(v);
    return folded;
}

/* Forgets the snapshots of the summaries of the last batch. */
static void shp_rl_snap_clear(shp_out *o)
{
    for (size_t i = 0; i < o->nsnap; i++)
        free(o->rl_snap[i].rule_id);
    free(o->rl_snap);
    o->rl_snap = NULL;
    o->nsnap = 0;
}

/* Adds a window for rule id (copied) and returns it, or NULL without
 * memory. */
static shp_rl_rule *shp_rl_add(shp_out *o, const char *id, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, id, len);
    copy[len] = '\0';
    if (o->nrl == o->rlcap) {
        size_t cap = o->rlcap ? o->rlcap * 2 : 16;
        shp_rl_rule *v = realloc(o->rl, cap * sizeof(*v));
        if (!v) {
            free(copy);
            return NULL;
        }
        o->rl = v;
        o->rlcap = cap;
    }
    shp_rl_rule *r = &o->rl[o->nrl++];
    memset(r, 0, sizeof(*r));
    r->rule_id = copy;
    r->rule_id_len = len;
    return r;
}

/* Forgets the windows that no longer matter (shp_rl_live), so that rules
 * seen once long ago do not fill the table. */
static void shp_rl_compact(shp_out *o, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < o->nrl; i++) {
        if (shp_rl_live(o, &o->rl[i], now))
            o->rl[k++] = o->rl[i];
        else
            free(o->rl[i].rule_id);
    }
    o->nrl = k;
}

static void shp_obj_str(const msgpack_object *ob, char *dst, size_t cap)
{
    if (ob->type == MSGPACK_OBJECT_STR)
        shp_copy(dst, cap, (vg_str){ob->via.str.ptr, ob->via.str.size});
    else
        dst[0] = '\0';
}

static int64_t shp_obj_int(const msgpack_object *ob)
{
    if (ob->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)ob->via.u64;
    if (ob->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return ob->via.i64;
    return 0;
}

/* The output's stored blob under its key WHAT (shp_key), in a buffer of
 * the caller's to free, its length in *len; NULL when there is none, or it
 * cannot be read. cap: the first guess of its size. */
static char *shp_meta_read(shp_out *o, const char *what, size_t cap, size_t *len)
{
    char key[128];
    char *buf = malloc(cap);
    if (!buf || shp_key(key, sizeof(key), o, what))
        goto fail;
    int rc = vg_meta_get(o->s->store, key, buf, cap, len);
    if (rc == -ENOBUFS) { /* now we know the size */
        char *nb = realloc(buf, *len);
        if (!nb)
            goto fail;
        buf = nb;
        rc = vg_meta_get(o->s->store, key, buf, *len, len);
    }
    if (rc == 0)
        return buf;
fail:
    free(buf);
    return NULL;
}

/* A damaged state blob only costs the current windows: logged, dropped. */
static void shp_rl_load(shp_out *o)
{
    size_t len = 0;
    char *buf = shp_meta_read(o, "rl", 1 << 16, &len);
    if (!buf)
        goto out;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, buf, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_ARRAY) {
        vg_warn("output %s: rate-limit state unreadable; starting new windows", o->conf.name);
        msgpack_unpacked_destroy(&u);
        goto out;
    }
    for (uint32_t i = 0; i < u.data.via.array.size; i++) {
        const msgpack_object *e = &u.data.via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 12)
            continue;
        const msgpack_object *f = e->via.array.ptr;
        if (f[0].type != MSGPACK_OBJECT_STR || o->nrl >= SHP_RL_MAX)
            continue;
        shp_rl_rule *r = shp_rl_add(o, f[0].via.str.ptr, f[0].via.str.size);
        if (!r)
            break;
        shp_obj_str(&f[1], r->rule_name, sizeof(r->rule_name));
        r->window_us = shp_obj_int(&f[2]);
        r->sent = shp_obj_int(&f[3]);
        r->held = shp_obj_int(&f[4]);
        r->first_us = shp_obj_int(&f[5]);
        r->last_us = shp_obj_int(&f[6]);
        r->level = (int32_t)shp_obj_int(&f[7]);
        shp_obj_str(&f[8], r->host, sizeof(r->host));
        shp_obj_str(&f[9], r->agency, sizeof(r->agency));
        shp_obj_str(&f[10], r->site, sizeof(r->site));
        int64_t fl = shp_obj_int(&f[11]);
        r->hosts_differ = fl & 1;
        r->agencies_differ = (fl >> 1) & 1;
        r->sites_differ = (fl >> 2) & 1;
    }
    msgpack_unpacked_destroy(&u);
out:
    free(buf);
}

/* The window of rule_id, made if need be; NULL when SHP_RL_MAX rules have
 * a window that still matters (or without memory). */
static shp_rl_rule *shp_rl_find(shp_out *o, vg_str rule_id, int64_t now)
{
    for (size_t i = 0; i < o->nrl; i++)
        if (o->rl[i].rule_id_len == rule_id.len &&
            memcmp(o->rl[i].rule_id, rule_id.p ? rule_id.p : "", rule_id.len) == 0)
            return &o->rl[i];
    if (o->nrl >= SHP_RL_MAX)
        shp_rl_compact(o, now);
    if (o->nrl >= SHP_RL_MAX)
        return NULL;
    return shp_rl_add(o, rule_id.p ? rule_id.p : "", rule_id.len);
}

/* Merges a per-alert value into the held summary: kept while every held
 * alert agrees, emptied once two differ. */
static void shp_rl_merge(char *dst, size_t cap, int *differ, vg_str v, int first)
{
    if (first) {
        shp_copy(dst, cap, v);
        *differ = 0;
        return;
    }
    if (*differ)
        return;
    if (strlen(dst) != v.len || memcmp(dst, v.p, v.len) != 0) {
        dst[0] = '\0';
        *differ = 1;
    }
}

/* Does the rate limit let al through? If not, it is added to the rule's
 * summary. Windows run on the wall clock: the limit is about how often
 * people are notified, not about when the events happened. */
static int shp_rl_admit(shp_out *o, const vg_alert *al, int64_t now, int64_t *window)
{
    *window = 0;
    if (o->conf.rate_limit <= 0)
        return 1;
    shp_rl_rule *r = shp_rl_find(o, al->rule_id, now);
    if (!r) {
        /* too many rules with open windows to track: never hold an alert back */
        if (!o->rl_full_warned)
            vg_warn("output %s: more than %d rules in one rate window: alerts of further "
                    "rules are not held back", o->conf.name, SHP_RL_MAX);
        o->rl_full_warned = 1;
        return 1;
    }
    int64_t win = o->conf.rate_window_ms * 1000;
    if (r->window_us == 0 || (shp_rl_over(r, now, win) && r->held == 0)) {
        r->window_us = now;
        r->sent = 0;
    }
    shp_copy(r->rule_name, sizeof(r->rule_name), al->rule_name);
    if (r->sent < o->conf.rate_limit) {
        r->sent++;
        *window = r->window_us;
        return 1;
    }
    int first = r->held == 0;
    r->held++;
    if (first || al->first_us < r->first_us)
        r->first_us = al->first_us ? al->first_us : al->ts_us;
    if (first || al->ts_us > r->last_us)
        r->last_us = al->ts_us;
    if (first || al->level > r->level)
        r->level = al->level;
    shp_rl_merge(r->host, sizeof(r->host), &r->hosts_differ, al->host, first);
    shp_rl_merge(r->agency, sizeof(r->agency), &r->agencies_differ, al->agency, first);
    shp_rl_merge(r->site, sizeof(r->site), &r->sites_differ, al->site, first);
    o->stats.summarised++;
    return 0;
}

/* An alert let through by the rate limit is dropped (drop_oldest) before
 * it was delivered: its place in its window is free again, if that window
 * is still the rule's. */
static void shp_rl_give_back(shp_out *o, const shp_item *it)
{
    if (!it->rl_window)
        return;
    for (size_t i = 0; i < o->nrl; i++) {
        shp_rl_rule *r = &o->rl[i];
        if (r->window_us == it->rl_window && r->sent > 0 &&
            vg_fnv1a(VG_FNV1A_INIT, r->rule_id, r->rule_id_len) == it->rl_rule) {
            r->sent--;
            o->rl_dirty = 1;
            return;
        }
    }
}

/* ---- batches ---------------------------------------------------------- */

static void shp_batch_reset(shp_batch *b)
{
    b->n = 0;
    b->data.len = 0;
    b->data.oom = 0;
}

static size_t shp_batch_cap(shp_out *o)
{
    return (size_t)o->conf.batch;
}

static int64_t shp_refused_of(const shp_out *o, uint64_t seq);

static int shp_batch_item(shp_out *o, uint64_t seq, const vg_alert *al)
{
    shp_batch *b = &o->batch;
    if (!b->items && !(b->items = calloc(shp_batch_cap(o), sizeof(*b->items))))
        return -ENOMEM;
    if (b->n >= shp_batch_cap(o))
        return -ENOSPC;
    size_t off = b->data.len;
    int rc = o->tp_ops->format(o, al, &b->data);
    if (rc) {
        b->data.len = off;
        return rc;
    }
    shp_item *it = &b->items[b->n++];
    memset(it, 0, sizeof(*it));
    it->seq = seq;
    it->off = off;
    it->len = b->data.len - off;
    shp_copy(it->id, sizeof(it->id), al->id);
    if (o->nrefused)
        it->refused_ms = shp_refused_of(o, seq);
    return 0;
}

/* A summary is an alert of kind "summary" for the rule, so every
 * transport formats it like any other; its id is derived from the output,
 * the rule and the window, the same on every re-delivery. */
static int shp_batch_summary(shp_out *o, shp_rl_rule *r)
{
    char id[33], msg[768], count[24];
    /* FNV-1a from a basis one digit short of the standard one: ids
     * already delivered keep it */
    uint64_t h = UINT64_C(1469598103934665603);
    h = vg_fnv1a(h, o->conf.name, strlen(o->conf.name));
    h = vg_fnv1a(h, r->rule_id, strlen(r->rule_id));
    snprintf(id, sizeof(id), "%016" PRIx64 "%016" PRIx64, h, (uint64_t)r->window_us);
    snprintf(count, sizeof(count), "%" PRId64, r->held);
    int64_t secs = o->conf.rate_window_ms / 1000;
    snprintf(msg, sizeof(msg),
             "%" PRId64 " more alert%s of rule %s (%s) held back by the rate limit of output %s "
             "(%" PRId64 " per %" PRId64 "%s); each is in the other outputs",
             r->held, r->held == 1 ? "" : "s", r->rule_id, r->rule_name, o->conf.name,
             o->conf.rate_limit, secs ? secs : o->conf.rate_window_ms, secs ? " s" : " ms");
    vg_alert al;
    memset(&al, 0, sizeof(al));
    al.id = vg_str_c(id);
    al.rule_id = vg_str_c(r->rule_id);
    al.rule_name = vg_str_c(r->rule_name);
    al.kind = vg_str_c("summary");
    al.level = r->level;
    al.ts_us = r->last_us;
    al.first_us = r->first_us;
    al.count = (uint64_t)r->held;
    al.host = vg_str_c(r->host);
    al.agency = vg_str_c(r->agency);
    al.site = vg_str_c(r->site);
    al.message = vg_str_c(msg);
    al.nfields = 1;
    al.fields[0].key = vg_str_c("summarised");
    al.fields[0].val = vg_str_c(count);
    return shp_batch_item(o, 0, &al);
}

typedef struct shp_scan {
    shp_out *o;
    int64_t now;
    uint64_t last;  /* last seq looked at */
    int rc;
} shp_scan;

static int shp_scan_one(void *ud, uint64_t seq, const void *rec, size_t len)
{
    shp_scan *sc = ud;
    shp_out *o = sc->o;
    if (o->batch.n >= (size_t)o->conf.batch || o->batch.data.len >= SHP_BATCH_BYTES)
        return 1;
    vg_alert al;
    int rc = shp_rec_alert(rec, len, &al);
    if (rc) {
        /* We wrote it ourselves and it does not decode: the store is
         * damaged. Say which record; it cannot be delivered anywhere. */
        o->stats.failed++;
        vg_error("output %s: outbox record %" PRIu64 " (%zu bytes) is unreadable: %s; skipped",
                 o->conf.name, seq, len, vg_strerror(rc));
        sc->last = seq;
        return 0;
    }
    if (!shp_filter_match(&o->conf.filter, &al)) {
        o->stats.filtered++;
        sc->last = seq;
        return 0;
    }
    int64_t window;
    if (!shp_rl_admit(o, &al, sc->now, &window)) {
        o->rl_dirty = 1;
        sc->last = seq;
        return 0;
    }
    if (o->conf.rate_limit > 0)
        o->rl_dirty = 1;
    rc = shp_batch_item(o, seq, &al);
    if (rc) {
        sc->rc = rc;
        return 1;
    }
    if (window) {
        shp_item *it = &o->batch.items[o->batch.n - 1];
        it->rl_window = window;
        it->rl_rule = vg_fnv1a(VG_FNV1A_INIT, al.rule_id.p ? al.rule_id.p : "", al.rule_id.len);
    }
    sc->last = seq;
    return 0;
}

/* Keeps a copy of window r for summary item it (shp_rl_save), and marks
 * the item with it. */
static int shp_rl_snap_add(shp_out *o, const shp_rl_rule *r, shp_item *it)
{
    shp_rl_rule *v = realloc(o->rl_snap, (o->nsnap + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    o->rl_snap = v;
    char *id = malloc(r->rule_id_len + 1);
    if (!id)
        return -ENOMEM;
    memcpy(id, r->rule_id, r->rule_id_len + 1);
    v[o->nsnap] = *r;
    v[o->nsnap].rule_id = id;
    o->nsnap++;
    it->rl_window = r->window_us;
    it->rl_rule = vg_fnv1a(VG_FNV1A_INIT, r->rule_id, r->rule_id_len);
    return 0;
}

/* Fills the batch: summaries whose window has closed, then alerts after
 * the cursor. Returns 0 (o->batch_last says how far it got) or an error. */
static int shp_batch_build(shp_out *o)
{
    shp_batch_reset(&o->batch);
    shp_rl_snap_clear(o);
    int64_t now = vg_now_us();
    int64_t win = o->conf.rate_window_ms * 1000;
    for (size_t i = 0; i < o->nrl && o->batch.n < (size_t)o->conf.batch; i++) {
        shp_rl_rule *r = &o->rl[i];
        if (r->held > 0 && shp_rl_over(r, now, win)) {
            int rc = shp_batch_summary(o, r);
            if (rc == 0)
                rc = shp_rl_snap_add(o, r, &o->batch.items[o->batch.n - 1]);
            if (rc)
                return rc;
            /* Reset now: the state is stored only with this batch's cursor
             * (a commit before its delivery folds the snapshot back in),
             * so a crash before that brings the summary back. */
            r->held = 0;
            r->sent = 0;
            r->window_us = 0;
            o->rl_dirty = 1;
        }
    }
    shp_scan sc = {o, now, o->cursor, 0};
    int n = vg_queue_scan(o->s->outbox, o->cursor + 1, SHP_SCAN_MAX, shp_scan_one, &sc);
    int rc = n < 0 ? n : sc.rc;
    o->batch_last = sc.last;
    if (rc && o->batch.n) {
        /* The summaries taken above (their windows are reset) and the
         * alerts read before the failure go now; the rest next time. */
        vg_error("output %s: cannot read the outbox after %" PRIu64 ": %s; sending the %zu "
                 "items read before it", o->conf.name, sc.last, vg_strerror(rc), o->batch.n);
        return 0;
    }
    return rc;
}

/* ---- commit ----------------------------------------------------------- */

static uint64_t shp_min_cursor(shp *s)
{
    uint64_t m = UINT64_MAX;
    for (size_t i = 0; i < s->nouts; i++)
        if (s->outs[i]->cursor < m)
            m = s->outs[i]->cursor;
    return m == UINT64_MAX ? 0 : m;
}

/* Moves the cursor to 'to' in one transaction with the rate-limit state,
 * the transport's position and the outbox trim. */
static int shp_out_commit(shp_out *o, uint64_t to, const shp_batch *pending)
{
    shp *s = o->s;
    char kc[128], kr[128];
    if (to < o->cursor) /* a cursor only moves forward */
        to = o->cursor;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = shp_key(kc, sizeof(kc), o, "cursor"), folded = 0;
    if (rc == 0)
        rc = shp_key(kr, sizeof(kr), o, "rl");
    if (rc == 0 && o->rl_dirty && (folded = shp_rl_save(o, &sb, pending)) < 0)
        rc = folded;
    if (rc == 0)
        rc = vg_store_begin(s->store);
    if (rc) {
        msgpack_sbuffer_destroy(&sb);
        return rc;
    }
    uint64_t old = o->cursor;
    rc = vg_meta_put_u64(s->store, kc, to);
    if (rc == 0 && o->rl_dirty)
        rc = vg_meta_put(s->store, kr, sb.data, sb.size);
    if (rc == 0 && o->tp_ops->commit)
        rc = o->tp_ops->commit(o, s->store);
    o->cursor = to;
    uint64_t min = shp_min_cursor(s);
    if (rc == 0 && min >= vg_queue_first(s->outbox) && vg_queue_first(s->outbox))
        rc = vg_queue_trim(s->outbox, min);
    if (rc == 0)
        rc = vg_store_commit(s->store);
    else
        vg_store_abort(s->store);
    msgpack_sbuffer_destroy(&sb);
    if (rc) {
        o->cursor = old;
        return rc;
    }
    /* stored with summaries still to deliver: store again once they are */
    o->rl_dirty = folded > 0;
    return 0;
}

static void shp_out_on_timer(uv_timer_t *t)
{
    shp_out *o = t->data;
    shp_out_pass(o);
}

/* The next attempt after a failed one, or after a round that left items
 * refused for now: retry_min doubled per failure (or per such round) in a
 * row, up to retry_max. The two runs are counted apart (attempt counts
 * failed attempts alone, for the log and retried=), and the longer one
 * sets the delay. */
static void shp_out_backoff(shp_out *o)
{
    int64_t d = o->conf.retry_min_ms;
    int n = o->attempt > o->item_rounds ? o->attempt : o->item_rounds;
    for (int i = 1; i < n && d < o->conf.retry_max_ms; i++)
        d *= 2;
    if (d > o->conf.retry_max_ms)
        d = o->conf.retry_max_ms;
    /* Jitter in [d/2, d]: outputs (and shippers) that failed together do
     * not all come back at the same instant. */
    int64_t j = d / 2 + (int64_t)(shp_rand() % (uint64_t)(d / 2 + 1));
    /* A server that said when to come back (429, 503 with Retry-After) is
     * not asked again sooner, nor later than retry_max. */
    int64_t ra = o->retry_after_ms < o->conf.retry_max_ms ? o->retry_after_ms
                                                          : o->conf.retry_max_ms;
    if (ra > j)
        j = ra;
    o->retry_after_ms = 0;
    uv_timer_start(&o->retry_timer, shp_out_on_timer, (uint64_t)(j > 0 ? j : 1), 0);
}

/* ---- item_retry_for's clocks, stored ------------------------------------ */

/* One alert's clock as stored under out.NAME.refused: a msgpack array of
 * [seq, ms] pairs, in seq order. */
typedef struct shp_refused {
    uint64_t seq;
    int64_t ms;
} shp_refused;

/* Stores the clocks of the batch's items still refused for now, so that a
 * restart does not start item_retry_for again: once per item round, in a
 * transaction of its own. A failure costs only that (logged). */
static void shp_refused_save(shp_out *o)
{
    const shp_batch *b = &o->batch;
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += b->items[i].state == SHP_ITEM_RETRY && b->items[i].seq && b->items[i].refused_ms > 0;
    if (n == 0 && !o->refused_stored)
        return;
    char key[128];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, (uint32_t)n);
    for (size_t i = 0; i < b->n; i++) {
        const shp_item *it = &b->items[i];
        if (it->state == SHP_ITEM_RETRY && it->seq && it->refused_ms > 0) {
            msgpack_pack_array(&pk, 2);
            msgpack_pack_uint64(&pk, it->seq);
            msgpack_pack_int64(&pk, it->refused_ms);
        }
    }
    int rc = shp_key(key, sizeof(key), o, "refused");
    if (rc == 0 && (rc = vg_store_begin(o->s->store)) == 0) {
        rc = n ? vg_meta_put(o->s->store, key, sb.data, sb.size) : vg_meta_del(o->s->store, key);
        if (rc == -ENOENT)
            rc = 0;
        rc = rc ? (vg_store_abort(o->s->store), rc) : vg_store_commit(o->s->store);
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc)
        vg_warn("output %s: cannot store how long alerts have been refused for now: %s (a "
                "restart would start item_retry_for again)", o->conf.name, vg_strerror(rc));
    else
        o->refused_stored = n > 0;
}

/* At start: the clocks stored by shp_refused_save, of alerts after the
 * cursor. Unreadable: logged, and those clocks start again. */
static void shp_refused_load(shp_out *o)
{
    size_t len = 0;
    char *buf = shp_meta_read(o, "refused", 4096, &len);
    if (!buf)
        goto out;
    o->refused_stored = 1; /* rewritten (or deleted) at the next item round */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, buf, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_ARRAY) {
        vg_warn("output %s: the item_retry_for clocks are unreadable; they start again",
                o->conf.name);
        msgpack_unpacked_destroy(&u);
        goto out;
    }
    uint32_t n = u.data.via.array.size;
    o->refused = n ? calloc(n, sizeof(*o->refused)) : NULL;
    for (uint32_t i = 0; o->refused && i < n; i++) {
        const msgpack_object *e = &u.data.via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
            e->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            e->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            continue;
        uint64_t seq = e->via.array.ptr[0].via.u64;
        if (seq <= o->cursor || (o->nrefused && seq <= o->refused[o->nrefused - 1].seq))
            continue; /* settled, or out of order (not ours) */
        o->refused[o->nrefused].seq = seq;
        o->refused[o->nrefused].ms = (int64_t)e->via.array.ptr[1].via.u64;
        o->nrefused++;
    }
    msgpack_unpacked_destroy(&u);
    if (o->nrefused)
        vg_info("output %s: the item_retry_for clock of %zu alert%s refused for now before the "
                "restart goes on (the first at outbox seq %" PRIu64 ": %.1f s counted)",
                o->conf.name, o->nrefused, o->nrefused == 1 ? "" : "s", o->refused[0].seq,
                (double)o->refused[0].ms / 1e3);
out:
    free(buf);
}

/* The stored clock of the alert at seq, for its new item; 0: none. */
static int64_t shp_refused_of(const shp_out *o, uint64_t seq)
{
    size_t lo = 0, hi = o->nrefused;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->refused[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < o->nrefused && o->refused[lo].seq == seq ? o->refused[lo].ms : 0;
}

/* ---- dead letters ----------------------------------------------------- */

static int shp_dead_letter_write(shp *s, const char *output, const char *p, size_t n)
{
    char path[4096];
    int k = snprintf(path, sizeof(path), "%s/deadletter-%s.jsonl", s->dir, output);
    if (k < 0 || (size_t)k >= sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) { /* new: its directory entry is synced too */
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0)
            (void)vg_fsync_parent(path); /* best effort */
    }
    if (fd < 0)
        return -errno;
    off_t start = lseek(fd, 0, SEEK_END);
    int rc = start < 0 ? -errno : 0;
    while (n && rc == 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno != EINTR)
            rc = -errno;
        else if (w > 0)
            p += w, n -= (size_t)w;
    }
    if (rc == 0 && fdatasync(fd) != 0)
        rc = -errno;
    /* The items are sent again and written again: a line cut by a full
     * disk must not stay, with the next one glued to it. */
    if (rc != 0 && start >= 0 && ftruncate(fd, start) != 0)
        vg_error("cannot remove a partial line from %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

/* One line of a dead-letter file, as shp_dead_letters_load found it. */
typedef struct shp_dl_seen {
    uint64_t seq;
    char id[48];
} shp_dl_seen;

#define SHP_DL_SEEN_MAX 65536 /* lines after the cursor we remember (one batch, normally) */

static int shp_dl_path(const shp_out *o, char *path, size_t cap)
{
    int k = snprintf(path, cap, "%s/deadletter-%s.jsonl", o->s->dir, o->conf.name);
    return k < 0 || (size_t)k >= cap ? -ENAMETOOLONG : 0;
}

/* At start: a last line without its newline was cut by a crash (a kill
 * -9 ends a large write() between two pages; a power loss comes before
 * its sync). Its alert's batch was not recorded, since the sync comes
 * first, so the alert is sent again; it is cut off here, so that the
 * alert is written again whole, rather than count as written, and so
 * that the next line does not start glued to it. */
static void shp_dead_letters_mend(shp_out *o, const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END), at = size;
    char buf[4096];
    int found = 0;
    while (at > 0 && !found) { /* back to the last newline */
        size_t n = at < (off_t)sizeof(buf) ? (size_t)at : sizeof(buf);
        if (pread(fd, buf, n, at - (off_t)n) != (ssize_t)n)
            break;
        for (size_t i = n; i > 0 && !found; i--)
            if (buf[i - 1] == '\n')
                found = 1;
            else
                at--;
    }
    if (size > 0 && at < size && (found || at == 0)) {
        if (ftruncate(fd, at) != 0 || fdatasync(fd) != 0)
            vg_error("output %s: cannot cut the partial last line off %s: %s", o->conf.name,
                     path, strerror(errno));
        else
            vg_warn("output %s: deadletter-%s.jsonl ended in a line cut short (%lld bytes, by a "
                    "crash while it was written): removed; its alert is written again when the "
                    "destination refuses it again", o->conf.name, o->conf.name,
                    (long long)(size - at));
    }
    close(fd);
}

/* At start: the (seq, id) of every dead letter after the cursor. Those
 * were written by an attempt whose batch was never committed (the shipper
 * died in its item-retry round, or before the commit): the batch is sent
 * again, and the destination refuses them again, but the file holds them
 * already. Lines are ours: {"time_us":..,"output":"..","seq":N,"id":"..",
 * and an escaped name cannot hold '","seq":'. */
static void shp_dead_letters_load(shp_out *o)
{
    char path[4096];
    if (shp_dl_path(o, path, sizeof(path)) != 0)
        return;
    shp_dead_letters_mend(o, path);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0 && o->ndl_seen < SHP_DL_SEEN_MAX) {
        const char *p = strstr(line, "\",\"seq\":");
        char *end = NULL;
        uint64_t seq = p ? strtoull(p + 8, &end, 10) : 0;
        const char *q = seq > o->cursor ? strstr(end, ",\"id\":\"") : NULL;
        size_t len = q ? strcspn(q + 7, "\"") : 0;
        if (!q || len >= sizeof(o->dl_seen[0].id))
            continue;
        shp_dl_seen *v = realloc(o->dl_seen, (o->ndl_seen + 1) * sizeof(*v));
        if (!v)
            break;
        o->dl_seen = v;
        v[o->ndl_seen].seq = seq;
        memcpy(v[o->ndl_seen].id, q + 7, len);
        v[o->ndl_seen].id[len] = '\0';
        o->ndl_seen++;
    }
    free(line);
    fclose(f);
}

/* Whether the dead-letter file holds it already (shp_dead_letters_load). */
static int shp_dead_letter_seen(const shp_out *o, const shp_item *it)
{
    for (size_t i = 0; i < o->ndl_seen && it->seq > o->cursor; i++)
        if (o->dl_seen[i].seq == it->seq && strcmp(o->dl_seen[i].id, it->id) == 0)
            return 1;
    return 0;
}

/* Items a destination refused for good are appended, with the reason, to
 * DATA_DIR/shipper/NAME/deadletter-OUTPUT.jsonl and synced before the
 * cursor moves past them: refused is not lost. */
static int shp_dead_letters(shp_out *o)
{
    shp_batch *b = &o->batch;
    vg_buf line = {0};
    int rc = 0;
    for (size_t i = 0; i < b->n; i++) {
        shp_item *it = &b->items[i];
        if (it->state != SHP_ITEM_FAILED)
            continue;
        if (shp_dead_letter_seen(o, it)) {
            vg_warn("output %s: alert %s refused for good (%s); the dead-letter file has it "
                    "from before the restart", o->conf.name, it->id, it->reason);
            continue;
        }
        vg_buf_addf(&line, "{\"time_us\":%" PRId64 ",\"output\":\"", vg_now_us());
        vg_json_escape(&line, vg_str_c(o->conf.name));
        vg_buf_addf(&line, "\",\"seq\":%" PRIu64 ",\"id\":\"", it->seq);
        vg_json_escape(&line, vg_str_c(it->id));
        vg_buf_adds(&line, "\",\"reason\":\"");
        vg_json_escape(&line, vg_str_c(it->reason));
        vg_buf_adds(&line, "\",\"payload\":\"");
        vg_json_escape(&line, (vg_str){b->data.p + it->off, it->len});
        vg_buf_adds(&line, "\"}\n");
        vg_warn("output %s: alert %s refused for good (%s); kept in the dead-letter file",
                o->conf.name, it->id, it->reason);
    }
    if (line.oom)
        rc = -ENOMEM;
    if (rc == 0 && line.len)
        rc = shp_dead_letter_write(o->s, o->conf.name, line.p, line.len);
    vg_buf_free(&line);
    return rc;
}

/* ---- the delivery pass -------------------------------------------------- */

static void shp_out_send(shp_out *o)
{
    o->in_flight = 1;
    o->stats.batches++;
    int rc = o->tp_ops->send(o, &o->batch);
    if (rc < 0 && o->in_flight) {
        char why[160];
        snprintf(why, sizeof(why), "cannot start delivery: %s", vg_strerror(rc));
        shp_out_done(o, rc, why);
    }
}

static void shp_out_finish(shp_out *o);

static void shp_out_commit_retry(uv_timer_t *t)
{
    shp_out_finish(t->data);
}

/* What shp_out_record says of a record it retries. */
typedef struct shp_record_words {
    const char *done; /* "delivered": "output X: <done> up to N but cannot record it" */
    const char *what; /* "delivery": "still cannot record <what> up to N", "<what> recorded again" */
    const char *none; /* "nothing was delivered twice": said once it is recorded */
} shp_record_words;

/* Records the cursor at o->batch_last. While the store refuses (a full
 * disk), the failure is logged as a streak (first, then once a minute),
 * retry() runs again on the output's retry timer, which also keeps
 * shp_out_pass from building anything meanwhile, and -1 is returned; once
 * recorded, the end of a streak is logged and 0 returned. */
static int shp_out_record(shp_out *o, const shp_record_words *w, uv_timer_cb retry)
{
    int rc = shp_out_commit(o, o->batch_last > o->cursor ? o->batch_last : o->cursor, NULL);
    uint64_t now = uv_now(o->loop);
    if (rc) {
        int say = vg_streak_fail(&o->commit_fails, now);
        if (say == VG_STREAK_FIRST)
            vg_error("output %s: %s up to %" PRIu64 " but cannot record it: %s; trying again "
                     "every %d ms (further failures are logged once a minute)",
                     o->conf.name, w->done, o->batch_last, vg_strerror(rc), SHP_COMMIT_RETRY_MS);
        else if (say == VG_STREAK_REMIND)
            vg_error("output %s: still cannot record %s up to %" PRIu64 ": %s; %" PRIu64
                     " attempts over %" PRIu64 " s",
                     o->conf.name, w->what, o->batch_last, vg_strerror(rc),
                     o->commit_fails.count,
                     (o->commit_fails.logged_ms - o->commit_fails.first_ms) / 1000);
        uv_timer_start(&o->retry_timer, retry, SHP_COMMIT_RETRY_MS, 0);
        return -1;
    }
    double secs;
    uint64_t fails = vg_streak_end(&o->commit_fails, now, &secs);
    if (fails)
        vg_warn("output %s: %s recorded again (up to %" PRIu64 "), after %" PRIu64
                " failed attempts over %.1f s; %s",
                o->conf.name, w->what, o->batch_last, fails, secs, w->none);
    return 0;
}

/* Every item of the batch is settled: move the cursor past it (retried
 * until the store takes it, as the bytes are already delivered), then go
 * on with the next batch. */
static void shp_out_finish(shp_out *o)
{
    static const shp_record_words w = {"delivered", "delivery", "nothing was delivered twice"};
    if (shp_out_record(o, &w, shp_out_commit_retry) != 0) {
        o->commit_pending = 1;
        return;
    }
    o->commit_pending = 0;
    o->have_batch = 0;
    size_t ahead = 0; /* dead letters seen at start still after the cursor */
    for (size_t i = 0; i < o->ndl_seen; i++)
        ahead += o->dl_seen[i].seq > o->cursor;
    if (o->ndl_seen && !ahead) {
        free(o->dl_seen);
        o->dl_seen = NULL;
        o->ndl_seen = 0;
    }
    if (o->nrefused && o->refused[o->nrefused - 1].seq <= o->cursor) {
        free(o->refused);
        o->refused = NULL;
        o->nrefused = 0;
    }
    if (o->tp_ops->committed)
        o->tp_ops->committed(o);
    /* below max_backlog now: take alerts again at once, not at the next
     * tick (a second later: one correlator batch a second, 512 alerts, was
     * all a blocking output with a smaller max_backlog let through) */
    shp_outputs_check_full(o->s);
    shp_outputs_kick(o->s);
}

/* Logs the alerts drop_oldest skipped and has not said yet: the first drop
 * at once, later ones at most once a minute, together (a dead output under
 * load drops at every tick and intake commit, which was a line a second
 * over a weekend's outage); force: now, whatever the time (the stop). The
 * stats' dropped counts each one meanwhile. */
static void shp_out_drop_log(shp_out *o, int force)
{
    uint64_t now = uv_now(o->loop);
    if (!o->drop_unsaid) {
        if (o->drop_said_ms && now - o->drop_said_ms >= SHP_DROP_LOG_MS)
            o->drop_said_ms = 0; /* a quiet minute: the next drop begins a new run */
        return;
    }
    if (!force && o->drop_said_ms && now - o->drop_said_ms < SHP_DROP_LOG_MS)
        return;
    if (!o->drop_said_ms)
        vg_warn("output %s: backlog above max_backlog %" PRId64 ": dropped the %" PRIu64
                " oldest alerts (up to outbox seq %" PRIu64 "; %" PRIu64 " dropped so far; "
                "further drops are logged at most once a minute)",
                o->conf.name, o->conf.max_backlog, o->drop_unsaid, o->drop_unsaid_to,
                o->stats.dropped);
    else
        vg_warn("output %s: backlog above max_backlog %" PRId64 ": dropped the %" PRIu64
                " oldest alerts in the last %.0f s (up to outbox seq %" PRIu64 "; %" PRIu64
                " dropped so far)",
                o->conf.name, o->conf.max_backlog, o->drop_unsaid,
                (double)(now - o->drop_said_ms) / 1000.0, o->drop_unsaid_to, o->stats.dropped);
    o->drop_said_ms = now ? now : 1;
    o->drop_unsaid = 0;
}

/* The outbox records a drop skips before any build read them, counted as
 * the build would: those the output's filter does not take are filtered,
 * not dropped (a chat taking level 10 and up, down under a flood of level
 * 3, was said to have dropped the whole flood); unreadable ones failed. */
typedef struct shp_drop_scan {
    shp_out *o;
    uint64_t taken, filtered, unreadable;
} shp_drop_scan;

static int shp_drop_one(void *ud, uint64_t seq, const void *rec, size_t len)
{
    shp_drop_scan *ds = ud;
    vg_alert al;
    (void)seq;
    if (shp_rec_alert(rec, len, &al) != 0)
        ds->unreadable++;
    else if (shp_filter_match(&ds->o->conf.filter, &al))
        ds->taken++;
    else
        ds->filtered++;
    return 0;
}

static bool shp_filter_any(const shp_filter *f)
{
    return f->min_level <= 0 && !f->agency && !f->site && !f->rule && !f->tag && !f->not_rule;
}

/* Counts the records (from, to] into *ds (shp_drop_one); without a filter
 * every one is taken, unread. */
static int shp_drop_count(shp_out *o, uint64_t from, uint64_t to, shp_drop_scan *ds)
{
    if (shp_filter_any(&o->conf.filter)) {
        ds->taken = to - from;
        return 0;
    }
    int n = vg_queue_scan(o->s->outbox, from + 1, (size_t)(to - from), shp_drop_one, ds);
    if (n < 0)
        return n;
    /* records already trimmed (none should be: they are after the cursor) */
    uint64_t seen = ds->taken + ds->filtered + ds->unreadable;
    if (seen < to - from)
        ds->taken += to - from - seen;
    return 0;
}

/* Applies the drop_oldest policy: if more than max_backlog alerts wait,
 * the oldest are skipped (not the pending batch if it is on the wire). */
static void shp_out_policy(shp_out *o)
{
    /* not a batch delivered whose commit is retried: nothing of it can go */
    if (o->conf.policy != SHP_FULL_DROP_OLDEST || o->conf.max_backlog <= 0 || o->in_flight ||
        o->commit_pending)
        return;
    uint64_t backlog = shp_backlog(o);
    if (backlog <= (uint64_t)o->conf.max_backlog)
        return;
    uint64_t to = vg_queue_last(o->s->outbox) - (uint64_t)o->conf.max_backlog;
    /* what no build read yet: (from, to]; the build counted the rest */
    uint64_t from = o->batch_last > o->cursor ? o->batch_last : o->cursor;
    uint64_t n = 0, upto = to;
    shp_drop_scan ds = {o, 0, 0, 0};
    if (to > from) {
        int rc = shp_drop_count(o, from, to, &ds);
        if (rc) {
            vg_error("output %s: cannot read the outbox to drop alerts: %s; trying again",
                     o->conf.name, vg_strerror(rc));
            return;
        }
    }
    if (o->have_batch) {
        /* Waiting for a retry: its alerts up to 'to' go too; those after
         * it and its summaries stay in it (their windows were reset when
         * it was built). What its build read is not read again: the rate
         * limit counted those alerts already (a held one is in a summary),
         * and counting them twice held back alerts within the limit. An
         * alert dropped gives its place in its rate window back. */
        shp_batch *b = &o->batch;
        shp_item *gone = malloc(b->n * sizeof(*gone) + 1);
        size_t ngone = 0;
        if (!gone) {
            vg_error("output %s: out of memory dropping alerts; trying again", o->conf.name);
            return;
        }
        for (size_t i = 0; i < b->n; i++)
            if (b->items[i].seq != 0 && b->items[i].seq <= to) {
                gone[ngone++] = b->items[i];
                b->items[i].state = SHP_ITEM_OK; /* = not kept below */
            }
        if (shp_batch_keep_unsettled(b) != 0) {
            for (size_t i = 0; i < b->n; i++)
                b->items[i].state = SHP_ITEM_PENDING;
            free(gone);
            vg_error("output %s: out of memory dropping alerts; trying again", o->conf.name);
            return;
        }
        for (size_t i = 0; i < ngone; i++)
            shp_rl_give_back(o, &gone[i]);
        free(gone);
        n = ngone; /* dropped: those, and what the build did not read up to 'to' (below) */
        if (b->n == 0) {
            o->have_batch = 0;
            if (o->batch_last > upto)
                upto = o->batch_last; /* held or filtered after 'to': settled */
        } else if (o->batch_last < to) {
            o->batch_last = to; /* only summaries left: the cursor must not move back */
        }
    }
    int rc = shp_out_commit(o, upto, o->have_batch ? &o->batch : NULL);
    if (rc) {
        vg_error("output %s: cannot record dropped alerts: %s", o->conf.name, vg_strerror(rc));
        return;
    }
    n += ds.taken;
    o->stats.dropped += n;
    o->stats.filtered += ds.filtered;
    o->stats.failed += ds.unreadable;
    o->drop_unsaid += n;
    o->drop_unsaid_to = to;
    shp_out_drop_log(o, 0);
}

static void shp_out_skip_retry(uv_timer_t *t);

/* Records the cursor past a scan that found only alerts filtered out or
 * held back by the rate limit. Their windows and counters already count
 * them: if the store refuses, the record is retried (the timer also keeps
 * shp_out_pass from scanning them, and counting them, again) until it
 * takes it. */
static void shp_out_skip(shp_out *o)
{
    static const shp_record_words w = {"passed filtered or held alerts", "the cursor",
                                       "nothing was counted twice"};
    if (shp_out_record(o, &w, shp_out_skip_retry) != 0)
        return;
    if (o->batch_last < vg_queue_last(o->s->outbox))
        shp_out_pass(o);
}

static void shp_out_skip_retry(uv_timer_t *t)
{
    shp_out_skip(t->data);
}

static void shp_out_pass(shp_out *o)
{
    if (o->in_flight || o->closing || o->s->stopping ||
        uv_is_active((uv_handle_t *)&o->retry_timer))
        return;
    shp_out_policy(o);
    if (!o->have_batch) {
        int rc = shp_batch_build(o);
        if (rc) {
            vg_error("output %s: cannot read the outbox: %s; retrying", o->conf.name,
                     vg_strerror(rc));
            o->attempt++;
            shp_out_backoff(o);
            return;
        }
        if (o->batch.n == 0) {
            if (o->batch_last > o->cursor || o->rl_dirty)
                shp_out_skip(o); /* only filtered or held alerts: move past them */
            return;
        }
        o->have_batch = 1;
    }
    shp_out_send(o);
}

/* Keeps only the items still to send, their bytes packed together. */
static int shp_batch_keep_unsettled(shp_batch *b)
{
    vg_buf nd = {0};
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        shp_item it = b->items[i];
        if (it.state != SHP_ITEM_RETRY && it.state != SHP_ITEM_PENDING)
            continue;
        if (vg_buf_add(&nd, b->data.p + it.off, it.len)) {
            vg_buf_free(&nd);
            return -ENOMEM;
        }
        it.off = nd.len - it.len;
        it.state = SHP_ITEM_PENDING;
        b->items[k++] = it;
    }
    vg_buf_free(&b->data);
    b->data = nd;
    b->n = k;
    return 0;
}

/* item_retry_for: an alert that the destination refuses for now, item by
 * item, holds the output's later alerts (the cursor does not move past its
 * batch); one it refuses every time (an ingest pipeline that throws on it)
 * would hold them for ever. Each item refused so counts the time since its
 * previous such refusal, if that one ended the previous attempt (a failed
 * attempt in between, an outage, breaks the run: its time is not counted,
 * and neither is a request failed as a whole within an attempt); once it
 * reaches item_retry_for the item is refused for good, for the dead-letter
 * file, with the last item error. The clock lives in the batch's items and
 * is stored after each item round (shp_refused_save): a restart keeps the
 * time counted, though not the time it was down. */
static void shp_item_retry_clock(shp_out *o)
{
    shp_batch *b = &o->batch;
    int64_t now = (int64_t)uv_now(o->loop);
    for (size_t i = 0; i < b->n; i++) {
        shp_item *it = &b->items[i];
        int itself = it->refused_itself;
        it->refused_itself = 0;
        if (it->state != SHP_ITEM_RETRY || !itself) {
            it->refused_at_ms = 0;
            continue;
        }
        if (it->refused_at_ms)
            it->refused_ms += now - it->refused_at_ms;
        it->refused_at_ms = now ? now : 1;
        int64_t limit = o->conf.item_retry_for_ms;
        if (limit <= 0 || it->refused_ms < limit)
            continue;
        char last[sizeof(it->reason)];
        memcpy(last, it->reason, sizeof(last));
        /* cut to the room of reason when the last error is long */
        int k = snprintf(it->reason, sizeof(it->reason),
                         "refused for now for %.1f s, longer than item_retry_for (%.1f s); last: %s",
                         (double)it->refused_ms / 1e3, (double)limit / 1e3, last);
        if (k < 0)
            it->reason[0] = '\0';
        it->state = SHP_ITEM_FAILED;
    }
}

void shp_out_done(shp_out *o, int rc, const char *reason)
{
    if (o->closing || !o->in_flight)
        return;
    o->in_flight = 0;
    if (rc < 0) {
        /* Nothing of a failed attempt counts (shp_out.h), the marks a
         * transport made on the way neither: a datagram refused in an
         * attempt refused as a whole must not look refused again after
         * the next attempt delivers it (it was sent twice). */
        for (size_t i = 0; i < o->batch.n; i++) {
            o->batch.items[i].state = SHP_ITEM_PENDING;
            /* an outage breaks item_retry_for's run: its time is not counted */
            o->batch.items[i].refused_at_ms = 0;
            o->batch.items[i].refused_itself = 0;
        }
        o->stats.retried++;
        o->attempt++;
        if (!o->down_since_us)
            o->down_since_us = vg_now_us();
        snprintf(o->last_error, sizeof(o->last_error), "%s",
                 reason ? reason : vg_strerror(rc));
        /* Every failure counts; the log gets the first and then every
         * power of two, so an hour-long outage is a handful of lines. */
        if ((o->attempt & (o->attempt - 1)) == 0)
            vg_warn("output %s: delivery failed (attempt %d): %s; %" PRIu64
                    " alert%s waiting, retrying with backoff",
                    o->conf.name, o->attempt, o->last_error, shp_backlog(o),
                    shp_backlog(o) == 1 ? "" : "s");
        shp_out_backoff(o);
        return;
    }
    shp_batch *b = &o->batch;
    size_t retry = 0, failed = 0;
    shp_item_retry_clock(o);
    for (size_t i = 0; i < b->n; i++) {
        shp_item *it = &b->items[i];
        switch (it->state) {
        case SHP_ITEM_PENDING:
        case SHP_ITEM_OK:
            it->state = SHP_ITEM_OK;
            o->stats.sent++;
            if (it->seq == 0)
                o->stats.summaries++;
            break;
        case SHP_ITEM_DUP:
            o->stats.duplicates++;
            break;
        case SHP_ITEM_RETRY:
            o->stats.item_retries++;
            retry++;
            break;
        case SHP_ITEM_FAILED:
            failed++;
            break;
        }
    }
    if (failed && (rc = shp_dead_letters(o)) != 0) {
        /* Not kept, so not settled: send them again rather than lose them
         * (and not counted as failed: that counts what the dead-letter file
         * holds, once each, however many rounds it takes to get there). */
        vg_error("output %s: cannot write the dead-letter file: %s; the refused alerts will be "
                 "sent again", o->conf.name, vg_strerror(rc));
        for (size_t i = 0; i < b->n; i++)
            if (b->items[i].state == SHP_ITEM_FAILED) {
                b->items[i].state = SHP_ITEM_RETRY;
                retry++;
                o->stats.item_retries++;
            }
    } else {
        o->stats.failed += failed;
    }
    if (o->attempt) {
        /* down_since is set by failed attempts only, not by item retries */
        if (o->down_since_us)
            vg_info("output %s: delivering again after %d failed attempt%s (%.1f s)",
                    o->conf.name, o->attempt, o->attempt == 1 ? "" : "s",
                    (double)(vg_now_us() - o->down_since_us) / 1e6);
        o->attempt = 0;
        o->down_since_us = 0;
        o->last_error[0] = '\0';
    }
    shp_refused_save(o); /* before the repack below, or to forget them */
    if (retry) {
        /* Items refused for now (a _bulk 429 per item: the cluster is
         * overloaded) back off like failed attempts, doubling per round
         * in a row, and say so at rounds 1, 2, 4, 8, ...
         * The first one is named: one the destination refuses with a 5xx
         * every time holds this output's later alerts, and the person
         * who fixes the cause (an ingest pipeline failing on it) needs
         * to know which it is. */
        const shp_item *first = NULL;
        for (size_t i = 0; i < b->n && !first; i++)
            if (b->items[i].state == SHP_ITEM_RETRY)
                first = &b->items[i];
        char which[160];
        snprintf(which, sizeof(which), "%s alert %s, outbox seq %" PRIu64,
                 retry == 1 ? "the" : "the first", first->id[0] ? first->id : "(summary)",
                 first->seq);
        o->item_rounds++;
        if ((o->item_rounds & (o->item_rounds - 1)) == 0)
            vg_warn("output %s: %zu alert%s refused for now (%s); sending %s again after a "
                    "backoff (round %d; %s)", o->conf.name, retry, retry == 1 ? "" : "s",
                    first->reason, retry == 1 ? "it" : "them", o->item_rounds, which);
        /* before the repack below, which moves the items */
        snprintf(o->last_error, sizeof(o->last_error), "%zu alert%s refused for now (%s: %s)",
                 retry, retry == 1 ? "" : "s", which, first->reason);
        if (shp_batch_keep_unsettled(b) == 0) {
            shp_out_backoff(o);
            return;
        }
        /* No memory to repack: send the whole batch again (duplicates are
         * recognisable by id) rather than lose the refused ones. */
        for (size_t i = 0; i < b->n; i++)
            b->items[i].state = SHP_ITEM_PENDING;
        shp_out_backoff(o);
        return;
    }
    o->item_rounds = 0;
    shp_out_finish(o);
}

/* ---- all outputs -------------------------------------------------------- */

static void shp_on_kick(uv_idle_t *h)
{
    shp *s = h->data;
    uv_idle_stop(h);
    for (size_t i = 0; i < s->nouts; i++)
        shp_out_pass(s->outs[i]);
}

void shp_outputs_kick(shp *s)
{
    if (!s->stopping && s->nouts)
        uv_idle_start(&s->kick_idle, shp_on_kick);
}

static void shp_check_full_after(shp *s, const char *cause);

/* A pause of the block policy, as a warning: the first of a run, and again
 * (say VG_STREAK_REMIND) a minute or more after the last line, with the
 * pauses counted so far. */
static void shp_say_full(shp *s, int say)
{
    if (say == VG_STREAK_FIRST)
        vg_warn("an output with on_full: block is at max_backlog: not taking alerts from the "
                "correlator until it catches up (they wait in its outbox)");
    else if (say == VG_STREAK_REMIND)
        vg_warn("an output with on_full: block is at max_backlog: not taking alerts from the "
                "correlator until it catches up (they wait in its outbox); paused %" PRIu64
                " times over %" PRIu64 " s (each pause and resume within a minute of the last "
                "such line is counted, not logged)",
                s->full_runs.count, (uv_now(s->loop) - s->full_runs.first_ms) / 1000);
}

/* The block policy: the intake pauses while any blocking output is at its
 * max_backlog. Checked after every intake commit and once a second. An
 * output catching up (the destination is back, the correlator holds the
 * rest) brings it below at each delivery, and the next correlator batch
 * to it again: the pauses repeat at every batch for as long as the catch-up
 * lasts, so they are one run (vg_streak), logged at its first pause and
 * resume, then at most one of each a minute, where each pause and resume
 * was a line. A pause that came quietly and lasts is said a minute after
 * the resume line (vg_streak_overdue). */
void shp_outputs_check_full(shp *s)
{
    shp_check_full_after(s, "");
}

/* The check itself; cause ("" or " after the reload") names in the resume
 * line what lifted the pause when it was not a delivery. */
static void shp_check_full_after(shp *s, const char *cause)
{
    int full = 0;
    for (size_t i = 0; i < s->nouts; i++) {
        shp_out *o = s->outs[i];
        if (o->conf.policy == SHP_FULL_BLOCK && o->conf.max_backlog > 0 &&
            shp_backlog(o) >= (uint64_t)o->conf.max_backlog)
            full = 1;
    }
    if (s->stopping)
        return;
    uint64_t now = uv_now(s->loop);
    if (full != s->intake_paused) {
        if (full) {
            shp_say_full(s, vg_streak_fail(&s->full_runs, now));
        } else {
            double secs;
            uint64_t n = vg_streak_end(&s->full_runs, now, &secs);
            if (n == 1)
                vg_info("outputs below max_backlog%s: taking alerts again", cause);
            else if (n > 1)
                vg_info("outputs below max_backlog%s: taking alerts again (paused %" PRIu64
                        " times over %.0f s)", cause, n, secs);
        }
        shp_intake_pause(s, full);
    } else if (full && vg_streak_overdue(&s->full_runs, now)) {
        shp_say_full(s, VG_STREAK_REMIND);
    }
}

/* Once a second: drop_oldest (also for an output waiting out a backoff),
 * rate-limit windows that closed, and the block policy. */
static void shp_on_tick(uv_timer_t *t)
{
    shp *s = t->data;
    for (size_t i = 0; i < s->nouts; i++) {
        shp_out_policy(s->outs[i]);
        shp_out_pass(s->outs[i]);
        shp_out_drop_log(s->outs[i], 0); /* drops since the last line, once its minute is up */
    }
    shp_outputs_check_full(s);
}

static int shp_out_open_one(shp *s, shp_out_conf *c, shp_out **out)
{
    shp_out *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->s = s;
    o->conf = *c;
    memset(c, 0, sizeof(*c)); /* moved */
    o->loop = s->loop;
    o->tp_ops = shp_transport_find(o->conf.type);
    uv_timer_init(s->loop, &o->retry_timer);
    o->retry_timer.data = o;
    *out = o;
    int rc = shp_out_start_cursor(s->store, s->outbox, o->conf.name, &o->cursor);
    if (rc)
        return rc;
    shp_rl_load(o);
    shp_dead_letters_load(o);
    shp_refused_load(o);
    return o->tp_ops->open(o);
}

typedef struct shp_stale {
    const shp_conf *conf;
    vg_buf keys; /* the keys to forget, each ended by a NUL */
} shp_stale;

static int shp_stale_key(void *ud, const char *key, size_t len)
{
    shp_stale *sk = ud;
    /* "out.NAME.WHAT": NAME may hold dots, WHAT has none */
    size_t n = len;
    while (n > 4 && key[n - 1] != '.')
        n--;
    if (n <= 5)
        return 0;
    const char *name = key + 4;
    n -= 5;
    for (size_t i = 0; i < sk->conf->noutputs; i++)
        if (strlen(sk->conf->outputs[i].name) == n &&
            memcmp(sk->conf->outputs[i].name, name, n) == 0)
            return 0;
    int rc = vg_buf_add(&sk->keys, key, len);
    return rc ? rc : vg_buf_addc(&sk->keys, '\0');
}

/* Forgets the stored state ("out.NAME.*": cursor, rate-limit windows, a
 * file's offset and path) of outputs that are no longer configured. An
 * output is known by its name, so one renamed back, or removed and added
 * again, is a new output; before, it took its old state for its own, and a
 * file output cut its file back to its old offset, deleting what it had
 * delivered there under its other name. */
static int shp_outputs_forget(shp *s)
{
    shp_stale sk = {.conf = &s->conf};
    int rc = vg_meta_keys(s->store, "out.", shp_stale_key, &sk);
    if (rc == 0 && sk.keys.len && (rc = vg_store_begin(s->store)) == 0) {
        for (size_t at = 0; rc == 0 && at < sk.keys.len; at += strlen(sk.keys.p + at) + 1) {
            vg_info("forgetting %s: no output of that name is configured", sk.keys.p + at);
            rc = vg_meta_del(s->store, sk.keys.p + at);
        }
        rc = rc ? (vg_store_abort(s->store), rc) : vg_store_commit(s->store);
    }
    vg_buf_free(&sk.keys);
    return rc;
}

int shp_outputs_open(shp *s)
{
    int frc = shp_outputs_forget(s);
    if (frc)
        vg_warn("cannot forget the state of removed outputs: %s", vg_strerror(frc));
    uv_idle_init(s->loop, &s->kick_idle);
    s->kick_idle.data = s;
    uv_timer_init(s->loop, &s->tick);
    s->tick.data = s;
    s->outs = calloc(s->conf.noutputs, sizeof(*s->outs));
    if (!s->outs)
        return -ENOMEM;
    for (size_t i = 0; i < s->conf.noutputs; i++) {
        int rc = shp_out_open_one(s, &s->conf.outputs[i], &s->outs[s->nouts]);
        if (s->outs[s->nouts])
            s->nouts++;
        if (rc) {
            const shp_out *bad = s->nouts ? s->outs[s->nouts - 1] : NULL;
            vg_error("output %s (%s): cannot start: %s",
                     bad ? bad->conf.name : s->conf.outputs[i].name,
                     bad ? bad->conf.type : s->conf.outputs[i].type, vg_strerror(rc));
            return rc;
        }
        shp_out *o = s->outs[s->nouts - 1];
        char shown[300];
        bool whole = strcmp(o->conf.type, "webhook") != 0;
        const char *url =
            o->conf.url ? shp_url_shown(o->conf.url, whole, shown, sizeof(shown)) : "";
        vg_info("output %s (%s%s%s): %" PRIu64 " alerts to deliver", o->conf.name, o->conf.type,
                o->conf.path || o->conf.url ? " " : "", o->conf.path ? o->conf.path : url,
                shp_backlog(o));
    }
    uv_timer_start(&s->tick, shp_on_tick, SHP_TICK_MS, SHP_TICK_MS);
    shp_outputs_kick(s);
    return 0;
}

static int shp_strv_eq(char **a, char **b)
{
    for (; a && b && *a && *b; a++, b++)
        if (strcmp(*a, *b))
            return 0;
    return (!a || !*a) == (!b || !*b);
}

static int shp_str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int shp_filter_eq(const shp_filter *a, const shp_filter *b)
{
    return a->min_level == b->min_level && shp_strv_eq(a->agency, b->agency) &&
           shp_strv_eq(a->site, b->site) && shp_strv_eq(a->rule, b->rule) &&
           shp_strv_eq(a->tag, b->tag) && shp_strv_eq(a->not_rule, b->not_rule);
}

/* The keys of an output that a reload does not apply (set when it is
 * opened: its destination, format, credentials and TLS files, its file's
 * rotation, a larger batch, whose buffers are sized at the start), those
 * of them that changed into out, comma-separated; their number. Each
 * changed key is named: a reload that kept a rotated token without a word
 * left the output failing with the old one. */
static int shp_out_restart_keys(const shp_out_conf *was, const shp_out_conf *now,
                                bool batch_sized, char *out, size_t cap)
{
    const vg_conf_change keys[] = {
        {"type", strcmp(was->type, now->type) != 0},
        {"url", !shp_str_eq(was->url, now->url)},
        {"path", !shp_str_eq(was->path, now->path)},
        {"timeout", was->timeout_ms != now->timeout_ms},
        {"batch", batch_sized && now->batch > was->batch},
        {"rotate_size", was->rotate_size != now->rotate_size},
        {"rotate_keep", was->rotate_keep != now->rotate_keep},
        {"format", !shp_str_eq(was->format, now->format)},
        {"framing", !shp_str_eq(was->framing, now->framing)},
        {"leef_delimiter", !shp_str_eq(was->leef_delimiter, now->leef_delimiter)},
        {"facility", !shp_str_eq(was->facility, now->facility)},
        {"hostname", !shp_str_eq(was->hostname, now->hostname)},
        {"app_name", !shp_str_eq(was->app_name, now->app_name)},
        {"max_message_size", was->max_message_size != now->max_message_size},
        {"tls_ca", !shp_str_eq(was->tls_ca, now->tls_ca)},
        {"tls_crl", !shp_str_eq(was->tls_crl, now->tls_crl)},
        {"tls_cert", !shp_str_eq(was->tls_cert, now->tls_cert)},
        {"tls_key", !shp_str_eq(was->tls_key, now->tls_key)},
        {"tls_verify", was->tls_verify != now->tls_verify},
        {"tls_server_name", !shp_str_eq(was->tls_server_name, now->tls_server_name)},
        {"tls_ciphers", !shp_str_eq(was->tls_ciphers, now->tls_ciphers)},
        {"index", !shp_str_eq(was->index, now->index)},
        {"username", !shp_str_eq(was->username, now->username)},
        {"password", !shp_str_eq(was->password, now->password)},
        {"api_key", !shp_str_eq(was->api_key, now->api_key)},
        {"token", !shp_str_eq(was->token, now->token)},
        {"sourcetype", !shp_str_eq(was->sourcetype, now->sourcetype)},
        {"source", !shp_str_eq(was->source, now->source)},
    };
    return vg_conf_changed_list(keys, sizeof(keys) / sizeof(keys[0]), out, cap);
}

void shp_outputs_reload(shp *s, shp_conf *cf)
{
    for (size_t i = 0; i < cf->noutputs; i++) {
        shp_out_conf *c = &cf->outputs[i];
        shp_out *o = NULL;
        for (size_t j = 0; j < s->nouts; j++)
            if (strcmp(s->outs[j]->conf.name, c->name) == 0)
                o = s->outs[j];
        if (!o) {
            vg_warn("output %s is new: it starts after a restart", c->name);
            continue;
        }
        char keys[400];
        if (shp_out_restart_keys(&o->conf, c, o->batch.items != NULL, keys, sizeof(keys)))
            vg_warn("output %s: %s changed: this takes effect after a restart; keeping the "
                    "running values", c->name, keys);
        /* Routing and limits apply from the next batch on. */
        if (!shp_filter_eq(&o->conf.filter, &c->filter)) {
            shp_filter t = o->conf.filter;
            o->conf.filter = c->filter;
            c->filter = t;
            vg_info("output %s: new filter", c->name);
        }
        o->conf.max_backlog = c->max_backlog;
        o->conf.policy = c->policy;
        o->conf.rate_limit = c->rate_limit;
        o->conf.rate_window_ms = c->rate_window_ms;
        o->conf.retry_min_ms = c->retry_min_ms;
        o->conf.retry_max_ms = c->retry_max_ms;
        o->conf.item_retry_for_ms = c->item_retry_for_ms; /* from the next item round on */
        o->conf.batch = c->batch < o->conf.batch || !o->batch.items ? c->batch : o->conf.batch;
    }
    for (size_t j = 0; j < s->nouts; j++) {
        size_t i;
        for (i = 0; i < cf->noutputs && strcmp(cf->outputs[i].name, s->outs[j]->conf.name); i++)
            ;
        if (i == cf->noutputs)
            vg_warn("output %s was removed from the configuration: it stops after a restart",
                    s->outs[j]->conf.name);
    }
    /* A larger max_backlog or another on_full may lift (or a smaller one
     * cause) a pause of the block policy: from the reload itself, not at
     * the next tick, up to a second later. */
    shp_check_full_after(s, " after the reload");
    shp_outputs_kick(s);
}

static int shp_age_one(void *ud, uint64_t seq, const void *rec, size_t len)
{
    (void)seq;
    if (len >= SHP_REC_HDR) {
        uint64_t t = 0;
        const unsigned char *p = rec;
        for (int i = 7; i >= 0; i--)
            t = t << 8 | p[i];
        *(int64_t *)ud = (int64_t)t;
    }
    return 1;
}

/* Age of the oldest alert waiting for o, from its enqueue time. */
static int64_t shp_backlog_age_us(shp_out *o)
{
    int64_t t = 0;
    if (shp_backlog(o) == 0)
        return 0;
    vg_queue_scan(o->s->outbox, o->cursor + 1, 1, shp_age_one, &t);
    return t ? vg_now_us() - t : 0;
}

const char *shp_url_shown(const char *url, bool whole, char *out, size_t cap)
{
    const char *host = url ? strstr(url, "://") : NULL;
    size_t n = host ? (size_t)(host + 3 - url) + strcspn(host + 3, "/?#") : 0;
    if (whole || !host || !url[n])
        return url;
    snprintf(out, cap, "%.*s/\xe2\x80\xa6", (int)n, url); /* "/..." */
    return out;
}

void shp_outputs_report(shp *s)
{
    for (size_t i = 0; i < s->nouts; i++) {
        shp_out *o = s->outs[i];
        vg_buf line = {0};
        vg_buf_addf(&line,
                    "output %s (%s): sent=%" PRIu64 " duplicates=%" PRIu64 " retried=%" PRIu64
                    " item_retries=%" PRIu64 " failed=%" PRIu64 " dropped=%" PRIu64
                    " filtered=%" PRIu64 " summarised=%" PRIu64 " summaries=%" PRIu64
                    " backlog=%" PRIu64 " backlog_age_s=%.1f cursor=%" PRIu64 " state=%s",
                    o->conf.name, o->conf.type, o->stats.sent, o->stats.duplicates,
                    o->stats.retried, o->stats.item_retries, o->stats.failed, o->stats.dropped,
                    o->stats.filtered, o->stats.summarised, o->stats.summaries, shp_backlog(o),
                    (double)shp_backlog_age_us(o) / 1e6, o->cursor,
                    o->attempt || o->item_rounds ? "retrying" : "ok");
        if (o->tp_ops->report)
            o->tp_ops->report(o, &line);
        if (o->attempt || o->item_rounds)
            vg_buf_addf(&line, " last_error=\"%s\"", o->last_error);
        if (!line.oom)
            vg_info("%.*s", (int)line.len, line.p);
        vg_buf_free(&line);
    }
}

uint64_t shp_outputs_fp(const shp *s, uint64_t h)
{
    for (size_t i = 0; i < s->nouts; i++) {
        shp_out *o = s->outs[i];
        const uint64_t v[] = {o->stats.sent,       o->stats.duplicates, o->stats.retried,
                              o->stats.item_retries, o->stats.failed,   o->stats.dropped,
                              o->stats.filtered,   o->stats.summarised, o->stats.summaries,
                              shp_backlog(o),      o->cursor,           (uint64_t)o->attempt,
                              (uint64_t)o->item_rounds};
        h = vg_fnv1a(h, v, sizeof(v));
    }
    return h;
}

void shp_out_closed(shp_out *o)
{
    o->closed = 1;
}

static void shp_on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void shp_out_close_now(shp_out *o)
{
    if (o->closing)
        return;
    o->closing = 1;
    shp_out_drop_log(o, 1); /* the log adds up to the last stats line */
    uv_close((uv_handle_t *)&o->retry_timer, shp_on_handle_closed);
    o->tp_ops->close(o);
}

/* During a stop, every SHP_STOP_POLL_MS: closes each output whose attempt
 * has ended (its result recorded by shp_out_done: the cursor moved past
 * what was delivered); at the deadline, the others too, abandoning their
 * attempt. Polled rather than done from shp_out_done, which a transport
 * calls from inside its own callbacks, where closing it is not safe for
 * every transport. */
static void shp_on_stop_poll(uv_timer_t *t)
{
    shp *s = t->data;
    int waiting = 0, late = uv_now(s->loop) >= s->stop_deadline_ms;
    for (size_t i = 0; i < s->nouts; i++) {
        shp_out *o = s->outs[i];
        if (o->closing)
            continue;
        if (o->in_flight && !late) {
            waiting++;
            continue;
        }
        if (o->in_flight)
            vg_warn("output %s: stopping with a delivery still in flight after %d ms; its %zu "
                    "items are sent again after the restart", o->conf.name, SHP_STOP_GRACE_MS,
                    o->batch.n);
        shp_out_close_now(o);
    }
    if (waiting) {
        s->stop_waited = 1;
        return;
    }
    if (!uv_is_closing((uv_handle_t *)t))
        uv_close((uv_handle_t *)t, shp_on_handle_closed);
    if (s->stop_waited)
        shp_outputs_report(s); /* what the attempts that ended meanwhile delivered */
}

/* The stop (SIGTERM): no new attempt starts, and an attempt in flight is
 * given up to SHP_STOP_GRACE_MS to end and be recorded. Abandoned at once,
 * as before, a request the destination had taken was sent again after
 * the restart: a duplicate at HEC and at a webhook, at every restart that
 * came during a request. */
void shp_outputs_close(shp *s)
{
    s->stopping = 1;
    if (uv_is_closing((uv_handle_t *)&s->tick))
        return;
    uv_close((uv_handle_t *)&s->tick, shp_on_handle_closed);
    uv_close((uv_handle_t *)&s->kick_idle, shp_on_handle_closed);
    uv_timer_init(s->loop, &s->stop_timer);
    s->stop_timer.data = s;
    uv_update_time(s->loop);
    s->stop_deadline_ms = uv_now(s->loop) + SHP_STOP_GRACE_MS;
    shp_on_stop_poll(&s->stop_timer);
    if (!uv_is_closing((uv_handle_t *)&s->stop_timer))
        uv_timer_start(&s->stop_timer, shp_on_stop_poll, SHP_STOP_POLL_MS, SHP_STOP_POLL_MS);
}

void shp_outputs_free(shp *s)
{
    for (size_t i = 0; i < s->nouts; i++) {
        shp_out *o = s->outs[i];
        shp_out_conf_free(&o->conf);
        free(o->batch.items);
        vg_buf_free(&o->batch.data);
        for (size_t j = 0; j < o->nrl; j++)
            free(o->rl[j].rule_id);
        free(o->rl);
        shp_rl_snap_clear(o);
        free(o->dl_seen);
        free(o->refused);
        free(o);
    }
    free(s->outs);
    s->outs = NULL;
    s->nouts = 0;
}
