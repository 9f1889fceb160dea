/* Unit tests for collector/col_frame.c (RFC 6587 framing): exact messages
 * and flags for each kind of frame, and the same messages whatever the
 * reads are cut into (fuzz/fuzz_frame.c does the same at random). */
#include "col_frame.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct got {
    int n;
    char text[512];
    uint64_t skipped; /* the framer's skipped count at the end */
} got;

/* Messages as "[TEXT]", "[TEXT]!" (longer than max), "[TEXT]~" (the
 * stream ended inside its octet-counted frame), "[TEXT]^" (a line the
 * collector's stop cut; "^reset", "^tls", "^idle" one a reset, a TLS end
 * without close_notify, idle_timeout cut), "[TEXT]?" (bytes outside the octet-counted frames
 * of a connection that sent some) or "[]0" (an octet-counted frame of
 * count 0), one after another. */
static void on_msg(void *ud, const char *p, size_t n, int flag)
{
    got *g = ud;
    size_t at = strlen(g->text);
    ck_assert(flag >= 0 && flag <= COL_FRAME_EMPTY);
    ck_assert(flag != COL_FRAME_EMPTY || n == 0);
    snprintf(g->text + at, sizeof(g->text) - at, "[%.*s]%s", (int)n, p,
             flag == COL_FRAME_CUT_SHORT   ? "~"
             : flag == COL_FRAME_CUT_STOP  ? "^"
             : flag == COL_FRAME_CUT_RESET ? "^reset"
             : flag == COL_FRAME_CUT_TLS   ? "^tls"
             : flag == COL_FRAME_CUT_IDLE  ? "^idle"
             : flag == COL_FRAME_DESYNC   ? "?"
             : flag == COL_FRAME_EMPTY    ? "0"
             : flag                       ? "!"
                                          : "");
    g->n++;
}

/* Frames s in reads cut at the offsets cuts[] (ascending, 0-terminated), as
 * the collector does: an unfinished frame is passed again at the front of
 * the next read; eof at the end. */
static void frame(size_t max, const char *s, const size_t *cuts, got *g)
{
    col_framer f = {.max = max};
    char buf[1024];
    size_t len = 0, at = 0, n = strlen(s);
    memset(g, 0, sizeof(*g));
    ck_assert_uint_lt(n, sizeof(buf));
    for (int i = 0;; i++) {
        size_t end = cuts && cuts[i] ? cuts[i] : n;
        memcpy(buf + len, s + at, end - at);
        len += end - at;
        at = end;
        size_t used = col_frame_take(&f, buf, len, at == n, on_msg, g);
        memmove(buf, buf + used, len - used);
        len -= used;
        if (at == n) break;
    }
    ck_assert_uint_eq(len, 0);
    g->skipped = f.skipped;
}

START_TEST(test_kinds)
{
    got g;
    /* lines first: after an octet-counted frame, what is not one is a
     * framing error (test_desync) */
    frame(100, "a b\nc d\r\n\n\r\nabc def\n12x y\n10 <1>octet\nX", NULL, &g);
    ck_assert_str_eq(g.text, "[a b][c d][abc def][12x y][<1>octet\nX]");
    /* longer than max (8): cut, flagged, the rest skipped */
    frame(8, "0123456789\nok\n12 abcdefghijkl7 1234567", NULL, &g);
    ck_assert_str_eq(g.text, "[01234567]![ok][abcdefgh]![1234567]");
    /* the stream ends mid-frame: cut short, not over max */
    frame(100, "20 short", NULL, &g);
    ck_assert_str_eq(g.text, "[short]~");
}
END_TEST

/* A line as long as max followed by CR LF is flagged alike whether its LF
 * comes in the same read or the next: before, it was flagged only when
 * the read ended between the CR and the LF. */
/* What is left when the collector stops reading (a stop whose reading
 * ended while the sender still wrote): a line without its LF is flagged
 * cut, not kept as a whole line (seq=00001234 cut to seq=0000 made an
 * alert for a line nobody sent); at the peer's own EOF it is a line. */
