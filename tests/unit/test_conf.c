/* Unit tests for lib/yaml.c and lib/conf.c: the vg_node tree, its refusals,
 * and vg_conf_apply's table-driven parsing. Files are written into a fresh
 * mkdtemp directory per test; run under ASan to check that nothing leaks. */
#include "vigil/cfile.h"
#include "vigil/conf.h"
#include "vigil/err.h"

#include <check.h>

#include "vt_tmp.h"
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char tmpdir[256]; /* short, so that paths built from it fit PATH_MAX */
static char err[1024];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/vg-test-conf-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    err[0] = '\0';
}

static void teardown(void)
{
    vt_rm_tree(tmpdir);
}

/* Writes content to tmpdir/name; the full path goes to path[PATH_MAX]. */
static void mkfile(char *path, const char *name, const char *content)
{
    snprintf(path, PATH_MAX, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(content, 1, strlen(content), f), strlen(content));
    ck_assert_int_eq(fclose(f), 0);
}

static vg_node *load_ok(const char *path)
{
    vg_node *root = NULL;
    int rc = vg_yaml_load(path, &root, err, sizeof(err));
    ck_assert_msg(rc == 0, "load failed: %s", err);
    ck_assert_ptr_nonnull(root);
    return root;
}

/* Loads content from a file and expects failure with exactly
 * "PATH:<rest>" in err. */
