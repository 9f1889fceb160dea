/* prefilter_bench: what the Hyperscan prefilter saves the correlator.
 *
 *   prefilter_bench RULES_FILE [-n LINES] [-s SEED] [-r ROUNDS] [-v]
 *
 * Loads one regex per line of RULES_FILE (../shared/bench/rules50.txt or
 * rules500.txt), compiles them as correlator/cor_rules.c does (PCRE2,
 * PCRE2_DUPNAMES, JIT), and builds a cor_prefilter over them. It then makes
 * LINES (default 1M) syslog-like lines of about 200 bytes in memory (sshd,
 * sudo, su, cron, systemd, kernel firewall, nginx, postfix, dhclient, ntpd,
 * docker; a realistic mix where some 5-10% of lines match a rule; the same
 * seed gives the same lines) and times, in alternating rounds:
 *   (a) every PCRE2 JIT regex on every line (what cor_rules_eval does today);
 *   (b) one prefilter scan per line, PCRE2 only on the candidates.
 * Both must find exactly the same matches (checked every round; a
 * difference is reported and the exit status is 1). It prints lines per
 * second for each (median of the rounds, CPU time of this single-threaded
 * process), the share of matching lines, candidates per line and the
 * always-candidate patterns.
 *
 * Not a test and not installed. Build, e.g.:
 *   cc -std=c17 -D_GNU_SOURCE -O2 -DVG_HAVE_HS -Icorrelator bench/prefilter_bench.c \
 *      correlator/cor_prefilter.c $(pkg-config --cflags --libs libpcre2-8 libhs)
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <getopt.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cor_prefilter.h"

#define PB_LINE_MAX 512
#define PB_MAX_ROUNDS 15

static uint64_t pb_rng;

static uint64_t pb_next(void)
{
    /* splitmix64: small, seedable, good enough for synthetic content */
    uint64_t z = (pb_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned pb_rand(unsigned n)
{
    return (unsigned)(pb_next() % n);
}

#define PB_PICK(a) ((a)[pb_rand(sizeof(a) / sizeof((a)[0]))])

static double pb_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the lines ---- */

static const char *const pb_mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const pb_roles[] = {"gw",  "web", "db",  "atc", "sig",
                                       "cam", "ops", "vpn", "dns", "app"};
static const char *const pb_staff[] = {"alice",   "bmartin", "cdupont",   "dkovac",
                                       "eng-ops", "fsilva",  "gnakamura", "hpetit"};
static const char *const pb_attack_users[] = {"root",     "admin",   "oracle", "deploy",
                                              "ubuntu",   "test",    "guest",  "pi",
                                              "postgres", "support", "git",    "user"};
static const char *const pb_services[] = {
    "nginx",     "postgresql", "docker",           "containerd",
    "rsyslog",   "cron",       "systemd-journald", "unattended-upgrades",
    "apt-daily", "logrotate",  "man-db",           "fstrim"};
static const char *const pb_paths[] = {
    "/api/v1/flights",        "/api/v1/trains/positions", "/login",
    "/static/app.js",         "/api/v2/roads/incidents",  "/healthz",
    "/api/v1/tickets",        "/static/css/site.css",     "/favicon.ico",
    "/api/v1/stations/nearby"};
static const char *const pb_agents[] = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0", "curl/7.88.1",
    "python-requests/2.28.1", "Go-http-client/1.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"};
static const char *const pb_cmds[] = {"/usr/bin/systemctl restart nginx",
                                      "/usr/bin/apt-get update",
                                      "/usr/sbin/iptables -L -n",
                                      "/usr/bin/journalctl -u sshd --since today",
                                      "/usr/bin/tail -n 200 /var/log/auth.log",
                                      "/usr/bin/docker ps -a",
                                      "/usr/bin/vim /etc/nginx/sites-enabled/default"};
static const char *const pb_evil_cmds[] = {"/bin/cat /etc/shadow", "/bin/chmod 4755 /tmp/x ",
                                           "/usr/bin/passwd root", "/bin/bash", "/bin/sh"};
static const char *const pb_evil_paths[] = {"/wp-login.php", "/.env",        "/admin/config.php",
                                            "/.git/config",  "/phpmyadmin/", "/server-status"};

