/* Unit tests for lib/cef.c: alerts as CEF and LEEF 2.0.
 *
 * 1. Exact lines: a fully populated alert and a minimal one in both formats;
 *    escaping of \ | = CR LF in the CEF header and extension and in LEEF
 *    values with a tab and a '^' delimiter; invalid UTF-8 and control bytes;
 *    level -> severity; captures that are missing or not valid where they
 *    would go; bounds; the delimiter's configuration form.
 * 2. Cross-check: the lines of hand-made and of 600 pseudo-random alerts
 *    (every special character, invalid UTF-8, NULs, long values) go to
 *    tests/support/cef_check.sh: cef_check.py, an independent strict
 *    CEF/LEEF parser that also derives from the raw alert what
 *    docs/cef-leef.md says a receiver must decode, compares (printing
 *    "MISMATCH ..." lines); and when a syslog-ng is found
 *    (VG_SYSLOG_NG_ROOT, see the script), syslog-ng's own
 *    $(format-cef-extension) must re-encode the decoded values into exactly
 *    our extensions. The test fails unless the script exits 0. Found through
 *    VG_SOURCE_ROOT (set by meson), or the current directory.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vigil/cef.h"

#define VER "0.1.0"
#define TS INT64_C(1795572857123456)    /* 2026-11-25T02:14:17.123456Z */
#define FIRST INT64_C(1795572849000000) /* 2026-11-25T02:14:09Z */
#define ID "5735151bd8aa74ca0000000000000003"
#define MSG "Failed password for invalid user ubuntu from 185.220.101.34 port 40398 ssh2"

static vg_str S(const char *s)
{
    return vg_str_c(s);
}

static vg_str B(const char *p, size_t n)
{
    return vg_str_n(p, n);
}

static void add_field(vg_alert *al, const char *k, vg_str v)
{
    al->fields[al->nfields].key = S(k);
    al->fields[al->nfields].val = v;
    al->nfields++;
}

static vg_alert full_alert(void)
{
    vg_alert al = {0};
    al.seq = 3;
    al.id = S(ID);
    al.rule_id = S("ssh.bruteforce");
    al.rule_name = S("SSH brute force from one source");
    al.kind = S("event_count");
    al.level = 10;
    al.ts_us = TS;
    al.first_us = FIRST;
    al.count = 6;
    al.host = S("bastion-hn01");
    al.app = S("sshd");
    al.src = S("10.20.0.5");
    al.agency = S("aviation");
    al.site = S("tan-son-nhat");
    al.message = S(MSG);
    add_field(&al, "user", S("ubuntu"));
    add_field(&al, "src_ip", S("185.220.101.34"));
    add_field(&al, "src_port", S("40398"));
    add_field(&al, "method", S("password"));
    add_field(&al, "dst_ip", S("10.20.0.7"));
    add_field(&al, "dst_port", S("22"));
    add_field(&al, "target_user", S("root"));
    add_field(&al, "session", S("4242"));
    al.tags[al.ntags++] = S("attack.credential_access");
    al.tags[al.ntags++] = S("attack.t1110.001");
    al.raw[al.nraw++] = S("<38>Nov 25 02:14:17 bastion-hn01 sshd[20313]: " MSG);
    return al;
}

/* A match alert with nothing but what every alert has. */
static vg_alert min_alert(void)
{
    vg_alert al = {0};
    al.rule_id = S("vigil.test");
    al.ts_us = INT64_C(1795572857000000);
    al.count = 1;
    return al;
}

/* Prints a line with its control characters visible. */
static void show(const char *what, const char *p, size_t n)
{
    printf("%s (%zu bytes): ", what, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\t')
            fputs("<TAB>", stdout);
        else if (c < 0x20 || c >= 0x7f)
            printf("<%02X>", c);
        else
            putchar(c);
    }
    putchar('\n');
}

#define assert_line(b, exp) assert_line_((b), (exp), sizeof(exp) - 1, __LINE__)
static void assert_line_(const vg_buf *b, const char *exp, size_t n, int line)
{
    if (b->len == n && memcmp(b->p, exp, n) == 0)
        return;
    printf("line %d: output differs\n", line);
    show("  got", b->p, b->len);
    show("  exp", exp, n);
    ck_abort_msg("line %d: output differs (see above)", line);
}

static vg_buf cef(const vg_alert *al)
{
    vg_buf b = {0};
    ck_assert_int_eq(vg_cef_alert(&b, al, VER), 0);
    return b;
}

static vg_buf leef(const vg_alert *al, char delim)
{
    vg_buf b = {0};
    vg_leef_opts o = {.delim = delim};
    ck_assert_int_eq(vg_leef_alert(&b, al, VER, &o), 0);
    return b;
}

/* ---- exact lines ----------------------------------------------------------- */

