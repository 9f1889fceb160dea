/* vigil-correlator: runs the rules over every collector's stream and hands
 * alerts to the shipper through a durable outbox. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cor.h"
#include "cor_prefilter.h"
#include "vigil/err.h"
#include "vigil/log.h"

static const vg_daemon_desc cor_desc = {
    .prog = "vigil-correlator",
    .section = "correlator",
    .summary = "vigil-correlator - run detection rules over every collector's event stream",
    .help =
        "Description:\n"
        "  Accepts event streams from vigil-collector instances on the Unix socket\n"
        "  correlator.listen_socket, runs the rules in correlator.rules_dir over each\n"
        "  event, and commits the alerts to an LMDB outbox together with the stream\n"
        "  position in one transaction, before acknowledging the events. The outbox\n"
        "  streams to vigil-shipper over correlator.shipper_socket, or to each shipper\n"
        "  of a list of sockets; an alert leaves it once every one has it. SIGHUP\n"
        "  reloads the rules atomically: a rule set with any error is refused\n"
        "  (FILE:LINE: reason) and the running one stays. A good one is checked at\n"
        "  once, then its regex prefilter is built on a worker thread (about a second\n"
        "  per 1,000 rules) while the running rules go on; it takes over between two\n"
        "  batches, with its watchlists, when the log says 'rules reloaded' (not at\n"
        "  'configuration reloaded', which comes first). Under systemd the reload\n"
        "  ends (READY=1: systemctl reload returns) only then, or when the new set\n"
        "  is refused at that point (the reason in systemctl status). A rule whose\n"
        "  definition changed loses its groups, named in the log. One build runs at\n"
        "  a time: a rule set of a SIGHUP during a build waits for it, replacing any\n"
        "  that waited before. A stop does not wait for a build: the build is\n"
        "  abandoned. SIGHUP also applies a changed shipper_socket list: a\n"
        "  socket added gets a link of its own, one removed loses its link and no\n"
        "  longer holds the outbox, and the links of the others go on untouched;\n"
        "  and stats_log.\n"
        "\n"
        "Counters:\n"
        "  Every correlator.stats_log (1m) when one of its counters changed (else\n"
        "  once an hour), the stats line. On SIGUSR1 and at exit in this log, and\n"
        "  every pipeline.stats_interval to the shipper, whose log shows them\n"
        "  (upstream ...): the stats line (events, alerts, outbox: alerts not yet\n"
        "  taken by every shipper, shipper_connected, late: events too late for\n"
        "  the correlations, evictions, trimmed, clock_ahead, clock_behind,\n"
        "  device_ahead), a lists line, one line per collector (upstream) and one\n"
        "  per rule: hits, match_errors, cpu_ms, evictions, late, suppressed,\n"
        "  trimmed. Every counter: docs/architecture.md and docs/rules.md.\n",
    .check = "                       Every rule is compiled and every watchlist file read\n"
             "                       (nothing is stored); prints the number of rules.\n",
    .files =
        "  /etc/vigil/vigil.yaml       the configuration (-c), shared by the three daemons\n"
        "  RULES_DIR/*.yml, *.yaml     the rules, in name order (correlator.rules_dir)\n"
        "  RULES_DIR/calendars/*.yml, *.yaml\n"
        "                              the calendars rules name, in name order\n"
        "  RULES_DIR/lists/NAME.txt    watchlist NAME, unless correlator.lists names a file\n"
        "                              (RULES_DIR a single rule file: the calendars/ and\n"
        "                              lists/ next to it)\n"
        "  DATA_DIR/correlator/NAME/   stream positions, correlation state, watchlists and\n"
        "                              the alert outbox (LMDB); NAME is correlator.name\n"
        "  RUN_DIR/correlator.sock     collectors connect here (correlator.listen_socket)\n"
        "  RUN_DIR/shipper.sock        the shipper's socket (correlator.shipper_socket;\n"
        "                              a list of sockets: one per shipper)\n"
        "  DATA_DIR and RUN_DIR are pipeline.data_dir and pipeline.run_dir.\n",
    .tools = cor_tools,
};

/* A SIGHUP's rule set, checked, whose prefilter is being built on a thread
 * of its own: Hyperscan's compile takes about a second per 1,000 rules, and
 * the event loop keeps taking batches with the running rules meanwhile. Not
 * libuv's thread pool: a stop would wait for the pool's work to end, and the
 * compile cannot be interrupted. */
