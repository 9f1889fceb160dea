/* The rule engine, the same live (cor_engine.c) and offline (--replay,
 * --test-rules, --explain): events in, alerts out through a callback.
 *
 * Correlation state (windows, counters, sequences, suppressions) lives in
 * memory and, when the engine has a store, is written to LMDB by
 * cor_eval_flush inside the caller's write transaction: the caller commits
 * it together with the input position it has reached, so that after a kill
 * and restart the engine resumes exactly where the committed input ends. */
#ifndef COR_EVAL_H
#define COR_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "cor_rules.h"
#include "vigil/store.h"

/* Event times this far past arrival are not trusted, nor (live) arrival
 * times this far past this host's clock. */
#define COR_FUTURE_US (300LL * 1000000)

typedef struct cor_eval cor_eval;
typedef struct cor_lists cor_lists;

/* An alert is ready. Its views are valid during the call only. */
typedef int (*cor_emit_fn)(void *ud, const vg_alert *al);

/* Explains one event: called for every rule tried (see --explain). */
typedef void (*cor_trace_fn)(void *ud, const cor_rule *r, const char *verdict, const vg_kv *f,
                             uint32_t nf);

typedef struct cor_eval_stats {
    uint64_t events, late, evictions, alerts, groups, trimmed;
    /* live: events whose arrival time was past this host's clock, and events
     * whose own time was kept because it agrees with this host's clock, not
     * with their arrival time (cor_eval_set_now); and events whose own time
     * was more than COR_FUTURE_US past both and so not trusted (a device
     * whose clock runs ahead, or a stamp of 2100): they took their arrival */
    uint64_t clock_ahead, clock_behind, device_ahead;
} cor_eval_stats;

/* Creates an engine over rs (borrowed; see cor_eval_set_rules). With a
 * store, state is loaded from it (what matches the rules' definitions) and
 * flushed to it; without, it lives in memory only. lists may be NULL. */
int cor_eval_new(cor_eval **out, cor_ruleset *rs, vg_store *st, cor_lists *lists);
void cor_eval_free(cor_eval *e);

/* Replaces *e with an engine whose state is the store's (as of its last
 * commit), with the counters *keep: for after an aborted transaction, whose
 * events changed the groups in memory but not in the store. Running them
 * again on *e would count them twice. On failure *e is left as it was
 * (still ahead of the store) and the error is returned. */
int cor_eval_reload(cor_eval **e, const cor_eval_stats *keep);

/* Swaps in a new rule set: the state of every correlation whose definition
 * (hash) is unchanged is kept, the rest is dropped (and deleted from the
 * store at the next flush). The old set may be freed after this returns. */
int cor_eval_set_rules(cor_eval *e, cor_ruleset *rs);

/* Runs every rule over ev. */
int cor_eval_event(cor_eval *e, const vg_event *ev, cor_emit_fn emit, void *ud);

/* Runs every rule over evs[0..n), in order: the same alerts and state as n
 * calls of cor_eval_event, faster (the prefilter scans a few events ahead).
 * Stops at the first error, which it returns. */
int cor_eval_events(cor_eval *e, const vg_event *evs, size_t n, cor_emit_fn emit, void *ud);

/* Advances time to now_us (event time) without an event: absence rules
 * fire for groups silent too long. Live mode calls it with the wall clock
 * minus the allowed lateness. */
int cor_eval_tick(cor_eval *e, int64_t now_us, cor_emit_fn emit, void *ud);

/* Writes changed state into the store's open write transaction. What it
 * wrote is remembered until the transaction's fate is told: committed
 * (cor_eval_committed, or the next flush, which takes it as such) or
 * aborted with the state kept in memory (cor_eval_unflushed: the next flush
 * writes it all again). An aborted transaction whose state is not kept
 * goes with cor_eval_reload. */
int cor_eval_flush(cor_eval *e);
void cor_eval_committed(cor_eval *e);
void cor_eval_unflushed(cor_eval *e);

/* A full state store (cor_shed.c). cor_eval_shed_pick picks the n groups
 * (at most) least recently updated, across every rule, and returns how
 * many, in the order of their stored keys (deletes in a row then share the
 * pages they copy); cor_eval_shed_delete deletes the stored records of
 * picked groups [from, to) (*next: the pick after the last done), while
 * *pages, the pages they touched (a key that does not follow the last one
 * deleted counts one; 0 at the start of a transaction), is below max_pages
 * (the first always), and cor_eval_shed_count records each rule's
 * eviction count with the picks [from, to) deleted, in the store's open
 * write transaction (taken with vg_store_txn: deletes may use the
 * reserve); once that commits, cor_eval_shed_drop
 * takes the same groups out of memory, each counted as an eviction of its
 * rule as at max_groups. cor_eval_shed_alerts raises, in the transaction
 * that commits the batch, the degradation alert of each rule that lost
 * groups so (at most one an hour per rule, shared with max_groups'). */
