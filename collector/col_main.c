/* vigil-collector: takes syslog from the units' hosts, parses and tags it,
 * commits it to a durable spool and streams the spool to the correlator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "col.h"
#include "vigil/err.h"
#include "vigil/event_json.h"
#include "vigil/log.h"
#include "vigil/wire.h"

static int col_dump_one(void *ud, uint64_t seq, const void *rec, size_t len)
{
    vg_buf *b = ud;
    vg_event ev;
    b->len = 0;
    if (vg_wire_decode_event(rec, len, &ev) != 0) {
        printf("{\"seq\":%llu,\"error\":\"record does not decode\"}\n", (unsigned long long)seq);
        return 0;
    }
    ev.seq = seq;
    vg_event_json_exact(b, &ev);
    fwrite(b->p, 1, b->len, stdout);
    return 0;
}

/* --dump-spool: prints the events still in the spool (not yet acknowledged
 * by the correlator) as JSON lines, oldest first. Safe while the collector
 * runs: LMDB readers never block the writer. */
static int col_dump_spool(vg_daemon *d, const vg_node *root, int argc, char **argv)
{
    char err[1024] = "";
    col_conf cf;
    (void)argv;
    if (argc) {
        fprintf(stderr, "--dump-spool takes no arguments\n");
        return 2;
    }
    if (col_conf_load(root, vg_daemon_config_path(d), &cf, err, sizeof(err))) {
        vg_error("%s", err);
        return 1;
    }
    vg_store *st = NULL;
    vg_queue *q = NULL;
    int rc = vg_daemon_open_store(d, "collector", cf.name, (size_t)(cf.spool_size >> 20), "spool",
                                  "spool", &st, &q);
    if (rc == 0) {
        vg_buf b = {0};
        uint64_t from = vg_queue_first(q);
        rc = vg_queue_scan(q, from ? from : 1, SIZE_MAX, col_dump_one, &b);
        vg_buf_free(&b);
        rc = rc < 0 ? rc : 0;
        if (rc)
            vg_error("spool: %s", vg_strerror(rc));
    }
    vg_store_close(st);
    col_conf_free(&cf);
    fflush(stdout);
    return rc ? 1 : 0;
}

static const vg_daemon_tool col_tools[] = {
    {"dump-spool",
     "  --dump-spool         print the events waiting in the spool (not yet taken by the\n"
     "                       correlator) as JSON lines with every parsed field, and exit;\n"
     "                       byte-exact: in a field that is not UTF-8, each such byte is\n"
     "                       the text \\xHH and a backslash \\\\, and the field is named\n"
     "                       in the line's last member \"escaped\"\n",
     true, col_dump_spool},
    {NULL, NULL, false, NULL},
};

static const vg_daemon_desc col_desc = {
    .prog = "vigil-collector",
    .section = "collector",
    .summary = "vigil-collector - receive syslog, parse it and spool it durably for the correlator",
    .help =
        "Description:\n"
        "  Listens for syslog on the UDP, TCP, TLS and Unix datagram addresses in\n"
        "  collector.listen (RFC 5426 datagrams; RFC 6587 octet-counted or newline-framed\n"
        "  streams, in the clear or over RFC 5425 TLS), parses RFC 5424\n"
        "  and RFC 3164 headers, and commits every message to an LMDB spool under\n"
        "  pipeline.data_dir. A message that does not parse is kept raw and flagged\n"
        "  malformed; a message longer than collector.max_message_size is truncated and\n"
        "  flagged. Spooled messages stream to vigil-correlator over the Unix socket\n"
        "  collector.correlator_socket and leave the spool only once the correlator has\n"
        "  committed them. TCP and TLS connections past collector.max_connections (or\n"
        "  max_connections_per_ip, counted per IPv4 address and per IPv6 /64, or the\n"
        "  open-files limit less 64) are closed as they come and counted; TLS ones\n"
        "  without a handshake after tls_handshake_timeout, silent ones after\n"
        "  idle_timeout if set, and those whose line or octet-counted frame stays\n"
        "  unfinished for frame_timeout (60s; its bytes kept raw).\n"
        "  SIGHUP applies the source map, the limits and timeouts, stats_log, and reads\n"
        "  the TLS certificate, key and CA files again (a renewal needs no restart).\n"
        "\n"
        "Counters:\n"
        "  Every collector.stats_log (1m) when one of its counters changed (else\n"
        "  once an hour), the stats line: received, bytes, malformed, truncated,\n"
        "  skipped_bytes, spooled, spool_errors, pending, tcp_open, tcp_total,\n"
        "  udp_errors, udp_kernel_drops, dropped, pauses, paused, unread_at_stop,\n"
        "  the TLS and connection counters, and the link's sent, acked, resent,\n"
        "  connected. On SIGUSR1 and at exit, that line and one per source, agency\n"
        "  and host (the busiest 100 of each). Every pipeline.stats_interval they\n"
        "  go to the correlator too, whose report shows them. Every counter:\n"
        "  docs/architecture.md.\n",
    .check = "                       The tls section's certificate, key and CA are loaded.\n",
    .files =
        "  /etc/vigil/vigil.yaml     the configuration (-c), shared by the three daemons\n"
        "  DATA_DIR/collector/NAME/  the spool (LMDB); NAME is collector.name\n"
        "  RUN_DIR/correlator.sock   the correlator's socket (collector.correlator_socket)\n"
        "  DATA_DIR and RUN_DIR are pipeline.data_dir and pipeline.run_dir.\n",
    .tools = col_tools,
};