START_TEST(test_cef_full)
{
    vg_alert al = full_alert();
    vg_buf b = cef(&al);
    assert_line(&b, "CEF:0|Vigil|vigil|0.1.0|ssh.bruteforce|SSH brute force from one source|7|"
                    "rt=1795572857123 start=1795572849000 end=1795572857123 src=185.220.101.34 "
                    "spt=40398 dst=10.20.0.7 dpt=22 suser=ubuntu duser=root dvchost=bastion-hn01 "
                    "dvc=10.20.0.5 cnt=6 msg=" MSG " cs1Label=rule.kind cs1=event_count "
                    "cs2Label=agency cs2=aviation cs3Label=site cs3=tan-son-nhat cs4Label=tags "
                    "cs4=attack.credential_access,attack.t1110.001 cs5Label=alert.id cs5=" ID
                    " cs6Label=fields cs6=method\\=password;session\\=4242 "
                    "deviceProcessName=sshd externalId=" ID);
    vg_buf_free(&b);
}
END_TEST

START_TEST(test_cef_minimal)
{
    vg_alert al = min_alert();
    vg_buf b = cef(&al);
    assert_line(&b, "CEF:0|Vigil|vigil|0.1.0|vigil.test|vigil.test|0|rt=1795572857000 "
                    "start=1795572857000 end=1795572857000 cnt=1 cs1Label=rule.kind cs1=match "
                    "cs2Label=agency cs2=unknown cs3Label=site cs3=unknown");
    vg_buf_free(&b);
    /* a NULL version is an empty field; times before 1970 round down */
    al.ts_us = -1500;
    b = (vg_buf){0};
    ck_assert_int_eq(vg_cef_alert(&b, &al, NULL), 0);
    assert_line(&b, "CEF:0|Vigil|vigil||vigil.test|vigil.test|0|rt=-2 start=-2 end=-2 cnt=1 "
                    "cs1Label=rule.kind cs1=match cs2Label=agency cs2=unknown cs3Label=site "
                    "cs3=unknown");
    vg_buf_free(&b);
}
END_TEST

START_TEST(test_leef_full_tab)
{
    vg_alert al = full_alert();
    vg_buf b = {0};
    ck_assert_int_eq(vg_leef_alert(&b, &al, VER, NULL), 0); /* NULL options: tab */
    assert_line(&b, "LEEF:2.0|Vigil|vigil|0.1.0|ssh.bruteforce|x09|"
                    "devTime=2026-11-25T02:14:17.123+0000\t"
                    "devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ\tsrc=185.220.101.34\tsrcPort=40398\t"
                    "dst=10.20.0.7\tdstPort=22\tusrName=ubuntu\tsev=7\tcat=event_count\t"
                    "identHostName=bastion-hn01\ttargetUsrName=root\tsender=10.20.0.5\tcount=6\t"
                    "startTime=2026-11-25T02:14:09.000+0000\t"
                    "ruleName=SSH brute force from one source\tmsg=" MSG "\tagency=aviation\t"
                    "site=tan-son-nhat\ttags=attack.credential_access,attack.t1110.001\t"
                    "alertId=" ID "\tprocess=sshd\tfield_method=password\tfield_session=4242");
    vg_buf c = leef(&al, '\t');
    ck_assert_uint_eq(c.len, b.len);
    ck_assert(memcmp(c.p, b.p, b.len) == 0);
    vg_buf_free(&b);
    vg_buf_free(&c);
}
END_TEST

START_TEST(test_leef_minimal_caret)
{
    vg_alert al = min_alert();
    vg_buf b = leef(&al, '^');
    assert_line(&b, "LEEF:2.0|Vigil|vigil|0.1.0|vigil.test|^|devTime=2026-11-25T02:14:17.000+0000"
                    "^devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ^sev=1^cat=match^count=1"
                    "^startTime=2026-11-25T02:14:17.000+0000^agency=unknown^site=unknown");
    vg_buf_free(&b);
}
END_TEST

/* Cut raw lines: CEF's flexString1 and LEEF's rawTruncated list their
 * positions; an alert whose lines are whole has neither key. */
START_TEST(test_raw_truncated)
{
    vg_alert al = min_alert();
    al.raw[al.nraw++] = vg_str_c("whole");
    al.raw[al.nraw++] = vg_str_c("cut");
    al.raw[al.nraw++] = vg_str_c("cut too");
    al.raw_cut = (1u << 1) | (1u << 2);
    vg_buf b = cef(&al);
    assert_line(&b, "CEF:0|Vigil|vigil|0.1.0|vigil.test|vigil.test|0|rt=1795572857000 "
                    "start=1795572857000 end=1795572857000 cnt=1 cs1Label=rule.kind cs1=match "
                    "cs2Label=agency cs2=unknown cs3Label=site cs3=unknown "
                    "flexString1Label=raw.truncated flexString1=1,2");
    vg_buf_free(&b);
    b = leef(&al, '^');
    assert_line(&b, "LEEF:2.0|Vigil|vigil|0.1.0|vigil.test|^|devTime=2026-11-25T02:14:17.000+0000"
                    "^devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ^sev=1^cat=match^count=1"
                    "^startTime=2026-11-25T02:14:17.000+0000^agency=unknown^site=unknown"
                    "^rawTruncated=1,2");
    vg_buf_free(&b);
    al.raw_cut = 0; /* whole lines: the minimal lines, unchanged */
    b = cef(&al);
    assert_line(&b, "CEF:0|Vigil|vigil|0.1.0|vigil.test|vigil.test|0|rt=1795572857000 "
                    "start=1795572857000 end=1795572857000 cnt=1 cs1Label=rule.kind cs1=match "
                    "cs2Label=agency cs2=unknown cs3Label=site cs3=unknown");
    vg_buf_free(&b);
    b = leef(&al, '^');
    assert_line(&b, "LEEF:2.0|Vigil|vigil|0.1.0|vigil.test|^|devTime=2026-11-25T02:14:17.000+0000"
                    "^devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ^sev=1^cat=match^count=1"
                    "^startTime=2026-11-25T02:14:17.000+0000^agency=unknown^site=unknown");
    vg_buf_free(&b);
}
END_TEST

