/* The daemons' man pages (dist/manpage.py, built into BUILD/dist/):
 * groff reads them without a warning; rendered, each holds every word of
 * its daemon's --help in the same order (nothing lost on the way), its
 * sections are --help's, in --help's order, its NAME line is --help's
 * summary, and SEE ALSO names the other daemons' pages. manpage.py refuses
 * a --help laid out in a way it does not know, so that the build fails
 * rather than install a page with a part missing. Skipped where groff is
 * absent (scripts/deps installs groff-base). */
#include <check.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vt_cmd.h"
#include "vt_tmp.h"

static const char *const daemons[] = {"collector", "correlator", "shipper"};

static bool have_groff(void)
{
    return system("command -v groff > /dev/null 2>&1") == 0;
}

/* Runs cmd, asserts exit 0 and returns its output (the caller frees). */
static char *run_ok(const char *cmd)
{
    char *out = NULL;
    int rc = vt_capture(cmd, &out);
    ck_assert_msg(rc == 0 && out, "%s: exit %d:\n%s", cmd, rc, out ? out : "");
    return out;
}

static char *help_of(const char *d)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/%s/vigil-%s' --help", getenv("VG_BUILD_ROOT"), d, d);
    return run_ok(cmd);
}

/* The page rendered as plain text, wide enough that few lines break. */
static char *render(const char *d)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "groff -man -Tascii -rLL=200n -P-cbou '%s/dist/vigil-%s.8'",
             getenv("VG_BUILD_ROOT"), d);
    return run_ok(cmd);
}

/* The next word of *p (split on white space), lower-cased, without the
 * punctuation that the page may place differently around it; false at the
 * end. "One-shot modes (instead ...):" becomes a heading and "Instead
 * ... apply." on the page: the words stay the same. */
static bool next_word(const char **p, char *w, size_t cap)
{
    static const char trim[] = "()[]:;,.'\"";
    for (;;) {
        while (**p && isspace((unsigned char)**p))
            (*p)++;
        if (!**p)
            return false;
        const char *s = *p;
        while (**p && !isspace((unsigned char)**p))
            (*p)++;
        const char *e = *p;
        while (s < e && strchr(trim, *s))
            s++;
        while (e > s && strchr(trim, e[-1]))
            e--;
        size_t n = (size_t)(e - s) < cap - 1 ? (size_t)(e - s) : cap - 1;
        for (size_t i = 0; i < n; i++)
            w[i] = (char)tolower((unsigned char)s[i]);
        w[n] = '\0';
        if (n)
            return true;
    }
}

START_TEST(test_man_lint)
{
    if (!have_groff()) {
        printf("skipped: groff is not installed\n");
        return;
    }
    for (int i = 0; i < 3; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "groff -man -Tutf8 -ww -z '%s/dist/vigil-%s.8' 2>&1",
                 getenv("VG_BUILD_ROOT"), daemons[i]);
        char *out = run_ok(cmd);
        ck_assert_msg(out[0] == '\0', "groff warns on vigil-%s.8:\n%s", daemons[i], out);
        free(out);
    }
}
END_TEST

/* Every word of --help (up to "See also:", which the page replaces) is on
 * the page, in order. */
START_TEST(test_man_holds_help)
{
    if (!have_groff()) {
        printf("skipped: groff is not installed\n");
        return;
    }
    for (int i = 0; i < 3; i++) {
        char *help = help_of(daemons[i]), *page = render(daemons[i]);
        char *cut = strstr(help, "\nSee also:\n");
        ck_assert_ptr_nonnull(cut);
        *cut = '\0';
        /* the page puts NAME (--help's summary line) before SYNOPSIS
         * (--help's "Usage:" lines, without that word) */
        ck_assert_int_eq(strncmp(help, "Usage:", 6), 0);
        char *sum = strstr(help, "\n\nvigil-");
        ck_assert_ptr_nonnull(sum);
        sum += 2;
        size_t slen = strcspn(sum, "\n");
        size_t total = strlen(help) + 2;
        char *order = malloc(total);
        ck_assert_ptr_nonnull(order);
        snprintf(order, total, "%.*s\n%.*s%s", (int)slen, sum, (int)(sum - help - 6), help + 6,
                 sum + slen);
        free(help);
        help = order;
        const char *h = help, *pg = page;
        char hw[256], pw[256], last[256] = "";
        size_t words = 0;
        while (next_word(&h, hw, sizeof(hw))) {
            bool found = false;
            while (!found && next_word(&pg, pw, sizeof(pw)))
                found = strcmp(hw, pw) == 0;
            ck_assert_msg(found, "vigil-%s.8: the word '%s' of --help (after '%s', word %zu) "
                          "is not on the page, in order:\n%s", daemons[i], hw, last, words, page);
            snprintf(last, sizeof(last), "%s", hw);
            words++;
        }
        ck_assert_uint_gt(words, 300);
        free(help);
        free(page);
    }
}
END_TEST

/* The page's section headings are NAME, SYNOPSIS, then --help's headings
 * upper-cased without their notes, in order; NAME is --help's summary
 * line; SEE ALSO names the other two pages. */
