/* The rule engine's insides, shared by its files and by nothing else (the
 * API is cor_eval.h):
 *   cor_eval.c    events in: the prefilter, match rules, hits and alerts,
 *                 the sweep of expired groups, rule swaps;
 *   cor_window.c  what each correlation type keeps and when it fires
 *                 (docs/rules.md has the semantics);
 *   cor_group.c   groups: their tables, LRU order, eviction and memory;
 *   cor_state.c   groups saved to and restored from LMDB.
 * cor__ names are shared between those files only.
 *
 * Groups exist by the hundred thousand, so they are small: a fixed header,
 * the group key inline, and arrays sized by the rule (threshold, number of
 * referenced rules, raw lines kept). */
#ifndef COR_EVAL_INT_H
#define COR_EVAL_INT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "cor_eval.h"
#include "vigil/util.h"


#define COR_RAW_KEEP 10          /* raw lines kept per group for its alert */
#define COR_RAW_MAX 1024         /* bytes kept of each */
#define COR_RAW_UNIT 256         /* raw buffers hold a multiple of this */
#define COR_RAWPOOL_MAX 4096     /* one-unit raw buffers kept for reuse (1 MiB) */
#define COR_BLK_ALIGN 64         /* group blocks come in multiples of this */
#define COR_BLK_CLASSES 32       /* ... up to 2 KiB; larger ones go to malloc */
#define COR_BLKPOOL_BYTES (4u << 20) /* freed group blocks kept for reuse, in all */
#define COR_KEY_SEP '\x1f'
#define COR_BATCH 128             /* events scanned ahead by cor_eval_events */
#ifndef COR_EC_EXTRA_MAX /* a test build may make it small */
#define COR_EC_EXTRA_MAX 4096     /* event_count: times kept beyond N, at most */
#endif
#ifndef COR_ROOM_FIRST /* a test build may make it small */
#define COR_ROOM_FIRST 16         /* event_count, value_count: N's room at first, at most */
#endif
#define COR_VC_TIMES 8            /* value_count: times kept per value (cor_vc_time) */
#ifndef COR_VCX_MIN /* smaller in a test build: every group indexed */
#define COR_VCX_MIN 32            /* value_count: values from which a group has an index */
#endif
#define COR_MS_KEEP 8             /* match rules: alert times a suppression group keeps */
#define COR_SEQ_OCC 64            /* occurrences of a repeated line told apart (cor_window.c) */

typedef struct cor_group cor_group;
struct cor_group {
    cor_group *prev, *next; /* LRU list, most recently updated first */
    uint64_t h;
    int64_t last_us;        /* event time of the last update */
    uint64_t touch;         /* when it was last updated, in updates (cor_eval.touch): its
                             * place in the LRU list, saved so that a restart keeps it */
    int64_t suppress_until; /* no firing before this event time */
    union {
        int64_t aux;        /* absence: last seen; match suppression: watermark at the last hit;
                             * temporal_ordered: the line, and its first cor_eval.seen */
        struct cor_vcx *vx; /* value_count (a group with vals): the index of its values
                             * once it has COR_VCX_MIN (cor_vcx.c), else NULL; saved as 0 */
    };
    uint8_t fired;          /* absence: already reported silent */
    uint8_t dirty;          /* 1: changed since written; 2: written into the open
                             * transaction (cor_eval.written), not yet committed */
    uint16_t blk;           /* its block's size class (cor_blk_class) */
    uint8_t rawcap[COR_RAW_KEEP]; /* raw[i]'s room, in COR_RAW_UNIT bytes */
    uint32_t n;             /* entries used in ts/vals */
    uint32_t nraw, rawpos;  /* raw ring */
    uint32_t over_pos;      /* its place in cor_table.over, when that is built */
    int64_t *ts;            /* event_count: times; value_count: per value; temporal: per ref;
                             * temporal_ordered: cor_seq.h's layout; match suppression:
                             * alert times, most recently used last */
    char **vals;            /* value_count: distinct values */
    char **raw;             /* ring of the last raw lines */
    uint32_t keylen;
    uint32_t tcap;          /* event_count, temporal_ordered: room in ts; value_count: in
                             * vals. Past the first room, they are blocks of their own
                             * (cor__ts_grow, cor__vc_grow) */
    char key[];             /* group_by values joined by COR_KEY_SEP */
};