START_TEST(test_cut_by_stop)
{
    got g;
    const char *s = "<13>h app: seq=00001233\n<13>h app: seq=0000";
    memset(&g, 0, sizeof(g));
    col_framer f = {.max = 100};
    ck_assert_uint_eq(col_frame_take(&f, s, strlen(s), COL_FRAME_STOPPED, on_msg, &g), strlen(s));
    ck_assert_str_eq(g.text, "[<13>h app: seq=00001233][<13>h app: seq=0000]^");
    memset(&g, 0, sizeof(g));
    ck_assert_uint_eq(col_frame_take(&f, s, strlen(s), COL_FRAME_EOF, on_msg, &g), strlen(s));
    ck_assert_str_eq(g.text, "[<13>h app: seq=00001233][<13>h app: seq=0000]");
    memset(&g, 0, sizeof(g));
    col_frame_take(&f, "20 short", 8, COL_FRAME_STOPPED, on_msg, &g);
    ck_assert_str_eq(g.text, "[short]~");
}
END_TEST

/* A last line without its LF is a line at the peer's orderly close only:
 * a reset, a TLS end without close_notify and idle_timeout flag it cut,
 * each by its own flag (on either kind of stream); an unfinished
 * octet-counted frame is cut short whatever ended it. */
START_TEST(test_cut_by_end_kind)
{
    static const struct {
        int eof;
        const char *want;
    } ends[] = {
        {COL_FRAME_EOF, "[<13>a][<13>b]|[x][<13>c]|[short]~"},
        {COL_FRAME_STOPPED, "[<13>a][<13>b]^|[x][<13>c]^|[short]~"},
        {COL_FRAME_RESET, "[<13>a][<13>b]^reset|[x][<13>c]^reset|[short]~"},
        {COL_FRAME_TLS_CUT, "[<13>a][<13>b]^tls|[x][<13>c]^tls|[short]~"},
        {COL_FRAME_IDLE, "[<13>a][<13>b]^idle|[x][<13>c]^idle|[short]~"},
    };
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        got g;
        memset(&g, 0, sizeof(g));
        col_framer f = {.max = 100};
        col_frame_take(&f, "<13>a\n<13>b", 11, ends[i].eof, on_msg, &g);
        strcat(g.text, "|");
        col_framer o = {.max = 100}; /* octet-counted, then a line without LF */
        col_frame_take(&o, "1 x<13>c", 8, ends[i].eof, on_msg, &g);
        strcat(g.text, "|");
        col_framer h = {.max = 100};
        col_frame_take(&h, "20 short", 8, ends[i].eof, on_msg, &g);
        ck_assert_str_eq(g.text, ends[i].want);
    }
}
END_TEST

START_TEST(test_crlf_at_max_across_reads)
{
    const char *s = "12345678\r\nnext\n";
    const size_t split[] = {9, 0}; /* after the CR */
    got one, two;
    frame(8, s, NULL, &one);
    frame(8, s, split, &two);
    ck_assert_str_eq(one.text, "[12345678]![next]");
    ck_assert_str_eq(two.text, one.text);
    /* every cut of a mixed stream gives the same messages */
    const char *m = "12345678\r\r\n99999 big\nlast\n7 abcdefg9 x\r\ny\r\rz\n\n";
    got whole;
    frame(8, m, NULL, &whole);
    /* 9 counts "x\r\ny\r\rz\n\n", one more than max; 99999 is no count.
     * Lines first: after an octet-counted frame, a line is a framing error
     * (test_desync). */
    ck_assert_str_eq(whole.text, "[12345678]![99999 bi]![last][abcdefg][x\r\ny\r\rz\n]!");
    for (size_t c1 = 1; c1 < strlen(m); c1++)
        for (size_t c2 = c1 + 1; c2 <= strlen(m); c2++) {
            const size_t cuts[] = {c1, c2 < strlen(m) ? c2 : 0, 0};
            got g;
            frame(8, m, cuts, &g);
            ck_assert_msg(strcmp(g.text, whole.text) == 0, "cut at %zu, %zu: %s", c1, c2, g.text);
        }
}
END_TEST

/* Frames s[0, n) in reads of step bytes (the first one of first bytes), in
 * a buffer of max + 64 + step bytes as the collector's is at least max + 64. */
static void frame_reads(size_t max, const char *s, size_t n, size_t first, size_t step, got *g)
{
    col_framer f = {.max = max};
    char *buf = malloc(max + 64 + step + first);
    size_t len = 0, at = 0;
    memset(g, 0, sizeof(*g));
    ck_assert_ptr_nonnull(buf);
    while (at < n) {
        size_t m = at == 0 ? first : step;
        if (m > n - at) m = n - at;
        memcpy(buf + len, s + at, m);
        len += m;
        at += m;
        size_t used = col_frame_take(&f, buf, len, at == n, on_msg, g);
        memmove(buf, buf + used, len - used);
        len -= used;
        ck_assert_uint_lt(len, max + 64);
    }
    ck_assert_uint_eq(len, 0);
    g->skipped = f.skipped;
    free(buf);
}

