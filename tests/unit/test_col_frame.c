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

/* Messages as "[TEXT]" or "[TEXT]!" (truncated), one after another. */
static void on_msg(void *ud, const char *p, size_t n, int truncated)
{
    got *g = ud;
    size_t at = strlen(g->text);
    snprintf(g->text + at, sizeof(g->text) - at, "[%.*s]%s", (int)n, p, truncated ? "!" : "");
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
    /* the stream ends mid-frame */
    frame(100, "20 short", NULL, &g);
    ck_assert_str_eq(g.text, "[short]!");
}
END_TEST

/* A line as long as max followed by CR LF is flagged alike whether its LF
 * comes in the same read or the next: before, it was flagged only when
 * the read ended between the CR and the LF. */
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

static Suite *frame_suite(void)
{
    Suite *s = suite_create("col_frame");
    TCase *t = tcase_create("frame");
    tcase_add_test(t, test_kinds);
    tcase_add_test(t, test_crlf_at_max_across_reads);
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
