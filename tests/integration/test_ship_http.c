/* The shipper's HTTP outputs against a local server (tests/support/
 * http_sink.py) that plays Elasticsearch _bulk, Splunk HEC and a webhook
 * and answers 429, 503, 403, partial errors and stalls on command: the
 * real pipeline (logger -> collector -> correlator -> shipper) must get
 * every alert to it exactly once, or to the dead-letter file when the
 * server refuses that alert for good (docs/shipper-http.md). */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "it_common.h"

#define TS_MAX_IDS 4096

/* ---- the sink ------------------------------------------------------------ */

typedef struct ts_sink {
    pid_t pid;
    int port;
    char store[400], log[400], control[400], raw[420];
} ts_sink;

static pid_t ts_pids[8];

static void ts_kill_sinks(void)
{
    for (int i = 0; i < 8; i++)
        if (ts_pids[i] > 0) {
            kill(ts_pids[i], SIGKILL);
            waitpid(ts_pids[i], NULL, 0);
            ts_pids[i] = 0;
        }
}

/* Starts http_sink.py under p's dir (files sink-TAG.*). port 0: any free
 * one. extra: more arguments, NULL-terminated (may be NULL). */
static int ts_sink_start(ts_sink *k, const vt_pipe *p, const char *tag, int port,
                         const char *const *extra)
{
    static int registered;
    if (!registered++)
        atexit(ts_kill_sinks);
    memset(k, 0, sizeof(*k));
    char portfile[400], errlog[400], script[600], portarg[16];
    snprintf(portfile, sizeof(portfile), "%s/sink-%s.port", p->dir, tag);
    snprintf(errlog, sizeof(errlog), "%s/sink-%s.log", p->dir, tag);
    snprintf(k->store, sizeof(k->store), "%s/sink-%s.jsonl", p->dir, tag);
    snprintf(k->raw, sizeof(k->raw), "%s.raw", k->store);
    snprintf(k->log, sizeof(k->log), "%s/sink-%s.requests", p->dir, tag);
    snprintf(k->control, sizeof(k->control), "%s/sink-%s.control", p->dir, tag);
    const char *src = getenv("VG_SOURCE_ROOT");
    snprintf(script, sizeof(script), "%s/tests/support/http_sink.py", src ? src : ".");
    snprintf(portarg, sizeof(portarg), "%d", port);
    const char *argv[32] = {"python3", script, "--port", portarg, "--port-file", portfile,
                            "--store", k->store, "--log", k->log, "--control", k->control};
    int n = 12;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    unlink(portfile);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test */
        int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    for (int i = 0; i < 8; i++)
        if (ts_pids[i] == 0) {
            ts_pids[i] = pid;
            break;
        }
    k->pid = pid;
    if (!vt_wait_path(portfile, 10000))
        return -1;
    char *b = vt_read_file(portfile, NULL);
    k->port = b ? atoi(b) : -1;
    free(b);
    return k->port > 0 ? 0 : -1;
}

static void ts_sink_stop(ts_sink *k);

/* Same, on any free port but the two the pipe's collector may bind. */
static int ts_sink_start_any(ts_sink *k, const vt_pipe *p, const char *tag,
                             const char *const *extra)
{
    for (int tries = 0; tries < 5; tries++) {
        if (ts_sink_start(k, p, tag, 0, extra) != 0)
            return -1;
        if (k->port != p->port && k->port != p->port2)
            return 0;
        ts_sink_stop(k);
    }
    return -1;
}

static void ts_sink_stop(ts_sink *k)
{
    if (k->pid <= 0)
        return;
    kill(k->pid, SIGTERM);
    int st;
    pid_t r = 0;
    for (int i = 0; i < 50 && (r = waitpid(k->pid, &st, WNOHANG)) == 0; i++)
        vt_sleep_ms(100);
    /* Only if not reaped: once reaped, the PID is no longer ours (kill(pid,
     * 0) succeeded on whatever process reused it, which got the SIGKILL). */
    if (r == 0) {
        kill(k->pid, SIGKILL);
        waitpid(k->pid, &st, 0);
    }
    for (int i = 0; i < 8; i++)
        if (ts_pids[i] == k->pid)
            ts_pids[i] = 0;
    k->pid = 0;
}

/* Fails the test after showing the shipper's log and the sink's requests. */
#define TS_ASSERT(cond, p, k, ...)                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            char ts_log_[400];                                                                     \
            vt_pipe_log((p), VT_SHIPPER, ts_log_, sizeof(ts_log_));                                \
            vt_show_tail(ts_log_, 4000);                                                                \
            vt_show_tail((k)->log, 3000);                                                               \
            printf("---- test dir: %s\n", (p)->dir);                                              \
            ck_abort_msg(__VA_ARGS__);                                                             \
        }                                                                                          \
    } while (0)

/* ---- configuration --------------------------------------------------------- */

/* The shipper section: the outputs under test, then the file output whose
 * ids are the reference. */
static void ts_shipper_yaml(char *out, size_t cap, const char *outputs)
{
    snprintf(out, cap,
             "shipper:\n  name: shipper\n  outbox_size: 256M\n  outputs:\n%s"
             "    - name: file\n      type: file\n      path: alerts.json\n",
             outputs);
}

/* Replaces every 'token' in the config file by the number v. */
static int ts_subst(const vt_pipe *p, const char *token, int v)
{
    char *b = vt_read_file(p->config, NULL);
    if (!b)
        return -1;
    size_t tl = strlen(token), cap = strlen(b) * 2 + 64, o = 0;
    char *out = malloc(cap);
    for (const char *q = b; *q;) {
        if (strncmp(q, token, tl) == 0) {
            o += (size_t)snprintf(out + o, cap - o, "%d", v);
            q += tl;
        } else {
            out[o++] = *q++;
        }
    }
    out[o] = '\0';
    int rc = vt_write_file(p->config, out);
    free(out);
    free(b);
    return rc;
}

/* ---- ids ------------------------------------------------------------------- */

typedef char ts_id[33];

/* The ids after 'key' on each line of path that contains 'must' (NULL:
 * every line), in file order. Returns how many. */
static int ts_ids(const char *path, const char *must, const char *key, ts_id *ids, int max)
{
    char *b = vt_read_file(path, NULL);
    int n = 0;
    for (char *line = b, *nl; b && *line && n < max; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = '\0';
        const char *k = strstr(line, key);
        if ((must && !strstr(line, must)) || !k)
            continue;
        k += strlen(key);
        size_t l = strcspn(k, "\"");
        snprintf(ids[n++], sizeof(ts_id), "%.*s", (int)(l < 32 ? l : 32), k);
    }
    free(b);
    return n;
}

#define TS_FILE_KEY "\"event\":{\"kind\":\"alert\",\"id\":\""
#define TS_SINK_KEY "\"id\": \""
#define TS_DL_KEY "\"id\":\""

static int ts_find(ts_id *ids, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return i;
    return -1;
}

/* got must hold every id of want exactly once and nothing else. Prints
 * what is wrong; returns the number of problems. */
static int ts_exactly_once(ts_id *want, int nw, ts_id *got, int ng, const char *what)
{
    int problems = 0;
    for (int i = 0; i < ng; i++) {
        if (ts_find(want, nw, got[i]) < 0 && problems++ < 10)
            printf("%s: unexpected id %s\n", what, got[i]);
        if (ts_find(got, i, got[i]) >= 0 && problems++ < 10)
            printf("%s: id %s twice\n", what, got[i]);
    }
    for (int i = 0; i < nw; i++)
        if (ts_find(got, ng, want[i]) < 0 && problems++ < 10)
            printf("%s: id %s missing\n", what, want[i]);
    if (nw != ng) {
        printf("%s: %d ids, expected %d\n", what, ng, nw);
        problems++;
    }
    return problems;
}

/* How many of got come after an id that is later in want's order. */
static int ts_out_of_order(ts_id *want, int nw, ts_id *got, int ng)
{
    int max = -1, bad = 0;
    for (int i = 0; i < ng; i++) {
        int at = ts_find(want, nw, got[i]);
        if (at < max)
            bad++;
        else
            max = at;
    }
    return bad;
}

/* Removes the ids of drop from ids (keeps the order); returns the count. */
static int ts_without(ts_id *ids, int n, ts_id *drop, int nd)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (ts_find(drop, nd, ids[i]) < 0)
            memmove(ids[k++], ids[i], sizeof(ts_id));
    return k;
}


/* Starts collector and correlator, sends n lines, and waits until the
 * correlator has raised all n alerts before the shipper starts, so that the
 * shipper finds a backlog and the first requests carry full batches (the
 * faults aim at items 2 and 3 of a request). */
static void ts_backlog_then_shipper(vt_pipe *p, int n)
{
    char path[400];
    vt_pipe_start(p, VT_CORRELATOR);
    snprintf(path, sizeof(path), "%s/run/correlator.sock", p->dir);
    ck_assert(vt_wait_path(path, 10000));
    vt_pipe_start(p, VT_COLLECTOR);
    vt_pipe_log(p, VT_COLLECTOR, path, sizeof(path));
    ck_assert(vt_wait_text(path, "has everything up to seq", 10000));
    char file[400];
    ck_assert_int_eq(it_write_lines(p, "lines.txt", 0, n, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(p, file, NULL), 0);
    /* a fixed sleep here let a slow correlator hand the shipper part of
     * the backlog: smaller batches, the faults on other items */
    char want[120];
    snprintf(want, sizeof(want), "stats: events=%d duplicates=0 malformed_in=0 alerts=%d ", n, n);
    vt_pipe_log(p, VT_CORRELATOR, path, sizeof(path));
    bool all = false;
    for (int i = 0; i < 100 && !all; i++) {
        kill(p->pid[VT_CORRELATOR], SIGUSR1);
        all = vt_wait_text(path, want, 100);
    }
    if (!all)
        vt_show_tail(path, 2000);
    ck_assert_msg(all, "the correlator did not report '%s'", want);
    vt_pipe_start(p, VT_SHIPPER);
}

/* What a faulty HTTP run ended with: the ids of the alerts the file output
 * wrote (want), of those the sink stored (got) and of those in the output's
 * dead-letter file (dead). */
typedef struct ts_outcome {
    ts_id want[TS_MAX_IDS], got[TS_MAX_IDS], dead[8];
    int nw, ng, nd;
    char dl[500]; /* the dead-letter file */
} ts_outcome;

/* Waits for n_alerts in the file output, n_stored items (noun, for the
 * message) in the sink and n_dead lines in OUTPUT's dead-letter file, lets
 * anything extra show for half a second, then reads the three id lists
 * (the sink's only from lines holding sink_must, if not NULL). */
static void ts_outcome_read(vt_pipe *p, ts_sink *k, const char *output, int n_alerts,
                            int n_stored, const char *noun, int n_dead, const char *sink_must,
                            ts_outcome *o)
{
    ck_assert_msg(vt_wait_lines(p->alerts, n_alerts, 60000), "file: %ld alerts",
                  vt_count_lines(p->alerts));
    TS_ASSERT(vt_wait_lines(k->store, n_stored, 60000), p, k, "%s: %ld %s", output,
              vt_count_lines(k->store), noun);
    snprintf(o->dl, sizeof(o->dl), "%s/data/shipper/shipper/deadletter-%s.jsonl", p->dir, output);
    ck_assert(vt_wait_lines(o->dl, n_dead, 10000));
    vt_sleep_ms(500); /* anything extra would show now */
    o->nw = ts_ids(p->alerts, NULL, TS_FILE_KEY, o->want, TS_MAX_IDS);
    o->ng = ts_ids(k->store, sink_must, TS_SINK_KEY, o->got, TS_MAX_IDS);
    o->nd = ts_ids(o->dl, NULL, TS_DL_KEY, o->dead, 8);
}

/* ---- tests ----------------------------------------------------------------- */

#define N_ES 200

/* _bulk answered 503, 503, 429, then errors:true with item 2 429, item 3
 * 400 mapper_parsing_exception and item 4 403 security_exception (the user
 * may not write the index: ours to fix, so kept and retried): every alert
 * is stored exactly once except the one refused for good, which is in the
 * dead-letter file; the retries are counted and logged. */
START_TEST(test_es_faults_nothing_lost)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      index: vigil-alerts\n      batch: 50\n      retry_min: 100ms\n"
                    "      retry_max: 1s\n      timeout: 700ms\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    /* The second batch of 50 is read at 32 KB/s through a small window:
     * about 1.2 s, 1.7 times the timeout, while the server keeps taking
     * bytes (a timeout short enough to be passed, long enough that no
     * other request of a loaded machine's runs comes near it). */
    const char *faults[] = {"--rcvbuf", "4096", "--faults",
                            "es 503;es 503;es 429;es items 2=429 3=400 4=403;es pass;"
                            "es slow 32000",
                            NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", faults), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_ES);

    static ts_outcome o;
    ts_outcome_read(&p, &k, "es", N_ES, N_ES - 1, "documents", 1, "\"kind\": \"es\"", &o);
    ts_id *want = o.want, *got = o.got, *dead = o.dead;
    int nw = o.nw, ng = o.ng;
    ck_assert_int_eq(nw, N_ES);
    ck_assert_int_eq(o.nd, 1);
    char *dlb = vt_read_file(o.dl, NULL);
    ck_assert_ptr_nonnull(strstr(dlb, "\"output\":\"es\""));
    ck_assert_ptr_nonnull(strstr(dlb, "mapper_parsing_exception"));
    free(dlb);
    /* Stored: every alert but the refused one (item 3 of the first
     * request, pos 3 in the sink), once each. */
    ck_assert_int_eq(ts_find(want, nw, dead[0]), 2);
    int nrest = ts_without(want, nw, dead, 1);
    ck_assert_int_eq(ts_exactly_once(want, nrest, got, ng, "es"), 0);
    /* In order, but for the two items sent again after their 429 and 403. */
    ck_assert_int_le(ts_out_of_order(want, nrest, got, ng), 2);

    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "failed", 1, 5000), 1);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "sent", N_ES - 1, 10000), N_ES - 1);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "duplicates"), 0);
    /* 503, 503, 429: three requests failed as a whole, each retried once;
     * the one read slowly (longer than timeout, but making progress) was
     * not abandoned */
    ck_assert_int_eq(vt_count_text(k.log, "\"fault\": \"slow 32000\", \"stored\": ["), 1);
    TS_ASSERT(vt_count_text(k.log, "client_gone") == 0, &p, &k, "a request was abandoned");
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "retried"), 3);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "item_retries"), 2);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "http_errors"), 3);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "last_status"), 200);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "file", "sent", N_ES, 10000), N_ES);
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "HTTP 503 unavailable_shards_exception", 100));
    ck_assert(vt_wait_text(log,
                           "output es: 2 alerts refused for now (item HTTP 429 "
                           "es_rejected_execution_exception",
                           100));
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGTERM), 0);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

