/* Unit tests for correlator/cor_lists.c (watchlists) on real LMDB files:
 * every test gets a fresh mkdtemp directory with a store and list files,
 * removed afterwards. The last test loads a generated list of 1,000,000
 * entries and prints load time and lookup rate (not asserted: they depend
 * on the machine and on sanitizers). */
#include "cor_lists.h"
#include "vigil/err.h"
#include "vigil/store.h"

#include <check.h>

#include "vt_tmp.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char basedir[128]; /* per run, made and removed by the parent process */
static char tmpdir[256];  /* per test, inside basedir */
static char dbdir[PATH_MAX];
static char err[1024];

/* Unchecked fixture, in the runner (see vt_tmp.h). */
static void base_setup(void)
{
    vt_tmp_base(basedir, sizeof(basedir), "lists");
}

static void base_teardown(void)
{
    vt_rm_tree(basedir);
}

static void setup(void)
{
    ck_assert_ptr_nonnull(vt_tmp_sub(tmpdir, sizeof(tmpdir), basedir));
    snprintf(dbdir, sizeof(dbdir), "%s/db", tmpdir);
    err[0] = '\0';
}

static void teardown(void)
{
    vt_rm_tree(tmpdir);
}

/* ---- helpers ----------------------------------------------------------- */

typedef struct fx {
    vg_store *st;
    cor_lists *l;
} fx;

static fx fx_open(size_t map_mb)
{
    fx f = {0};
    int rc = vg_store_open(&f.st, dbdir, map_mb);
    ck_assert_msg(rc == 0, "vg_store_open: %s", vg_strerror(rc));
    rc = cor_lists_open(f.st, &f.l);
    ck_assert_msg(rc == 0, "cor_lists_open: %s", vg_strerror(rc));
    return f;
}

static void fx_close(fx *f)
{
    cor_lists_close(f->l);
    vg_store_close(f->st);
}