static void pb_ip(char *out, size_t cap, int external)
{
    if (external) {
        static const int nets[][2] = {{203, 0},   {198, 51}, {192, 0},   {45, 83},
                                      {185, 220}, {61, 177}, {222, 186}, {91, 240}};
        const int *n = nets[pb_rand(8)];
        snprintf(out, cap, "%d.%d.%u.%u", n[0], n[1], pb_rand(256), 1 + pb_rand(254));
    } else {
        snprintf(out, cap, "10.%u.%u.%u", pb_rand(3), pb_rand(64), 1 + pb_rand(254));
    }
}

/* Writes one line (no LF) into out and returns its length. About 1 line in
 * 12 is an attack or a policy event that the peer rules are written for. */
static int pb_line(char *out, size_t cap, uint64_t i)
{
    time_t t = 1717200000 + (time_t)(i / 50);
    struct tm tm;
    gmtime_r(&t, &tm);
    char hdr[96], ip[24], ip2[24];
    unsigned pid = 300 + pb_rand(60000);
    int hl =
        snprintf(hdr, sizeof(hdr), "<%u>%s %2d %02d:%02d:%02d %s-%s-%02u.%s.vigil.example ",
                 pb_rand(191), pb_mon[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (const char *[]){"road", "avn", "rail"}[pb_rand(3)], PB_PICK(pb_roles),
                 1 + pb_rand(40), (const char *[]){"north", "south", "east", "west"}[pb_rand(4)]);
    memcpy(out, hdr, (size_t)hl);
    char *m = out + hl;
    size_t mc = cap - (size_t)hl;
    int evil = pb_rand(100) < 8;
    int n;
    const char *u = PB_PICK(pb_staff);
    switch (pb_rand(16)) {
    case 0:
        pb_ip(ip, sizeof(ip), 1);
        if (evil)
            n = snprintf(m, mc, "sshd[%u]: Failed password for %s%s from %s port %u ssh2", pid,
                         pb_rand(2) ? "invalid user " : "", PB_PICK(pb_attack_users), ip,
                         1024 + pb_rand(64000));
        else
            n = snprintf(m, mc,
                         "sshd[%u]: Connection from %s port %u on 10.0.%u.%u port 22 rdomain \"\" "
                         "(key exchange curve25519-sha256, cipher chacha20-poly1305)",
                         pid, ip, 1024 + pb_rand(64000), pb_rand(8), 1 + pb_rand(250));
        break;
    case 1:
        pb_ip(ip, sizeof(ip), 0);
        n = snprintf(m, mc,
                     "sshd[%u]: Accepted publickey for %s from %s port %u ssh2: ED25519 "
                     "SHA256:%016llx%016llx, session opened for user %s by (uid=0)",
                     pid, evil ? "root" : u, ip, 1024 + pb_rand(64000),
                     (unsigned long long)pb_next(), (unsigned long long)pb_next(), u);
        break;
    case 2:
        n = snprintf(m, mc,
                     "sshd[%u]: pam_unix(sshd:session): session %s for user %s(uid=%u) by "
                     "(uid=0); tty=ssh; login from the jump host 10.0.0.%u",
                     pid, pb_rand(2) ? "opened" : "closed", evil ? "root" : u, 1000 + pb_rand(30),
                     1 + pb_rand(250));
        break;
    case 3:
        pb_ip(ip, sizeof(ip), pb_rand(2));
        n = snprintf(m, mc,
                     "sshd[%u]: Received disconnect from %s port %u:11: disconnected by user%s; "
                     "session lasted %u seconds, %u bytes in, %u bytes out",
                     pid, ip, 1024 + pb_rand(64000), evil ? " [preauth]" : "", pb_rand(90000),
                     pb_rand(1 << 20), pb_rand(1 << 24));
        break;
    case 4:
        if (evil)
            n = snprintf(m, mc,
                         "sudo[%u]: %8s : TTY=pts/%u ; PWD=/home/%s ; USER=root ; COMMAND=%s", pid,
                         u, pb_rand(8), u, PB_PICK(pb_evil_cmds));
        else
            n = snprintf(m, mc,
                         "sudo[%u]: %8s : TTY=pts/%u ; PWD=/home/%s/work/ticket-%u ; USER=root ; "
                         "ENV=LANG=C.UTF-8 ; COMMAND=%s",
                         pid, u, pb_rand(8), u, 1000 + pb_rand(9000), PB_PICK(pb_cmds));
        break;
    case 5:
    case 6: {
        static const unsigned benign[] = {80, 443, 8080, 8443, 5060, 853, 993, 25};
        static const unsigned bad[] = {22, 23, 3389, 445, 3306, 1433, 5432, 53, 161};
        pb_ip(ip, sizeof(ip), 1);
        pb_ip(ip2, sizeof(ip2), 0);
        n = snprintf(
            m, mc,
            "kernel: [%u.%06u] [UFW %s] IN=eth0 OUT= MAC=52:54:00:%02x:%02x:%02x "
            "SRC=%s DST=%s LEN=%u TTL=%u ID=%u PROTO=%s SPT=%u DPT=%u WINDOW=%u SYN URGP=0",
            pb_rand(2000000), pb_rand(1000000), pb_rand(3) ? "AUDIT" : "BLOCK", pb_rand(256),
            pb_rand(256), pb_rand(256), ip, ip2, 40 + pb_rand(1400), 32 + pb_rand(96),
            pb_rand(65536), pb_rand(4) ? "TCP" : "UDP", 1024 + pb_rand(64000),
            evil ? PB_PICK(bad) : PB_PICK(benign), 1024 + pb_rand(64000));
        break;
    }
    case 7:
    case 8:
        pb_ip(ip, sizeof(ip), pb_rand(2));
        n = snprintf(m, mc, "nginx[%u]: %s - - \"%s %s HTTP/1.1\" %u %u \"-\" \"%s\"", pid, ip,
                     pb_rand(4) ? "GET" : "POST", evil ? PB_PICK(pb_evil_paths) : PB_PICK(pb_paths),
                     evil ? (unsigned[]){404, 403, 200, 502}[pb_rand(4)]
                          : (unsigned[]){200, 200, 200, 304, 301, 404}[pb_rand(6)],
                     200 + pb_rand(90000), PB_PICK(pb_agents));
        break;
    case 9:
        n = snprintf(m, mc, "systemd[1]: %s.service: %s",
                     evil && pb_rand(2) ? "ssh" : PB_PICK(pb_services),
                     evil ? "Main process exited, code=exited, status=1/FAILURE"
                          : "Deactivated successfully. Consumed 1.2s CPU time, no IP traffic, "
                            "memory peak 12.4M, swap peak 0B.");
        break;
    case 10:
        n = snprintf(m, mc,
                     "CRON[%u]: (%s) CMD (%s >> /var/log/cron-jobs/%s.log 2>&1; flock -n "
                     "/run/lock/job-%u)",
                     pid, evil ? "root" : u,
                     evil ? "/usr/local/bin/backup.sh --full" : "/usr/local/bin/report --daily", u,
                     pb_rand(100));
        break;
    case 11:
        pb_ip(ip, sizeof(ip), 1);
        if (evil)
            n = snprintf(m, mc,
                         "postfix/smtpd[%u]: warning: unknown[%s]: SASL LOGIN authentication "
                         "failed: UGFzc3dvcmQ6",
                         pid, ip);
        else
            n = snprintf(m, mc,
                         "postfix/smtp[%u]: %010llX: to=<%s@example.org>, relay=mx.example.org[%s]"
                         ":25, delay=%u.%u, status=sent (250 2.0.0 OK queued)",
                         pid, (unsigned long long)(pb_next() >> 24), u, ip, pb_rand(9),
                         pb_rand(100));
        break;
    case 12:
        pb_ip(ip, sizeof(ip), 0);
        n = snprintf(m, mc,
                     "dhclient[%u]: DHCPACK of %s from %s (xid=0x%08x), renewal in %u seconds "
                     "on interface eth%u",
                     pid, evil ? "192.168.1.23" : ip, ip, (unsigned)pb_next(), 300 + pb_rand(3000),
                     pb_rand(2));
        break;
    case 13:
        n = snprintf(m, mc,
                     "systemd-logind[%u]: New session %u of user %s; seat0 not assigned, "
                     "remote=yes, service=sshd, class=user, leader=%u",
                     pid, pb_rand(100000), u, pb_rand(60000));
        break;
    case 14:
        n = snprintf(m, mc,
                     "dockerd[%u]: time=\"2024-06-01T%02u:%02u:%02u.%09uZ\" level=info "
                     "msg=\"ignoring event\" container=%016llx module=libcontainerd "
                     "namespace=moby topic=/tasks/delete",
                     pid, tm.tm_hour, tm.tm_min, tm.tm_sec, pb_rand(1000000000),
                     (unsigned long long)pb_next());
        break;
    default:
        if (evil)
            n = snprintf(m, mc, "su[%u]: FAILED SU (to root) %s on pts/%u", pid, u, pb_rand(8));
        else
            n = snprintf(m, mc,
                         "su[%u]: (to postgres) %s on pts/%u; pam_unix(su-l:session): session "
                         "opened for user postgres(uid=114) by %s(uid=1000)",
                         pid, u, pb_rand(8), u);
        break;
    }
    if (n < 0 || (size_t)n >= mc) n = (int)mc - 1;
    return hl + n;
}

/* ---- the rules ---- */

typedef struct pb_rules {
    char **src;
    pcre2_code **re;
    size_t n;
    pcre2_match_data *md;
} pb_rules;

static int pb_load(const char *path, pb_rules *r)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t len;
    uint32_t maxcap = 1;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0) continue;
        if (r->n == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            r->src = realloc(r->src, alloc * sizeof(*r->src));
            r->re = realloc(r->re, alloc * sizeof(*r->re));
            if (!r->src || !r->re) {
                fprintf(stderr, "out of memory\n");
                exit(1);
            }
        }
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)line, PCRE2_ZERO_TERMINATED, PCRE2_DUPNAMES, &ec, &eo, NULL);
        if (!re) {
            char msg[256];
            pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
            fprintf(stderr, "%s:%zu: %s at %zu\n", path, r->n + 1, msg, (size_t)eo);
            exit(1);
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        uint32_t c;
        pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &c);
        if (c + 1 > maxcap) maxcap = c + 1;
        r->src[r->n] = strdup(line);
        r->re[r->n] = re;
        r->n++;
    }
    free(line);
    fclose(f);
    r->md = pcre2_match_data_create(maxcap, NULL);
    return 0;
}

