/* Fuzz target: the correlator's rule loader (cor_rules_load) and, for a rule
 * set it accepts, the engine (cor_eval_events, cor_eval_tick) over a few
 * syslog lines. The input is up to three sections, split at lines that are
 * exactly "#%cal" and "#%lines":
 *
 *   RULES YAML           -> DIR/rules.yml
 *   #%cal
 *   CALENDAR YAML        -> DIR/calendars/fuzz.yml (beside the shipped
 *                           calendars, copied there at start)
 *   #%lines
 *   SYSLOG LINES         -> events, in order (default: a fixed set)
 *
 * An input that begins with 'G' is instead a generator's choices: the bytes
 * after it pick a valid rule set (match rules on sshd lines, then
 * correlations of every type over them and over each other, with random
 * timespans, thresholds, suppressions, group caps and lateness) and a stream
 * of sshd lines that moves back and forth in time (with keywords, calendar
 * conditions, repeated-message lines and lines of another program). Nearly
 * every such set loads, so
 * the engine is what gets fuzzed; besides the checks below it must give
 *   - the same alerts fed one event at a time as in one batch (for sets
 *     without absence rules, whose reports follow the batches' clock);
 *   - in batches of 4, the same alerts as without a store and without a
 *     stop (the vigil.correlation_degraded warning too: its hourly limit
 *     and its count are kept with the state) when, after one of the
 *     batches, it is stopped and
 *     started again on its reopened LMDB store with the rules loaded anew
 *     (docs/rules.md's durability promise); when the same rules are loaded
 *     anew and swapped in (a SIGHUP); and when the next batch's
 *     transaction is aborted and the engine reloaded from the store
 *     (cor_eval_reload, after a failed commit), then the batch run again.
 *
 * Checked:
 *   - load: 0 with a rule set and an empty err, or a negative code with no
 *     rule set and err "PATH:LINE: reason", PATH one of the files written
 *     (or a shipped calendar), LINE within it and the reason not empty —
 *     what docs/rules.md promises an operator for every refused rule set;
 *   - every rule id of an accepted set is found by cor_rules_find;
 *   - the engine, without a store, over the lines and a tick a day later:
 *     every call returns 0, and every alert names a rule of the set, with
 *     a count of at least 1 (0 for an absence report) and its first event
 *     time at or before its end.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cor_eval.h"
#include "cor_lists.h"
#include "cor_rules.h"
#include "fuzz.h"
#include "vigil/event.h"
#include "vigil/store.h"
#include "vigil/syslog.h"

#ifndef FZ_RULES_DIR
#error "FZ_RULES_DIR: the source tree's rules/ (fuzz/meson.build sets it)"
#endif

#define ERRLEN 1024
#define MAX_LINES 64
#define HOUR_US (INT64_C(3600) * 1000000)
#define NOW_US INT64_C(1764115200000000) /* 2025-11-26T00:00:00Z: fixed, for --year-less lines */

static char g_dir[PATH_MAX - 64]; /* the rule directory the inputs are written to */
static char g_rules[PATH_MAX];    /* g_dir/rules.yml */
static char g_cal[PATH_MAX + 16]; /* g_dir/calendars/fuzz.yml */
static char g_caldir[PATH_MAX];   /* g_dir/calendars */
static char g_db[PATH_MAX + 16];  /* g_dir/db: the generator mode's store */
static char g_ldb[PATH_MAX + 16]; /* g_dir/lists: the watchlists' store (list "bad") */
static vg_store *g_lst;
static cor_lists *g_lists;

/* Lines fed when the input has no #%lines section: one of each kind the
 * shipped rules read, at times that let windows fill and absences fire. */
