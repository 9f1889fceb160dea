/* vigil-shipper: takes alerts from the correlator into a durable outbox and
 * delivers them to the outputs the SIEM and the duty officers read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shp.h"
#include "vigil/cfile.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/stats_log.h"

const char *shp_name(const shp *s)
{
    return s->conf.name;
}

static const vg_daemon_tool shp_tools[] = {
    {"dump-outbox",
     "  --dump-outbox [OUTPUT]\n"
     "                       print the alerts in the outbox as ECS JSON lines (the bytes a\n"
     "                       file output writes), oldest first: all of them, or those\n"
     "                       OUTPUT has not settled yet; on stderr each output's cursor\n"
     "                       and how many alerts wait for it. Safe while the shipper runs.\n",
     true, shp_dump_outbox},
    {NULL, NULL, false, NULL},
};

static const vg_daemon_desc shp_desc = {
    .prog = "vigil-shipper",
    .section = "shipper",
    .summary = "vigil-shipper - deliver alerts from the correlator to the SIEM and the on-call",
    .help =
        "Description:\n"
        "  Accepts the alert stream of vigil-correlator on the Unix socket\n"
        "  shipper.listen_socket and commits each alert to an LMDB outbox before\n"
        "  acknowledging it. Every output in shipper.outputs then takes the outbox\n"
        "  in order at its own pace, with its own cursor, so a dead SIEM holds back\n"
        "  nothing but itself:\n"
        "    file           ECS JSON lines, exactly once, rotated by size\n"
        "    stdout         ECS JSON lines on standard output\n"
        "    syslog         RFC 5424 over udp://, tcp:// (octet counting) or tls://,\n"
        "                   carrying CEF or LEEF 2.0\n"
        "    elasticsearch  _bulk 'create' with the alert id (OpenSearch too)\n"
        "    splunk_hec     HTTP Event Collector\n"
        "    webhook        one JSON object per alert, for the duty officers' chat\n"
        "  Each output has a routing filter (min_level, agency, site, rule, tag,\n"
        "  not_rule), retries with exponential backoff and jitter (retry_min,\n"
        "  retry_max), a backlog limit (max_backlog) with a policy (on_full: block\n"
        "  the correlator, or drop_oldest, counted and logged), and optionally a\n"
        "  rate limit per rule (rate_limit per rate_window) whose surplus is sent\n"
        "  as one summary per rule and window. Alerts a destination refuses for\n"
        "  good are kept in DATA_DIR/shipper/NAME/deadletter-OUTPUT.jsonl, and so\n"
        "  is an alert Elasticsearch refuses for now, item by item, for longer\n"
        "  than item_retry_for (1h; forever: never).\n"
        "  An alert leaves the outbox once every output has settled it.\n"
        "  Every key: docs/configuration.md and docs/shipper.md.\n"
        "\n"
        "Counters:\n"
        "  Every shipper.stats_log (1m) when a counter changed (else once an\n"
        "  hour), on SIGUSR1 and at exit, one line for the intake and one per\n"
        "  output: sent, duplicates, retried, item_retries, failed, dropped,\n"
        "  filtered, summarised, summaries, backlog, backlog_age_s, state,\n"
        "  last_error.\n",
    .files =
        "  /etc/vigil/vigil.yaml     the configuration (-c), shared by the three daemons\n"
        "  DATA_DIR/shipper/NAME/    the outbox and each output's cursor (LMDB); NAME is\n"
        "                            shipper.name\n"
        "  DATA_DIR/shipper/NAME/deadletter-OUTPUT.jsonl\n"
        "                            alerts output OUTPUT's destination refused for good\n"
        "  RUN_DIR/shipper.sock      the correlator connects here (shipper.listen_socket)\n"
        "  PATH, PATH.1 ...          a file output's alerts and its rotated files\n"
        "  DATA_DIR and RUN_DIR are pipeline.data_dir and pipeline.run_dir.\n",
    .tools = shp_tools,
};

/* -t runs as root, the shipper opens its outputs as pipeline.user: warns
 * of a file output or TLS file that user cannot use (a log directory
 * only root may write to), which -t passed and the start then failed on.
 * And of a file output whose directory does not exist: no error, since
 * the output opens it again with each attempt at run time (a mount not
 * there yet), but a typo in the path would else hold its alerts in the
 * outbox unseen until it filled up. */