typedef struct cor_reload {
    cor *c;
    uint64_t gen;  /* c->reload_gen when it began: a later SIGHUP supersedes it */
    cor_conf cf;   /* owned */
    cor_ruleset *rs; /* owned until applied */
    uint64_t t0_ns;  /* uv_hrtime() when its build began (cor_reload_start) */
    int rc;
    /* under c->reload_mu: the thread has ended its build and said so (the
     * loop owns r again), or the stop left r to the thread, which frees it */
    bool built, abandoned;
    char err[1024];
} cor_reload;

static void cor_reload_free(cor_reload *r)
{
    cor_rules_free(r->rs);
    cor_conf_free(&r->cf);
    free(r);
}

/* Puts a checked rule set with its prefilter in place: its lists into the
 * store, then the rules (between two batches: this runs on the loop). On
 * success the rules are c's (r->rs is NULL). */
static int cor_reload_apply(cor *c, cor_reload *r)
{
    /* Lists first: a bad list refuses the whole reload. Each list is
     * replaced in one transaction. */
    cor_conf *cf = &r->cf;
    cor_ruleset *rs = r->rs;
    double build_s = (double)(uv_hrtime() - r->t0_ns) / 1e9;
    cor_list_names names = {0};
    int rc;
    if ((rc = cor_load_lists(c->lists, false, cf, cf->rules_dir, &names, true, r->err,
                             sizeof(r->err))) ||
        (rc = cor_eval_set_rules(c->eval, rs))) {
        cor_list_names_free(&names);
        return rc;
    }
    cor_list_names_retired(&c->list_names, &names);
    cor_warn_unloaded_lists(c->lists, NULL, rs);
    cor_warn_past_calendars(rs, vg_now_us());
    cor_list_names_free(&c->list_names);
    c->list_names = names;
    vg_info("rules reloaded: %zu rules from %s (was %zu; %zu always tried, prefilter database "
            "%zu KiB, built in %.1f s)",
            rs->n, cf->rules_dir, c->rules->n, cor_prefilter_always(rs->pf),
            (cor_prefilter_db_size(rs->pf) + 1023) / 1024, build_s);
    cor_rules_free(c->rules);
    c->rules = rs;
    r->rs = NULL;
    /* keep list definitions for the next reload */
    for (int i = 0; i < c->conf.nlists; i++)
        free(c->conf.lists[i].name), free(c->conf.lists[i].path), free(c->conf.lists[i].at);
    memcpy(c->conf.lists, cf->lists, sizeof(cf->lists));
    c->conf.nlists = cf->nlists;
    cf->nlists = 0;
    return 0;
}

static void cor_reload_start(cor *c, cor_reload *r);

/* On the loop, once r's build ended: applies r unless a later SIGHUP
 * superseded it, tells systemd how the reload ended (the reload it answers
 * is in force, or refused), and starts the build of the rule set that
 * waited. */
static void cor_reload_done(cor *c, cor_reload *r)
{
    cor_reload *next = c->reload_next;
    c->reload_running = NULL;
    c->reload_next = NULL;
    if (r->gen != c->reload_gen) {
        vg_info("rule set of an earlier SIGHUP dropped: a later one replaces it (%zu rules, "
                "prefilter built in %.1f s)",
                r->rs->n, (double)(uv_hrtime() - r->t0_ns) / 1e9);
    } else {
        int rc = r->rc ? r->rc : cor_reload_apply(c, r);
        if (rc)
            vg_error("%s (rules not reloaded; running on the previous ones)",
                     r->err[0] ? r->err : vg_strerror(rc));
        vg_daemon_reload_done(c->d, rc, r->err);
    }
    cor_reload_free(r);
    if (next)
        cor_reload_start(c, next);
}