#define N_KILL 300

/* kill -9 while a _bulk request is stored but not answered: after the
 * restart that batch is sent again, refused as 409 and counted as
 * duplicates; the store still holds every alert exactly once. That
 * request is the item-retry round of the second batch, whose item 3 was
 * refused for good and is in the dead-letter file: refused again after
 * the restart, it is not written there twice. The URL has a query:
 * /_bulk goes before it. */
START_TEST(test_es_kill9_between_delivery_and_commit)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n"
                    "      url: http://127.0.0.1:@PORT@/?refresh=false\n"
                    "      batch: 50\n      retry_min: 100ms\n      retry_max: 1s\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    /* batch 1; batch 2 with item 2 refused for now and 3 for good; item 2
     * again, stored but unanswered; after the restart, batch 2 again with
     * item 3 refused again */
    const char *faults[] = {"--faults", "es pass;es items 2=429 3=400;es stall 8000;es items 3=400",
                            NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", faults), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_KILL);

    TS_ASSERT(vt_wait_text(k.log, "\"stalling\": true", 30000), &p, &k, "no request stalled");
    ck_assert_int_eq(vt_count_text(k.log, "\"query\": \"refresh=false\""), 3);
    long stored = vt_count_lines(k.store);
    ck_assert_int_eq(stored, 99); /* batch 1, batch 2 but items 2 and 3, item 2 unanswered */
    char dl[500];
    snprintf(dl, sizeof(dl), "%s/data/shipper/shipper/deadletter-es.jsonl", p.dir);
    ck_assert_int_eq(vt_count_lines(dl), 1);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGKILL), 128 + SIGKILL);
    vt_pipe_start(&p, VT_SHIPPER);

    TS_ASSERT(vt_wait_lines(k.store, N_KILL - 1, 60000), &p, &k, "es: %ld documents",
              vt_count_lines(k.store));
    ck_assert(vt_wait_lines(p.alerts, N_KILL, 30000));
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "sent", N_KILL - 100, 10000), N_KILL - 100);
    vt_sleep_ms(500);
    static ts_id want[TS_MAX_IDS], got[TS_MAX_IDS], dead[4];
    int nw = ts_ids(p.alerts, NULL, TS_FILE_KEY, want, TS_MAX_IDS);
    int ng = ts_ids(k.store, "\"index\": \"vigil-alerts\"", TS_SINK_KEY, got, TS_MAX_IDS);
    int nd = ts_ids(dl, NULL, TS_DL_KEY, dead, 4);
    TS_ASSERT(nd == 1, &p, &k, "the dead-letter file holds %d lines, not 1", nd);
    ck_assert_int_eq(ts_find(want, nw, dead[0]), 52);
    nw = ts_without(want, nw, dead, nd);
    ck_assert_int_eq(ts_exactly_once(want, nw, got, ng, "es"), 0);
    ck_assert_int_le(ts_out_of_order(want, nw, got, ng), 1); /* item 2, after its 429 */
    /* The restarted shipper re-sent what it had not committed: the second
     * batch, no more (the first was committed): all but its item 3 were
     * there. */
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "duplicates"), 49);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "failed"), 1);
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "the dead-letter file has it from before the restart", 100));
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

#define N_CUT 60

/* A dead-letter line cut by a crash (a kill -9 stops a large write()
 * between two pages; a power loss before its sync): the batch was not
 * recorded, so after the restart its alert is refused again. The cut
 * line is removed at the start and the alert written again, whole, on a
 * line of its own. Before, the cut line, whose id was whole, counted as
 * "the dead-letter file has it from before the restart": the alert's
 * payload was nowhere, and the next line was glued to the cut one, which
 * made the file unreadable to jq from there on. */
START_TEST(test_es_dead_letter_cut_line_mended)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 100\n      retry_min: 100ms\n      retry_max: 1s\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    /* item 3 refused for good, item 2 for now; its round stalls (the
     * kill); after the restart, the batch again with item 3 refused */
    const char *faults[] = {"--faults", "es items 2=429 3=400;es stall 8000;es items 3=400",
                            NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", faults), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_CUT);

    TS_ASSERT(vt_wait_text(k.log, "\"stalling\": true", 30000), &p, &k, "no request stalled");
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGKILL), 128 + SIGKILL);
    char dl[500];
    snprintf(dl, sizeof(dl), "%s/data/shipper/shipper/deadletter-es.jsonl", p.dir);
    size_t len = 0;
    char *line = vt_read_file(dl, &len);
    ck_assert_ptr_nonnull(line);
    ck_assert_int_eq(vt_count_lines(dl), 1);
    char *cut = strstr(line, "\"payload\":\"");
    ck_assert_ptr_nonnull(cut);
    cut[20] = '\0'; /* the line as a crash left it: its id whole, its payload cut */
    ck_assert_int_eq(vt_write_file(dl, line), 0);
    free(line);
    vt_pipe_start(&p, VT_SHIPPER);
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    /* up (its signal handlers too) before SIGUSR1 asks for its counters */
    ck_assert(vt_wait_text(log, " started (config ", 10000));

    ck_assert(vt_wait_lines(p.alerts, N_CUT, 30000));
    TS_ASSERT(vt_wait_lines(k.store, N_CUT - 1, 30000), &p, &k, "es: %ld documents",
              vt_count_lines(k.store));
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "backlog", 0, 10000), 0);
    static ts_id want[N_CUT], dead[4];
    ck_assert_int_eq(ts_ids(p.alerts, NULL, TS_FILE_KEY, want, N_CUT), N_CUT);
    int nd = ts_ids(dl, NULL, TS_DL_KEY, dead, 4);
    TS_ASSERT(nd == 1, &p, &k, "the dead-letter file holds %d lines, not 1", nd);
    ck_assert_str_eq(dead[0], want[2]);
    char *b = vt_read_file(dl, &len);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(vt_count_lines(dl), 1);
    ck_assert_msg(len > 2 && strncmp(b + len - 3, "\"}\n", 3) == 0 &&
                      strstr(b, "\"payload\":\"{\\\"create\\\":") &&
                      strstr(b, "mapper_parsing_exception"),
                  "not one whole line: %s", b);
    free(b);
    ck_assert(vt_wait_text(log, "output es: deadletter-es.jsonl ended in a line cut short", 100));
    ck_assert_int_eq(vt_count_text(log, "the dead-letter file has it from before the restart"),
                     0);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

#define N_HEC 150

/* HEC: 403 (token refused) twice, 503, code 7 (incorrect index: our
 * configuration) twice, then event 2 of a request refused with code 6:
 * nothing lost, nothing twice, in order, the refused event in the
 * dead-letter file, the credentials and the index problems logged once
 * each as errors. */
START_TEST(test_hec_faults_in_order)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: hec\n      type: splunk_hec\n"
                    "      url: http://127.0.0.1:@PORT@/services/collector?channel=c1\n"
                    "      token: 00000000-1111-2222-3333-444444444444\n      index: main\n"
                    "      batch: 50\n      retry_min: 100ms\n      retry_max: 1s\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *args[] = {"--hec-token", "00000000-1111-2222-3333-444444444444", "--faults",
                          "hec 403;hec 403;hec 503;hec hec-code 7;hec hec-code 7;hec hec-bad 2",
                          NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "hec", args), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_HEC);

    static ts_outcome o;
    ts_outcome_read(&p, &k, "hec", N_HEC, N_HEC - 1, "events", 1, "\"kind\": \"hec\"", &o);
    ts_id *want = o.want, *got = o.got, *dead = o.dead;
    int nw = o.nw, ng = o.ng;
    ck_assert_int_eq(o.nd, 1);
    /* The third alert of the batch HEC stopped at. */
    ck_assert_int_eq(ts_find(want, nw, dead[0]), 2);
    nw = ts_without(want, nw, dead, 1);
    ck_assert_int_eq(ts_exactly_once(want, nw, got, ng, "hec"), 0);
    ck_assert_int_eq(ts_out_of_order(want, nw, got, ng), 0);
    /* The envelope. */
    char *b = vt_read_file(k.store, NULL);
    ck_assert_ptr_nonnull(strstr(b, "\"source\": \"vigil\", \"sourcetype\": \"vigil:alert\", "
                                    "\"index\": \"main\", \"event\": {\"@timestamp\": "));
    ck_assert_ptr_nonnull(strstr(b, "{\"kind\": \"hec\", \"id\": \""));
    ck_assert_ptr_nonnull(strstr(b, "\"time\": "));
    free(b);

    ck_assert_int_eq(vt_shipper_wait_stat(&p, "hec", "failed", 1, 5000), 1);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "hec", "sent", N_HEC - 1, 10000), N_HEC - 1);
    ck_assert_int_eq(vt_shipper_stat(&p, "hec", "retried"), 5); /* 403, 403, 503, 7, 7 */
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "output hec: HTTP 403 Invalid token (HEC code 4): the server "
                                "refuses our credentials (check token of output hec)", 100));
    ck_assert_int_eq(vt_count_text(log, "error: output hec: HTTP 400 HEC code 7: Incorrect index "
                                        "(check this output's token and index"), 1);
    ck_assert(vt_wait_text(log, "HTTP 400 HEC code 6: Invalid data format", 100));
    /* /event went before the URL's query */
    ck_assert_int_eq(vt_count_text(k.log, "\"endpoint\": \"hec\""),
                     vt_count_text(k.log, "\"query\": \"channel=c1\""));
    /* An event from before 1970 goes without "time" (HEC uses the time it
     * arrives), not with "time": 0. */
    const char *old = "<14>1 1969-07-20T20:17:40Z apollo vigiltest - - - vigil integration "
                      "seq=99999";
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(sendto(fd, old, strlen(old), 0, (struct sockaddr *)&a, sizeof(a)),
                     (ssize_t)strlen(old));
    close(fd);
    TS_ASSERT(vt_wait_lines(k.store, N_HEC, 10000), &p, &k, "no event from 1969");
    b = vt_read_file(k.store, NULL);
    char *line = b ? strstr(b, "\"host\": \"apollo\"") : NULL;
    ck_assert_ptr_nonnull(line);
    while (line > b && line[-1] != '\n')
        line--;
    line[strcspn(line, "\n")] = '\0';
    ck_assert_ptr_nonnull(strstr(line, "\"@timestamp\": \"1969-07-20T20:17:40.000000Z\""));
    ck_assert_msg(!strstr(line, "\"time\": "), "an event from 1969 has a time: %.120s", line);
    free(b);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* Milliseconds between the first and the last request to endpoint the
 * sink logged (its "t", when each arrived); -1 without two. */