/* A group and the index of its rule (cor_eval.dirtyv, .written). */
typedef struct cor_gref {
    cor_group *g;
    uint32_t ri;
} cor_gref;

/* Bytes of a group's block before its arrays (header and key). */
static inline size_t cor_group_head(size_t keylen)
{
    return (sizeof(cor_group) + keylen + 1 + 7) & ~(size_t)7;
}

/* Whether g's times (and value_count's values) moved out of its block. */
static inline int cor_group_grown(const cor_group *g)
{
    return g->tcap && g->ts != (int64_t *)((char *)g + cor_group_head(g->keylen));
}

/* A slot of a group table: the group's hash beside it, so that looking up a
 * key that has no group (most hits of a rule grouped by source address make
 * a new group) reads the slots only, never a group. */
typedef struct cor_slot {
    uint64_t h;
    cor_group *g; /* NULL: empty */
} cor_slot;

typedef struct cor_table {
    cor_slot *b;            /* open addressing, linear probing, at most half full */
    uint32_t nb, count;
    cor_group *head, *tail;
    int64_t degraded_at;    /* event time of the last degradation alert */
    uint64_t evicted;       /* evictions so far, the alert's count: kept with the state */
    int degraded_dirty;     /* degraded_at or evicted changed since the last flush (2:
                             * written into the open transaction, as cor_group.dirty) */
    int shed;               /* groups evicted for room in the store (cor_shed.c) since
                             * its degradation alert was last considered */
    uint64_t evicted_stored; /* evicted as the store has it (its last commit, or
                              * cor_shed.c's deletes, which record their own count) */
    /* max_groups' second order of the groups (cor_group.c, cor_over_drop):
     * a binary min-heap by a time before which the group is surely not over
     * (updates only move that time later, so a hit costs nothing here), to
     * find groups over behind a live LRU tail. Built the first time the cap
     * meets a live tail, kept up by group creation and removal from then on
     * (NULL before: a table below its cap pays one test per new group).
     * An absence's times depend on its clock too: over_clock is the clock
     * the heap was built at (cor_over_drop). */
    struct cor_over {
        int64_t at;
        cor_group *g;
    } *over;
    uint32_t nover, capover;
    int64_t over_clock;
} cor_table;

/* A pending delete of persisted state: one group, or a whole rule. */
typedef struct cor_del {
    char *key;
    size_t len;
    int prefix;
} cor_del;

/* One step of cor_eval_tick's sweep over the correlations (rs->order), with
 * what the sweep needs at hand: reading each cor_rule instead (about 400
 * bytes apiece, a cache miss each) once per second of event time was 12% of
 * a replay at 1,000 rules. */
typedef struct cor_sweep {
    uint32_t ci;      /* rule index */
    uint8_t absence;  /* COR_ABSENCE: reported, not just dropped */
    int64_t span_us;  /* timespan_us */
} cor_sweep;