static const char *const g_default_lines[] = {
    "<38>1 2026-11-25T02:14:09Z bastion sshd 20313 - - Failed password for invalid user oracle "
    "from 185.220.101.34 port 40112 ssh2",
    "<38>1 2026-11-25T02:14:11Z bastion sshd 20315 - - Failed password for invalid user admin from "
    "185.220.101.34 port 40180 ssh2",
    "<38>1 2026-11-25T02:14:12Z bastion sshd 20317 - - Failed password for root from "
    "185.220.101.34 port 40222 ssh2",
    "<38>1 2026-11-25T02:14:14Z bastion sshd 20319 - - Failed password for root from "
    "185.220.101.34 port 40290 ssh2",
    "<38>1 2026-11-25T02:14:15Z bastion sshd 20321 - - Failed password for invalid user test from "
    "185.220.101.34 port 40344 ssh2",
    "<38>1 2026-11-25T02:14:17Z bastion sshd 20323 - - Failed password for invalid user ubuntu "
    "from 185.220.101.34 port 40398 ssh2",
    "<38>1 2026-11-25T02:14:31Z bastion sshd 20325 - - Accepted password for root from "
    "185.220.101.34 port 40466 ssh2",
    "<85>1 2026-11-25T02:15:40Z web sudo 1090 - - deploy : 3 incorrect password attempts ; "
    "TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/bin/bash",
    "<4>Nov 25 02:16:00 gw kernel: [1639386.530658] [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.7 "
    "DST=10.1.1.1 LEN=40 PROTO=TCP SPT=4444 DPT=22",
    "<134>Nov 25 02:16:05 web nginx: 203.0.113.7 - - [25/Nov/2026:02:16:05 +0000] \"GET /.env "
    "HTTP/1.1\" 404 153 \"-\" \"curl/8.0\"",
    "not syslog at all",
    "<38>1 2026-11-25T01:00:00Z bastion sshd 20300 - - Failed password for root from "
    "185.220.101.34 port 40000 ssh2",
};

static unsigned long g_accepted, g_refused, g_alerts; /* printed at exit */

/* Empties and removes directory dir (flat: files only). */
static void fz_rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            char p[PATH_MAX * 2];
            if (de->d_name[0] == '.') continue;
            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* The generator mode's store, removed before each run that uses one. */
static void fz_rm_db(void)
{
    if (g_db[0]) fz_rm_dir(g_db);
}

static void fz_cleanup(void)
{
    if (!g_dir[0]) return;
    fprintf(stderr, "fuzz_rules: %lu rule sets accepted (%lu alerts), %lu refused\n", g_accepted,
            g_alerts, g_refused);
    fz_rm_dir(g_caldir);
    fz_rm_db();
    cor_lists_close(g_lists);
    vg_store_close(g_lst);
    fz_rm_dir(g_ldb);
    fz_rm_dir(g_dir); /* rules.yml, bad.txt */
}

/* Copies the shipped calendars, so that seeds from rules/ load as shipped. */
static void fz_copy_calendars(void)
{
    char src[PATH_MAX];
    snprintf(src, sizeof(src), "%s/calendars", FZ_RULES_DIR);
    DIR *d = opendir(src);
    if (!d) return; /* a tree without them: rules naming them are refused */
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || n < 5 || strcmp(de->d_name + n - 4, ".yml")) continue;
        char from[PATH_MAX * 2], to[PATH_MAX * 2];
        snprintf(from, sizeof(from), "%s/%s", src, de->d_name);
        snprintf(to, sizeof(to), "%s/00-%s", g_caldir, de->d_name);
        FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
        FZ_CHECK(in && out);
        char buf[4096];
        size_t k;
        while ((k = fread(buf, 1, sizeof(buf), in)) > 0)
            FZ_CHECK(fwrite(buf, 1, k, out) == k);
        fclose(in);
        FZ_CHECK(fclose(out) == 0);
    }
    closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_tmpdir(g_dir, sizeof(g_dir), "rules");
    snprintf(g_rules, sizeof(g_rules), "%s/rules.yml", g_dir);
    snprintf(g_caldir, sizeof(g_caldir), "%s/calendars", g_dir);
    snprintf(g_cal, sizeof(g_cal), "%s/fuzz.yml", g_caldir);
    snprintf(g_db, sizeof(g_db), "%s/db", g_dir);
    /* list "bad" for the generator's 'src_ip in list bad': one address
     * and a network of two, of the three sources it writes */
    snprintf(g_ldb, sizeof(g_ldb), "%s/lists", g_dir);
    char lf[PATH_MAX + 16], err[ERRLEN];
    snprintf(lf, sizeof(lf), "%s/bad.txt", g_dir);
    FILE *f = fopen(lf, "w");
    FZ_CHECK(f && fputs("10.0.0.1\n10.0.0.2/31 # .2 and .3\n", f) >= 0 && fclose(f) == 0);
    FZ_CHECK(vg_store_open_ex(&g_lst, g_ldb, 16, VG_STORE_ASYNC_SYNC) == 0);
    FZ_CHECK(cor_lists_open(g_lst, &g_lists) == 0);
    FZ_CHECKF(cor_lists_load_file(g_lists, "bad", lf, NULL, err, sizeof(err)) == 0, "%s", err);
    FZ_CHECK(mkdir(g_caldir, 0700) == 0);
    fz_copy_calendars();
    atexit(fz_cleanup);
    return 0;
}