/* The build thread: compiles r's prefilter, then hands r back to the loop
 * (reload_async), or frees it if the stop abandoned it meanwhile. */
static void *cor_reload_thread(void *arg)
{
    cor_reload *r = arg;
    cor *c = r->c;
    r->rc = cor_rules_build_prefilter(r->rs, r->err, sizeof(r->err));
    pthread_mutex_lock(&c->reload_mu);
    bool abandoned = r->abandoned;
    if (!abandoned) {
        r->built = true;
        uv_async_send(&c->reload_async);
    }
    pthread_mutex_unlock(&c->reload_mu);
    if (abandoned) {
        cor_reload_free(r);
        pthread_mutex_lock(&c->reload_mu);
        c->reload_abandoned--;
        pthread_mutex_unlock(&c->reload_mu);
    }
    return NULL;
}

static void cor_reload_wake(uv_async_t *a)
{
    cor *c = a->data;
    cor_reload *r = c->reload_running;
    pthread_mutex_lock(&c->reload_mu);
    bool built = r && r->built;
    pthread_mutex_unlock(&c->reload_mu);
    if (built)
        cor_reload_done(c, r);
}

/* Hands r's prefilter to a build thread; r becomes c->reload_running. */
static void cor_reload_start(cor *c, cor_reload *r)
{
    c->reload_running = r;
    r->t0_ns = uv_hrtime();
    if (!c->reload_async_open) {
        if (uv_async_init(c->loop, &c->reload_async, cor_reload_wake) == 0) {
            c->reload_async.data = c;
            c->reload_async_open = true;
        }
    }
    pthread_t t;
    pthread_attr_t at;
    bool started = false;
    if (c->reload_async_open && pthread_attr_init(&at) == 0) {
        /* the signals stay the loop's: the thread starts with all blocked */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        started = pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) == 0 &&
                  pthread_create(&t, &at, cor_reload_thread, r) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&at);
    }
    if (!started) {
        /* no thread: build here, as at startup */
        r->rc = cor_rules_build_prefilter(r->rs, r->err, sizeof(r->err));
        cor_reload_done(c, r);
    }
}

/* Takes a checked rule set of a SIGHUP. One build at a time: while one
 * runs, the newest rule set waits for it and replaces any that waited
 * before. Each build queued straight away kept its whole compiled rule set
 * in memory and took its full CPU time, so a burst of SIGHUPs (a deploy
 * touching file after file) held 100 rule sets at once and put the last
 * one in force only after building every one before it. */
static void cor_reload_submit(cor *c, cor_reload *r)
{
    if (!c->reload_running) {
        cor_reload_start(c, r);
        return;
    }
    if (c->reload_next) {
        vg_info("rule set of an earlier SIGHUP dropped before its prefilter build: a later one "
                "replaces it (%zu rules)",
                c->reload_next->rs->n);
        cor_reload_free(c->reload_next);
    }
    c->reload_next = r;
    vg_info("its prefilter is built once the build in progress (of an earlier SIGHUP) ends");
}

/* The summary of the counters, "stats: events=N ...", into buf (cut to
 * cap): the first line of the SIGUSR1 report, and the line logged every
 * correlator.stats_log while it changes (vg_stats_log). */