struct cor_eval {
    cor_ruleset *rs;
    cor_table *tables; /* per rule index; unused for match rules */
    vg_store *st;
    MDB_dbi dbi;
    cor_lists *lists;
    int64_t wm;        /* watermark: highest trusted event time seen (lateness) */
    int64_t clock;     /* absence time: max(wm, what cor_eval_tick was told) */
    int64_t now_us;    /* this host's clock at the batch (0 offline): arrival bound */
    int64_t ahead_us, behind_us; /* largest clock differences since (cor_eval_skew) */
    int64_t device_us;           /* largest untrusted own time past arrival since */
    char device_host[64];        /* its event's HOSTNAME (cor_eval_device_ahead) */
    uint64_t touch;    /* updates so far (cor_group.touch) */
    int64_t absence_checked;
    cor_del *dels;
    size_t ndels, capdels;
    size_t ndels_flushed; /* dels[0 .. this) were done by the outstanding flush */
    /* what the last cor_eval_flush wrote (groups at dirty 2; its dels stay
     * in dels): kept until the transaction is known committed, so that one
     * that a full store failed can be written again (cor_eval_unflushed)
     * without running its events again. A group freed meanwhile leaves a
     * NULL (cor__group_free). */
    cor_gref *written;
    size_t nwritten, capwritten;
    /* the groups at dirty 1 (cor__dirty), so that a flush writes what the
     * batch touched instead of walking every group of every rule (10,000 a
     * batch at 1,000 rules: 40% of the live correlator's time). A group
     * freed meanwhile leaves a NULL. Kept only with a store; dirty_all:
     * not kept up (out of memory, or rule indices moved by a reload), the
     * next flush walks every group */
    cor_gref *dirtyv;
    size_t ndirtyv, capdirtyv;
    int dirty_all;
    int flushed; /* a flush is outstanding: the next one takes it as committed */
    /* cor_shed.c: groups picked for eviction (the oldest), in the order of
     * their stored keys (cor_eval_shed_pick) */
    struct cor_shed_pick {
        cor_group *g;
        uint32_t ri;
        uint32_t rank; /* the rule's place in the order of rule ids */
    } *shed;
    size_t nshed, capshed;
    cor_trace_fn trace;
    void *trace_ud;
    cor_eval_stats stats;
    msgpack_sbuffer sb;
    /* cor_eval_tick's work list, rebuilt with the rules (cor_eval_index) */
    uint32_t *sup;    /* match rules with a suppression, in rs->matches order */
    uint32_t nsup;
    cor_sweep *sweep; /* rs->norder entries */
    /* bit o set: the table of sweep[o] may hold groups. The sweep visits only
     * those instead of reading all rs->norder table headers once per second
     * of event time (at 1,000 correlations: 137 -> 112 instructions and 6.0 ->
     * 3.4 cache misses per line). Set when a table gets its first group
     * (cor_live_mark), cleared by the sweep when it finds the table empty. */
    uint64_t *live;
    uint32_t *sweep_pos; /* rule index -> position in sweep, UINT32_MAX if none */
    uint64_t *bcand;     /* cor_eval_events: COR_BATCH candidate bitmaps */
    /* due[o]: no event time before this can let the sweep drop a group of
     * sweep[o]'s table (a non-absence one), so the sweep skips the table
     * until the watermark gets there. Never later than the truth: set
     * exactly by the sweep, reset to INT64_MIN ("look") when the oldest
     * group changes. Looking at every live table once per second of event
     * time, to find nothing to drop in most, was 7% of a replay at 1,000
     * rules (a cache miss or two per table). */
    int64_t *due;
    /* raw-line buffers of one unit (a stack of them) and group blocks of
     * freed groups (free lists through their first bytes), for reuse:
     * groups come and go by the thousand per minute, and malloc, free and
     * malloc_usable_size on each were 8% of a replay at 1,000 rules
     * (bench/README.md, session 12) */
    /* temporal_ordered: per group the current line (occurrence occ of a
     * repeated one) was buffered in, the slots (mask; UINT32_MAX once a
     * sequence used it), so that one line fills one step (cor_window.c).
     * Emptied by the next line (evno); a group's entries are a list from
     * its aux; a freed group leaves them. */
    uint64_t evno, seen_evno;
    uint32_t occ, nseen, capseen;
    struct cor_seen {
        const struct cor_group *g;
        uint32_t occ, mask, next;
    } *seen;
    /* a repeated line's match hits ("message repeated N times"), kept
     * while the rules run, so that its occurrences 1 .. N-1 are fed one
     * after the other each to all its rules, as N lines would be
     * (cor__hit_out feeds occurrence 0, cor_eval.c the rest) */
    struct cor_pend *pend;
    uint32_t npend, cappend;
    char *rawpool[COR_RAWPOOL_MAX]; /* a stack, so that a buffer given back is not touched */
    uint32_t nrawpool;
    void *blkpool[COR_BLK_CLASSES + 1];
    size_t blkpool_bytes;
    /* groups alive, and the most alive at once since cor_eval_groups_peak
     * last asked: the daemon gives the memory of a flood's swept groups back
     * to the system (cor_mem.c) */
    uint64_t groups_live, groups_peak;
    /* bytes of groups given back to malloc so far (cor__group_free's
     * estimate: block, values, index, raw lines): cor_mem.c trims on it */
    uint64_t freed_bytes;
    /* cor_shed.c: the stored key after the last one cor_eval_shed_delete
     * deleted (last: the fields above keep their places, the replay's) */
    char shed_follow[512]; /* COR_STATE_KEY_MAX + 1, checked below */
    size_t shed_follow_len;
};

/* The degradation alert of rule r (table t), at most one an hour per rule
 * (cor_group.c): for its cap (store 0) or for a full state store (store 1,
 * cor_shed.c). now is event time. */
