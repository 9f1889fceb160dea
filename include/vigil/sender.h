/* Reliable hop, both ends.
 *
 * Sender (upstream end): streams a durable queue to the downstream process
 * over a vg_client link. On every (re)connect it says HELLO with its name
 * and the queue's epoch; the peer answers with the last sequence number it
 * has committed for that stream, and sending resumes right after it.
 * Records stay in the queue until the peer ACKs them (after its own LMDB
 * commit); acknowledged records are trimmed. So a record leaves a queue
 * only once it is durable one hop further.
 *
 * The downstream end is in receiver.h.
 */
#ifndef VIGIL_SENDER_H
#define VIGIL_SENDER_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "vigil/link.h"
#include "vigil/store.h"
#include "vigil/util.h"

typedef struct vg_sender vg_sender;

typedef struct vg_sender_cfg {
    const char *path;      /* downstream socket */
    uid_t allow_uid;       /* the pipeline user */
    const char *role;      /* our role, e.g. "collector" */
    const char *name;      /* our instance name: the stream's identity */
    enum vg_msg_type type; /* VG_MSG_EVENTS or VG_MSG_ALERTS */
    vg_store *store;
    vg_queue *queue;
    uint32_t batch_max;    /* records per frame (default and most: VG_BATCH_MAX) */
    uint32_t window;       /* records sent and not yet acknowledged (default 32768) */
    /* Optional: fills up to VG_STATS_MAX counters, sent downstream as a
     * STATS message every stats_ms (default 10 s) so that the central
     * correlator can report every collector's counters. */
    uint32_t (*stats_fn)(void *ud, vg_stat *out, uint32_t cap);
    void *stats_ud;
    uint32_t stats_ms;
    /* Optional, for several senders reading one queue (the correlator's
     * fan-out to several shippers). epoch_key: the meta key of this
     * sender's epoch (default "queue.NAME.epoch", the queue's own); give
     * each sender its own, ending in ".epoch" so that a store found to be
     * a copy renews it (lib/store.c), so that one sender taking a new
     * epoch does not make the others send everything again. acked_fn:
     * called instead of trimming the queue, on every trim tick (200 ms), at
     * the HELLO and at vg_sender_stop; the owner trims the queue at the
     * lowest vg_sender_acked of its senders, so that a record leaves only
     * once every downstream has it. */
    const char *epoch_key;
    void (*acked_fn)(void *ud);
    void *acked_ud;
    /* Optional, with acked_fn: the meta key under which the owner records
     * what this sender's downstream has acknowledged (vg_sender_acked), at
     * each trim while it runs (vg_queue_trim_logged's marks) and when it
     * stops it (vg_sender_listed_key gives the key back). The outbox is
     * never trimmed past a running sender's position, so what the key
     * holds at the start tells the first HELLO why a downstream behind the
     * queue's first record is: at or past it, the records in between were
     * trimmed while this sender did not run (its socket was out of the
     * owner's list): it is sent what the queue holds, with an info line;
     * below it, those up to it were acknowledged and its state lost them
     * (the error every sender logs). */
    const char *listed_key;
} vg_sender_cfg;

/* Counters since vg_sender_start. sent: records sent, re-sends included;
 * acked: records this process sent that the downstream acknowledged (an
 * ACK, or the HELLO after a lost link), so acked <= sent; records an
 * earlier process sent, found committed at the HELLO after a restart, are
 * not counted (last_acked shows them); resent: records sent again. */
typedef struct vg_sender_stats {
    uint64_t sent, acked, resent, batches, reconnects;
    uint64_t last_acked;
    int connected;
    uint32_t version; /* protocol of the open link (0: none): below
                       * VG_PROTO_VERSION when the downstream is older */
} vg_sender_stats;

/* Starts sending; strings in cfg are copied. */
int vg_sender_start(uv_loop_t *loop, const vg_sender_cfg *cfg, vg_sender **out);
/* Tells the sender that records were committed to the queue. Cheap. */
void vg_sender_kick(vg_sender *s);
/* Sends nothing past seq until called again (UINT64_MAX: no limit, the
 * default): the collector lets records leave only once they are synced. */
void vg_sender_limit(vg_sender *s, uint64_t seq);
const vg_sender_stats *vg_sender_get_stats(vg_sender *s);
const vg_link_stats *vg_sender_link_stats(vg_sender *s);
/* Stops; the memory is released from the loop. */
void vg_sender_stop(vg_sender *s);

/* The highest seq the downstream acknowledged (or had at the last HELLO);
 * before the first HELLO, the queue's first seq - 1. */
uint64_t vg_sender_acked(const vg_sender *s);

/* Trims queue q up to upto (vg_queue_trim) in a transaction of its own;
 * a failure is logged as a streak in *fails (the first, then once a
 * minute, then the recovery), for callers that retry on a timer. Each of
 * the nmarks meta keys in marks is set to its vals in the same transaction
 * (vg_sender_cfg.listed_key). Returns 0 or the error. */
int vg_queue_trim_logged(vg_store *st, vg_queue *q, uint64_t upto, vg_streak *fails,
                         uint64_t now_ms, const char *const *marks, const uint64_t *vals,
                         int nmarks);
/* cfg.listed_key's copy, or NULL; valid until vg_sender_stop. */
const char *vg_sender_listed_key(const vg_sender *s);

/* Returns the epoch of queue q, creating a random one on first use. */
int vg_queue_epoch(vg_store *st, vg_queue *q, uint64_t *epoch);
/* The same for the epoch stored under meta key 'key' (NULL: queue q's own,
 * "queue.NAME.epoch"); new_epoch stores a new one (not old) under it. */
int vg_epoch_get(vg_store *st, vg_queue *q, const char *key, uint64_t *epoch);
int vg_epoch_new(vg_store *st, vg_queue *q, const char *key, uint64_t old, uint64_t *epoch);
/* Stores a new random epoch (not old) for queue q (in the open transaction,
 * or one of its own): its sequence starts anew downstream. */
int vg_queue_new_epoch(vg_store *st, vg_queue *q, uint64_t old, uint64_t *epoch);
/* The epoch the sender's queue has now (a restored state takes a new one
 * at its first hello: see lib/sender.c). */
uint64_t vg_sender_epoch(const vg_sender *s);

#endif