/* ---- escaping ---------------------------------------------------------------- */

START_TEST(test_cef_header_escape)
{
    vg_alert al = min_alert();
    al.rule_id = S("a\\b|c=d");
    al.rule_name = S("x\r\ny|z\\");
    vg_buf b = {0};
    ck_assert_int_eq(vg_cef_alert(&b, &al, "1|2\\3\n"), 0);
    /* \ and | escaped, = as it is, CR and LF each a space */
    assert_line(&b, "CEF:0|Vigil|vigil|1\\|2\\\\3 |a\\\\b\\|c=d|x  y\\|z\\\\|0|rt=1795572857000 "
                    "start=1795572857000 end=1795572857000 cnt=1 cs1Label=rule.kind cs1=match "
                    "cs2Label=agency cs2=unknown cs3Label=site cs3=unknown");
    vg_buf_free(&b);
}
END_TEST

START_TEST(test_cef_extension_escape)
{
    vg_alert al = min_alert();
    /* \ = CR LF escaped, | as it is; a fake " key=" cannot start a key */
    al.message = S("C:\\dir a=b | pipe\r\nnext cs1=evil \\");
    al.host = S("h=1|\\");
    al.kind = S("k\n");
    vg_buf b = cef(&al);
    assert_line(&b, "CEF:0|Vigil|vigil|0.1.0|vigil.test|vigil.test|0|rt=1795572857000 "
                    "start=1795572857000 end=1795572857000 dvchost=h\\=1|\\\\ cnt=1 "
                    "msg=C:\\\\dir a\\=b | pipe\\r\\nnext cs1\\=evil \\\\ cs1Label=rule.kind "
                    "cs1=k\\n cs2Label=agency cs2=unknown cs3Label=site cs3=unknown");
    vg_buf_free(&b);
}
END_TEST

START_TEST(test_cef_list_escape)
{
    vg_alert al = min_alert();
    /* cs4 elements escape \ and ','; cs6 names \ ; =, values \ and ';'
     * (then the whole value is CEF-escaped) so the lists split back; an
     * empty tag is left out */
    al.tags[al.ntags++] = S("a,b");
    al.tags[al.ntags++] = S("");
    al.tags[al.ntags++] = S("c\\d");
    add_field(&al, "q", S("a;b=c\\d\n"));
    add_field(&al, "x=y;z", S("v"));
    vg_buf b = cef(&al);
    assert_line(&b, "CEF:0|Vigil|vigil|0.1.0|vigil.test|vigil.test|0|rt=1795572857000 "
                    "start=1795572857000 end=1795572857000 cnt=1 cs1Label=rule.kind cs1=match "
                    "cs2Label=agency cs2=unknown cs3Label=site cs3=unknown cs4Label=tags "
                    "cs4=a\\\\,b,c\\\\\\\\d cs6Label=fields "
                    "cs6=q\\=a\\\\;b\\=c\\\\\\\\d\\n;x\\\\\\=y\\\\;z\\=v");
    vg_buf_free(&b);
}
END_TEST

START_TEST(test_utf8_and_controls)
{
    vg_alert al = min_alert();
    /* invalid bytes one U+FFFD each (\xC3 before '(' is a truncated
     * sequence, \xED\xA0\x80 a surrogate); valid UTF-8 kept; C0 controls
     * other than TAB (and CR/LF, escaped) become U+FFFD; NUL too */
    static const char msg[] = "ok \xff\xc3( \xc3\xa9 \xed\xa0\x80 \x01\x00 \t\xf0\x9f\x98\x80";
    al.message = B(msg, sizeof(msg) - 1);
    al.rule_name = S("bad \xc0\xaf name");
#define R "\xef\xbf\xbd"
    vg_buf b = cef(&al);
    assert_line(&b, "CEF:0|Vigil|vigil|0.1.0|vigil.test|bad " R R " name|0|rt=1795572857000 "
                    "start=1795572857000 end=1795572857000 cnt=1 msg=ok " R R "( \xc3\xa9 " R R R
                    " " R R " \t\xf0\x9f\x98\x80 cs1Label=rule.kind cs1=match cs2Label=agency "
                    "cs2=unknown cs3Label=site cs3=unknown");
    vg_buf_free(&b);
    b = leef(&al, '^');
    assert_line(&b, "LEEF:2.0|Vigil|vigil|0.1.0|vigil.test|^|devTime=2026-11-25T02:14:17.000+0000"
                    "^devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ^sev=1^cat=match^count=1"
                    "^startTime=2026-11-25T02:14:17.000+0000^ruleName=bad " R R " name"
                    "^msg=ok " R R "( \xc3\xa9 " R R R " " R R " \t\xf0\x9f\x98\x80"
                    "^agency=unknown^site=unknown");
    vg_buf_free(&b);
#undef R
}
END_TEST

