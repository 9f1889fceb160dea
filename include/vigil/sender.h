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
 * Receiver (downstream end): vg_stream_* keep, per upstream stream name,
 * the epoch and the last committed sequence number in the receiver's own
 * store, written in the same transaction as whatever the records caused.
 * A record at or below that number is a re-send and is skipped.
 */
#ifndef VIGIL_SENDER_H
#define VIGIL_SENDER_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "vigil/link.h"
#include "vigil/store.h"

typedef struct vg_sender vg_sender;

typedef struct vg_sender_cfg {
    const char *path;      /* downstream socket */
    uid_t allow_uid;       /* the pipeline user */
    const char *role;      /* our role, e.g. "collector" */
    const char *name;      /* our instance name: the stream's identity */
    enum vg_msg_type type; /* VG_MSG_EVENTS or VG_MSG_ALERTS */
    vg_store *store;
    vg_queue *queue;
    uint32_t batch_max;    /* records per frame (default 512) */
    uint32_t window;       /* records sent and not yet acknowledged (default 32768) */
} vg_sender_cfg;

typedef struct vg_sender_stats {
    uint64_t sent, acked, resent, batches, reconnects;
    uint64_t last_acked;
    int connected;
} vg_sender_stats;

/* Starts sending; strings in cfg are copied. */
int vg_sender_start(uv_loop_t *loop, const vg_sender_cfg *cfg, vg_sender **out);
/* Tells the sender that records were committed to the queue. Cheap. */
void vg_sender_kick(vg_sender *s);
const vg_sender_stats *vg_sender_get_stats(vg_sender *s);
const vg_link_stats *vg_sender_link_stats(vg_sender *s);
/* Stops; the memory is released from the loop. */
void vg_sender_stop(vg_sender *s);

/* Returns the epoch of queue q, creating a random one on first use. */
int vg_queue_epoch(vg_store *st, vg_queue *q, uint64_t *epoch);

/* Receiver: answers a HELLO. Loads (and, for a new epoch, resets and
 * commits) the stream's state and sends our HELLO with its last seq. */
int vg_stream_hello(vg_store *st, vg_link *l, const vg_msg *hello, const char *role,
                    const char *self_name, uint64_t *last);
/* Receiver: records inside the caller's open write transaction that the
 * stream 'name' is committed up to seq. */
int vg_stream_set_last(vg_store *st, vg_str name, uint64_t seq);
/* Receiver: sends ACK seq on l. */
int vg_stream_ack(vg_link *l, uint64_t seq);

#endif