int cor__degraded(cor_eval *e, const cor_rule *r, cor_table *t, int64_t now, int store,
                  cor_emit_fn emit, void *ud);

/* The meta key "cor.WHAT.RULE" of a rule's degradation memory (cor_state.c:
 * "degraded", "evicted", "dghash"). 0, or -ENAMETOOLONG. */
int cor__degraded_key(const char *id, const char *what, char *buf, size_t cap);

/* The oldest group of t changed: the sweep must look at t again. */
static inline void cor_due_reset(cor_eval *e, const cor_table *t)
{
    uint32_t o = e->sweep_pos[t - e->tables];
    if (o != UINT32_MAX)
        e->due[o] = INT64_MIN;
}

/* Table t just got its first group: the sweep must visit it. */
static inline void cor_live_mark(cor_eval *e, const cor_table *t)
{
    uint32_t o = e->sweep_pos[t - e->tables];
    if (o != UINT32_MAX)
        e->live[o / 64] |= 1ULL << (o % 64);
}

/* ---- fields and hits ------------------------------------------------------ */

typedef struct cor_ctx {
    const vg_event *ev;
    vg_kv f[VG_ALERT_MAX_FIELDS]; /* f[0 .. nf) are set, the rest is garbage */
    uint32_t nf;
} cor_ctx;

/* Starts a context with no fields. Not a designated initializer, which
 * would zero f[] (512 bytes) for every candidate rule and every hit. */
static inline void cor_ctx_init(cor_ctx *c, const vg_event *ev)
{
    c->ev = ev;
    c->nf = 0;
}


/* What a firing rule reports: the triggering event's context plus the
 * rule's own fields. */
typedef struct cor_hit {
    const cor_rule *r;
    const cor_ctx *ctx;  /* the event and its captures */
    vg_kv f[VG_ALERT_MAX_FIELDS];
    uint32_t nf;
    int64_t ts, first;
    uint64_t count;
    const cor_group *g;  /* correlation hits: raw lines */
} cor_hit;

/* A match hit whose later occurrences are still to be fed (cor_eval.pend):
 * the hit with its own copy of the context (hit.ctx is set when fed). */
struct cor_pend {
    cor_hit hit;
    cor_ctx ctx;
};

/* Starts a hit with no fields (f[] is not zeroed: see cor_ctx_init). */
static inline void cor_hit_init(cor_hit *h, const cor_rule *r, const cor_ctx *ctx, int64_t ts,
                                int64_t first, uint64_t count)
{
    h->r = r;
    h->ctx = ctx;
    h->nf = 0;
    h->ts = ts;
    h->first = first;
    h->count = count;
    h->g = NULL;
}

/* Why a rule's correlation state was dropped (cor_state_dropped_log). */
typedef enum { COR_DROP_CHANGED, COR_DROP_REMOVED, COR_DROP_STATELESS } cor_drop_why;

/* Logs that rule_id's state of n groups was dropped, and why: a reload or
 * a restart that loses a half-counted attack must say whose it was. */
void cor_state_dropped_log(const char *rule_id, uint64_t n, cor_drop_why why);

/* Rules with state: correlations, and match rules with a suppression. */
static inline bool cor_stateful(const cor_rule *r)
{
    return r->kind != COR_MATCH || r->suppress_us > 0;
}

/* Hash of a group key. */
static inline uint64_t cor_hash(const char *p, size_t n)
{
    return vg_fnv1a(VG_FNV1A_INIT, p, n);
}

/* value_count: value k's times, COR_VC_TIMES slots, oldest first, with
 * INT64_MIN in the unused ones (which therefore come first). */
static inline int64_t *cor_vc_times(const cor_group *g, uint32_t k)
{
    return g->ts + (size_t)k * COR_VC_TIMES;
}

/* ---- cor_group.c: groups, tables, memory ---------------------------------- */

/* The group of key in rule r's table t, created if new. At the rule's
 * max_groups, groups that are over (the sweep would drop them at this
 * event's time) go first, quietly, wherever they are in the LRU order; only
 * when none is, the least recently updated group is evicted (counted, and a
 * degradation alert is emitted). NULL when out of memory. */
cor_group *cor__group_get(cor_eval *e, const cor_rule *r, cor_table *t, const char *key, size_t len,
                          int64_t now, cor_emit_fn emit, void *ud);