/* A count over 65536 followed by a PRI is a count: before, it started an
 * LF-framed line, which took every octet-counted frame after it (they end
 * in no LF) and lost them. Without a PRI after it, it is still a line. */
START_TEST(test_count_over_65536)
{
    size_t body = 70000, n = 0;
    char *s = malloc(body + 64);
    ck_assert_ptr_nonnull(s);
    n += (size_t)sprintf(s + n, "5 <1>ab%zu <2>", body);
    memset(s + n, 'x', body - 3);
    n += body - 3;
    n += (size_t)sprintf(s + n, "5 <3>cd8 <4>efghi");
    const char *want = "[<1>ab][<2>xxxxx]![<3>cd][<4>efghi]";
    got g;
    for (size_t first = 1; first <= 16; first++) { /* every cut in the counts */
        frame_reads(8, s, n, first, 4096, &g);
        ck_assert_msg(strcmp(g.text, want) == 0, "first read %zu: %s", first, g.text);
    }
    for (size_t step = 1; step <= 64; step *= 2) {
        frame_reads(8, s, n, step, step, &g);
        ck_assert_msg(strcmp(g.text, want) == 0, "reads of %zu: %s", step, g.text);
    }
    free(s);
    /* without a PRI after it: a line, as before */
    frame(100, "1234567 items\n99999 <x>\nok\n", NULL, &g);
    ck_assert_str_eq(g.text, "[1234567 items][<x>\nok\n]~");
    frame(100, "1234567 items\nok\n", NULL, &g);
    ck_assert_str_eq(g.text, "[1234567 items][ok]");
    /* ten digits are no count */
    frame(100, "1000000000 <1>x\n", NULL, &g);
    ck_assert_str_eq(g.text, "[1000000000 <1>x]");
}
END_TEST

/* Frames s whole, then cut at every pair of offsets, and checks that each
 * gives want and skipped bytes: TCP cuts a stream anywhere. */
static void frame_all_cuts(size_t max, const char *s, const char *want, uint64_t skipped)
{
    got whole;
    frame(max, s, NULL, &whole);
    ck_assert_str_eq(whole.text, want);
    ck_assert_uint_eq(whole.skipped, skipped);
    size_t n = strlen(s);
    for (size_t c1 = 1; c1 < n; c1++)
        for (size_t c2 = c1 + 1; c2 <= n; c2++) {
            const size_t cuts[] = {c1, c2 < n ? c2 : 0, 0};
            got g;
            frame(max, s, cuts, &g);
            ck_assert_msg(strcmp(g.text, want) == 0, "cut at %zu, %zu: %s", c1, c2, g.text);
            ck_assert_uint_eq(g.skipped, skipped);
        }
}

/* A connection that has sent an octet-counted frame and then something
 * that is no count (a count one byte short or long, a frame of count 0,
 * bytes between frames): the bytes up to the next plausible frame start
 * ("LEN <PRI>") or LF are one message flagged COL_FRAME_DESYNC, and
 * framing goes on from there. Before, they started an LF-framed line: max bytes kept
 * as one truncated message and everything after skipped to the next LF,
 * which an octet-counted stream never sends, so every frame after it was
 * lost without a trace. */
