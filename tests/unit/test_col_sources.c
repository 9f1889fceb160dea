/* Unit tests for collector/col_sources.c (agency and site tagging) and
 * collector/col_counters.c (bounded per-source, per-agency, per-host
 * counters). Configuration is written to a fresh mkdtemp directory and read
 * with vg_yaml_load, so error messages are checked with their real
 * "FILE:LINE:". Run under ASan to check that nothing leaks. */
#include "col_counters.h"
#include "col_sources.h"
#include "vigil/conf.h"
#include "vigil/err.h"
#include "vigil/event.h"

#include <arpa/inet.h>
#include <check.h>

#include "vt_tmp.h"
#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char tmpdir[256];
static char err[1024];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/vg-test-colsrc-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    err[0] = '\0';
}

static void teardown(void)
{
    vt_rm_tree(tmpdir);
}

/* ---- helpers -------------------------------------------------------------- */

static void mkfile(char *path, const char *content)
{
    snprintf(path, PATH_MAX, "%s/vigil.yaml", tmpdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(content, 1, strlen(content), f), strlen(content));
    ck_assert_int_eq(fclose(f), 0);
}

/* Loads the 'sources' key of a YAML file. The tree is freed before the map
 * is used, to show that the map does not point into it. */
static int load_map(const char *yaml, col_sources **m, char *path)
{
    vg_node *root = NULL;
    mkfile(path, yaml);
    int rc = vg_yaml_load(path, &root, err, sizeof(err));
    ck_assert_msg(rc == 0, "yaml: %s", err);
    rc = col_sources_load(vg_node_get(root, "sources"), m, err, sizeof(err));
    vg_node_free(root);
    return rc;
}