static long ts_request_span_ms(const ts_sink *k, const char *endpoint)
{
    char *b = vt_read_file(k->log, NULL), want[48];
    double first = -1, last = -1;
    snprintf(want, sizeof(want), "\"endpoint\": \"%s\"", endpoint);
    for (char *line = b, *nl; b && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = '\0';
        const char *t = strstr(line, "\"t\": ");
        if (strstr(line, want) && t) {
            double v = atof(t + 5);
            if (first < 0 || v < first)
                first = v;
            if (v > last)
                last = v;
        }
    }
    free(b);
    return first < 0 || last <= first ? -1 : (long)((last - first) * 1000);
}

#define N_HEC_BAD 30

/* HEC stops at a bad event three times in one batch: each bad one goes to
 * the dead-letter file, and the events after it, which HEC did not read,
 * go at once in the next request of the same attempt. Before, they were
 * counted as refused for now and sent after a backoff that doubled with
 * each bad event (here 1-2 s, 2-4 s, 4-8 s: at the default retry_max,
 * a minute per bad event), holding up every alert behind them though
 * the server had refused nothing for now. */
START_TEST(test_hec_bad_events_do_not_back_off)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: hec\n      type: splunk_hec\n"
                    "      url: http://127.0.0.1:@PORT@\n"
                    "      token: 00000000-1111-2222-3333-444444444444\n"
                    "      batch: 50\n      retry_min: 2s\n      retry_max: 10s\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *args[] = {"--hec-token", "00000000-1111-2222-3333-444444444444", "--faults",
                          "hec hec-bad 2;hec hec-bad 2;hec hec-bad 2", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "hec", args), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_HEC_BAD);

    static ts_outcome o;
    ts_outcome_read(&p, &k, "hec", N_HEC_BAD, N_HEC_BAD - 3, "events", 3, NULL, &o);
    ts_id *want = o.want, *got = o.got, *dead = o.dead;
    int nw = o.nw, ng = o.ng;
    ck_assert_int_eq(o.nd, 3);
    ck_assert_int_eq(ts_find(want, nw, dead[0]), 2);
    ck_assert_int_eq(ts_find(want, nw, dead[1]), 5);
    ck_assert_int_eq(ts_find(want, nw, dead[2]), 8);
    nw = ts_without(want, nw, dead, o.nd);
    ck_assert_int_eq(ts_exactly_once(want, nw, got, ng, "hec"), 0);
    ck_assert_int_eq(ts_out_of_order(want, nw, got, ng), 0);
    /* four requests, one after the other: no backoff between them */
    ck_assert_int_eq(vt_count_text(k.log, "\"endpoint\": \"hec\""), 4);
    long span = ts_request_span_ms(&k, "hec");
    TS_ASSERT(span >= 0 && span < 900, &p, &k, "the 4 requests took %ld ms", span);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "hec", "failed", 3, 5000), 3);
    ck_assert_int_eq(vt_shipper_stat(&p, "hec", "sent"), N_HEC_BAD - 3);
    ck_assert_int_eq(vt_shipper_stat(&p, "hec", "item_retries"), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "hec", "retried"), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "hec", "requests"), 4);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

#define N_ISO 100

/* A request refused as a whole (400, then 413) is sent again one alert per
 * request, so that only the alert the server refuses on its own goes to
 * the dead-letter file; the others arrive, in order. */
START_TEST(test_es_whole_request_refused_isolates)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 50\n      retry_min: 100ms\n      retry_max: 1s\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    /* Batch 1: 400 as a whole, then alone: alert 1 fine, alert 2 400,
     * 48 fine. Batch 2: 413 as a whole, then alert 51 413 alone. */
    static char faults[2048] = "es 400;es pass;es 400;";
    for (int i = 0; i < 48; i++)
        strcat(faults, "es pass;");
    strcat(faults, "es 413;es 413");
    ts_sink k;
    const char *args[] = {"--faults", faults, NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", args), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_ISO);

    static ts_outcome o;
    ts_outcome_read(&p, &k, "es", N_ISO, N_ISO - 2, "documents", 2, NULL, &o);
    ts_id *want = o.want, *got = o.got, *dead = o.dead;
    int nw = o.nw, ng = o.ng;
    ck_assert_int_eq(o.nd, 2);
    ck_assert_int_eq(ts_find(want, nw, dead[0]), 1);
    ck_assert_int_eq(ts_find(want, nw, dead[1]), 50);
    nw = ts_without(want, nw, dead, o.nd);
    ck_assert_int_eq(ts_exactly_once(want, nw, got, ng, "es"), 0);
    ck_assert_int_eq(ts_out_of_order(want, nw, got, ng), 0);
    char *b = vt_read_file(o.dl, NULL);
    ck_assert_ptr_nonnull(strstr(b, "\"reason\":\"HTTP 400 mapper_parsing_exception: failed to parse"));
    ck_assert_ptr_nonnull(strstr(b, "HTTP 413: this alert ("));
    free(b);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "failed", 2, 5000), 2);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "sent", N_ISO - 2, 10000), N_ISO - 2);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "retried"), 0);
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "of type [long]; sending these 50 alerts one per request to "
                                "find the refused one", 100));
    ck_assert(vt_wait_text(log, "output es: HTTP 413: 50 alerts in one request are too large for "
                                "the server; lower this output's batch; sending these", 100));
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

#define N_ROUNDS 20

/* Two item-retry rounds (item 2 refused for now, twice), then the
 * cluster answers 503 as a whole once: that failure is the first of its
 * run and is logged as "attempt 1", and the recovery counts one failed
 * attempt, as retried= does. Before, the item rounds were counted as
 * failed attempts: the 503 was "attempt 3", not a power of two, so the
 * first failure of the outage was not logged at all, and the recovery
 * said "after 3 failed attempts" with retried=1. The item-retry warning
 * names the alert (before, only the reason: which alert held the output
 * could not be told). */
START_TEST(test_es_outage_after_item_retries_logged)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 50\n      retry_min: 50ms\n      retry_max: 200ms\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *faults[] = {"--faults", "es items 2=429;es items 1=429;es 503", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", faults), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_ROUNDS);

    TS_ASSERT(vt_wait_lines(k.store, N_ROUNDS, 20000), &p, &k, "es: %ld documents",
              vt_count_lines(k.store));
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "sent", N_ROUNDS, 10000), N_ROUNDS);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "retried"), 1);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "item_retries"), 2);
    char log[400], want[200];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "output es: 1 alert refused for now (item HTTP 429 "
                                "es_rejected_execution_exception", 100));
    /* the warning names the alert held back (one refused with a 5xx every
     * time holds the output: its id is what the person fixing it needs) */
    static ts_id ids[N_ROUNDS];
    ck_assert_int_eq(ts_ids(p.alerts, NULL, TS_FILE_KEY, ids, N_ROUNDS), N_ROUNDS);
    snprintf(want, sizeof(want), "again after a backoff (round 2; the alert %s, outbox seq 2)",
             ids[1]);
    TS_ASSERT(vt_wait_text(log, want, 100), &p, &k, "no '%s'", want);
    TS_ASSERT(vt_wait_text(log, "output es: delivery failed (attempt 1): HTTP 503 "
                                "unavailable_shards_exception", 100),
              &p, &k, "the 503 after two item rounds was not logged as attempt 1");
    ck_assert_int_eq(vt_count_text(log, "delivery failed (attempt"), 1);
    ck_assert(vt_wait_text(log, "output es: delivering again after 1 failed attempt (", 100));
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

#define N_POISON 20

/* A poison alert: the sink answers its _bulk item with a 500 every time
 * (an ingest pipeline that throws on it) and stores the others. With
 * item_retry_for: forever it holds the output (13 refusals, more than 1 s,
 * nothing dead-lettered); SIGHUP with item_retry_for 1s: it is in the
 * dead-letter file with the reason, and the alerts behind it (later
 * batches of 5) are delivered. Before item_retry_for it was sent again
 * for ever and held every alert after its batch. */
START_TEST(test_es_poison_alert_dead_lettered)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 5\n      retry_min: 50ms\n      retry_max: 200ms\n"
                    "      item_retry_for: forever\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *extra[] = {"--es-poison", "seq=00003", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", extra), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_POISON);

    /* forever: 13 refusals (at least 1 s: gaps of 25 ms, 50 ms, then
     * 100 ms or more), the alerts behind it held, no dead letter */
    int refusals = 0;
    for (int i = 0; i < 100 && (refusals = vt_count_text(k.log, "\"refused\": {\"")) < 13; i++)
        vt_sleep_ms(100);
    ck_assert_int_ge(refusals, 13);
    ck_assert_int_lt(vt_count_lines(k.store), N_POISON - 1);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "failed"), 0);
    char *cfg = vt_read_file(p.config, NULL), *at = cfg ? strstr(cfg, "forever") : NULL;
    ck_assert_ptr_nonnull(at);
    memcpy(at, "1s     ", 7); /* YAML takes the trailing spaces */
    ck_assert_int_eq(vt_write_file(p.config, cfg), 0);
    free(cfg);
    kill(p.pid[VT_SHIPPER], SIGHUP);

    static ts_outcome o;
    ts_outcome_read(&p, &k, "es", N_POISON, N_POISON - 1, "documents", 1, "\"kind\": \"es\"",
                    &o);
    ck_assert_int_eq(o.nw, N_POISON);
    ck_assert_int_eq(o.nd, 1);
    ts_id poison[1];
    ck_assert_int_eq(ts_ids(p.alerts, "seq=00003", TS_FILE_KEY, poison, 1), 1);
    ck_assert_str_eq(o.dead[0], poison[0]);
    int nrest = ts_without(o.want, o.nw, o.dead, 1);
    ck_assert_int_eq(ts_exactly_once(o.want, nrest, o.got, o.ng, "es"), 0);
    char *dlb = vt_read_file(o.dl, NULL);
    ck_assert_ptr_nonnull(strstr(dlb, "\"output\":\"es\""));
    ck_assert_ptr_nonnull(strstr(dlb, "longer than item_retry_for (1.0 s); last: item HTTP 500 "
                                      "internal_server_error: injected\""));
    ck_assert_ptr_nonnull(strstr(dlb, "\"reason\":\"refused for now for "));
    free(dlb);

    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "failed", 1, 5000), 1);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "sent", N_POISON - 1, 5000), N_POISON - 1);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "duplicates"), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "retried"), 0);
    /* refused at least 1 s at most 200 ms apart: 6 refusals or more, the
     * last one dead-lettered rather than counted */
    long ir = vt_shipper_stat(&p, "es", "item_retries");
    ck_assert_int_ge(ir, 5);
    ck_assert_int_eq(vt_count_text(k.log, "\"refused\": {\""), ir + 1);
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "refused for good (refused for now for ", 100));
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGTERM), 0);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* item_retry_for's clock survives a restart: refused for more than 1 s
 * under item_retry_for: forever, the shipper stopped, restarted with
 * item_retry_for: 1s: the poison alert goes to the dead-letter file at its
 * first refusal after the restart (before the clock was stored, it took
 * at least 1 s and 6 refusals more). */
START_TEST(test_es_poison_clock_survives_restart)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 5\n      retry_min: 50ms\n      retry_max: 200ms\n"
                    "      item_retry_for: forever\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *extra[] = {"--es-poison", "seq=00003", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", extra), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_POISON);

    /* 15 refusals: the 14th was stored after at least 1.275 s (gaps of
     * 25 ms, 50 ms, then 100 ms or more); the 15th may be the stop's */
    int refusals = 0;
    for (int i = 0; i < 100 && (refusals = vt_count_text(k.log, "\"refused\": {\"")) < 15; i++)
        vt_sleep_ms(100);
    ck_assert_int_ge(refusals, 15);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGTERM), 0);
    int before = vt_count_text(k.log, "\"refused\": {\"");
    char *cfg = vt_read_file(p.config, NULL), *at = cfg ? strstr(cfg, "forever") : NULL;
    ck_assert_ptr_nonnull(at);
    memcpy(at, "1s     ", 7);
    ck_assert_int_eq(vt_write_file(p.config, cfg), 0);
    free(cfg);
    vt_pipe_start(&p, VT_SHIPPER);

    static ts_outcome o;
    ts_outcome_read(&p, &k, "es", N_POISON, N_POISON - 1, "documents", 1, "\"kind\": \"es\"",
                    &o);
    ck_assert_int_eq(o.nd, 1);
    ts_id poison[1];
    ck_assert_int_eq(ts_ids(p.alerts, "seq=00003", TS_FILE_KEY, poison, 1), 1);
    ck_assert_str_eq(o.dead[0], poison[0]);
    ck_assert_int_eq(vt_count_text(k.log, "\"refused\": {\""), before + 1);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "failed", 1, 5000), 1);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "item_retries"), 0);
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "output es: the item_retry_for clock of 1 alert refused for now "
                                "before the restart goes on (the first at outbox seq ", 100));
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGTERM), 0);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* An outage does not run item_retry_for's clock: an alert refused for now
 * (item 500), then 15 requests answered 503 as a whole (longer than the
 * 1 s of item_retry_for), then refused for now again, then with item 429s
 * (an overloaded cluster) for longer than 1 s, then stored: nothing in the
 * dead-letter file, every alert stored once. */