static void cor_summary(void *ud, char *buf, size_t cap)
{
    const cor *c = ud;
    /* one shipper: its counters in the stats line, as ever; several: their
     * sums there (shipper_connected: how many are), and a line each below */
    vg_sender_stats sum = {0};
    for (int i = 0; i < c->nsenders; i++) {
        const vg_sender_stats *one = vg_sender_get_stats(c->sender[i]);
        sum.sent += one->sent, sum.acked += one->acked, sum.resent += one->resent;
        sum.connected += one->connected;
    }
    const vg_sender_stats *ss = c->nsenders ? &sum : NULL;
    const vg_receiver_stats *rs = c->receiver ? vg_receiver_get_stats(c->receiver) : NULL;
    const vg_link_stats *ls = c->receiver ? vg_receiver_link_stats(c->receiver) : NULL;
    const cor_eval_stats *es = c->eval ? cor_eval_get_stats(c->eval) : NULL;
    snprintf(buf, cap,
             "stats: events=%llu duplicates=%llu malformed_in=%llu alerts=%llu batches=%llu "
             "commit_errors=%llu outbox=%llu sent=%llu acked=%llu resent=%llu bad_frames=%llu "
             "peers_refused=%llu shipper_connected=%d groups=%llu late=%llu evictions=%llu "
             "trimmed=%llu clock_ahead=%llu clock_behind=%llu device_ahead=%llu",
             (unsigned long long)c->stats.events, (unsigned long long)(rs ? rs->duplicates : 0),
             (unsigned long long)c->stats.malformed_in, (unsigned long long)c->stats.alerts,
             (unsigned long long)(rs ? rs->batches : 0),
             (unsigned long long)(rs ? rs->commit_errors : 0),
             (unsigned long long)(c->outbox ? vg_queue_count(c->outbox) : 0),
             (unsigned long long)(ss ? ss->sent : 0), (unsigned long long)(ss ? ss->acked : 0),
             (unsigned long long)(ss ? ss->resent : 0),
             (unsigned long long)(ls ? ls->bad_frames : 0),
             (unsigned long long)(ls ? ls->peers_refused : 0), ss ? ss->connected : 0,
             (unsigned long long)(es ? es->groups : 0), (unsigned long long)(es ? es->late : 0),
             (unsigned long long)(es ? es->evictions : 0),
             (unsigned long long)(es ? es->trimmed : 0),
             (unsigned long long)(es ? es->clock_ahead : 0),
             (unsigned long long)(es ? es->clock_behind : 0),
             (unsigned long long)(es ? es->device_ahead : 0));
}

