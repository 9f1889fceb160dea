/* Reliable hop, downstream end: accepts upstream streams on a Unix socket,
 * answers HELLO with the last sequence number committed per stream, skips
 * re-sent records, and commits each batch's effects together with the new
 * position in one LMDB transaction before acknowledging it.
 *
 * The owner only says what a batch does (on_batch, called inside the open
 * write transaction with the records not seen before); the receiver owns
 * the protocol, the bookkeeping and the counters. */
#ifndef VIGIL_RECEIVER_H
#define VIGIL_RECEIVER_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "vigil/link.h"
#include "vigil/store.h"

#define VG_RSTREAM_STATS 32

/* One connected upstream stream. */
typedef struct vg_rstream {
    char name[128];  /* the upstream instance name */
    char role[32];
    uint64_t last;   /* highest seq committed here */
    uint64_t epoch;  /* the upstream's queue epoch, from its HELLO */
    int ready;       /* HELLO exchanged */
    int renewed;     /* a new epoch replaced one stored here, and nothing came yet */
    int quiet;       /* commits are failing: its disconnect is logged at debug level */
    /* the upstream's latest STATS message (at most VG_RSTREAM_STATS) */
    uint32_t nstats;
    char stat_names[VG_RSTREAM_STATS][32];
    uint64_t stat_values[VG_RSTREAM_STATS];
} vg_rstream;

typedef struct vg_receiver_stats {
    uint64_t records, duplicates, batches, commit_errors;
} vg_receiver_stats;

typedef struct vg_receiver_cfg {
    const char *path;      /* socket to listen on */
    uid_t allow_uid;       /* the pipeline user */
    const char *role;      /* our role, e.g. "correlator" */
    const char *name;      /* our instance name */
    enum vg_msg_type type; /* batches accepted: VG_MSG_EVENTS or VG_MSG_ALERTS */
    vg_store *store;
    /* For the operator, in the line of a failed commit: the store's
     * directory and the key that sizes its map ("correlator.state_size"),
     * with that size in MiB. May be NULL / 0 (the line then names
     * neither). Copied. */
    const char *store_dir;
    const char *map_key;
    size_t map_mb;
    /* Applies records [skip, m->count) of batch m (the earlier ones were
     * committed before) inside the store's open write transaction. A
     * non-zero return aborts the transaction; the upstream re-sends. */
    int (*on_batch)(void *ud, vg_rstream *st, const vg_msg *m, uint32_t skip);
    /* After a commit (e.g. wake the next hop). May be NULL. */
    void (*on_commit)(void *ud);
    /* After on_batch ran but its transaction was aborted (on_batch or the
     * commit failed): the store is as before the batch, and the owner must
     * drop what on_batch changed in memory, since the batch will be
     * received again. May be NULL (nothing kept in memory). */
    void (*on_abort)(void *ud);
    /* A full store (VG_EFULL) failed the batch's transaction (its commit,
     * or a write of on_batch's that returned it): the transaction is
     * aborted and nothing of it is stored, but what on_batch did in memory
     * may be whole (the owner knows: on_full refuses when it is not). on_full may free room in transactions of its
     * own and return 0: the receiver then opens a new transaction, in which
     * on_rewrite writes again what on_batch wrote (without running the
     * batch again), adds the position and commits; while that finds the
     * store full, on_full is asked again. A non-zero return from either
     * refuses the batch as before (on_abort, the upstream re-sends). Both
     * NULL: a full store refuses the batch. */
    int (*on_full)(void *ud);
    int (*on_rewrite)(void *ud);
    /* A refused transaction (as for on_abort): returns 1 when the owner
     * keeps what on_batch did in memory, valid as if it had committed, and
     * writes it again with its next transaction (its alerts under the same
     * ids). The receiver then holds the batch: its records are not given
     * to on_batch again when the upstream re-sends them, and its position
     * is written with the next transaction that commits (of any stream),
     * so that the store never has the state without the position, nor the
     * reverse. 0 (or NULL): on_abort, as before. When the receiver cannot
     * hold it (a re-sent batch shorter than the one held, the stream's new
     * epoch, too many streams held), on_abort drops everything held. */
    int (*on_hold)(void *ud);
    void *ud;
    /* The highest protocol version taken (0: VG_PROTO_VERSION). Lower only
     * to stand for an older downstream, as tests of a sender do. */
    uint32_t proto_max;
} vg_receiver_cfg;

typedef struct vg_receiver vg_receiver;

/* Starts listening; strings in cfg are copied. */
int vg_receiver_start(uv_loop_t *loop, const vg_receiver_cfg *cfg, vg_receiver **out);
/* Closes every link and frees r (once the batch being applied, if it is
 * called from one of its callbacks, is done); r must not be used after. */
void vg_receiver_stop(vg_receiver *r);
/* Stops (paused != 0) or resumes reading every stream, including streams
 * that connect while paused: the upstream keeps what it cannot send in its
 * own durable queue. */
void vg_receiver_pause(vg_receiver *r, int paused);
const vg_receiver_stats *vg_receiver_get_stats(vg_receiver *r);
const vg_link_stats *vg_receiver_link_stats(vg_receiver *r);
/* True when at least one stream is connected and every connected stream's
 * last STATS said its queue is empty ("pending" 0): the input is caught up,
 * so silence on it is real, not a backlog still on its way. */
int vg_receiver_caught_up(vg_receiver *r);

/* Whether a refused batch is held (vg_receiver_cfg.on_hold): the owner's
 * memory is ahead of the store by it until a transaction commits. */
int vg_receiver_holding(const vg_receiver *r);
/* Drops every batch held (on_abort: the owner loads its state again), as
 * when one cannot be kept; r may be stopped by on_abort (then freed). */
void vg_receiver_drop_held(vg_receiver *r);

/* Logs one line per connected stream with the counters it last sent. */
void vg_receiver_report(vg_receiver *r);

#endif