START_TEST(test_es_outage_not_item_retry_for)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 50\n      retry_min: 50ms\n      retry_max: 200ms\n"
                    "      item_retry_for: 1s\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    char faults[600];
    size_t n = (size_t)snprintf(faults, sizeof(faults), "es items 2=500");
    for (int i = 0; i < 15; i++)
        n += (size_t)snprintf(faults + n, sizeof(faults) - n, ";es 503");
    n += (size_t)snprintf(faults + n, sizeof(faults) - n, ";es items 1=500");
    /* then an overloaded cluster: the same item refused with 429 for
     * longer than item_retry_for (14 rounds, 50-200 ms apart), which does
     * not count either */
    for (int i = 0; i < 14; i++)
        n += (size_t)snprintf(faults + n, sizeof(faults) - n, ";es items 1=429");
    const char *extra[] = {"--faults", faults, NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", extra), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_POISON);

    static ts_outcome o;
    ts_outcome_read(&p, &k, "es", N_POISON, N_POISON, "documents", 0, "\"kind\": \"es\"", &o);
    ck_assert_int_eq(o.nd, 0);
    ck_assert_int_eq(ts_exactly_once(o.want, o.nw, o.got, o.ng, "es"), 0);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "sent", N_POISON, 5000), N_POISON);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "failed"), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "retried"), 15);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "item_retries"), 16);
    /* the outage did last longer than item_retry_for */
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "output es: delivering again after 15 failed attempts (", 100));
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGTERM), 0);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

#define TS_FLOOD_LINE                                                                              \
    "output es: cluster refuses writes: cluster_block_exception: index [vigil-alerts] blocked "    \
    "by: [FORBIDDEN/12/index read-only / allow delete (api)]; (disk flood stage? free disk "       \
    "space on the data nodes; before Elasticsearch 7.4 also reset "                                \
    "index.blocks.read_only_allow_delete): alerts kept, retrying\n"

/* The cluster refuses writes for its own state, item by item, 6 requests
 * in a row: every item 403 then 429 cluster_block_exception (the disk
 * flood-stage block, as 7.x and 8.x say it), 400 index_closed_exception,
 * 404 index_not_found_exception; then it takes them. An outage of the
 * output, not 20 bad alerts: nothing in the dead-letter file (though
 * item_retry_for is 1 s), every alert stored once and in order, each
 * cause logged once as an error, the end of the run once, the requests
 * counted in cluster_refused. Before, the first index_closed_exception
 * round sent all 20 to the dead-letter file. */
START_TEST(test_es_cluster_refuses_writes)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 50\n      retry_min: 20ms\n      retry_max: 100ms\n"
                    "      item_retry_for: 1s\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *extra[] = {"--faults",
                           "es items *=403:ro;es items *=429:flood;es items *=429:flood;"
                           "es items *=400:closed;es items *=400:closed;es items *=404:nf",
                           NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", extra), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_POISON);

    static ts_outcome o;
    ts_outcome_read(&p, &k, "es", N_POISON, N_POISON, "documents", 0, "\"kind\": \"es\"", &o);
    TS_ASSERT(o.nd == 0, &p, &k, "%d alerts in the dead-letter file", o.nd);
    ck_assert_int_eq(access(o.dl, F_OK), -1);
    ck_assert_int_eq(ts_exactly_once(o.want, o.nw, o.got, o.ng, "es"), 0);
    ck_assert_int_eq(ts_out_of_order(o.want, o.nw, o.got, o.ng), 0);
    /* six requests refused whole, item by item, then one stored them all */
    ck_assert_int_eq(vt_count_text(k.log, "\"stored\": [], "), 6);
    ck_assert_int_eq(vt_count_text(k.log, "\"endpoint\": \"es\""), 7);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "sent", N_POISON, 5000), N_POISON);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "failed"), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "duplicates"), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "retried"), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "item_retries"), 6 * N_POISON);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "cluster_refused"), 6);
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    TS_ASSERT(vt_count_text(log, TS_FLOOD_LINE) == 1, &p, &k, "no '%s'", TS_FLOOD_LINE);
    /* the 429 flood-stage block is the same cause: not logged again */
    ck_assert_int_eq(vt_count_text(log, "cluster refuses writes: cluster_block_exception"), 1);
    ck_assert_int_eq(vt_count_text(log, "output es: cluster refuses writes: index_closed_exception: "
                                        "closed (the index is closed (ILM or an operator?): open "
                                        "it): alerts kept, retrying\n"),
                     1);
    ck_assert_int_eq(vt_count_text(log, "output es: cluster refuses writes: "
                                        "index_not_found_exception: no such index [vigil-alerts] "
                                        "(the index does not exist and may not be created "
                                        "(action.auto_create_index?): create it or check index): "
                                        "alerts kept, retrying\n"),
                     1);
    ck_assert_int_eq(vt_count_text(log, "cluster refuses writes"), 3);
    ck_assert_int_eq(vt_count_text(log, "output es: cluster accepts writes again after 6 refused "
                                        "requests ("),
                     1);
    ck_assert_int_eq(vt_count_text(log, "refused for good"), 0);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGTERM), 0);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* A block on the whole request (403 cluster_block_exception: an outage,
 * not our credentials), then a mixed _bulk answer: items 2, 5 and 7
 * refused for the cluster's state (read-only block, closed index, missing
 * index), the 17 others stored; then the 3 kept, the first of them refused
 * again (429 flood stage); then that one stored. The 17 and the 2 are not
 * sent again (no 409, no duplicates), nothing is dead-lettered, the cause
 * is logged once. Before, item 5 (400 index_closed_exception) went to the
 * dead-letter file and the whole-request 403 was logged as a credentials
 * problem. */
START_TEST(test_es_cluster_refuses_some_items)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 50\n      retry_min: 20ms\n      retry_max: 100ms\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *extra[] = {"--faults",
                           "es 403:ro;es items 2=403:ro 5=400:closed 7=404:nf;"
                           "es items 1=429:flood",
                           NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", extra), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_POISON);

    static ts_outcome o;
    ts_outcome_read(&p, &k, "es", N_POISON, N_POISON, "documents", 0, "\"kind\": \"es\"", &o);
    TS_ASSERT(o.nd == 0, &p, &k, "%d alerts in the dead-letter file", o.nd);
    ck_assert_int_eq(ts_exactly_once(o.want, o.nw, o.got, o.ng, "es"), 0);
    /* stored: 17, then 2 (items 5 and 7 of the first), then item 2 */
    ck_assert_str_eq(o.got[N_POISON - 1], o.want[1]);
    ck_assert_str_eq(o.got[N_POISON - 3], o.want[4]);
    ck_assert_str_eq(o.got[N_POISON - 2], o.want[6]);
    ck_assert_int_eq(vt_count_text(k.log, "\"endpoint\": \"es\""), 4);
    ck_assert_int_eq(vt_count_text(k.log, "\"dup\": [\""), 0);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "sent", N_POISON, 5000), N_POISON);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "duplicates"), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "failed"), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "retried"), 1);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "item_retries"), 4);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "cluster_refused"), 3);
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    TS_ASSERT(vt_count_text(log, TS_FLOOD_LINE) == 1, &p, &k, "no '%s'", TS_FLOOD_LINE);
    ck_assert_int_eq(vt_count_text(log, "cluster refuses writes:"), 1);
    ck_assert_int_eq(vt_count_text(log, "refuses our credentials"), 0);
    ck_assert_int_eq(vt_count_text(log, "output es: delivery failed (attempt 1): HTTP 403 "
                                        "cluster_block_exception: index [vigil-alerts] blocked "
                                        "by: [FORBIDDEN/12/index read-only / allow delete (api)]; "
                                        "(the cluster refuses writes; alerts are kept and "
                                        "retried); 20 alerts waiting"),
                     1);
    ck_assert_int_eq(vt_count_text(log, "output es: cluster accepts writes again after 3 refused "
                                        "requests ("),
                     1);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGTERM), 0);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* A _bulk answer that refuses items for several causes (a write block, a
 * mapping error, a closed index, an overloaded cluster, ...): one line sums
 * them by error type, most first, at most 4 types and the rest as "and K
 * more". Before, only the first refused item's cause was logged (the
 * "refused for now" line), and a mapping error beside a write block went
 * unseen but in the dead-letter file. The kept items' next answer, a new
 * mix of causes, is logged at once; the same mix again is not (at most
 * once a minute). */
START_TEST(test_es_refused_items_summed_by_type)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 50\n      retry_min: 20ms\n      retry_max: 100ms\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *extra[] = {"--faults",
                           "es items 2=403:ro 3=429:flood 4=400 5=400 6=400:closed 7=429 8=500 "
                           "9=404:nf 10=403;es items 1=403:ro 4=429;es items 1=403:ro 2=429",
                           NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", extra), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_POISON);
    static ts_outcome o;
    /* the two mapping errors dead-lettered, the 18 others stored */
    ts_outcome_read(&p, &k, "es", N_POISON, N_POISON - 2, "documents", 2, "\"kind\": \"es\"", &o);
    ck_assert_int_eq(vt_count_text(k.log, "\"endpoint\": \"es\""), 4);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "sent", N_POISON - 2, 5000), N_POISON - 2);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "failed"), 2);
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    const char *first = "warning: output es: _bulk refused 9 of 20 alerts: 2 x "
                        "cluster_block_exception, 2 x mapper_parsing_exception, 1 x "
                        "index_closed_exception, 1 x es_rejected_execution_exception, and 3 "
                        "more types (3 alerts)\n";
    const char *second = "warning: output es: _bulk refused 2 of 7 alerts: 1 x "
                         "cluster_block_exception, 1 x es_rejected_execution_exception\n";
    TS_ASSERT(vt_count_text(log, first) == 1, &p, &k, "no '%s'", first);
    TS_ASSERT(vt_count_text(log, second) == 1, &p, &k, "no '%s'", second);
    ck_assert_int_eq(vt_count_text(log, ": _bulk refused "), 2);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGTERM), 0);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

#define N_TERM 20

/* SIGTERM while a _bulk request is stored but not answered yet (for
 * 1.5 s): the shipper waits for the answer, records it and exits 0; after
 * the restart nothing is sent again. Before, the stop abandoned the
 * request at once, the batch was not recorded, and the restarted shipper
 * sent it again (20 duplicates here; with HEC or a webhook, every alert
 * of it twice) at every restart that came during a request. */