START_TEST(test_leef_delimiter_in_values)
{
    vg_alert al = min_alert();
    al.rule_id = S("a|b\nc");
    al.message = S("x^y\tz=1 | \\ \r\nend");
    al.host = S("^");
    /* tab delimiter: tabs, CR and LF in values become spaces; ^ = | \ stay */
    vg_buf b = leef(&al, '\t');
    assert_line(&b, "LEEF:2.0|Vigil|vigil|0.1.0|a b c|x09|devTime=2026-11-25T02:14:17.000+0000\t"
                    "devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ\tsev=1\tcat=match\tidentHostName=^\t"
                    "count=1\tstartTime=2026-11-25T02:14:17.000+0000\t"
                    "msg=x^y z=1 | \\   end\tagency=unknown\tsite=unknown");
    vg_buf_free(&b);
    /* '^' delimiter: each ^ in a value becomes a space, tabs stay */
    b = leef(&al, '^');
    assert_line(&b, "LEEF:2.0|Vigil|vigil|0.1.0|a b c|^|devTime=2026-11-25T02:14:17.000+0000"
                    "^devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ^sev=1^cat=match^identHostName= "
                    "^count=1^startTime=2026-11-25T02:14:17.000+0000"
                    "^msg=x y\tz=1 | \\   end^agency=unknown^site=unknown");
    vg_buf_free(&b);
}
END_TEST

/* ---- mapping ------------------------------------------------------------------- */

START_TEST(test_severity)
{
    static const int cef_sev[16] = {0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 9, 9, 10};
    for (int l = 0; l <= 15; l++) {
        ck_assert_int_eq(vg_cef_severity(l), cef_sev[l]);
        ck_assert_int_eq(vg_leef_severity(l), cef_sev[l] ? cef_sev[l] : 1);
    }
    ck_assert_int_eq(vg_cef_severity(0), 0);
    ck_assert_int_eq(vg_cef_severity(7), 5);
    ck_assert_int_eq(vg_cef_severity(8), 5);
    ck_assert_int_eq(vg_cef_severity(15), 10);
    ck_assert_int_eq(vg_cef_severity(-3), 0);
    ck_assert_int_eq(vg_cef_severity(16), 10);
    ck_assert_int_eq(vg_cef_severity(INT32_MIN), 0);
    ck_assert_int_eq(vg_cef_severity(INT32_MAX), 10);
    ck_assert_int_eq(vg_leef_severity(0), 1);
    ck_assert_int_eq(vg_leef_severity(7), 5);
    ck_assert_int_eq(vg_leef_severity(8), 5);
    ck_assert_int_eq(vg_leef_severity(15), 10);

    static const struct {
        int32_t level;
        const char *cef, *leef;
    } in_line[] = {{0, "|0|rt=", "\tsev=1\t"},
                   {7, "|5|rt=", "\tsev=5\t"},
                   {8, "|5|rt=", "\tsev=5\t"},
                   {15, "|10|rt=", "\tsev=10\t"}};
    for (size_t i = 0; i < sizeof(in_line) / sizeof(in_line[0]); i++) {
        vg_alert al = min_alert();
        al.level = in_line[i].level;
        vg_buf b = cef(&al);
        vg_buf_addc(&b, '\0');
        ck_assert_msg(strstr(b.p, in_line[i].cef), "level %d: %s", al.level, b.p);
        vg_buf_free(&b);
        b = leef(&al, 0);
        vg_buf_addc(&b, '\0');
        ck_assert_msg(strstr(b.p, in_line[i].leef), "level %d: %s", al.level, b.p);
        vg_buf_free(&b);
    }
}
END_TEST

