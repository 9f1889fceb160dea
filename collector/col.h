/* vigil-collector internals: syslog intake -> parser -> durable spool ->
 * correlator. One libuv loop; see docs/architecture.md. */
#ifndef COL_H
#define COL_H

#include <msgpack.h>
#include <stdint.h>
#include <uv.h>

#include "vigil/daemon.h"
#include "vigil/event.h"
#include "vigil/sender.h"
#include "vigil/stats_log.h"
#include "vigil/store.h"
#include "vigil/util.h"
#include "col_counters.h"
#include "col_addr.h"
#include "col_rate.h"
#include "col_sources.h"
#include "col_frame.h"
#include "col_tls.h"

#define COL_MAX_LISTEN 16

enum col_proto { COL_UDP, COL_TCP, COL_UNIX, COL_TLS };

typedef struct col_listen {
    enum col_proto proto;
    char addr[108]; /* IP address, or the socket path for COL_UNIX */
    int port;
} col_listen;

/* The collector section of the configuration (col_conf.c). */
typedef struct col_conf {
    char *name;
    const vg_node *listen;  /* raw list, parsed into 'ls' */
    char *correlator;       /* socket path */
    uint64_t max_message;   /* bytes; longer messages are truncated and flagged */
    uint64_t spool_size;    /* bytes of LMDB map */
    uint64_t spool_limit;   /* spool bytes at which intake pauses (0: 3/4 of spool_size) */
    uint64_t spool_limit_set; /* spool_limit as written; 0: derived from spool_size */
    char *spool_sync;       /* "background" or "commit" (docs/configuration.md) */
    bool sync_each_commit;  /* spool_sync: commit */
    int64_t max_conns;      /* TCP/TLS connections open at once */
    int64_t max_conns_ip;   /* ... from one address */
    int64_t max_rate_ip;    /* messages a second from one address (TCP, TLS); 0: no limit */
    int64_t handshake_ms;   /* a TLS handshake not done after this is closed */
    int64_t idle_ms;        /* a connection silent this long is closed; 0: never */
    int64_t frame_ms;       /* a frame unfinished this long closes its connection; 0: never */
    int64_t stats_log;      /* ms between the counters' lines while they change */
    const vg_node *tls_node; /* raw 'tls' section, parsed into 'tls' */
    col_tls_conf tls;
    const vg_node *sources_node; /* raw 'sources' list, parsed into 'sources' */
    col_sources *sources;    /* agency/site map (owned; moved into col on start/reload) */
    int nlisten;
    col_listen ls[COL_MAX_LISTEN];
} col_conf;

typedef struct col_stats {
    uint64_t received, bytes, malformed, truncated, spooled, spool_errors;
    uint64_t tcp_conns, tcp_open, udp_errors;
    uint64_t dropped;     /* datagrams refused while the spool was full */
    uint64_t pauses;      /* times TCP reading paused for a full spool */
    uint64_t conns_refused;      /* accepted and closed at once: max_connections(_per_ip) */
    uint64_t handshake_timeouts; /* TLS connections closed before their handshake was done */
    uint64_t idle_closed;        /* connections closed after idle_timeout */
    uint64_t frame_timeouts;     /* connections closed after frame_timeout (a frame unfinished) */
    uint64_t unread_at_stop;     /* bytes the stop left in the kernel (col_input_unread) */
    uint64_t skipped_bytes;      /* bytes discarded: tails of over-long messages and datagrams */
    uint64_t unknown_version;    /* RFC 5424 messages of a VERSION other than 1 (VG_EV_UNKNOWN_VERSION) */
    uint64_t throttles;          /* senders held back by max_rate_per_ip (col_rate_hold) */
    uint64_t throttled_ms;       /* ms their reading was held, summed over the senders */
} col_stats;

typedef struct col col;