/* ---- the two ways of matching ---- */

/* (a): every regex on every line. Returns the number of matches. */
static uint64_t pb_run_all(const pb_rules *r, const char *buf, const uint32_t *off, size_t nl,
                           uint64_t *hits)
{
    uint64_t total = 0;
    for (size_t l = 0; l < nl; l++) {
        const char *s = buf + off[l];
        size_t len = off[l + 1] - off[l];
        for (size_t i = 0; i < r->n; i++) {
            if (pcre2_match(r->re[i], (PCRE2_SPTR)s, len, 0, 0, r->md, NULL) >= 0) {
                hits[i]++;
                total++;
            }
        }
    }
    return total;
}

/* (b): prefilter, then PCRE2 on the candidates only. */
static uint64_t pb_run_pf(const pb_rules *r, cor_prefilter *pf, const char *buf,
                          const uint32_t *off, size_t nl, uint64_t *hits, uint64_t *ncand)
{
    size_t nw = (r->n + 63) / 64;
    uint64_t cand[(100000 + 63) / 64];
    uint64_t total = 0, nc = 0;
    for (size_t l = 0; l < nl; l++) {
        const char *s = buf + off[l];
        size_t len = off[l + 1] - off[l];
        int c = cor_prefilter_scan(pf, s, len, cand);
        if (c == 0) continue;
        nc += c > 0 ? (uint64_t)c : r->n; /* an error marks every rule: use the bitmap */
        for (size_t w = 0; w < nw; w++) {
            for (uint64_t b = cand[w]; b; b &= b - 1) {
                size_t i = w * 64 + (size_t)__builtin_ctzll(b);
                if (pcre2_match(r->re[i], (PCRE2_SPTR)s, len, 0, 0, r->md, NULL) >= 0) {
                    hits[i]++;
                    total++;
                }
            }
        }
    }
    *ncand = nc;
    return total;
}