static int cor_configure(vg_daemon *d, const vg_node *root, int first, char *err, size_t errlen)
{
    cor *c = vg_daemon_data(d);
    cor_conf cf;
    int rc = cor_conf_load(root, vg_daemon_config_path(d), vg_daemon_pipeline(d)->run_dir, &cf,
                           err, errlen);
    if (rc)
        return rc;
    cor_ruleset *rs = NULL;
    cor_rules_opts o = cor_conf_rules_opts(&cf);
    o.defer_prefilter = !first && !vg_daemon_check_only(d);
    if ((rc = cor_rules_load(cf.rules_dir, &o, &rs, err, errlen))) {
        cor_conf_rules_err(&cf, err, errlen);
        cor_conf_free(&cf);
        return rc;
    }
    if (vg_daemon_check_only(d)) {
        /* -t runs as root; every SIGHUP reads the rules and lists again
         * as pipeline.user */
        static const char then[] = "every SIGHUP reads it again as that user, and would be "
                                   "refused";
        struct stat rsb;
        int rmode = stat(cf.rules_dir, &rsb) == 0 && S_ISDIR(rsb.st_mode) ? R_OK | X_OK : R_OK;
        vg_daemon_user_access(d, cf.rules_dir, rmode, "correlator.rules_dir", then);
        for (int i = 0; i < cf.nlists; i++)
            vg_daemon_user_access(d, cf.lists[i].path, R_OK, "a file of correlator.lists", then);
        /* lists too: parsed and checked, not stored (cor_lists_load_file) */
        cor_list_names names = {0};
        rc = cor_load_lists(NULL, true, &cf, cf.rules_dir, &names, true, err, errlen);
        if (rc == 0) {
            cor_warn_unloaded_lists(NULL, &names, rs);
            cor_warn_past_calendars(rs, vg_now_us());
        }
        cor_list_names_free(&names);
        if (rc == 0)
            printf("%zu rules loaded from %s\n", rs->n, cf.rules_dir);
        cor_rules_free(rs);
        cor_conf_free(&cf);
        return rc;
    }
    if (!first) {
        /* Everything that can refuse the reload is checked here, before
         * configure returns: the rules (above) and every list file (read,
         * not stored; one whose file is unchanged since stored is not
         * even read again). Only the prefilter is left to build. Silently:
         * cor_reload_apply logs each list's count as it stores it. */
        if ((rc = cor_load_lists(c->lists, true, &cf, cf.rules_dir, NULL, false, err, errlen))) {
            cor_rules_free(rs);
            cor_conf_free(&cf);
            return rc;
        }
        char lold[4096], lnew[4096];
        const char *run_dir = vg_daemon_pipeline(d)->run_dir;
        bool listen = cor_conf_sock_path(run_dir, cf.listen, lnew, sizeof(lnew)) ||
                      cor_conf_sock_path(run_dir, c->conf.listen, lold, sizeof(lold)) ||
                      strcmp(lnew, lold) != 0;
        if (strcmp(cf.name, c->conf.name) || listen || cf.state_size != c->conf.state_size)
            vg_warn("correlator name, socket and state_size changes take effect after a "
                    "restart; keeping the running values");
        /* shipper_socket applies now: the last thing that can refuse the
         * reload (a link that cannot start), and the senders that stay are
         * not touched */
        if ((rc = cor_senders_reload(c, &cf, err, errlen))) {
            cor_rules_free(rs);
            cor_conf_free(&cf);
            return rc;
        }
        c->conf.stats_log = cf.stats_log; /* the counters' line from the next tick on */
        vg_stats_log_every(&c->stats_log, cf.stats_log);
        cor_reload *r = calloc(1, sizeof(*r));
        if (!r) {
            cor_rules_free(rs);
            cor_conf_free(&cf);
            return -ENOMEM;
        }
        r->c = c;
        r->gen = ++c->reload_gen;
        r->cf = cf;
        r->rs = rs;
        vg_info("%zu rules checked in %s; building their prefilter, the running rules stay in "
                "force until it is ready",
                rs->n, cf.rules_dir);
        cor_reload_submit(c, r);
        /* systemd hears that the reload ended when the rules take over */
        return VG_CONFIGURE_PENDING;
    }
    c->conf = cf;
    c->rules = rs;
    c->d = d;
    c->loop = vg_daemon_loop(d);
    vg_info("%zu rules loaded from %s (%zu always tried: no prefilter literal; prefilter "
            "database %zu KiB)",
            rs->n, cf.rules_dir, cor_prefilter_always(rs->pf),
            (cor_prefilter_db_size(rs->pf) + 1023) / 1024);
    if ((rc = vg_daemon_prepare_dirs(d, true, c->conf.name, err, errlen)) ||
        (rc = vg_daemon_drop_privileges(d)) || (rc = cor_engine_start(c))) {
        if (!err[0])
            snprintf(err, errlen, "%s: startup failed: %s", vg_daemon_config_path(d),
                     vg_strerror(rc));
        return rc;
    }
    vg_stats_log_start_line(&c->stats_log, c->loop, c->conf.stats_log, cor_summary, c);
    return 0;
}