/* Every counter of the collector, in the order of its summary line, into
 * out (COL_COUNTERS entries); local for those that stay in this process's
 * log (the link's state and the stop's), not sent upstream. One list for
 * both, so a counter added is in both. */
enum { COL_COUNTERS = 30 };
typedef struct col_counter {
    const char *name;
    uint64_t value;
    bool local;
} col_counter;

static void col_counters_all(const col *c, col_counter *out)
{
    const vg_sender_stats *ss = c->sender ? vg_sender_get_stats(c->sender) : NULL;
    const col_counter all[COL_COUNTERS] = {
        {"received", c->stats.received, false},
        {"bytes", c->stats.bytes, false},
        {"malformed", c->stats.malformed, false},
        {"truncated", c->stats.truncated, false},
        {"skipped_bytes", c->stats.skipped_bytes, false},
        {"spooled", c->stats.spooled, false},
        {"spool_errors", c->stats.spool_errors, false},
        {"pending", c->spool ? vg_queue_count(c->spool) : 0, false},
        {"tcp_open", col_conns_open(c), false},
        {"tcp_total", c->stats.tcp_conns, false},
        {"udp_errors", c->stats.udp_errors, false},
        {"udp_kernel_drops", col_udp_drops_now(c), false},
        {"dropped", c->stats.dropped, false},
        {"pauses", c->stats.pauses, false},
        {"paused", (uint64_t)c->paused, true},
        {"unread_at_stop", c->stats.unread_at_stop, true},
        {"tls_handshakes", c->tls.handshakes, false},
        {"tls_errors", c->tls.errors, false},
        {"tls_refused_names", c->tls.refused_names, false},
        {"conns_refused", c->stats.conns_refused, false},
        {"tls_handshake_timeouts", c->stats.handshake_timeouts, false},
        {"idle_closed", c->stats.idle_closed, false},
        {"frame_timeouts", c->stats.frame_timeouts, false},
        {"unknown_version", c->stats.unknown_version, false},
        {"throttles", c->stats.throttles, false},
        {"throttled_ms", c->stats.throttled_ms, false},
        {"sent", ss ? ss->sent : 0, true},
        {"acked", ss ? ss->acked : 0, true},
        {"resent", ss ? ss->resent : 0, true},
        {"connected", ss ? (uint64_t)ss->connected : 0, true},
    };
    memcpy(out, all, sizeof(all));
}

/* Counters sent to the correlator every 10 s (STATS), so the central
 * correlator's report shows every collector of every unit. */
static uint32_t col_stats_fn(void *ud, vg_stat *out, uint32_t cap)
{
    col_counter all[COL_COUNTERS];
    col_counters_all(ud, all);
    uint32_t n = 0;
    for (int i = 0; i < COL_COUNTERS && n < cap; i++)
        if (!all[i].local) out[n++] = (vg_stat){all[i].name, all[i].value};
    return n;
}

