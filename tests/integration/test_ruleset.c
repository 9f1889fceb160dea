/* The shipped rule set (rules/) against traffic with known attacks, and
 * against real logs.
 *
 *   - bench/gen_attacks.py writes a seeded stream of realistic mixed traffic
 *     (about 49,000 lines, 25 hosts, 5 hours) with attacks injected at known
 *     times, and the alerts they must raise (expected.tsv: rule id, count,
 *     group fields). --replay runs the shipped rules over it: every expected
 *     alert must be there, as many times as expected, and nothing else.
 *   - The real logs of ../shared/corpus (when present; skipped otherwise): the
 *     alerts per rule documented in docs/ruleset.md, and none at all for the
 *     non-syslog negatives (Windows CBS, Proxifier). The corpus is read in
 *     place, converted on the fly by gen_attacks.py corpus KIND FILE.
 *
 * The sample watchlists of rules/lists/ load with the rules. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vt.h"

static const char *src_root(void)
{
    const char *r = getenv("VG_SOURCE_ROOT");
    return r ? r : ".";
}

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/vigil-ruleset-XXXXXX", t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    if (!tmpdir[0] || getenv("VT_KEEP"))
        return;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    char *argv[] = {"sh", "-c", cmd, NULL};
    vt_run(argv, 30);
    tmpdir[0] = '\0';
}

static int sh(const char *cmd, int timeout_s)
{
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    return vt_run(argv, timeout_s);
}

/* Replays INPUT (a file, or "-" with a shell pipeline in front) with the
 * shipped rules into OUT (ECS JSON lines); the sample watchlists load with
 * the rules (RULES_DIR/lists/NAME.txt). */
static int replay(const char *feed, const char *input, const char *year, const char *out)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s %s --replay %s --rules %s/rules %s%s > %s 2> %s.err",
             feed ? feed : "", vt_bin("correlator/vigil-correlator"), input, src_root(),
             year ? "--year " : "", year ? year : "", out, out);
    return sh(cmd, 120);
}

/* The value of "rule":{"id":"..."} of an alert line, copied into id. */
static int rule_id(const char *line, char *id, size_t cap)
{
    const char *p = strstr(line, "\"rule\":{\"id\":\"");
    if (!p)
        return -1;
    p += strlen("\"rule\":{\"id\":\"");
    const char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= cap)
        return -1;
    memcpy(id, p, (size_t)(q - p));
    id[q - p] = '\0';
    return 0;
}

/* An expected alert: rule, count, and the fields each of its alerts carries,
 * as the JSON fragments they appear as in the shipper's ECS output. */
typedef struct expect {
    char rule[80];
    int count, seen;
    char frag[6][300];
    int nfrag;
    char key[400];
} expect;

static void field_frag(const char *k, const char *v, char *out, size_t cap)
{
    if (strcmp(k, "src_ip") == 0)
        snprintf(out, cap, "\"source\":{\"ip\":\"%s\"", v);
    else if (strcmp(k, "dst_ip") == 0)
        snprintf(out, cap, "\"destination\":{\"ip\":\"%s\"", v);
    else if (strcmp(k, "user") == 0)
        snprintf(out, cap, "\"user\":{\"name\":\"%s\"", v);
    else if (strcmp(k, "host") == 0)
        snprintf(out, cap, "\"host\":{\"name\":\"%s\"", v);
    else
        snprintf(out, cap, "\"%s\":\"%s\"", k, v);
}