/* Writes text to tmpdir/NAME; returns the path (static buffer per slot). */
static const char *write_file(const char *name, const char *text)
{
    static char paths[4][PATH_MAX];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

/* Loads text as list NAME, which must succeed with 'want' entries. */
static void load(cor_lists *l, const char *name, const char *text, size_t want)
{
    const char *path = write_file("list.txt", text);
    size_t n = 0;
    int rc = cor_lists_load_file(l, name, path, &n, err, sizeof(err));
    ck_assert_msg(rc == 0, "load %s: %d %s", name, rc, err);
    ck_assert_uint_eq(n, want);
    ck_assert_uint_eq(cor_lists_size(l, name), want);
}

static int in(cor_lists *l, const char *name, const char *value)
{
    return cor_lists_contains(l, name, vg_str_c(value));
}

#define IN(l, name, v) ck_assert_msg(in(l, name, v), "'%s' should be in %s", v, name)
#define OUT(l, name, v) ck_assert_msg(!in(l, name, v), "'%s' should not be in %s", v, name)

/* ---- kinds ------------------------------------------------------------- */

START_TEST(test_ipv4)
{
    fx f = fx_open(16);
    load(f.l, "ips", "192.0.2.1\n198.51.100.0/24\n10.0.0.0/8\n", 3);
    IN(f.l, "ips", "192.0.2.1");
    OUT(f.l, "ips", "192.0.2.2");
    OUT(f.l, "ips", "192.0.2.0");
    IN(f.l, "ips", "198.51.100.0");
    IN(f.l, "ips", "198.51.100.77");
    IN(f.l, "ips", "198.51.100.255");
    OUT(f.l, "ips", "198.51.101.0");
    OUT(f.l, "ips", "198.51.99.255");
    IN(f.l, "ips", "10.0.0.0");
    IN(f.l, "ips", "10.255.255.255");
    OUT(f.l, "ips", "11.0.0.0");
    OUT(f.l, "ips", "9.255.255.255");
    /* IPv4-mapped IPv6 values count as IPv4 */
    IN(f.l, "ips", "::ffff:192.0.2.1");
    IN(f.l, "ips", "::FFFF:10.1.2.3");
    IN(f.l, "ips", "0:0:0:0:0:ffff:c633:6401"); /* 198.51.100.1 */
    OUT(f.l, "ips", "::ffff:192.0.2.2");
    OUT(f.l, "ips", "::192.0.2.1"); /* IPv4-compatible is not mapped */
    /* zero-padded octets (as some devices print them) are decimal, never
     * octal: inet_pton refused them, and they matched nothing */
    IN(f.l, "ips", "192.0.2.01");
    IN(f.l, "ips", "192.000.002.001");
    IN(f.l, "ips", "198.051.100.077"); /* 198.51.100.77; octal would be 198.41.100.63 */
    IN(f.l, "ips", "010.000.000.010"); /* in 10.0.0.0/8; octal would be 8.0.0.8 */
    IN(f.l, "ips", "::ffff:192.0.2.1");
    OUT(f.l, "ips", "192.000.002.002");
    OUT(f.l, "ips", "198.051.101.000");
    /* not addresses: no match, no crash */
    OUT(f.l, "ips", "192.0.2.1 ");
    OUT(f.l, "ips", "0192.0.2.1"); /* an octet has at most 3 digits */
    OUT(f.l, "ips", "192.0.2.0001");
    OUT(f.l, "ips", "192.0.2.256");
    OUT(f.l, "ips", "192.0.2.0256");
    OUT(f.l, "ips", "192..2.1");
    OUT(f.l, "ips", "192.0.2.1.");
    OUT(f.l, "ips", "::ffff:192.000.002.001"); /* inside IPv6, inet_pton's rule: no zeros */
    OUT(f.l, "ips", "192.0.2");
    OUT(f.l, "ips", "");
    ck_assert_int_eq(cor_lists_contains(f.l, "ips", VG_STR_NULL), 0);
    OUT(f.l, "nosuchlist", "192.0.2.1");

    /* the same reading in a list file: decimal, the same entry as without
     * the zeros (a duplicate), and a network's zeros too */
    load(f.l, "pad", "010.001.002.003\n10.1.2.3\n172.016.000.000/12\n192.000.002.000/024\n", 3);
    IN(f.l, "pad", "10.1.2.3");
    IN(f.l, "pad", "010.001.002.003");
    OUT(f.l, "pad", "8.1.2.3"); /* the octal reading */
    IN(f.l, "pad", "172.16.0.1");
    IN(f.l, "pad", "172.31.255.255");
    OUT(f.l, "pad", "172.14.0.1"); /* octal 016 */
    OUT(f.l, "pad", "172.32.0.0");
    IN(f.l, "pad", "192.0.2.200");
    cor_list_info info;
    ck_assert_int_eq(cor_lists_info(f.l, "pad", &info), 0);
    ck_assert_uint_eq(info.ipv4, 3);
    fx_close(&f);
}
END_TEST

static uint32_t ip4(const char *s)
{
    unsigned a, b, c, d;
    ck_assert_int_eq(sscanf(s, "%u.%u.%u.%u", &a, &b, &c, &d), 4);
    return a << 24 | b << 16 | c << 8 | d;
}

static void fmt4(char *buf, uint32_t v)
{
    sprintf(buf, "%u.%u.%u.%u", v >> 24, v >> 16 & 255, v >> 8 & 255, v & 255);
}

/* Every IPv4 prefix length: the network of 172.16.5.77/L holds the address
 * and both its ends, and not the addresses just outside. */
START_TEST(test_cidr4_every_length)
{
    fx f = fx_open(16);
    uint32_t a = ip4("172.16.5.77");
    for (unsigned len = 0; len <= 32; len++) {
        uint32_t mask = len ? ~0u << (32 - len) : 0, net = a & mask, last = net | ~mask;
        char line[64], v[32];
        fmt4(v, net);
        snprintf(line, sizeof(line), "%s/%u\n", v, len);
        load(f.l, "n", line, 1);
        IN(f.l, "n", "172.16.5.77");
        fmt4(v, net);
        IN(f.l, "n", v);
        fmt4(v, last);
        IN(f.l, "n", v);
        if (len > 0) {
            if (net > 0) {
                fmt4(v, net - 1);
                OUT(f.l, "n", v);
            }
            if (last < UINT32_MAX) {
                fmt4(v, last + 1);
                OUT(f.l, "n", v);
            }
        } else {
            IN(f.l, "n", "0.0.0.0");
            IN(f.l, "n", "255.255.255.255");
            IN(f.l, "n", "::ffff:8.8.8.8");
            OUT(f.l, "n", "2001:db8::1"); /* IPv4 networks hold no IPv6 */
        }
    }
    fx_close(&f);
}
END_TEST

START_TEST(test_ipv6)
{
    fx f = fx_open(16);
    load(f.l, "v6",
         "2001:db8::1\n"
         "2001:DB8:aa::/48\n"
         "::ffff:198.51.100.9\n"    /* a mapped address is stored as IPv4 */
         "::ffff:203.0.113.0/120\n" /* and a mapped network: 203.0.113.0/24 */
         "1:2:3:4:5:6:7:8\n"
         "1:2:3:4:5:6:1.2.3.4\n",
         6);
    IN(f.l, "v6", "2001:db8::1");
    IN(f.l, "v6", "2001:DB8:0:0:0:0:0:1");
    IN(f.l, "v6", "2001:0db8:0000::0001");
    OUT(f.l, "v6", "2001:db8::2");
    IN(f.l, "v6", "2001:db8:aa::");
    IN(f.l, "v6", "2001:db8:aa:ffff:ffff:ffff:ffff:ffff");
    OUT(f.l, "v6", "2001:db8:ab::");
    IN(f.l, "v6", "198.51.100.9");
    IN(f.l, "v6", "::ffff:198.51.100.9");
    IN(f.l, "v6", "203.0.113.200");
    OUT(f.l, "v6", "203.0.114.1");
    IN(f.l, "v6", "1:2:3:4:5:6:7:8");
    IN(f.l, "v6", "1:2:3:4:5:6:102:304");
    /* a value's zone (RFC 4007) is dropped: it only names the interface of
     * the host that logged it. These matched nothing. */
    IN(f.l, "v6", "2001:db8::1%eth0");
    IN(f.l, "v6", "2001:DB8::1%12"); /* Windows numbers its zones */
    IN(f.l, "v6", "2001:db8:aa::5%br-1a2b.100");
    IN(f.l, "v6", "1:2:3:4:5:6:7:8%en0");
    IN(f.l, "v6", "::ffff:198.51.100.9%eth0"); /* mapped: the IPv4 address */
    OUT(f.l, "v6", "2001:db8::2%eth0");
    OUT(f.l, "v6", "2001:db8:ab::%eth0");
    /* not a zone: strings */
    OUT(f.l, "v6", "2001:db8::1%");
    OUT(f.l, "v6", "2001:db8::1%eth0%1");
    OUT(f.l, "v6", "2001:db8::1%eth 0");
    OUT(f.l, "v6", "2001:db8::1%eth0/64");
    OUT(f.l, "v6", "2001:db8:::1%eth0");
    char zoned[128];
    snprintf(zoned, sizeof(zoned), "2001:db8::1%%%065d", 0); /* a zone of 65 bytes */
    OUT(f.l, "v6", zoned);
    zoned[strlen(zoned) - 1] = '\0'; /* 64 */
    IN(f.l, "v6", zoned);
    load(f.l, "ll", "fe80::1\nfe80::aa:0/112\n", 2);
    IN(f.l, "ll", "fe80::1%eth0");
    IN(f.l, "ll", "FE80::1%wlp2s0");
    IN(f.l, "ll", "fe80::aa:1234%eth1");
    OUT(f.l, "ll", "fe80::2%eth0");
    /* a string entry is matched byte for byte, zone or not */
    load(f.l, "s", "not an address%eth0\nfe80::1%eth0/x\n", 2);
    IN(f.l, "s", "not an address%eth0");
    IN(f.l, "s", "fe80::1%eth0/x");
    OUT(f.l, "s", "fe80::1%eth0");

    /* /0, /128 and lengths around the 64-bit word boundaries */
    const unsigned lens[] = {0, 1, 63, 64, 65, 95, 96, 127, 128};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char line[80];
        unsigned len = lens[i];
        /* the network of 2001:db8:1234:5678:9abc:def0:1234:5678/len */
        static const char *nets[] = {"::",
                                     "::",
                                     "2001:db8:1234:5678::",
                                     "2001:db8:1234:5678::",
                                     "2001:db8:1234:5678:8000::",
                                     "2001:db8:1234:5678:9abc:def0::",
                                     "2001:db8:1234:5678:9abc:def0::",
                                     "2001:db8:1234:5678:9abc:def0:1234:5678",
                                     "2001:db8:1234:5678:9abc:def0:1234:5678"};
        snprintf(line, sizeof(line), "%s/%u\n", nets[i], len);
        load(f.l, "n6", line, 1);
        IN(f.l, "n6", "2001:db8:1234:5678:9abc:def0:1234:5678");
        if (len == 0) {
            IN(f.l, "n6", "::");
            IN(f.l, "n6", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
            IN(f.l, "n6", "192.0.2.1"); /* ::/0 holds ::ffff:192.0.2.1 */
        } else if (len == 1) {
            OUT(f.l, "n6", "8000::");
        } else if (len == 63) {
            IN(f.l, "n6", "2001:db8:1234:5679::");
            OUT(f.l, "n6", "2001:db8:1234:567a::");
        } else if (len == 64) {
            OUT(f.l, "n6", "2001:db8:1234:5679::");
        } else if (len == 65) {
            IN(f.l, "n6", "2001:db8:1234:5678:ffff::");
            OUT(f.l, "n6", "2001:db8:1234:5678:7fff:ffff:ffff:ffff");
        } else if (len == 128) {
            OUT(f.l, "n6", "2001:db8:1234:5678:9abc:def0:1234:5679");
        } else {
            OUT(f.l, "n6", "2001:db8:1234:5679:9abc:def0:1234:5678");
        }
    }
    /* a short IPv6 network holding the mapped range matches IPv4 values */
    load(f.l, "n6", "::fffe:0:0/95\n", 1);
    IN(f.l, "n6", "1.2.3.4");
    load(f.l, "n6", "::ffff:0:0/96\n", 1); /* = 0.0.0.0/0 */
    IN(f.l, "n6", "1.2.3.4");
    OUT(f.l, "n6", "2001:db8::1");
    fx_close(&f);
}
END_TEST

START_TEST(test_domains)
{
    fx f = fx_open(16);
    load(f.l, "dom",
         "example.com\n"
         "*.evil.org\n"
         "Mixed.Case.NET.\n"
         ".tk\n"
         "xn--bcher-kva.example\n"
         "_dmarc.corp.local\n",
         6);
    IN(f.l, "dom", "example.com");
    IN(f.l, "dom", "EXAMPLE.COM");
    IN(f.l, "dom", "example.com.");
    IN(f.l, "dom", "www.example.com");
    IN(f.l, "dom", "a.b.c.WWW.Example.Com");
    OUT(f.l, "dom", "evil-example.com");
    OUT(f.l, "dom", "notexample.com");
    OUT(f.l, "dom", "example.com.au");
    OUT(f.l, "dom", "example.co");
    OUT(f.l, "dom", "com");
    OUT(f.l, "dom", "other.com");
    OUT(f.l, "dom", "www.example.com/x"); /* a string, not a host */
    IN(f.l, "dom", "evil.org");           /* "*.x" is the same entry as "x" */
    IN(f.l, "dom", "a.evil.org");
    IN(f.l, "dom", "mixed.case.net");
    IN(f.l, "dom", "deep.MIXED.case.net");
    OUT(f.l, "dom", "case.net");
    IN(f.l, "dom", "anything.tk"); /* a listed top-level domain */
    IN(f.l, "dom", "a.b.tk");
    OUT(f.l, "dom", "tk.com");
    IN(f.l, "dom", "shop.xn--bcher-kva.example");
    IN(f.l, "dom", "_dmarc.corp.local");
    OUT(f.l, "dom", "corp.local");
    fx_close(&f);
}
END_TEST

START_TEST(test_hashes_and_strings)
{
    fx f = fx_open(16);
    load(f.l, "h",
         "D41D8CD98F00B204E9800998ECF8427E\n"                                 /* md5 */
         "da39a3ee5e6b4b0d3255bfef95601890afd80709\n"                         /* sha1 */
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" /* sha256 */
         "Mozilla/5.0 (EvilBot)\n"
         "CamelCase\n"
         "00:11:22:33:44:55\n"
         "d41d8cd98f00b204e9800998ecf8427\n" /* 31 digits: a string */
         "http://203.0.113.5/x.sh\n"
         "C:\\Windows\\evil.exe\n"
         "svchost.exe -k netsvcs\n" /* a domain-like word, then a space: a command line */
         "Evil Corp, Inc.\n",
         11);
    IN(f.l, "h", "d41d8cd98f00b204e9800998ecf8427e");
    IN(f.l, "h", "D41D8CD98F00B204E9800998ECF8427E");
    IN(f.l, "h", "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
    IN(f.l, "h", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852B855");
    OUT(f.l, "h", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856");
    OUT(f.l, "h", "d41d8cd98f00b204e9800998ecf8427e00"); /* 34 digits */
    OUT(f.l, "h", "d41d8cd98f00b204");
    IN(f.l, "h", "Mozilla/5.0 (EvilBot)");
    OUT(f.l, "h", "mozilla/5.0 (evilbot)");
    IN(f.l, "h", "CamelCase");
    OUT(f.l, "h", "camelcase");
    IN(f.l, "h", "00:11:22:33:44:55");
    IN(f.l, "h", "d41d8cd98f00b204e9800998ecf8427");
    OUT(f.l, "h", "D41D8CD98F00B204E9800998ECF8427");
    IN(f.l, "h", "http://203.0.113.5/x.sh");
    OUT(f.l, "h", "203.0.113.5");
    IN(f.l, "h", "C:\\Windows\\evil.exe");
    IN(f.l, "h", "svchost.exe -k netsvcs");
    OUT(f.l, "h", "svchost.exe");
    IN(f.l, "h", "Evil Corp, Inc.");
    /* a value with a NUL byte is compared byte for byte */
    ck_assert_int_eq(cor_lists_contains(f.l, "h", vg_str_n("CamelCase\0", 10)), 0);

    cor_list_info info;
    ck_assert_int_eq(cor_lists_info(f.l, "h", &info), 0);
    ck_assert_uint_eq(info.count, 11);
    ck_assert_uint_eq(info.hashes, 3);
    ck_assert_uint_eq(info.strings, 8);
    ck_assert_uint_eq(info.ipv4 + info.ipv6 + info.domains, 0);
    fx_close(&f);
}
END_TEST

START_TEST(test_comments_blanks_duplicates)
{
    fx f = fx_open(16);
    load(f.l, "c",
         "# threat feed 2024-05-01\n"
         "\n"
         "   \t  \n"
         "  192.0.2.1   # a scanner\n"
         "192.0.2.1\n"          /* duplicate */
         "192.0.2.1/32\n"       /* the same entry */
         "\t198.51.100.7\t\r\n" /* CRLF and tabs */
         "##########\n"
         "abc#def\n" /* '#' inside a word is data */
         "two words  # and a comment\n"
         "   # indented comment\n"
         "example.com\n"
         "EXAMPLE.com.\n"    /* duplicate after normalisation */
         "last.example.org", /* no newline at the end */
         6);
    IN(f.l, "c", "192.0.2.1");
    IN(f.l, "c", "198.51.100.7");
    IN(f.l, "c", "abc#def");
    OUT(f.l, "c", "abc");
    IN(f.l, "c", "two words");
    OUT(f.l, "c", "two words  ");
    IN(f.l, "c", "www.example.com");
    IN(f.l, "c", "last.example.org");
    OUT(f.l, "c", "# threat feed 2024-05-01");
    OUT(f.l, "c", "a scanner");

    /* an empty file (or only comments) is an empty list */
    load(f.l, "c", "# nothing today\n\n", 0);
    OUT(f.l, "c", "192.0.2.1");
    load(f.l, "c", "", 0);
    cor_list_info info;
    ck_assert_int_eq(cor_lists_info(f.l, "c", &info), 0);
    ck_assert_uint_eq(info.count, 0);
    fx_close(&f);
}
END_TEST

/* A UTF-8 byte order mark at the start of the file is not data: without
 * this the first line became the string "\xef\xbb\xbf192.0.2.1" (or a
 * commented header became an entry). */
#define BOM "\xef\xbb\xbf"

START_TEST(test_bom)
{
    fx f = fx_open(16);
    load(f.l, "b", BOM "# feed with a BOM\r\n192.0.2.1\r\n", 1);
    IN(f.l, "b", "192.0.2.1");
    OUT(f.l, "b", BOM "# feed with a BOM");
    load(f.l, "b", BOM "198.51.100.0/24\nexample.com\n", 2);
    IN(f.l, "b", "198.51.100.7");
    IN(f.l, "b", "www.example.com");
    load(f.l, "b", BOM, 0);
    /* only at the start of the file: one elsewhere (files joined with
     * cat) is refused at its line (test_bad_file_refused); it made the
     * line the string BOM "192.0.2.2", which nothing matches */
    fx_close(&f);
}
END_TEST

/* The UTF-8 BOM that starts a file is not part of its first line, so not
 * of that line's 64 KiB either: a first line of 65536 bytes after the BOM
 * is read, as it is without one (it was refused: the BOM counted). */
START_TEST(test_bom_not_in_line_limit)
{
    fx f = fx_open(16);
    char *text = malloc(3 + 65537 + 64);
    ck_assert_ptr_nonnull(text);
    for (int crlf = 0; crlf < 2; crlf++) {
        strcpy(text, BOM "#"); /* a comment of 65536 bytes, '#' included */
        memset(text + 4, 'z', 65535);
        strcpy(text + 3 + 65536, crlf ? "\r\n192.0.2.1\r\n" : "\n192.0.2.1\n");
        load(f.l, "b", text, 1);
        IN(f.l, "b", "192.0.2.1");
    }
    /* one byte more is refused at line 1, as without a BOM */
    strcpy(text, BOM "#");
    memset(text + 4, 'z', 65536);
    strcpy(text + 3 + 65537, "\n192.0.2.2\n");
    const char *path = write_file("long.txt", text);
    ck_assert_int_eq(cor_lists_load_file(f.l, "b", path, NULL, err, sizeof(err)), VG_ECONFIG);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof(want), "%s:1: line longer than 65536 bytes (not a list file?)", path);
    ck_assert_str_eq(err, want);
    /* the BOM is counted in no other line: a second line of 65536 bytes
     * after a first line with a BOM is read */
    strcpy(text, BOM "192.0.2.3\n#");
    memset(text + 14, 'z', 65535);
    strcpy(text + 13 + 65536, "\n");
    load(f.l, "b", text, 1);
    IN(f.l, "b", "192.0.2.3");
    free(text);
    fx_close(&f);
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

START_TEST(test_bad_file_refused)
{
    static const struct {
        const char *line, *reason;
    } bad[] = {
        {"10.0.0.0/33", "prefix length 33 > 32 in CIDR '10.0.0.0/33'"},
        {"2001:db8::/129", "prefix length 129 > 128 in CIDR '2001:db8::/129'"},
        {"10.0.0.0/", "bad prefix length in CIDR '10.0.0.0/'"},
        {"10.0.0.0/8x", "bad prefix length in CIDR '10.0.0.0/8x'"},
        {"10.0.0.0/-1", "bad prefix length in CIDR '10.0.0.0/-1'"},
        {"10.0.0.0/0008", "bad prefix length in CIDR '10.0.0.0/0008'"},
        {"10.1.2.3/8", "host bits set in CIDR '10.1.2.3/8' (the network is 10.0.0.0/8)"},
        {"2001:db8::1/64", "host bits set in CIDR '2001:db8::1/64' (the network is 2001:db8::/64)"},
        {"300.1.2.0/24", "bad IPv4 address in CIDR '300.1.2.0/24'"},
        {"10/8", "bad IPv4 address in CIDR '10/8'"},
        {"2001:db8:::/48", "bad IPv6 address in CIDR '2001:db8:::/48'"},
        {"1.2.3.256", "bad IPv4 address '1.2.3.256'"},
        {"0001.2.3.4", "bad IPv4 address '0001.2.3.4'"},
        {"1.2.3.0256", "bad IPv4 address '1.2.3.0256'"},
        {"010.0.0.1/8", "host bits set in CIDR '010.0.0.1/8' (the network is 10.0.0.0/8)"},
        {"010.0.0.0/0008", "bad prefix length in CIDR '010.0.0.0/0008'"},
        {"::ffff:010.0.0.1", "bad IPv6 address '::ffff:010.0.0.1'"},
        {"2001:db8::1::2", "bad IPv6 address '2001:db8::1::2'"},
        /* a zone in an entry would be dropped, widening it: refused (it
         * was a string entry, matched only by that exact text) */
        {"fe80::1%eth0", "IPv6 address with a zone 'fe80::1%eth0': a list takes no zone (write "
                         "'fe80::1', which matches on every interface)"},
        {"FE80::%12/64", "IPv6 network with a zone 'FE80::%12/64': a list takes no zone (write "
                         "'FE80::/64', which matches on every interface)"},
        {"fe80:::1%eth0", "bad IPv6 address 'fe80:::1%eth0'"},
        {"fe80:::%eth0/64", "bad IPv6 address in CIDR 'fe80:::%eth0/64'"},
        {"fe80::1/64%eth0", "bad prefix length in CIDR 'fe80::1/64%eth0'"},
        {"*.", "bad domain '*.'"},
        {"*.exa mple.com", "bad domain '*.exa mple.com'"},
        {"..com", "bad domain '..com'"},
        /* a file with CR line ends is one line: it was one string entry */
        {"192.0.2.5\r192.0.2.6", "carriage return inside an entry (lines end in LF or CRLF, not CR)"},
        /* ... and a comment on such a line swallowed every entry after
         * it without a word (the file loaded with 0 entries, or 1; a CR
         * just before the '#' counted as a blank) */
        {"# feed\r192.0.2.5\r192.0.2.6\r", "carriage return inside a comment (lines end in LF or "
                                           "CRLF, not CR)"},
        {"192.0.2.5\r# c", "carriage return inside an entry (lines end in LF or CRLF, not CR)"},
        {"192.0.2.5 # c\r192.0.2.6", "carriage return inside a comment (lines end in LF or CRLF, "
                                     "not CR)"},
        /* a byte order mark past the start (files joined with cat): the
         * line was the string BOM "192.0.2.2" (or the header an entry) */
        {BOM "192.0.2.2", "a byte order mark (EF BB BF) that does not start the file (files "
                          "joined together?): remove it"},
        {" " BOM "# feed 2", "a byte order mark (EF BB BF) that does not start the file (files "
                             "joined together?): remove it"},
        /* a file with columns: each line was a string entry that no address
         * or hash matches, loaded without a word */
        {"203.0.113.5\tC2", "the address '203.0.113.5' followed by a tab and more (a file with "
                            "columns?): a list takes one entry per line, a comment only after ' #'"},
        {"198.51.100.0/24,scanners", "the network '198.51.100.0/24' followed by ',' and more (a file "
                                     "with columns?): a list takes one entry per line, a comment "
                                     "only after ' #'"},
        {"2001:db8::1 c2 server", "the address '2001:db8::1' followed by a space and more (a file "
                                  "with columns?): a list takes one entry per line, a comment only "
                                  "after ' #'"},
        {"192.0.2.7;", "the address '192.0.2.7' followed by ';' and more (a file with columns?): a "
                       "list takes one entry per line, a comment only after ' #'"},
        /* sha256sum's output */
        {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  evil.exe",
         "the hash 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' followed by a "
         "space and more (a file with columns?): a list takes one entry per line, a comment only "
         "after ' #'"},
        {"evil.example.com\tphishing", "the domain 'evil.example.com' followed by a tab and more (a "
                                       "file with columns?): a list takes one entry per line, a "
                                       "comment only after ' #'"},
        {"evil.example.com,2024-05-01", "the domain 'evil.example.com' followed by ',' and more (a "
                                        "file with columns?): a list takes one entry per line, a "
                                        "comment only after ' #'"},
    };
    fx f = fx_open(16);
    load(f.l, "L", "192.0.2.1\nexample.com\n", 2);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256], want[PATH_MAX + 256];
        snprintf(text, sizeof(text), "# header\n192.0.2.99\n\n%s\n203.0.113.1\n", bad[i].line);
        const char *path = write_file("bad.txt", text);
        size_t n = 12345;
        int rc = cor_lists_load_file(f.l, "L", path, &n, err, sizeof(err));
        ck_assert_msg(rc == VG_ECONFIG, "'%s' gave %d (%s)", bad[i].line, rc, err);
        snprintf(want, sizeof(want), "%s:4: %s", path, bad[i].reason);
        ck_assert_str_eq(err, want);
        ck_assert_uint_eq(n, 12345); /* untouched */
        /* the old list is intact */
        ck_assert_uint_eq(cor_lists_size(f.l, "L"), 2);
        IN(f.l, "L", "192.0.2.1");
        IN(f.l, "L", "www.example.com");
        OUT(f.l, "L", "192.0.2.99");
        OUT(f.l, "L", "203.0.113.1");
    }

    /* an over-long entry */
    char longline[COR_LIST_ENTRY_MAX + 16];
    memset(longline, 'x', COR_LIST_ENTRY_MAX + 1);
    strcpy(longline + COR_LIST_ENTRY_MAX + 1, "\n");
    const char *path = write_file("long.txt", longline);
    ck_assert_int_eq(cor_lists_load_file(f.l, "L", path, NULL, err, sizeof(err)), VG_ECONFIG);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s:1: entry longer than %d bytes", path, COR_LIST_ENTRY_MAX);
    ck_assert_str_eq(err, want);
    longline[COR_LIST_ENTRY_MAX] = '\n';
    longline[COR_LIST_ENTRY_MAX + 1] = '\0';
    load(f.l, "L2", longline, 1); /* exactly the limit: fine */
    longline[COR_LIST_ENTRY_MAX] = '\0';
    IN(f.l, "L2", longline);

    /* UTF-16, with either byte order mark: "NUL byte in entry" said nothing of it */
    static const char *const u16[] = {"\xff\xfe" "1\0.\0" "2\0\r\0\n\0",
                                       "\xfe\xff" "\0" "1\0.\0" "2\0\r\0\n"};
    for (int i = 0; i < 2; i++) {
        path = write_file("u16.txt", "");
        FILE *fp = fopen(path, "wb");
        ck_assert_ptr_nonnull(fp);
        ck_assert_uint_eq(fwrite(u16[i], 1, 12, fp), 12);
        ck_assert_int_eq(fclose(fp), 0);
        ck_assert_int_eq(cor_lists_load_file(f.l, "L", path, NULL, err, sizeof(err)), VG_ECONFIG);
        snprintf(want, sizeof(want), "%s:1: a UTF-16 file (byte order mark %s): save it as UTF-8",
                 path, i ? "FE FF" : "FF FE");
        ck_assert_str_eq(err, want);
    }

    /* a file that is not there */
    snprintf(want, sizeof(want), "%s/nonexistent.txt", tmpdir);
    ck_assert_int_eq(cor_lists_load_file(f.l, "L", want, NULL, err, sizeof(err)), -ENOENT);
    strcat(want, ": No such file or directory");
    ck_assert_str_eq(err, want);
    /* a directory (a slip in the configuration): the reason, not "read error" */
    snprintf(want, sizeof(want), "%s", tmpdir);
    ck_assert_int_eq(cor_lists_load_file(f.l, "L", want, NULL, err, sizeof(err)), -EISDIR);
    strcat(want, ": Is a directory");
    ck_assert_str_eq(err, want);

    /* bad names */
    path = write_file("ok.txt", "192.0.2.5\n");
    ck_assert_int_eq(cor_lists_load_file(f.l, "", path, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(cor_lists_load_file(f.l, "a/b", path, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "a/b: bad list name (1 to 64 of A-Z a-z 0-9 _ . -)");
    char name[COR_LIST_NAME_MAX + 2];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ck_assert_int_eq(cor_lists_load_file(f.l, name, path, NULL, err, sizeof(err)), -EINVAL);
    name[COR_LIST_NAME_MAX] = '\0';
    ck_assert_int_eq(cor_lists_load_file(f.l, name, path, NULL, err, sizeof(err)), 0);
    cor_list *h;
    ck_assert_int_eq(cor_lists_handle(f.l, "bad name", &h), -EINVAL);
    ck_assert_int_eq(cor_lists_contains(f.l, "bad name", vg_str_c("192.0.2.5")), 0);

    cor_lists_stats s;
    cor_lists_get_stats(f.l, &s);
    ck_assert_uint_eq(s.load_failures, sizeof(bad) / sizeof(bad[0]) + 8);
    fx_close(&f);
}
END_TEST

/* ---- transactions, replacement, persistence ---------------------------- */

/* Entries in the "lists" database, bookkeeping keys included. */
/* Files that are not list files must not hang or exhaust the correlator
 * (at start, -t, or a SIGHUP, whose reload runs in the event loop): a FIFO
 * that nothing writes to blocked open(2) for ever, even against SIGTERM, and
 * a file without newlines (a symlink to /dev/zero) was read into one line
 * until memory ran out. Both refused at once; the old list stays. */
START_TEST(test_not_a_list_file)
{
    fx f = fx_open(16);
    load(f.l, "L", "192.0.2.1\n", 1);
    char fifo[PATH_MAX], want[PATH_MAX + 128];
    snprintf(fifo, sizeof(fifo), "%s/fifo.txt", tmpdir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(cor_lists_load_file(f.l, "L", fifo, NULL, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s: a FIFO with no writer (nothing to read)", fifo);
    ck_assert_str_eq(err, want);

    /* the second line runs on past 64 KiB without a newline (a comment, so
     * that the entry limit is not what stops it) */
    size_t big = 65536 + 100;
    char *text = malloc(big + 16);
    ck_assert_ptr_nonnull(text);
    strcpy(text, "192.0.2.7\n#");
    memset(text + strlen(text), 'z', big);
    text[big] = '\0';
    const char *path = write_file("long.txt", text);
    free(text);
    ck_assert_int_eq(cor_lists_load_file(f.l, "L", path, NULL, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s:2: line longer than 65536 bytes (not a list file?)", path);
    ck_assert_str_eq(err, want);
    ck_assert_uint_eq(cor_lists_size(f.l, "L"), 1);
    IN(f.l, "L", "192.0.2.1");
    OUT(f.l, "L", "192.0.2.7");
    /* a line of exactly 65536 bytes, its newline included, is still read */
    text = malloc(65536 + 64);
    ck_assert_ptr_nonnull(text);
    strcpy(text, "192.0.2.7\n#"); /* the '#' at offset 10 */
    memset(text + 11, 'z', 65534);
    strcpy(text + 10 + 65535, "\n192.0.2.8");
    load(f.l, "L", text, 2);
    IN(f.l, "L", "192.0.2.8");
    /* the limit counts the line without its end: 65536 bytes and CRLF is
     * read (it was refused), 65537 bytes as the file's last line, with no
     * LF, is refused (it was read) */
    strcpy(text, "192.0.2.7\r\n#");
    memset(text + 12, 'z', 65535);
    strcpy(text + 11 + 65536, "\r\n192.0.2.8\r\n");
    load(f.l, "L", text, 2);
    strcpy(text, "192.0.2.7\n#");
    memset(text + 11, 'z', 65536);
    text[10 + 65537] = '\0';
    path = write_file("long.txt", text);
    free(text);
    ck_assert_int_eq(cor_lists_load_file(f.l, "L", path, NULL, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s:2: line longer than 65536 bytes (not a list file?)", path);
    ck_assert_str_eq(err, want);
    IN(f.l, "L", "192.0.2.8");
    fx_close(&f);
}
END_TEST

static MDB_stat db_stat(vg_store *st)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat ms;
    ck_assert_int_eq(mdb_txn_begin(vg_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "lists", 0, &dbi), 0);
    ck_assert_int_eq(mdb_stat(txn, dbi, &ms), 0);
    mdb_txn_abort(txn);
    return ms;
}

static uint64_t db_entries(vg_store *st)
{
    return db_stat(st).ms_entries;
}

START_TEST(test_atomic_replace)
{
    fx f = fx_open(16);
    cor_list *h, *h2;
    ck_assert_int_eq(cor_lists_handle(f.l, "ioc", &h), 0); /* before the list exists */
    ck_assert_int_eq(cor_lists_handle(f.l, "ioc", &h2), 0);
    ck_assert_ptr_eq(h, h2);
    ck_assert_str_eq(cor_list_name(h), "ioc");
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("192.0.2.1")), 0);

    load(f.l, "ioc", "192.0.2.1\nold.example\n10.0.0.0/8\n", 3);
    load(f.l, "other", "192.0.2.1\n", 1);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("192.0.2.1")), 1);
    /* counter, 2 directory and 2 source records, entries */
    ck_assert_uint_eq(db_entries(f.st), 1 + 2 + 2 + 3 + 1);

    /* a reader that began before the replace keeps seeing the old list */
    MDB_txn *r;
    ck_assert_int_eq(mdb_txn_begin(vg_store_env(f.st), NULL, MDB_RDONLY, &r), 0);
    load(f.l, "ioc", "198.51.100.1\nnew.example\n", 2);
    ck_assert_int_eq(cor_list_contains_txn(h, r, vg_str_c("192.0.2.1")), 1);
    ck_assert_int_eq(cor_list_contains_txn(h, r, vg_str_c("10.9.9.9")), 1);
    ck_assert_int_eq(cor_list_contains_txn(h, r, vg_str_c("www.old.example")), 1);
    ck_assert_int_eq(cor_list_contains_txn(h, r, vg_str_c("198.51.100.1")), 0);
    ck_assert_int_eq(cor_list_contains_txn(h, r, vg_str_c("new.example")), 0);
    /* and new lookups see the new one, through the same handle */
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("192.0.2.1")), 0);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("10.9.9.9")), 0);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("198.51.100.1")), 1);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("new.example")), 1);
    /* alternating between the two snapshots */
    ck_assert_int_eq(cor_list_contains_txn(h, r, vg_str_c("192.0.2.1")), 1);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("192.0.2.1")), 0);
    mdb_txn_abort(r);
    IN(f.l, "other", "192.0.2.1"); /* other lists untouched */

    /* the old generation is gone from the database */
    ck_assert_uint_eq(db_entries(f.st), 1 + 2 + 2 + 2 + 1);
    load(f.l, "ioc", "", 0);
    ck_assert_uint_eq(db_entries(f.st), 1 + 2 + 2 + 0 + 1);
    /* an empty list followed by loads elsewhere stays empty */
    load(f.l, "other", "203.0.113.0/24\n", 1);
    load(f.l, "third", "198.51.100.1\n", 1);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("198.51.100.1")), 0);
    ck_assert_uint_eq(cor_lists_size(f.l, "ioc"), 0);

    cor_lists_stats s;
    cor_lists_get_stats(f.l, &s);
    ck_assert_uint_eq(s.loads, 6);
    ck_assert_uint_eq(s.load_failures, 0);
    ck_assert_uint_eq(s.errors, 0);
    /* every contains above, hit or not, the one before the list existed
     * included: 15 lookups, 8 of them found */
    ck_assert_uint_eq(s.lookups, 15);
    ck_assert_uint_eq(s.hits, 8);
    fx_close(&f);
}
END_TEST