/* Writes n bytes to path, or removes it when keep is 0. */
static void fz_write(const char *path, const uint8_t *p, size_t n, int keep)
{
    if (!keep) {
        unlink(path);
        return;
    }
    FILE *f = fopen(path, "wb");
    FZ_CHECK(f != NULL);
    FZ_CHECK(n == 0 || fwrite(p, 1, n, f) == n);
    FZ_CHECK(fclose(f) == 0);
}

/* The number of lines of file path (a last line without '\n' counts). */
static long fz_file_lines(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long lines = 0;
    int c, last = '\n';
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n') lines++;
        last = c;
    }
    fclose(f);
    return lines + (last != '\n');
}

/* err must read "PATH:LINE: reason" for a file of the rule directory. */
static void fz_check_err(const char *err)
{
    size_t dl = strlen(g_dir);
    FZ_CHECKF(strncmp(err, g_dir, dl) == 0 && err[dl] == '/', "no file named: '%s'", err);
    const char *colon = strchr(err + dl, ':');
    FZ_CHECKF(colon != NULL, "no line: '%s'", err);
    char path[PATH_MAX];
    size_t pl = (size_t)(colon - err);
    FZ_CHECK(pl < sizeof(path));
    memcpy(path, err, pl);
    path[pl] = '\0';
    char *end;
    long line = strtol(colon + 1, &end, 10);
    FZ_CHECKF(end > colon + 1 && end[0] == ':' && end[1] == ' ' && end[2] != '\0',
              "not PATH:LINE: reason: '%s'", err);
    long lines = fz_file_lines(path);
    FZ_CHECKF(lines >= 0, "names a file that does not exist: '%s'", err);
    /* an error at the end of input (libyaml) may name the line after the last */
    FZ_CHECKF(line >= 1 && line <= lines + 1, "line %ld of %ld: '%s'", line, lines, err);
}

typedef struct fz_sink {
    const cor_ruleset *rs;
    size_t alerts;
} fz_sink;

static int fz_on_alert(void *ud, const vg_alert *al)
{
    fz_sink *s = ud;
    char id[COR_RULE_ID_MAX + 1];
    FZ_CHECK(al->rule_id.p && al->rule_id.len <= COR_RULE_ID_MAX);
    memcpy(id, al->rule_id.p, al->rule_id.len);
    id[al->rule_id.len] = '\0';
    /* vigil.correlation_degraded is the engine's own */
    FZ_CHECKF(cor_rules_find(s->rs, id) >= 0 || strcmp(id, "vigil.correlation_degraded") == 0,
              "alert for unknown rule '%s'", id);
    /* an absence report stands for no event: count 0, first = last seen */
    int absence = al->kind.p && al->kind.len == 7 && memcmp(al->kind.p, "absence", 7) == 0;
    FZ_CHECKF(absence ? al->count == 0 : al->count >= 1, "rule %s: count %llu", id,
              (unsigned long long)al->count);
    FZ_CHECKF(al->first_us <= al->ts_us, "rule %s: first %lld after end %lld", id,
              (long long)al->first_us, (long long)al->ts_us);
    s->alerts++;
    return 0;
}

/* Splits data at a line that is exactly marker; returns the part before it
 * (rest, nrest: what follows the marker's line; rest NULL when there is none). */
static size_t fz_split(const uint8_t *data, size_t size, const char *marker, const uint8_t **rest,
                       size_t *nrest)
{
    size_t ml = strlen(marker);
    for (size_t i = 0; i + ml <= size; i++) {
        if ((i == 0 || data[i - 1] == '\n') && memcmp(data + i, marker, ml) == 0 &&
            (i + ml == size || data[i + ml] == '\n')) {
            size_t after = i + ml + (i + ml < size);
            *rest = data + after;
            *nrest = size - after;
            return i;
        }
    }
    *rest = NULL;
    *nrest = 0;
    return size;
}

