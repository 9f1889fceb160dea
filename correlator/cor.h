/* vigil-correlator internals: events in from collectors, rules, alerts out
 * to the shipper through a durable outbox. See docs/architecture.md. */
#ifndef COR_H
#define COR_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "cor_eval.h"
#include "cor_lists.h"
#include "cor_mem.h"
#include "cor_rules.h"
#include "vigil/daemon.h"
#include "vigil/event.h"
#include "vigil/link.h"
#include "vigil/receiver.h"
#include "vigil/sender.h"
#include "vigil/stats_log.h"
#include "vigil/store.h"
#include "vigil/util.h"

#define COR_MAX_LISTS 64
#define COR_MAX_SHIPPERS 8 /* correlator.shipper_socket: a socket or a list of up to this many */

typedef struct cor_list_file {
    char *name;
    char *path;
    char *at; /* "FILE:LINE" of the configuration that names it, for errors */
} cor_list_file;

typedef struct cor_conf {
    char *name;
    char *listen;   /* our socket, relative to run_dir */
    /* the shippers' sockets, relative to run_dir, as written (one by
     * default): every alert goes to each of them (cor_engine.c) */
    char *shipper[COR_MAX_SHIPPERS];
    int nshippers;
    const vg_node *shipper_node; /* raw 'shipper_socket', parsed into shipper */
    char *rules_dir;
    char *rules_dir_at; /* "FILE:LINE" of correlator.rules_dir ("FILE" by default), for errors */
    uint64_t state_size;
    int64_t match_limit;
    int64_t lateness_ms;
    int64_t max_groups;
    int64_t stats_log; /* ms between the counters' lines while they change */
    const vg_node *lists_node; /* raw 'lists' map, parsed into 'lists' */
    cor_list_file lists[COR_MAX_LISTS];
    int nlists;
} cor_conf;

typedef struct cor_stats {
    uint64_t events, malformed_in, alerts;
} cor_stats;

/* Names of lists, as a load read them (malloc'ed, owned by the struct). */
typedef struct cor_list_names {
    char **v;
    size_t n;
} cor_list_names;

/* Collectors whose clock warnings are timed apart (cor_warn_skew); past
 * that many, the one warned least recently gives its slot up. */
#define COR_SKEW_STREAMS 64
typedef struct cor_skew_warned {
    char name[128]; /* the stream's name (vg_rstream.name); "" for a free slot */
    int64_t ahead_us, behind_us, device_us; /* when each was last logged */
    int64_t used_us;                        /* the last batch that looked it up */
} cor_skew_warned;

typedef struct cor {
    vg_daemon *d;
    uv_loop_t *loop;
    cor_conf conf;
    cor_ruleset *rules;
    cor_eval *eval;
    cor_lists *lists;
    vg_store *store;
    vg_queue *outbox;
    uint64_t epoch; /* the outbox's epoch: first half of every alert id */
    vg_receiver *receiver;
    vg_sender *sender[COR_MAX_SHIPPERS]; /* one per conf.shipper, all on the outbox */
    int nsenders;
    /* the sender on queue.outbox.epoch, whose epoch the alert ids take; NULL
     * once a SIGHUP removed its socket (then c->epoch, its last value) */
    vg_sender *primary;
    uint64_t trimmed;      /* the outbox is trimmed up to here (cor_engine.c, cor_outbox_trim) */
    vg_streak trim_fails;  /* trims failed in a row */
    uv_timer_t tick;
    vg_stats_log stats_log; /* the counters' line every conf.stats_log, when it changed */
    cor_mem mem;           /* groups gone since the last malloc_trim (cor_mem.h) */
    int64_t last_batch_us; /* wall time of the last batch received */
    /* when each collector's clock_ahead, clock_behind and device_ahead
     * were last logged (cor_engine.c, cor_warn_skew): one minute each per
     * collector, so that one agency's wrong clock does not hide another's */
    cor_skew_warned skew[COR_SKEW_STREAMS];
    /* the watermark after the last batch, and the monotonic clock then: the
     * clock tick's time never runs ahead of it (cor_engine.c, cor_tick_time) */
    int64_t ref_event_us;
    uint64_t ref_mono_ns;
    msgpack_sbuffer rec;
    /* the alerts appended in the open transaction (each a 4-byte length and
     * the record), and whether its batch (or tick) ran whole in memory: a
     * full store's transaction is written again from them (cor_room.c) */
    msgpack_sbuffer pending;
    int ran;
    /* a refused transaction's batch or tick is kept in memory, ahead of the
     * store (cor_room_hold): pending holds its alerts, written again first
     * by the next transaction (cor_room_begin), which commits it */
    int holding;
    int room_tried; /* the open batch was tried again once without evicting (cor_room_make) */
    cor_stats stats;
    /* the counters when the open transaction began, for cor_engine's abort */
    cor_stats stats_mark;
    cor_eval_stats eval_mark;
    cor_list_names list_names; /* the lists the last (re)load read */
    uint64_t reload_gen;       /* SIGHUPs accepted so far (cor_main.c's cor_reload) */
    /* cor_main.c's struct cor_reload: the rule set whose prefilter builds on
     * its thread now, and the latest one checked since, waiting for that
     * build to end (a burst of SIGHUPs builds at most these two) */
    struct cor_reload *reload_running, *reload_next;
    /* the build thread says it ended through reload_async (opened with the
     * first build); reload_mu orders that with a stop abandoning the build,
     * and counts the abandoned builds still running (the process exits
     * without waiting for them, cor_main.c) */
    uv_async_t reload_async;
    bool reload_async_open;
    pthread_mutex_t reload_mu;
    int reload_abandoned;
} cor;