/* The engine looks lists up inside the write transaction of a batch. */
START_TEST(test_inside_write_txn)
{
    fx f = fx_open(16);
    cor_list *h;
    ck_assert_int_eq(cor_lists_handle(f.l, "ioc", &h), 0);
    load(f.l, "ioc", "192.0.2.1\nexample.com\n", 2);
    ck_assert_int_eq(vg_store_begin(f.st), 0);
    ck_assert_int_eq(vg_meta_put_u64(f.st, "x", 1), 0);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("192.0.2.1")), 1);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("mail.example.com")), 1);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("192.0.2.2")), 0);
    ck_assert_uint_eq(cor_lists_size(f.l, "ioc"), 2);
    /* a load needs its own transaction */
    const char *path = write_file("n.txt", "198.51.100.1\n");
    ck_assert_int_eq(cor_lists_load_file(f.l, "ioc", path, NULL, err, sizeof(err)), -EBUSY);
    ck_assert_str_eq(err, "lists: cannot load 'ioc' inside a write transaction");
    ck_assert_int_eq(vg_store_commit(f.st), 0);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("192.0.2.1")), 1);

    /* an aborted batch leaves the lists as they were */
    ck_assert_int_eq(vg_store_begin(f.st), 0);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("192.0.2.1")), 1);
    vg_store_abort(f.st);
    load(f.l, "ioc", "198.51.100.1\n", 1);
    ck_assert_int_eq(vg_store_begin(f.st), 0);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("192.0.2.1")), 0);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("198.51.100.1")), 1);
    vg_store_commit(f.st);

    /* cor_lists_open needs no open write transaction either */
    cor_lists *l2;
    ck_assert_int_eq(vg_store_begin(f.st), 0);
    ck_assert_int_eq(cor_lists_open(f.st, &l2), -EBUSY);
    vg_store_abort(f.st);
    fx_close(&f);
}
END_TEST

