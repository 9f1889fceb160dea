/* The shipper's outputs: one driver, several transports.
 *
 * The driver (shp_out.c) does everything that is the same for every output:
 * its cursor in the outbox, the routing filter, batching, retries with
 * exponential backoff and jitter, the backlog limit and its policy, the
 * people-channel rate limit with summaries, the dead-letter file, and the
 * counters. A transport (shp_file.c, shp_syslog.c, shp_http.c) only turns
 * one alert into bytes and moves a batch of such bytes to its destination.
 *
 * Contract between the two, per output, all on the daemon's libuv loop:
 *   1. open() once at start; the transport allocates o->tp.
 *   2. For each alert that passes the filter the driver calls format(),
 *      which appends that alert's bytes (one syslog frame, one _bulk
 *      action+document pair, one HEC event, one JSON line...) to b. Items
 *      are self-contained: the driver may re-send any subset of a batch by
 *      concatenating their bytes.
 *   3. send() starts delivering batch->data (batch->n items, each at
 *      items[i].off/len). At most one batch is in flight per output. When
 *      the attempt ends the transport calls shp_out_done() exactly once
 *      (from a loop callback, or from inside send()):
 *        rc == 0: delivered. An item whose state the transport set to
 *                 SHP_ITEM_DUP (the destination already had it: a _bulk
 *                 409), SHP_ITEM_RETRY (429/503 for that item) or
 *                 SHP_ITEM_FAILED (refused for good, e.g. a mapping error;
 *                 it goes to the dead-letter file with items[i].reason) is
 *                 treated as such; SHP_ITEM_PENDING means delivered.
 *        rc < 0:  nothing of this attempt counts as delivered; reason says
 *                 why (logged). The driver retries the batch after backoff.
 *      Items the attempt did not settle are sent again after the backoff;
 *      the cursor moves past a batch only when all its items are settled.
 *   4. commit() (optional) runs inside the write transaction that moves the
 *      cursor, to store the transport's own position (the file offset).
 *      committed() (optional) runs after that commit (file rotation).
 *   5. close() at shutdown: close every handle, free o->tp, then call
 *      shp_out_closed(o) (possibly later, from a close callback).
 *
 * Delivery is at least once for network transports and exactly once for
 * the file: an alert whose delivery was not committed before a crash is
 * sent again, with the same alert id, so a SIEM can recognise it (a _bulk
 * 'create' with that id is refused as a duplicate and counted as such).
 */
#ifndef SHP_OUT_H
#define SHP_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "vigil/conf.h"
#include "vigil/event.h"
#include "vigil/store.h"
#include "vigil/util.h"

typedef struct shp shp;
typedef struct shp_out shp_out;

enum shp_item_state {
    SHP_ITEM_PENDING = 0, /* not settled yet (after send: delivered) */
    SHP_ITEM_OK,          /* delivered */
    SHP_ITEM_DUP,         /* the destination already had it: delivered before */
    SHP_ITEM_RETRY,       /* refused for now: send again after backoff */
    SHP_ITEM_FAILED,      /* refused for good: dead-letter file, counted 'failed' */
};

/* One alert (or summary) in a batch. */
typedef struct shp_item {
    uint64_t seq;         /* outbox seq; 0 for a rate-limit summary */
    size_t off, len;      /* its bytes in the batch's data */
    int state;            /* enum shp_item_state */
    char id[48];          /* the alert id, NUL-terminated */
    char reason[160];     /* FAILED/RETRY: why, for the log and the dead letter */
    uint64_t rl_rule;     /* rate limit: hash of its rule id, and the window it */
    int64_t rl_window;    /* was let through in (0: none), to give its place back */
    /* item_retry_for's clock (shp_out_done): how long the destination has
     * refused this very alert for now, item by item, while answering the
     * requests (outages in between do not count), and when it last did so
     * (loop time, ms; 0: not in a run of such refusals). */
    int64_t refused_ms, refused_at_ms;
    /* set by the transport with SHP_ITEM_RETRY when the destination
     * refused this item itself (a _bulk item 5xx), not the request it
     * was in: only those run item_retry_for's clock */
    int refused_itself;
} shp_item;

/* Owned by the driver; valid from send() until shp_out_done() returns. */
typedef struct shp_batch {
    shp_item *items;
    size_t n;
    vg_buf data;          /* the items' bytes, concatenated in item order */
} shp_batch;

/* Output configuration: one table for every type; each type accepts the
 * common keys plus its own (shp_out_conf.c says which). */