/* The summary of the counters, "stats: received=N ...", into buf (cut to
 * cap): the first line of the SIGUSR1 report, and the line logged every
 * collector.stats_log while it changes (vg_stats_log). */
static void col_summary(void *ud, char *buf, size_t cap)
{
    col_counter all[COL_COUNTERS];
    col_counters_all(ud, all);
    size_t at = (size_t)snprintf(buf, cap, "stats:");
    for (int i = 0; i < COL_COUNTERS && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, " %s=%llu", all[i].name,
                               (unsigned long long)all[i].value);
}

static int col_configure(vg_daemon *d, const vg_node *root, int first, char *err, size_t errlen)
{
    col *c = vg_daemon_data(d);
    col_conf cf;
    int rc = col_conf_load(root, vg_daemon_config_path(d), &cf, err, errlen);
    if (rc)
        return rc;
    if (vg_daemon_check_only(d) && cf.tls.cert) {
        /* -t loads the certificate, key and CA as a start would, so that a
         * file that cannot be read is found before the daemon is started. */
        col_tls t;
        if ((rc = col_tls_init(&t, &cf.tls, err, errlen)) == 0)
            col_tls_free(&t);
        /* ... as root, but every SIGHUP reads them again as pipeline.user */
        const char *files[] = {cf.tls.cert, cf.tls.key, cf.tls.ca};
        for (size_t i = 0; rc == 0 && i < 3; i++)
            if (files[i])
                vg_daemon_user_access(d, files[i], R_OK, "collector.tls",
                                      "every SIGHUP reads it again as that user, and would "
                                      "keep the old certificate");
        if (rc) {
            col_conf_free(&cf);
            return rc;
        }
    }
    if (vg_daemon_check_only(d) || !first) {
        /* Reload: listeners, name and spool stay as started (they need a
         * restart to change); the source map, connection limits, timeouts
         * and TLS settings change. The certificate and key are read again
         * on every reload, changed or not: a renewal replaces the files
         * under the same names, and a restart would lose the datagrams
         * that arrive meanwhile. New settings whose files do not load
         * refuse the reload, before anything of it is applied. The same
         * settings whose files do not load again (a renewal half done, a
         * root-only key the collector cannot read once it runs as
         * pipeline.user) keep the running certificate, with an error, and
         * the rest of the reload applies: a source map change must not
         * wait for the certificate. */
        int tls_applied = 0;
        if (!first && c->tls.ctx && cf.tls.cert) {
            col_tls nt;
            if ((rc = col_tls_init(&nt, &cf.tls, err, errlen)) == 0 &&
                (rc = col_tls_renewal_check(&nt, &c->tls, &cf.tls, err, errlen)) != 0)
                col_tls_free(&nt);
            if (rc == 0) {
                col_tls_replace(&c->tls, &nt);
                col_tls_conf tmp = c->conf.tls; /* the running settings are cf's from now on */
                c->conf.tls = cf.tls;
                cf.tls = tmp;
                col_tls_describe(&c->tls, c->conf.tls.cert);
                c->cert_checked_ms = 0; /* a notice again at the next sweep if due */
            } else if (col_tls_conf_differ(&c->conf.tls, &cf.tls)) {
                col_conf_free(&cf);
                return rc;
            } else {
                vg_error("%s (keeping the running TLS certificate)", err);
                err[0] = '\0';
                rc = 0;
            }
            tls_applied = 1;
        }
        char keys[160];
        col_conf now = cf; /* cf.tls is the old one if applied: no restart key then */
        if (tls_applied)
            now.tls = c->conf.tls;
        if (!first && col_conf_restart_keys(&c->conf, &now, keys, sizeof(keys)) > 0)
            vg_warn("collector %s changed: this takes effect after a restart; keeping the "
                    "running values", keys);
        if (!first) { /* the counters' line from the next tick on */
            c->conf.stats_log = cf.stats_log;
            vg_stats_log_every(&c->stats_log, cf.stats_log);
        }
        if (!first) { /* connection limits and timeouts apply from now on */
            c->conf.max_conns = cf.max_conns;
            c->conf.max_conns_ip = cf.max_conns_ip;
            c->conf.handshake_ms = cf.handshake_ms;
            c->conf.idle_ms = cf.idle_ms;
            c->conf.frame_ms = cf.frame_ms;
            c->conf.max_rate_ip = cf.max_rate_ip;
            col_fd_room(c);
            col_input_rate_reload(c);
        }
        if (!first) { /* the source map applies from the next message on */
            size_t entries, nets, pats;
            col_sources_free(c->sources);
            c->sources = cf.sources;
            cf.sources = NULL;
            col_sources_count(c->sources, &entries, &nets, &pats);
            vg_info("source map reloaded: %zu entries, %zu networks, %zu host patterns", entries,
                    nets, pats);
        }
        col_conf_free(&cf);
        return 0;
    }
    c->conf = cf;
    c->sources = cf.sources;
    c->conf.sources = NULL;
    if ((rc = col_counters_new(&c->counters, 0, 0, 0)) != 0) {
        snprintf(err, errlen, "%s: out of memory", vg_daemon_config_path(d));
        return rc;
    }
    c->d = d;
    c->loop = vg_daemon_loop(d);
    const vg_pipeline_conf *pc = vg_daemon_pipeline(d);
    if ((rc = vg_daemon_prepare_dirs(d, false, c->conf.name, err, errlen)) != 0)
        return rc;
    if ((rc = col_input_start(c)) != 0) {
        snprintf(err, errlen, "%s: cannot open the listeners (see above)", vg_daemon_config_path(d));
        return rc;
    }
    if ((rc = vg_daemon_drop_privileges(d)) != 0 || (rc = col_spool_open(c)) != 0) {
        snprintf(err, errlen, "%s: startup failed: %s", vg_daemon_config_path(d), vg_strerror(rc));
        return rc;
    }
    char *path = c->conf.correlator[0] == '/' ? strdup(c->conf.correlator)
                                              : vg_daemon_path(pc->run_dir, c->conf.correlator);
    vg_sender_cfg sc = {
        .path = path, .allow_uid = pc->uid, .role = "collector", .name = c->conf.name,
        .type = VG_MSG_EVENTS, .store = c->store, .queue = c->spool,
        .stats_fn = col_stats_fn, .stats_ud = c, .stats_ms = (uint32_t)pc->stats_interval,
    };
    rc = path ? vg_sender_start(c->loop, &sc, &c->sender) : -12;
    free(path);
    if (rc == 0) { /* the spool was synced when opened */
        c->committed = c->synced = vg_queue_last(c->spool);
        vg_sender_limit(c->sender, c->synced);
        vg_stats_log_start_line(&c->stats_log, c->loop, c->conf.stats_log, col_summary, c);
    }
    return rc;
}