/* Another process (the --load-list tool) replaces a list while this one
 * runs; this one's handles notice, even when the tool's commit reuses the
 * id of a write transaction this process aborted after a lookup. */
START_TEST(test_other_process_load)
{
    fx f = fx_open(16);
    cor_list *h;
    ck_assert_int_eq(cor_lists_handle(f.l, "x", &h), 0);
    load(f.l, "x", "192.0.2.1\n", 1);
    ck_assert_int_eq(vg_store_begin(f.st), 0);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("192.0.2.1")), 1);
    vg_store_abort(f.st);

    const char *path = write_file("tool.txt", "198.51.100.1\n");
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        vg_store *st;
        cor_lists *l;
        size_t n = 0;
        int ok = vg_store_open(&st, dbdir, 16) == 0 && cor_lists_open(st, &l) == 0 &&
                 cor_lists_load_file(l, "x", path, &n, err, sizeof(err)) == 0 && n == 1;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child load failed");

    ck_assert_int_eq(cor_list_contains(h, vg_str_c("198.51.100.1")), 1);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("192.0.2.1")), 0);
    ck_assert_int_eq(vg_store_begin(f.st), 0);
    ck_assert_int_eq(cor_list_contains(h, vg_str_c("198.51.100.1")), 1);
    vg_store_abort(f.st);
    fx_close(&f);
}
END_TEST