START_TEST(test_es_sigterm_waits_for_answer)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 50\n      retry_min: 100ms\n      retry_max: 1s\n"
                    "      timeout: 5s\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *faults[] = {"--faults", "es stall 1500", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", faults), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_TERM);

    TS_ASSERT(vt_wait_text(k.log, "\"stalling\": true", 20000), &p, &k, "no request stalled");
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGTERM), 0);
    ck_assert_int_eq(vt_count_lines(k.store), N_TERM);
    TS_ASSERT(vt_count_text(k.log, "client_gone") == 0, &p, &k, "the request was abandoned");
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "output es (elasticsearch): sent=20 ", 100));

    vt_pipe_start(&p, VT_SHIPPER);
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    /* up (its signal handlers too) before SIGUSR1 asks for its counters */
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    TS_ASSERT(vt_wait_text(log, "): 0 alerts to deliver", 100), &p, &k,
              "the restarted shipper has alerts to deliver again");
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "es", "backlog", 0, 5000), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "duplicates"), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "es", "requests"), 0);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* Signals during a stop that takes a while (here the shipper waits for an
 * Elasticsearch answer that takes 4 s) are ignored, and the stop ends
 * cleanly with exit 0. Before session 26, the stop closed the signal
 * handlers, which gave the signals their default action: a SIGHUP
 * (logrotate), a SIGUSR1 or a second SIGTERM then killed the daemon
 * half-way through its stop. (Until session 30 this test used the
 * correlator's stop during a prefilter build, which no longer waits.) */
START_TEST(test_es_signals_during_stop_ignored)
{
    vt_pipe p;
    char yaml[4096], log[400];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 50\n      retry_min: 100ms\n      retry_max: 1s\n"
                    "      timeout: 10s\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *faults[] = {"--faults", "es stall 4000", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", faults), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    ts_backlog_then_shipper(&p, N_TERM);
    TS_ASSERT(vt_wait_text(k.log, "\"stalling\": true", 20000), &p, &k, "no request stalled");
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert_int_eq(kill(p.pid[VT_SHIPPER], SIGTERM), 0);
    ck_assert(vt_wait_text(log, "SIGTERM: stopping", 5000));
    int sigs[] = {SIGHUP, SIGUSR1, SIGTERM, SIGINT};
    const char *said[] = {"SIGHUP during the stop: ignored", "SIGUSR1 during the stop: ignored",
                          "SIGTERM during the stop: ignored", "SIGINT during the stop: ignored"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(kill(p.pid[VT_SHIPPER], sigs[i]), 0);
        if (!vt_wait_text(log, said[i], 2000)) {
            int st = vt_pipe_wait(&p, VT_SHIPPER, 1000);
            ck_abort_msg("no '%s' in the log; the shipper's exit status: %d (128 + N: killed by "
                         "signal N)",
                         said[i], st);
        }
    }
    /* all of them came while the stop still waited for the answer */
    ck_assert_int_eq(vt_count_text(log, "info: stopped"), 0);
    ck_assert_int_eq(vt_pipe_wait(&p, VT_SHIPPER, 30000), 0);
    ck_assert_int_eq(vt_count_text(log, "info: stopped"), 1);
    ck_assert_int_eq(vt_count_text(log, "SIGTERM: stopping"), 1);
    ck_assert_int_eq(vt_count_lines(k.store), N_TERM);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* Nothing listens yet: connections are refused and retried; once the
 * server is up everything arrives once. */
START_TEST(test_es_down_then_up)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      retry_min: 100ms\n      retry_max: 500ms\n      timeout: 5s\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", p.port2), 0);
    vt_pipe_start_all(&p);
    char file[400], log[400];
    ck_assert_int_eq(it_write_lines(&p, "lines.txt", 0, 50, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    ck_assert(vt_wait_lines(p.alerts, 50, 30000));
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "output es: delivery failed (attempt 2): Failed to connect to 127.0.0.1 port", 10000));
    ts_sink k;
    ck_assert_int_eq(ts_sink_start(&k, &p, "es", p.port2, NULL), 0);
    TS_ASSERT(vt_wait_lines(k.store, 50, 20000), &p, &k, "es: %ld documents",
              vt_count_lines(k.store));
    vt_sleep_ms(300);
    static ts_id want[64], got[64];
    int nw = ts_ids(p.alerts, NULL, TS_FILE_KEY, want, 64);
    int ng = ts_ids(k.store, NULL, TS_SINK_KEY, got, 64);
    ck_assert_int_eq(ts_exactly_once(want, nw, got, ng, "es"), 0);
    ck_assert_int_eq(ts_out_of_order(want, nw, got, ng), 0);
    ck_assert(vt_wait_text(log, "output es: delivering again after", 5000));
    ck_assert_int_ge(vt_shipper_stat(&p, "es", "retried"), 2);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* The sink's requests to endpoint, in the order they arrived (its log
 * has them as they ended), as "ITEMS,ITEMS,..." ("cut" for one the client
 * gave up on before sending all its body). Not for a run with stalls
 * (their requests have two lines). */
static void ts_request_sizes(const ts_sink *k, const char *endpoint, char *out, size_t cap)
{
    char *b = vt_read_file(k->log, NULL), want[48], key[32];
    size_t o = 0;
    out[0] = '\0';
    snprintf(want, sizeof(want), "\"endpoint\": \"%s\"", endpoint);
    for (int n = 1; b && n < 1000 && o + 8 < cap; n++) {
        snprintf(key, sizeof(key), "{\"n\": %d,", n);
        char *line = strstr(b, key);
        if (!line)
            break;
        char *nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = '\0';
        const char *items = strstr(line, "\"items\": ");
        if (strstr(line, want) && items) {
            if (strstr(line, "\"client_gone\""))
                o += (size_t)snprintf(out + o, cap - o, "%scut", o ? "," : "");
            else
                o += (size_t)snprintf(out + o, cap - o, "%s%d", o ? "," : "", atoi(items + 9));
        }
        *nl = '\n';
    }
    free(b);
}

#define N_SLOW 64

/* A link too thin for a whole batch: the sink reads a request of more
 * than 100 KB at 200 KB/s, so the first batch (32 alerts of about 4.5 KB)
 * takes 0.8 s, the cap of 8 x timeout (100 ms, the least allowed), though
 * bytes move all the time. The shipper halves the request for the next
 * attempt (16 alerts: these pass), doubles it back after a request
 * answered quickly, and sends the next batch whole: every alert arrives
 * exactly once, in order; the cut request stored nothing. Before, the
 * same 32 alerts were sent again whole at every attempt (docs/
 * shipper-http.md#slow-servers). */
START_TEST(test_es_slow_link_halves_batch)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: es\n      type: elasticsearch\n      url: http://127.0.0.1:@PORT@\n"
                    "      batch: 32\n      retry_min: 10ms\n      retry_max: 100ms\n"
                    "      timeout: 100ms\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *faults[] = {"--rcvbuf", "4096", "--faults", "es slow-over 100000 200000", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "es", faults), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    /* the backlog first (ts_backlog_then_shipper), of long lines */
    char path[400], file[400];
    vt_pipe_start(&p, VT_CORRELATOR);
    snprintf(path, sizeof(path), "%s/run/correlator.sock", p.dir);
    ck_assert(vt_wait_path(path, 10000));
    vt_pipe_start(&p, VT_COLLECTOR);
    vt_pipe_log(&p, VT_COLLECTOR, path, sizeof(path));
    ck_assert(vt_wait_text(path, "has everything up to seq", 10000));
    snprintf(file, sizeof(file), "%s/long.txt", p.dir);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < N_SLOW; i++)
        fprintf(f, "vigil integration seq=%05d pad=%03600d\n", i, i);
    fclose(f);
    ck_assert_int_eq(it_logger_tcp(&p, file, "--size=4096"), 0);
    char raised[120];
    snprintf(raised, sizeof(raised), "alerts=%d ", N_SLOW);
    vt_pipe_log(&p, VT_CORRELATOR, path, sizeof(path));
    bool all = false;
    for (int i = 0; i < 100 && !all; i++) {
        kill(p.pid[VT_CORRELATOR], SIGUSR1);
        all = vt_wait_text(path, raised, 100);
    }
    ck_assert_msg(all, "the correlator did not report '%s'", raised);
    vt_pipe_start(&p, VT_SHIPPER);

    /* Every alert settled (cursor 64), after one failed attempt (the cut)
     * and four requests: nothing more is sent, no need to wait for more.
     * (SIGUSR1 only once the shipper runs: it kills one still starting.) */
    ck_assert(vt_wait_lines(p.alerts, N_SLOW, 10000));
    TS_ASSERT(vt_shipper_wait_stat(&p, "es", "cursor", N_SLOW, 30000) == N_SLOW, &p, &k,
              "es: not all delivered");
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert_int_ge(vt_count_text(log, "output es (elasticsearch): sent=64 duplicates=0 retried=1 "
                                        "item_retries=0 failed=0 "),
                     1);
    ck_assert_int_ge(vt_count_text(log, " requests=4 http_errors=1 last_status=200 "
                                        "request_batch=32 cluster_refused=0\n"),
                     1);
    /* the sink logs a request after its answer */
    ck_assert(vt_wait_lines(k.log, 4, 5000));
    char sizes[200];
    ts_request_sizes(&k, "es", sizes, sizeof(sizes));
    TS_ASSERT(strcmp(sizes, "cut,16,16,32") == 0, &p, &k, "requests: %s", sizes);
    ck_assert_int_eq(vt_count_text(k.log, "\"dup\": [\""), 0);
    static ts_id want[N_SLOW + 8], got[N_SLOW + 8];
    int nw = ts_ids(p.alerts, NULL, TS_FILE_KEY, want, N_SLOW + 8);
    int ng = ts_ids(k.store, NULL, TS_SINK_KEY, got, N_SLOW + 8);
    ck_assert_int_eq(nw, N_SLOW);
    ck_assert_int_eq(ts_exactly_once(want, nw, got, ng, "es"), 0);
    ck_assert_int_eq(ts_out_of_order(want, nw, got, ng), 0);
    ck_assert_int_eq(vt_count_text(log, "warning: output es: a request of 32 alerts was cut at 8 x "
                                        "timeout (800 ms) while the server was still taking it; "
                                        "sending at most 16 alerts per request"),
                     1);
    ck_assert_int_eq(vt_count_text(log, "output es: requests are answered within 4 x timeout "
                                        "again: back to batch 32 alerts per request"),
                     1);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* When the sink received request n (its log's "t"), or -1. */
static double ts_request_time(const ts_sink *k, int n)
{
    char *b = vt_read_file(k->log, NULL), key[32];
    double t = -1;
    snprintf(key, sizeof(key), "{\"n\": %d,", n);
    const char *line = b ? strstr(b, key) : NULL;
    const char *at = line ? strstr(line, "\"t\": ") : NULL;
    const char *eol = line ? strchr(line, '\n') : NULL;
    if (at && (!eol || at < eol))
        t = strtod(at + 5, NULL);
    free(b);
    return t;
}

/* The webhook body for one alert, byte for byte: the text line and the
 * same ECS document the file output wrote; the bearer token is sent; 500
 * and 429 are retried, the 429 not before its Retry-After (1 s, where the
 * backoff alone would wait 100 ms at most). Then an alert whose rule name and user hold a line
 * feed and control characters: its text is still one line, with spaces in
 * their place, and the user's <!channel>, & and <url|label> are escaped
 * as Slack wants (the raw bytes stay in the ECS document). */
START_TEST(test_webhook_exact)
{
    vt_pipe p;
    const char *rules = IT_SSH_RULES "  - id: hook.ctl\n"
                                     "    name: \"Line\\nfeed\"\n"
                                     "    level: 7\n"
                                     "    match:\n"
                                     "      program: hooktest\n"
                                     "      regex: '(?s)user=(?<user>[^#]*)#'\n";
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: oncall\n      type: webhook\n"
                    "      url: http://127.0.0.1:@PORT@/hook\n      token: s3cret\n"
                    "      retry_min: 50ms\n      retry_max: 5s\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, rules, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *args[] = {"--hook-token", "s3cret", "--faults", "hook 500;hook 429 ra=1", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "hook", args), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    vt_pipe_start_all(&p);
    /* One RFC 3164 datagram with a host name of our choosing. */
    const char *dgram = "<38>Nov 25 02:14:09 bastion-hn01 sshd[20313]: Failed password for "
                        "invalid user admin from 203.0.113.5 port 4242 ssh2";
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(sendto(fd, dgram, strlen(dgram), 0, (struct sockaddr *)&a, sizeof(a)),
                     (ssize_t)strlen(dgram));
    close(fd);
    ck_assert(vt_wait_lines(p.alerts, 1, 20000));
    TS_ASSERT(vt_wait_lines(k.raw, 1, 20000), &p, &k, "no webhook body");
    vt_sleep_ms(300);
    char *doc = vt_read_file(p.alerts, NULL), *body = vt_read_file(k.raw, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_ptr_nonnull(body);
    char want[8192];
    snprintf(want, sizeof(want),
             "{\"text\":\"[LEVEL 5] SSH authentication failure \xe2\x80\x94 bastion-hn01, "
             "unknown/unknown, 1 event, src 203.0.113.5, user admin\",\"alert\":%.*s}\n",
             (int)strcspn(doc, "\n"), doc);
    ck_assert_str_eq(body, want);
    ck_assert_int_eq(vt_count_lines(k.raw), 1);
    char *st = vt_read_file(k.store, NULL);
    ck_assert_ptr_nonnull(strstr(st, "\"auth\": \"Bearer s3cret\""));
    free(st);
    free(doc);
    free(body);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "oncall", "sent", 1, 10000), 1);
    ck_assert_int_eq(vt_shipper_stat(&p, "oncall", "retried"), 2);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "oncall", "requests", 3, 10000), 3);
    double t429 = ts_request_time(&k, 2), tnext = ts_request_time(&k, 3);
    ck_assert_msg(t429 > 0 && tnext - t429 >= 0.95, "retried %.3f s after a 429 with "
                  "Retry-After: 1", tnext - t429);
    /* C1 controls in UTF-8 (CSI, NEL) and U+2028/U+2029 are spaces too:
     * chat clients and terminals break lines at them or read a sequence */
    const char *ctl = "<38>Nov 25 02:14:10 bastion-hn01 hooktest: user=ev\nil\x1b[31m\x01"
                      "\xc2\x9b" "1m\xc2\x85" "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c\xc2\xa0" "d"
                      "<!channel> &amp; <https://x.example|y>#";
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_eq(sendto(fd, ctl, strlen(ctl), 0, (struct sockaddr *)&a, sizeof(a)),
                     (ssize_t)strlen(ctl));
    close(fd);
    TS_ASSERT(vt_wait_lines(k.raw, 2, 20000), &p, &k, "no second webhook body");
    body = vt_read_file(k.raw, NULL);
    ck_assert_ptr_nonnull(body);
    ck_assert_msg(strstr(body, "\n{\"text\":\"[LEVEL 7] Line feed \xe2\x80\x94 bastion-hn01, "
                               "unknown/unknown, 1 event, user ev il [31m  1m a b c\xc2\xa0"
                               "d&lt;!channel&gt; "
                               "&amp;amp; &lt;https://x.example|y&gt;\",\"alert\":"),
                  "text line not one clean line, or <, >, & not escaped for Slack: %s",
                  strchr(body, '\n'));
    ck_assert_ptr_nonnull(strstr(body, "\"user\":{\"name\":\"ev\\nil\\u001b[31m\\u0001"
                                       "\\u009b1m\\u0085a\\u2028b\\u2029"
                                       "c\xc2\xa0" "d<!channel> &amp; <https://x.example|y>\"}"));
    free(body);
    /* A chat service's webhook url holds its secret in the path: the log
     * shows only where it goes. */
    char slog[400], shown[200];
    vt_pipe_log(&p, VT_SHIPPER, slog, sizeof(slog));
    snprintf(shown, sizeof(shown), "output oncall (webhook http://127.0.0.1:%d/\xe2\x80\xa6): ",
             k.port);
    ck_assert_msg(vt_wait_text(slog, shown, 0), "no '%s' in the shipper's log", shown);
    ck_assert_msg(!vt_wait_text(slog, "/hook", 0), "the webhook's path is in the shipper's log");
    ck_assert(vt_wait_text(slog, "warning: output oncall: url is plain http://: its token goes "
                                 "over the network in clear text", 0));
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* A message the collector cut at max_message_size (1 KiB) reaches the
 * webhook's text line marked "[cut]", and its ECS document with
 * vigil.raw_truncated. */