enum shp_out_policy { SHP_FULL_BLOCK = 0, SHP_FULL_DROP_OLDEST = 1 };

typedef struct shp_filter {
    int64_t min_level;    /* 0..15; 0: any */
    char **agency;        /* NULL-terminated, or NULL: any (exact names) */
    char **site;
    char **rule;          /* globs on rule id (fnmatch) */
    char **tag;           /* globs on tags: any tag matching one of them */
    char **not_rule;      /* globs on rule id that are never sent */
} shp_filter;

typedef struct shp_out_conf {
    /* common */
    char *name;
    char *type;           /* file, stdout, syslog, elasticsearch, splunk_hec, webhook */
    const vg_node *filter_node;
    int64_t batch;        /* alerts per delivery attempt */
    int64_t max_backlog;  /* alerts waiting for this output; 0: no limit */
    char *on_full;        /* block | drop_oldest */
    int64_t retry_min_ms, retry_max_ms;
    int64_t rate_limit;   /* alerts per rule per rate_window; 0: no limit */
    int64_t rate_window_ms;
    int64_t timeout_ms;   /* one delivery attempt (network outputs) */
    /* elasticsearch: an alert refused for now item by item for this long
     * goes to the dead-letter file; 0 (or "forever"): never */
    char *item_retry_for;
    int64_t item_retry_for_ms;
    /* file */
    char *path;
    int path_line;        /* line of 'path' in the config (-t's warnings); 0 unknown */
    uint64_t rotate_size; /* 0: never rotate */
    int64_t rotate_keep;
    /* syslog */
    char *url;            /* syslog: udp|tcp|tls://HOST:PORT; http: http(s)://... */
    char *format;         /* syslog: cef | leef */
    char *framing;        /* syslog tcp/tls: octet-counting | newline */
    char *leef_delimiter;
    char *facility;       /* syslog facility name */
    char *hostname;       /* syslog HOSTNAME; empty: gethostname() */
    char *app_name;
    uint64_t max_message_size;
    /* TLS (syslog tls://, https://) */
    char *tls_ca;         /* CA file; empty: the system's CAs */
    char *tls_crl;        /* CRL file (PEM); empty: revocation is not checked */
    char *tls_cert, *tls_key; /* client certificate and key */
    bool tls_verify;      /* verify the server (chain and name); default true */
    char *tls_server_name; /* name to verify; empty: the URL's host */
    char *tls_ciphers;    /* OpenSSL cipher string for TLS 1.2; empty: VG_TLS_CIPHERS */
    /* http */
    char *index;          /* elasticsearch: index; splunk_hec: index (optional) */
    char *username, *password, *api_key; /* elasticsearch */
    char *token;          /* splunk_hec: HEC token; webhook: bearer token (optional) */
    char *sourcetype, *source; /* splunk_hec */
    /* resolved by the loader */
    shp_filter filter;
    int policy;           /* enum shp_out_policy */
} shp_out_conf;

typedef struct shp_transport {
    const char *type;
    /* keys of shp_out_conf this type accepts besides the common ones,
     * NULL-terminated */
    const char *const *keys;
    /* Checks the type's settings (e.g. the URL); at load and reload.
     * sec is the output's YAML map, for FILE:LINE messages. */
    int (*check)(const shp_out_conf *c, const vg_node *sec, char *err, size_t errlen);
    int (*open)(shp_out *o);
    int (*format)(shp_out *o, const vg_alert *al, vg_buf *b);
    int (*send)(shp_out *o, shp_batch *b);
    int (*commit)(shp_out *o, vg_store *st);
    void (*committed)(shp_out *o);
    void (*close)(shp_out *o);
    /* Appends " key=value" counters of its own to a stats line; may be NULL. */
    void (*report)(shp_out *o, vg_buf *line);
    /* Largest batch it takes (webhook: 1); 0: any. */
    int64_t max_batch;
} shp_transport;

/* The ECS JSON line of an alert: the format of the file and stdout outputs. */
int shp_format_ecs(shp_out *o, const vg_alert *al, vg_buf *b);

typedef struct shp_out_stats {
    uint64_t sent;        /* alerts delivered (incl. summaries) */
    uint64_t duplicates;  /* items the destination already had */
    uint64_t retried;     /* delivery attempts that failed and were retried */
    uint64_t item_retries; /* items refused for now inside a successful attempt */
    uint64_t failed;      /* items refused for good (dead-letter file) */
    uint64_t dropped;     /* alerts skipped by drop_oldest */
    uint64_t filtered;    /* alerts this output's filter does not take */
    uint64_t summarised;  /* alerts held back by the rate limit, sent as summaries */
    uint64_t summaries;   /* summaries sent */
    uint64_t batches;
} shp_out_stats;