/* A new group of rule r, not in any table (cor_state.c links it). */
cor_group *cor__group_new(cor_eval *e, const cor_rule *r, const char *key, size_t len, uint64_t h);
/* Frees g and its arrays (to the engine's pools when they have room). */
void cor__group_free(cor_eval *e, cor_group *g);
/* Times a new group of rule r has room for (see cor_group.c). */
uint32_t cor__group_nts(const cor_rule *r);
/* Room in t for one more group: its slots doubled when that would make
 * them more than half full. 0, or -ENOMEM. */
int cor__table_room(cor_table *t);
/* Puts g (not in t; cor__table_room made room) in t's slots. */
void cor__table_put(cor_eval *e, cor_table *t, cor_group *g);
/* Unlinks g from t (its slot and the LRU list); the caller frees it. */
void cor__table_remove(cor_eval *e, cor_table *t, cor_group *g);
/* Frees every group of t and empties it. */
void cor__table_clear(cor_eval *e, cor_table *t);
/* g's time in t's second order (cor_table.over), if built, is taken
 * again: after an update that made g over sooner (a match group's aux can
 * go back, after a hit ahead of the watermark; an absence's report). */
void cor__over_moved(const cor_eval *e, const cor_rule *r, cor_table *t, cor_group *g);
/* Forgets t's second order (cor_table.over), to be built again when needed:
 * for a table kept by a reload, whose lateness may have changed. */
void cor__over_forget(cor_table *t);
/* Puts g at the front of t's LRU list (cor__lru_front: and stamps it as
 * updated now). */
void cor__lru_link(cor_eval *e, cor_table *t, cor_group *g);
void cor__lru_front(cor_eval *e, cor_table *t, cor_group *g);
/* Queues the deletion of a group's record (or, with prefix, of every record
 * of rule_id) for the next cor_eval_flush. */
int cor__del_push(cor_eval *e, const char *rule_id, const char *key, size_t keylen, int prefix);
/* The LMDB key of a group's record in out (cap bytes): rule id, NUL, group
 * key; when that is longer than an LMDB key takes (an attacker's long user
 * name), the group key's hash instead, *hashed set and the key kept in the
 * record. Returns its length, 0 if even that does not fit. */
#define COR_STATE_KEY_MAX 511
_Static_assert(sizeof(((cor_eval *)0)->shed_follow) == COR_STATE_KEY_MAX + 1,
               "cor_eval.shed_follow holds a stored key");
size_t cor__state_key(const char *rule_id, const char *key, size_t keylen, char *out,
                      size_t cap, int *hashed);
/* Copies raw (at most COR_RAW_MAX bytes) into g's ring of raw lines, with
 * ts, the time the group counted it at: an alert carries only the lines of
 * its own window (cor_emit_hit). cut: raw is already incomplete (the
 * collector's VG_EV_TRUNCATED, a mark restored from the state); a line
 * longer than COR_RAW_MAX is marked cut here. A slot holds a header (the
 * time, then a byte of COR_RAW_* flags), then the line and its NUL. */
void cor__raw_keep(cor_eval *e, cor_group *g, vg_str raw, int64_t ts, int cut);
#define COR_RAW_NOTIME INT64_MIN /* a line restored from a record without times */
#define COR_RAW_HEAD (sizeof(int64_t) + 1) /* a slot's header: time, flags */
#define COR_RAW_CUT 1u /* slot flag: the line kept is not the whole message */
static inline int64_t cor_raw_time(const char *slot)
{
    int64_t t;
    memcpy(&t, slot, sizeof(t));
    return t;
}
static inline int cor_raw_cut(const char *slot)
{
    return ((unsigned char)slot[sizeof(int64_t)] & COR_RAW_CUT) != 0;
}
static inline const char *cor_raw_line(const char *slot)
{
    return slot + COR_RAW_HEAD;
}
/* Room for want entries in g's times (cor__ts_grow) or values and their
 * times (cor__vc_grow), up to the rule's cap: 0, or -ENOMEM. */
int cor__ts_grow(const cor_rule *c, cor_group *g, uint32_t want);
int cor__vc_grow(const cor_rule *c, cor_group *g, uint32_t want);
/* Frees the engine's pools of raw-line buffers and group blocks. */
void cor__pools_free(cor_eval *e);

/* ---- cor_vcx.c: the index of a value_count group's values ----------------- */

/* Builds g->vx from g's values (g->n of them) and their times. The index
 * is g's to free (cor__vcx_free, which cor__group_free calls). 0, or
 * -ENOMEM (g->vx stays NULL: the callers then read the places). */