START_TEST(test_desync)
{
    /* count one byte short: its last byte is the fragment */
    frame_all_cuts(100, "8 <13>hello9 <13>world5 <13>x", "[<13>hell][o]?[<13>world][<13>x]", 0);
    /* one byte long: the next count's first digit is taken; the rest of
     * that frame up to the next start is the fragment */
    frame_all_cuts(100, "10 <13>hello9 <13>world5 <13>x", "[<13>hello9][ <13>world]?[<13>x]", 0);
    /* ... and when what is left of the next count reads as a count, it is
     * framed as one: nothing is lost, the rest is flagged */
    frame_all_cuts(100, "10 <13>hello12 <13>abcdefgh5 <13>x",
                   "[<13>hello1][<1][3>abcdefgh]?[<13>x]", 0);
    /* count 0: an empty frame, kept (malformed, as an empty datagram) */
    frame_all_cuts(100, "5 <13>a0 5 <13>b0 ", "[<13>a][]0[<13>b][]0", 0);
    /* garbage between frames, up to a frame start or LF; a leading zero
     * or ten digits are no frame start, and neither is a count not
     * followed by <PRI> */
    frame_all_cuts(100, "5 <13>aGARBAGE 12 x\r\n05 <1>y 1000000000 <1>5 <13>b",
                   "[<13>a][GARBAGE 12 x]?[0]?[<1>y ][1000000000 <1>]?[<13>b]", 0);
    /* a line that starts with a PRI among the frames is a line, as before */
    frame_all_cuts(100, "5 <13>a<13>line\nXabc\n<13>two\r\n5 <13>b<13>end",
                   "[<13>a][<13>line][Xabc]?[<13>two][<13>b][<13>end]", 0);
    got g;
    col_framer f = {.max = 100};
    memset(&g, 0, sizeof(g));
    col_frame_take(&f, "5 <13>a<13>half", 15, COL_FRAME_STOPPED, on_msg, &g);
    ck_assert_str_eq(g.text, "[<13>a][<13>half]^"); /* cut by a stop, as a line */
    /* bytes without a frame start are cut into messages of max bytes,
     * each flagged; at the end, what is left is one */
    frame_all_cuts(8, "5 <13>aabcdefghijklmnopqrst5 <13>bxy12 <1",
                   "[<13>a][abcdefgh]?[ijklmnop]?[qrst]?[<13>b][xy12 <1]?", 0);
    /* stray line ends between frames are still skipped; a line longer
     * than max is kept whole, in pieces */
    frame_all_cuts(8, "5 <13>a<13>abcdefghij\n5 <13>b", "[<13>a][<13>abcd]?[efghij]?[<13>b]", 0);
    frame_all_cuts(100, "5 <13>a\r\n5 <13>b\n", "[<13>a][<13>b]", 0);
    /* an LF-framed connection is unchanged: no frame-start search there */
    frame_all_cuts(100, "hello\n12x y\n0 z\n<13>abc 5 <13>b\n0 \n",
                   "[hello][12x y][0 z][<13>abc 5 <13>b][0 ]", 0);
    /* the wait for a frame start keeps the buffer within max + 64: each
     * "a123456789 <1x" is a start to look at up to its x, none whole, and
     * max (1022) is 73 of them, so that every search runs to max */
    size_t n = 0;
    char s[6000];
    n += (size_t)sprintf(s, "5 <13>a");
    for (int i = 0; i < 400; i++)
        n += (size_t)sprintf(s + n, "a123456789 <1x");
    n += (size_t)sprintf(s + n, "5 <13>b");
    for (size_t step = 1; step <= 64; step *= 2) {
        frame_reads(1022, s, n, step, step, &g);
        /* a; 5600 bytes as 5 of 1022 and one of 490; b */
        ck_assert_msg(g.n == 8, "%d: %.300s", g.n, g.text);
    }
}
END_TEST

/* The bytes the framer skips (the tails of over-long frames and lines) are
 * counted, the same whatever the reads: before, they were counted nowhere. */
START_TEST(test_skipped_counted)
{
    /* 10 - 8, the line "abcdefghij\r" (11, CR included) - 8, and 12 - 8 */
    frame_all_cuts(8, "0123456789\nabcdefghij\r\nok\n12 abcdefghijkl",
                   "[01234567]![abcdefgh]![ok][abcdefgh]!", 2 + 3 + 4);
    /* a stream that ends inside the tail counts what came of it */
    frame_all_cuts(8, "20 abcdefghijkl", "[abcdefgh]!", 4);
    frame_all_cuts(8, "x123456789abc", "[x1234567]!", 5);
    /* NULs between frames are skipped and counted (not CRs and LFs, the
     * line ends); a NUL inside a line is the line's */
    got g;
    const char nul[] = "\0\0a\0b\n\r\n\0\n4 <1>x\0\0";
    frame_reads(100, nul, sizeof(nul) - 1, 1, 1, &g);
    ck_assert_int_eq(g.n, 2);
    ck_assert_uint_eq(g.skipped, 5);
}
END_TEST

/* Feeds s to a framer one byte per read and writes, after each read, the
 * message bytes of the unfinished frame it holds (col_frame_held_body)
 * into body[] (n entries). */
static void held_bodies(const char *s, size_t *body, got *g)
{
    col_framer f = {.max = 100};
    char buf[256];
    size_t len = 0, n = strlen(s);
    memset(g, 0, sizeof(*g));
    for (size_t i = 0; i < n; i++) {
        buf[len++] = s[i];
        size_t used = col_frame_take(&f, buf, len, 0, on_msg, g);
        memmove(buf, buf + used, len - used);
        len -= used;
        body[i] = col_frame_held_body(&f, buf, len);
    }
}