static void col_report_line(void *arg, const char *line)
{
    (void)arg;
    vg_info("%s", line);
}

static void col_report(vg_daemon *d)
{
    col *c = vg_daemon_data(d);
    char line[2048];
    col_summary(c, line, sizeof(line));
    vg_info("%s", line);
    if (c->counters)
        col_counters_report(c->counters, 100, col_report_line, NULL);
}

static void col_shutdown(vg_daemon *d)
{
    col *c = vg_daemon_data(d);
    vg_stats_log_stop(&c->stats_log);
    col_input_stop(c);
    if (c->store)
        col_spool_close(c);
    if (c->sender)
        vg_sender_stop(c->sender);
    col_report(d);
}

static const vg_daemon_ops col_ops = {col_configure, col_shutdown, col_report};

int main(int argc, char **argv)
{
    static col c;
    int rc = vg_daemon_main(argc, argv, &col_desc, &col_ops, &c);
    if (c.store)
        vg_store_close(c.store);
    msgpack_sbuffer_destroy(&c.pend);
    free(c.pend_off);
    free(c.udp_buf);
    free(c.read_buf);
    col_tls_free(&c.tls);
    col_sources_free(c.sources);
    col_counters_free(c.counters);
    col_rate_free(&c.rate);
    col_conf_free(&c.conf);
    return rc;
}