static void fz_run(cor_ruleset *rs, const uint8_t *lines, size_t nlines, int have_lines)
{
    cor_eval *e = NULL;
    FZ_CHECK(cor_eval_new(&e, rs, NULL, NULL) == 0);
    fz_sink s = {.rs = rs};
    vg_event ev[MAX_LINES];
    char *copy[MAX_LINES];
    size_t n = 0;
    vg_syslog_opts so = {.now_us = NOW_US, .year = 2026};
    if (have_lines) {
        size_t at = 0;
        while (at < nlines && n < MAX_LINES) {
            const uint8_t *nl = memchr(lines + at, '\n', nlines - at);
            size_t len = nl ? (size_t)(nl - (lines + at)) : nlines - at;
            copy[n] = malloc(len ? len : 1); /* exact size: ASan sees overreads */
            FZ_CHECK(copy[n]);
            memcpy(copy[n], lines + at, len);
            vg_syslog_parse(copy[n], len, &so, &ev[n]);
            n++;
            at += len + 1;
        }
    } else {
        for (; n < sizeof(g_default_lines) / sizeof(g_default_lines[0]); n++) {
            size_t len = strlen(g_default_lines[n]);
            copy[n] = malloc(len);
            FZ_CHECK(copy[n]);
            memcpy(copy[n], g_default_lines[n], len);
            vg_syslog_parse(copy[n], len, &so, &ev[n]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        ev[i].recv_us = ev[i].ts_us;
        ev[i].src = vg_str_c("fuzz");
        if (!ev[i].host.p) ev[i].host = ev[i].src;
        ev[i].agency = vg_str_c("road");
        ev[i].site = vg_str_c("hn");
        ev[i].seq = i + 1;
    }
    /* one at a time, then all again as one batch (the prefilter's batch path) */
    for (size_t i = 0; i < n; i++)
        FZ_CHECK(cor_eval_events(e, &ev[i], 1, fz_on_alert, &s) == 0);
    FZ_CHECK(cor_eval_events(e, ev, n, fz_on_alert, &s) == 0);
    FZ_CHECK(cor_eval_tick(e, cor_eval_watermark(e) + 24 * HOUR_US, fz_on_alert, &s) == 0);
    cor_eval_free(e);
    g_alerts += s.alerts;
    for (size_t i = 0; i < n; i++)
        free(copy[i]);
}

/* ---- generator mode ('G') ---------------------------------------------------------- */

typedef struct fz_rd {
    const uint8_t *p;
    size_t n, i;
} fz_rd;

/* The next choice in [0, k): the input's next byte (0 once it runs out). */
static unsigned fz_pick(fz_rd *r, unsigned k)
{
    return (r->i < r->n ? r->p[r->i++] : 0) % k;
}

typedef struct fz_buf {
    char *p;
    size_t n, cap;
} fz_buf;

static void fz_addf(fz_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fz_addf(fz_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        FZ_CHECK(k >= 0);
        if (b->p && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = (b->cap + (size_t)k + 1) * 2;
        b->p = realloc(b->p, b->cap);
        FZ_CHECK(b->p);
    }
}

#define GEN_MAX_MATCH 4
#define GEN_MAX_CORR 5
#define GEN_MAX_EVENTS 48

static const char *const g_gen_regex[] = {
    "Failed password for (?:invalid user )?(?<user>\\S+) from (?<src_ip>[0-9.]+)",
    "Accepted password for (?<user>\\S+) from (?<src_ip>[0-9.]+)",
    "(?:Failed|Accepted) password for (?:invalid user )?(?<user>\\S+) from (?<src_ip>[0-9.]+)",
    "Invalid user (?<user>\\S+) from (?<src_ip>[0-9.]+)",
};
static const char *const g_gen_span[] = {"1s", "5s", "30s", "1m", "5m", "1h"};
static const char *const g_gen_supp[] = {"1s", "10s", "1m", "10m"};
static const char *const g_gen_user[] = {"root", "admin", "bob"};

/* A rule set from the choices: match rules m.0.., then correlations c.0..
 * over earlier rules. Every match rule captures user and src_ip; group_by
 * is [src_ip] or nothing, so most sets are valid (a correlation grouped by
 * src_ip over one that is not is refused, which is fine too). */
static void fz_gen_rules(fz_rd *r, fz_buf *y, int *has_absence)
{
    unsigned nm = 1 + fz_pick(r, GEN_MAX_MATCH), nc = fz_pick(r, GEN_MAX_CORR + 1);
    fz_addf(y, "rules:\n");
    for (unsigned i = 0; i < nm; i++) {
        int alert = fz_pick(r, 3) == 0;
        fz_addf(y, "  - id: m.%u\n    name: m%u\n    level: 3\n    alert: %s\n", i, i,
                alert ? "true" : "false");
        fz_addf(y, "    match:\n      program: sshd\n      regex: '%s'\n",
                g_gen_regex[fz_pick(r, 4)]);
        unsigned where = fz_pick(r, 6);
        if (where < 2) fz_addf(y, "      where: ['src_ip %sin list bad']\n", where ? "not " : "");
        if (fz_pick(r, 6) == 0) fz_addf(y, "      keywords: ['password', 'user admin']\n");
        if (fz_pick(r, 6) == 0) /* the shipped calendars */
            fz_addf(y, "      time: {%s: %s}\n", fz_pick(r, 2) ? "in" : "not_in",
                    fz_pick(r, 2) ? "nights" : "working-hours");
        if (fz_pick(r, 3) == 0) {
            /* picked either way, so that the seeds keep their sets: the
             * loader refuses suppress on a rule that raises no alert, which
             * refused about half the generated sets */
            const char *supp = g_gen_supp[fz_pick(r, 4)];
            int by = fz_pick(r, 2);
            if (alert) fz_addf(y, "    suppress: %s\n", supp);
            if (alert && by) fz_addf(y, "    suppress_by: [src_ip]\n");
        }
    }
    static const char *const types[] = {"event_count", "value_count", "temporal",
                                        "temporal_ordered", "absence"};
    for (unsigned j = 0; j < nc; j++) {
        unsigned type = fz_pick(r, 5), pool = nm + j;
        if ((type == 2 || type == 3) && pool < 2) type = 0; /* temporal needs two rules to list */
        /* temporal: 2-3 distinct rules; temporal_ordered: 2-5 steps, repeats allowed */
        unsigned nrefs = type == 2   ? 2 + fz_pick(r, pool > 2 ? 2 : 1)
                         : type == 3 ? 2 + fz_pick(r, 4)
                                     : 1 + fz_pick(r, 3);
        unsigned used[GEN_MAX_MATCH + GEN_MAX_CORR] = {0};
        *has_absence |= type == 4;
        fz_addf(y, "  - id: c.%u\n    name: c%u\n    level: 9\n    correlation:\n", j, j);
        fz_addf(y, "      type: %s\n      rules: [", types[type]);
        for (unsigned k = 0; k < nrefs; k++) {
            /* value_count counts a field of the match rules only */
            unsigned x = fz_pick(r, type == 1 ? nm : pool);
            if (type == 2)
                while (used[x])
                    x = (x + 1) % pool;
            used[x] = 1;
            if (x < nm)
                fz_addf(y, "%sm.%u", k ? ", " : "", x);
            else
                fz_addf(y, "%sc.%u", k ? ", " : "", x - nm);
        }
        fz_addf(y, "]\n");
        /* mostly src_ip; the others may be refused when a counted
         * correlation does not carry them, which is fine too */
        static const char *const by[] = {"[src_ip]",       "[src_ip]", "[src_ip]", "[user]",
                                         "[src_ip, user]", "[host]",   NULL,       NULL};
        const char *g = by[fz_pick(r, 8)];
        if (g) fz_addf(y, "      group_by: %s\n", g);
        fz_addf(y, "      timespan: %s\n", g_gen_span[fz_pick(r, 6)]);
        if (type == 0) fz_addf(y, "      condition: {gte: %u}\n", 1 + fz_pick(r, 5));
        if (type == 1)
            fz_addf(y, "      condition: {field: %s, gte: %u}\n", fz_pick(r, 3) ? "user" : "src_ip",
                    1 + fz_pick(r, 3));
        if (type == 4) fz_addf(y, "      expire: %s\n", fz_pick(r, 2) ? "1h" : "2m");
        if (type != 4 && fz_pick(r, 3) == 0)
            fz_addf(y, "      suppress: %s\n", g_gen_supp[fz_pick(r, 4)]);
        if (fz_pick(r, 4) == 0) fz_addf(y, "    max_groups: %u\n", 1 + fz_pick(r, 3));
    }
}

/* Lines of sshd: three sources, three users, two hosts; the time moves
 * forward, stands still, or goes back (sometimes past the lateness). Some
 * are rsyslog's "message repeated N times" (N occurrences), some another
 * program's (no rule's program). */
static size_t fz_gen_lines(fz_rd *r, char lines[][224])
{
    /* mostly small steps; now and then a clock a day ahead or behind, and
     * microseconds apart (equal seconds, window edges) */
    static const int64_t step_s[] = {0, 1, 3, 20, 70, -5, -40,   -400,
                                     0, 1, 3, 20, -5, 60, 86400, -86400};
    size_t n = 4 + fz_pick(r, GEN_MAX_EVENTS - 3);
    int64_t t = INT64_C(1764115200000000); /* 2025-11-26T00:00:00Z, in microseconds */
    for (size_t i = 0; i < n; i++) {
        t += step_s[fz_pick(r, 16)] * 1000000 +
             (fz_pick(r, 4) == 0 ? (int64_t)fz_pick(r, 3) - 1 : 0);
        unsigned kind = fz_pick(r, 3), ip = 1 + fz_pick(r, 3), host = fz_pick(r, 2);
        unsigned wrap = fz_pick(r, 8); /* 0: repeated; 1: another program */
        const char *user = g_gen_user[fz_pick(r, 3)];
        char ts[32], msg[96];
        vg_time_format(t, ts, sizeof(ts));
        snprintf(msg, sizeof(msg), "%s %s from 10.0.0.%u port 22%s",
                 kind == 0   ? "Failed password for"
                 : kind == 1 ? "Accepted password for"
                             : "Invalid user",
                 user, ip, kind == 2 ? "" : " ssh2");
        if (wrap == 0)
            snprintf(lines[i], 224, "<38>1 %s h%u sshd 1 - - message repeated %u times: [ %s]", ts,
                     host, 2 + fz_pick(r, 3), msg);
        else
            snprintf(lines[i], 224, "<38>1 %s h%u %s 1 - - %s", ts, host,
                     wrap == 1 ? "sudo" : "sshd", msg);
    }
    return n;
}

/* Alerts as text, for comparing runs (the degradation warning included:
 * its hourly limit and its "so far" count are kept with the state). */
typedef struct fz_rec {
    fz_sink sink;
    fz_buf text;
    size_t n;
} fz_rec;

static int fz_on_rec(void *ud, const vg_alert *al)
{
    fz_rec *r = ud;
    int rc = fz_on_alert(&r->sink, al);
    fz_addf(&r->text, "%.*s %.*s %lld %lld %llu", (int)al->rule_id.len, al->rule_id.p,
            (int)al->kind.len, al->kind.p, (long long)al->ts_us, (long long)al->first_us,
            (unsigned long long)al->count);
    for (uint32_t i = 0; i < al->nfields; i++)
        fz_addf(&r->text, " %.*s=%.*s", (int)al->fields[i].key.len, al->fields[i].key.p,
                (int)al->fields[i].val.len, al->fields[i].val.p);
    for (uint32_t i = 0; i < al->nraw; i++)
        fz_addf(&r->text, " |%.*s", (int)al->raw[i].len, al->raw[i].p);
    fz_addf(&r->text, "\n");
    r->n++;
    return rc;
}

static cor_ruleset *fz_load(const cor_rules_opts *o)
{
    cor_ruleset *rs = NULL;
    char err[ERRLEN];
    FZ_CHECKF(cor_rules_load(g_dir, o, &rs, err, sizeof(err)) == 0, "reload: %s", err);
    return rs;
}

/* Feeds ev[from, to) in batches, each in its own transaction with a store. */
static void fz_feed(cor_eval *e, vg_store *st, const vg_event *ev, size_t from, size_t to,
                    size_t batch, fz_rec *r)
{
    for (size_t i = from; i < to; i += batch) {
        size_t k = to - i < batch ? to - i : batch;
        if (st) FZ_CHECK(vg_store_begin(st) == 0);
        FZ_CHECK(cor_eval_events(e, ev + i, k, fz_on_rec, r) == 0);
        if (st) {
            FZ_CHECK(cor_eval_flush(e) == 0);
            FZ_CHECK(vg_store_commit(st) == 0);
        }
    }
}

static void fz_end(cor_eval *e, vg_store *st, fz_rec *r)
{
    if (st) FZ_CHECK(vg_store_begin(st) == 0);
    FZ_CHECK(cor_eval_tick(e, cor_eval_watermark(e) + 24 * HOUR_US, fz_on_rec, r) == 0);
    if (st) {
        FZ_CHECK(cor_eval_flush(e) == 0);
        FZ_CHECK(vg_store_commit(st) == 0);
    }
}

enum fz_mode {
    FZ_PLAIN,   /* no store */
    FZ_RESTART, /* a store; stopped after event 'split' and started again */
    FZ_RELOAD,  /* no store; the rules loaded anew and swapped in after 'split' (SIGHUP) */
    FZ_ABORT,   /* a store; the batch after 'split' aborted, the engine reloaded from the
                 * store (cor_eval_reload) and the batch run again, as after a failed commit */
};

/* One run over ev[0, n) in batches of 'batch' (split: a multiple of it). */
static void fz_gen_run(const cor_rules_opts *o, const vg_event *ev, size_t n, size_t batch,
                       enum fz_mode mode, size_t split, fz_rec *r)
{
    vg_store *st = NULL;
    if (mode == FZ_RESTART || mode == FZ_ABORT) {
        fz_rm_db();
        FZ_CHECK(vg_store_open_ex(&st, g_db, 16, VG_STORE_ASYNC_SYNC) ==
                 0); /* no fsync: kills, not power loss */
    }
    cor_ruleset *rs = fz_load(o);
    cor_eval *e = NULL;
    FZ_CHECK(cor_eval_new(&e, rs, st, g_lists) == 0);
    r->sink.rs = rs;
    size_t stop = mode == FZ_PLAIN || split > n ? n : split;
    fz_feed(e, st, ev, 0, stop, batch, r);
    if (mode == FZ_RESTART) {
        cor_eval_free(e);
        cor_rules_free(rs);
        vg_store_close(st);
        FZ_CHECK(vg_store_open_ex(&st, g_db, 16, VG_STORE_ASYNC_SYNC) ==
                 0); /* no fsync: kills, not power loss */
        rs = fz_load(o);
        FZ_CHECK(cor_eval_new(&e, rs, st, g_lists) == 0);
        r->sink.rs = rs;
    } else if (mode == FZ_RELOAD) {
        cor_ruleset *rs2 = fz_load(o);
        FZ_CHECK(cor_eval_set_rules(e, rs2) == 0);
        cor_rules_free(rs);
        rs = rs2;
        r->sink.rs = rs;
    } else if (mode == FZ_ABORT && stop < n) {
        /* the batch's alerts go with it, as they would from the outbox */
        size_t k = n - stop < batch ? n - stop : batch, keep_text = r->text.n, keep_n = r->n;
        cor_eval_stats keep = *cor_eval_get_stats(e);
        FZ_CHECK(vg_store_begin(st) == 0);
        FZ_CHECK(cor_eval_events(e, ev + stop, k, fz_on_rec, r) == 0);
        vg_store_abort(st);
        r->text.n = keep_text;
        if (r->text.p) r->text.p[keep_text] = '\0';
        r->n = keep_n;
        FZ_CHECK(cor_eval_reload(&e, &keep) == 0);
    }
    fz_feed(e, st, ev, stop, n, batch, r);
    fz_end(e, st, r);
    cor_eval_free(e);
    cor_rules_free(rs);
    if (st) vg_store_close(st);
}

static void fz_same(const fz_rec *a, const fz_rec *b, const char *what, const char *yaml)
{
    const char *x = a->text.p ? a->text.p : "", *y = b->text.p ? b->text.p : "";
    if (strcmp(x, y) == 0) return;
    fprintf(stderr, "rules:\n%s\n%s differ.\nwant:\n%s\ngot:\n%s\n", yaml, what, x, y);
    FZ_CHECKF(0, "%s", what);
}

static int fz_generated(const uint8_t *data, size_t size)
{
    fz_rd r = {data, size, 0};
    fz_buf y = {0};
    int has_absence = 0;
    fz_gen_rules(&r, &y, &has_absence);
    static const int64_t late_s[] = {0, 10, 300, 3600};
    cor_rules_opts o = {
        .match_limit = 100000, .max_groups = 1000, .lateness_us = late_s[fz_pick(&r, 4)] * 1000000};
    char(*lines)[224] = malloc(GEN_MAX_EVENTS * sizeof(*lines));
    vg_event *ev = calloc(GEN_MAX_EVENTS, sizeof(*ev));
    FZ_CHECK(lines && ev);
    size_t n = fz_gen_lines(&r, lines);
    size_t split = fz_pick(&r, (unsigned)(n / 4 + 1)) * 4;
    fz_write(g_rules, (const uint8_t *)y.p, y.n, 1);
    unlink(g_cal);

    cor_ruleset *rs = NULL;
    char err[ERRLEN];
    int rc = cor_rules_load(g_dir, &o, &rs, err, sizeof(err));
    if (rc != 0) {
        FZ_CHECK(rc < 0 && rs == NULL);
        fz_check_err(err);
        if (getenv("FZ_RULES_VERBOSE")) fprintf(stderr, "refused: %s\n", err);
        g_refused++;
    } else {
        cor_rules_free(rs);
        g_accepted++;
        vg_syslog_opts so = {.now_us = NOW_US};
        for (size_t i = 0; i < n; i++) {
            vg_syslog_parse(lines[i], strlen(lines[i]), &so, &ev[i]);
            FZ_CHECK(!(ev[i].flags & VG_EV_MALFORMED));
            ev[i].recv_us = ev[i].ts_us;
            ev[i].src = vg_str_c("fuzz");
            ev[i].agency = vg_str_c("road");
            ev[i].site = vg_str_c("hn");
            ev[i].seq = i + 1;
        }
        fz_rec one = {0}, all = {0}, four = {0}, other = {0};
        fz_gen_run(&o, ev, n, 1, FZ_PLAIN, 0, &one);
        fz_gen_run(&o, ev, n, GEN_MAX_EVENTS, FZ_PLAIN, 0, &all);
        if (!has_absence) fz_same(&one, &all, "one event at a time and one batch", y.p);
        fz_gen_run(&o, ev, n, 4, FZ_PLAIN, 0, &four);
        static const char *const what[] = {"", "stopped and started again after event",
                                           "rules reloaded after event",
                                           "a batch aborted and run again after event"};
        for (int m = FZ_RESTART; m <= FZ_ABORT; m++) {
            char w[128];
            snprintf(w, sizeof(w), "batches of 4, and the same %s %zu,", what[m], split);
            other.text.n = other.n = 0;
            if (other.text.p) other.text.p[0] = '\0';
            fz_gen_run(&o, ev, n, 4, (enum fz_mode)m, split, &other);
            fz_same(&four, &other, w, y.p);
        }
        g_alerts += one.n;
        free(one.text.p);
        free(all.text.p);
        free(four.text.p);
        free(other.text.p);
    }
    free(y.p);
    free(lines);
    free(ev);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_dir[0]) LLVMFuzzerInitialize(NULL, NULL);
    if (size > 0 && data[0] == 'G') return fz_generated(data + 1, size - 1);
    const uint8_t *cal = NULL, *lines = NULL, *rest;
    size_t ncal = 0, nlines = 0, nrest;
    size_t nrules = fz_split(data, size, "#%cal", &rest, &nrest);
    int have_cal = rest != NULL;
    if (have_cal) {
        cal = rest;
        ncal = fz_split(rest, nrest, "#%lines", &lines, &nlines);
    } else {
        nrules = fz_split(data, size, "#%lines", &lines, &nlines);
    }
    int have_lines = lines != NULL;
    fz_write(g_rules, data, nrules, 1);
    fz_write(g_cal, cal, ncal, have_cal);

    cor_rules_opts o = {.match_limit = 100000, .max_groups = 64, .lateness_us = HOUR_US};
    cor_ruleset *rs = NULL;
    char err[ERRLEN];
    err[0] = '\0';
    int rc = cor_rules_load(g_dir, &o, &rs, err, sizeof(err));
    if (rc != 0) {
        FZ_CHECKF(rc < 0, "rc %d", rc);
        FZ_CHECK(rs == NULL);
        if (rc != -ENOMEM) fz_check_err(err);
        if (getenv("FZ_RULES_VERBOSE")) fprintf(stderr, "refused: %s\n", err);
        g_refused++;
        return 0;
    }
    FZ_CHECK(rs != NULL);
    for (size_t i = 0; i < rs->n; i++)
        FZ_CHECKF(cor_rules_find(rs, rs->rules[i].id) == (int)i, "rule %zu", i);
    g_accepted++;
    fz_run(rs, lines, nlines, have_lines);
    cor_rules_free(rs);
    return 0;
}