static col_sources *map_ok(const char *yaml)
{
    char path[PATH_MAX];
    col_sources *m = NULL;
    int rc = load_map(yaml, &m, path);
    ck_assert_msg(rc == 0, "load failed: %s", err);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* Expects the load to fail with exactly "PATH" + rest. */
static void map_fails(const char *yaml, const char *rest)
{
    char path[PATH_MAX], want[PATH_MAX + 512];
    col_sources *m = (col_sources *)1;
    ck_assert_int_eq(load_map(yaml, &m, path), VG_ECONFIG);
    ck_assert_ptr_null(m);
    snprintf(want, sizeof(want), "%s%s", path, rest);
    ck_assert_str_eq(err, want);
}

static void assert_vs(vg_str got, const char *want)
{
    ck_assert_msg(vg_str_eq(got, want), "got '%.*s', want '%s'", (int)got.len,
                  got.p ? got.p : "(null)", want);
}

/* Tags a message from address 'ip' (NULL: no address) with HOSTNAME host
 * (NULL: absent) and checks agency and site. */
static void expect(col_sources *m, const char *ip, const char *host, const char *agency,
                   const char *site)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (ip && inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
        s4->sin_family = AF_INET;
    else if (ip && inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1)
        s6->sin6_family = AF_INET6;
    else
        ck_assert_ptr_null(ip);
    vg_str a = VG_STR_NULL, s = VG_STR_NULL;
    col_sources_tag(m, ip ? (struct sockaddr *)&ss : NULL, vg_str_c(host), &a, &s);
    ck_assert_msg(vg_str_eq(a, agency) && vg_str_eq(s, site),
                  "%s host %s: got %.*s/%.*s, want %s/%s", ip ? ip : "(none)",
                  host ? host : "(none)", (int)a.len, a.p, (int)s.len, s.p, agency, site);
}

static const char *const base_yaml =
    "sources:\n"                                             /* 1 */
    "  - agency: aviation\n"                                 /* 2 */
    "    site: tan-son-nhat\n"                               /* 3 */
    "    networks: [10.20.0.0/16, \"2001:db8:20::/48\"]\n"   /* 4 */
    "    hosts: [\"*-tsn-*\", \"fids-tsn-??\"]\n"            /* 5 */
    "  - agency: railway\n"                                  /* 6 */
    "    site: hanoi-station\n"                              /* 7 */
    "    networks: [10.30.0.0/16]\n"                         /* 8 */
    "  - agency: road\n"                                     /* 9 */
    "    networks: [10.0.0.0/8]\n"                           /* 10 */
    "  - agency: aviation\n"                                 /* 11 */
    "    site: noi-bai\n"                                    /* 12 */
    "    networks: [10.20.5.0/24, \"2001:db8:20:5::/64\"]\n" /* 13 */
    "  - agency: aviation\n"                                 /* 14 */
    "    site: noi-bai-tower\n"                              /* 15 */
    "    networks: [10.20.5.7, \"2001:db8:20:5::7\"]\n"      /* 16 */
    "    hosts: [\"TWR-*\"]\n"                               /* 17 */
    "  - agency: railway\n"                                  /* 18 */
    "    site: hq\n"                                         /* 19 */
    "    hosts: [\"fids-*\"]\n";                             /* 20 */

/* ---- the source map ------------------------------------------------------- */

START_TEST(test_ipv4)
{
    col_sources *m = map_ok(base_yaml);
    expect(m, "10.20.1.5", NULL, "aviation", "tan-son-nhat");
    expect(m, "10.30.1.1", NULL, "railway", "hanoi-station");
    expect(m, "10.1.2.3", NULL, "road", "unknown"); /* site defaults to "unknown" */
    expect(m, "192.168.1.1", NULL, "unknown", "unknown");
    size_t e, n, p;
    col_sources_count(m, &e, &n, &p);
    ck_assert_uint_eq(e, 6);
    ck_assert_uint_eq(n, 8);
    ck_assert_uint_eq(p, 4);
    col_sources_free(m);
}
END_TEST

START_TEST(test_longest_prefix)
{
    col_sources *m = map_ok(base_yaml);
    expect(m, "10.20.5.1", NULL, "aviation", "noi-bai");
    expect(m, "10.20.5.0", NULL, "aviation", "noi-bai");
    expect(m, "10.20.5.255", NULL, "aviation", "noi-bai");
    expect(m, "10.20.5.6", NULL, "aviation", "noi-bai");
    expect(m, "10.20.5.7", NULL, "aviation", "noi-bai-tower");
    expect(m, "10.20.5.8", NULL, "aviation", "noi-bai");
    expect(m, "10.20.4.255", NULL, "aviation", "tan-son-nhat");
    expect(m, "10.20.6.0", NULL, "aviation", "tan-son-nhat");
    expect(m, "10.20.0.0", NULL, "aviation", "tan-son-nhat");
    expect(m, "10.20.255.255", NULL, "aviation", "tan-son-nhat");
    expect(m, "10.19.255.255", NULL, "road", "unknown");
    expect(m, "10.21.0.0", NULL, "road", "unknown");
    expect(m, "10.0.0.0", NULL, "road", "unknown");
    expect(m, "10.255.255.255", NULL, "road", "unknown");
    expect(m, "9.255.255.255", NULL, "unknown", "unknown");
    expect(m, "11.0.0.0", NULL, "unknown", "unknown");
    expect(m, "0.0.0.0", NULL, "unknown", "unknown");
    expect(m, "255.255.255.255", NULL, "unknown", "unknown");
    col_sources_free(m);

    /* Nested blocks that end together, the whole space, and its top. */
    m = map_ok("sources:\n"
               "  - {agency: all, networks: [0.0.0.0/0, \"::/0\"]}\n"
               "  - {agency: ten, networks: [10.0.0.0/8]}\n"
               "  - {agency: tail, networks: [10.255.0.0/16]}\n"
               "  - {agency: top, networks: [255.255.255.255/32, \"ffff:ffff:ffff:ffff:ffff:"
               "ffff:ffff:ffff/128\"]}\n"
               "  - {agency: half, networks: [\"8000::/1\"]}\n"
               "  - {agency: low64, networks: [\"2001:db8::/64\"]}\n");
    expect(m, "9.255.255.255", NULL, "all", "unknown");
    expect(m, "10.254.255.255", NULL, "ten", "unknown");
    expect(m, "10.255.0.0", NULL, "tail", "unknown");
    expect(m, "10.255.255.255", NULL, "tail", "unknown");
    expect(m, "11.0.0.0", NULL, "all", "unknown");
    expect(m, "255.255.255.254", NULL, "all", "unknown");
    expect(m, "255.255.255.255", NULL, "top", "unknown");
    expect(m, "0.0.0.0", NULL, "all", "unknown");
    expect(m, "::", NULL, "all", "unknown");
    expect(m, "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, "all", "unknown");
    expect(m, "8000::", NULL, "half", "unknown");
    expect(m, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", NULL, "half", "unknown");
    expect(m, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, "top", "unknown");
    expect(m, "2001:db8::", NULL, "low64", "unknown");
    expect(m, "2001:db8::ffff:ffff:ffff:ffff", NULL, "low64", "unknown");
    expect(m, "2001:db8:0:1::", NULL, "all", "unknown");
    expect(m, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", NULL, "all", "unknown");
    col_sources_free(m);
}
END_TEST

START_TEST(test_ipv6_and_mapped)
{
    col_sources *m = map_ok(base_yaml);
    expect(m, "2001:db8:20::1", NULL, "aviation", "tan-son-nhat");
    expect(m, "2001:db8:20:ffff:ffff:ffff:ffff:ffff", NULL, "aviation", "tan-son-nhat");
    expect(m, "2001:db8:20:5::1", NULL, "aviation", "noi-bai");
    expect(m, "2001:db8:20:5::7", NULL, "aviation", "noi-bai-tower");
    expect(m, "2001:db8:21::1", NULL, "unknown", "unknown");
    expect(m, "::1", NULL, "unknown", "unknown");
    /* A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d. */
    expect(m, "::ffff:10.30.1.1", NULL, "railway", "hanoi-station");
    expect(m, "::ffff:10.20.5.7", NULL, "aviation", "noi-bai-tower");
    expect(m, "::ffff:10.9.9.9", NULL, "road", "unknown");
    expect(m, "::ffff:11.0.0.1", NULL, "unknown", "unknown");
    col_sources_free(m);

    /* IPv6 networks never match IPv4 senders; the mapped form is IPv4. */
    m = map_ok("sources:\n"
               "  - {agency: v6all, networks: [\"::/0\"]}\n"
               "  - {agency: mapped, networks: [\"::ffff:192.168.7.0/120\"]}\n"
               "  - {agency: mappedhost, networks: [\"::ffff:192.168.8.1\"]}\n");
    expect(m, "10.1.1.1", NULL, "unknown", "unknown");
    expect(m, "::ffff:10.1.1.1", NULL, "unknown", "unknown");
    expect(m, "192.168.7.9", NULL, "mapped", "unknown");
    expect(m, "::ffff:192.168.7.9", NULL, "mapped", "unknown");
    expect(m, "192.168.8.1", NULL, "mappedhost", "unknown");
    expect(m, "192.168.8.2", NULL, "unknown", "unknown");
    expect(m, "2001:db8::1", NULL, "v6all", "unknown");
    col_sources_free(m);
}
END_TEST

START_TEST(test_hosts)
{
    col_sources *m = map_ok(base_yaml);
    /* The HOSTNAME wins over the (relay's) address. */
    expect(m, "10.30.1.1", "fids-tsn-01", "aviation", "tan-son-nhat");
    expect(m, "10.30.1.1", "gate-tsn-a4", "aviation", "tan-son-nhat");
    /* Case-insensitive, both ways round. */
    expect(m, "10.30.1.1", "FIDS-TSN-07", "aviation", "tan-son-nhat");
    expect(m, NULL, "twr-1", "aviation", "noi-bai-tower");
    expect(m, NULL, "Twr-North", "aviation", "noi-bai-tower");
    /* First entry in file order wins: "fids-*" (line 20) also matches. */
    expect(m, NULL, "fids-tsn-01", "aviation", "tan-son-nhat");
    expect(m, "10.20.1.1", "fids-hue-1", "railway", "hq");
    /* No pattern: the address decides. */
    expect(m, "10.30.1.1", "web01", "railway", "hanoi-station");
    expect(m, "10.20.5.7", NULL, "aviation", "noi-bai-tower");
    expect(m, "10.20.5.7", "", "aviation", "noi-bai-tower");
    /* Nothing at all. */
    expect(m, "192.168.1.1", "web01", "unknown", "unknown");
    expect(m, NULL, "web01", "unknown", "unknown");
    expect(m, NULL, NULL, "unknown", "unknown");

    /* A Unix socket: no address; patterns still apply. */
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    vg_str a, s;
    col_sources_tag(m, (struct sockaddr *)&su, vg_str_c("x-tsn-y"), &a, &s);
    assert_vs(a, "aviation");
    assert_vs(s, "tan-son-nhat");
    col_sources_tag(m, (struct sockaddr *)&su, VG_STR_NULL, &a, &s);
    assert_vs(a, "unknown");
    assert_vs(s, "unknown");

    /* Not NUL-terminated, a NUL inside, longer than 255 bytes. */
    char buf[400];
    memcpy(buf, "fids-tsn-01XYZ", 14);
    col_sources_tag(m, NULL, vg_str_n(buf, 11), &a, &s);
    assert_vs(s, "tan-son-nhat");
    col_sources_tag(m, NULL, vg_str_n("a-tsn-\0b", 8), &a, &s);
    assert_vs(a, "unknown");
    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "x-tsn-", 6);
    col_sources_tag(m, NULL, vg_str_n(buf, 255), &a, &s);
    assert_vs(s, "tan-son-nhat");
    col_sources_tag(m, NULL, vg_str_n(buf, 256), &a, &s);
    assert_vs(s, "unknown");

    /* A map without patterns, an absent map, an empty list. */
    col_sources_free(m);
    m = map_ok("sources:\n  - {agency: road, networks: [10.0.0.0/8]}\n");
    expect(m, "10.0.0.1", "fids-tsn-01", "road", "unknown");
    col_sources_free(m);
    col_sources_tag(NULL, NULL, vg_str_c("x"), &a, &s);
    assert_vs(a, "unknown");
    assert_vs(s, "unknown");
    m = map_ok("sources: []\n");
    expect(m, "10.0.0.1", "x", "unknown", "unknown");
    col_sources_free(m);
    m = map_ok("other: 1\n");
    size_t e = 9, n = 9, p = 9;
    col_sources_count(m, &e, &n, &p);
    ck_assert_uint_eq(e + n + p, 0);
    expect(m, "10.0.0.1", "x", "unknown", "unknown");
    col_sources_free(m);
}
END_TEST

/* Many names, each tagged several times in different orders and cases, so
 * that cache slots are filled, hit, and replaced by colliding names. */
START_TEST(test_host_cache)
{
    col_sources *m = map_ok("sources:\n"
                            "  - {agency: a, hosts: [\"*-tsn-*\"]}\n"
                            "  - {agency: b, hosts: [\"bus-?\?-*\"]}\n"
                            "  - {agency: c, networks: [10.0.0.0/8]}\n");
    char name[128];
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 20000; k++) {
            int i = round == 1 ? 19999 - k : (k * 7919) % 20000;
            int len = i % 4 == 3 ? 100 : 0; /* some too long for the cache */
            switch (i % 3) {
            case 0:
                snprintf(name, sizeof(name), "%s-tsn-%d%*s", round == 2 ? "FIDS" : "fids", i, len,
                         "");
                break;
            case 1:
                snprintf(name, sizeof(name), "bus-%02d-%d%*s", i % 100, i, len, "");
                break;
            default:
                snprintf(name, sizeof(name), "web%d%*s", i, len, "");
                break;
            }
            for (char *p = name; *p; p++) /* spaces would be NUL-free but odd */
                if (*p == ' ') *p = 'z';
            const char *want = i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c";
            expect(m, "10.1.2.3", name, want, "unknown");
        }
    }
    col_sources_free(m);
}
END_TEST

/* The glob against glibc's fnmatch(FNM_CASEFOLD), which it stands in for. */
START_TEST(test_glob_matches_fnmatch)
{
    static const char *const pats[] = {
        "*",        "?",        "a*b",          "*-tsn-*",    "fids-tsn-??", "[a-c]x",
        "[!a-c]x",  "[^a]*",    "[]a]",         "[a-]",       "\\*x",        "a\\?",
        "*a*a*a*b", "**",       "*.gov.vn",     "[A-Z]*",     "x[0-9][0-9]", "a[\\]]b",
        "A*",       "*B",       "?*?",          "[!]x]",      "a*",          "web.gov.vn",
        "[.-]x",    "*[0-9]",   "a\\b",         "[a\\-z]",    "a?c*",        "*?",
        "*ab?cd*",  "?eb.gov*", "[a-c]*gov.v?", "*[!a]tsn-*", "h*-tsn-0?",   "*x1*",
    };
    static const char *const names[] = {
        "",        "a",     "ab",    "AB",          "aab",        "fids-tsn-01", "FIDS-TSN-1",
        "x",       "bx",    "dx",    "]",           "-",          "*x",          "a?",
        "ab?",     "aaaab", "aaab",  "web.gov.vn",  "WEB.GOV.VN", "x12",         "a]b",
        "ax-b",    "abc",   "x1",    "zz9",         "Abc",        "-x",          ".x",
        "aXcdd",   "a\\b",  "z",     "ac",          "a-tsn-b",    "-tsn-",       "ba",
        "xabzcdx", "abcd",  "ab-cd", "bweb.gov.vn", "h1-tsn-01",  "H-TSN-0X",    "ax1",
    };
    for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
        char low[64];
        size_t k = 0;
        for (; pats[i][k]; k++)
            low[k] = (char)(pats[i][k] >= 'A' && pats[i][k] <= 'Z' ? pats[i][k] + 32 : pats[i][k]);
        low[k] = '\0';
        for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
            int want = fnmatch(pats[i], names[j], FNM_CASEFOLD) == 0;
            int got = col__sources_glob(low, names[j], strlen(names[j]));
            ck_assert_msg(got == want, "pattern '%s' name '%s': got %d, fnmatch %d", pats[i],
                          names[j], got, want);
        }
        /* The same through a loaded map, with its prefix/suffix shortcuts. */
        char yaml[256];
        snprintf(yaml, sizeof(yaml), "sources:\n  - {agency: a, hosts: ['%s']}\n", pats[i]);
        col_sources *m = map_ok(yaml);
        for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
            int want = fnmatch(pats[i], names[j], FNM_CASEFOLD) == 0 && names[j][0];
            vg_str a, s;
            col_sources_tag(m, NULL, vg_str_c(names[j]), &a, &s);
            ck_assert_msg(vg_str_eq(a, want ? "a" : "unknown"), "map '%s' name '%s': got %.*s",
                          pats[i], names[j], (int)a.len, a.p);
        }
        col_sources_free(m);
    }
}
END_TEST

