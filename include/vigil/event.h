/* The two records that travel the pipeline: events (collector -> correlator)
 * and alerts (correlator -> shipper).
 *
 * Both are views: every vg_str points into a buffer owned by whoever filled
 * the struct (the syslog parser's input, a decoded frame, a rule engine's
 * scratch space); the struct itself owns nothing and needs no free. Their
 * encoded form is fixed in docs/protocol.md and produced only by wire.c.
 */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H

#include <stdint.h>

#include "vigil/str.h"

/* vg_event.flags */
enum {
    VG_EV_MALFORMED = 1u << 0, /* the header did not parse; reason says why, raw is kept */
    VG_EV_TRUNCATED = 1u << 1, /* longer than max_message_size: raw and msg were cut */
    VG_EV_RFC5424 = 1u << 2,   /* parsed as RFC 5424 (otherwise RFC 3164 or none) */
    VG_EV_NO_TS = 1u << 3,     /* no usable timestamp in the message: ts_us = recv_us */
    VG_EV_NO_HOST = 1u << 4,   /* no hostname in the message: host is the sender's address */
    VG_EV_BOM = 1u << 5,       /* RFC 5424 MSG began with a UTF-8 BOM (msg excludes it) */
    VG_EV_UNKNOWN_VERSION = 1u << 6, /* RFC 5424 VERSION other than 1: read as version 1 */
};

/* One syslog message as the collector saw it. 'raw' is always present and
 * holds the bytes received (after framing, possibly truncated). */
typedef struct vg_event {
    uint64_t seq;    /* position in the sending collector's spool; 0 = not yet spooled */
    int64_t recv_us; /* arrival time, microseconds since the Unix epoch (UTC) */
    int64_t ts_us;   /* event time from the header (UTC), or recv_us (VG_EV_NO_TS) */
    int32_t tz_min;  /* the header's UTC offset in minutes, 0 when none was given */
    int16_t pri;     /* PRI 0..191, or -1 when the message had none */
    uint16_t flags;  /* VG_EV_* */
    vg_str host;     /* HOSTNAME (absent: NILVALUE or missing) */
    vg_str app;      /* APP-NAME / 3164 TAG program */
    vg_str procid;   /* PROCID / 3164 [pid] */
    vg_str msgid;    /* RFC 5424 MSGID */
    vg_str sd;       /* RFC 5424 STRUCTURED-DATA as sent (absent: NILVALUE) */
    vg_str msg;      /* MSG */
    vg_str raw;      /* the message bytes as received */
    vg_str src;      /* sender address "ip" or "ip:port" or "unix" */
    vg_str agency;   /* tag from the collector's source map ("unknown" if none) */
    vg_str site;
    vg_str reason;   /* why VG_EV_MALFORMED / VG_EV_TRUNCATED was set; absent otherwise */
} vg_event;

static inline int vg_event_facility(const vg_event *e)
{
    return e->pri < 0 ? -1 : e->pri >> 3;
}
static inline int vg_event_severity(const vg_event *e)
{
    return e->pri < 0 ? -1 : e->pri & 7;
}

#define VG_ALERT_MAX_FIELDS 32
#define VG_ALERT_MAX_TAGS 16
#define VG_ALERT_MAX_RAW 16

/* One alert raised by the correlator: a match rule's hit, or a correlation
 * rule firing over many events. */
typedef struct vg_alert {
    uint64_t seq;     /* position in the correlator's outbox */
    vg_str id;        /* stable id (32 hex digits), the same on every re-delivery */
    vg_str rule_id;   /* e.g. "ssh.bruteforce" */
    vg_str rule_name; /* human-readable */
    vg_str kind;      /* "match", "event_count", "value_count", "temporal", ... */
    int32_t level;    /* 0..15, as in the rule */
    int64_t ts_us;    /* event time of the last event behind the alert, UTC */
    int64_t first_us; /* event time of the first event behind it (= ts_us for a match) */
    uint64_t count;   /* number of events behind the alert (1 for a match rule) */
    vg_str host;      /* host of the (last) triggering event */
    vg_str app;       /* its program */
    vg_str src;       /* its sender address */
    vg_str agency;
    vg_str site;
    vg_str message;   /* the (last) triggering event's MSG */
    uint32_t nfields; /* named captures / group-by values, in rule order */
    vg_kv fields[VG_ALERT_MAX_FIELDS];
    uint32_t ntags;   /* the rule's tags (ATT&CK techniques and tactics) */
    vg_str tags[VG_ALERT_MAX_TAGS];
    uint32_t nraw;    /* raw lines of the events behind it, oldest first (bounded) */
    uint32_t raw_cut; /* bit i set: raw[i] is incomplete (the collector cut the message at
                       * max_message_size, or the correlator kept only its first 1 KiB);
                       * no bit at or above nraw */
    vg_str raw[VG_ALERT_MAX_RAW];
} vg_alert;

/* A tag as the SIEM formats and the shipper's filters see it: an alert
 * without one (an absence's, the pipeline's own) is "unknown", as an
 * untagged sender's events are. */
static inline vg_str vg_alert_tag(vg_str tag)
{
    return tag.len ? tag : vg_str_c("unknown");
}

#endif