START_TEST(test_webhook_cut_line_marked)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: oncall\n      type: webhook\n"
                    "      url: http://127.0.0.1:@PORT@/hook\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_SSH_RULES, NULL, "  max_message_size: 1K\n", yaml),
                     0);
    ts_sink k;
    const char *args[] = {NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "hook", args), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    vt_pipe_start_all(&p);
    char dgram[1600];
    int n = snprintf(dgram, sizeof(dgram), "<38>Nov 25 02:14:09 bastion-hn01 sshd[20313]: Failed "
                     "password for invalid user admin from 203.0.113.5 port 4242 ssh2 ");
    memset(dgram + n, 'x', 1500 - (size_t)n);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(sendto(fd, dgram, 1500, 0, (struct sockaddr *)&a, sizeof(a)), 1500);
    close(fd);
    TS_ASSERT(vt_wait_lines(k.raw, 1, 20000), &p, &k, "no webhook body");
    char *body = vt_read_file(k.raw, NULL);
    ck_assert_ptr_nonnull(body);
    ck_assert_msg(strstr(body, "{\"text\":\"[LEVEL 5] SSH authentication failure \xe2\x80\x94 "
                               "bastion-hn01, unknown/unknown, 1 event, src 203.0.113.5, user "
                               "admin, 1 of 1 raw line [cut]\",\"alert\":{"),
                  "got: %.300s", body);
    char want[1200];
    snprintf(want, sizeof(want), "\"raw\":[\"%.1024s\"],\"raw_truncated\":[0]}}}\n", dgram);
    ck_assert_ptr_nonnull(strstr(body, want));
    free(body);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* A rate-limited webhook: one alert per request, the rest of the window
 * as one summary whose text line says so; a 4xx refuses one for good. */