static void shp_check_user_access(vg_daemon *d, const shp_conf *cf)
{
    static const char then[] = "the shipper opens it as that user at its start, and would fail";
    char what[200];
    for (size_t i = 0; i < cf->noutputs; i++) {
        const shp_out_conf *oc = &cf->outputs[i];
        struct stat sb;
        if (strcmp(oc->type, "file") == 0 && oc->path &&
            !(stat(oc->path, &sb) == 0 && S_ISCHR(sb.st_mode))) {
            char *dir = strdup(oc->path), *slash = dir ? strrchr(dir, '/') : NULL;
            if (slash) {
                slash[slash == dir] = '\0'; /* "/a.json": the directory is "/" */
                if (stat(dir, &sb) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
                    char at[32] = ""; /* no line: an output the program made */
                    if (oc->path_line > 0)
                        snprintf(at, sizeof(at), ":%d", oc->path_line);
                    vg_warn("%s%s: output %s: the directory %s of 'path' does not exist yet; "
                            "the output retries at run time, and its alerts wait in the outbox "
                            "until it does",
                            vg_daemon_config_path(d), at, oc->name, dir);
                } else {
                    snprintf(what, sizeof(what), "the directory of output %s", oc->name);
                    vg_daemon_user_access(d, dir, W_OK | X_OK, what, then);
                }
            }
            free(dir);
            snprintf(what, sizeof(what), "output %s", oc->name);
            if (access(oc->path, F_OK) == 0)
                vg_daemon_user_access(d, oc->path, W_OK, what, then);
        }
        const char *tls[] = {oc->tls_ca, oc->tls_crl, oc->tls_cert, oc->tls_key};
        for (size_t j = 0; j < sizeof(tls) / sizeof(tls[0]); j++) {
            if (tls[j] && tls[j][0]) {
                snprintf(what, sizeof(what), "a TLS file of output %s", oc->name);
                vg_daemon_user_access(d, tls[j], R_OK, what, then);
            }
        }
    }
}

/* A file output whose 'path' names a directory, a FIFO, a socket or a
 * block device can never start: -t said the file was valid, and the start
 * then failed without a line ("startup failed: Is a directory"). Refused
 * here, at -t and at the start, with the line of 'path'. A path that does
 * not exist (yet) or names a character device (/dev/null) is fine. */
static int shp_check_file_paths(vg_daemon *d, const shp_conf *cf, char *err, size_t errlen)
{
    for (size_t i = 0; i < cf->noutputs; i++) {
        const shp_out_conf *oc = &cf->outputs[i];
        struct stat sb;
        if (strcmp(oc->type, "file") != 0 || !oc->path || stat(oc->path, &sb) != 0 ||
            S_ISREG(sb.st_mode) || S_ISCHR(sb.st_mode))
            continue;
        char at[32] = ""; /* no line: an output the program made */
        if (oc->path_line > 0)
            snprintf(at, sizeof(at), ":%d", oc->path_line);
        snprintf(err, errlen,
                 "%s%s: output %s: %s is %s, neither a regular file nor a device; a file output "
                 "needs one (for a pipe, use an output of type stdout)",
                 vg_daemon_config_path(d), at, oc->name, oc->path, vg_cfile_kind(sb.st_mode));
        return VG_ECONFIG;
    }
    return 0;
}

/* The counters of the stats lines, folded (FNV-1a): they change exactly
 * when it does (vg_stats_log). */
static uint64_t shp_stats_fp(void *ud)
{
    const shp *s = ud;
    const vg_receiver_stats *rs = s->receiver ? vg_receiver_get_stats(s->receiver) : NULL;
    const vg_link_stats *ls = s->receiver ? vg_receiver_link_stats(s->receiver) : NULL;
    const uint64_t v[] = {rs ? rs->records : 0, rs ? rs->duplicates : 0,
                          s->outbox ? vg_queue_count(s->outbox) : 0, (uint64_t)s->intake_paused,
                          ls ? ls->bad_frames : 0, ls ? ls->peers_refused : 0,
                          rs ? rs->commit_errors : 0};
    return shp_outputs_fp(s, vg_fnv1a(VG_FNV1A_INIT, v, sizeof(v)));
}

static void shp_report(vg_daemon *d);

/* Every stats_log: the intake's line and one per output, as SIGUSR1's. */
static void shp_stats_report(void *ud)
{
    shp_report(((shp *)ud)->d);
}

