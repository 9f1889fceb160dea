/* One-shot modes of vigil-correlator: the live engine's code, run offline.
 *
 *   --replay FILE... [--rules PATH] [--year YYYY] [--list NAME=FILE]...
 *   --test-rules [PATH] [--year YYYY] [--list NAME=FILE]...
 *   --explain [--rules PATH] [--year YYYY] [--list NAME=FILE]... [LINE]   (stdin without LINE)
 *   --load-list NAME FILE       (into the running correlator's store)
 *   --dump-list NAME
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cor.h"
#include "cor_prefilter.h"
#include "vigil/conf.h"
#include "vigil/ecs.h"
#include "vigil/err.h"
#include "vigil/event_json.h"
#include "vigil/log.h"
#include "vigil/syslog.h"
#include "vigil/util.h"

/* The offline store's map before the lists' room (cor_offline_map_mb). A
 * test build makes it small, so that a list of a few MB shows the sizing. */
#ifndef COR_OFFLINE_MAP_MB
#define COR_OFFLINE_MAP_MB 64
#endif

typedef struct cor_tool_args {
    const char *rules;
    const char *agency, *site; /* --agency, --site: every line's tags (NULL: unknown) */
    int year;
    const char *lists[COR_MAX_LISTS][2];
    int nlists;
    char **files;
    int nfiles;
} cor_tool_args;

/* The tools' own arguments. An option missing its value was called
 * unknown ("--replay: unknown option '--year'"), and --year took what
 * atoi made of its text ("2026x" was 2026). */
static int cor_tool_parse(int argc, char **argv, cor_tool_args *a, const char *tool)
{
    memset(a, 0, sizeof(*a));
    a->files = calloc((size_t)argc + 1, sizeof(char *));
    if (!a->files)
        return -ENOMEM;
    for (int i = 0; i < argc; i++) {
        bool tag = strcmp(argv[i], "--agency") == 0 || strcmp(argv[i], "--site") == 0;
        bool opt = strcmp(argv[i], "--rules") == 0 || strcmp(argv[i], "--year") == 0 ||
                   strcmp(argv[i], "--list") == 0 || tag;
        if (opt && i + 1 == argc) {
            fprintf(stderr, "%s: %s needs a value\n", tool, argv[i]);
            return -EINVAL;
        }
        if (strcmp(argv[i], "--rules") == 0) {
            a->rules = argv[++i];
        } else if (tag) {
            /* the collector's source map is not read offline: the lines of
             * one agency's host are tagged as the collector would */
            const char *what = argv[i++];
            if (!argv[i][0]) {
                fprintf(stderr, "%s: %s takes a name, not ''\n", tool, what);
                return -EINVAL;
            }
            *(what[2] == 'a' ? &a->agency : &a->site) = argv[i];
        } else if (strcmp(argv[i], "--year") == 0) {
            char *end;
            errno = 0;
            long y = strtol(argv[++i], &end, 10);
            a->year = errno || end == argv[i] || *end || y < 1970 || y > 9999 ? 0 : (int)y;
            if (!a->year) {
                fprintf(stderr, "%s: --year takes a year, not '%s'\n", tool, argv[i]);
                return -EINVAL;
            }
        } else if (strcmp(argv[i], "--list") == 0) {
            char *eq = strchr(argv[++i], '=');
            if (!eq || a->nlists == COR_MAX_LISTS) {
                fprintf(stderr, "%s: --list takes NAME=FILE\n", tool);
                return -EINVAL;
            }
            *eq = '\0';
            a->lists[a->nlists][0] = argv[i];
            a->lists[a->nlists++][1] = eq + 1;
        } else if (strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
            fprintf(stderr, "%s: unknown option '%s'\n", tool, argv[i]);
            return -EINVAL;
        } else {
            a->files[a->nfiles++] = argv[i];
        }
    }
    return 0;
}

/* An offline engine: rules, an in-memory state, and lists in a throw-away
 * LMDB environment (lists always live in LMDB). */
typedef struct cor_offline {
    cor_conf conf;
    cor_ruleset *rs;
    vg_store *st;
    cor_lists *lists;
    cor_eval *eval;
    char tmp[PATH_MAX]; /* the temporary store's directory, "" if none */
    vg_buf out;       /* --replay: alerts not yet written to stdout */
    int out_err;      /* a write to stdout failed */
    uint64_t alerts;
    size_t max_message; /* collector.max_message_size: lines are cut there, as live */
    uint64_t *per_rule;
    struct cor_id_ref {
        const char *p; /* a rule's id string */
        uint32_t i;    /* its index */
    } *ids;            /* rs->n entries sorted by address (cor_rule_of) */
} cor_offline;

/* Removes the temporary store's directory: LMDB's files in it, then it
 * (no shell: TMPDIR may hold any byte). Returns 0 or -1 with errno. */
static int cor_rm_store_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0)
            rc = -1;
    }
    closedir(d);
    return rc == 0 ? rmdir(dir) : rc;
}

static void cor_offline_free(cor_offline *o)
{
    cor_eval_free(o->eval);
    cor_lists_close(o->lists);
    vg_store_close(o->st);
    if (o->tmp[0] && cor_rm_store_dir(o->tmp) != 0)
        vg_warn("could not remove %s: %s", o->tmp, strerror(errno));
    cor_rules_free(o->rs);
    cor_conf_free(&o->conf);
    vg_buf_free(&o->out);
    free(o->per_rule);
    free(o->ids);
}

static int cor_id_ref_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct cor_id_ref *)a)->p;
    uintptr_t y = (uintptr_t)((const struct cor_id_ref *)b)->p;
    return x < y ? -1 : x > y;
}

/* The index of the rule an alert is about, or -1. A rule's alert carries
 * the rule's own id string, so its address finds it (a binary search over
 * o->ids) instead of comparing the id with every rule's, which was 15% of a
 * replay at 500 rules; other alerts (vigil.correlation_degraded) fall back
 * to the comparison. */
static int cor_rule_of(const cor_offline *o, vg_str id)
{
    size_t lo = 0, hi = o->rs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)o->ids[mid].p < (uintptr_t)id.p)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < o->rs->n && o->ids[lo].p == id.p)
        return (int)o->ids[lo].i;
    for (size_t i = 0; i < o->rs->n; i++)
        if (vg_str_eq(id, o->rs->rules[i].id))
            return (int)i;
    return -1;
}

/* The offline store's map: COR_OFFLINE_MAP_MB, and room for every list
 * that will be loaded into it: RULES_DIR/lists/, correlator.lists and
 * --list (a list named twice is in it twice within one transaction). */