START_TEST(test_captures_missing_or_invalid)
{
    vg_alert al = min_alert();
    al.src = S("unix");
    add_field(&al, "src_ip", S("not-an-ip"));
    add_field(&al, "src_port", S("70000"));
    add_field(&al, "dst_ip", S("1.2.3"));
    add_field(&al, "dst_port", S("-1"));
    add_field(&al, "user", S(""));
    /* none of the formats' own keys; all kept as custom fields */
    vg_buf b = cef(&al);
    assert_line(&b, "CEF:0|Vigil|vigil|0.1.0|vigil.test|vigil.test|0|rt=1795572857000 "
                    "start=1795572857000 end=1795572857000 cnt=1 cs1Label=rule.kind cs1=match "
                    "cs2Label=agency cs2=unknown cs3Label=site cs3=unknown cs6Label=fields "
                    "cs6=src_ip\\=not-an-ip;src_port\\=70000;dst_ip\\=1.2.3;dst_port\\=-1;user\\=");
    vg_buf_free(&b);
    b = leef(&al, '^');
    assert_line(&b, "LEEF:2.0|Vigil|vigil|0.1.0|vigil.test|^|devTime=2026-11-25T02:14:17.000+0000"
                    "^devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ^sev=1^cat=match^sender=unix"
                    "^count=1^startTime=2026-11-25T02:14:17.000+0000^agency=unknown^site=unknown"
                    "^field_src_ip=not-an-ip^field_src_port=70000^field_dst_ip=1.2.3"
                    "^field_dst_port=-1");
    vg_buf_free(&b);

    /* IPv6; the first valid capture of a name wins, the others are fields;
     * a sender with a port gives dvc without it */
    al = min_alert();
    al.src = S("[2001:db8::5]:514");
    add_field(&al, "src_ip", S("999.1.1.1"));
    add_field(&al, "src_ip", S("2001:db8::1"));
    add_field(&al, "src_ip", S("192.0.2.1"));
    add_field(&al, "dup", S("1"));
    add_field(&al, "dup", S("2"));
    b = cef(&al);
    assert_line(&b, "CEF:0|Vigil|vigil|0.1.0|vigil.test|vigil.test|0|rt=1795572857000 "
                    "start=1795572857000 end=1795572857000 src=2001:db8::1 dvc=2001:db8::5 cnt=1 "
                    "cs1Label=rule.kind cs1=match cs2Label=agency cs2=unknown cs3Label=site "
                    "cs3=unknown cs6Label=fields "
                    "cs6=src_ip\\=999.1.1.1;src_ip\\=192.0.2.1;dup\\=1;dup\\=2");
    vg_buf_free(&b);
    /* LEEF keys are unique: the first of a name */
    b = leef(&al, '^');
    assert_line(&b, "LEEF:2.0|Vigil|vigil|0.1.0|vigil.test|^|devTime=2026-11-25T02:14:17.000+0000"
                    "^devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ^src=2001:db8::1^sev=1^cat=match"
                    "^sender=[2001:db8::5]:514^count=1^startTime=2026-11-25T02:14:17.000+0000"
                    "^agency=unknown^site=unknown^field_src_ip=999.1.1.1^field_dup=1");
    vg_buf_free(&b);

    /* ports with leading zeros are written as the integer, as in ECS
     * (source.port: 398): a SIEM may read "0398" as octal or refuse it */
    al = min_alert();
    add_field(&al, "src_port", S("0398"));
    add_field(&al, "dst_port", S("00000"));
    b = cef(&al);
    assert_line(&b, "CEF:0|Vigil|vigil|0.1.0|vigil.test|vigil.test|0|rt=1795572857000 "
                    "start=1795572857000 end=1795572857000 spt=398 dpt=0 cnt=1 "
                    "cs1Label=rule.kind cs1=match cs2Label=agency cs2=unknown cs3Label=site "
                    "cs3=unknown");
    vg_buf_free(&b);
    b = leef(&al, '^');
    vg_buf_addc(&b, '\0');
    ck_assert_msg(strstr(b.p, "^srcPort=398^dstPort=0^"), "%s", b.p);
    vg_buf_free(&b);

    static const struct {
        const char *sender, *dvc;
    } senders[] = {{"10.0.0.1", " dvc=10.0.0.1 "},   {"10.0.0.1:514", " dvc=10.0.0.1 "},
                   {"::1", " dvc=::1 "},             {"[::1]:514", " dvc=::1 "},
                   {"10.0.0.1:99999", NULL},         {"[::1]", NULL},
                   {"::1:514x", NULL},               {"unknown", NULL},
                   {"host.example:514", NULL},       {"[10.0.0.1]:514", NULL}};
    for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
        al = min_alert();
        al.src = S(senders[i].sender);
        b = cef(&al);
        vg_buf_addc(&b, '\0');
        if (senders[i].dvc)
            ck_assert_msg(strstr(b.p, senders[i].dvc), "%s: %s", senders[i].sender, b.p);
        else
            ck_assert_msg(!strstr(b.p, " dvc="), "%s: %s", senders[i].sender, b.p);
        vg_buf_free(&b);
    }
}
END_TEST