/* Reads the correlator section of root (file: its name, for errors) into
 * cf; sockets are checked as resolved under run_dir (pipeline.run_dir, the
 * running one on a reload). On error cf holds nothing to free. */
int cor_conf_load(const vg_node *root, const char *file, const char *run_dir, cor_conf *cf,
                  char *err, size_t errlen);
/* The path socket sock is opened at: vg_path_resolve under run_dir (sock
 * itself when absolute), so that every spelling of one socket gives one
 * path. 0 or -ENAMETOOLONG. */
int cor_conf_sock_path(const char *run_dir, const char *sock, char *out, size_t cap);
/* The name a shipper socket's outbox epoch is stored under
 * (queue.outbox.NAME.epoch, cor_engine.c): its resolved path relative to
 * the resolved run_dir when it is in there ("x.sock" for "x.sock",
 * "./x.sock" and "RUN_DIR/x.sock" alike), else the resolved absolute path.
 * 0 or -ENAMETOOLONG. */
int cor_conf_sock_key(const char *run_dir, const char *sock, char *out, size_t cap);
void cor_conf_free(cor_conf *cf);
/* After an error about the rules directory itself (err starts "RULES_DIR: "
 * for it cannot be opened, not a rule file's "RULES_DIR/x.yml:..."): puts
 * the configuration's file and line that name it in front. */
void cor_conf_rules_err(const cor_conf *cf, char *err, size_t errlen);
cor_rules_opts cor_conf_rules_opts(const cor_conf *cf);

/* Loads RULES_DIR/lists/NAME.txt files (cor_rules_side_dir: the lists/
 * next to RULES_DIR when it is one rule file) and every configured list
 * file (which wins over a rules list of the same name), with
 * cor_lists_sync_file: a list whose file has the content it was stored
 * from is not stored again. With check, stores nothing (only checks the
 * files that changed since stored, or every file with l NULL). A lists/ that
 * exists but cannot be read is VG_ECONFIG. With names, also
 * adds the name of every list read to it (the caller frees it with
 * cor_list_names_free, also after an error). With announce, logs
 * "list NAME: N entries from PATH" for each list stored (or checked), and
 * "list NAME: N entries, unchanged in PATH since stored: not stored again"
 * for each left alone: a SIGHUP checks every file before it stores any,
 * and only the store says so, once per list. */
int cor_load_lists(cor_lists *l, bool check, const cor_conf *cf, const char *rules_dir,
                   cor_list_names *names, bool announce, char *err, size_t errlen);

/* The bytes of every list file cor_load_lists would read (a file that
 * cannot be read counts 0: the load says why), to size a store for them. */