static size_t cor_offline_map_mb(const cor_offline *o, const cor_tool_args *a)
{
    uint64_t bytes = cor_list_files_bytes(&o->conf, a->rules ? a->rules : o->conf.rules_dir);
    struct stat sb;
    for (int i = 0; i < a->nlists; i++)
        if (stat(a->lists[i][1], &sb) == 0)
            bytes += (uint64_t)sb.st_size;
    return COR_OFFLINE_MAP_MB + cor_lists_map_mb(bytes);
}

/* The rules directory of a tool run without a configuration file (none at
 * the default path) and without PATH is the default correlator.rules_dir:
 * says so after its error, and how to name another. */
static void cor_offline_no_config_err(char *err, size_t errlen)
{
    size_t n = strlen(err);
    if (n < errlen)
        snprintf(err + n, errlen - n,
                 " (the default correlator.rules_dir: no configuration file %s; give PATH, or "
                 "-c FILE)",
                 VG_DEFAULT_CONFIG);
}

/* The longest message the collector keeps whole: collector.max_message_size
 * of the configuration when it has one (a file that holds the collector's
 * section), else its default, 8K. A longer line was replayed whole, while
 * the collector cut it there and flagged it: a match past the cut fired in
 * --replay and not live. 0, or VG_ECONFIG with FILE:LINE: reason in err. */
static int cor_offline_max_message(const vg_node *root, size_t *out, char *err, size_t errlen)
{
    const vg_node *n = vg_node_get(vg_node_get(root, "collector"), "max_message_size");
    uint64_t v = VG_MAX_MESSAGE_DEFAULT;
    *out = (size_t)v;
    if (!n)
        return 0;
    int rc = vg_conf_parse_size(n, &v, err, errlen);
    if (rc == 0 && (v < VG_MAX_MESSAGE_MIN || v > VG_MAX_MESSAGE_MAX)) {
        snprintf(err, errlen, "%s:%d: 'max_message_size' must be between %d and %d bytes, got '%s'",
                 n->file, n->line, VG_MAX_MESSAGE_MIN, VG_MAX_MESSAGE_MAX, n->str ? n->str : "");
        rc = VG_ECONFIG;
    }
    if (rc == 0)
        *out = (size_t)v;
    return rc;
}

static int cor_offline_open(cor_offline *o, vg_daemon *d, const vg_node *root,
                            const cor_tool_args *a)
{
    char err[1024] = "";
    memset(o, 0, sizeof(*o));
    int rc = cor_conf_load(root, vg_daemon_config_path(d) ? vg_daemon_config_path(d) : "./none",
                           vg_daemon_pipeline(d)->run_dir, &o->conf, err, sizeof(err));
    cor_rules_opts opts = cor_conf_rules_opts(&o->conf);
    if (rc == 0)
        rc = cor_offline_max_message(root, &o->max_message, err, sizeof(err));
    if (rc == 0) {
        rc = cor_rules_load(a->rules ? a->rules : o->conf.rules_dir, &opts, &o->rs, err, sizeof(err));
        if (rc && !a->rules && vg_daemon_config_path(d))
            cor_conf_rules_err(&o->conf, err, sizeof(err));
        else if (rc && !a->rules) /* the placeholder file named nothing the operator wrote */
            cor_offline_no_config_err(err, sizeof(err));
    }
    const char *t = getenv("TMPDIR");
    t = t && *t ? t : "/tmp";
    if (rc == 0 && (size_t)snprintf(o->tmp, sizeof(o->tmp), "%s/vigil-offline-XXXXXX", t) >=
                       sizeof(o->tmp)) {
        o->tmp[0] = '\0';
        rc = -ENAMETOOLONG;
        snprintf(err, sizeof(err), "TMPDIR %s: %s", t, strerror(ENAMETOOLONG));
    } else if (rc == 0 && !mkdtemp(o->tmp)) {
        rc = -errno;
        snprintf(err, sizeof(err), "cannot make a temporary store under TMPDIR %s: %s", t,
                 strerror(errno));
        o->tmp[0] = '\0';
    }
    if (rc == 0)
        rc = vg_store_open(&o->st, o->tmp, cor_offline_map_mb(o, a));
    if (rc == 0)
        rc = cor_lists_open(o->st, &o->lists);
    /* offline tools print results, not the daemon's progress lines */
    enum vg_log_level lv = vg_log_get_level();
    if (lv == VG_LOG_INFO)
        vg_log_set_level(VG_LOG_WARN);
    if (rc == 0)
        rc = cor_load_lists(o->lists, false, &o->conf, a->rules ? a->rules : o->conf.rules_dir,
                            NULL, true, err, sizeof(err));
    for (int i = 0; rc == 0 && i < a->nlists; i++) {
        size_t n;
        rc = cor_lists_load_file(o->lists, a->lists[i][0], a->lists[i][1], &n, err, sizeof(err));
    }
    if (rc == 0)
        cor_warn_unloaded_lists(o->lists, NULL, o->rs);
    if (rc == 0)
        rc = cor_eval_new(&o->eval, o->rs, NULL, o->lists);
    vg_log_set_level(lv);
    if (rc == 0 && !(o->per_rule = calloc(o->rs->n + 1, sizeof(uint64_t))))
        rc = -ENOMEM;
    if (rc == 0 && !(o->ids = malloc((o->rs->n + 1) * sizeof(*o->ids))))
        rc = -ENOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < o->rs->n; i++)
            o->ids[i] = (struct cor_id_ref){o->rs->rules[i].id, (uint32_t)i};
        qsort(o->ids, o->rs->n, sizeof(*o->ids), cor_id_ref_cmp);
    }
    if (rc) {
        vg_error("%s", err[0] ? err : vg_strerror(rc));
        cor_offline_free(o);
    }
    return rc;
}

#define COR_OUT_FLUSH (256 * 1024) /* --replay writes its alerts in blocks of this size */

/* Writes the alerts formatted so far to stdout; a failure is remembered
 * in o->out_err and reported once, at the end of the replay. */
static void cor_out_flush(cor_offline *o)
{
    size_t n = o->out.len;
    o->out.len = 0;
    if (n && fwrite(o->out.p, 1, n, stdout) != n)
        o->out_err = 1;
}

/* --replay's emit: the alert as ECS JSON with a replay-local id (its
 * number in 32 hex digits), appended to o->out and written out in large
 * blocks (cor_out_flush) rather than one fwrite per alert. */