static int load_expected(const char *path, expect *e, int cap)
{
    char *b = vt_read_file(path, NULL);
    ck_assert_ptr_nonnull(b);
    int n = 0;
    for (char *l = strtok(b, "\n"); l; l = strtok(NULL, "\n")) {
        if (l[0] == '#' || !l[0])
            continue;
        ck_assert_int_lt(n, cap);
        expect *x = &e[n++];
        memset(x, 0, sizeof(*x));
        char *t1 = strchr(l, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        ck_assert_ptr_nonnull(t2);
        *t1 = *t2 = '\0';
        snprintf(x->rule, sizeof(x->rule), "%s", l);
        x->count = atoi(t1 + 1);
        snprintf(x->key, sizeof(x->key), "%s", t2 + 1);
        char *save = NULL;
        for (char *kv = strtok_r(t2 + 1, ";", &save); kv && x->nfrag < 6;
             kv = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(kv, '=');
            ck_assert_ptr_nonnull(eq);
            *eq = '\0';
            field_frag(kv, eq + 1, x->frag[x->nfrag++], sizeof(x->frag[0]));
        }
    }
    free(b);
    return n;
}

/* Matches every alert to an expected one; prints and counts the problems. */
static int check_alerts(const char *alerts, expect *e, int n)
{
    char *b = vt_read_file(alerts, NULL);
    ck_assert_ptr_nonnull(b);
    int bad = 0, total = 0;
    for (char *l = b, *nl; *l; l = nl + 1) {
        nl = strchr(l, '\n');
        if (!nl)
            break;
        *nl = '\0';
        total++;
        char id[80];
        ck_assert_int_eq(rule_id(l, id, sizeof(id)), 0);
        int found = 0;
        for (int i = 0; i < n && !found; i++) {
            if (strcmp(e[i].rule, id) != 0)
                continue;
            int all = 1;
            for (int k = 0; k < e[i].nfrag && all; k++)
                all = strstr(l, e[i].frag[k]) != NULL;
            if (all) {
                e[i].seen++;
                found = 1;
            }
        }
        if (!found && bad++ < 10)
            printf("unexpected alert: %.600s\n", l);
    }
    for (int i = 0; i < n; i++) {
        if (e[i].seen != e[i].count) {
            bad++;
            printf("%s {%s}: %d alerts, expected %d\n", e[i].rule, e[i].key, e[i].seen, e[i].count);
        }
    }
    printf("%d alerts, %d expected groups, %d problems\n", total, n, bad);
    free(b);
    return bad;
}

static void injected_attacks(unsigned seed)
{
    make_tmpdir();
    char cmd[2048], stream[400], expected[400], alerts[400];
    snprintf(cmd, sizeof(cmd), "python3 %s/bench/gen_attacks.py --seed %u --out %s", src_root(),
             seed, tmpdir);
    ck_assert_int_eq(sh(cmd, 120), 0);
    snprintf(stream, sizeof(stream), "%s/stream.log", tmpdir);
    snprintf(expected, sizeof(expected), "%s/expected.tsv", tmpdir);
    snprintf(alerts, sizeof(alerts), "%s/alerts.json", tmpdir);
    ck_assert_int_eq(replay(NULL, stream, "2026", alerts), 0);
    static expect e[200];
    int n = load_expected(expected, e, 200);
    ck_assert_int_gt(n, 50);
    ck_assert_int_eq(check_alerts(alerts, e, n), 0);
    remove_tmpdir();
}

START_TEST(test_injected_attacks_seed1)
{
    injected_attacks(1);
}
END_TEST

START_TEST(test_injected_attacks_seed2)
{
    injected_attacks(2);
}
END_TEST

/* ---- the real logs of ../shared/corpus ----------------------------------- */

static int corpus_dir(char *out, size_t cap)
{
    const char *env = getenv("VG_CORPUS");
    if (env)
        snprintf(out, cap, "%s", env);
    else
        snprintf(out, cap, "%s/../shared/corpus", src_root());
    struct stat sb;
    return stat(out, &sb) == 0 && S_ISDIR(sb.st_mode);
}

typedef struct corpus_case {
    const char *file, *kind, *year;
    const char *counts; /* "rule=N,rule=N" (all rules that may fire), "" = none */
} corpus_case;

/* docs/ruleset.md, "Results on real logs" */
static const corpus_case corpus_cases[] = {
    {"loghub/OpenSSH_2k.log", "plain", "2026",
     "ssh.bruteforce=26,ssh.password_spray=6,ssh.too_many_auth_failures=3,ssh.preauth_scan=10"},
    {"loghub/Linux_2k.log", "plain", "2005", "auth.remote_bruteforce=33"},
    {"loghub/Apache_2k.log", "apache_error", "2005", ""},
    {"loghub/Thunderbird_2k.log", "thunderbird", "2005", ""},
    {"loghub/Windows_2k.log", "plain", NULL, ""},
    {"loghub/Proxifier_2k.log", "plain", NULL, ""},
    {"apache-http-logs/acunetix.txt", "access", "2016",
     "web.sqli=3,web.xss=2,web.path_traversal=3,web.command_injection=2,web.rfi=2,"
     "web.sensitive_file_probe=2,web.scanner=3,web.attack_burst=2,web.not_found_burst=2"},
    {"apache-http-logs/netsparker.txt", "access", "2016",
     "web.sqli=1,web.xss=2,web.path_traversal=1,web.command_injection=2,web.rfi=2,"
     "web.sensitive_file_probe=1,web.scanner=2,web.attack_burst=2,web.not_found_burst=1"},
    {"apache-http-logs/w3af.txt", "access", "2016",
     "web.scanner=4,web.attack_burst=4,web.not_found_burst=2"},
};

START_TEST(test_corpus)
{
    char dir[400];
    if (!corpus_dir(dir, sizeof(dir))) {
        printf("SKIP corpus checks: %s not found\n", dir);
        return;
    }
    make_tmpdir();
    enum { NCASES = sizeof(corpus_cases) / sizeof(corpus_cases[0]) };
    /* the replays two at a time, one per core (a replay spends most of its
     * time loading the rules: seconds under ASan); the checks after */
    pid_t lane[2];
    for (int l = 0; l < 2; l++) {
        lane[l] = fork();
        ck_assert_int_ge(lane[l], 0);
        if (lane[l] == 0) {
            int failed = 0;
            for (size_t c = (size_t)l; c < NCASES; c += 2) {
                const corpus_case *k = &corpus_cases[c];
                char feed[1200], alerts[400];
                snprintf(feed, sizeof(feed), "python3 %s/bench/gen_attacks.py corpus %s %s/%s |",
                         src_root(), k->kind, dir, k->file);
                snprintf(alerts, sizeof(alerts), "%s/corpus-%zu.json", tmpdir, c);
                if (replay(feed, "-", k->year, alerts) != 0 && !failed)
                    failed = 1 + (int)c;
            }
            _exit(failed);
        }
    }
    for (int l = 0; l < 2; l++) {
        int st = 0;
        ck_assert_int_eq(waitpid(lane[l], &st, 0), lane[l]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the replay of %s failed",
                      WIFEXITED(st) && WEXITSTATUS(st) ? corpus_cases[WEXITSTATUS(st) - 1].file
                                                       : "a corpus file (killed)");
    }
    int bad = 0;
    for (size_t c = 0; c < NCASES; c++) {
        const corpus_case *k = &corpus_cases[c];
        char alerts[400];
        snprintf(alerts, sizeof(alerts), "%s/corpus-%zu.json", tmpdir, c);
        static expect e[32];
        int n = 0;
        char counts[1024];
        snprintf(counts, sizeof(counts), "%s", k->counts);
        char *save = NULL;
        for (char *kv = strtok_r(counts, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            memset(&e[n], 0, sizeof(e[n]));
            *eq = '\0';
            snprintf(e[n].rule, sizeof(e[n].rule), "%s", kv);
            e[n].count = atoi(eq + 1);
            n++;
        }
        printf("%s: ", k->file);
        int b = check_alerts(alerts, e, n);
        if (b)
            printf("  ^ %s\n", k->file);
        bad += b;
    }
    ck_assert_int_eq(bad, 0);
    remove_tmpdir();
}
END_TEST

static Suite *ruleset_suite(void)
{
    Suite *s = suite_create("ruleset");
    TCase *tc = tcase_create("ruleset");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_injected_attacks_seed1);
    tcase_add_test(tc, test_injected_attacks_seed2);
    tcase_add_test(tc, test_corpus);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    SRunner *sr = srunner_create(ruleset_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