START_TEST(test_man_sections)
{
    if (!have_groff()) {
        printf("skipped: groff is not installed\n");
        return;
    }
    for (int i = 0; i < 3; i++) {
        char *help = help_of(daemons[i]), *page = render(daemons[i]);
        char want[1024] = "NAME|SYNOPSIS|", got[1024] = "", summary[512] = "";
        char prog[64];
        snprintf(prog, sizeof(prog), "vigil-%s - ", daemons[i]);
        for (char *l = strtok(help, "\n"); l; l = strtok(NULL, "\n")) {
            size_t n = strlen(l);
            if (strncmp(l, prog, strlen(prog)) == 0)
                snprintf(summary, sizeof(summary), "%s", l);
            if (isupper((unsigned char)l[0]) && l[n - 1] == ':' && strncmp(l, "Usage", 5)) {
                size_t k = strcspn(l, "(:");
                while (k && l[k - 1] == ' ')
                    k--;
                for (size_t j = 0; j < k; j++)
                    l[j] = (char)toupper((unsigned char)l[j]);
                strncat(want, l, k);
                strcat(want, "|");
            }
        }
        /* headings: the lines at column 0 but the header and the footer */
        char *lines[512];
        size_t nl = 0;
        for (char *l = strtok(page, "\n"); l && nl < 512; l = strtok(NULL, "\n"))
            lines[nl++] = l;
        ck_assert_uint_gt(nl, 10);
        char name_line[512] = "", see_also[512] = "";
        for (size_t j = 1; j + 1 < nl; j++) {
            if (isspace((unsigned char)lines[j][0]))
                continue;
            strcat(got, lines[j]);
            strcat(got, "|");
            if (strcmp(lines[j], "NAME") == 0 && j + 1 < nl)
                snprintf(name_line, sizeof(name_line), "%s", lines[j + 1] + strspn(lines[j + 1], " "));
            if (strcmp(lines[j], "SEE ALSO") == 0 && j + 1 < nl)
                snprintf(see_also, sizeof(see_also), "%s", lines[j + 1] + strspn(lines[j + 1], " "));
        }
        ck_assert_str_eq(got, want);
        ck_assert_str_eq(name_line, summary);
        char others[256] = "";
        for (int j = 0; j < 3; j++)
            if (j != i)
                snprintf(others + strlen(others), sizeof(others) - strlen(others), "%svigil-%s(8)",
                         others[0] ? ", " : "", daemons[j]);
        strcat(others, ".");
        ck_assert_str_eq(see_also, others);
        free(help);
        free(page);
    }
}
END_TEST

/* A --help with a heading manpage.py does not know fails the page, with
 * the reason, and leaves no file. */
START_TEST(test_man_refuses_unknown_layout)
{
    char base[512], cmd[4096];
    vt_tmp_base(base, sizeof(base), "man");
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && printf '#!/bin/sh\\n[ \"$1\" = --version ] && { echo \"fake 1\"; exit 0; }\\n"
             "printf \"Usage: fake [-c FILE]\\\\n\\\\nfake - a test\\\\n\\\\nBogus:\\\\n  text\\\\n\"\\n' > fake"
             " && chmod +x fake && python3 '%s/dist/manpage.py' ./fake /doc out.8 2>&1; echo \"exit $?\"",
             base, getenv("VG_SOURCE_ROOT"));
    char *out = run_ok(cmd);
    ck_assert_str_eq(out, "manpage.py: fake --help: unknown heading 'Bogus': add it to "
                          "LIST_SECTIONS or TEXT_SECTIONS\nexit 1\n");
    free(out);
    char path[600];
    struct stat st;
    snprintf(path, sizeof(path), "%s/out.8", base);
    ck_assert_int_ne(stat(path, &st), 0);
    vt_rm_tree(base);
}
END_TEST

/* A note of several lines under a list heading (the one under Signals) is
 * one paragraph on the page, filled: each of its lines was a paragraph of
 * its own, a blank line between every two. */
START_TEST(test_man_note_one_paragraph)
{
    if (!have_groff()) {
        printf("skipped: groff is not installed\n");
        return;
    }
    for (int i = 0; i < 3; i++) {
        char *page = render(daemons[i]);
        const char *a = strstr(page, "A signal sent while the daemon loads its configuration");
        ck_assert_msg(a != NULL, "vigil-%s.8: no signals note:\n%s", daemons[i], page);
        size_t n = strcspn(a, "\n");
        const char *b = strstr(a, "once it is up (not one sent");
        ck_assert_msg(b && (size_t)(b - a) < n, "vigil-%s.8: the signals note is cut into "
                      "paragraphs:\n%.600s", daemons[i], a);
        /* and it ends the section as one block: no blank line before its end */
        const char *end = strstr(a, "(SIGKILL");
        ck_assert_ptr_nonnull(end);
        for (const char *q = a; q < end; q++)
            ck_assert_msg(!(q[0] == '\n' && q[1] == '\n'), "vigil-%s.8: a blank line in the "
                          "signals note:\n%.*s", daemons[i], (int)(end - a + 8), a);
        free(page);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("man");
    TCase *tc = tcase_create("pages");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_man_lint);
    tcase_add_test(tc, test_man_holds_help);
    tcase_add_test(tc, test_man_sections);
    tcase_add_test(tc, test_man_refuses_unknown_layout);
    tcase_add_test(tc, test_man_note_one_paragraph);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
