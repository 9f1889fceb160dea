/* vigil-correlator internals: events in from collectors, rules, alerts out
 * to the shipper through a durable outbox. See docs/architecture.md. */
#ifndef COR_H
#define COR_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <uv.h>

#include "vigil/daemon.h"
#include "vigil/event.h"
#include "vigil/link.h"
#include "vigil/receiver.h"
#include "vigil/sender.h"
#include "vigil/store.h"

typedef struct cor_conf {
    char *name;
    char *listen;   /* our socket, relative to run_dir */
    char *shipper;  /* the shipper's socket, relative to run_dir */
    char *rules_dir;
    uint64_t state_size;
    int64_t match_limit;
} cor_conf;

/* One compiled match rule. Rules live in a ruleset and die with it. */
typedef struct cor_rule {
    char *id, *name, *file;
    int line;
    int level;
    int alert;            /* raise alerts (0: only feeds correlations) */
    char **programs;      /* NULL-terminated; NULL = any */
    char **hosts;         /* NULL-terminated; NULL = any */
    pcre2_code *re;
    uint32_t ncaps;       /* named captures, in group-number order */
    char **cap_names;
    uint32_t *cap_groups;
    uint64_t hits, match_errors;
} cor_rule;

typedef struct cor_ruleset {
    cor_rule *rules;
    size_t n;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    char *dir;
} cor_ruleset;

typedef struct cor_stats {
    uint64_t events, malformed_in, alerts;
} cor_stats;

typedef struct cor {
    vg_daemon *d;
    uv_loop_t *loop;
    cor_conf conf;
    cor_ruleset *rules;
    vg_store *store;
    vg_queue *outbox;
    uint64_t epoch; /* the outbox's epoch: first half of every alert id */
    vg_receiver *receiver;
    vg_sender *sender;
    msgpack_sbuffer rec;
    cor_stats stats;
} cor;

int cor_conf_load(const vg_node *root, const char *file, cor_conf *cf, char *err, size_t errlen);
void cor_conf_free(cor_conf *cf);

/* Loads every *.yml / *.yaml file in dir (sorted by name). On error, err
 * holds "FILE:LINE: reason" and nothing is returned. */
int cor_rules_load(const char *dir, int64_t match_limit, cor_ruleset **out, char *err,
                   size_t errlen);
void cor_rules_free(cor_ruleset *rs);

/* Calls fn for every rule that matches ev, with the alert filled in (the
 * views point into ev and rule; valid during the call). */
typedef int (*cor_alert_fn)(void *ud, const cor_rule *r, vg_alert *al);
int cor_rules_eval(cor_ruleset *rs, const vg_event *ev, cor_alert_fn fn, void *ud);

int cor_engine_start(cor *c);
void cor_engine_stop(cor *c);

#endif
