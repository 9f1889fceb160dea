/* Fuzz target: the correlator's rule loader (cor_rules_load) and, for a rule
 * set it accepts, the engine (cor_eval_events, cor_eval_tick) over a few
 * syslog lines. The input is up to three sections, split at lines that are
 * exactly "#%cal" and "#%lines":
 *
 *   RULES YAML           -> DIR/rules.yml
 *   #%cal
 *   CALENDAR YAML        -> DIR/calendars/fuzz.yml (beside the shipped
 *                           shipped calendars, copied at start)
 *   #%lines
 *   SYSLOG LINES         -> events, in order (default: a fixed set)
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cor_eval.h"
#include "cor_rules.h"
#include "fuzz.h"
#include "vigil/event.h"
#include "vigil/syslog.h"

#ifndef FZ_RULES_DIR
#error "FZ_RULES_DIR: the source tree's rules/ (fuzz/meson.build sets it)"
#endif

#define ERRLEN 1024
#define MAX_LINES 64
#define HOUR_US (INT64_C(3600) * 1000000)
#define NOW_US INT64_C(1764115200000000) /* 2025-11-26T00:00:00Z: fixed, for --year-less lines */

static char g_dir[PATH_MAX - 64]; /* the rule directory the inputs are written to */
static char g_rules[PATH_MAX];   /* g_dir/rules.yml */
static char g_cal[PATH_MAX + 16];    /* g_dir/calendars/fuzz.yml */
static char g_caldir[PATH_MAX];  /* g_dir/calendars */

/* Lines fed when the input has no #%lines section: one of each kind the
 * shipped rules read, at times that let windows fill and absences fire. */
static const char *const g_default_lines[] = {
    "<38>1 2026-11-25T02:14:09Z bastion sshd 20313 - - Failed password for invalid user oracle from 185.220.101.34 port 40112 ssh2",
    "<38>1 2026-11-25T02:14:11Z bastion sshd 20315 - - Failed password for invalid user admin from 185.220.101.34 port 40180 ssh2",
    "<38>1 2026-11-25T02:14:12Z bastion sshd 20317 - - Failed password for root from 185.220.101.34 port 40222 ssh2",
    "<38>1 2026-11-25T02:14:14Z bastion sshd 20319 - - Failed password for root from 185.220.101.34 port 40290 ssh2",
    "<38>1 2026-11-25T02:14:15Z bastion sshd 20321 - - Failed password for invalid user test from 185.220.101.34 port 40344 ssh2",
    "<38>1 2026-11-25T02:14:17Z bastion sshd 20323 - - Failed password for invalid user ubuntu from 185.220.101.34 port 40398 ssh2",
    "<38>1 2026-11-25T02:14:31Z bastion sshd 20325 - - Accepted password for root from 185.220.101.34 port 40466 ssh2",
    "<85>1 2026-11-25T02:15:40Z web sudo 1090 - - deploy : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/bin/bash",
    "<4>Nov 25 02:16:00 gw kernel: [1639386.530658] [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.7 DST=10.1.1.1 LEN=40 PROTO=TCP SPT=4444 DPT=22",
    "<134>Nov 25 02:16:05 web nginx: 203.0.113.7 - - [25/Nov/2026:02:16:05 +0000] \"GET /.env HTTP/1.1\" 404 153 \"-\" \"curl/8.0\"",
    "not syslog at all",
    "<38>1 2026-11-25T01:00:00Z bastion sshd 20300 - - Failed password for root from 185.220.101.34 port 40000 ssh2",
};

static unsigned long g_accepted, g_refused, g_alerts; /* printed at exit */

static void fz_cleanup(void)
{
    if (!g_dir[0]) return;
    fprintf(stderr, "fuzz_rules: %lu rule sets accepted (%lu alerts), %lu refused\n", g_accepted,
            g_alerts, g_refused);
    DIR *d = opendir(g_caldir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            char p[PATH_MAX * 2];
            if (de->d_name[0] == '.') continue;
            snprintf(p, sizeof(p), "%s/%s", g_caldir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(g_caldir);
    unlink(g_rules);
    rmdir(g_dir);
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
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof(g_dir), "%s/vg-fuzz-rules-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    FZ_CHECK(mkdtemp(g_dir) != NULL);
    snprintf(g_rules, sizeof(g_rules), "%s/rules.yml", g_dir);
    snprintf(g_caldir, sizeof(g_caldir), "%s/calendars", g_dir);
    snprintf(g_cal, sizeof(g_cal), "%s/fuzz.yml", g_caldir);
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

static void fz_run(cor_ruleset *rs, const uint8_t *lines, size_t nlines,
                   int have_lines)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_dir[0]) LLVMFuzzerInitialize(NULL, NULL);
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