START_TEST(test_bounds)
{
    static char big[4 * 1200 + 1];
    vg_alert al = min_alert();
    vg_buf b;

    /* msg: at most 1023 decoded bytes, cut between characters; escapes do
     * not count */
    memset(big, 'a', 1100);
    al.message = B(big, 1100);
    b = cef(&al);
    vg_buf_addc(&b, '\0');
    char *m = strstr(b.p, " msg=");
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(strcspn(m + 5, " "), 1023);
    vg_buf_free(&b);
    for (int i = 0; i < 600; i++)
        memcpy(big + 2 * i, "\xc3\xa9", 2); /* 2-byte characters: 511 fit */
    al.message = B(big, 1200);
    b = cef(&al);
    vg_buf_addc(&b, '\0');
    m = strstr(b.p, " msg=");
    ck_assert_uint_eq(strcspn(m + 5, " "), 1022);
    vg_buf_free(&b);
    memset(big, '\\', 1100);
    al.message = B(big, 1100);
    b = cef(&al);
    vg_buf_addc(&b, '\0');
    m = strstr(b.p, " msg=");
    ck_assert_uint_eq(strcspn(m + 5, " "), 2046);
    vg_buf_free(&b);

    /* dvchost 100, externalId 40 (cs5 keeps the whole id) */
    al = min_alert();
    memset(big, 'h', 150);
    al.host = B(big, 150);
    al.id = B(big, 50);
    b = cef(&al);
    vg_buf_addc(&b, '\0');
    ck_assert_uint_eq(strcspn(strstr(b.p, " dvchost=") + 9, " "), 100);
    ck_assert_uint_eq(strcspn(strstr(b.p, " externalId=") + 12, " "), 40);
    ck_assert_uint_eq(strcspn(strstr(b.p, " cs5=") + 5, " "), 50);
    vg_buf_free(&b);

    /* cs6: whole fields only, within 4000 bytes: 13 of "fNN=" + 300 */
    al = min_alert();
    static char names[VG_ALERT_MAX_FIELDS][4];
    memset(big, 'v', 300);
    for (int i = 0; i < VG_ALERT_MAX_FIELDS; i++) {
        snprintf(names[i], sizeof(names[i]), "f%02d", i);
        add_field(&al, names[i], B(big, 300));
    }
    b = cef(&al);
    vg_buf_addc(&b, '\0');
    m = strstr(b.p, " cs6=");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m, ";f12\\="));
    ck_assert_ptr_null(strstr(m, "f13"));
    size_t decoded = 0;
    for (const char *p = m + 5; *p && *p != ' '; p++)
        decoded += *p != '\\';
    ck_assert_uint_eq(decoded, 13 * 304 + 12);
    vg_buf_free(&b);

    /* LEEF: every value at most 1023 bytes */
    al = min_alert();
    memset(big, 'a', 1100);
    al.message = B(big, 1100);
    b = leef(&al, '^');
    vg_buf_addc(&b, '\0');
    m = strstr(b.p, "^msg=");
    ck_assert_uint_eq(strcspn(m + 5, "^"), 1023);
    vg_buf_free(&b);
}
END_TEST

/* ---- delimiter, buffer contract ------------------------------------------------- */

START_TEST(test_leef_delim_parse)
{
    static const struct {
        const char *s;
        char d;
    } ok[] = {{"^", '^'},    {"\t", '\t'},   {"x09", '\t'}, {"0x09", '\t'}, {"X09", '\t'},
              {"0X5e", '^'}, {"x5E", '^'},   {"x9", '\t'},  {"~", '~'},     {";", ';'},
              {"/", '/'},    {"0x7e", '~'},  {"#", '#'},    {"@", '@'}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char d = 0;
        ck_assert_msg(vg_leef_delim_parse(ok[i].s, &d) == 0, "'%s' refused", ok[i].s);
        ck_assert_int_eq(d, ok[i].d);
    }
    static const char *const bad[] = {"",    "x",   "0x",   "x0g", "x3D", "x3d", "=",
                                      "|",   "x7C", "\\",   "7C",  "ab",  "0x123",
                                      "x20", " ",   "a",    "0",   "_",   "-",
                                      ".",   ":",   "'",    "+",   "x0A", "\n",
                                      "x00", "xff", "\xc3", ",",   "x2C"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char d = 'Q';
        ck_assert_msg(vg_leef_delim_parse(bad[i], &d) == -EINVAL, "'%s' accepted", bad[i]);
        ck_assert_int_eq(d, 'Q');
    }
}
END_TEST

START_TEST(test_buffer_contract)
{
    vg_alert al = full_alert();
    vg_buf b = {0};
    vg_buf_adds(&b, "prefix:");
    b.oom = 1; /* cleared on entry */
    ck_assert_int_eq(vg_cef_alert(&b, &al, VER), 0);
    ck_assert_int_eq(b.oom, 0);
    ck_assert(memcmp(b.p, "prefix:CEF:0|", 13) == 0);
    ck_assert(b.p[b.len - 1] != '\n'); /* no trailing newline */
    size_t len = b.len;
    static const char refused[] = {'=', '|', '\\', ',', ' ', 'a', '\n', '-', (char)0xc3};
    for (size_t i = 0; i < sizeof(refused); i++) {
        vg_leef_opts o = {.delim = refused[i]};
        ck_assert_int_eq(vg_leef_alert(&b, &al, VER, &o), -EINVAL);
        ck_assert_uint_eq(b.len, len);
    }
    vg_leef_opts o = {.delim = '~'};
    ck_assert_int_eq(vg_leef_alert(&b, &al, VER, &o), 0);
    ck_assert(memcmp(b.p + len, "LEEF:2.0|Vigil|vigil|0.1.0|ssh.bruteforce|~|devTime=", 52) == 0);
    ck_assert(b.p[b.len - 1] != '\n');
    vg_buf_free(&b);
}
END_TEST

/* ---- cross-check with the independent parser -------------------------------------- */

static void hex(FILE *f, vg_str v)
{
    if (!v.p) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (uint32_t i = 0; i < v.len; i++)
        fprintf(f, "%02x", (unsigned char)v.p[i]);
    fputc('"', f);
}

/* One record for cef_check.py: the raw alert as JSON (strings in hex),
 * then the line. */