typedef struct cor_vcx cor_vcx;
int cor__vcx_build(cor_group *g);
size_t cor__vcx_free(cor_group *g); /* returns the bytes it freed */
/* The place of value val in g (which has an index), UINT32_MAX if none. */
uint32_t cor__vcx_find(const cor_group *g, vg_str val);
/* The index follows g's places and times through these, each a no-op
 * without an index: cor__vcx_put after g->vals[k] is set to a new value (in
 * the hash; -ENOMEM drops the index), cor__vcx_drop before the value at k
 * is freed (the one cor__vcx_oldest names: the next at k then takes over
 * its entries), cor__vcx_moving before k's times change and cor__vcx_moved
 * after (a new value too, once it has a time). */
int cor__vcx_put(cor_group *g, uint32_t k);
void cor__vcx_drop(cor_group *g, uint32_t k);
void cor__vcx_moving(cor_group *g, uint32_t k);
void cor__vcx_moved(cor_group *g, uint32_t k);
/* With an index: the value seen longest ago (the earliest latest sighting,
 * at the first place among equals), the latest sighting of all, and the
 * number of values whose latest sighting is after edge (amortized O(1)
 * while edge moves one way). */
uint32_t cor__vcx_oldest(const cor_group *g);
int64_t cor__vcx_latest(const cor_group *g);
uint32_t cor__vcx_after(cor_group *g, int64_t edge);
/* With an index: the earliest time kept after edge, INT64_MAX if none
 * (amortized O(log n) while edge moves on; an edge before the last one
 * asked reads every value once). */
int64_t cor__vcx_first(cor_group *g, int64_t edge);
/* With an index: the first place at or after k of a value whose latest
 * sighting is after the edge cor__vcx_after last took (in the window it
 * counted), UINT32_MAX if none. */
uint32_t cor__vcx_next_live(const cor_group *g, uint32_t k);

/* ---- cor_window.c: correlations ------------------------------------------- */

/* Feeds a hit to every correlation that counts its rule. */
int cor__feed(cor_eval *e, const cor_hit *hit, cor_emit_fn emit, void *ud);

/* ---- cor_eval.c ----------------------------------------------------------- */

/* A field of the context by name: captures and group values first, then the
 * event's own; VG_STR_NULL if it has none. */
vg_str cor__field(const cor_ctx *c, const char *name);
/* Writes r's group key for src into buf (cap bytes) and the group fields,
 * as views into buf, into gf[0 .. r->ngroup). Returns the key's length. */
ssize_t cor__group_key(const cor_rule *r, const cor_ctx *src, char *buf, size_t cap, char **key,
                       vg_kv *gf);
/* A rule hit: alert if it alerts, then feed the correlations counting it. */
int cor__hit_out(cor_eval *e, const cor_hit *hit, cor_emit_fn emit, void *ud);
/* The group's values are its key: splits them back into fields f[0 ..
 * c->ngroup) (views into g's key); returns c->ngroup. */
uint32_t cor__key_fields(const cor_rule *c, const cor_group *g, vg_kv *f);
/* Group g of correlation c as --groups lists it (views into g: valid while
 * g is). */
void cor__group_view(const cor_rule *c, const cor_group *g, cor_group_view *gv);
/* Marks g (of rule ri) changed: written at the next flush (cor_eval.dirtyv). */
void cor__dirty(cor_eval *e, uint32_t ri, cor_group *g);
/* Appends (g, ri) to the list *v of *n entries and room for *cap: 0, or
 * -ENOMEM (the list unchanged). */
int cor__gref_push(cor_gref **v, size_t *n, size_t *cap, cor_group *g, uint32_t ri);
/* An event time as --explain and the alerts print it (UTC, microseconds). */
void cor__trace_time(char *buf, size_t cap, int64_t us);
/* Reports absence group g of c as silent at time clk ("silent since" its
 * last event) and marks it reported. */
int cor__absence_report(cor_eval *e, cor_rule *c, cor_group *g, int64_t clk, cor_emit_fn emit,
                        void *ud);

/* ---- cor_state.c: LMDB ---------------------------------------------------- */

/* Loads the saved groups of e's rules; records of rules gone or changed are
 * queued for deletion. Sets the watermark saved with them. */
int cor__state_load(cor_eval *e);

#endif