START_TEST(test_persistence)
{
    fx f = fx_open(16);
    load(f.l, "a", "192.0.2.0/24\nexample.com\n", 2);
    load(f.l, "b", "d41d8cd98f00b204e9800998ecf8427e\n", 1);
    load(f.l, "a", "192.0.2.0/25\nexample.com\n2001:db8::/32\n", 3);
    fx_close(&f);

    f = fx_open(16);
    ck_assert_uint_eq(cor_lists_size(f.l, "a"), 3);
    ck_assert_uint_eq(cor_lists_size(f.l, "b"), 1);
    ck_assert_uint_eq(cor_lists_size(f.l, "c"), 0);
    IN(f.l, "a", "192.0.2.1");
    OUT(f.l, "a", "192.0.2.129");
    IN(f.l, "a", "2001:db8:1::1");
    IN(f.l, "a", "x.example.com");
    IN(f.l, "b", "D41D8CD98F00B204E9800998ECF8427E");
    cor_list_info info;
    ck_assert_int_eq(cor_lists_info(f.l, "a", &info), 0);
    ck_assert_uint_eq(info.ipv4, 1);
    ck_assert_uint_eq(info.ipv6, 1);
    ck_assert_uint_eq(info.domains, 1);
    ck_assert_uint_ge(info.loaded, (uint64_t)time(NULL) - 60);
    ck_assert_int_eq(cor_lists_info(f.l, "c", &info), -ENOENT);
    /* generations keep growing across restarts */
    uint32_t gen = info.gen;
    load(f.l, "c", "x\n", 1);
    ck_assert_int_eq(cor_lists_info(f.l, "c", &info), 0);
    ck_assert_uint_gt(info.gen, gen);
    fx_close(&f);
}
END_TEST

/* cor_lists_sync_file on path as list NAME, which must succeed with 'want'
 * entries (with check, nothing is stored); returns whether the list was
 * left alone as unchanged. */
static bool sync_list(cor_lists *l, const char *name, const char *path, bool check, size_t want)
{
    size_t n = 0;
    bool same = !check; /* overwritten either way */
    int rc = cor_lists_sync_file(l, name, path, check, &n, &same, err, sizeof(err));
    ck_assert_msg(rc == 0, "sync %s: %d %s", name, rc, err);
    ck_assert_uint_eq(n, want);
    return same;
}

static cor_list_info info_of(cor_lists *l, const char *name)
{
    cor_list_info info;
    ck_assert_int_eq(cor_lists_info(l, name, &info), 0);
    return info;
}

/* A reload stores a list again only when its file's content changed: one
 * of a million entries blocked the loop about 1 s at every SIGHUP. Other
 * content of the same size with the mtime put back (an edit within the
 * same second, cp -p, rsync) is a change all the same. */
START_TEST(test_sync_skips_unchanged)
{
    fx f = fx_open(16);
    const char *path = write_file("ioc.txt", "192.0.2.1\nevil.example\n");
    ck_assert(!sync_list(f.l, "ioc", path, false, 2)); /* never stored: stored */
    cor_list_info a = info_of(f.l, "ioc");
    ck_assert(sync_list(f.l, "ioc", path, false, 2));
    ck_assert(sync_list(f.l, "ioc", path, true, 2)); /* a SIGHUP's check */
    cor_list_info b = info_of(f.l, "ioc");
    ck_assert_uint_eq(b.gen, a.gen); /* not stored again */
    ck_assert_uint_eq(b.loaded, a.loaded);
    cor_lists_stats s;
    cor_lists_get_stats(f.l, &s);
    ck_assert_uint_eq(s.loads, 1);
    ck_assert_uint_eq(s.load_failures, 0);
    /* a restart: the record is in the store */
    fx_close(&f);
    f = fx_open(16);
    ck_assert(sync_list(f.l, "ioc", path, false, 2));
    ck_assert_uint_eq(info_of(f.l, "ioc").gen, a.gen);
    IN(f.l, "ioc", "192.0.2.1");

    /* the same size and mtime, one byte different */
    struct stat sa, sb;
    ck_assert_int_eq(stat(path, &sa), 0);
    write_file("ioc.txt", "192.0.2.2\nevil.example\n");
    struct timespec ts[2] = {sa.st_atim, sa.st_mtim};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, sa.st_size);
    ck_assert_int_eq(sb.st_mtim.tv_sec, sa.st_mtim.tv_sec);
    ck_assert_int_eq(sb.st_mtim.tv_nsec, sa.st_mtim.tv_nsec);
    ck_assert(!sync_list(f.l, "ioc", path, true, 2)); /* checked, not stored */
    ck_assert_uint_eq(info_of(f.l, "ioc").gen, a.gen);
    IN(f.l, "ioc", "192.0.2.1");
    ck_assert(!sync_list(f.l, "ioc", path, false, 2));
    ck_assert_uint_gt(info_of(f.l, "ioc").gen, a.gen);
    IN(f.l, "ioc", "192.0.2.2");
    OUT(f.l, "ioc", "192.0.2.1");
    ck_assert(sync_list(f.l, "ioc", path, false, 2)); /* and now unchanged again */
    /* a changed file that is refused leaves the list as it was */
    write_file("ioc.txt", "192.0.2.3\n1.2.3.256\n");
    size_t n = 0;
    bool same = true;
    ck_assert_int_eq(cor_lists_sync_file(f.l, "ioc", path, false, &n, &same, err, sizeof(err)),
                     VG_ECONFIG);
    ck_assert(!same);
    IN(f.l, "ioc", "192.0.2.2");
    cor_lists_get_stats(f.l, &s);
    ck_assert_uint_eq(s.loads, 1); /* this process's: one store since the reopen */
    ck_assert_uint_eq(s.load_failures, 1);
    fx_close(&f);
}
END_TEST

static uint64_t hashed(cor_lists *l)
{
    cor_lists_stats s;
    cor_lists_get_stats(l, &s);
    return s.hashed;
}

/* A reload does not even hash a list's file that is unchanged since this
 * process read it (same device, inode, size, mtime and ctime), once its
 * last change is 2 s old when read: a file changed within that time (a
 * rewrite in the same second, on a file system whose clock or timestamps
 * are coarse) is hashed at every reload until seen settled. A rewrite in
 * place, the same size, with the mtime put back, is seen by its ctime. */