static void load_fails(const char *content, const char *rest)
{
    char path[PATH_MAX], want[PATH_MAX + 256];
    vg_node *root = (vg_node *)1;
    mkfile(path, "bad.yaml", content);
    ck_assert_int_eq(vg_yaml_load(path, &root, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(root);
    snprintf(want, sizeof(want), "%s%s", path, rest);
    ck_assert_str_eq(err, want);
}

static const vg_node *get(const vg_node *map, const char *key)
{
    const vg_node *n = vg_node_get(map, key);
    ck_assert_msg(n != NULL, "no key '%s'", key);
    return n;
}

static void assert_scalar(const vg_node *n, const char *str, int line)
{
    ck_assert_int_eq(n->kind, VG_NODE_SCALAR);
    ck_assert_str_eq(n->str, str);
    ck_assert_int_eq(n->line, line);
}

/* ---- yaml.c ------------------------------------------------------------ */

START_TEST(test_yaml_tree)
{
    char path[PATH_MAX];
    mkfile(path, "tree.yaml",
           "# a comment\n"       /* 1 */
           "name: vigil\n"       /* 2 */
           "listen:\n"           /* 3 */
           "  port: 514\n"       /* 4 */
           "  hosts:\n"          /* 5 */
           "    - a\n"           /* 6 */
           "    - \"b c\"\n"     /* 7 */
           "empty: {}\n"         /* 8 */
           "flow: [1, {x: y}]\n" /* 9 */
           "text: |\n"           /* 10 */
           "  two\n"             /* 11 */
           "  lines\n"           /* 12 */
           "tagged: !!int 5\n"); /* 13 */
    vg_node *root = load_ok(path);

    ck_assert_int_eq(root->kind, VG_NODE_MAP);
    ck_assert_int_eq(root->line, 2);
    ck_assert_str_eq(root->file, path);
    ck_assert_uint_eq(root->n, 6);
    /* key order is kept, and keys carry their own lines */
    const char *order[] = {"name", "listen", "empty", "flow", "text", "tagged"};
    const int lines[] = {2, 3, 8, 9, 10, 13};
    for (size_t i = 0; i < 6; i++) {
        assert_scalar(root->keys[i], order[i], lines[i]);
        ck_assert_ptr_eq(root->keys[i]->file, root->file);
    }

    assert_scalar(get(root, "name"), "vigil", 2);
    const vg_node *listen = get(root, "listen");
    ck_assert_int_eq(listen->kind, VG_NODE_MAP);
    ck_assert_int_eq(listen->line, 4);
    ck_assert_uint_eq(listen->n, 2);
    ck_assert_ptr_eq(listen->file, root->file);
    assert_scalar(get(listen, "port"), "514", 4);
    const vg_node *hosts = get(listen, "hosts");
    ck_assert_int_eq(hosts->kind, VG_NODE_SEQ);
    ck_assert_int_eq(hosts->line, 6);
    ck_assert_uint_eq(hosts->n, 2);
    ck_assert_ptr_null(hosts->keys);
    assert_scalar(hosts->items[0], "a", 6);
    assert_scalar(hosts->items[1], "b c", 7);
    ck_assert_ptr_eq(hosts->items[1]->file, root->file);

    const vg_node *empty = get(root, "empty");
    ck_assert_int_eq(empty->kind, VG_NODE_MAP);
    ck_assert_uint_eq(empty->n, 0);
    ck_assert_int_eq(empty->line, 8);

    const vg_node *flow = get(root, "flow");
    ck_assert_int_eq(flow->kind, VG_NODE_SEQ);
    ck_assert_uint_eq(flow->n, 2);
    assert_scalar(flow->items[0], "1", 9);
    ck_assert_int_eq(flow->items[1]->kind, VG_NODE_MAP);
    assert_scalar(get(flow->items[1], "x"), "y", 9);

    assert_scalar(get(root, "text"), "two\nlines\n", 10);
    assert_scalar(get(root, "tagged"), "5", 13);
    vg_node_free(root);
}
END_TEST

START_TEST(test_yaml_empty)
{
    const char *docs[] = {"", "# only a comment\n\n", "---\n", "--- # c\n...\n"};
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char path[PATH_MAX];
        mkfile(path, "empty.yaml", docs[i]);
        vg_node *root = load_ok(path);
        ck_assert_int_eq(root->kind, VG_NODE_MAP);
        ck_assert_uint_eq(root->n, 0);
        ck_assert_int_eq(root->line, 1);
        ck_assert_str_eq(root->file, path);
        vg_node_free(root);
    }
}
END_TEST

START_TEST(test_yaml_syntax_error)
{
    /* where an unclosed bracket or quote was opened is named too: at the
     * end of the file, it is the line (the last line said nothing) */
    load_fails("a: 1\nb: [1, 2\nc: d\n",
               ":3: did not find expected ',' or ']' (while parsing a flow sequence started at "
               "line 2)");
    load_fails("a: 1\nb: \"open\nc: d\ne: f\n",
               ":2: found unexpected end of stream (while scanning a quoted scalar that starts at "
               "this line: the file ends before it is closed)");
    load_fails("a: 1\nb: 'open\nc: d\n", ":2: found unexpected end of stream (while scanning a "
                                          "quoted scalar that starts at this line: the file ends "
                                          "before it is closed)");
    load_fails("a: 1\n\tb: 2\n",
               ":2: found a tab character that violates indentation (while scanning a plain "
               "scalar started at line 1)");
    /* a tab that starts an indentation, and the two causes of "mapping
     * values are not allowed" (indented too deep, an unquoted ': '), said */
    load_fails("rules:\n\t- id: a\n",
               ":2: a tab character: YAML indents with spaces only (found character that "
               "cannot start any token)");
    load_fails("r:\n  - id: a\n    level: 3\n     match: x\n",
               ":4: mapping values are not allowed in this context: this line is indented "
               "deeper than the key above it, or has ': ' inside a value that is not quoted "
               "(quote it: 'Failed: x')");
    load_fails("a:\n  regex: Failed: x\n",
               ":2: mapping values are not allowed in this context: this line is indented "
               "deeper than the key above it, or has ': ' inside a value that is not quoted "
               "(quote it: 'Failed: x')");
    load_fails("a:\n  b: c\n d: e\n", ":3: did not find expected key (while parsing a block "
                                      "mapping started at line 1)");
    /* reader errors carry an offset, not a mark: the line is still right */
    load_fails("a: 1\nb: 2\nc: \xff\n", ":3: invalid leading UTF-8 octet");
}
END_TEST

START_TEST(test_yaml_refusals)
{
    load_fails("a: 1\nb: 2\na: 3\n", ":3: duplicate key 'a' (first at line 1)");
    load_fails("top:\n  x: 1\n  y: 2\n  x: 3\n  y: 4\n", ":4: duplicate key 'x' (first at line 2)");
    load_fails("m: {k: 1, j: 2, k: 3}\n", ":1: duplicate key 'k' (first at line 1)");
    load_fails("a: 1\n? [x, y]\n: 2\n", ":2: map keys must be scalars");
    load_fails("a: 1\n{x: 1}: 2\n", ":2: map keys must be scalars");
    load_fails("a: &anchor 1\nb: 2\n", ":1: YAML anchors and aliases are not supported");
    load_fails("a: 1\nb: *x\n", ":2: YAML anchors and aliases are not supported");
    load_fails("a: &m {x: 1}\n", ":1: YAML anchors and aliases are not supported");
    load_fails("a: 1\n---\nb: 2\n", ":2: more than one YAML document");
    load_fails("a: 1\nb: \"x\\0y\"\n", ":2: NUL byte in a scalar");
}
END_TEST

/* n nested flow sequences on one line, with a scalar at the bottom. */
static char *nested(int n)
{
    char *s = malloc((size_t)n * 2 + 2);
    ck_assert_ptr_nonnull(s);
    memset(s, '[', (size_t)n);
    s[n] = '1';
    memset(s + n + 1, ']', (size_t)n);
    s[2 * n + 1] = '\0';
    return s;
}

START_TEST(test_yaml_depth)
{
    char path[PATH_MAX];
    char *ok = nested(64), *deep = nested(65), *huge = nested(100000);

    mkfile(path, "ok.yaml", ok);
    vg_node *root = load_ok(path);
    const vg_node *n = root;
    for (int i = 0; i < 63; i++) {
        ck_assert_int_eq(n->kind, VG_NODE_SEQ);
        ck_assert_uint_eq(n->n, 1);
        n = n->items[0];
    }
    ck_assert_int_eq(n->kind, VG_NODE_SEQ);
    assert_scalar(n->items[0], "1", 1);
    vg_node_free(root);

    load_fails(deep, ":1: nesting deeper than 64 levels");
    load_fails(huge, ":1: nesting deeper than 64 levels");
    free(ok);
    free(deep);
    free(huge);
}
END_TEST

START_TEST(test_yaml_missing_file)
{
    char path[PATH_MAX], want[PATH_MAX + 64];
    vg_node *root = (vg_node *)1;
    snprintf(path, sizeof(path), "%s/nope.yaml", tmpdir);
    ck_assert_int_eq(vg_yaml_load(path, &root, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(root);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    ck_assert_str_eq(err, want);

    /* a device or a directory is refused before any read */
    ck_assert_int_eq(vg_yaml_load("/dev/zero", &root, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(root);
    ck_assert_str_eq(err, "/dev/zero: is a character device, not a regular file (refused "
                          "without reading it: it could block or never end)");
    ck_assert_int_eq(vg_yaml_load(tmpdir, &root, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want),
             "%s: is a directory, not a regular file (refused without reading it: it could "
             "block or never end)",
             tmpdir);
    ck_assert_str_eq(err, want);
}
END_TEST

/* A FIFO, with no writer or with one that holds it open and writes
 * nothing, is refused at once (the read of the second held a SIGHUP
 * reload, and the daemon's loop with it, for as long as the writer
 * lived); a pipe that has a writer and data is refused too: it can be
 * read only once, and a SIGHUP would find it empty. */
START_TEST(test_yaml_fifo)
{
    char path[PATH_MAX], want[PATH_MAX + 200];
    vg_node *root = (vg_node *)1;
    snprintf(path, sizeof(path), "%s/fifo.yaml", tmpdir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    snprintf(want, sizeof(want),
             "%s: is a FIFO, not a regular file (refused without reading it: it could block or "
             "never end)",
             path);
    ck_assert_int_eq(vg_yaml_load(path, &root, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(root);
    ck_assert_str_eq(err, want);

    int w = open(path, O_RDWR | O_CLOEXEC); /* the silent writer */
    ck_assert_int_ge(w, 0);
    ck_assert_int_eq(vg_yaml_load(path, &root, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(root);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(close(w), 0);

    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    static const char doc[] = "a: 1\nb: [x]\n";
    ck_assert_int_eq(write(pfd[1], doc, sizeof(doc) - 1), (ssize_t)(sizeof(doc) - 1));
    ck_assert_int_eq(close(pfd[1]), 0);
    snprintf(path, sizeof(path), "/dev/fd/%d", pfd[0]);
    ck_assert_int_eq(vg_yaml_load(path, &root, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(root);
    ck_assert_msg(strstr(err, ": is a FIFO, not a regular file"), "%s", err);
    ck_assert_int_eq(close(pfd[0]), 0);
}
END_TEST

/* A file of 2 GB (sparse: no disk) is refused by its size, before any
 * read; before, the first 16 MiB of it were read into memory. */
START_TEST(test_yaml_huge_sparse)
{
    char path[PATH_MAX], want[PATH_MAX + 200];
    vg_node *root = (vg_node *)1;
    snprintf(path, sizeof(path), "%s/huge.yaml", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)2 << 30), 0);
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(vg_yaml_load(path, &root, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(root);
    snprintf(want, sizeof(want), "%s: is 2147483648 bytes, more than the limit of 16777216", path);
    ck_assert_str_eq(err, want);
}
END_TEST

/* vg_cfile_open / vg_cfile_read (lib/cfile.c), on each kind of file. */
START_TEST(test_cfile)
{
    char path[PATH_MAX], want[PATH_MAX + 200], *buf = (char *)1;
    size_t len = 99;
    uint64_t size = 0;
    static const char tail[] = ", not a regular file (refused without reading it: it could "
                               "block or never end)";
    /* a regular file: read whole, NUL after it */
    mkfile(path, "ok.txt", "hello\n");
    ck_assert_int_eq(vg_cfile_read(path, 0, &buf, &len, err, sizeof(err)), 0);
    ck_assert_uint_eq(len, 6);
    ck_assert_str_eq(buf, "hello\n");
    free(buf);
    int fd = vg_cfile_open(path, 6, &size, err, sizeof(err));
    ck_assert_int_ge(fd, 0);
    ck_assert_uint_eq(size, 6);
    ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    close(fd);
    /* one byte over a limit */
    ck_assert_int_eq(vg_cfile_open(path, 5, &size, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s: is 6 bytes, more than the limit of 5", path);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(vg_cfile_read(path, 5, &buf, &len, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(buf);
    ck_assert_str_eq(err, want);
    /* an empty file is a file */
    mkfile(path, "empty.txt", "");
    ck_assert_int_eq(vg_cfile_read(path, 0, &buf, &len, err, sizeof(err)), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(buf, "");
    free(buf);
    /* missing */
    snprintf(path, sizeof(path), "%s/nope", tmpdir);
    ck_assert_int_eq(vg_cfile_read(path, 0, &buf, &len, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    ck_assert_str_eq(err, want);
    /* endless devices */
    ck_assert_int_eq(vg_cfile_read("/dev/urandom", 0, &buf, &len, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "/dev/urandom: is a character device%s", tail);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(vg_cfile_open("/dev/zero", 0, NULL, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "/dev/zero: is a character device%s", tail);
    ck_assert_str_eq(err, want);
    /* a directory, a symlink to one */
    ck_assert_int_eq(vg_cfile_open(tmpdir, 0, NULL, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s: is a directory%s", tmpdir, tail);
    ck_assert_str_eq(err, want);
    snprintf(path, sizeof(path), "%s/dirlink", tmpdir);
    ck_assert_int_eq(symlink(tmpdir, path), 0);
    ck_assert_int_eq(vg_cfile_open(path, 0, NULL, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s/dirlink: is a directory%s", tmpdir, tail);
    ck_assert_str_eq(err, want);
    /* a FIFO with no writer, then with a silent one: at once */
    snprintf(path, sizeof(path), "%s/fifo", tmpdir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    snprintf(want, sizeof(want), "%s: is a FIFO%s", path, tail);
    ck_assert_int_eq(vg_cfile_read(path, 0, &buf, &len, err, sizeof(err)), VG_ECONFIG);
    ck_assert_str_eq(err, want);
    int w = open(path, O_RDWR | O_CLOEXEC);
    ck_assert_int_ge(w, 0);
    ck_assert_int_eq(vg_cfile_read(path, 0, &buf, &len, err, sizeof(err)), VG_ECONFIG);
    ck_assert_str_eq(err, want);
    close(w);
    /* a 2 GB sparse file, by its size */
    snprintf(path, sizeof(path), "%s/huge", tmpdir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)2 << 30), 0);
    close(fd);
    ck_assert_int_eq(vg_cfile_read(path, 0, &buf, &len, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s: is 2147483648 bytes, more than the limit of 16777216", path);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(buf);
    /* a socket */
    snprintf(path, sizeof(path), "%s/sock", tmpdir);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(vg_cfile_open(path, 0, NULL, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s: cannot open: No such device or address", path);
    ck_assert_str_eq(err, want);
    close(s);
}
END_TEST

/* Loads doc, finds the scalar at path ("k" or "k.0" for a list's first
 * item, "k.j" in a map), checks its text is want, then that
 * vg_node_line_at gives for each of its bytes the line in lines (one digit
 * per byte), and the last byte's line past the end. */
static void assert_lines(const char *doc, const char *path, const char *want, const char *lines)
{
    vg_node *root = NULL;
    ck_assert_msg(vg_yaml_load_mem("doc", doc, strlen(doc), &root, err, sizeof(err)) == 0, "%s",
                  err);
    const vg_node *n = root;
    char p[64];
    snprintf(p, sizeof(p), "%s", path);
    for (char *t = strtok(p, "."); t; t = strtok(NULL, "."))
        n = n->kind == VG_NODE_SEQ ? n->items[atoi(t)] : vg_node_get(n, t);
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n->str, want);
    size_t len = strlen(want);
    ck_assert_uint_eq(strlen(lines), len);
    char got[256];
    ck_assert_uint_lt(len, sizeof(got));
    for (size_t i = 0; i < len; i++)
        got[i] = (char)('0' + vg_node_line_at(n, i));
    got[len] = '\0';
    ck_assert_str_eq(got, lines);
    ck_assert_int_eq(vg_node_line_at(n, len), len ? lines[len - 1] - '0' : n->line);
    ck_assert_int_eq(vg_node_line_at(n, len + 100), len ? lines[len - 1] - '0' : n->line);
    vg_node_free(root);
}

/* The file line of each byte of a scalar over several lines, in every
 * style: what names the line of an error inside a multi-line regex. */
START_TEST(test_yaml_scalar_lines)
{
    /* literal: each line its own, the break at its end with it */
    assert_lines("x: 1\nv: |\n  ab\n   cd\n\n  ef\ny: 2\n", "v", "ab\n cd\n\nef\n",
                 "33344445666");
    /* |- in a list, indented 4, a trailing empty line stripped */
    assert_lines("x: 1\nv:\n  - |-\n    (?<a>x\n    y\n\n  - z\n", "v.0", "(?<a>x\ny",
                 "44444445");
    /* |+ keeps the trailing empty lines, each on its line */
    assert_lines("v: |+\n  a\n\n\nw: 1\n", "v", "a\n\n\n", "2234");
    /* folded: a break between two lines is a space, on the line it ends;
     * more-indented lines keep theirs */
    assert_lines("v: >\n  one two\n  three\n\n  four\n    more\n  five\n", "v",
                 "one two three\nfour\n  more\nfive\n", "2222222233333455555666666677777");
    /* >- inside a map, with a comment after the indicator */
    assert_lines("m:\n  v: >- # the regex\n    a\n    b\n  w: 1\n", "m.v", "a b", "334");
    /* an explicit indentation indicator (|2 under a key indented 2: 4) */
    assert_lines("m:\n  v: |2\n      a\n    b\n", "m.v", "  a\nb\n", "333344");
    /* plain over lines: folded like '>', blanks around breaks dropped */
    assert_lines("v: a b\n  c\n\n  d  e\nw: 1\n", "v", "a b c\nd  e", "1111234444");
    /* in a flow map, after a multibyte key (columns count characters) */
    assert_lines("\xc3\xa9: {v: \xe1\xbb\x85 a\n     b}\n", "\xc3\xa9.v", "\xe1\xbb\x85 a b",
                 "1111112");
    /* double-quoted: escapes, an escaped line break (no space) */
    assert_lines("v: \"a\\x41\n  b\\\n  c\\u00e9\"\n", "v", "aA bc\xc3\xa9", "1112333");
    /* single-quoted: '' and an empty line */
    assert_lines("v: 'x''y\n\n  z'\n", "v", "x'y\nz", "11123");
    /* a tag before the block */
    assert_lines("v: !!str |\n  a\n  b\n", "v", "a\nb\n", "2233");
    /* CR LF line ends, and a UTF-8 BOM */
    assert_lines("\xef\xbb\xbfx: 1\r\nv: |\r\n  a\r\n  b\r\n", "v", "a\nb\n", "3344");
    /* one line: its line, whatever the offset */
    assert_lines("x: 1\nv: 'a b'\n", "v", "a b", "222");

    /* lines broken by NEL: libyaml counts a line, an editor may not: not
     * told (0) rather than a wrong line */
    const char nel[] = "v: \"a\xc2\x85  b\"\n";
    vg_node *root = NULL;
    ck_assert_int_eq(vg_yaml_load_mem("doc", nel, strlen(nel), &root, err, sizeof(err)), 0);
    ck_assert_str_eq(get(root, "v")->str, "a b");
    ck_assert_int_eq(vg_node_line_at(get(root, "v"), 2), 0);
    vg_node_free(root);
}
END_TEST

START_TEST(test_yaml_mem_and_get)
{
    const char doc[] = "a: 1\nb:\n  c: [x]\n";
    vg_node *root = NULL;
    ck_assert_int_eq(vg_yaml_load_mem("inline", doc, strlen(doc), &root, err, sizeof(err)), 0);
    ck_assert_str_eq(root->file, "inline");
    assert_scalar(vg_node_get(root, "a"), "1", 1);
    ck_assert_ptr_null(vg_node_get(root, "c"));           /* not at this level */
    ck_assert_ptr_null(vg_node_get(root, "A"));           /* case matters */
    ck_assert_ptr_null(vg_node_get(get(root, "a"), "x")); /* not a map */
    ck_assert_ptr_null(vg_node_get(NULL, "a"));
    ck_assert_int_eq(get(get(root, "b"), "c")->kind, VG_NODE_SEQ);
    vg_node_free(root);
    vg_node_free(NULL);

    /* the length is honoured: the buffer need not be NUL-terminated there */
    ck_assert_int_eq(vg_yaml_load_mem("inline", doc, 4, &root, err, sizeof(err)), 0);
    ck_assert_uint_eq(root->n, 1);
    assert_scalar(get(root, "a"), "1", 1);
    vg_node_free(root);

    ck_assert_int_eq(vg_yaml_load_mem("inline", "a: [", 4, &root, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(root);
    ck_assert_str_eq(err, "inline:1: did not find expected node content (while parsing a flow "
                          "node)");
}
END_TEST

/* ---- conf.c ------------------------------------------------------------ */

struct cfg {
    char *name;
    char *state_dir;
    int64_t port;
    bool tls;
    uint64_t max_size;
    int64_t timeout;
    const vg_node *rules;
    char *note;
};

#define OFF(f) offsetof(struct cfg, f)
static const vg_conf_key cfg_tab[] = {
    {"name", VG_CONF_STR, "vigil", OFF(name), "instance name", 0, 0},
    {"state_dir", VG_CONF_PATH, "state", OFF(state_dir), "where queues live", 0, 0},
    {"port", VG_CONF_INT, "514", OFF(port), "listening port", 1, 65535},
    {"tls", VG_CONF_BOOL, "off", OFF(tls), "use TLS", 0, 0},
    {"max_size", VG_CONF_SIZE, "64M", OFF(max_size), "queue limit", 1024, INT64_C(1) << 40},
    {"timeout", VG_CONF_DURATION, "15s", OFF(timeout), "idle timeout", 1, 86400000},
    {"rules", VG_CONF_NODE, NULL, OFF(rules), "rule list", 0, 0},
    {"note", VG_CONF_STR, NULL, OFF(note), "free text", 0, 0},
    {0},
};
#define CFG_KEYS "name, state_dir, port, tls, max_size, timeout, rules, note"

/* Applies cfg_tab to an in-memory document named "cfg.yaml". */
static int apply_mem(const char *doc, struct cfg *c)
{
    vg_node *root = NULL;
    memset(c, 0, sizeof(*c));
    ck_assert_int_eq(vg_yaml_load_mem("cfg.yaml", doc, strlen(doc), &root, err, sizeof(err)), 0);
    int rc = vg_conf_apply(root, NULL, cfg_tab, c, err, sizeof(err));
    vg_node_free(root);
    c->rules = NULL; /* it pointed into the freed tree */
    if (rc) {
        ck_assert_ptr_null(c->name);
        ck_assert_ptr_null(c->state_dir);
        ck_assert_ptr_null(c->note);
    }
    return rc;
}

static void apply_fails(const char *doc, const char *msg)
{
    struct cfg c;
    ck_assert_int_eq(apply_mem(doc, &c), VG_ECONFIG);
    ck_assert_str_eq(err, msg);
}

/* A path under '~' or YAML's null is refused: neither is expanded (no home
 * directory, no "no value"), so each made a directory or file named '~' or
 * 'null' beside the configuration. A '~' inside a path is just a byte. */
START_TEST(test_conf_path_tilde_null)
{
    apply_fails("state_dir: ~\n", "cfg.yaml:1: 'state_dir' is '~': '~' is not expanded to a home "
                                  "directory here (it would name '~' in the configuration file's "
                                  "directory): write the full path");
    apply_fails("name: x\nstate_dir: ~/vigil\n",
                "cfg.yaml:2: 'state_dir' is '~/vigil': '~' is not expanded to a home directory "
                "here (it would name '~/vigil' in the configuration file's directory): write the "
                "full path");
    apply_fails("state_dir: NULL\n", "cfg.yaml:1: 'state_dir' is 'NULL', which YAML reads as no "
                                     "value (it would name 'NULL' in the configuration file's "
                                     "directory): leave the key out");
    struct cfg c;
    ck_assert_int_eq(apply_mem("state_dir: /srv/a~b/nullx\n", &c), 0);
    ck_assert_str_eq(c.state_dir, "/srv/a~b/nullx");
    vg_conf_release(cfg_tab, &c);
}
END_TEST

START_TEST(test_conf_full)
{
    char path[PATH_MAX], want[PATH_MAX + 64];
    mkfile(path, "vigil.yaml",
           "name: edge-1\n"
           "state_dir: data/state\n"
           "port: 6514\n"
           "tls: yes\n"
           "max_size: 2G\n"
           "timeout: 90s\n"
           "rules:\n"
           "  - match: sshd\n"
           "note: hello\n");
    vg_node *root = load_ok(path);
    struct cfg c;
    memset(&c, 0xa5, sizeof(c)); /* every field must be written */
    ck_assert_int_eq(vg_conf_apply(root, NULL, cfg_tab, &c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.name, "edge-1");
    snprintf(want, sizeof(want), "%s/data/state", tmpdir);
    ck_assert_str_eq(c.state_dir, want);
    ck_assert_int_eq(c.port, 6514);
    ck_assert(c.tls);
    ck_assert_uint_eq(c.max_size, UINT64_C(2) << 30);
    ck_assert_int_eq(c.timeout, 90000);
    ck_assert_ptr_eq(c.rules, get(root, "rules"));
    ck_assert_int_eq(c.rules->kind, VG_NODE_SEQ);
    ck_assert_int_eq(c.rules->line, 8);
    ck_assert_str_eq(c.note, "hello");
    vg_conf_release(cfg_tab, &c);
    ck_assert_ptr_null(c.name);
    ck_assert_ptr_null(c.state_dir);
    ck_assert_ptr_null(c.note);
    vg_conf_release(cfg_tab, &c); /* twice is harmless */
    vg_node_free(root);
}
END_TEST

START_TEST(test_conf_defaults)
{
    char path[PATH_MAX], want[PATH_MAX + 64];
    struct cfg c;

    mkfile(path, "empty.yaml", "# nothing set\n");
    vg_node *root = load_ok(path);
    memset(&c, 0xa5, sizeof(c));
    ck_assert_int_eq(vg_conf_apply(root, NULL, cfg_tab, &c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.name, "vigil");
    snprintf(want, sizeof(want), "%s/state", tmpdir);
    ck_assert_str_eq(c.state_dir, want); /* a default PATH is relative to the file too */
    ck_assert_int_eq(c.port, 514);
    ck_assert(!c.tls);
    ck_assert_uint_eq(c.max_size, UINT64_C(64) << 20);
    ck_assert_int_eq(c.timeout, 15000);
    ck_assert_ptr_null(c.rules);
    ck_assert_ptr_null(c.note);
    vg_conf_release(cfg_tab, &c);
    vg_node_free(root);

    /* no map at all: 'file' places relative paths */
    memset(&c, 0xa5, sizeof(c));
    ck_assert_int_eq(vg_conf_apply(NULL, "/etc/vigil/vigil.yaml", cfg_tab, &c, err, sizeof(err)),
                     0);
    ck_assert_str_eq(c.state_dir, "/etc/vigil/state");
    ck_assert_int_eq(c.port, 514);
    ck_assert_ptr_null(c.rules);
    vg_conf_release(cfg_tab, &c);

    /* some keys set, others default */
    ck_assert_int_eq(apply_mem("port: 10514\n", &c), 0);
    ck_assert_int_eq(c.port, 10514);
    ck_assert_str_eq(c.name, "vigil");
    ck_assert_uint_eq(c.max_size, UINT64_C(64) << 20);
    vg_conf_release(cfg_tab, &c);
}
END_TEST

START_TEST(test_conf_unknown_key)
{
    char path[PATH_MAX], want[PATH_MAX + 256];
    mkfile(path, "vigil.yaml", "name: a\nport: 1\nprot: 2\n");
    vg_node *root = load_ok(path);
    struct cfg c = {0};
    ck_assert_int_eq(vg_conf_apply(root, NULL, cfg_tab, &c, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s:3: unknown key 'prot' (expected one of: " CFG_KEYS ")", path);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(c.name);
    vg_node_free(root);
}
END_TEST

START_TEST(test_conf_type_errors)
{
    apply_fails("name: a\nport: abc\n", "cfg.yaml:2: 'port' must be an integer, got 'abc'");
    apply_fails("port: 5x\n", "cfg.yaml:1: 'port' must be an integer, got '5x'");
    apply_fails("port: ' 5'\n", "cfg.yaml:1: 'port' must be an integer, got ' 5'");
    apply_fails("port: 0x10\n", "cfg.yaml:1: 'port' must be an integer, got '0x10'");
    apply_fails("port: ''\n", "cfg.yaml:1: 'port' must be an integer, got ''");
    apply_fails("port: [1]\n", "cfg.yaml:1: 'port' must be an integer, got a list");
    apply_fails("tls: maybe\n",
                "cfg.yaml:1: 'tls' must be a boolean (true/false, yes/no, on/off), got 'maybe'");
    apply_fails("tls: 1\n",
                "cfg.yaml:1: 'tls' must be a boolean (true/false, yes/no, on/off), got '1'");
    apply_fails("max_size: 12X\n", "cfg.yaml:1: 'max_size' must be a size (bytes, or a number "
                                   "with suffix K, M or G, e.g. 64M), got '12X'");
    apply_fails("max_size: 12KB\n", "cfg.yaml:1: 'max_size' must be a size (bytes, or a number "
                                    "with suffix K, M or G, e.g. 64M), got '12KB'");
    apply_fails("max_size: -1K\n", "cfg.yaml:1: 'max_size' must be a size (bytes, or a number "
                                   "with suffix K, M or G, e.g. 64M), got '-1K'");
    apply_fails("timeout: 30\n", "cfg.yaml:1: 'timeout' must be a duration (a number with unit "
                                 "ms, s, m, h or d, e.g. 15m), got '30'");
    apply_fails("timeout: 5w\n", "cfg.yaml:1: 'timeout' must be a duration (a number with unit "
                                 "ms, s, m, h or d, e.g. 15m), got '5w'");
    apply_fails("timeout: {a: 1}\n", "cfg.yaml:1: 'timeout' must be a duration (a number with "
                                     "unit ms, s, m, h or d, e.g. 15m), got a map");
    apply_fails("name: [a, b]\n", "cfg.yaml:1: 'name' must be a string, got a list");
    apply_fails("state_dir: {}\n", "cfg.yaml:1: 'state_dir' must be a path, got a map");
    apply_fails("state_dir: ''\n", "cfg.yaml:1: 'state_dir' must be a non-empty path");

    vg_node *root = NULL;
    struct cfg c = {0};
    ck_assert_int_eq(vg_yaml_load_mem("cfg.yaml", "- a\n", 4, &root, err, sizeof(err)), 0);
    ck_assert_int_eq(vg_conf_apply(root, NULL, cfg_tab, &c, err, sizeof(err)), VG_ECONFIG);
    ck_assert_str_eq(err, "cfg.yaml:1: expected a map, got a list");
    vg_node_free(root);
}
END_TEST

START_TEST(test_conf_values)
{
    static const struct {
        const char *doc;
        uint64_t size;
    } sizes[] = {
        {"max_size: 1024\n", 1024},
        {"max_size: 1K\n", 1024},
        {"max_size: 64M\n", UINT64_C(64) << 20},
        {"max_size: 3G\n", UINT64_C(3) << 30},
        {"max_size: 1024G\n", UINT64_C(1) << 40},
        {"max_size: 0010K\n", 10240},
    };
    static const struct {
        const char *doc;
        int64_t ms;
    } durs[] = {
        {"timeout: 250ms\n", 250},  {"timeout: 15s\n", 15000},   {"timeout: 15m\n", 900000},
        {"timeout: 2h\n", 7200000}, {"timeout: 1d\n", 86400000},
    };
    static const struct {
        const char *doc;
        bool val;
    } bools[] = {
        {"tls: true\n", true},   {"tls: yes\n", true}, {"tls: on\n", true},   {"tls: TRUE\n", true},
        {"tls: false\n", false}, {"tls: no\n", false}, {"tls: Off\n", false},
    };
    struct cfg c;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        ck_assert_msg(apply_mem(sizes[i].doc, &c) == 0, "%s: %s", sizes[i].doc, err);
        ck_assert_uint_eq(c.max_size, sizes[i].size);
        vg_conf_release(cfg_tab, &c);
    }
    for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
        ck_assert_msg(apply_mem(durs[i].doc, &c) == 0, "%s: %s", durs[i].doc, err);
        ck_assert_int_eq(c.timeout, durs[i].ms);
        vg_conf_release(cfg_tab, &c);
    }
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        ck_assert_msg(apply_mem(bools[i].doc, &c) == 0, "%s: %s", bools[i].doc, err);
        ck_assert_int_eq(c.tls, bools[i].val);
        vg_conf_release(cfg_tab, &c);
    }
    ck_assert_int_eq(apply_mem("port: 1\nname: \"quoted: yes\"\n", &c), 0);
    ck_assert_int_eq(c.port, 1);
    ck_assert_str_eq(c.name, "quoted: yes");
    vg_conf_release(cfg_tab, &c);
    ck_assert_int_eq(apply_mem("port: 065535\n", &c), 0);
    ck_assert_int_eq(c.port, 65535);
    vg_conf_release(cfg_tab, &c);
}
END_TEST

/* A quoted value is its text (docs/configuration.md): "5" where an
 * integer is expected is 5, in either quote style, and is still checked
 * against the key's type and bounds, with its line. A guard of the
 * documented contract (the audit of session 23 found code and docs apart
 * only in that the docs did not say so). */
START_TEST(test_conf_quoted)
{
    struct cfg c;
    ck_assert_msg(apply_mem("port: \"5\"\nmax_size: '64M'\ntimeout: \"15s\"\ntls: 'yes'\n", &c) == 0,
                  "%s", err);
    ck_assert_int_eq(c.port, 5);
    ck_assert_uint_eq(c.max_size, UINT64_C(64) << 20);
    ck_assert_int_eq(c.timeout, 15000);
    ck_assert(c.tls);
    vg_conf_release(cfg_tab, &c);
    apply_fails("name: x\nport: \"5s\"\n", "cfg.yaml:2: 'port' must be an integer, got '5s'");
    apply_fails("port: '70000'\n", "cfg.yaml:1: 'port' must be between 1 and 65535, got '70000'");
    apply_fails("timeout: \"30\"\n",
                "cfg.yaml:1: 'timeout' must be a duration (a number with unit ms, s, m, h or d, "
                "e.g. 15m), got '30'");
}
END_TEST

START_TEST(test_conf_bounds)
{
    apply_fails("port: 0\n", "cfg.yaml:1: 'port' must be between 1 and 65535, got '0'");
    apply_fails("port: 65536\n", "cfg.yaml:1: 'port' must be between 1 and 65535, got '65536'");
    apply_fails("port: -1\n", "cfg.yaml:1: 'port' must be between 1 and 65535, got '-1'");
    apply_fails("max_size: 1023\n",
                "cfg.yaml:1: 'max_size' must be between 1024 and 1099511627776 bytes, got '1023'");
    apply_fails("max_size: 1025G\n",
                "cfg.yaml:1: 'max_size' must be between 1024 and 1099511627776 bytes, got "
                "'1025G'");
    apply_fails("timeout: 0\n", "cfg.yaml:1: 'timeout' must be between 1 and 86400000 ms, got '0'");
    apply_fails("timeout: 25h\n",
                "cfg.yaml:1: 'timeout' must be between 1 and 86400000 ms, got '25h'");
}
END_TEST

/* Unbounded keys, to reach the limits of the number types themselves. */
struct wide {
    int64_t i;
    uint64_t sz;
    int64_t dur;
};
static const vg_conf_key wide_tab[] = {
    {"i", VG_CONF_INT, "0", offsetof(struct wide, i), "", 0, 0},
    {"sz", VG_CONF_SIZE, "0", offsetof(struct wide, sz), "", 0, 0},
    {"dur", VG_CONF_DURATION, "0", offsetof(struct wide, dur), "", 0, 0},
    {0},
};

static int apply_wide(const char *doc, struct wide *w)
{
    vg_node *root = NULL;
    ck_assert_int_eq(vg_yaml_load_mem("w.yaml", doc, strlen(doc), &root, err, sizeof(err)), 0);
    int rc = vg_conf_apply(root, NULL, wide_tab, w, err, sizeof(err));
    vg_node_free(root);
    return rc;
}

START_TEST(test_conf_overflow)
{
    struct wide w;

    ck_assert_int_eq(apply_wide("i: 9223372036854775807\n", &w), 0);
    ck_assert_int_eq(w.i, INT64_MAX);
    ck_assert_int_eq(apply_wide("i: -9223372036854775808\n", &w), 0);
    ck_assert_int_eq(w.i, INT64_MIN);
    ck_assert_int_eq(apply_wide("i: 9223372036854775808\n", &w), VG_ECONFIG);
    ck_assert_str_eq(err, "w.yaml:1: 'i' is out of range, got '9223372036854775808'");
    ck_assert_int_eq(apply_wide("i: -9223372036854775809\n", &w), VG_ECONFIG);
    ck_assert_str_eq(err, "w.yaml:1: 'i' is out of range, got '-9223372036854775809'");

    ck_assert_int_eq(apply_wide("sz: 18446744073709551615\n", &w), 0);
    ck_assert_uint_eq(w.sz, UINT64_MAX);
    ck_assert_int_eq(apply_wide("sz: 17179869183G\n", &w), 0);
    ck_assert_uint_eq(w.sz, UINT64_MAX - ((UINT64_C(1) << 30) - 1));
    ck_assert_int_eq(apply_wide("sz: 17179869184G\n", &w), VG_ECONFIG); /* exactly 2^64 */
    ck_assert_str_eq(err, "w.yaml:1: 'sz' is out of range, got '17179869184G'");
    ck_assert_int_eq(apply_wide("sz: 99999999999999999999G\n", &w), VG_ECONFIG);
    ck_assert_str_eq(err, "w.yaml:1: 'sz' is out of range, got '99999999999999999999G'");
    ck_assert_int_eq(apply_wide("sz: 18446744073709551616\n", &w), VG_ECONFIG);
    ck_assert_str_eq(err, "w.yaml:1: 'sz' is out of range, got '18446744073709551616'");
    ck_assert_int_eq(apply_wide("sz: 99999999999999999999X\n", &w), VG_ECONFIG);
    ck_assert_str_eq(err, "w.yaml:1: 'sz' must be a size (bytes, or a number with suffix K, M "
                          "or G, e.g. 64M), got '99999999999999999999X'");

    ck_assert_int_eq(apply_wide("dur: 106751991167d\n", &w), 0);
    ck_assert_int_eq(w.dur, INT64_C(106751991167) * 86400000);
    ck_assert_int_eq(apply_wide("dur: 106751991168d\n", &w), VG_ECONFIG);
    ck_assert_str_eq(err, "w.yaml:1: 'dur' is out of range, got '106751991168d'");
    ck_assert_int_eq(apply_wide("dur: 9223372036854775808ms\n", &w), VG_ECONFIG);
    ck_assert_str_eq(err, "w.yaml:1: 'dur' is out of range, got '9223372036854775808ms'");
}
END_TEST

START_TEST(test_conf_required)
{
    struct req {
        char *a;
        int64_t n;
    } r = {0};
    static const vg_conf_key req_tab[] = {
        {"a", VG_CONF_STR, "x", offsetof(struct req, a), "", 0, 0},
        {"n", VG_CONF_INT, NULL, offsetof(struct req, n), "", 0, 0},
        {0},
    };
    vg_node *root = NULL;
    const char doc[] = "\na: y\n";
    ck_assert_int_eq(vg_yaml_load_mem("r.yaml", doc, strlen(doc), &root, err, sizeof(err)), 0);
    ck_assert_int_eq(vg_conf_apply(root, NULL, req_tab, &r, err, sizeof(err)), VG_ECONFIG);
    ck_assert_str_eq(err, "r.yaml:2: missing required key 'n'");
    ck_assert_ptr_null(r.a); /* filled, then released on the error */
    vg_node_free(root);

    ck_assert_int_eq(vg_conf_apply(NULL, "r.yaml", req_tab, &r, err, sizeof(err)), VG_ECONFIG);
    ck_assert_str_eq(err, "r.yaml: missing required key 'n'");
    ck_assert_ptr_null(r.a);
}
END_TEST

START_TEST(test_conf_release_on_error)
{
    /* name, state_dir and note would be allocated before 'port' fails:
     * apply_mem checks they come back NULL, ASan checks they were freed. */
    apply_fails("name: n\nstate_dir: /x\nnote: z\nport: 99999\n",
                "cfg.yaml:4: 'port' must be between 1 and 65535, got '99999'");
    apply_fails("name: n\nstate_dir: s\nnote: z\ntimeout: 1y\n",
                "cfg.yaml:4: 'timeout' must be a duration (a number with unit ms, s, m, h or d, "
                "e.g. 15m), got '1y'");

    /* a broken built-in default is reported without a location */
    struct bad {
        char *s;
        int64_t i;
    } b = {0};
    static const vg_conf_key bad_tab[] = {
        {"s", VG_CONF_STR, "x", offsetof(struct bad, s), "", 0, 0},
        {"i", VG_CONF_INT, "ten", offsetof(struct bad, i), "", 0, 0},
        {0},
    };
    ck_assert_int_eq(vg_conf_apply(NULL, NULL, bad_tab, &b, err, sizeof(err)), VG_ECONFIG);
    ck_assert_str_eq(err, "'i' must be an integer, got 'ten'");
    ck_assert_ptr_null(b.s);
}
END_TEST

/* Instance and output names: what may go into a path under data_dir, a
 * store key and the link's HELLO. */
START_TEST(test_conf_names)
{
    const char *good[] = {"c1", "road-gw_07.north", "A", "x.",
                          "0123456789012345678901234567890123456789012345678901234567890123"};
    const char *bad[] = {"",
                         ".",
                         "..",
                         ".hidden",
                         "../correlator/main",
                         "a/b",
                         "a b",
                         "é",
                         "01234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(vg_conf_name_ok(good[i]), "refused '%s'", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!vg_conf_name_ok(bad[i]), "accepted '%s'", bad[i]);
    ck_assert(!vg_conf_name_ok(NULL));
    struct {
        char *name;
    } v = {0};
    const vg_conf_key tab[] = {{"name", VG_CONF_NAME, "vigil", 0, "", 0, 0}, {NULL}};
    char msg[300];
    vg_node *root = NULL;
    ck_assert_int_eq(vg_yaml_load_mem("n.yaml", "name: a/b\n", 10, &root, msg, sizeof(msg)), 0);
    ck_assert_int_eq(vg_conf_apply(root, "n.yaml", tab, &v, msg, sizeof(msg)), VG_ECONFIG);
    ck_assert_str_eq(msg, "n.yaml:1: 'name' must be 1 to 64 letters, digits, '.', '_' or '-', "
                          "not starting with '.' (got 'a/b')");
    ck_assert_ptr_null(v.name);
    vg_node_free(root);
    ck_assert_int_eq(vg_conf_apply(NULL, "n.yaml", tab, &v, msg, sizeof(msg)), 0);
    ck_assert_str_eq(v.name, "vigil");
    vg_conf_release(tab, &v);
    ck_assert_ptr_null(v.name);
}
END_TEST

START_TEST(test_conf_path)
{
    char cwd[PATH_MAX], want[PATH_MAX + 64], *p;

    p = vg_conf_path("/etc/vigil/vigil.yaml", "data");
    ck_assert_str_eq(p, "/etc/vigil/data");
    free(p);
    p = vg_conf_path("/etc/vigil/vigil.yaml", "./data/q");
    ck_assert_str_eq(p, "/etc/vigil/data/q");
    free(p);
    p = vg_conf_path("/etc/vigil/vigil.yaml", "../state");
    ck_assert_str_eq(p, "/etc/vigil/../state"); /* lexical: no realpath */
    free(p);
    p = vg_conf_path("/etc/vigil/vigil.yaml", "/var/lib/vigil");
    ck_assert_str_eq(p, "/var/lib/vigil");
    free(p);
    p = vg_conf_path("/vigil.yaml", "data");
    ck_assert_str_eq(p, "/data");
    free(p);
    p = vg_conf_path(NULL, "/abs");
    ck_assert_str_eq(p, "/abs");
    free(p);
    ck_assert_ptr_null(vg_conf_path("/x.yaml", NULL));

    /* a relative config file is taken against the current directory */
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    ck_assert_int_eq(chdir(tmpdir), 0);
    char here[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(here, sizeof(here)));
    p = vg_conf_path("conf/vigil.yaml", "data");
    snprintf(want, sizeof(want), "%s/conf/data", here);
    ck_assert_str_eq(p, want);
    free(p);
    p = vg_conf_path("./vigil.yaml", "data");
    snprintf(want, sizeof(want), "%s/data", here);
    ck_assert_str_eq(p, want);
    free(p);
    p = vg_conf_path("vigil.yaml", "data");
    ck_assert_str_eq(p, want);
    free(p);
    p = vg_conf_path(NULL, "data");
    ck_assert_str_eq(p, want);
    free(p);
    ck_assert_int_eq(chdir(cwd), 0);

    /* through vg_conf_apply, from a file in a subdirectory */
    char dir[PATH_MAX + 8], path[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/etc", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    mkfile(path, "etc/vigil.yaml", "state_dir: q/state\nnote: x\n");
    vg_node *root = load_ok(path);
    struct cfg c;
    ck_assert_int_eq(vg_conf_apply(root, NULL, cfg_tab, &c, err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "%s/etc/q/state", tmpdir);
    ck_assert_str_eq(c.state_dir, want);
    vg_conf_release(cfg_tab, &c);
    vg_node_free(root);
}
END_TEST

/* A reload's list of keys that need a restart: only the changed ones, in
 * order, cut to the room given, and the count even when cut. */
START_TEST(test_conf_changed_list)
{
    const vg_conf_change tab[] = {{"user", false}, {"run_dir", true}, {"data_dir", false},
                                  {"stats_interval", true}};
    char out[64];
    ck_assert_int_eq(vg_conf_changed_list(tab, 4, out, sizeof(out)), 2);
    ck_assert_str_eq(out, "run_dir, stats_interval");
    ck_assert_int_eq(vg_conf_changed_list(tab, 1, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    char small[10];
    ck_assert_int_eq(vg_conf_changed_list(tab, 4, small, sizeof(small)), 2);
    ck_assert_str_eq(small, "run_dir, ");
}
END_TEST

START_TEST(test_conf_helpers)
{
    vg_node *root = NULL;
    const char doc[] = "s: 4K\nd: 2m\nb: on\nbad: 4 K\n";
    uint64_t sz = 0;
    int64_t ms = 0;
    bool b = false;

    ck_assert_int_eq(vg_yaml_load_mem("h.yaml", doc, strlen(doc), &root, err, sizeof(err)), 0);
    ck_assert_int_eq(vg_conf_parse_size(get(root, "s"), &sz, err, sizeof(err)), 0);
    ck_assert_uint_eq(sz, 4096);
    ck_assert_int_eq(vg_conf_parse_duration(get(root, "d"), &ms, err, sizeof(err)), 0);
    ck_assert_int_eq(ms, 120000);
    ck_assert_int_eq(vg_conf_parse_bool(get(root, "b"), &b, err, sizeof(err)), 0);
    ck_assert(b);

    ck_assert_int_eq(vg_conf_parse_size(get(root, "bad"), &sz, err, sizeof(err)), VG_ECONFIG);
    ck_assert_str_eq(err, "h.yaml:4: expected a size (bytes, or a number with suffix K, M or G, "
                          "e.g. 64M), got '4 K'");
    ck_assert_uint_eq(sz, 4096); /* untouched on error */
    ck_assert_int_eq(vg_conf_parse_duration(get(root, "bad"), &ms, err, sizeof(err)), VG_ECONFIG);
    ck_assert_str_eq(err, "h.yaml:4: expected a duration (a number with unit ms, s, m, h or d, "
                          "e.g. 15m), got '4 K'");
    ck_assert_int_eq(vg_conf_parse_bool(root, &b, err, sizeof(err)), VG_ECONFIG);
    ck_assert_str_eq(err, "h.yaml:1: expected a boolean (true/false, yes/no, on/off), got a map");

    /* vg_conf_errf: location prefix, none without a node, truncation */
    ck_assert_int_eq(vg_conf_errf(err, sizeof(err), get(root, "d"), "bad %s %d", "thing", 7),
                     VG_ECONFIG);
    ck_assert_str_eq(err, "h.yaml:2: bad thing 7");
    ck_assert_int_eq(vg_conf_errf(err, sizeof(err), NULL, "plain"), VG_ECONFIG);
    ck_assert_str_eq(err, "plain");
    char small[8];
    ck_assert_int_eq(vg_conf_errf(small, sizeof(small), get(root, "d"), "long message"),
                     VG_ECONFIG);
    ck_assert_str_eq(small, "h.yaml:");
    ck_assert_int_eq(vg_conf_errf(NULL, 0, root, "ignored"), VG_ECONFIG);
    vg_node_free(root);
}
END_TEST

static Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *y = tcase_create("yaml");
    tcase_add_checked_fixture(y, setup, teardown);
    tcase_add_test(y, test_yaml_tree);
    tcase_add_test(y, test_yaml_empty);
    tcase_add_test(y, test_yaml_syntax_error);
    tcase_add_test(y, test_yaml_refusals);
    tcase_add_test(y, test_yaml_depth);
    tcase_add_test(y, test_yaml_missing_file);
    tcase_add_test(y, test_yaml_fifo);
    tcase_add_test(y, test_yaml_huge_sparse);
    tcase_add_test(y, test_cfile);
    tcase_add_test(y, test_yaml_mem_and_get);
    tcase_add_test(y, test_yaml_scalar_lines);
    suite_add_tcase(s, y);

    TCase *c = tcase_create("apply");
    tcase_add_checked_fixture(c, setup, teardown);
    tcase_add_test(c, test_conf_full);
    tcase_add_test(c, test_conf_defaults);
    tcase_add_test(c, test_conf_unknown_key);
    tcase_add_test(c, test_conf_path_tilde_null);
    tcase_add_test(c, test_conf_type_errors);
    tcase_add_test(c, test_conf_values);
    tcase_add_test(c, test_conf_quoted);
    tcase_add_test(c, test_conf_bounds);
    tcase_add_test(c, test_conf_overflow);
    tcase_add_test(c, test_conf_required);
    tcase_add_test(c, test_conf_release_on_error);
    tcase_add_test(c, test_conf_path);
    tcase_add_test(c, test_conf_names);
    tcase_add_test(c, test_conf_helpers);
    tcase_add_test(c, test_conf_changed_list);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