uint64_t cor_list_files_bytes(const cor_conf *cf, const char *rules_dir);

/* Warns about every list in old that new no longer names: its last
 * version stays active (docs/watchlists.md, "Retiring a list"). */
void cor_list_names_retired(const cor_list_names *old, const cor_list_names *new_);

/* Warns, once per list, of a list that a rule of rs names but that l does
 * not hold (never loaded): its 'in list' never holds and its 'not in list'
 * always does, as with a misspelt name. Not an error: --load-list may load
 * it later. Without l (-t, which opens no store), of a list that is not in
 * names (cor_load_lists's). Returns the number of such lists. */
size_t cor_warn_unloaded_lists(cor_lists *l, const cor_list_names *names, const cor_ruleset *rs);
void cor_list_names_free(cor_list_names *n);

/* Warns of every calendar of rs that is over at now_us (cor_calendar_over:
 * dates only, all past), as a holiday calendar is once nobody adds the next
 * year's: at start, on SIGHUP and at -t, which read the clock. Returns
 * their number. */
size_t cor_warn_past_calendars(const cor_ruleset *rs, int64_t now_us);

int cor_engine_start(cor *c);
/* The engine's cor_emit_fn: appends the alert to the outbox in the open
 * transaction, with the id it is about to get. */
int cor_engine_emit(void *ud, const vg_alert *in);
/* A SIGHUP's shipper_socket list (cf's, checked by cor_conf_load): the
 * sender of each socket that stays (under any spelling: cor_conf_sock_path)
 * goes on untouched, one is started for each socket added (from what the
 * outbox holds, as at the start), and those of the sockets removed stop;
 * the outbox is then trimmed over the senders that remain. Takes cf's
 * socket names into c->conf (cf->shipper is empty after). A sender that
 * cannot start changes nothing: returns its error, with
 * "CONFIG: correlator.shipper_socket SOCKET: cannot start its link: reason"
 * in err. */
int cor_senders_reload(cor *c, cor_conf *cf, char *err, size_t errlen);
void cor_engine_stop(cor *c);

/* A full state store (cor_room.c). cor_room_make frees room for the open
 * transaction's batch or tick, which a full store failed (aborted) after it
 * ran whole in memory: it evicts the oldest groups of all rules in
 * transactions of its own (0), or returns VG_EFULL when it cannot (the
 * batch did not run whole, the outbox holds half the store, no group is
 * left, or the deletes themselves find no room). cor_room_rewrite then
 * writes, into a new open transaction, what the failed one held: the same
 * alerts under the same ids, the evictions' degradation alerts, and the
 * state. cor_room_retry is both in a loop, for the clock tick's own
 * transaction. */
int cor_room_make(cor *c);
int cor_room_rewrite(cor *c);
int cor_room_retry(cor *c, int rc);
/* Keeps a copy of an alert record appended in the open transaction. */
int cor_room_keep(cor *c, const void *rec, size_t len);
/* The start of a transaction that runs a batch or a tick: the counters'
 * marks and an empty pending, or, while a refused one is held, its alerts
 * appended again under their ids. 0 or an error (the transaction fails). */
int cor_room_begin(cor *c);
/* A transaction refused after its batch or tick ran whole: its effects stay
 * in memory, valid, its writes to be made again by the next transaction
 * (1). 0 when it did not run whole: the caller reloads the state. */
int cor_room_hold(cor *c);

/* One-shot modes: --replay, --test-rules, --explain, --load-list, --groups (cor_tools.c). */
extern const vg_daemon_tool cor_tools[];

/* --groups: prints the groups of the correlations named in ids[0 .. nids)
 * (every correlation when nids is 0), nearest to firing first, top per rule
 * (all when 0), from e (cor_eval_open: read one group at a time). In
 * *held_max (if not NULL) the most rows it held at once: at most top per
 * rule listed. VG_ECONFIG, logged, when an id names no correlation; a
 * negative code, logged, when the store cannot be read. */
int cor_groups_print(cor_eval *e, const cor_ruleset *rs, char *const *ids, int nids, size_t top,
                     FILE *out, size_t *held_max);

#endif