START_TEST(test_sync_unchanged_not_hashed)
{
    fx f = fx_open(16);
    const char *path = write_file("ioc.txt", "192.0.2.1\nevil.example\n");
    nanosleep(&(struct timespec){2, 100000000}, NULL); /* past LISTS__SEEN_SETTLE_NS */
    ck_assert(!sync_list(f.l, "ioc", path, false, 2)); /* stored: read, not hashed */
    ck_assert_uint_eq(hashed(f.l), 0);
    ck_assert(sync_list(f.l, "ioc", path, true, 2)); /* a SIGHUP's check */
    ck_assert(sync_list(f.l, "ioc", path, false, 2)); /* and its store */
    ck_assert_uint_eq(hashed(f.l), 0);

    /* rewritten in place: the same size, the mtime put back */
    struct stat sa, sb;
    ck_assert_int_eq(stat(path, &sa), 0);
    FILE *w = fopen(path, "r+");
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(fputs("192.0.2.2\n", w) >= 0, 1);
    ck_assert_int_eq(fclose(w), 0);
    struct timespec ts[2] = {sa.st_atim, sa.st_mtim};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_ino, sa.st_ino);
    ck_assert_int_eq(sb.st_size, sa.st_size);
    ck_assert_int_eq(sb.st_mtim.tv_nsec, sa.st_mtim.tv_nsec);
    ck_assert(!sync_list(f.l, "ioc", path, true, 2));
    ck_assert_uint_eq(hashed(f.l), 1);
    ck_assert(!sync_list(f.l, "ioc", path, false, 2)); /* hashed, then stored */
    ck_assert_uint_eq(hashed(f.l), 2);
    IN(f.l, "ioc", "192.0.2.2");
    /* stored just after its change: hashed at each reload, not trusted */
    ck_assert(sync_list(f.l, "ioc", path, true, 2));
    ck_assert(sync_list(f.l, "ioc", path, false, 2));
    ck_assert_uint_eq(hashed(f.l), 4);
    /* settled: hashed once more, then no longer */
    nanosleep(&(struct timespec){2, 100000000}, NULL); /* past LISTS__SEEN_SETTLE_NS */
    ck_assert(sync_list(f.l, "ioc", path, false, 2));
    ck_assert_uint_eq(hashed(f.l), 5);
    ck_assert(sync_list(f.l, "ioc", path, true, 2));
    ck_assert(sync_list(f.l, "ioc", path, false, 2));
    ck_assert_uint_eq(hashed(f.l), 5);
    /* the same content under a new inode (cp -p over it: rename into place) */
    const char *copy = write_file("ioc.new", "192.0.2.2\nevil.example\n");
    ck_assert_int_eq(rename(copy, path), 0);
    ck_assert(sync_list(f.l, "ioc", path, false, 2));
    ck_assert_uint_eq(hashed(f.l), 6);
    /* a restart hashes it once */
    fx_close(&f);
    f = fx_open(16);
    ck_assert(sync_list(f.l, "ioc", path, false, 2));
    ck_assert_uint_eq(hashed(f.l), 1);
    fx_close(&f);
}
END_TEST

/* A list replaced by hand (cor_lists_load_file, --load-list) goes back to
 * its configured file at the next reload, unless what was loaded has the
 * same content as that file: then the stored form is that file's already. */
START_TEST(test_sync_after_manual_load)
{
    fx f = fx_open(16);
    const char *conf = write_file("conf.txt", "192.0.2.1\n");
    const char *other = write_file("other.txt", "198.51.100.1\n");
    ck_assert(!sync_list(f.l, "ioc", conf, false, 1));
    size_t n = 0;
    ck_assert_int_eq(cor_lists_load_file(f.l, "ioc", other, &n, err, sizeof(err)), 0);
    IN(f.l, "ioc", "198.51.100.1");
    ck_assert(!sync_list(f.l, "ioc", conf, true, 1));
    ck_assert(!sync_list(f.l, "ioc", conf, false, 1));
    IN(f.l, "ioc", "192.0.2.1");
    OUT(f.l, "ioc", "198.51.100.1");
    /* by hand, a copy of the configured file: stored all the same... */
    uint32_t gen = info_of(f.l, "ioc").gen;
    const char *copy = write_file("copy.txt", "192.0.2.1\n");
    ck_assert_int_eq(cor_lists_load_file(f.l, "ioc", copy, &n, err, sizeof(err)), 0);
    ck_assert_uint_gt(info_of(f.l, "ioc").gen, gen);
    /* ...and then the configured file is unchanged against it */
    gen = info_of(f.l, "ioc").gen;
    ck_assert(sync_list(f.l, "ioc", conf, false, 1));
    ck_assert_uint_eq(info_of(f.l, "ioc").gen, gen);
    /* a list stored without a source record (by a correlator before this
     * one) is stored again once */
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t kb[16] = {0, 0, 0, 0, 'S', 'i', 'o', 'c'};
    MDB_val k = {8, kb};
    ck_assert_int_eq(mdb_txn_begin(vg_store_env(f.st), NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "lists", 0, &dbi), 0);
    ck_assert_int_eq(mdb_del(txn, dbi, &k, NULL), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    ck_assert(!sync_list(f.l, "ioc", conf, false, 1));
    ck_assert_uint_gt(info_of(f.l, "ioc").gen, gen);
    ck_assert(sync_list(f.l, "ioc", conf, false, 1));
    fx_close(&f);
}
END_TEST

/* A FIFO as a configured list (cor_lists_sync_file: correlator.lists,
 * RULES_DIR/lists/) is refused with its path and why, at once, whether or
 * not a writer holds it open: the daemon reads its lists at every start
 * and SIGHUP (twice on SIGHUP), and a read of a FIFO whose writer keeps it
 * open and silent blocked its loop for as long as the writer lived. The
 * --load-list tool (cor_lists_load_file) still reads one to its end. */
START_TEST(test_sync_fifo_refused_without_blocking)
{
    fx f = fx_open(16);
    const char *path = write_file("ioc.txt", "192.0.2.1\n");
    ck_assert(!sync_list(f.l, "ioc", path, false, 1));
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    /* a writer holding it open, writing nothing (O_RDWR: no wait for a reader) */
    int wfd = open(path, O_RDWR | O_CLOEXEC);
    ck_assert_int_ge(wfd, 0);
    char want[PATH_MAX + 400];
    snprintf(want, sizeof(want),
             "%s: a FIFO cannot be a configured list: it can be read only once, and its writer "
             "would hold the correlator at every start and SIGHUP (write the list to a file; "
             "--load-list reads a FIFO once)",
             path);
    for (int check = 0; check < 2; check++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        size_t n = 0;
        bool same = true;
        err[0] = '\0';
        int rc = cor_lists_sync_file(f.l, "ioc", path, check, &n, &same, err, sizeof(err));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        ck_assert_msg(s < 0.5, "check=%d: took %.2f s", check, s);
        ck_assert_int_eq(rc, VG_ECONFIG);
        ck_assert(!same);
        ck_assert_str_eq(err, want);
    }
    IN(f.l, "ioc", "192.0.2.1"); /* the list stays as stored */
    /* with data waiting in it: refused all the same */
    ck_assert_int_eq(write(wfd, "198.51.100.1\n", 13), 13);
    ck_assert_int_eq(cor_lists_sync_file(f.l, "ioc", path, false, NULL, NULL, err, sizeof(err)),
                     VG_ECONFIG);
    ck_assert_str_eq(err, want);
    /* the tool reads it: what is waiting, to the end (the writer closes) */
    int rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* keeps the data in the pipe */
    ck_assert_int_ge(rfd, 0);
    close(wfd);
    size_t n = 0;
    ck_assert_int_eq(cor_lists_load_file(f.l, "ioc", path, &n, err, sizeof(err)), 0);
    close(rfd);
    ck_assert_uint_eq(n, 1);
    IN(f.l, "ioc", "198.51.100.1");
    OUT(f.l, "ioc", "192.0.2.1");
    fx_close(&f);
}
END_TEST

/* A configured list that is an endless device (a symlink to /dev/urandom)
 * or a directory is refused before any read, with its path and why; before,
 * the device was read (until a line did not parse, or without end for a
 * list whose every line did). The list stays as stored. */
START_TEST(test_sync_device_or_directory_refused)
{
    fx f = fx_open(16);
    const char *path = write_file("ioc.txt", "192.0.2.1\n");
    ck_assert(!sync_list(f.l, "ioc", path, false, 1));
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(symlink("/dev/urandom", path), 0);
    char want[PATH_MAX + 400];
    snprintf(want, sizeof(want),
             "%s: is a character device, not a regular file: a configured list must be one "
             "(refused without reading it)",
             path);
    for (int check = 0; check < 2; check++) {
        err[0] = '\0';
        ck_assert_int_eq(cor_lists_sync_file(f.l, "ioc", path, check, NULL, NULL, err,
                                             sizeof(err)),
                         VG_ECONFIG);
        ck_assert_str_eq(err, want);
    }
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(want, sizeof(want),
             "%s: is a directory, not a regular file: a configured list must be one (refused "
             "without reading it)",
             path);
    ck_assert_int_eq(cor_lists_sync_file(f.l, "ioc", path, false, NULL, NULL, err, sizeof(err)),
                     VG_ECONFIG);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(rmdir(path), 0);
    IN(f.l, "ioc", "192.0.2.1");
    fx_close(&f);
}
END_TEST

/* Rewrites the parser version (and generation, if gen) of list NAME's
 * source record 'S' in the store, as a correlator with another parser
 * would have left it. Returns the version it had. */
static uint32_t set_src_parser(vg_store *st, const char *name, uint32_t parser, uint32_t gen)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t kb[80] = {0, 0, 0, 0, 'S'}, vb[256];
    size_t nl = strlen(name);
    memcpy(kb + 5, name, nl);
    MDB_val k = {5 + nl, kb}, v;
    ck_assert_int_eq(mdb_txn_begin(vg_store_env(st), NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "lists", 0, &dbi), 0);
    ck_assert_int_eq(mdb_get(txn, dbi, &k, &v), 0);
    ck_assert_uint_le(v.mv_size, sizeof(vb));
    memcpy(vb, v.mv_data, v.mv_size);
    /* u32 magic | u32 gen | u32 parser | ... (cor_lists.c, lists__src_put) */
    uint32_t old = (uint32_t)vb[8] | (uint32_t)vb[9] << 8 | (uint32_t)vb[10] << 16 |
                   (uint32_t)vb[11] << 24;
    for (int i = 0; i < 4; i++) {
        vb[8 + i] = (uint8_t)(parser >> (8 * i));
        if (gen)
            vb[4 + i] = (uint8_t)(gen >> (8 * i));
    }
    v.mv_data = vb;
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    return old;
}

