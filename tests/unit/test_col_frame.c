/* Unit tests for collector/col_frame.c (RFC 6587 framing): exact messages
 * and flags for each kind of frame, and the same messages whatever the
 * reads are cut into (fuzz/fuzz_frame.c does the same at random). */
#include "col_frame.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct got {
    int n;
    char text[512];
} got;

/* Messages as "[TEXT]", "[TEXT]!" (longer than max), "[TEXT]~" (the
 * stream ended inside its octet-counted frame) or "[TEXT]^" (a line the
 * collector's stop cut), one after another. */
static void on_msg(void *ud, const char *p, size_t n, int truncated)
{
    got *g = ud;
    size_t at = strlen(g->text);
    ck_assert(truncated == 0 || truncated == COL_FRAME_OVER_MAX ||
              truncated == COL_FRAME_CUT_SHORT || truncated == COL_FRAME_CUT_STOP);
    snprintf(g->text + at, sizeof(g->text) - at, "[%.*s]%s", (int)n, p,
             truncated == COL_FRAME_CUT_SHORT  ? "~"
             : truncated == COL_FRAME_CUT_STOP ? "^"
             : truncated                       ? "!"
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
}

START_TEST(test_kinds)
{
    got g;
    frame(100, "a b\nc d\r\n\n\r\n10 <1>octet\nXabc def\n12x y\n", NULL, &g);
    ck_assert_str_eq(g.text, "[a b][c d][<1>octet\nX][abc def][12x y]");
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
    const char *m = "7 abcdefg12345678\r\r\n9 x\r\ny\r\rz\n\n99999 big\nlast";
    got whole;
    frame(8, m, NULL, &whole);
    /* 9 counts "x\r\ny\r\rz\n\n", one more than max; 99999 is no count */
    ck_assert_str_eq(whole.text, "[abcdefg][12345678]![x\r\ny\r\rz\n]![99999 bi]![last]");
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

static Suite *frame_suite(void)
{
    Suite *s = suite_create("col_frame");
    TCase *t = tcase_create("frame");
    tcase_add_test(t, test_kinds);
    tcase_add_test(t, test_cut_by_stop);
    tcase_add_test(t, test_crlf_at_max_across_reads);
    tcase_add_test(t, test_count_over_65536);
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