/* One TCP connection's framing state. */
typedef struct col_conn {
    uv_tcp_t tcp;
    col *c;
    char src[64];
    char *buf;
    size_t len, cap;
    col_framer framer; /* RFC 6587 framing state (col_frame.h) */
    col_tls_conn *tls; /* NULL on plain TCP */
    uint64_t start_ms; /* loop time of the accept (or of the resume after a pause) */
    uint64_t last_ms;  /* loop time of its last activity (col_conn_activity; or of the resume) */
    uint64_t frame_ms; /* loop time the unfinished frame began (or of the resume); 0: none */
    uint64_t frames;   /* messages framed out of it so far */
    uint64_t msgs;     /* of them, messages with content (not empty frames) */
    char ipkey[COL_ADDR_KEY_MAX]; /* what max_connections_per_ip counts it by (col_addr_key) */
    col_rate_key *rk;  /* its sender's max_rate_per_ip bucket (col_rate_get); NULL: none */
    int end;           /* its stream's end (col_frame_take's eof) waiting for the messages
                          max_rate_per_ip held back (col_conn_go); 0: none */
    struct sockaddr_storage peer;
    struct col_conn *prev, *next;
} col_conn;

struct col {
    vg_daemon *d;
    uv_loop_t *loop;
    col_conf conf;
    vg_store *store;
    vg_queue *spool;
    vg_sender *sender;
    uv_check_t flush_check;
    uv_timer_t retry_timer;
    uv_timer_t stats_timer; /* checks the kernel's UDP drops (col_udpstat.c) */
    vg_stats_log stats_log; /* the counters' line every conf.stats_log, when it changed */
    int nudp, ntcp, nunix;
    uv_udp_t udp[COL_MAX_LISTEN];
    uint64_t udp_ino[COL_MAX_LISTEN]; /* their inodes, for the kernel's drop counts */
    uint64_t udp_drops_seen;          /* the kernel's drops at the last check */
    uint64_t dropped_noted;           /* stats.dropped at the last intake-loss notice */
    uint64_t cert_checked_ms;         /* loop time of the last certificate-expiry check; 0: due */
    uv_tcp_t tcp[COL_MAX_LISTEN];
    int tcp_is_tls[COL_MAX_LISTEN];
    col_tls tls;
    col_sources *sources;   /* agency/site map; swapped on SIGHUP */
    col_counters *counters; /* per source, agency and host */
    uv_poll_t unix_poll[COL_MAX_LISTEN];
    int unix_fd[COL_MAX_LISTEN];
    uv_timer_t bp_timer; /* rechecks a full spool while paused */
    vg_streak spool_fails; /* failed commits in a row (col_spool_failed) */
    int spool_rc;          /* the last commit's error (VG_EFULL: spool full); 0 once one succeeds */
    uv_timer_t conn_timer; /* closes TLS connections stuck in the handshake, idle ones */
    uint32_t accept_stalled; /* listeners (bit i: tcp[i]) whose accept ran out of memory */
    int64_t fd_conns;           /* connections the open-files limit has room for (col_fd_room) */
    uint64_t refused_logged_ms; /* when a refused connection was last logged */
    uint64_t refused_unlogged;  /* refused since */
    vg_budget closed_budget;    /* lines on connections closed for a timeout (vg_budget) */
    uint64_t frame_logged_ms;   /* when a frame_timeout close was last logged */
    uint64_t frame_unlogged;    /* frame_timeout closes since */
    col_rate rate;              /* max_rate_per_ip's buckets, per sender key */
    uv_timer_t rate_timer;      /* reads a held sender again once its bucket refilled */
    uint64_t rate_logged_ms;    /* when a throttle was last logged */
    uint64_t rate_unlogged;     /* throttles since */
    int reading_all;            /* a stop: every connection read, max_rate_per_ip or not */
    int paused;          /* spool full: TCP reading stopped, datagrams dropped */
    int paused_commits;  /* the pause began with a failed commit (a full disk), not the limit */
    vg_streak full_runs; /* pauses at spool_limit, logged as one run (col_spool_check_full) */
    uint64_t spool_high, spool_low;
    /* spool durability: committed (page cache) vs synced (disk) */
    uv_work_t sync_work;
    int syncing, sync_rc;
    uint64_t committed, synced, sync_target;
    col_conn *conns;
    /* records parsed and encoded, not yet committed (col_spool.c) */
    msgpack_sbuffer pend;
    size_t *pend_off;
    size_t npend, pend_cap;
    size_t flush_bytes; /* pending bytes that make a commit at once (col_spool.c) */
    char *udp_buf;
    char *read_buf; /* shared TCP read buffer (COL_READ_CHUNK) */
    char hostname[256]; /* this machine's, at the start: the Unix socket's senders' host */
    col_stats stats;
    int stopping;
};