static int pb_dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pb_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), pb_dbl_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    size_t nl = 1000000;
    int rounds = 3, verbose = 0, opt;
    pb_rng = 42;
    while ((opt = getopt(argc, argv, "n:s:r:v")) != -1) {
        switch (opt) {
        case 'n':
            nl = strtoull(optarg, NULL, 10);
            break;
        case 's':
            pb_rng = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            goto usage;
        }
    }
    if (optind != argc - 1 || nl == 0 || rounds < 1 || rounds > PB_MAX_ROUNDS) goto usage;

    pb_rules r = {0};
    if (pb_load(argv[optind], &r) != 0) return 1;
    if (r.n == 0 || r.n > 100000) {
        fprintf(stderr, "%s: need 1..100000 regexes\n", argv[optind]);
        return 1;
    }

    char err[256];
    cor_prefilter *pf;
    double t0 = pb_cpu();
    int rc = cor_prefilter_build((const char *const *)r.src, r.n, &pf, err, sizeof(err));
    double tbuild = pb_cpu() - t0;
    if (rc) {
        fprintf(stderr, "prefilter: %s (%d)\n", err, rc);
        return 1;
    }
    printf("rules: %zu from %s; prefilter built in %.3f s, %zu always candidate(s)\n", r.n,
           argv[optind], tbuild, cor_prefilter_always(pf));
    for (size_t i = 0; i < r.n; i++)
        if (cor_prefilter_always_reason(pf, i))
            printf("  always: rule %zu /%s/: %s\n", i + 1, r.src[i],
                   cor_prefilter_always_reason(pf, i));

    char *buf = malloc(nl * PB_LINE_MAX);
    uint32_t *off = malloc((nl + 1) * sizeof(*off));
    if (!buf || !off || nl * PB_LINE_MAX > UINT32_MAX) {
        fprintf(stderr, "too many lines\n");
        return 1;
    }
    size_t pos = 0;
    for (size_t l = 0; l < nl; l++) {
        off[l] = (uint32_t)pos;
        pos += (size_t)pb_line(buf + pos, PB_LINE_MAX, l);
    }
    off[nl] = (uint32_t)pos;
    if (verbose)
        for (size_t l = 0; l < 40 && l < nl; l++)
            printf("  %.*s\n", (int)(off[l + 1] - off[l]), buf + off[l]);

    uint64_t *ha = calloc(r.n, sizeof(*ha)), *hb = calloc(r.n, sizeof(*hb));
    double ra[PB_MAX_ROUNDS], rb[PB_MAX_ROUNDS];
    uint64_t ta = 0, tb = 0, ncand = 0;
    size_t matching = 0;
    int bad = 0;
    for (int k = 0; k < rounds; k++) {
        memset(ha, 0, r.n * sizeof(*ha));
        memset(hb, 0, r.n * sizeof(*hb));
        t0 = pb_cpu();
        ta = pb_run_all(&r, buf, off, nl, ha);
        ra[k] = (double)nl / (pb_cpu() - t0);
        t0 = pb_cpu();
        tb = pb_run_pf(&r, pf, buf, off, nl, hb, &ncand);
        rb[k] = (double)nl / (pb_cpu() - t0);
        if (memcmp(ha, hb, r.n * sizeof(*ha)) != 0) {
            bad = 1;
            for (size_t i = 0; i < r.n; i++)
                if (ha[i] != hb[i])
                    fprintf(stderr, "MISMATCH rule %zu /%s/: all %llu, prefiltered %llu\n", i + 1,
                            r.src[i], (unsigned long long)ha[i], (unsigned long long)hb[i]);
        }
        printf("round %d: (a) %.0f lines/s  (b) %.0f lines/s\n", k + 1, ra[k], rb[k]);
    }
    /* lines with at least one match, counted once, outside the timed loops */
    for (size_t l = 0; l < nl; l++) {
        for (size_t i = 0; i < r.n; i++) {
            if (pcre2_match(r.re[i], (PCRE2_SPTR)buf + off[l], off[l + 1] - off[l], 0, 0, r.md,
                            NULL) >= 0) {
                matching++;
                break;
            }
        }
    }
    printf("lines: %zu, %.1f bytes on average, %.2f%% match at least one rule, %.3f matches "
           "and %.3f candidates per line\n",
           nl, (double)pos / (double)nl, 100.0 * (double)matching / (double)nl,
           (double)ta / (double)nl, (double)ncand / (double)nl);
    double ma = pb_median(ra, rounds), mb = pb_median(rb, rounds);
    printf("(a) PCRE2 JIT, every regex on every line: %10.0f lines/s (median of %d)\n", ma, rounds);
    printf("(b) prefilter + PCRE2 confirmation:        %10.0f lines/s (median of %d), x%.1f\n", mb,
           rounds, mb / ma);
    printf("matches: (a) %llu, (b) %llu: %s\n", (unsigned long long)ta, (unsigned long long)tb,
           bad ? "DIFFERENT" : "identical per rule");

    cor_prefilter_free(pf);
    for (size_t i = 0; i < r.n; i++) {
        pcre2_code_free(r.re[i]);
        free(r.src[i]);
    }
    free(r.re);
    free(r.src);
    pcre2_match_data_free(r.md);
    free(buf);
    free(off);
    free(ha);
    free(hb);
    return bad;
usage:
    fprintf(stderr, "usage: %s RULES_FILE [-n LINES] [-s SEED] [-r ROUNDS] [-v]\n", argv[0]);
    return 2;
}