size_t cor_eval_shed_pick(cor_eval *e, size_t n);
int cor_eval_shed_delete(cor_eval *e, size_t from, size_t to, size_t max_pages, size_t *next,
                         size_t *pages);
int cor_eval_shed_count(cor_eval *e, size_t from, size_t to);
void cor_eval_shed_drop(cor_eval *e, size_t from, size_t to);
int cor_eval_shed_alerts(cor_eval *e, cor_emit_fn emit, void *ud);

void cor_eval_set_trace(cor_eval *e, cor_trace_fn fn, void *ud);

/* One group of a correlation, as --groups lists it (views valid during the
 * call only). have of need: events (event_count), distinct values
 * (value_count), rules (temporal) or steps in order (temporal_ordered) in
 * the window that ends at the group's newest event, last; suppress_until
 * INT64_MIN when none. An absence group: last is its last event, fired
 * whether it was reported silent, have and need 0. */
typedef struct cor_group_view {
    vg_kv f[VG_ALERT_MAX_FIELDS];
    uint32_t nf;
    uint64_t have, need;
    int64_t last, suppress_until;
    int fired;
} cor_group_view;

/* Calls fn for every group of rule ri (none for a match rule), most
 * recently updated first; stops at fn's first non-zero, which it returns. */
int cor_eval_groups(cor_eval *e, uint32_t ri, int (*fn)(void *ud, const cor_group_view *gv),
                    void *ud);
/* An engine over st's committed state that loads none of its groups (its
 * watermark only): for cor_eval_stored_groups, which reads them one at a
 * time, so that --groups beside a running correlator does not hold a copy
 * of a state of millions of groups. Runs nothing; cor_eval_free frees it. */
int cor_eval_open(cor_eval **out, cor_ruleset *rs, vg_store *st, cor_lists *lists);
/* Calls fn(ud, ri, gv) for every group stored for the rules want[ri] marks
 * (want has rs->n entries; a match rule has none), rule by rule in the
 * rule set's order, each rule's groups in key order, from one read
 * transaction (one committed state). Each group is unpacked as a start
 * would (a record a start would drop, of a rule changed since, is skipped),
 * viewed, then freed before the next: the engine holds one group at a
 * time. Stops at fn's first non-zero, which it returns; 0, or a negative
 * code (a store error, -ENOMEM). */
int cor_eval_stored_groups(cor_eval *e, const uint8_t *want,
                           int (*fn)(void *ud, uint32_t ri, const cor_group_view *gv), void *ud);
const cor_eval_stats *cor_eval_get_stats(cor_eval *e);
/* The most groups e held at once since the last call (or since it was
 * made), and in *live how many it holds now; the next call counts from
 * now (--groups reports it). */
uint64_t cor_eval_groups_peak(cor_eval *e, uint64_t *live);
/* Bytes of groups e gave back to malloc since it was made (an estimate:
 * blocks, values and their index, raw lines; cor_mem.c's measure). */
uint64_t cor_eval_freed_bytes(const cor_eval *e);
int64_t cor_eval_watermark(cor_eval *e);

/* Live mode: this host's clock as a batch arrives. An arrival time more
 * than COR_FUTURE_US past it (a collector whose clock runs ahead) is
 * replaced by it, so that it cannot push the watermark ahead; an event's
 * own time is trusted up to COR_FUTURE_US past the later of the two (a
 * collector whose clock lags does not make its devices' right times
 * wrong). Offline the arrival times are the events' own, and it stays 0. */
void cor_eval_set_now(cor_eval *e, int64_t now_us);

/* The largest arrival past this host's clock, and the largest own time
 * past arrival that was kept, among the events since cor_eval_set_now
 * (0: none). */
void cor_eval_skew(const cor_eval *e, int64_t *ahead_us, int64_t *behind_us);

/* The largest own time past arrival that was not trusted (device_ahead)
 * among the events since cor_eval_set_now (0: none), and the HOSTNAME of
 * the event that had it (NUL-terminated, cut at 63 bytes; "" when none). */
int64_t cor_eval_device_ahead(const cor_eval *e, const char **host);

#endif