int col_conf_load(const vg_node *root, const char *file, col_conf *cf, char *err, size_t errlen);
void col_conf_free(col_conf *cf);
/* The keys that differ between was and now and need a restart to apply,
 * written into out as "name, listen, ..." (cut to cap); returns how many. */
int col_conf_restart_keys(const col_conf *was, const col_conf *now, char *out, size_t cap);
/* Whether two tls sections name other files or other client rules. */
bool col_tls_conf_differ(const col_tls_conf *a, const col_tls_conf *b);

int col_input_start(col *c);
void col_input_stop(col *c);
/* Reads the open-files limit again (at the start and on SIGHUP): the
 * connections past its room are refused like those past max_connections. */
void col_fd_room(col *c);
/* Applies c->conf.max_rate_ip (at a reload): senders held back are read
 * again at once if it is 0 now, or when the new rate allows. */
void col_input_rate_reload(col *c);

/* col_udpstat.c: datagrams the kernel dropped at the UDP listeners. */
#define COL_UDP_BUFFER (8 << 20) /* receive buffer asked for each UDP listener */
#define COL_DRAIN_DATAGRAMS 65536 /* read at a stop per datagram socket, at most */
#define COL_DRAIN_BYTES (32 << 20) /* read at a stop per TCP connection, at most */
#define COL_DRAIN_QUIET_MS 50      /* a connection read at a stop ends when quiet this long */
#define COL_DRAIN_MS 2000          /* reading past what was queued at a stop, in all */
#define COL_FD_RESERVE 64          /* descriptors kept for other files than connections */
uint64_t col_udp_inode(uv_udp_t *u);
void col_udp_buffer(uv_udp_t *u, int want, const char *name);
/* The drops summed over the UDP listeners into *sum; -1 if one of them
 * is not listed in /proc (nothing read then). */
int col_udp_kernel_drops(const col *c, uint64_t *sum);
/* Reads the drops and warns if they grew since the last check. */
void col_udp_check_drops(col *c);
/* The drops now, or at the stop once the sockets are closed. */
uint64_t col_udp_drops_now(const col *c);
uint64_t col_conns_open(const col *c);
/* Backpressure: stop reading TCP and refuse datagrams / start again. */
void col_input_pause(col *c);
void col_input_resume(col *c);
/* Parses one framed message from a source and queues it for the spool;
 * frame is 0, why it was cut, or the framing error it is (col_frame.h,
 * COL_FRAME_*: a cut is flagged truncated, a framing error malformed).
 * sa is the sender's address (NULL for the Unix socket: a message without
 * a HOSTNAME then gets this machine's name, not src). */
void col_input_message(col *c, const char *src, const struct sockaddr *sa, const char *buf,
                       size_t len, int frame);

/* Queues text as a warning of the collector's own (vigil-collector on
 * this host) for the spool. */
void col_input_notice(col *c, const char *text);

int col_spool_open(col *c);
int col_spool_add(col *c, const vg_event *ev);
/* Commits every pending record in one transaction, then wakes the sender. */
void col_spool_flush(col *c);
void col_spool_close(col *c);
/* At a stop: lifts spool_limit and ends a pause for a full spool, so that
 * the stop reads what the senders wrote into the room above spool_limit
 * (col_spool.c). */
void col_spool_stop_pause(col *c);

#endif