/* Random networks against a brute-force longest-prefix search. */
typedef struct tnet {
    unsigned char a[16];
    unsigned len;
} tnet;

static int tnet_has(const tnet *n, const unsigned char *a)
{
    for (unsigned b = 0; b < n->len; b++)
        if (((n->a[b / 8] ^ a[b / 8]) >> (7 - b % 8)) & 1) return 0;
    return 1;
}

static void random_lpm(int v6, unsigned seed)
{
    enum { NNET = 300, NPROBE = 4000 };
    unsigned bytes = v6 ? 16 : 4, width = 8 * bytes;
    static const unsigned lens4[] = {0, 1, 7, 8, 9, 12, 16, 20, 24, 28, 30, 31, 32};
    static const unsigned lens6[] = {0, 1, 32, 48, 56, 63, 64, 65, 72, 96, 120, 127, 128};
    tnet *nets = calloc(NNET, sizeof(*nets));
    size_t yn = 128 * NNET + 64, yl = 0, nn = 0;
    char *yaml = malloc(yn);
    ck_assert_ptr_nonnull(nets);
    ck_assert_ptr_nonnull(yaml);
    yl += (size_t)snprintf(yaml, yn, "sources:\n");
    srand(seed);
    while (nn < NNET) {
        tnet t = {{0}, 0};
        /* Few distinct top bits, so that the blocks nest and touch. */
        for (unsigned i = 0; i < bytes; i++)
            t.a[i] = (unsigned char)(rand() % 4 == 0 ? rand() : (i < 2 ? 10 : 0) + rand() % 3);
        t.len = v6 ? lens6[rand() % 13] : lens4[rand() % 13];
        for (unsigned b = t.len; b < width; b++)
            t.a[b / 8] &= (unsigned char)~(0x80u >> (b % 8));
        int dup = 0;
        for (size_t i = 0; i < nn && !dup; i++)
            dup = nets[i].len == t.len && memcmp(nets[i].a, t.a, bytes) == 0;
        if (dup) continue;
        char txt[INET6_ADDRSTRLEN];
        inet_ntop(v6 ? AF_INET6 : AF_INET, t.a, txt, sizeof(txt));
        if (v6 && memcmp(t.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) continue; /* IPv4 */
        yl += (size_t)snprintf(yaml + yl, yn - yl, "  - {agency: n%zu, networks: [\"%s/%u\"]}\n",
                               nn, txt, t.len);
        nets[nn++] = t;
    }
    col_sources *m = map_ok(yaml);
    for (int k = 0; k < NPROBE; k++) {
        unsigned char a[16];
        const tnet *base = &nets[rand() % NNET];
        memcpy(a, base->a, 16);
        int how = rand() % 4;
        if (how == 0) { /* random */
            for (unsigned i = 0; i < bytes; i++)
                a[i] = (unsigned char)rand();
        } else if (how >= 2) { /* last address of the block, or the one after it */
            for (unsigned b = base->len; b < width; b++)
                a[b / 8] |= (unsigned char)(0x80u >> (b % 8));
            if (how == 3)
                for (int i = (int)bytes - 1; i >= 0 && ++a[i] == 0; i--)
                    ;
        }
        int best = -1;
        for (size_t i = 0; i < NNET; i++)
            if (tnet_has(&nets[i], a) && (best < 0 || nets[i].len > nets[best].len)) best = (int)i;
        char want[16], ip[INET6_ADDRSTRLEN];
        if (best < 0)
            snprintf(want, sizeof(want), "unknown");
        else
            snprintf(want, sizeof(want), "n%d", best);
        inet_ntop(v6 ? AF_INET6 : AF_INET, a, ip, sizeof(ip));
        if (v6 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) continue;
        expect(m, ip, NULL, want, "unknown");
    }
    col_sources_free(m);
    free(yaml);
    free(nets);
}

START_TEST(test_random_lpm)
{
    for (unsigned seed = 1; seed <= 4; seed++) {
        random_lpm(0, seed);
        random_lpm(1, seed);
    }
}
END_TEST

START_TEST(test_config_errors)
{
    map_fails("sources: 5\n",
              ":1: 'sources' must be a list of maps with agency, site, networks, hosts");
    map_fails("sources:\n  agency: road\n",
              ":2: 'sources' must be a list of maps with agency, site, networks, hosts");
    map_fails("sources:\n  - road\n",
              ":2: each source must be a map with agency, site, networks, hosts");
    map_fails("sources:\n"
              "  - site: x\n"
              "    networks: [10.0.0.0/8]\n",
              ":2: missing required key 'agency'");
    map_fails("sources:\n"
              "  - agency: road\n"
              "    network: [10.0.0.0/8]\n",
              ":3: unknown key 'network' (expected one of: agency, site, networks, hosts)");
    map_fails("sources:\n  - agency: road\n", ":2: source for agency 'road' has neither networks "
                                              "nor hosts");
    map_fails("sources:\n  - {agency: road, networks: [], hosts: []}\n",
              ":2: source for agency 'road' has neither networks nor hosts");
    map_fails("sources:\n  - {agency: \"road agency\", networks: [10.0.0.0/8]}\n",
              ":2: 'agency' must be 1 to 64 characters from A-Z a-z 0-9 . _ -, got 'road agency'");
    map_fails("sources:\n  - {agency: \"\", networks: [10.0.0.0/8]}\n",
              ":2: 'agency' must be 1 to 64 characters from A-Z a-z 0-9 . _ -, got ''");
    map_fails("sources:\n"
              "  - agency: road\n"
              "    site: [a, b]\n"
              "    networks: [10.0.0.0/8]\n",
              ":3: 'site' must be a name, got a list");
    map_fails("sources:\n"
              "  - agency: road\n"
              "    networks: 10.0.0.0/8\n",
              ":3: 'networks' must be a list like [10.20.0.0/16, \"2001:db8::/32\"]");
    map_fails("sources:\n"
              "  - agency: road\n"
              "    hosts: \"*-tsn-*\"\n",
              ":3: 'hosts' must be a list of patterns like [\"*-tsn-*\"]");
    map_fails("sources:\n"
              "  - agency: road\n"
              "    networks:\n"
              "      - 10.0.0.0/8\n"
              "      - {a: b}\n",
              ":5: networks entries must be strings like 10.20.0.0/16");
    map_fails("sources:\n  - {agency: road, hosts: [[a]]}\n",
              ":2: hosts entries must be strings like \"*-tsn-*\"");
}
END_TEST

START_TEST(test_config_networks)
{
#define NET(s) "sources:\n  - agency: road\n    networks:\n      - 10.0.0.0/8\n      - \"" s "\"\n"
    map_fails(NET("10.20.0.300/16"), ":5: network '10.20.0.300/16': not an IPv4 or IPv6 address");
    map_fails(NET("road"), ":5: network 'road': not an IPv4 or IPv6 address");
    map_fails(NET("/8"), ":5: network '/8': not an IPv4 or IPv6 address");
    map_fails(NET("fe80::1%eth0"), ":5: network 'fe80::1%eth0': not an IPv4 or IPv6 address");
    map_fails(NET("10.20.0.0/33"), ":5: network '10.20.0.0/33': prefix length must be 0 to 32");
    map_fails(NET("10.20.0.0/"), ":5: network '10.20.0.0/': prefix length must be 0 to 32");
    map_fails(NET("10.20.0.0/-1"), ":5: network '10.20.0.0/-1': prefix length must be 0 to 32");
    map_fails(NET("10.20.0.0/16x"), ":5: network '10.20.0.0/16x': prefix length must be 0 to 32");
    map_fails(NET("10.20.0.0/0016"), ":5: network '10.20.0.0/0016': prefix length must be 0 to 32");
    map_fails(NET("2001:db8::/129"),
              ":5: network '2001:db8::/129': prefix length must be 0 to 128");
    map_fails(NET("10.20.1.0/16"), ":5: network '10.20.1.0/16': bits are set past the /16 prefix "
                                   "(the network is 10.20.0.0/16)");
    map_fails(NET("2001:db8:20::1/48"), ":5: network '2001:db8:20::1/48': bits are set past the "
                                        "/48 prefix (the network is 2001:db8:20::/48)");
    map_fails(NET("::ffff:10.20.1.0/112"), ":5: network '::ffff:10.20.1.0/112': bits are set past "
                                           "the /112 prefix (the network is ::ffff:10.20.0.0/112)");
    map_fails(NET("10.0.0.0/8"), ":5: network '10.0.0.0/8' is already listed at line 4");
    map_fails(NET("::ffff:10.0.0.0/104"),
              ":5: network '::ffff:10.0.0.0/104' is already listed at line 4");
#undef NET
    /* A duplicate across entries names the later one. */
    map_fails("sources:\n"
              "  - {agency: a, networks: [10.30.0.0/16]}\n"
              "  - {agency: b, networks: [10.31.0.0/16]}\n"
              "  - {agency: c, networks: [10.29.0.0/16, 10.30.0.0/16]}\n",
              ":4: network '10.30.0.0/16' is already listed at line 2");
}
END_TEST

START_TEST(test_config_patterns)
{
#define PAT(s) "sources:\n  - agency: road\n    hosts:\n      - \"ok-*\"\n      - \"" s "\"\n"
    map_fails(PAT(""), ":5: host pattern must not be empty");
    map_fails(PAT("[abc"), ":5: host pattern '[abc': '[' without ']'");
    map_fails(PAT("[]"), ":5: host pattern '[]': '[' without ']'");
    map_fails(PAT("a\\\\"), ":5: host pattern 'a\\' ends with '\\'");
    map_fails(PAT("[[:alpha:]]*"),
              ":5: host pattern '[[:alpha:]]*': classes like [:alpha:] are not supported");
#undef PAT
    char *big = malloc(1200);
    ck_assert_ptr_nonnull(big);
    int k = snprintf(big, 1200, "sources:\n  - {agency: a, hosts: [\"");
    memset(big + k, 'x', 1025);
    snprintf(big + k + 1025, 1200 - (size_t)k - 1025, "\"]}\n");
    map_fails(big, ":2: host pattern is longer than 1024 characters");
    free(big);
}
END_TEST

/* ---- counters ------------------------------------------------------------- */

#define T0 INT64_C(1714558830000000) /* 2024-05-01T10:20:30Z */

typedef struct lines {
    char *v[64];
    int n;
} lines;

static void collect(void *arg, const char *line)
{
    lines *l = arg;
    ck_assert_int_lt(l->n, 64);
    l->v[l->n++] = strdup(line);
}

static void lines_free(lines *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

static void expect_count(const col_counters *cc, enum col_counters_kind kind, const char *key,
                         uint64_t messages, uint64_t bytes, uint64_t malformed, uint64_t truncated,
                         uint64_t dropped, int64_t last)
{
    col_count c;
    ck_assert_msg(col_counters_get(cc, kind, vg_str_c(key), &c) == 0, "no key '%s'", key);
    ck_assert_uint_eq(c.messages, messages);
    ck_assert_uint_eq(c.bytes, bytes);
    ck_assert_uint_eq(c.malformed, malformed);
    ck_assert_uint_eq(c.truncated, truncated);
    ck_assert_uint_eq(c.dropped, dropped);
    ck_assert_int_eq(c.last_seen_us, last);
}

/* Notes with keys in a scratch buffer that is wiped afterwards: the tables
 * must have copied them. */
static void note(col_counters *cc, const char *src, const char *agency, const char *host,
                 size_t bytes, uint16_t flags, int64_t now)
{
    char b[3][300];
    vg_str v[3] = {VG_STR_NULL, VG_STR_NULL, VG_STR_NULL};
    const char *s[3] = {src, agency, host};
    for (int i = 0; i < 3; i++)
        if (s[i]) {
            snprintf(b[i], sizeof(b[i]), "%s", s[i]);
            v[i] = vg_str_c(b[i]);
        }
    col_counters_note(cc, v[0], v[1], v[2], bytes, flags, now);
    memset(b, 'Z', sizeof(b));
}

START_TEST(test_counters_exact)
{
    col_counters *cc;
    ck_assert_int_eq(col_counters_new(&cc, 0, 0, 0), 0);
    note(cc, "10.20.1.5", "aviation", "fids-tsn-01", 100, 0, T0);
    note(cc, "10.20.1.5", "aviation", "fids-tsn-01", 50, VG_EV_MALFORMED, T0 + 1000000);
    note(cc, "10.20.1.5", "aviation", "fids-tsn-02", 10, VG_EV_MALFORMED | VG_EV_TRUNCATED,
         T0 + 2000000);
    note(cc, "10.30.1.1", "railway", NULL, 7, VG_EV_RFC5424, T0 + 3000000);
    note(cc, "unix", NULL, "app1", 5, VG_EV_TRUNCATED, T0 + 4000000);
    col_counters_drop(cc, vg_str_c("10.20.1.5"), vg_str_c("aviation"), 3);
    col_counters_drop(cc, vg_str_c("10.99.0.1"), vg_str_c("unknown"), 2);
    /* Host absent: the sender address stands in (the same view). */
    vg_str a = vg_str_c("10.40.0.9");
    col_counters_note(cc, a, vg_str_c("unknown"), a, 1, 0, T0 + 5000000);

    expect_count(cc, COL_COUNT_SOURCE, "10.20.1.5", 3, 160, 2, 1, 3, T0 + 2000000);
    expect_count(cc, COL_COUNT_SOURCE, "10.30.1.1", 1, 7, 0, 0, 0, T0 + 3000000);
    expect_count(cc, COL_COUNT_SOURCE, "unix", 1, 5, 0, 1, 0, T0 + 4000000);
    expect_count(cc, COL_COUNT_SOURCE, "10.99.0.1", 0, 0, 0, 0, 2, 0);
    expect_count(cc, COL_COUNT_SOURCE, "10.40.0.9", 1, 1, 0, 0, 0, T0 + 5000000);
    expect_count(cc, COL_COUNT_AGENCY, "aviation", 3, 160, 2, 1, 3, T0 + 2000000);
    expect_count(cc, COL_COUNT_AGENCY, "railway", 1, 7, 0, 0, 0, T0 + 3000000);
    expect_count(cc, COL_COUNT_AGENCY, "unknown", 1, 1, 0, 0, 2, T0 + 5000000);
    expect_count(cc, COL_COUNT_HOST, "fids-tsn-01", 2, 0, 0, 0, 0, T0 + 1000000);
    expect_count(cc, COL_COUNT_HOST, "fids-tsn-02", 1, 0, 0, 0, 0, T0 + 2000000);
    expect_count(cc, COL_COUNT_HOST, "app1", 1, 0, 0, 0, 0, T0 + 4000000);
    expect_count(cc, COL_COUNT_HOST, "10.40.0.9", 1, 0, 0, 0, 0, T0 + 5000000);
    col_count c;
    ck_assert_int_eq(col_counters_get(cc, COL_COUNT_HOST, vg_str_c("FIDS-TSN-01"), &c), -ENOENT);
    ck_assert_int_eq(col_counters_get(cc, COL_COUNT_SOURCE, vg_str_c("app1"), &c), -ENOENT);
    ck_assert_int_eq(col_counters_get(cc, COL_COUNT_SOURCE, VG_STR_NULL, &c), -ENOENT);

    size_t used, cap;
    uint64_t ev;
    col_counters_info(cc, COL_COUNT_SOURCE, &used, &cap, &ev);
    ck_assert_uint_eq(used, 5);
    ck_assert_uint_eq(cap, COL_COUNTERS_MAX_SOURCES);
    ck_assert_uint_eq(ev, 0);
    col_counters_info(cc, COL_COUNT_AGENCY, &used, &cap, &ev);
    ck_assert_uint_eq(used, 3);
    ck_assert_uint_eq(cap, COL_COUNTERS_MAX_AGENCIES);
    col_counters_info(cc, COL_COUNT_HOST, &used, &cap, NULL);
    ck_assert_uint_eq(used, 4);
    ck_assert_uint_eq(cap, COL_COUNTERS_MAX_HOSTS);

    lines l = {.n = 0};
    col_counters_report(cc, 0, collect, &l);
    static const char *const want[] = {
        "counters sources=5/65536 evicted=0 agencies=3/1024 evicted=0 hosts=4/262144 evicted=0 "
        "nomem=0",
        "agency aviation messages=3 bytes=160 malformed=2 truncated=1 dropped=3 "
        "last_seen=2024-05-01T10:20:32Z",
        "agency railway messages=1 bytes=7 malformed=0 truncated=0 dropped=0 "
        "last_seen=2024-05-01T10:20:33Z",
        "agency unknown messages=1 bytes=1 malformed=0 truncated=0 dropped=2 "
        "last_seen=2024-05-01T10:20:35Z",
        "source 10.20.1.5 agency=aviation messages=3 bytes=160 malformed=2 truncated=1 dropped=3 "
        "last_seen=2024-05-01T10:20:32Z",
        "source 10.30.1.1 agency=railway messages=1 bytes=7 malformed=0 truncated=0 dropped=0 "
        "last_seen=2024-05-01T10:20:33Z",
        "source 10.40.0.9 agency=unknown messages=1 bytes=1 malformed=0 truncated=0 dropped=0 "
        "last_seen=2024-05-01T10:20:35Z",
        "source unix agency=- messages=1 bytes=5 malformed=0 truncated=1 dropped=0 "
        "last_seen=2024-05-01T10:20:34Z",
        "source 10.99.0.1 agency=unknown messages=0 bytes=0 malformed=0 truncated=0 dropped=2 "
        "last_seen=-",
        "host fids-tsn-01 messages=2 last_seen=2024-05-01T10:20:31Z",
        "host 10.40.0.9 messages=1 last_seen=2024-05-01T10:20:35Z",
        "host app1 messages=1 last_seen=2024-05-01T10:20:34Z",
        "host fids-tsn-02 messages=1 last_seen=2024-05-01T10:20:32Z",
    };
    ck_assert_int_eq(l.n, (int)(sizeof(want) / sizeof(want[0])));
    for (int i = 0; i < l.n; i++)
        ck_assert_str_eq(l.v[i], want[i]);
    lines_free(&l);

    col_counters_report(cc, 2, collect, &l);
    ck_assert_int_eq(l.n, 1 + 3 + 2 + 1 + 2 + 1);
    ck_assert_str_eq(l.v[6], "sources: 3 more not shown");
    ck_assert_str_eq(l.v[7], "host fids-tsn-01 messages=2 last_seen=2024-05-01T10:20:31Z");
    ck_assert_str_eq(l.v[9], "hosts: 2 more not shown");
    lines_free(&l);
    col_counters_free(cc);
}
END_TEST

/* Refused connections are counted per source and agency and shown only
 * where there are some (conns_refused before last_seen); a refusal does
 * not make a source seen. */
START_TEST(test_counters_refused)
{
    col_counters *cc;
    ck_assert_int_eq(col_counters_new(&cc, 0, 0, 0), 0);
    note(cc, "10.20.1.5", "aviation", "fids-tsn-01", 100, 0, T0);
    col_counters_refuse(cc, vg_str_c("10.20.1.9"), vg_str_c("aviation"));
    col_counters_refuse(cc, vg_str_c("10.20.1.9"), vg_str_c("aviation"));
    col_count c;
    ck_assert_int_eq(col_counters_get(cc, COL_COUNT_SOURCE, vg_str_c("10.20.1.9"), &c), 0);
    ck_assert_uint_eq(c.refused, 2);
    ck_assert_uint_eq(c.messages, 0);
    ck_assert_int_eq(c.last_seen_us, 0);
    lines l = {.n = 0};
    col_counters_report(cc, 0, collect, &l);
    ck_assert_int_eq(l.n, 5);
    ck_assert_str_eq(l.v[1], "agency aviation messages=1 bytes=100 malformed=0 truncated=0 "
                             "dropped=0 conns_refused=2 last_seen=2024-05-01T10:20:30Z");
    /* ranked by messages and refused connections: 2 before 1 */
    ck_assert_str_eq(l.v[2], "source 10.20.1.9 agency=aviation messages=0 bytes=0 malformed=0 "
                             "truncated=0 dropped=0 conns_refused=2 last_seen=-");
    ck_assert_str_eq(l.v[3], "source 10.20.1.5 agency=aviation messages=1 bytes=100 malformed=0 "
                             "truncated=0 dropped=0 last_seen=2024-05-01T10:20:30Z");
    lines_free(&l);
    col_counters_report(cc, 1, collect, &l); /* the top 1 is the sender shut out */
    ck_assert_int_eq(l.n, 5);
    ck_assert_str_eq(l.v[2], "source 10.20.1.9 agency=aviation messages=0 bytes=0 malformed=0 "
                             "truncated=0 dropped=0 conns_refused=2 last_seen=-");
    ck_assert_str_eq(l.v[3], "sources: 1 more not shown");
    lines_free(&l);
    col_counters_free(cc);
}
END_TEST

static void each_collect(void *arg, vg_str key, const col_count *c)
{
    lines *l = arg;
    char b[300];
    snprintf(b, sizeof(b), "%.*s:%llu", (int)key.len, key.p, (unsigned long long)c->messages);
    collect(l, b);
}

START_TEST(test_counters_eviction)
{
    col_counters *cc;
    ck_assert_int_eq(col_counters_new(&cc, 4, 2, 3), 0);
    for (int i = 0; i < 4; i++) {
        char s[16], h[16];
        snprintf(s, sizeof(s), "10.0.0.%d", i);
        snprintf(h, sizeof(h), "h%d", i);
        note(cc, s, "road", i < 3 ? h : NULL, 10, 0, T0 + i);
    }
    /* Full; 10.0.0.0 and h0 are seen again, so 10.0.0.1 and h1 are the
     * least recent. */
    note(cc, "10.0.0.0", "road", "h0", 10, 0, T0 + 10);
    size_t used;
    uint64_t ev;
    col_counters_info(cc, COL_COUNT_SOURCE, &used, NULL, &ev);
    ck_assert_uint_eq(used, 4);
    ck_assert_uint_eq(ev, 0);
    col_counters_info(cc, COL_COUNT_HOST, &used, NULL, &ev);
    ck_assert_uint_eq(used, 3);
    ck_assert_uint_eq(ev, 0);

    note(cc, "10.0.0.9", "road", "h3", 1, 0, T0 + 11);
    col_counters_info(cc, COL_COUNT_SOURCE, &used, NULL, &ev);
    ck_assert_uint_eq(used, 4);
    ck_assert_uint_eq(ev, 1);
    col_counters_info(cc, COL_COUNT_HOST, &used, NULL, &ev);
    ck_assert_uint_eq(used, 3);
    ck_assert_uint_eq(ev, 1);
    col_count c;
    ck_assert_int_eq(col_counters_get(cc, COL_COUNT_SOURCE, vg_str_c("10.0.0.1"), &c), -ENOENT);
    expect_count(cc, COL_COUNT_SOURCE, "10.0.0.0", 2, 20, 0, 0, 0, T0 + 10);
    expect_count(cc, COL_COUNT_SOURCE, "10.0.0.9", 1, 1, 0, 0, 0, T0 + 11);
    ck_assert_int_eq(col_counters_get(cc, COL_COUNT_HOST, vg_str_c("h1"), &c), -ENOENT);
    expect_count(cc, COL_COUNT_HOST, "h0", 2, 0, 0, 0, 0, T0 + 10);

    /* An evicted key comes back from zero. */
    note(cc, "10.0.0.1", "road", NULL, 5, 0, T0 + 12);
    expect_count(cc, COL_COUNT_SOURCE, "10.0.0.1", 1, 5, 0, 0, 0, T0 + 12);
    col_counters_info(cc, COL_COUNT_SOURCE, NULL, NULL, &ev);
    ck_assert_uint_eq(ev, 2); /* 10.0.0.2 went */

    /* A drop counts as activity: 10.0.0.3 is kept, 10.0.0.0 goes. */
    col_counters_drop(cc, vg_str_c("10.0.0.3"), vg_str_c("road"), 4);
    note(cc, "10.0.0.7", "road", NULL, 1, 0, T0 + 13);
    expect_count(cc, COL_COUNT_SOURCE, "10.0.0.3", 1, 10, 0, 0, 4, T0 + 3);
    ck_assert_int_eq(col_counters_get(cc, COL_COUNT_SOURCE, vg_str_c("10.0.0.0"), &c), -ENOENT);

    lines l = {.n = 0};
    col_counters_each(cc, COL_COUNT_SOURCE, each_collect, &l);
    ck_assert_int_eq(l.n, 4);
    ck_assert_str_eq(l.v[0], "10.0.0.7:1");
    ck_assert_str_eq(l.v[1], "10.0.0.3:1");
    ck_assert_str_eq(l.v[2], "10.0.0.1:1");
    ck_assert_str_eq(l.v[3], "10.0.0.9:1");
    lines_free(&l);

    /* Agencies (cap 2): a third evicts road; sources tagged road show "-". */
    note(cc, "10.0.0.7", "rail", NULL, 1, 0, T0 + 14);
    note(cc, "10.0.0.1", "air", NULL, 1, 0, T0 + 15);
    col_counters_info(cc, COL_COUNT_AGENCY, &used, NULL, &ev);
    ck_assert_uint_eq(used, 2);
    ck_assert_uint_eq(ev, 1);
    col_counters_report(cc, 0, collect, &l);
    ck_assert_str_eq(l.v[0], "counters sources=4/4 evicted=3 agencies=2/2 evicted=1 hosts=3/3 "
                             "evicted=1 nomem=0");
    int found = 0;
    for (int i = 0; i < l.n; i++)
        if (strncmp(l.v[i], "source 10.0.0.3 ", 16) == 0) {
            ck_assert_str_eq(l.v[i], "source 10.0.0.3 agency=- messages=1 bytes=10 malformed=0 "
                                     "truncated=0 dropped=4 last_seen=2024-05-01T10:20:30Z");
            found = 1;
        }
    ck_assert(found);
    lines_free(&l);
    col_counters_free(cc);

    ck_assert_int_eq(col_counters_new(&cc, COL_COUNTERS_CAP_LIMIT + 1, 0, 0), -EINVAL);
    ck_assert_ptr_null(cc);
}
END_TEST

/* Random notes against a naive LRU model, with small caps so that probe
 * runs wrap and backward-shift deletion runs constantly. */
START_TEST(test_counters_model)
{
    enum { UNIVERSE = 61, OPS = 60000 };
    static const uint32_t caps[] = {1, 2, 7, 8, 9, 33};
    char keys[UNIVERSE][80];
    for (int i = 0; i < UNIVERSE; i++) /* some longer than the 40 bytes kept inline */
        snprintf(keys[i], sizeof(keys[i]),
                 i % 5 == 0 ? "host-%d-with-a-rather-long-name-to-go-"
                              "to-the-heap"
                            : "h%d",
                 i);
    srand(7);
    for (size_t ci = 0; ci < sizeof(caps) / sizeof(caps[0]); ci++) {
        uint32_t cap = caps[ci];
        col_counters *cc;
        ck_assert_int_eq(col_counters_new(&cc, 4, 4, cap), 0);
        uint64_t count[UNIVERSE] = {0};
        int64_t seen[UNIVERSE];
        uint64_t evicted = 0;
        size_t held = 0;
        for (int i = 0; i < UNIVERSE; i++)
            seen[i] = -1; /* not held */
        for (int op = 1; op <= OPS; op++) {
            int k = rand() % (rand() % 2 ? UNIVERSE : (int)cap + 2);
            if (seen[k] < 0) {
                if (held == cap) {
                    int lru = -1;
                    for (int i = 0; i < UNIVERSE; i++)
                        if (seen[i] >= 0 && (lru < 0 || seen[i] < seen[lru])) lru = i;
                    seen[lru] = -1;
                    count[lru] = 0;
                    evicted++;
                    held--;
                }
                held++;
            }
            count[k]++;
            seen[k] = op;
            col_counters_note(cc, vg_str_c("s"), VG_STR_NULL, vg_str_c(keys[k]), 1, 0, op);
            if (op % 97 == 0 || op == OPS) {
                for (int i = 0; i < UNIVERSE; i++) {
                    col_count c;
                    int rc = col_counters_get(cc, COL_COUNT_HOST, vg_str_c(keys[i]), &c);
                    if (seen[i] < 0) {
                        ck_assert_msg(rc == -ENOENT, "cap %u op %d: %s held", cap, op, keys[i]);
                    } else {
                        ck_assert_msg(rc == 0, "cap %u op %d: %s lost", cap, op, keys[i]);
                        ck_assert_uint_eq(c.messages, count[i]);
                        ck_assert_int_eq(c.last_seen_us, seen[i]);
                    }
                }
                size_t used;
                uint64_t ev;
                col_counters_info(cc, COL_COUNT_HOST, &used, NULL, &ev);
                ck_assert_uint_eq(used, held);
                ck_assert_uint_eq(ev, evicted);
            }
        }
        col_counters_free(cc);
    }
}
END_TEST

/* A cap above the index's first size: the index doubles several times
 * while keys arrive, then the table evicts in order. */
START_TEST(test_counters_growth)
{
    enum { CAP = 5000 };
    col_counters *cc;
    char k[32];
    ck_assert_int_eq(col_counters_new(&cc, 0, 0, CAP), 0);
    for (int round = 1; round <= 2; round++)
        for (int i = 0; i < CAP; i++) {
            snprintf(k, sizeof(k), "host-%d", i);
            note(cc, "10.0.0.1", "road", k, 1, 0, T0 + i);
        }
    for (int i = 0; i < CAP; i++) {
        snprintf(k, sizeof(k), "host-%d", i);
        expect_count(cc, COL_COUNT_HOST, k, 2, 0, 0, 0, 0, T0 + i);
    }
    for (int i = CAP; i < CAP + 100; i++) {
        snprintf(k, sizeof(k), "host-%d", i);
        note(cc, "10.0.0.1", "road", k, 1, 0, T0 + i);
    }
    size_t used;
    uint64_t ev;
    col_counters_info(cc, COL_COUNT_HOST, &used, NULL, &ev);
    ck_assert_uint_eq(used, CAP);
    ck_assert_uint_eq(ev, 100);
    col_count c;
    for (int i = 0; i < CAP + 100; i++) {
        snprintf(k, sizeof(k), "host-%d", i);
        ck_assert_int_eq(col_counters_get(cc, COL_COUNT_HOST, vg_str_c(k), &c),
                         i < 100 ? -ENOENT : 0);
    }
    expect_count(cc, COL_COUNT_SOURCE, "10.0.0.1", 2 * CAP + 100, 2 * CAP + 100, 0, 0, 0,
                 T0 + CAP + 99);
    col_counters_free(cc);
}
END_TEST

START_TEST(test_counters_names)
{
    col_counters *cc;
    ck_assert_int_eq(col_counters_new(&cc, 0, 0, 0), 0);
    /* Hostile names are escaped in the report. */
    col_counters_note(cc, vg_str_c("10.0.0.1"), vg_str_c("road"),
                      vg_str_n("evil\nhost messages=9\\\0", 22), 1, 0, T0);
    /* Keys over 255 bytes are cut to 255. */
    char big[300];
    memset(big, 'a', sizeof(big));
    col_counters_note(cc, vg_str_c("10.0.0.1"), vg_str_c("road"), vg_str_n(big, 300), 1, 0, T0);
    col_counters_note(cc, vg_str_c("10.0.0.1"), vg_str_c("road"), vg_str_n(big, 256), 1, 0, T0);
    col_count c;
    ck_assert_int_eq(col_counters_get(cc, COL_COUNT_HOST, vg_str_n(big, 255), &c), 0);
    ck_assert_uint_eq(c.messages, 2);
    ck_assert_int_eq(col_counters_get(cc, COL_COUNT_HOST, vg_str_n(big, 254), &c), -ENOENT);
    /* Empty keys are not counted. */
    col_counters_note(cc, vg_str_n("", 0), vg_str_n("", 0), vg_str_n("", 0), 1, 0, T0);
    size_t used;
    col_counters_info(cc, COL_COUNT_SOURCE, &used, NULL, NULL);
    ck_assert_uint_eq(used, 1);

    lines l = {.n = 0};
    col_counters_report(cc, 0, collect, &l);
    ck_assert_int_eq(l.n, 5);
    char want[600];
    snprintf(want, sizeof(want), "host %.255s messages=2 last_seen=2024-05-01T10:20:30Z", big);
    ck_assert_str_eq(l.v[3], want);
    ck_assert_str_eq(l.v[4], "host evil\\x0ahost\\x20messages=9\\x5c\\x00 messages=1 "
                             "last_seen=2024-05-01T10:20:30Z");
    lines_free(&l);
    col_counters_free(cc);
}
END_TEST

static Suite *col_sources_suite(void)
{
    Suite *s = suite_create("col_sources");
    TCase *m = tcase_create("map");
    tcase_add_checked_fixture(m, setup, teardown);
    tcase_add_test(m, test_ipv4);
    tcase_add_test(m, test_longest_prefix);
    tcase_add_test(m, test_ipv6_and_mapped);
    tcase_add_test(m, test_hosts);
    tcase_add_test(m, test_host_cache);
    tcase_add_test(m, test_glob_matches_fnmatch);
    tcase_add_test(m, test_random_lpm);
    tcase_add_test(m, test_config_errors);
    tcase_add_test(m, test_config_networks);
    tcase_add_test(m, test_config_patterns);
    suite_add_tcase(s, m);

    TCase *c = tcase_create("counters");
    tcase_add_test(c, test_counters_exact);
    tcase_add_test(c, test_counters_refused);
    tcase_add_test(c, test_counters_eviction);
    tcase_add_test(c, test_counters_model);
    tcase_add_test(c, test_counters_growth);
    tcase_add_test(c, test_counters_names);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(col_sources_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
