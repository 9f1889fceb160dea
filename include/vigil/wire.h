/* The wire protocol between Vigil's processes (docs/protocol.md).
 *
 * A stream over a Unix socket carries frames: a 4-byte big-endian payload
 * length, then one msgpack array whose first element is the message type.
 * The set of types is closed; each has one encoder here and one strict
 * decoder (vg_wire_decode): an unknown type, a wrong element count or type,
 * or bytes after the array is VG_EPROTO, and the caller drops the connection.
 *
 * Records (events, alerts) are encoded on their own by vg_wire_pack_event /
 * vg_wire_pack_alert. Durable queues store exactly those bytes, and a batch
 * frame embeds them unchanged, so a record is encoded once in its life.
 */
#ifndef VIGIL_WIRE_H
#define VIGIL_WIRE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/event.h"

/* Version 2 added the raw lines' cut marks to an alert, version 3 batches
 * of up to 4,096 records (docs/protocol.md). A receiver takes a sender of
 * any version from 1 up to its own, and answers in the sender's: its
 * decoders read every form of every record. */
#define VG_PROTO_VERSION 3
#define VG_PROTO_VERSION_MIN 1
#define VG_FRAME_HDR 4
#define VG_FRAME_MAX (64u << 20) /* largest payload a reader accepts */
/* A batch takes no record that would bring its records past this many
 * bytes; its first record always goes in. Records are far smaller than
 * VG_FRAME_MAX (they are built from messages of at most 64 KiB), so every
 * batch frame stays under it whatever the record count. */
#define VG_BATCH_BYTES (8u << 20)
/* Records a batch holds at most. A reader refuses more: a decoded record
 * takes up to 110 times its encoded size (a vg_alert is 1,760 bytes, a
 * minimal encoded one 18), so an uncapped count let one 4 MiB frame cost
 * the receiver 440 MiB. */
#define VG_BATCH_MAX 4096
/* the most a receiver of version 1 or 2 takes: a sender that speaks one of
 * those versions (to a downstream not yet upgraded) sends no more */
#define VG_BATCH_MAX_V2 512

enum vg_msg_type {
    VG_MSG_HELLO = 1,  /* [1, version, role, name, epoch, last_seq] */
    VG_MSG_EVENTS = 2, /* [2, first_seq, [event, ...]] */
    VG_MSG_ALERTS = 3, /* [3, first_seq, [alert, ...]] */
    VG_MSG_ACK = 4,    /* [4, seq] */
    VG_MSG_STATS = 5,  /* [5, name, {counter: uint, ...}] */
};

typedef struct vg_stat {
    const char *name;
    uint64_t value;
} vg_stat;

#define VG_STATS_MAX 128

/* A decoded message. Every vg_str and the records point into the payload
 * passed to vg_wire_decode, which must outlive the message; the arrays are
 * owned by the message and freed by vg_msg_free. */
typedef struct vg_msg {
    enum vg_msg_type type;
    /* HELLO */
    uint32_t version;
    vg_str role; /* "collector", "correlator", "shipper" */
    vg_str name; /* instance name, the stream's identity downstream */
    uint64_t epoch; /* id of the sender's queue: a new value means a new sequence */
    /* HELLO (last_seq), ACK (seq), EVENTS/ALERTS (first_seq) */
    uint64_t seq;
    /* EVENTS / ALERTS */
    uint32_t count;
    vg_event *events;
    vg_alert *alerts;
    /* STATS */
    uint32_t nstats;
    vg_stat stats[VG_STATS_MAX]; /* names are NUL-terminated copies in namebuf */
    char *namebuf;
} vg_msg;

void vg_msg_free(vg_msg *m);

/* Decodes one frame payload (without the length header) strictly. On
 * success *m must be released with vg_msg_free; on error *m is left empty. */
int vg_wire_decode(const char *payload, size_t len, vg_msg *m);

/* Decodes one stored record. The vg_strs point into buf. */
int vg_wire_decode_event(const char *buf, size_t len, vg_event *ev);
int vg_wire_decode_alert(const char *buf, size_t len, vg_alert *al);

/* Record encoders: append one record (no frame header) to sb. */
int vg_wire_pack_event(msgpack_sbuffer *sb, const vg_event *ev);
int vg_wire_pack_alert(msgpack_sbuffer *sb, const vg_alert *al);

/* Frame encoders: append one complete frame (header included) to sb. */
int vg_wire_frame_hello(msgpack_sbuffer *sb, const char *role, const char *name, uint64_t epoch,
                        uint64_t last_seq);
/* The same in a given protocol version: a receiver answers an older
 * sender in the sender's version (VG_PROTO_VERSION_MIN..VG_PROTO_VERSION). */
int vg_wire_frame_hello_v(msgpack_sbuffer *sb, uint32_t version, const char *role,
                          const char *name, uint64_t epoch, uint64_t last_seq);
int vg_wire_frame_ack(msgpack_sbuffer *sb, uint64_t seq);
int vg_wire_frame_stats(msgpack_sbuffer *sb, const char *name, const vg_stat *st, uint32_t n);

/* A batch frame is built in three steps: begin (type EVENTS or ALERTS, the
 * sequence number of the first record and the record count), then exactly
 * 'count' already-encoded records appended with vg_wire_batch_add, then end,
 * which writes the length header. 'start' is an opaque offset into sb.
 * vg_wire_batch_end returns VG_ETOOBIG, and leaves the header unwritten,
 * when the payload passes VG_FRAME_MAX: such bytes must not be sent. */
int vg_wire_batch_begin(msgpack_sbuffer *sb, enum vg_msg_type type, uint64_t first_seq,
                        uint32_t count, size_t *start);
int vg_wire_batch_add(msgpack_sbuffer *sb, const void *rec, size_t len);
int vg_wire_batch_end(msgpack_sbuffer *sb, size_t start);

#endif