static void record(FILE *f, const vg_alert *al, const char *ver, int is_leef, char delim)
{
    vg_buf b = {0};
    vg_leef_opts o = {.delim = delim};
    int rc = is_leef ? vg_leef_alert(&b, al, ver, &o) : vg_cef_alert(&b, al, ver);
    ck_assert_int_eq(rc, 0);
    fprintf(f, "{\"format\":\"%s\",", is_leef ? "leef" : "cef");
    if (is_leef)
        fprintf(f, delim == '\t' ? "\"delim\":\"\\t\"," : "\"delim\":\"%c\",", delim);
    fputs("\"version\":", f);
    hex(f, vg_str_c(ver));
    fputs(",\"alert\":{\"id\":", f);
    hex(f, al->id);
    static const char *const names[] = {"rule_id", "rule_name", "kind",  "host", "app",
                                        "src",     "agency",    "site", "message"};
    const vg_str vals[] = {al->rule_id, al->rule_name, al->kind,  al->host,   al->app,
                           al->src,     al->agency,    al->site, al->message};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        fprintf(f, ",\"%s\":", names[i]);
        hex(f, vals[i]);
    }
    fprintf(f, ",\"level\":%d,\"ts_us\":%lld,\"first_us\":%lld,\"count\":%llu,\"fields\":[",
            (int)al->level, (long long)al->ts_us, (long long)al->first_us,
            (unsigned long long)al->count);
    for (uint32_t i = 0; i < al->nfields; i++) {
        fputs(i ? ",[" : "[", f);
        hex(f, al->fields[i].key);
        fputc(',', f);
        hex(f, al->fields[i].val);
        fputc(']', f);
    }
    fputs("],\"tags\":[", f);
    for (uint32_t i = 0; i < al->ntags; i++) {
        if (i)
            fputc(',', f);
        hex(f, al->tags[i]);
    }
    fputs("]}}\n", f);
    fwrite(b.p, 1, b.len, f);
    fputc('\n', f);
    vg_buf_free(&b);
}

/* Deterministic pseudo-random alerts (xorshift64*). */
static uint64_t rng = UINT64_C(0x9E3779B97F4A7C15);
static uint64_t rnd64(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * UINT64_C(2685821657736338717);
}
static uint32_t rnd(uint32_t n)
{
    return (uint32_t)(rnd64() % n);
}

static char arena[1 << 16];
static size_t arena_len;

#define F(s) {s, sizeof(s) - 1}
static const struct {
    const char *p;
    size_t n;
} frags[] = {F("a"),        F("Z9"),         F(" "),          F("\\"),       F("|"),
             F("="),        F("\n"),         F("\r"),         F(";"),        F(","),
             F("\t"),       F("^"),          F("~"),          F("\xc3\xa9"), F("\xe2\x82\xac"),
             F("\xf0\x9f\x98\x80"), F("\xff"), F("\xc3"),     F("\xe2\x82"), F("\xed\xa0\x80"),
             F("\xc0\xaf"), F("\xf4\x90\x80\x80"), F("\x01"), F("\0"),       F("\x1f"),
             F(" cs1="),    F(" x=y"),       F("k=v"),        F("\\="),      F("\\|"),
             F("x09"),      F("\\n"),        F("  "),         F("#"),        F("@")};

static vg_str rnd_str(int absent_ok, int maxfrags)
{
    if (absent_ok && rnd(8) == 0)
        return VG_STR_NULL;
    size_t start = arena_len, n = rnd((uint32_t)maxfrags + 1);
    for (size_t i = 0; i < n; i++) {
        size_t k = rnd(sizeof(frags) / sizeof(frags[0]));
        if (arena_len + frags[k].n > sizeof(arena))
            break;
        memcpy(arena + arena_len, frags[k].p, frags[k].n);
        arena_len += frags[k].n;
    }
    return B(arena + start, arena_len - start);
}

static vg_str pick(const char *const *list, size_t n)
{
    if (rnd(4) == 0)
        return rnd_str(0, 4);
    return S(list[rnd((uint32_t)n)]);
}
#define PICK(l) pick((l), sizeof(l) / sizeof((l)[0]))