START_TEST(test_webhook_rate_limit_summary)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: oncall\n      type: webhook\n"
                    "      url: http://127.0.0.1:@PORT@/hook\n      rate_limit: 1\n"
                    "      rate_window: 500ms\n      retry_min: 100ms\n      retry_max: 500ms\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *args[] = {"--faults", "hook 422", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "hook", args), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    vt_pipe_start_all(&p);
    char file[400];
    ck_assert_int_eq(it_write_lines(&p, "a.txt", 0, 5, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    ck_assert(vt_wait_lines(p.alerts, 5, 20000));
    vt_sleep_ms(800); /* the window closes */
    ck_assert_int_eq(it_write_lines(&p, "b.txt", 5, 6, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    /* alert 0 refused (422), the summary of 1..4, alert 5 */
    TS_ASSERT(vt_wait_lines(k.raw, 2, 20000), &p, &k, "%ld webhook bodies",
              vt_count_lines(k.raw));
    vt_sleep_ms(500);
    ck_assert_int_eq(vt_count_lines(k.raw), 2);
    char *b = vt_read_file(k.raw, NULL);
    ck_assert_ptr_nonnull(strstr(b, "{\"text\":\"[LEVEL 3] summary: 4 more alerts of rule "
                                    "test.every_line"));
    ck_assert_ptr_nonnull(strstr(b, "\"vigil\":{\"kind\":\"summary\",\"count\":4"));
    ck_assert_ptr_nonnull(strstr(b, "{\"text\":\"[LEVEL 3] Every numbered test line \xe2\x80\x94 "));
    ck_assert_ptr_null(strstr(b, ", src ")); /* this rule captures no address */
    ck_assert_ptr_nonnull(strstr(b, "vigil integration seq=00005"));
    free(b);
    char dl[500];
    snprintf(dl, sizeof(dl), "%s/data/shipper/shipper/deadletter-oncall.jsonl", p.dir);
    ck_assert(vt_wait_lines(dl, 1, 5000));
    b = vt_read_file(dl, NULL);
    ck_assert_ptr_nonnull(strstr(b, "HTTP 422"));
    ck_assert_ptr_nonnull(strstr(b, "seq=00000"));
    free(b);
    ck_assert_int_eq(vt_shipper_stat(&p, "oncall", "failed"), 1);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "oncall", "summaries", 1, 10000), 1);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* A server that resets the connection while the shipper waits for its
 * answer (killed, or a proxy giving up): the attempt is retried, and the
 * warning names the reset. libuv reports a socket error (POLLERR) as
 * EBADF alone and stops watching, and libcurl, told only "error", said
 * "select/poll returned error": the cause was lost (found by a soak that
 * killed the webhook's server). */
START_TEST(test_webhook_reset_reason)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: oncall\n      type: webhook\n"
                    "      url: http://127.0.0.1:@PORT@/hook\n"
                    "      retry_min: 50ms\n      retry_max: 100ms\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *args[] = {"--faults", "hook reset", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "hook", args), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    vt_pipe_start_all(&p);
    char file[400];
    ck_assert_int_eq(it_write_lines(&p, "a.txt", 0, 1, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "oncall", "sent", 1, 20000), 1);
    ck_assert_int_eq(vt_shipper_stat(&p, "oncall", "retried"), 1);
    ck_assert_int_eq(vt_count_lines(k.raw), 1); /* the reset request stored nothing */
    char slog[400];
    vt_pipe_log(&p, VT_SHIPPER, slog, sizeof(slog));
    const char *want = "warning: output oncall: delivery failed (attempt 1): Connection reset "
                       "by peer (libcurl: select/poll returned error); 1 alert waiting";
    ck_assert_msg(vt_wait_text(slog, want, 2000), "no '%s' in the shipper's log", want);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* A webhook whose server takes bodies of 6,000 bytes at most (a chat
 * service: tens of KB) and an alert of a 7,000-byte line (its message and
 * its raw line make the body over 14 KB): the 413 refused it for good, into
 * the dead-letter file, and the person on duty got nothing, though the
 * chat shows only the text line. Now it is sent again as its text line and
 * the alert's id alone, with a warning; the next, small alert goes whole. */
START_TEST(test_webhook_too_large_sends_text)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: oncall\n      type: webhook\n"
                    "      url: http://127.0.0.1:@PORT@/hook\n"
                    "      retry_min: 50ms\n      retry_max: 100ms\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *args[] = {"--max-body", "6000", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "hook", args), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    vt_pipe_start_all(&p);
    static char big[7200];
    int len = snprintf(big, sizeof(big), "<13>1 2026-11-28T10:00:00Z h vigiltest - - - seq=00001 ");
    memset(big + len, 'x', 7000);
    memcpy(big + len + 7000, "\n<13>1 2026-11-28T10:00:01Z h vigiltest - - - seq=00002\n", 57);
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    size_t total = (size_t)len + 7000 + 57;
    ck_assert_int_eq(write(fd, big, total), (ssize_t)total);
    close(fd);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "oncall", "sent", 2, 20000), 2);
    ck_assert_int_eq(vt_shipper_stat(&p, "oncall", "failed"), 0);
    TS_ASSERT(vt_count_lines(k.raw) == 2, &p, &k, "%ld webhook bodies", vt_count_lines(k.raw));
    char *doc = vt_read_file(p.alerts, NULL), *body = vt_read_file(k.raw, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_ptr_nonnull(body);
    /* the lean body: the text line, then the id of the alerts file's first */
    const char *idk = "\"event\":{\"kind\":\"alert\",\"id\":\"";
    char *id = strstr(doc, idk);
    ck_assert_ptr_nonnull(id);
    id += strlen(idk);
    const char *head = "{\"text\":\"[LEVEL 3] Every numbered test line \xe2\x80\x94 h, "
                       "unknown/unknown, 1 event\",";
    ck_assert_msg(strncmp(body, head, strlen(head)) == 0, "body: %.300s", body);
    size_t doclen = strcspn(doc, "\n"), full = strlen(head) + strlen("\"alert\":") + doclen + 1;
    char want[600];
    snprintf(want, sizeof(want),
             "%s\"alert\":{\"event\":{\"id\":\"%.32s\"},\"vigil\":{\"omitted\":\"the alert "
             "document (%zu bytes) is larger than this server takes (HTTP 413): the other outputs "
             "have it\"}}}\n",
             head, id, full);
    ck_assert_msg(strncmp(body, want, strlen(want)) == 0, "body: %.600s\nwant: %s", body, want);
    /* the second alert whole */
    const char *second = strchr(doc, '\n') + 1;
    char want2[4096];
    snprintf(want2, sizeof(want2), "\"alert\":%.*s}\n", (int)strcspn(second, "\n"), second);
    ck_assert_msg(strstr(body + strlen(want), want2), "second body: %s", body + strlen(want));
    free(doc);
    free(body);
    char slog[400], warn[400];
    vt_pipe_log(&p, VT_SHIPPER, slog, sizeof(slog));
    snprintf(warn, sizeof(warn),
             "warning: output oncall: HTTP 413: this alert (%zu bytes) is larger than the server "
             "takes; sending its text alone, without the alert document (the other outputs have "
             "it whole)\n",
             full);
    ck_assert_msg(vt_wait_text(slog, warn, 2000), "no '%s' in the shipper's log", warn);
    char dl[500];
    snprintf(dl, sizeof(dl), "%s/data/shipper/shipper/deadletter-oncall.jsonl", p.dir);
    ck_assert_int_le(vt_count_lines(dl), 0);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* The dead-letter file cannot be written (a directory stands in its
 * place): an alert the webhook refuses for good is not settled but sent
 * again, and is not counted as failed, since the file does not hold it.
 * It was counted once per round. Here the webhook takes it on the 4th. */
START_TEST(test_dead_letter_unwritable)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: oncall\n      type: webhook\n"
                    "      url: http://127.0.0.1:@PORT@/hook\n      retry_min: 100ms\n"
                    "      retry_max: 200ms\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    ts_sink k;
    const char *args[] = {"--faults", "hook 422;hook 422;hook 422", NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "hook", args), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    char dl[500], cmd[600];
    snprintf(dl, sizeof(dl), "%s/data/shipper/shipper/deadletter-oncall.jsonl", p.dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dl);
    char *mk[] = {"sh", "-c", cmd, NULL};
    ck_assert_int_eq(vt_run(mk, 10), 0);
    vt_pipe_start_all(&p);
    char file[400];
    ck_assert_int_eq(it_write_lines(&p, "a.txt", 0, 1, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    TS_ASSERT(vt_shipper_wait_stat(&p, "oncall", "sent", 1, 20000) == 1, &p, &k, "not sent");
    ck_assert_int_eq(vt_count_lines(k.raw), 1);
    ck_assert_int_eq(vt_shipper_stat(&p, "oncall", "item_retries"), 3);
    ck_assert_int_eq(vt_shipper_stat(&p, "oncall", "failed"), 0);
    char log[400];
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "output oncall: cannot write the dead-letter file: ", 100));
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

#define N_TLS 20

/* HTTPS: with tls_ca (by address, and by tls_server_name) the alerts
 * arrive; with the system's CAs the server is refused, nothing is sent and
 * the verify error is logged; tls_verify: false sends and warns. */
START_TEST(test_https_verify)
{
    vt_pipe p;
    char yaml[8192];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: good\n      type: elasticsearch\n"
                    "      url: https://127.0.0.1:@PORT@\n      index: good\n"
                    "      tls_ca: certs/ca.pem\n      retry_min: 100ms\n      retry_max: 500ms\n"
                    "    - name: named\n      type: elasticsearch\n"
                    "      url: https://127.0.0.1:@PORT@\n      index: named\n"
                    "      tls_ca: certs/ca.pem\n      tls_server_name: localhost\n"
                    "      retry_min: 100ms\n      retry_max: 500ms\n"
                    "    - name: bad\n      type: elasticsearch\n"
                    "      url: https://127.0.0.1:@PORT@\n      index: bad\n"
                    "      retry_min: 100ms\n      retry_max: 500ms\n"
                    "    - name: wrongname\n      type: elasticsearch\n"
                    "      url: https://127.0.0.1:@PORT@\n      index: wrongname\n"
                    "      tls_ca: certs/ca.pem\n      tls_server_name: rogue.example\n"
                    "      retry_min: 100ms\n      retry_max: 500ms\n"
                    "    - name: noverify\n      type: elasticsearch\n"
                    "      url: https://127.0.0.1:@PORT@\n      index: noverify\n"
                    "      tls_verify: false\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    char certs[400], cmd[1200];
    snprintf(certs, sizeof(certs), "%s/certs", p.dir);
    ck_assert_int_eq(mkdir(certs, 0700), 0);
    const char *src = getenv("VG_SOURCE_ROOT");
    snprintf(cmd, sizeof(cmd), "%s/tests/support/mkcerts.sh", src ? src : ".");
    char *mk[] = {"sh", cmd, certs, NULL};
    ck_assert_int_eq(vt_run(mk, 60), 0);
    char crt[500], key[500];
    snprintf(crt, sizeof(crt), "%s/server.pem", certs);
    snprintf(key, sizeof(key), "%s/server.key", certs);
    ts_sink k;
    const char *args[] = {"--tls-cert", crt, "--tls-key", key, NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "tls", args), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    vt_pipe_start_all(&p);
    char file[400], log[400];
    ck_assert_int_eq(it_write_lines(&p, "lines.txt", 0, N_TLS, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    ck_assert(vt_wait_lines(p.alerts, N_TLS, 30000));
    TS_ASSERT(vt_wait_lines(k.store, 3 * N_TLS, 30000), &p, &k, "%ld documents",
              vt_count_lines(k.store));
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    ck_assert(vt_wait_text(log, "output bad: TLS with https://127.0.0.1:", 10000));
    ck_assert(vt_wait_text(log, "SSL certificate problem: unable to get local issuer certificate",
                           100));
    ck_assert(vt_wait_text(log, "output wrongname: TLS with https://rogue.example:", 10000));
    ck_assert(vt_wait_text(log, "output noverify: tls_verify is off", 100));
    vt_sleep_ms(500);
    static ts_id want[64], got[64];
    int nw = ts_ids(p.alerts, NULL, TS_FILE_KEY, want, 64);
    const char *ok[] = {"\"index\": \"good\"", "\"index\": \"named\"", "\"index\": \"noverify\""};
    for (int i = 0; i < 3; i++) {
        int ng = ts_ids(k.store, ok[i], TS_SINK_KEY, got, 64);
        ck_assert_int_eq(ts_exactly_once(want, nw, got, ng, ok[i]), 0);
    }
    ck_assert_int_eq(ts_ids(k.store, "\"index\": \"bad\"", TS_SINK_KEY, got, 64), 0);
    ck_assert_int_eq(ts_ids(k.store, "\"index\": \"wrongname\"", TS_SINK_KEY, got, 64), 0);
    ck_assert_int_eq(vt_count_lines(k.store), 3 * N_TLS);
    ck_assert_int_eq(vt_shipper_stat(&p, "bad", "sent"), 0);
    ck_assert_int_ge(vt_shipper_stat(&p, "bad", "retried"), 1);
    ck_assert_int_eq(vt_shipper_wait_stat(&p, "good", "sent", N_TLS, 10000), N_TLS);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

#define N_CRL 3

/* tls_crl: with a CRL that revokes the server's certificate nothing is
 * sent, the log names the output and "certificate revoked", tls_revoked
 * counts it and the alerts stay in the outbox; with a CRL that does not,
 * they arrive. Once the server presents a certificate the CRL does not
 * list (restarted on the same port), the kept alerts arrive, once each. */
START_TEST(test_https_crl)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: revoked\n      type: elasticsearch\n"
                    "      url: https://127.0.0.1:@PORT@\n      index: revoked\n"
                    "      tls_ca: certs/ca.pem\n      tls_crl: certs/revoked.crl\n"
                    "      retry_min: 100ms\n      retry_max: 500ms\n"
                    "    - name: clean\n      type: elasticsearch\n"
                    "      url: https://127.0.0.1:@PORT@\n      index: clean\n"
                    "      tls_ca: certs/ca.pem\n      tls_crl: certs/clean.crl\n"
                    "      retry_min: 100ms\n      retry_max: 500ms\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    char certs[400], cmd[1200], crt[500], key[500], file[400], log[400], want[1200];
    snprintf(certs, sizeof(certs), "%s/certs", p.dir);
    ck_assert_int_eq(mkdir(certs, 0700), 0);
    const char *src = getenv("VG_SOURCE_ROOT");
    snprintf(cmd, sizeof(cmd), "%s/tests/support/mkcerts.sh", src ? src : ".");
    char *mk[] = {"sh", cmd, certs, NULL};
    ck_assert_int_eq(vt_run(mk, 60), 0);
    snprintf(cmd, sizeof(cmd), "%s/tests/support/mkcrl.sh", src ? src : ".");
    ck_assert_int_eq(vt_run(mk, 60), 0);
    snprintf(crt, sizeof(crt), "%s/server.pem", certs);
    snprintf(key, sizeof(key), "%s/server.key", certs);
    ts_sink k;
    const char *args[] = {"--tls-cert", crt, "--tls-key", key, NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "crl", args), 0);
    int port = k.port;
    ck_assert_int_eq(ts_subst(&p, "@PORT@", port), 0);
    vt_pipe_start_all(&p);
    ck_assert_int_eq(it_write_lines(&p, "lines.txt", 0, N_CRL, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    TS_ASSERT(vt_shipper_wait_stat(&p, "clean", "sent", N_CRL, 20000) == N_CRL, &p, &k,
              "clean not sent");
    ck_assert_int_eq(vt_shipper_stat(&p, "clean", "tls_revoked"), 0);
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    snprintf(want, sizeof(want),
             "error: output revoked: TLS with https://127.0.0.1:%d/_bulk failed: SSL certificate "
             "problem: certificate revoked (tls_crl revokes the server's certificate or a CA of "
             "its chain: the server needs a new certificate); alerts are kept and retried\n",
             port);
    ck_assert_msg(vt_wait_text(log, want, 5000), "no '%s' in the shipper's log", want);
    ck_assert_int_ge(vt_shipper_wait_stat(&p, "revoked", "tls_revoked", 2, 5000), 2);
    ck_assert_int_eq(vt_shipper_stat(&p, "revoked", "sent"), 0);
    ck_assert_int_eq(vt_shipper_stat(&p, "revoked", "backlog"), N_CRL);
    ck_assert_int_eq(vt_count_lines(k.store), N_CRL); /* clean's, none of revoked's */
    static ts_id want_ids[16], got[16];
    ck_assert_int_eq(ts_ids(k.store, "\"index\": \"revoked\"", TS_SINK_KEY, got, 16), 0);
    /* the server's new certificate, not revoked, on the same port */
    ts_sink_stop(&k);
    snprintf(crt, sizeof(crt), "%s/server2.pem", certs);
    snprintf(key, sizeof(key), "%s/server2.key", certs);
    ck_assert_int_eq(ts_sink_start(&k, &p, "crl2", port, args), 0);
    TS_ASSERT(vt_shipper_wait_stat(&p, "revoked", "sent", N_CRL, 10000) == N_CRL, &p, &k,
              "revoked not sent after the new certificate");
    ck_assert_int_eq(vt_shipper_stat(&p, "revoked", "backlog"), 0);
    int nw = ts_ids(p.alerts, NULL, TS_FILE_KEY, want_ids, 16);
    ck_assert_int_eq(nw, N_CRL);
    int ng = ts_ids(k.store, "\"index\": \"revoked\"", TS_SINK_KEY, got, 16);
    ck_assert_int_eq(ts_exactly_once(want_ids, nw, got, ng, "revoked"), 0);
    ck_assert_int_eq(vt_count_lines(k.store), N_CRL);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* tls_ciphers against an HTTPS server that is TLS 1.2 only with
 * AES128-SHA alone (static RSA key exchange, CBC): the default list
 * (forward-secret AEAD only) shares nothing with it, the handshake fails
 * and the error names tls_ciphers; with tls_ciphers: AES128-SHA every
 * alert arrives. */
START_TEST(test_https_ciphers)
{
    vt_pipe p;
    char yaml[4096];
    ts_shipper_yaml(yaml, sizeof(yaml),
                    "    - name: fs\n      type: elasticsearch\n"
                    "      url: https://127.0.0.1:@PORT@\n      index: fs\n"
                    "      tls_ca: certs/ca.pem\n      retry_min: 100ms\n      retry_max: 500ms\n"
                    "    - name: cbc\n      type: elasticsearch\n"
                    "      url: https://127.0.0.1:@PORT@\n      index: cbc\n"
                    "      tls_ca: certs/ca.pem\n      tls_ciphers: AES128-SHA\n");
    ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
    char certs[400], cmd[1200], crt[500], key[500], file[400], log[400], want[1200];
    snprintf(certs, sizeof(certs), "%s/certs", p.dir);
    ck_assert_int_eq(mkdir(certs, 0700), 0);
    const char *src = getenv("VG_SOURCE_ROOT");
    snprintf(cmd, sizeof(cmd), "%s/tests/support/mkcerts.sh", src ? src : ".");
    char *mk[] = {"sh", cmd, certs, NULL};
    ck_assert_int_eq(vt_run(mk, 60), 0);
    snprintf(crt, sizeof(crt), "%s/server.pem", certs);
    snprintf(key, sizeof(key), "%s/server.key", certs);
    ts_sink k;
    const char *args[] = {"--tls-cert", crt, "--tls-key", key, "--tls12-ciphers", "AES128-SHA",
                          NULL};
    ck_assert_int_eq(ts_sink_start_any(&k, &p, "cbc", args), 0);
    ck_assert_int_eq(ts_subst(&p, "@PORT@", k.port), 0);
    vt_pipe_start_all(&p);
    ck_assert_int_eq(it_write_lines(&p, "lines.txt", 0, 3, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    TS_ASSERT(vt_shipper_wait_stat(&p, "cbc", "sent", 3, 10000) == 3, &p, &k, "cbc not sent");
    ck_assert_int_eq(vt_count_lines(k.store), 3);
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    /* libcurl puts its TLS library's name and version first
     * ("OpenSSL/3.0.19: "), then OpenSSL's error */
    snprintf(want, sizeof(want), "error: output fs: TLS with https://127.0.0.1:%d/_bulk failed: ",
             k.port);
    ck_assert_msg(vt_wait_text(log, want, 5000), "no '%s' in the shipper's log", want);
    snprintf(want, sizeof(want),
             ": error:0A000410:SSL routines::sslv3 alert handshake failure (the server refused "
             "our ClientHello: most likely it has no TLS 1.2 cipher suite in common with the "
             "default tls_ciphers (ECDHE or DHE with AES-GCM or ChaCha20-Poly1305); enable one of "
             "those or TLS 1.3 on the server, or set tls_ciphers to a suite it has); alerts are "
             "kept and retried\n");
    ck_assert_msg(vt_wait_text(log, want, 100), "no '%s' in the shipper's log", want);
    /* the "delivery failed" warnings say why too: the hint in full on the
     * first of the run, a pointer to tls_ciphers on the later ones (before,
     * libcurl's text alone) */
    snprintf(want, sizeof(want),
             ": error:0A000410:SSL routines::sslv3 alert handshake failure (the server refused "
             "our ClientHello: most likely it has no TLS 1.2 cipher suite in common with the "
             "default tls_ciphers (ECDHE or DHE with AES-GCM or ChaCha20-Poly1305); enable one of "
             "those or TLS 1.3 on the server, or set tls_ciphers to a suite it has); ");
    ck_assert_msg(vt_wait_text(log, "warning: output fs: delivery failed (attempt 1): ", 5000),
                  "no first delivery warning");
    ck_assert_msg(vt_wait_text(log, "warning: output fs: delivery failed (attempt 4): ", 10000),
                  "no fourth delivery warning");
    char *text = vt_read_file(log, NULL);
    ck_assert_ptr_nonnull(text);
    int lines = 0, hints = 0;
    for (char *l = text, *e; l && *l; l = e ? e + 1 : NULL) {
        if ((e = strchr(l, '\n')))
            *e = '\0';
        /* the hint in full: the error and the first warning only (a stats
         * report's last_error= repeats the error, whenever one comes) */
        hints += strstr(l, "ChaCha20-Poly1305); enable one of") && !strstr(l, "last_error=");
        int attempt = 0;
        char *d = strstr(l, "warning: output fs: delivery failed (attempt ");
        if (!d || sscanf(d, "warning: output fs: delivery failed (attempt %d)", &attempt) != 1)
            continue;
        lines++;
        if (attempt == 1)
            ck_assert_msg(strstr(l, want) != NULL, "attempt 1 without the hint: %s", l);
        else
            ck_assert_msg(strstr(l, ": error:0A000410:SSL routines::sslv3 alert handshake failure "
                                    "(the server refused our ClientHello, most likely for want "
                                    "of a common cipher suite: see tls_ciphers); ") != NULL,
                          "attempt %d without the pointer: %s", attempt, l);
    }
    free(text);
    ck_assert_int_ge(lines, 3);
    ck_assert_int_eq(hints, 2);
    ck_assert_int_eq(vt_shipper_stat(&p, "fs", "sent"), 0);
    ck_assert_int_ge(vt_shipper_stat(&p, "fs", "retried"), 1);
    ck_assert_int_eq(vt_count_text(k.store, "\"index\": \"fs\""), 0);
    ts_sink_stop(&k);
    vt_pipe_destroy(&p);
}
END_TEST

/* Runs vigil-shipper -t on p's config; returns its status, output in log. */
static int ts_check_config(vt_pipe *p, char *log, size_t cap)
{
    snprintf(log, cap, "%s/check.log", p->dir);
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "%s -c %s -t > %s 2>&1", vt_bin("shipper/vigil-shipper"),
             p->config, log);
    char *sh[] = {"sh", "-c", cmd, NULL};
    return vt_run(sh, 10);
}

/* The config line holding 'text' (1-based), or 0. */
static int ts_line_of(const vt_pipe *p, const char *text)
{
    char *b = vt_read_file(p->config, NULL);
    char *at = b ? strstr(b, text) : NULL;
    int line = at ? 1 : 0;
    for (char *q = b; at && q < at; q++)
        line += *q == '\n';
    free(b);
    return line;
}

/* Bad HTTP settings are refused at load with FILE:LINE: reason. */
START_TEST(test_bad_settings_refused)
{
    const struct {
        const char *output, *at, *msg;
    } cases[] = {
        {"    - name: x\n      type: elasticsearch\n      url: ftp://127.0.0.1:9200\n",
         "url: ftp", "url 'ftp://127.0.0.1:9200': the scheme must be http or https"},
        {"    - name: x\n      type: elasticsearch\n      url: http://127.0.0.1:9200\n"
         "      index: Alerts\n",
         "index: Alerts", "index 'Alerts' must be lowercase"},
        {"    - name: x\n      type: splunk_hec\n      url: https://127.0.0.1:8088\n",
         "- name: x", "output 'x' (splunk_hec) needs token: the HEC token"},
        {"    - name: x\n      type: elasticsearch\n      url: http://127.0.0.1:9200\n"
         "      username: elastic\n",
         "username: elastic", "username and password go together"},
        {"    - name: x\n      type: webhook\n      url: http://127.0.0.1:8080/hook\n"
         "      tls_ca: /etc/passwd\n",
         "tls_ca:", "tls_ca is set but url 'http://127.0.0.1:8080/hook' is not https://"},
        {"    - name: x\n      type: webhook\n      url: http://127.0.0.1:8080/hook\n"
         "      tls_crl: /etc/passwd\n",
         "tls_crl:", "tls_crl is set but url 'http://127.0.0.1:8080/hook' is not https://"},
        {"    - name: x\n      type: webhook\n      url: https://127.0.0.1:8080/hook\n"
         "      tls_crl: /nonexistent/ca.crl\n",
         "tls_crl:", "tls_crl '/nonexistent/ca.crl': No such file or directory"},
        {"    - name: x\n      type: splunk_hec\n      url: https://127.0.0.1:8088\n"
         "      token: t\n      tls_crl: /etc/hostname\n",
         "tls_crl:", "/etc/hostname: cannot load CRLs: no CRL in it (PEM 'X509 CRL' blocks, e.g. "
         "from openssl ca -gencrl)"},
        {"    - name: x\n      type: webhook\n      url: https://127.0.0.1:8080/hook\n"
         "      tls_crl: /etc/hostname\n      tls_verify: false\n",
         "tls_crl:", "tls_crl is set but tls_verify is false: nothing would be checked"},
        {"    - name: x\n      type: webhook\n      url: https://127.0.0.1:8080/hook\n"
         "      tls_ca: /nonexistent/ca.pem\n",
         "tls_ca:", "tls_ca '/nonexistent/ca.pem': No such file or directory"},
        /* libcurl would read them in the shipper's loop: an endless device,
         * a directory (a FIFO would block it) */
        {"    - name: x\n      type: webhook\n      url: https://127.0.0.1:8080/hook\n"
         "      tls_ca: /dev/zero\n",
         "tls_ca:", "tls_ca '/dev/zero': is a character device, not a regular file (refused "
         "without reading it: it could block or never end)"},
        {"    - name: x\n      type: webhook\n      url: https://127.0.0.1:8080/hook\n"
         "      tls_cert: /\n      tls_key: /\n",
         "tls_cert:", "tls_cert '/': is a directory, not a regular file (refused without "
         "reading it: it could block or never end)"},
        /* OpenSSL skips a name it does not know, and uses the rest */
        {"    - name: x\n      type: webhook\n      url: https://127.0.0.1:8080/hook\n"
         "      tls_ciphers: ECDHE-RSA-AES128-GCM-SHA256:NOPE\n",
         "tls_ciphers:", "tls_ciphers: 'NOPE' matches no TLS 1.2 cipher suite of this OpenSSL "
         "(`openssl ciphers -v` lists them; TLS 1.3 suites are not set here)\n"},
        {"    - name: x\n      type: webhook\n      url: http://127.0.0.1:8080/hook\n"
         "      tls_ciphers: AES128-SHA\n",
         "tls_ciphers:", "tls_ciphers is set but url 'http://127.0.0.1:8080/hook' is not https://"},
        /* accepted, the password was in the log at every start */
        {"    - name: x\n      type: elasticsearch\n"
         "      url: https://elastic:pw-6f1c@127.0.0.1:9200\n",
         "url: https", "url holds a user name or password, which would be logged with it: give "
         "them as username and password (elasticsearch) or token"},
        {"    - name: x\n      type: webhook\n      url: https://:pw-6f1c@127.0.0.1:8080/hook\n",
         "url: https", "url holds a user name or password"},
        /* a bad duration is refused by -t, not read as "forever" */
        {"    - name: x\n      type: elasticsearch\n      url: http://127.0.0.1:9200\n"
         "      item_retry_for: 2 hours\n",
         "item_retry_for:", "item_retry_for must be a duration (a number with unit ms, s, m, h "
         "or d, e.g. 1h), 0 or forever, got '2 hours'"},
        {"    - name: x\n      type: elasticsearch\n      url: http://127.0.0.1:9200\n"
         "      item_retry_for: 10ms\n",
         "item_retry_for:", "item_retry_for must be between 100ms and 30d (or 0 or forever), "
         "got '10ms'"},
        /* only a _bulk item is refused for now on its own */
        {"    - name: x\n      type: splunk_hec\n      url: http://127.0.0.1:8088\n"
         "      token: t\n      item_retry_for: 1h\n",
         "item_retry_for:", "key 'item_retry_for' does not apply to an output of type splunk_hec"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vt_pipe p;
        char yaml[4096], log[400], want[800];
        ts_shipper_yaml(yaml, sizeof(yaml), cases[i].output);
        ck_assert_int_eq(vt_pipe_init_full(&p, IT_RULES, NULL, NULL, yaml), 0);
        ck_assert_int_eq(ts_check_config(&p, log, sizeof(log)), 1);
        snprintf(want, sizeof(want), "%s:%d: %s", p.config, ts_line_of(&p, cases[i].at),
                 cases[i].msg);
        if (!vt_wait_text(log, want, 100)) {
            char *b = vt_read_file(log, NULL);
            ck_abort_msg("case %zu: missing '%s' in: %s", i, want, b ? b : "");
        }
        ck_assert_msg(!vt_wait_text(log, "pw-6f1c", 0), "case %zu: the password is in the log", i);
        vt_pipe_destroy(&p);
    }
}
END_TEST

/* TLS files are checked again once the shipper runs as pipeline.user,
 * which is who libcurl reads them as. Checked only as root at the start, a
 * key only root can read passed, and every request then failed for ever. */
START_TEST(test_tls_key_unreadable_by_pipeline_user)
{
    if (geteuid() != 0 || !getpwnam("nobody")) {
        printf("SKIP: needs root and the user nobody\n");
        return;
    }
    char dir[300], path[400], cfg[2048], cmd[1200];
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/vigil-tlsuser-XXXXXX", t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0755), 0); /* nobody passes through to run/ and data/ */
    /* real PEM files: the load parses them (as root), which refused the
     * placeholder text these were before session 23 */
    ck_assert_int_eq(it_make_certs(dir), 0);
    const char *files[] = {"ca.pem", "client.pem", "client.key"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        ck_assert_int_eq(chmod(path, i == 2 ? 0600 : 0644), 0);
    }
    snprintf(cfg, sizeof(cfg),
             "pipeline:\n  user: nobody\n  run_dir: run\n  data_dir: data\n"
             "shipper:\n  outputs:\n"
             "    - name: hook\n      type: webhook\n      url: https://127.0.0.1:9/hook\n"
             "      tls_ca: ca.pem\n      tls_cert: client.pem\n      tls_key: client.key\n");
    snprintf(path, sizeof(path), "%s/vigil.yaml", dir);
    ck_assert_int_eq(vt_write_file(path, cfg), 0);
    snprintf(cmd, sizeof(cmd), "timeout 20 %s -c %s/vigil.yaml > %s/out.log 2>&1",
             vt_bin("shipper/vigil-shipper"), dir, dir);
    char *sh[] = {"sh", "-c", cmd, NULL};
    ck_assert_int_eq(vt_run(sh, 30), 1);
    char want[800];
    snprintf(want, sizeof(want), "error: output hook: tls_key '%s/client.key': Permission denied "
             "(read as uid %u, the user the shipper runs as: pipeline.user)", dir,
             (unsigned)getpwnam("nobody")->pw_uid);
    snprintf(path, sizeof(path), "%s/out.log", dir);
    ck_assert_msg(vt_wait_text(path, want, 100), "no '%s' in %s", want, path);
    if (!getenv("VT_KEEP")) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        vt_run(sh, 30);
    }
}
END_TEST

static Suite *ship_http_suite(void)
{
    /* One case per transport, so that one can be run alone:
     * CK_RUN_CASE=webhook build/tests/integration/test_ship_http */
    const struct {
        const char *name;
        const TTest *tests[16];
    } cases[] = {
        {"elasticsearch",
         {test_es_faults_nothing_lost, test_es_kill9_between_delivery_and_commit,
          test_es_whole_request_refused_isolates, test_es_down_then_up,
          test_es_slow_link_halves_batch, test_es_outage_after_item_retries_logged,
          test_es_sigterm_waits_for_answer, test_es_signals_during_stop_ignored,
          test_es_dead_letter_cut_line_mended,
          test_es_poison_alert_dead_lettered, test_es_outage_not_item_retry_for,
          test_es_poison_clock_survives_restart, test_es_cluster_refuses_writes,
          test_es_cluster_refuses_some_items, test_es_refused_items_summed_by_type}},
        {"splunk_hec", {test_hec_faults_in_order, test_hec_bad_events_do_not_back_off}},
        {"webhook",
         {test_webhook_exact, test_webhook_rate_limit_summary, test_dead_letter_unwritable,
          test_webhook_reset_reason, test_webhook_too_large_sends_text,
          test_webhook_cut_line_marked}},
        {"tls", {test_https_verify, test_https_ciphers, test_https_crl}},
        {"config", {test_bad_settings_refused, test_tls_key_unreadable_by_pipeline_user}},
    };
    Suite *s = suite_create("ship_http");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = it_tcase(s, cases[i].name, 240);
        for (size_t j = 0; j < 16 && cases[i].tests[j]; j++)
            tcase_add_test(tc, cases[i].tests[j]);
    }
    return s;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    SRunner *sr = srunner_create(ship_http_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