static void cor_report(vg_daemon *d)
{
    cor *c = vg_daemon_data(d);
    char line[2048];
    cor_summary(c, line, sizeof(line));
    vg_info("%s", line);
    for (int i = 0; c->nsenders > 1 && i < c->nsenders; i++) {
        const vg_sender_stats *one = vg_sender_get_stats(c->sender[i]);
        vg_info("shipper %s: sent=%llu acked=%llu resent=%llu connected=%d last_acked=%llu",
                c->conf.shipper[i], (unsigned long long)one->sent,
                (unsigned long long)one->acked, (unsigned long long)one->resent, one->connected,
                (unsigned long long)one->last_acked);
    }
    if (c->lists) {
        /* a lookup that failed in LMDB answered "not in list": say so */
        cor_lists_stats lst;
        cor_lists_get_stats(c->lists, &lst);
        vg_info("lists: lookups=%llu hits=%llu errors=%llu loads=%llu load_failures=%llu",
                (unsigned long long)lst.lookups, (unsigned long long)lst.hits,
                (unsigned long long)lst.errors, (unsigned long long)lst.loads,
                (unsigned long long)lst.load_failures);
    }
    vg_receiver_report(c->receiver);
    if (!c->rules)
        return;
    for (size_t i = 0; i < c->rules->n; i++) {
        const cor_rule *r = &c->rules->rules[i];
        if (r->hits || r->match_errors || r->cpu_ns || r->evictions || r->late || r->trimmed)
            vg_info("rule %s: hits=%llu match_errors=%llu cpu_ms=%.3f evictions=%llu late=%llu "
                    "suppressed=%llu trimmed=%llu",
                    r->id, (unsigned long long)r->hits, (unsigned long long)r->match_errors,
                    (double)r->cpu_ns / 1e6, (unsigned long long)r->evictions,
                    (unsigned long long)r->late, (unsigned long long)r->suppressed,
                    (unsigned long long)r->trimmed);
    }
}

/* A stop during a SIGHUP's prefilter build does not wait for it: Hyperscan's
 * compile cannot be interrupted and takes seconds for thousands of rules,
 * so the build is abandoned (its thread frees the rule set when it ends, or
 * the process exits first, main). Every batch is committed by then. */
static void cor_shutdown(vg_daemon *d)
{
    cor *c = vg_daemon_data(d);
    cor_report(d);
    vg_stats_log_stop(&c->stats_log);
    cor_engine_stop(c);
    if (c->reload_next) {
        cor_reload_free(c->reload_next);
        c->reload_next = NULL;
    }
    cor_reload *r = c->reload_running;
    c->reload_running = NULL;
    if (r) {
        /* read first: once abandoned, the thread may free r at any time */
        size_t n = r->rs->n;
        double building_s = (double)(uv_hrtime() - r->t0_ns) / 1e9;
        pthread_mutex_lock(&c->reload_mu);
        bool built = r->built;
        if (!built) {
            r->abandoned = true;
            c->reload_abandoned++;
        }
        pthread_mutex_unlock(&c->reload_mu);
        if (built)
            cor_reload_free(r); /* built, not applied yet: the thread is done with it */
        else
            vg_info("stop: the prefilter build of a SIGHUP's rule set is abandoned (%zu rules, "
                    "building for %.1f s; it cannot be interrupted): the rules are not reloaded",
                    n, building_s);
    }
    if (c->reload_async_open)
        uv_close((uv_handle_t *)&c->reload_async, NULL);
}

static const vg_daemon_ops cor_ops = {cor_configure, cor_shutdown, cor_report};

int main(int argc, char **argv)
{
    static cor c;
    pthread_mutex_init(&c.reload_mu, NULL);
    int rc = vg_daemon_main(argc, argv, &cor_desc, &cor_ops, &c);
    cor_eval_free(c.eval);
    cor_lists_close(c.lists);
    if (c.store)
        vg_store_close(c.store);
    cor_rules_free(c.rules);
    msgpack_sbuffer_destroy(&c.rec);
    cor_conf_free(&c.conf);
    cor_list_names_free(&c.list_names);
    pthread_mutex_lock(&c.reload_mu);
    int abandoned = c.reload_abandoned;
    pthread_mutex_unlock(&c.reload_mu);
    if (abandoned) {
        /* A build abandoned by the stop still runs in Hyperscan: exit()'s
         * library destructors (Hyperscan's own among them) would run under
         * it. Everything is committed and closed above; the build's memory
         * goes with the process. */
        fflush(NULL);
        _exit(rc);
    }
    return rc;
}