/* Per rule of a rate-limited output: the current window. */
typedef struct shp_rl_rule {
    char *rule_id;        /* malloc'd, NUL-terminated; any length (ids are not capped) */
    size_t rule_id_len;
    char rule_name[160];
    int64_t window_us;    /* start of the window (wall clock) */
    int64_t sent;         /* alerts sent in it */
    int64_t held;         /* alerts held back in it */
    int64_t first_us, last_us; /* event times of the first and last held */
    int32_t level;        /* highest level held */
    char host[96], agency[64], site[64]; /* of the last held; "" when they differ */
    int hosts_differ, agencies_differ, sites_differ;
} shp_rl_rule;

struct shp_out {
    /* read-only for transports */
    shp *s;
    shp_out_conf conf;
    const shp_transport *tp_ops;
    uv_loop_t *loop;
    /* transport's state */
    void *tp;
    /* set by the transport before shp_out_done(rc < 0) when the server
     * asked for a pause (HTTP Retry-After): the next attempt waits at
     * least this long, retry_max at most; the driver clears it */
    int64_t retry_after_ms;
    /* private to the driver */
    uint64_t cursor;      /* every alert <= cursor is settled for this output */
    shp_batch batch;
    uint64_t batch_last;  /* outbox seq the pending batch reaches */
    int in_flight, have_batch, closing, closed;
    int commit_pending;   /* the batch is delivered, its cursor commit is retried */
    vg_streak commit_fails; /* those retries (a full disk): logged first, a minute, at the end */
    int attempt;          /* failed attempts in a row (as logged and in retried=) */
    int item_rounds;      /* attempts in a row that left items refused for now;
                           * the backoff doubles with the larger of the two */
    int64_t down_since_us;
    char last_error[512]; /* room for a TLS error with its hint (shp_tls_ciphers_hint) */
    uv_timer_t retry_timer;
    shp_out_stats stats;
    shp_rl_rule *rl;
    size_t nrl, rlcap;
    /* The windows whose summaries the pending batch carries, as they were
     * before the build reset them (shp_batch_build): a commit made while
     * the batch waits (drop_oldest) stores them, so that a restart still
     * sends those summaries. */
    shp_rl_rule *rl_snap;
    size_t nsnap;
    int rl_dirty;
    int rl_full_warned;   /* the "too many rules" warning was logged */
    /* drop_oldest's log: the first drop, then at most a line a minute
     * (loop ms of the last line) with the drops since (unsaid, up to
     * outbox seq unsaid_to), so that a weekend's outage is not a line a
     * second (shp_out_drop_log) */
    uint64_t drop_said_ms, drop_unsaid, drop_unsaid_to;
    /* Alerts after the cursor that the dead-letter file already holds:
     * written before a restart, by the attempt whose batch was not
     * committed (read once at start); not written a second time. */
    struct shp_dl_seen *dl_seen;
    size_t ndl_seen;
    /* item_retry_for's clocks stored before a restart (shp_refused_load):
     * outbox seq and time counted, in seq order; given back to those
     * alerts' items when a batch is built, dropped once the cursor is past
     * them. refused_stored: the store holds a clock of this run. */
    struct shp_refused *refused;
    size_t nrefused;
    int refused_stored;
};

/* Called by the transport when an attempt ends (see the contract above). */
void shp_out_done(shp_out *o, int rc, const char *reason);
/* Called by the transport when close() has finished with every handle. */
void shp_out_closed(shp_out *o);

/* The transports. */
extern const shp_transport shp_file_transport;
extern const shp_transport shp_stdout_transport;
extern const shp_transport shp_syslog_transport;
extern const shp_transport shp_es_transport;
extern const shp_transport shp_hec_transport;
extern const shp_transport shp_webhook_transport;

const shp_transport *shp_transport_find(const char *type);

/* The url as log lines show it: whole, or (whole false) cut after
 * SCHEME://HOST[:PORT] with "/…" for the rest, written into out (cap
 * bytes). Returns url or out. A webhook's url is shown cut: chat services
 * (Slack, Mattermost, Teams, Discord) put the hook's secret in its path. */
const char *shp_url_shown(const char *url, bool whole, char *out, size_t cap);

#endif