/* A source record written by another parser version (LISTS__PARSER) is not
 * trusted: the file is read again and the list stored again, even though
 * the record's SHA-256 is the file's. Shown on a list whose stored entries
 * are not the file's (loaded from another file by hand) under a record
 * forged to claim the file's content: with this parser's version the
 * record is taken at its word (the list is left as it is), with another
 * the file's entries replace it. */
START_TEST(test_sync_other_parser_version)
{
    fx f = fx_open(16);
    const char *conf = write_file("conf.txt", "192.0.2.1\n");
    const char *other = write_file("other.txt", "198.51.100.1\n");
    ck_assert(!sync_list(f.l, "ioc", conf, false, 1));
    uint32_t parser = set_src_parser(f.st, "ioc", 0, 0); /* read it */
    set_src_parser(f.st, "ioc", parser, 0);
    ck_assert_uint_gt(parser, 0);
    /* the record of conf's content, kept aside: a raw copy */
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t kb[8] = {0, 0, 0, 0, 'S', 'i', 'o', 'c'}, rec[256];
    MDB_val k = {8, kb}, v;
    ck_assert_int_eq(mdb_txn_begin(vg_store_env(f.st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "lists", 0, &dbi), 0);
    ck_assert_int_eq(mdb_get(txn, dbi, &k, &v), 0);
    size_t rlen = v.mv_size;
    memcpy(rec, v.mv_data, rlen);
    mdb_txn_abort(txn);
    size_t n = 0;
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(cor_lists_load_file(f.l, "ioc", other, &n, err, sizeof(err)), 0);
        uint32_t gen = info_of(f.l, "ioc").gen;
        /* the forged record: conf's content, this generation */
        ck_assert_int_eq(mdb_txn_begin(vg_store_env(f.st), NULL, 0, &txn), 0);
        ck_assert_int_eq(mdb_dbi_open(txn, "lists", 0, &dbi), 0);
        v = (MDB_val){rlen, rec};
        ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
        ck_assert_int_eq(mdb_txn_commit(txn), 0);
        set_src_parser(f.st, "ioc", round == 0 ? parser : parser + 1, gen);
        cor_lists_stats s0, s1;
        cor_lists_get_stats(f.l, &s0);
        if (round == 0) { /* this parser's record: trusted, nothing read */
            ck_assert(sync_list(f.l, "ioc", conf, true, 1));
            ck_assert(sync_list(f.l, "ioc", conf, false, 1));
            ck_assert_uint_eq(info_of(f.l, "ioc").gen, gen);
            IN(f.l, "ioc", "198.51.100.1");
            OUT(f.l, "ioc", "192.0.2.1");
            cor_lists_get_stats(f.l, &s1);
            ck_assert_uint_eq(s1.loads, s0.loads);
            continue;
        }
        /* another parser's: checked as changed, then read and stored again */
        ck_assert(!sync_list(f.l, "ioc", conf, true, 1));
        ck_assert_uint_eq(info_of(f.l, "ioc").gen, gen);
        ck_assert(!sync_list(f.l, "ioc", conf, false, 1));
        ck_assert_uint_gt(info_of(f.l, "ioc").gen, gen);
        IN(f.l, "ioc", "192.0.2.1");
        OUT(f.l, "ioc", "198.51.100.1");
        cor_lists_get_stats(f.l, &s1);
        ck_assert_uint_eq(s1.loads, s0.loads + 1);
        /* the record is this parser's again, and trusted from now on */
        ck_assert_uint_eq(set_src_parser(f.st, "ioc", parser, 0), parser);
        gen = info_of(f.l, "ioc").gen;
        ck_assert(sync_list(f.l, "ioc", conf, false, 1));
        ck_assert_uint_eq(info_of(f.l, "ioc").gen, gen);
    }
    fx_close(&f);
}
END_TEST

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    char *body = strchr(buf, '\n'); /* skip the header line */
    ck_assert_ptr_nonnull(body);
    return strdup(body + 1);
}