static int cor_print_alert(void *ud, const vg_alert *in)
{
    static const char hex[] = "0123456789abcdef";
    cor_offline *o = ud;
    vg_alert al = *in;
    char id[32];
    unsigned long long v = (unsigned long long)(o->alerts + 1);
    for (int i = 31; i >= 0; i--, v >>= 4)
        id[i] = hex[v & 15];
    al.id = vg_str_n(id, 32);
    int rc = vg_ecs_alert(&o->out, &al, "replay");
    if (o->out.len >= COR_OUT_FLUSH)
        cor_out_flush(o);
    o->alerts++;
    int ri = cor_rule_of(o, in->rule_id);
    if (ri >= 0)
        o->per_rule[ri]++;
    return rc;
}

/* Reads a whole file ("-" = stdin) into a buffer, its length in *len (a
 * NUL follows, but the bytes may hold NULs too: use *len, not strlen). */
static char *cor_read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    vg_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (vg_buf_add(&b, chunk, n))
            break;
    int bad = ferror(f) || b.oom;
    if (f != stdin)
        fclose(f);
    if (bad || vg_buf_addc(&b, '\0')) {
        vg_buf_free(&b);
        errno = EIO;
        return NULL;
    }
    *len = b.len - 1;
    return b.p;
}

typedef int (*cor_line_fn)(void *ud, char *line, size_t n);
typedef int (*cor_done_fn)(void *ud);

/* Splits text[0..len) into lines (LF or CRLF), calling fn on each
 * non-empty one, then done (if not NULL) while text is still there: fn may
 * keep views into text until then. */
static int cor_lines(char *text, size_t len, cor_line_fn fn, cor_done_fn done, void *ud)
{
    int rc = 0;
    char *end = text + len;
    for (char *l = text, *nl; rc == 0 && l < end; l = nl + 1) {
        nl = memchr(l, '\n', (size_t)(end - l));
        if (!nl)
            nl = end;
        size_t n = (size_t)(nl - l);
        while (n && (l[n - 1] == '\r' || l[n - 1] == '\0'))
            n--;
        if (n)
            rc = fn(ud, l, n);
    }
    if (rc == 0 && done)
        rc = done(ud);
    return rc;
}

/* The length of the UTF-8 byte order mark text starts with (3), or 0: a
 * Windows tool's export or an editor's save marks a whole log so, and the
 * mark is no part of its first line (a watchlist's is dropped the same
 * way): read as the line's start, it hid the line's PRI and stamp. */