static vg_alert rnd_alert(void)
{
    static const char *const names[] = {"src_ip", "src_port", "dst_ip", "dst_port", "user",
                                        "target_user", "method", "a;b", "k=v", "dup",
                                        "x y", "\xc3\xa9t\xc3\xa9", "p\\q"};
    static const char *const ips[] = {"185.220.101.34", "2001:db8::1", "::ffff:1.2.3.4",
                                      "999.1.1.1",      "1.2.3",       "01.2.3.4",
                                      "fe80::1%eth0",   " 1.2.3.4",    ""};
    static const char *const ports[] = {"22", "0", "65535", "65536", "-1", "022", "123456", ""};
    static const char *const senders[] = {"10.20.0.5",       "unix",           "unknown",
                                          "10.0.0.1:514",    "[2001:db8::5]:514", "::1",
                                          "[2001:db8::5]",   "10.0.0.1:99999", "1.2.3.4:",
                                          "[::1]:",          "a:b:514"};
    vg_alert al = {0};
    arena_len = 0;
    al.id = rnd(3) ? S(ID) : rnd_str(1, 6);
    al.rule_id = rnd_str(1, 6);
    al.rule_name = rnd_str(1, 8);
    al.kind = rnd_str(1, 3);
    al.level = (int32_t)rnd(20) - 2;
    al.ts_us = (int64_t)(rnd64() % UINT64_C(4102444800000000));
    al.first_us = rnd(2) ? 0 : (int64_t)((uint64_t)al.ts_us - rnd64() % (uint64_t)(al.ts_us + 1));
    static const uint64_t counts[] = {0, 1, 6, UINT64_C(2147483647), UINT64_C(2147483648),
                                      UINT64_C(1) << 40};
    al.count = counts[rnd(sizeof(counts) / sizeof(counts[0]))];
    al.host = rnd_str(1, 6);
    al.app = rnd_str(1, 3);
    al.src = PICK(senders);
    al.agency = rnd_str(1, 3);
    al.site = rnd_str(1, 3);
    al.message = rnd(20) ? rnd_str(1, 12) : rnd_str(0, 600); /* sometimes past the bound */
    al.nfields = rnd(9);
    for (uint32_t i = 0; i < al.nfields; i++) {
        const char *k = names[rnd(sizeof(names) / sizeof(names[0]))];
        al.fields[i].key = rnd(10) ? S(k) : rnd_str(0, 3);
        if (strstr(k, "_ip"))
            al.fields[i].val = PICK(ips);
        else if (strstr(k, "_port"))
            al.fields[i].val = PICK(ports);
        else
            al.fields[i].val = rnd_str(0, 6);
    }
    al.ntags = rnd(5);
    for (uint32_t i = 0; i < al.ntags; i++)
        al.tags[i] = rnd(2) ? S("attack.t1110") : rnd_str(0, 4);
    return al;
}

static void checker(char *out, size_t cap)
{
    const char *root = getenv("VG_SOURCE_ROOT");
    snprintf(out, cap, "%s/tests/support/cef_check.sh", root ? root : ".");
}

START_TEST(test_cross_check)
{
    char dir[] = "/tmp/vg-cef-XXXXXX", path[64], script[4096];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/lines", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);

    /* the hand-made alerts above */
    vg_alert al = full_alert();
    record(f, &al, VER, 0, 0);
    record(f, &al, VER, 1, '\t');
    record(f, &al, VER, 1, '^');
    al = min_alert();
    record(f, &al, VER, 0, 0);
    record(f, &al, NULL, 1, '^');
    al.rule_id = S("a\\b|c=d");
    al.rule_name = S("x\r\ny|z\\");
    al.message = S("C:\\dir a=b | pipe\r\nnext cs1=evil \\^\t");
    al.tags[al.ntags++] = S("a,b");
    al.tags[al.ntags++] = S("c\\d");
    add_field(&al, "q", S("a;b=c\\d\n"));
    add_field(&al, "x=y;z", S("v"));
    record(f, &al, "1|2\\3\n", 0, 0);
    record(f, &al, "1|2\\3\n", 1, '\t');
    record(f, &al, "1|2\\3\n", 1, '^');

    /* and pseudo-random ones, each in CEF and in LEEF */
    static const char delims[] = {'\t', '^', '~', ';', '#', '!', '@', '/'};
    for (int i = 0; i < 600; i++) {
        al = rnd_alert();
        const char *ver = rnd(2) ? VER : NULL;
        record(f, &al, ver, 0, 0);
        record(f, &al, ver, 1, delims[rnd(sizeof(delims))]);
    }
    ck_assert_int_eq(fclose(f), 0);

    checker(script, sizeof(script));
    fflush(stdout);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execlp("sh", "sh", script, path, (char *)NULL);
        perror("sh");
        _exit(127);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    unlink(path);
    rmdir(dir);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "%s reported mismatches (status %d, see above)", script, st);
}
END_TEST

static Suite *cef_suite(void)
{
    Suite *s = suite_create("cef");
    TCase *t = tcase_create("lines");
    tcase_add_test(t, test_cef_full);
    tcase_add_test(t, test_cef_minimal);
    tcase_add_test(t, test_leef_full_tab);
    tcase_add_test(t, test_leef_minimal_caret);
    tcase_add_test(t, test_raw_truncated);
    tcase_add_test(t, test_cef_header_escape);
    tcase_add_test(t, test_cef_extension_escape);
    tcase_add_test(t, test_cef_list_escape);
    tcase_add_test(t, test_utf8_and_controls);
    tcase_add_test(t, test_leef_delimiter_in_values);
    tcase_add_test(t, test_severity);
    tcase_add_test(t, test_captures_missing_or_invalid);
    tcase_add_test(t, test_bounds);
    tcase_add_test(t, test_leef_delim_parse);
    tcase_add_test(t, test_buffer_contract);
    suite_add_tcase(s, t);
    TCase *x = tcase_create("cross-check");
    tcase_set_timeout(x, 120);
    tcase_add_test(x, test_cross_check);
    suite_add_tcase(s, x);
    return s;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    SRunner *sr = srunner_create(cef_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