START_TEST(test_dump_roundtrip)
{
    fx f = fx_open(16);
    load(f.l, "d",
         "# mixed\n"
         "192.0.2.1\n10.0.0.0/8\n0.0.0.0/0\n2001:DB8::1\n2001:db8:aa::/48\n::/0\n"
         "::ffff:203.0.113.0/120\nExample.COM\n*.tk\n"
         "D41D8CD98F00B204E9800998ECF8427E\nplain string\nabc#def\n010.001.002.003\n",
         13);
    char p1[PATH_MAX], p2[PATH_MAX];
    snprintf(p1, sizeof(p1), "%s/dump1.txt", tmpdir);
    snprintf(p2, sizeof(p2), "%s/dump2.txt", tmpdir);
    FILE *o = fopen(p1, "w");
    ck_assert_int_eq(cor_lists_dump(f.l, "d", o), 0);
    fclose(o);
    size_t n = 0;
    ck_assert_int_eq(cor_lists_load_file(f.l, "d2", p1, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 13);
    o = fopen(p2, "w");
    ck_assert_int_eq(cor_lists_dump(f.l, "d2", o), 0);
    fclose(o);
    char *a = slurp(p1), *b = slurp(p2);
    ck_assert_str_eq(a, b);
    ck_assert_str_eq(a, "0.0.0.0/0\n"
                        "10.0.0.0/8\n"
                        "10.1.2.3\n"
                        "192.0.2.1\n"
                        "203.0.113.0/24\n"
                        "::/0\n"
                        "2001:db8::1\n"
                        "2001:db8:aa::/48\n"
                        "example.com\n"
                        ".tk\n"
                        "d41d8cd98f00b204e9800998ecf8427e\n"
                        "abc#def\n"
                        "plain string\n");
    free(a);
    free(b);
    o = fopen(p1, "w");
    ck_assert_int_eq(cor_lists_dump(f.l, "nosuch", o), -ENOENT);
    ck_assert_int_eq(cor_lists_dump(f.l, "bad/name", o), -EINVAL);
    fclose(o);
    fx_close(&f);
}
END_TEST

/* ---- a million entries -------------------------------------------------- */

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

#define BIG_N 1000000u

/* Entry i of the generated list (i % 20 picks the kind: 8 IPv4, 2 IPv6,
 * 1 CIDR, 5 domains, 4 hashes), all distinct. With present = 0, a value of
 * the same kind that is in no entry. */
static void gen_value(uint32_t i, int present, char *out, size_t cap)
{
    uint32_t k = i % 20, j = i / 20;
    uint64_t r = splitmix(i + (present ? 0 : 0x5151515151ull));
    if (k < 8) { /* IPv4: 11.0.0.0-90.255.255.255, absent: 172.16.0.0/12 */
        uint32_t idx = j * 8 + k, a;
        if (present)
            a = (11u + idx % 80) << 24 | ((idx / 80) * 40503u & 0xffffff);
        else
            a = 0xac100000u | (uint32_t)(r & 0xfffff);
        snprintf(out, cap, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
    } else if (k < 10) { /* IPv6 in 2001:db8::/32, absent: 2001:db9::/32 */
        snprintf(out, cap, "2001:db%c:%x:%x:%x:%x:%x:%x", present ? '8' : '9',
                 (unsigned)(r & 0xffff), (unsigned)(r >> 16 & 0xffff), (unsigned)(r >> 32 & 0xffff),
                 (unsigned)(r >> 48), k, j & 0xffff);
    } else if (k < 11) { /* /24 networks in 150.0.0.0/16-150.0.195.0 */
        snprintf(out, cap, "150.%u.%u.0/24", j >> 8, j & 255);
        if (!present) snprintf(out, cap, "151.%u.%u.%u", j >> 8, j & 255, (unsigned)(r & 255));
    } else if (k < 16) {
        snprintf(out, cap, "%s%016llx.feed%u.net", present ? "d" : "z", (unsigned long long)r, k);
    } else {
        uint64_t r2 = splitmix(r), r3 = splitmix(r2), r4 = splitmix(r3);
        snprintf(out, cap, "%016llx%016llx%016llx%016llx", (unsigned long long)r,
                 (unsigned long long)r2, (unsigned long long)r3, (unsigned long long)r4);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A value to look up for entry i: the entry itself, or (for networks,
 * domains, hashes) a host inside, a subdomain, the upper-case form. */
static void sample_value(uint32_t i, char *out, size_t cap)
{
    char e[128];
    gen_value(i, 1, e, sizeof(e));
    uint32_t k = i % 20;
    if (k == 10) {
        char *slash = strrchr(e, '/');
        *slash = '\0';
        slash[-1] = '\0'; /* "150.a.b." */
        snprintf(out, cap, "%s%u", e, 1 + i % 254);
    } else if (k >= 11 && k < 16 && i % 2) {
        snprintf(out, cap, "www.%s", e);
    } else if (k >= 16 && i % 2) {
        for (char *p = e; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
        snprintf(out, cap, "%s", e);
    } else {
        snprintf(out, cap, "%s", e);
    }
}

/* Looks up SAMPLES present and SAMPLES absent values of each kind (made
 * beforehand, so only the lookups are timed) and prints the rate. */
static void lookup_run(cor_list *h, const char *what)
{
    enum { SAMPLES = 50000, VMAX = 112 };
    static const struct {
        const char *kind;
        uint32_t k[5]; /* values of i % 20 of that kind */
        int nk;
    } kinds[] = {
        {"IPv4", {0, 1, 2, 3, 4}, 5},        {"IPv6", {8, 9}, 2},           {"CIDR", {10}, 1},
        {"domain", {11, 12, 13, 14, 15}, 5}, {"hash", {16, 17, 18, 19}, 4},
    };
    char *vals = malloc((size_t)2 * SAMPLES * VMAX);
    ck_assert_ptr_nonnull(vals);
    double total = 0;
    for (size_t c = 0; c < sizeof(kinds) / sizeof(kinds[0]); c++) {
        for (uint32_t s = 0; s < SAMPLES; s++) {
            uint64_t r = splitmix(s * 31 + c);
            uint32_t i = (uint32_t)(r % (BIG_N / 20)) * 20 + kinds[c].k[(r >> 32) % kinds[c].nk];
            sample_value(i, vals + (size_t)(2 * s) * VMAX, VMAX);
            gen_value(i, 0, vals + (size_t)(2 * s + 1) * VMAX, VMAX);
        }
        double t0 = now();
        size_t hits = 0;
        for (uint32_t s = 0; s < 2 * SAMPLES; s++)
            hits += cor_list_contains(h, vg_str_c(vals + (size_t)s * VMAX));
        double dt = now() - t0;
        total += dt;
        if (hits != SAMPLES) { /* find the culprit */
            for (uint32_t s = 0; s < 2 * SAMPLES; s++) {
                const char *v = vals + (size_t)s * VMAX;
                ck_assert_msg(cor_list_contains(h, vg_str_c(v)) == !(s & 1), "%s value '%s': %s",
                              kinds[c].kind, v,
                              s & 1 ? "absent but found" : "present but not found");
            }
        }
        fprintf(stderr, "lists: %s: %-6s %.2f us per lookup\n", what, kinds[c].kind,
                dt / (2 * SAMPLES) * 1e6);
    }
    size_t n = sizeof(kinds) / sizeof(kinds[0]) * 2 * SAMPLES;
    fprintf(stderr, "lists: %s: %zu lookups (half present) at %.0f/s, %.2f us each\n", what, n,
            n / total, total / n * 1e6);
    free(vals);
}

START_TEST(test_million)
{
    char path[PATH_MAX], v[160];
    snprintf(path, sizeof(path), "%s/big.txt", tmpdir);
    FILE *o = fopen(path, "w");
    ck_assert_ptr_nonnull(o);
    fprintf(o, "# generated: %u entries\n", BIG_N);
    for (uint32_t i = 0; i < BIG_N; i++) {
        gen_value(i, 1, v, sizeof(v));
        fprintf(o, "%s\n", v);
    }
    ck_assert_int_eq(fclose(o), 0);

    fx f = fx_open(1024);
    size_t n = 0;
    double t0 = now();
    int rc = cor_lists_load_file(f.l, "big", path, &n, err, sizeof(err));
    double t1 = now();
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(n, BIG_N);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    fprintf(stderr, "lists: loaded %zu entries (%.1f MB file) in %.3f s\n", n,
            (double)sb.st_size / 1e6, t1 - t0);

    cor_list_info info;
    ck_assert_int_eq(cor_lists_info(f.l, "big", &info), 0);
    ck_assert_uint_eq(info.ipv4, BIG_N / 20 * 9);
    ck_assert_uint_eq(info.ipv6, BIG_N / 20 * 2);
    ck_assert_uint_eq(info.domains, BIG_N / 20 * 5);
    ck_assert_uint_eq(info.hashes, BIG_N / 20 * 4);

    cor_list *h;
    ck_assert_int_eq(cor_lists_handle(f.l, "big", &h), 0);
    lookup_run(h, "read txn per lookup");
    ck_assert_int_eq(vg_store_begin(f.st), 0);
    lookup_run(h, "inside the write txn");
    vg_store_abort(f.st);

    /* replacing it: the old generation is deleted in the same transaction */
    t0 = now();
    rc = cor_lists_load_file(f.l, "big", path, &n, err, sizeof(err));
    t1 = now();
    ck_assert_msg(rc == 0, "%s", err);
    fprintf(stderr, "lists: replaced %zu entries in %.3f s\n", n, t1 - t0);
    /* a reload of the same file (SIGHUP, restart): read and hashed, not
     * parsed nor stored */
    bool same = false;
    t0 = now();
    rc = cor_lists_sync_file(f.l, "big", path, false, &n, &same, err, sizeof(err));
    t1 = now();
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert(same);
    ck_assert_uint_eq(n, BIG_N);
    fprintf(stderr, "lists: unchanged file of %zu entries read and hashed in %.3f s (not stored)\n",
            n, t1 - t0);
    ck_assert_uint_eq(db_entries(f.st), BIG_N + 3); /* counter, directory, source */
    MDB_envinfo ei;
    MDB_stat es;
    mdb_env_info(vg_store_env(f.st), &ei);
    mdb_env_stat(vg_store_env(f.st), &es);
    MDB_stat ds = db_stat(f.st);
    fprintf(stderr, "lists: the list takes %.1f MB (B-tree depth %u); map used %.1f MB\n",
            (double)(ds.ms_branch_pages + ds.ms_leaf_pages + ds.ms_overflow_pages) * ds.ms_psize /
                1e6,
            ds.ms_depth, (double)(ei.me_last_pgno + 1) * es.ms_psize / 1e6);
    for (uint32_t s = 0; s < 1000; s++) {
        uint32_t i = (uint32_t)(splitmix(s + 7) % BIG_N);
        sample_value(i, v, sizeof(v));
        ck_assert_msg(cor_list_contains(h, vg_str_c(v)), "'%s' lost in the replace", v);
    }
    fx_close(&f);
}
END_TEST

/* cor_lists_map_mb's bound holds for the densest file there is (short
 * IPv6 addresses: 5 to 10 bytes a line for a 21-byte key), and a map too
 * small says so in words about lists, not queues. */
START_TEST(test_map_size_bound)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/dense.txt", tmpdir);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    size_t lines = 0;
    for (unsigned b = 0; b <= 0xffff; b++, lines++)
        fprintf(fp, "::%x\n", b);
    for (unsigned a = 1; a <= 6; a++)
        for (unsigned b = 0; b <= 0xffff; b++, lines++)
            fprintf(fp, "%x::%x\n", a, b);
    ck_assert_int_eq(fclose(fp), 0);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    size_t mb = cor_lists_map_mb((uint64_t)sb.st_size);
    ck_assert_uint_eq(mb, 1 + ((uint64_t)sb.st_size * COR_LISTS_MAP_PER_BYTE + (1 << 20) - 1) / (1 << 20));
    fx f = fx_open(mb);
    size_t n = 0;
    int rc = cor_lists_load_file(f.l, "dense", path, &n, err, sizeof(err));
    ck_assert_msg(rc == 0, "%zu MiB for %lld bytes: %s", mb, (long long)sb.st_size, err);
    ck_assert_uint_eq(n, lines);
    /* the file is dense enough to test the bound: over 4 bytes stored a byte */
    MDB_envinfo ei;
    ck_assert_int_eq(mdb_env_info(vg_store_env(f.st), &ei), 0);
    ck_assert_uint_gt((ei.me_last_pgno + 1) * 4096, (uint64_t)sb.st_size * 4);
    fx_close(&f);

    vt_rm_tree(dbdir);
    f = fx_open(1);
    rc = cor_lists_load_file(f.l, "dense", path, &n, err, sizeof(err));
    ck_assert_int_eq(rc, VG_EFULL);
    char want[200];
    snprintf(want, sizeof(want),
             "lists: cannot store 'dense' (%zu entries): the list store is full (map size 1 MiB)",
             lines);
    ck_assert_str_eq(err, want);
    fx_close(&f);
}
END_TEST

static Suite *lists_suite(void)
{
    Suite *s = suite_create("lists");
    TCase *t = tcase_create("lists");
    tcase_add_unchecked_fixture(t, base_setup, base_teardown);
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_ipv4);
    tcase_add_test(t, test_cidr4_every_length);
    tcase_add_test(t, test_ipv6);
    tcase_add_test(t, test_domains);
    tcase_add_test(t, test_hashes_and_strings);
    tcase_add_test(t, test_comments_blanks_duplicates);
    tcase_add_test(t, test_bom);
    tcase_add_test(t, test_bom_not_in_line_limit);
    tcase_add_test(t, test_bad_file_refused);
    tcase_add_test(t, test_not_a_list_file);
    tcase_add_test(t, test_atomic_replace);
    tcase_add_test(t, test_inside_write_txn);
    tcase_add_test(t, test_other_process_load);
    tcase_add_test(t, test_persistence);
    tcase_add_test(t, test_sync_skips_unchanged);
    tcase_add_test(t, test_sync_unchanged_not_hashed);
    tcase_add_test(t, test_sync_after_manual_load);
    tcase_add_test(t, test_sync_fifo_refused_without_blocking);
    tcase_add_test(t, test_sync_device_or_directory_refused);
    tcase_add_test(t, test_sync_other_parser_version);
    tcase_add_test(t, test_dump_roundtrip);
    tcase_add_test(t, test_map_size_bound);
    suite_add_tcase(s, t);

    TCase *big = tcase_create("million");
    tcase_add_unchecked_fixture(big, base_setup, base_teardown);
    tcase_add_checked_fixture(big, setup, teardown);
    tcase_set_timeout(big, 600);
    tcase_add_test(big, test_million);
    suite_add_tcase(s, big);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lists_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