static size_t cor_bom(const char *text, size_t len)
{
    return len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

/* A compressed file given to --replay (a rotated auth.log.2.gz) read as
 * text made a few lines of binary, no alert and exit 0: the replay looked
 * clean. Refused with how to read it; VG_ECONFIG (said here). */
static int cor_not_compressed(const char *path, const char *p, size_t n)
{
    static const struct {
        const char *magic; /* '?': any byte (bzip2's block size) */
        size_t len;
        const char *name, *cat;
    } kinds[] = {
        {"\x1f\x8b", 2, "gzip", "zcat"},
        {"BZh?1AY&SY", 10, "bzip2", "bzcat"}, /* "BZh" alone could start a line of text */
        {"\xfd" "7zXZ\x00", 6, "xz", "xzcat"},
        {"\x28\xb5\x2f\xfd", 4, "zstd", "zstdcat"},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t k = 0;
        while (k < kinds[i].len && k < n && (kinds[i].magic[k] == '?' || p[k] == kinds[i].magic[k]))
            k++;
        if (k < kinds[i].len)
            continue;
        if (strcmp(path, "-") == 0)
            vg_error("standard input is %s-compressed, not text: decompress it on its way in "
                     "(%s FILE | vigil-correlator ...)", kinds[i].name, kinds[i].cat);
        else
            vg_error("%s: is %s-compressed, not text: give its text (%s %s | vigil-correlator "
                     "--replay - ..., or --replay <(%s %s))",
                     path, kinds[i].name, kinds[i].cat, path, kinds[i].cat, path);
        return VG_ECONFIG;
    }
    return 0;
}

/* Runs fn over the lines of a file, after the byte order mark it may start
 * with: mapped when it is a regular file (no copy, no memory beyond the
 * page cache), read whole otherwise (stdin). Both ways split by length, so
 * a line holding a NUL reaches fn whole. */
static int cor_file_lines(const char *path, cor_line_fn fn, cor_done_fn done, void *ud)
{
    int fd = strcmp(path, "-") == 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    bool st = fd >= 0 && fstat(fd, &sb) == 0;
    if (st && S_ISREG(sb.st_mode)) {
        int rc = 0;
        if (sb.st_size > 0) {
            char *m = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
            if (m == MAP_FAILED) {
                close(fd);
                return -errno;
            }
            madvise(m, (size_t)sb.st_size, MADV_SEQUENTIAL);
            size_t b = cor_bom(m, (size_t)sb.st_size);
            rc = cor_not_compressed(path, m, (size_t)sb.st_size);
            if (rc == 0)
                rc = cor_lines(m + b, (size_t)sb.st_size - b, fn, done, ud);
            munmap(m, (size_t)sb.st_size);
        }
        close(fd);
        return rc;
    }
    /* a directory (--replay /var/log/) opens and fails at its first read:
     * said "Input/output error" */
    bool dir = st && S_ISDIR(sb.st_mode);
    if (fd >= 0)
        close(fd);
    if (dir)
        return -EISDIR;
    size_t len = 0;
    char *text = cor_read_all(path, &len);
    if (!text)
        return -errno;
    size_t b = cor_bom(text, len);
    int rc = cor_not_compressed(path, text, len);
    if (rc == 0)
        rc = cor_lines(text + b, len - b, fn, done, ud);
    free(text);
    return rc;
}

#define COR_FEED_BATCH 128 /* events handed to cor_eval_events at a time */

/* Where the offline tools put a year-less RFC 3164 stamp: a log is in
 * time order, so near the event before it. The parser places such a stamp
 * in (now - 334 days, now + 31 days]; with now 304 days after the previous
 * event, that is from 30 days before it to 335 days after it: "Jan  1"
 * after "Dec 31" of 2025 is in 2026, "Dec 31 23:59:58" after "Dec 31
 * 23:59:59" stays in 2025. */
#define COR_YEAR_LEAD_US (304LL * 86400 * 1000000)

/* A replayed line as the summary names it: its file, time and start. */
typedef struct cor_wm_line {
    const char *file;
    int64_t ts_us;
    char text[100]; /* the line's first bytes (cor_wm_text shows them) */
} cor_wm_line;

typedef struct cor_feed_ctx {
    cor_offline *o;
    int year;          /* --year: the year of the first year-less stamp; 0: inferred */
    int64_t ref_us;    /* without --year: the time that places it; 0: the wall clock */
    int64_t prev_ts_us; /* the event time of the last line with a timestamp */
    bool have_prev;
    /* --replay: a line without a usable stamp (none, or Feb 29 of a year
     * without one) takes the event time of the last line with one (0
     * before any), counted in untimed; the others the clock */
    bool untimed_prev, have_last;
    int64_t last_us;
    uint64_t untimed;
    const char *agency, *site; /* tags for every line; NULL: unknown */
    uint64_t lines, malformed;
    cor_emit_fn emit;
    void *emit_ud;
    vg_event batch[COR_FEED_BATCH]; /* parsed, not yet evaluated: views into the input */
    uint32_t nb;
    int64_t now_us; /* the arrival time the parser infers missing years from */
    /* --replay (file set): the watermark as the engine moves it, the line
     * that set it, and the first late line with what made it late
     * (cor_feed_watch) */
    const char *file;
    cor_wm_line wm, wm_before, late, late_by, late_by_before;
    bool late_seen;
} cor_feed_ctx;

/* A raw line as the collector would deliver it, for the offline tools. Replay
 * runs on event time: the arrival time is the event's own. A year-less
 * stamp takes its year from the line before (COR_YEAR_LEAD_US); --year, or
 * else the file's mtime or the wall clock (ref_us), only places the first
 * one. */
static void cor_tool_event(cor_feed_ctx *f, char *line, size_t n, const char *src, vg_event *ev)
{
    bool cut = n > f->o->max_message; /* cut and flagged where the collector cuts */
    if (cut)
        n = f->o->max_message;
    vg_syslog_opts so = {
        .now_us = f->ref_us ? f->ref_us : f->now_us, .year = f->year, .truncated = cut};
    if (f->have_prev)
        so = (vg_syslog_opts){.now_us = f->prev_ts_us + COR_YEAR_LEAD_US, .truncated = cut};
    vg_syslog_parse(line, n, &so, ev);
    if (cut) {
        ev->flags |= VG_EV_TRUNCATED;
        if (!ev->reason.p)
            ev->reason = vg_str_c("truncated to max_message_size");
    }
    if ((ev->flags & VG_EV_NO_TS) && f->untimed_prev) {
        /* not the clock: it would move the watermark to the day of the
         * replay, and the lines after would be late */
        ev->ts_us = f->have_last ? f->last_us : 0;
        f->untimed += !(ev->flags & VG_EV_MALFORMED);
    } else if (ev->flags & VG_EV_NO_TS) {
        ev->ts_us = f->now_us; /* no stamp: the wall clock, as before, not the lead */
    } else if (!(ev->flags & VG_EV_MALFORMED)) {
        f->prev_ts_us = f->last_us = ev->ts_us;
        f->have_prev = f->have_last = true;
    }
    ev->recv_us = ev->ts_us;
    ev->src = vg_str_c(src);
    if (!ev->host.p) {
        ev->host = ev->src;
        ev->flags |= VG_EV_NO_HOST;
    }
    ev->agency = vg_str_c(f->agency ? f->agency : "unknown");
    ev->site = vg_str_c(f->site ? f->site : "unknown");
    ev->seq = ++f->lines;
}

/* Evaluates the parsed lines waiting in f->batch (cor_done_fn). */
static int cor_feed_flush(void *ud)
{
    cor_feed_ctx *f = ud;
    uint32_t n = f->nb;
    f->nb = 0;
    return n ? cor_eval_events(f->o->eval, f->batch, n, f->emit, f->emit_ud) : 0;
}

/* Keeps a line's file, time and first bytes: a memcpy, as the watermark
 * moves with nearly every line of a log in time order (cleaned up only
 * when printed, cor_wm_text). */
static void cor_wm_line_set(cor_wm_line *w, const char *file, int64_t ts, const char *line,
                            size_t n)
{
    w->file = file;
    w->ts_us = ts;
    size_t k = n < sizeof(w->text) - 1 ? n : sizeof(w->text) - 1;
    memcpy(w->text, line, k);
    w->text[k] = '\0';
}

/* w's first bytes as the summary shows them: controls (and a NUL the line
 * held, which ends them) as '?'. */
static const char *cor_wm_text(const cor_wm_line *w, char *out, size_t cap)
{
    size_t k = 0;
    for (; k + 1 < cap && k < sizeof(w->text) - 1 && w->text[k]; k++) {
        unsigned char c = (unsigned char)w->text[k];
        out[k] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[k] = '\0';
    return out;
}

/* --replay follows the engine's watermark line by line (every line moves
 * it, its time being the line's own: replay has no arrival time) to name,
 * in the summary, what made the first late line late. Live, a stamp more
 * than 5 minutes past its arrival takes the arrival time; replayed, one
 * line stamped far ahead (a device clock at 2100) moves the watermark there
 * and every line after it is late, which the late count alone did not
 * explain. */
static void cor_feed_watch(cor_feed_ctx *f, const char *line, size_t n, const vg_event *ev)
{
    if (f->late_seen) /* named already: the watermark's line is needed no more */
        return;
    int64_t t = ev->ts_us, lateness = f->o->rs->lateness_us;
    if (t < f->wm.ts_us - lateness) {
        f->late_seen = true;
        cor_wm_line_set(&f->late, f->file, t, line, n);
        f->late_by = f->wm;
        f->late_by_before = f->wm_before;
    }
    if (t > f->wm.ts_us) {
        f->wm_before = f->wm;
        cor_wm_line_set(&f->wm, f->file, t, line, n);
    }
}

/* The summary's line on the first late line (cor_feed_watch). */
static void cor_feed_late_note(const cor_feed_ctx *f)
{
    if (!f->late_seen)
        return;
    char wm[40], at[40], t1[sizeof(f->late.text)], t2[sizeof(f->late.text)];
    if (!vg_time_format(f->late_by.ts_us, wm, sizeof(wm)))
        snprintf(wm, sizeof(wm), "%lld us", (long long)f->late_by.ts_us);
    if (!vg_time_format(f->late.ts_us, at, sizeof(at)))
        snprintf(at, sizeof(at), "%lld us", (long long)f->late.ts_us);
    fprintf(stderr,
            "replay: the first late line (%s: '%s', at %s) is before the watermark %s, less the "
            "lateness (%lld s); that watermark is the time of %s: '%s'",
            f->late.file, cor_wm_text(&f->late, t1, sizeof(t1)), at, wm,
            (long long)(f->o->rs->lateness_us / 1000000), f->late_by.file,
            cor_wm_text(&f->late_by, t2, sizeof(t2)));
    /* that line alone made it late: under the watermark before it the
     * late line was in time (not said of the first line with a time:
     * files given newest first, say) */
    const cor_wm_line *b = &f->late_by_before;
    if (b->file && f->late.ts_us >= b->ts_us - f->o->rs->lateness_us)
        fprintf(stderr,
                ", %lld s past %s. A stamp far ahead (a device clock) makes the lines after it "
                "late, and the absences' groups silent up to it, in --replay, which has no "
                "arrival time; live, an event time more than 5 minutes past arrival takes the "
                "arrival time: mend or remove that line, or replay from the line after it",
                (long long)((f->late_by.ts_us - b->ts_us) / 1000000),
                "the line that set the watermark before it");
    fputs("\n", stderr);
}

static int cor_feed_line(void *ud, char *line, size_t n)
{
    cor_feed_ctx *f = ud;
    if (f->nb == 0)
        f->now_us = vg_now_us(); /* once per batch: a clock read per line showed in profiles */
    vg_event *ev = &f->batch[f->nb++];
    cor_tool_event(f, line, n, "replay", ev);
    if (f->file)
        cor_feed_watch(f, line, n, ev);
    if (ev->flags & VG_EV_MALFORMED)
        f->malformed++;
    return f->nb == COR_FEED_BATCH ? cor_feed_flush(f) : 0;
}

/* Without --year, the time a file's first year-less stamp is placed
 * before (COR_YEAR_LEAD_US does the rest): the file's mtime, which
 * logrotate, cp -p and tar keep, so that rotated or archived logs get
 * their own years in any order; the wall clock (0) for stdin, or for an
 * mtime in the future or before 2000 (a file written later than its
 * lines, or with a lost time). A copy made without -p has the copy's
 * time: the wall clock again, as before. */
static int64_t cor_year_ref_us(const char *path)
{
    struct stat sb;
    if (strcmp(path, "-") == 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    int64_t m = (int64_t)sb.st_mtim.tv_sec * 1000000 + sb.st_mtim.tv_nsec / 1000;
    return m < 946684800LL * 1000000 || m > vg_now_us() ? 0 : m;
}

/* After the last line: the sweep once more at the last watermark, as the
 * daemon's clock tick would run it (the engine sweeps once per second of
 * event time, so the input's last second would go unseen: an absence that
 * it completes). */
static int cor_feed_end(cor_feed_ctx *f)
{
    cor_eval *e = f->o->eval;
    return cor_eval_tick(e, cor_eval_watermark(e), f->emit, f->emit_ud);
}

/* --replay: the files' lines in order, alerts as ECS JSON on stdout, a
 * summary on stderr. */
static int cor_tool_replay(vg_daemon *d, const vg_node *root, int argc, char **argv)
{
    cor_tool_args a;
    cor_offline o;
    if (cor_tool_parse(argc, argv, &a, "--replay") || a.nfiles == 0) {
        fprintf(stderr, "usage: vigil-correlator --replay FILE... [--rules PATH] [--year YYYY] "
                        "[--list NAME=FILE]... [--agency NAME] [--site NAME]\n");
        free(a.files);
        return 2;
    }
    if (cor_offline_open(&o, d, root, &a)) {
        free(a.files);
        return 1;
    }
    cor_feed_ctx f = {.o = &o, .year = a.year, .agency = a.agency, .site = a.site,
                      .untimed_prev = true, .emit = cor_print_alert, .emit_ud = &o};
    f.wm.ts_us = f.wm_before.ts_us = cor_eval_watermark(o.eval);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0;
    for (int i = 0; rc == 0 && i < a.nfiles; i++) {
        if (!a.year) { /* each file's years from its own mtime, whatever the files' order */
            f.ref_us = cor_year_ref_us(a.files[i]);
            f.have_prev = false;
        }
        f.file = strcmp(a.files[i], "-") == 0 ? "stdin" : a.files[i];
        rc = cor_file_lines(a.files[i], cor_feed_line, cor_feed_flush, &f);
        if (rc < 0 && rc > -4096) {
            vg_error("%s: %s", a.files[i], strerror(-rc));
            rc = 1;
            break;
        }
    }
    if (rc == 0)
        rc = cor_feed_end(&f);
    cor_out_flush(&o);
    if (fflush(stdout) != 0 || o.out_err) {
        vg_error("stdout: write error");
        rc = 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    const cor_eval_stats *es = cor_eval_get_stats(o.eval);
    /* regex runs cut off by correlator.match_limit: no match, so a rule can
     * miss lines without it showing in its alerts */
    uint64_t match_errors = 0;
    for (size_t i = 0; i < o.rs->n; i++)
        match_errors += o.rs->rules[i].match_errors;
    fprintf(stderr,
            "replay: %llu lines (%llu malformed, %llu untimed), %llu alerts, %llu late, "
            "%llu evictions, %llu trimmed, %llu match_errors, %.3f s, %.0f lines/s\n",
            (unsigned long long)f.lines, (unsigned long long)f.malformed,
            (unsigned long long)f.untimed,
            (unsigned long long)o.alerts, (unsigned long long)es->late,
            (unsigned long long)es->evictions, (unsigned long long)es->trimmed,
            (unsigned long long)match_errors, secs, secs > 0 ? (double)f.lines / secs : 0.0);
    for (size_t i = 0; i < o.rs->n; i++) {
        const cor_rule *r = &o.rs->rules[i];
        if (!o.per_rule[i] && !r->match_errors && !r->trimmed)
            continue;
        fprintf(stderr, "  %-40s %llu", r->id, (unsigned long long)o.per_rule[i]);
        if (r->match_errors)
            fprintf(stderr, " (%llu match_errors)", (unsigned long long)r->match_errors);
        /* a correlation's times forgotten at a cap: windows it may have missed */
        if (r->trimmed)
            fprintf(stderr, " (%llu trimmed)", (unsigned long long)r->trimmed);
        fputc('\n', stderr);
    }
    if (es->late) /* lines late for no correlation are not in the count: no note then */
        cor_feed_late_note(&f);
    cor_offline_free(&o);
    free(a.files);
    return rc ? 1 : 0;
}

/* ---- --test-rules ---------------------------------------------------------- */

typedef struct cor_test_run {
    const cor_rule *r;
    vg_buf got;       /* the rule's first alert, as ECS JSON */
    int fired;
    vg_alert first;   /* fields of the first alert (views into 'keep') */
    char keep[8192];
    size_t kept;
    char verdict[400]; /* the engine's last word on the rule (as --explain's) */
} cor_test_run;

/* Keeps what the engine said last of the tested rule: "expected an alert,
 * but it did not fire" then says why (a filter, the calendar, the list
 * condition; for a correlation how far its group got), as --explain would. */
static void cor_test_trace(void *ud, const cor_rule *r, const char *verdict, const vg_kv *f,
                           uint32_t nf)
{
    (void)f;
    (void)nf;
    cor_test_run *t = ud;
    if (r == t->r)
        snprintf(t->verdict, sizeof(t->verdict), "%s", verdict);
}

static int cor_test_emit(void *ud, const vg_alert *al)
{
    cor_test_run *t = ud;
    if (!vg_str_eq(al->rule_id, t->r->id))
        return 0;
    if (t->fired++)
        return 0;
    t->first.nfields = 0;
    for (uint32_t i = 0; i < al->nfields; i++) {
        size_t kl = al->fields[i].key.len, vl = al->fields[i].val.len;
        if (t->kept + kl + vl + 2 > sizeof(t->keep))
            break;
        char *k = t->keep + t->kept;
        memcpy(k, al->fields[i].key.p, kl);
        k[kl] = '\0';
        char *v = k + kl + 1;
        memcpy(v, al->fields[i].val.p, vl);
        v[vl] = '\0';
        t->kept += kl + vl + 2;
        t->first.fields[t->first.nfields++] = (vg_kv){vg_str_n(k, kl), vg_str_n(v, vl)};
    }
    return 0;
}

/* --test-rules: every rule's test cases, each on a fresh engine with the
 * whole rule set (so correlations see the rules they count). */
static int cor_tool_test_rules(vg_daemon *d, const vg_node *root, int argc, char **argv)
{
    cor_tool_args a;
    cor_offline o;
    int bad = cor_tool_parse(argc, argv, &a, "--test-rules");
    if (!bad && a.nfiles > 1)
        fprintf(stderr, "--test-rules: one PATH at most, got '%s' too\n", a.files[1]);
    if (!bad && (a.agency || a.site)) {
        fprintf(stderr, "--test-rules: --agency and --site are for --replay and --explain: a "
                        "test case gives its own (agency:, site:)\n");
        bad = -EINVAL;
    }
    if (bad || a.nfiles > 1) {
        fprintf(stderr, "usage: vigil-correlator --test-rules [PATH] [--year YYYY] "
                        "[--list NAME=FILE]...\n");
        free(a.files);
        return 2;
    }
    if (a.nfiles == 1)
        a.rules = a.files[0];
    if (cor_offline_open(&o, d, root, &a)) {
        free(a.files);
        return 1;
    }
    int pass = 0, fail = 0, untested = 0;
    for (size_t ri = 0; ri < o.rs->n; ri++) {
        const cor_rule *r = &o.rs->rules[ri];
        if (r->ntests == 0)
            untested++;
        for (uint32_t ti = 0; ti < r->ntests; ti++) {
            const cor_test *ct = &r->tests[ti];
            /* "fires" means "matches" for a rule that only feeds others */
            bool alert = r->alert;
            ((cor_rule *)r)->alert = true;
            cor_eval *e = NULL;
            cor_test_run t = {.r = r};
            int rc = cor_eval_new(&e, o.rs, NULL, o.lists);
            if (rc == 0)
                cor_eval_set_trace(e, cor_test_trace, &t);
            cor_offline tmp = o;
            tmp.eval = e;
            cor_feed_ctx f = {.o = &tmp, .year = a.year, .agency = ct->agency, .site = ct->site,
                              .emit = cor_test_emit, .emit_ud = &t};
            char *input = strdup(ct->input);
            if (rc == 0 && input)
                rc = cor_lines(input, strlen(input), cor_feed_line, cor_feed_flush, &f);
            if (rc == 0 && input)
                rc = cor_feed_end(&f);
            free(input);
            cor_eval_free(e);
            ((cor_rule *)r)->alert = alert;
            char why[512] = "";
            if (rc)
                snprintf(why, sizeof(why), "engine error: %s", vg_strerror(rc));
            else if (ct->fires && !t.fired && t.verdict[0])
                snprintf(why, sizeof(why), "expected an alert, but it did not fire (%s: %s)",
                         r->kind == COR_MATCH ? "at its last line" : "after its last hit",
                         t.verdict);
            else if (ct->fires != (t.fired > 0))
                snprintf(why, sizeof(why), "expected %s, but it %s", ct->fires ? "an alert" : "no alert",
                         t.fired ? "fired" : "did not fire");
            for (uint32_t k = 0; !why[0] && k < ct->nfields; k++) {
                uint32_t j = 0;
                while (j < t.first.nfields && !vg_str_eq(t.first.fields[j].key, ct->keys[k]))
                    j++;
                if (j == t.first.nfields)
                    snprintf(why, sizeof(why), "field %s missing (expected '%s')", ct->keys[k],
                             ct->vals[k]);
                else if (!vg_str_eq(t.first.fields[j].val, ct->vals[k]))
                    snprintf(why, sizeof(why), "field %s is '%.*s', expected '%s'", ct->keys[k],
                             (int)t.first.fields[j].val.len, t.first.fields[j].val.p, ct->vals[k]);
            }
            if (why[0]) {
                fail++;
                printf("FAIL %s:%d: rule %s test %u: %s\n", r->file, ct->line, r->id, ti + 1, why);
            } else {
                pass++;
            }
            vg_buf_free(&t.got);
        }
    }
    printf("rule tests: %d passed, %d failed (%zu rules, %d without tests)\n", pass, fail,
           o.rs->n, untested);
    cor_offline_free(&o);
    free(a.files);
    return fail ? 1 : 0;
}

/* ---- --explain ------------------------------------------------------------ */

static void cor_explain_trace(void *ud, const cor_rule *r, const char *verdict, const vg_kv *f,
                              uint32_t nf)
{
    (void)ud;
    printf("  rule %-36s %s", r->id, verdict);
    for (uint32_t i = 0; i < nf; i++)
        printf("%s%.*s=%.*s", i ? ", " : " [", (int)f[i].key.len, f[i].key.p, (int)f[i].val.len,
               f[i].val.p);
    printf("%s\n", nf ? "]" : "");
}

static int cor_explain_emit(void *ud, const vg_alert *al)
{
    cor_offline *o = ud;
    printf("  => alert %.*s (%.*s, level %d, count %llu)\n", (int)al->rule_id.len, al->rule_id.p,
           (int)al->kind.len, al->kind.p, (int)al->level, (unsigned long long)al->count);
    o->alerts++;
    return 0;
}

static int cor_explain_line(void *ud, char *line, size_t n)
{
    cor_feed_ctx *f = ud;
    vg_event ev;
    f->now_us = vg_now_us();
    cor_tool_event(f, line, n, "explain", &ev);
    vg_buf b = {0};
    vg_event_json(&b, &ev);
    printf("event %llu: %.*s", (unsigned long long)ev.seq, (int)b.len, b.p);
    vg_buf_free(&b);
    return cor_eval_event(f->o->eval, &ev, cor_explain_emit, f->o);
}

static int cor_tool_explain(vg_daemon *d, const vg_node *root, int argc, char **argv)
{
    cor_tool_args a;
    cor_offline o;
    int bad = cor_tool_parse(argc, argv, &a, "--explain");
    if (!bad && a.nfiles > 1)
        fprintf(stderr, "--explain: one LINE at most, got '%s' too (quote the line: it is one "
                        "argument)\n", a.files[1]);
    if (bad || a.nfiles > 1) {
        fprintf(stderr, "usage: vigil-correlator --explain [--rules PATH] [--year YYYY] "
                        "[--list NAME=FILE]... [--agency NAME] [--site NAME] [LINE]\n");
        free(a.files);
        return 2;
    }
    if (cor_offline_open(&o, d, root, &a)) {
        free(a.files);
        return 1;
    }
    cor_eval_set_trace(o.eval, cor_explain_trace, NULL);
    cor_feed_ctx f = {.o = &o, .year = a.year, .agency = a.agency, .site = a.site};
    int rc;
    if (a.nfiles == 1) {
        char *line = strdup(a.files[0]);
        rc = line ? cor_explain_line(&f, line, strlen(line)) : -ENOMEM;
        free(line);
    } else {
        rc = cor_file_lines("-", cor_explain_line, NULL, &f);
    }
    printf("%llu alerts\n", (unsigned long long)o.alerts);
    cor_offline_free(&o);
    free(a.files);
    return rc ? 1 : 0;
}

/* ---- lists in the daemon's own store ------------------------------------ */

static int cor_open_store(vg_daemon *d, const vg_node *root, cor_conf *cf, vg_store **st,
                          cor_lists **l)
{
    char err[1024] = "", name[300];
    int rc = cor_conf_load(root, vg_daemon_config_path(d), vg_daemon_pipeline(d)->run_dir, cf,
                           err, sizeof(err));
    if (rc) {
        vg_error("%s", err);
        return rc;
    }
    snprintf(name, sizeof(name), "correlator/%s", cf->name);
    char *dir = vg_daemon_path(vg_daemon_pipeline(d)->data_dir, name);
    struct stat sb;
    if (dir && stat(dir, &sb) != 0) {
        /* Opening would create an empty store, owned by whoever runs this
         * (root, often), which the correlator could then not open after
         * dropping to pipeline.user; and its start loads the configured
         * lists anyway. */
        rc = -errno;
        vg_error("no correlator state at %s: %s (has the correlator run with this "
                 "configuration?)", dir, strerror(errno));
        free(dir);
        return rc;
    }
    /* Opened at the map size the store records (0: LMDB's own), the one
     * the correlator last opened it with, not this configuration's
     * state_size: a running correlator whose map is smaller than what a
     * load here grew the file to would fail every later transaction
     * (MDB_MAP_RESIZED), and a state_size change takes a restart anyway. */
    rc = dir ? vg_store_open(st, dir, 0) : -ENOMEM;
    if (rc == 0)
        rc = cor_lists_open(*st, l);
    if (rc)
        vg_error("%s: %s", dir ? dir : "store", vg_strerror(rc));
    free(dir);
    return rc;
}

/* After --load-list NAME FILE: a list that the correlator also loads from
 * a file of its own (correlator.lists, else RULES_DIR/lists/NAME.txt) goes
 * back to that file at the next start or SIGHUP; say so, unless FILE is
 * that file. */
static void cor_tool_warn_reloaded(const cor_conf *cf, const char *name, const char *file)
{
    char dir[4096], path[4400], *own = NULL, *given = realpath(file, NULL);
    const char *what = "correlator.lists";
    for (int i = 0; i < cf->nlists && !own; i++)
        if (strcmp(cf->lists[i].name, name) == 0 && !(own = realpath(cf->lists[i].path, NULL)))
            own = strdup(cf->lists[i].path);
    if (!own && cf->rules_dir) {
        cor_rules_side_dir(cf->rules_dir, "lists", dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
        own = realpath(path, NULL); /* NULL: there is none */
        what = "the rules' lists/";
    }
    if (own && (!given || strcmp(own, given) != 0))
        vg_warn("list %s is also loaded from %s (%s) at every start and SIGHUP of the "
                "correlator, which will replace this version: update that file too",
                name, own, what);
    free(own);
    free(given);
}

/* --load-list NAME FILE: replaces a list in the store of the correlator of
 * this configuration, running or not (LMDB serialises the writers). The
 * running engine sees the new list from its next event on. */
static int cor_tool_load_list(vg_daemon *d, const vg_node *root, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: vigil-correlator -c FILE --load-list NAME FILE\n");
        return 2;
    }
    cor_conf cf;
    vg_store *st = NULL;
    cor_lists *l = NULL;
    char err[1024] = "";
    size_t n = 0;
    int rc = cor_open_store(d, root, &cf, &st, &l);
    uint64_t was = rc == 0 ? cor_lists_size(l, argv[0]) : 0;
    if (rc == 0 && (rc = cor_lists_load_file(l, argv[0], argv[1], &n, err, sizeof(err))) != 0) {
        vg_error("%s", err);
        if (rc == VG_EFULL)
            vg_error("the store's map is the size the correlator last opened it with "
                     "(correlator.state_size): to load more, raise state_size, restart the "
                     "correlator, then load again");
    }
    if (rc == 0) {
        /* an empty file retires a list (watchlists.md), or was an export
         * that failed upstream: either way, say what was there before */
        if (n == 0 && was)
            printf("list %s: 0 entries loaded from %s: it is now empty (it had %llu)\n",
                   argv[0], argv[1], (unsigned long long)was);
        else
            printf("list %s: %zu entries loaded from %s\n", argv[0], n, argv[1]);
        cor_tool_warn_reloaded(&cf, argv[0], argv[1]);
    }
    cor_lists_close(l);
    vg_store_close(st);
    cor_conf_free(&cf);
    return rc ? 1 : 0;
}

static int cor_tool_dump_list(vg_daemon *d, const vg_node *root, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: vigil-correlator -c FILE --dump-list NAME\n");
        return 2;
    }
    cor_conf cf;
    vg_store *st = NULL;
    cor_lists *l = NULL;
    int rc = cor_open_store(d, root, &cf, &st, &l);
    if (rc == 0 && (rc = cor_lists_dump(l, argv[0], stdout)) == -ENOENT)
        vg_error("list %s: not in the store: never loaded (correlator.lists, RULES_DIR/lists/, "
                 "--load-list)", argv[0]); /* not "No such file or directory" */
    else if (rc == -EINVAL)
        vg_error("%s: bad list name (1 to %d of A-Z a-z 0-9 _ . -)", argv[0], COR_LIST_NAME_MAX);
    else if (rc)
        vg_error("list %s: %s", argv[0], vg_strerror(rc));
    cor_lists_close(l);
    vg_store_close(st);
    cor_conf_free(&cf);
    return rc ? 1 : 0;
}

/* --groups [--top N] [RULE]...: the running correlator's groups, read from
 * its store with the rules of its configuration (a rule changed on disk but
 * not yet reloaded shows as the file has it; its groups as the engine would
 * keep them after the reload). */
static int cor_tool_groups(vg_daemon *d, const vg_node *root, int argc, char **argv)
{
    size_t top = 10;
    int ai = 0;
    if (argc >= 2 && strcmp(argv[0], "--top") == 0) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(argv[1], &end, 10);
        if (errno || end == argv[1] || *end || argv[1][0] == '-') {
            fprintf(stderr, "--groups: --top takes a number (0: all), got '%s'\n", argv[1]);
            return 2;
        }
        top = (size_t)v;
        ai = 2;
    }
    for (int i = ai; i < argc; i++)
        if (argv[i][0] == '-') {
            fprintf(stderr, "--groups: unknown option '%s'\nusage: vigil-correlator -c FILE "
                            "--groups [--top N] [RULE]...\n", argv[i]);
            return 2;
        }
    cor_conf cf;
    vg_store *st = NULL;
    cor_lists *l = NULL;
    cor_ruleset *rs = NULL;
    cor_eval *e = NULL;
    char err[1024] = "";
    int rc = cor_open_store(d, root, &cf, &st, &l);
    if (rc == 0) {
        cor_rules_opts opts = cor_conf_rules_opts(&cf);
        opts.defer_prefilter = 1; /* nothing is matched here */
        if ((rc = cor_rules_load(cf.rules_dir, &opts, &rs, err, sizeof(err))) != 0)
            vg_error("%s", err);
    }
    if (rc == 0 && (rc = cor_eval_open(&e, rs, st, l)) != 0)
        vg_error("correlation state: %s", vg_strerror(rc));
    size_t held = 0;
    if (rc == 0 && (rc = cor_groups_print(e, rs, argv + ai, argc - ai, top, stdout, &held)) == 0) {
        /* what it cost beside the running correlator (-l debug) */
        uint64_t live, peak = cor_eval_groups_peak(e, &live);
        vg_debug("--groups: at most %llu group%s of the state in memory at once, %zu row%s "
                 "kept (--top %zu per rule)", (unsigned long long)peak, peak == 1 ? "" : "s",
                 held, held == 1 ? "" : "s", top);
    }
    cor_eval_free(e);
    cor_rules_free(rs);
    if (l)
        cor_lists_close(l);
    vg_store_close(st);
    cor_conf_free(&cf);
    return rc ? 1 : 0;
}

const vg_daemon_tool cor_tools[] = {
    {"replay",
     "  --replay FILE... [--rules PATH] [--year YYYY] [--list NAME=FILE]...\n"
     "           [--agency NAME] [--site NAME]\n"
     "                       run the rules over raw syslog lines (RFC 3164/5424) in event\n"
     "                       time, print the alerts as ECS JSON lines, a summary on stderr\n"
     "                       (FILE '-' is standard input; a pipe such as <(zcat x.gz) is\n"
     "                       read too);\n"
     "                       a year-less stamp takes its year from the line before (Jan\n"
     "                       after Dec is the next year); a file's first one from --year\n"
     "                       (the first file's; later files follow on), else from the\n"
     "                       file's modification time (stdin: the clock); a line without\n"
     "                       a usable stamp takes the time of the line before (untimed);\n"
     "                       every line is tagged --agency and --site (default unknown:\n"
     "                       the collector's source map is not read offline)\n",
     false, cor_tool_replay},
    {"test-rules",
     "  --test-rules [PATH] [--year YYYY] [--list NAME=FILE]...\n"
     "                       run every rule's test cases; exit 1 on any failure. PATH:\n"
     "                       a rules directory or one rule file (default: the\n"
     "                       configuration's correlator.rules_dir); years as in --replay\n"
     "                       (without --year: the clock's)\n",
     false, cor_tool_test_rules},
    {"explain",
     "  --explain [--rules PATH] [--year YYYY] [--list NAME=FILE]...\n"
     "           [--agency NAME] [--site NAME] [LINE]\n"
     "                       show how a line (or each line of stdin) parses, which rules\n"
     "                       were tried, which matched, the fields, how far each\n"
     "                       correlation's group got and the alerts (years and tags as\n"
     "                       in --replay)\n",
     false, cor_tool_explain},
    {"load-list",
     "  --load-list NAME FILE  replace watchlist NAME in the correlator's store (also while\n"
     "                       it runs: it sees the new list from its next event)\n",
     true, cor_tool_load_list},
    {"dump-list",
     "  --dump-list NAME     print watchlist NAME as stored\n", true, cor_tool_dump_list},
    {"groups",
     "  --groups [--top N] [RULE]...\n"
     "                       the running correlator's correlation groups (of RULE, or of\n"
     "                       every correlation), nearest to firing first: how many of N\n"
     "                       events, values, rules or steps each holds in the window\n"
     "                       ending at its newest event, and its suppression; an\n"
     "                       absence's last event and when it alerts. N per rule:\n"
     "                       --top (default 10, 0 all). Reads the store, changes nothing\n",
     true, cor_tool_groups},
    {NULL, NULL, false, NULL},
};