/* What idle_timeout counts of an unfinished frame: its message bytes, not
 * the count before them, nor an empty frame's "0" waiting for its SP (a
 * sender trickling "0" and " " in reads of their own had a held "0" each
 * other read, which counted as activity). */
START_TEST(test_held_body)
{
    got g;
    size_t b[64];
    /* an octet-counted stream, then empty frames byte by byte: no body */
    const char *oc = "1 x0 0 0 ";
    held_bodies(oc, b, &g);
    ck_assert_str_eq(g.text, "[x][]0[]0[]0");
    for (size_t i = 0; i < strlen(oc); i++)
        ck_assert_msg(b[i] == 0, "byte %zu: %zu", i, b[i]);
    /* a count, its SP, then the message: the body grows from its first byte */
    const char *cnt = "12 <13>abcde";
    size_t want[] = {0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    held_bodies(cnt, b, &g);
    for (size_t i = 0; i < strlen(cnt); i++)
        ck_assert_msg(b[i] == want[i], "byte %zu: %zu, want %zu", i, b[i], want[i]);
    /* LF-framed: "0" and "0 " begin a line (no count there), and digits are
     * a count until a byte says they are not */
    held_bodies("0 0", b, &g);
    ck_assert(b[0] == 1 && b[1] == 2 && b[2] == 3);
    held_bodies("2024-", b, &g);
    ck_assert(b[0] == 0 && b[3] == 0 && b[4] == 5);
    held_bodies("12345678901", b, &g);
    ck_assert(b[9] == 0 && b[10] == 11);
    /* on an octet-counted stream, a "0" then another byte than SP is lost
     * framing: bytes of a message (flagged COL_FRAME_DESYNC when framed) */
    held_bodies("1 x0x", b, &g);
    ck_assert(b[3] == 0 && b[4] == 2);
}
END_TEST

/* A quota (max_rate_per_ip): col_frame_take_n stops after that many
 * messages as if the read ended there; taken again with the rest, a
 * message at a time, the messages, flags and skipped bytes are those of
 * one call without a quota. At the stream's end the quota is lifted. */
START_TEST(test_quota)
{
    const char *streams[] = {
        "a b\nc d\r\n\n\r\nabc def\n12x y\n10 <1>octet\nX",
        "0123456789\nok\n12 abcdefghijkl7 1234567",
        "1 x0 0 0 5 <1>ab\n\0\0x1 <1>0 ",
    };
    size_t lens[] = {strlen(streams[0]), strlen(streams[1]), 27};
    for (int i = 0; i < 3; i++) {
        got all, one;
        col_framer f = {.max = 8}, g1 = {.max = 8};
        memset(&all, 0, sizeof(all));
        memset(&one, 0, sizeof(one));
        ck_assert_uint_eq(col_frame_take(&f, streams[i], lens[i], COL_FRAME_EOF, on_msg, &all),
                          lens[i]);
        size_t off = 0, taken = 9, calls = 0;
        while (off < lens[i] && calls++ < 100) {
            size_t used = col_frame_take_n(&g1, streams[i] + off, lens[i] - off, 0, 1, on_msg,
                                           &one, &taken);
            ck_assert_uint_le(taken, 1);
            if (!used)
                break; /* an unfinished frame: the rest at the end */
            off += used;
        }
        ck_assert_uint_eq(col_frame_take_n(&g1, streams[i] + off, lens[i] - off, COL_FRAME_EOF, 0,
                                           on_msg, &one, &taken),
                          lens[i] - off);
        ck_assert_str_eq(one.text, all.text);
        ck_assert_int_eq(one.n, all.n);
        ck_assert_uint_eq(g1.skipped, f.skipped);
        /* quota 0: nothing taken, nothing consumed */
        col_framer z = {.max = 8};
        ck_assert_uint_eq(col_frame_take_n(&z, streams[i], lens[i], 0, 0, on_msg, &one, &taken), 0);
        ck_assert_uint_eq(taken, 0);
    }
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("col_frame");
    TCase *t = tcase_create("frame");
    tcase_add_test(t, test_kinds);
    tcase_add_test(t, test_cut_by_stop);
    tcase_add_test(t, test_cut_by_end_kind);
    tcase_add_test(t, test_crlf_at_max_across_reads);
    tcase_add_test(t, test_count_over_65536);
    tcase_add_test(t, test_desync);
    tcase_add_test(t, test_skipped_counted);
    tcase_add_test(t, test_held_body);
    tcase_add_test(t, test_quota);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(frame_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