static int shp_configure(vg_daemon *d, const vg_node *root, int first, char *err, size_t errlen)
{
    shp *s = vg_daemon_data(d);
    shp_conf cf;
    int rc = shp_conf_load(root, vg_daemon_config_path(d), &cf, err, errlen);
    if (rc)
        return rc;
    if ((vg_daemon_check_only(d) || first) && (rc = shp_check_file_paths(d, &cf, err, errlen))) {
        shp_conf_free(&cf);
        return rc;
    }
    if (vg_daemon_check_only(d))
        shp_check_user_access(d, &cf);
    if (vg_daemon_check_only(d) || !first) {
        if (!first) {
            if (strcmp(cf.listen, s->conf.listen) || strcmp(cf.name, s->conf.name) ||
                cf.outbox_size != s->conf.outbox_size)
                vg_warn("shipper name, socket and outbox_size changes take effect after a "
                        "restart; keeping the running values");
            shp_outputs_reload(s, &cf);
            s->conf.stats_log = cf.stats_log;
            vg_stats_log_every(&s->stats_log, cf.stats_log);
        }
        shp_conf_free(&cf);
        return 0;
    }
    s->conf = cf;
    s->d = d;
    s->loop = vg_daemon_loop(d);
    msgpack_sbuffer_init(&s->rec);
    const vg_pipeline_conf *pc = vg_daemon_pipeline(d);
    char name[256];
    snprintf(name, sizeof(name), "shipper/%s", s->conf.name);
    s->dir = vg_daemon_path(pc->data_dir, name);
    if ((rc = vg_daemon_prepare_dirs(d, true, s->conf.name, err, errlen)))
        return rc;
    if ((rc = vg_daemon_drop_privileges(d)) == 0 &&
        ((rc = s->dir ? vg_store_open_ex(&s->store, s->dir, (size_t)(s->conf.outbox_size >> 20),
                                         VG_STORE_OWNER)
                      : -ENOMEM) ||
         (rc = vg_queue_open(s->store, "outbox", &s->outbox))))
        vg_error("cannot open outbox %s: %s", s->dir ? s->dir : "", vg_strerror(rc));
    if (rc == 0)
        vg_store_check_room(s->dir, "shipper.outbox_size", (size_t)(s->conf.outbox_size >> 20));
    if (rc || (rc = shp_outputs_open(s)) || (rc = shp_intake_start(s))) {
        snprintf(err, errlen, "%s: startup failed: %s", vg_daemon_config_path(d), vg_strerror(rc));
        return rc;
    }
    vg_stats_log_start(&s->stats_log, s->loop, cf.stats_log, shp_stats_fp, shp_stats_report, s);
    return 0;
}

static void shp_report(vg_daemon *d)
{
    shp *s = vg_daemon_data(d);
    const vg_receiver_stats *rs = s->receiver ? vg_receiver_get_stats(s->receiver) : NULL;
    const vg_link_stats *ls = s->receiver ? vg_receiver_link_stats(s->receiver) : NULL;
    vg_info("stats: received=%llu duplicates=%llu outbox=%llu intake_paused=%d bad_frames=%llu "
            "peers_refused=%llu commit_errors=%llu",
            (unsigned long long)(rs ? rs->records : 0), (unsigned long long)(rs ? rs->duplicates : 0),
            (unsigned long long)(s->outbox ? vg_queue_count(s->outbox) : 0), s->intake_paused,
            (unsigned long long)(ls ? ls->bad_frames : 0),
            (unsigned long long)(ls ? ls->peers_refused : 0),
            (unsigned long long)(rs ? rs->commit_errors : 0));
    shp_outputs_report(s);
    vg_receiver_report(s->receiver);
}

static void shp_shutdown(vg_daemon *d)
{
    shp *s = vg_daemon_data(d);
    shp_report(d);
    shp_intake_stop(s);
    vg_stats_log_stop(&s->stats_log);
    shp_outputs_close(s);
}

static const vg_daemon_ops shp_ops = {shp_configure, shp_shutdown, shp_report};

int main(int argc, char **argv)
{
    static shp s;
    int rc = vg_daemon_main(argc, argv, &shp_desc, &shp_ops, &s);
    shp_outputs_free(&s);
    if (s.store)
        vg_store_close(s.store);
    msgpack_sbuffer_destroy(&s.rec);
    shp_conf_free(&s.conf);
    free(s.dir);
    return rc;
}
