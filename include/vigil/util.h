/* Small helpers shared by the daemons: clock and a growable byte buffer. */
#ifndef VIGIL_UTIL_H
#define VIGIL_UTIL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "vigil/str.h"

/* FNV-1a: h with the n bytes at p folded in. Start from VG_FNV1A_INIT. One
 * hash for the code base: group keys, rule definitions, counter
 * fingerprints, stable ids (inline: group lookups call it per event). */
#define VG_FNV1A_INIT UINT64_C(14695981039346656037)
static inline uint64_t vg_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(1099511628211);
    return h;
}

/* Wall-clock time, microseconds since the Unix epoch. */
int64_t vg_now_us(void);

/* A run of failures that repeat until something changes (a full disk, a
 * downstream refusing every batch) and are retried every few hundred ms or
 * seconds: the log gets its first, then at most a line a minute, then its
 * end, not a line per attempt. A run that flaps (a store whose map is too
 * small for a burst: one commit fails, the re-send passes, the next burst
 * fails again) is one run: a failure within VG_STREAK_GRACE_MS of the run's
 * last recovery continues it, so the log says the failure and the recovery
 * once, then at most one failure line and one recovery line a minute, each
 * with the count so far. Zero-initialise. */
#define VG_STREAK_GRACE_MS 60000
typedef struct vg_streak {
    uint64_t count;     /* failures in the run; 0: no run */
    uint64_t first_ms;  /* when it began (the caller's clock, ms) */
    uint64_t logged_ms; /* when a line about it was last logged */
    uint64_t ended_ms;  /* when it last recovered (with ended) */
    int ended;          /* it recovered, and nothing failed since */
    int said_fail;      /* the last line logged about it was a failure's */
} vg_streak;
enum { VG_STREAK_QUIET = 0, VG_STREAK_FIRST, VG_STREAK_REMIND };
/* Counts a failure at now_ms: VG_STREAK_FIRST for a run's first (no run,
 * or VG_STREAK_GRACE_MS or more since the last one recovered),
 * VG_STREAK_REMIND a minute or more after the last line logged (taken as
 * logged now), else VG_STREAK_QUIET. */
int vg_streak_fail(vg_streak *s, uint64_t now_ms);
/* A success at now_ms: the run, if one is failing, recovers. Returns its
 * failures so far when the recovery is to be logged (the first recovery of
 * a run, and one after a failure line was logged since the last), setting
 * *secs to how long the run has lasted; else 0 (no run, already recovered,
 * or a recovery of a flapping run whose last line already said so). The run
 * stays open VG_STREAK_GRACE_MS after it (vg_streak_active). */
uint64_t vg_streak_end(vg_streak *s, uint64_t now_ms, double *secs);
/* Whether a run is failing now (it has not recovered since its last
 * failure). */
bool vg_streak_failing(const vg_streak *s);
/* A run still failing at now_ms whose last line said it recovered, a
 * minute or more ago: true once (taken as logged now, a failure's line),
 * else false. For a failure that is a state, not a retried attempt (intake
 * paused for a full spool): one that came quietly, within a minute of the
 * last line, and lasts is said after all, or the log's last word would be
 * the recovery. */
bool vg_streak_overdue(vg_streak *s, uint64_t now_ms);
/* Whether a run is open at now_ms: failing, or recovered less than
 * VG_STREAK_GRACE_MS ago (a failure now would continue it: lines that
 * each attempt would log, such as reconnects, stay quiet meanwhile). */
bool vg_streak_active(const vg_streak *s, uint64_t now_ms);

/* Lines of one kind that a peer can cause at will (a failed TLS
 * handshake per connection, a connection closed for silence): a port scan
 * or a flood of them must not flood the log. At most VG_BUDGET_LINES a
 * minute are logged; the rest are held back (each is still counted by its
 * own counter) and the next line logged says how many. Zero-initialise. */
#define VG_BUDGET_LINES 10
typedef struct vg_budget {
    uint64_t window_ms; /* when the current minute began (the caller's clock, ms) */
    uint32_t used;      /* lines logged in it */
    uint64_t held;      /* lines held back since the last one logged */
} vg_budget;
/* Whether a line may be logged at now_ms. If so, *held gets the number of
 * lines held back before it (to be said in it) and the count restarts;
 * else the line is counted as held back. */
bool vg_budget_take(vg_budget *b, uint64_t now_ms, uint64_t *held);

/* A growable buffer that owns its bytes. Zero-initialise, then append;
 * vg_buf_free releases. On allocation failure appends return -ENOMEM and
 * leave the buffer as it was. */
typedef struct vg_buf {
    char *p;
    size_t len, cap;
    int oom; /* set by any append that failed; cleared by the owner */
} vg_buf;

int vg_buf_reserve(vg_buf *b, size_t extra);
int vg_buf_add(vg_buf *b, const void *p, size_t n);
int vg_buf_addc(vg_buf *b, char c);
int vg_buf_adds(vg_buf *b, const char *s);
int vg_buf_addf(vg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vg_buf_free(vg_buf *b);

/* Length of the valid UTF-8 sequence that starts at p[0] of the n bytes at
 * p (1..4), or 0 when those bytes do not start one (RFC 3629: no overlong
 * forms, surrogates or code points above U+10FFFF; a sequence cut short by
 * n is invalid; n == 0 gives 0). The one validator of the code base: every
 * encoder that turns bad bytes into U+FFFD (JSON, CEF, LEEF) steps with it,
 * one invalid byte at a time, so they all replace the same bytes. */
size_t vg_utf8_len(const void *p, size_t n);

/* Length (1..3) of the control character that starts at p[0] of the n
 * bytes at p, its code point in *cp; 0 (and *cp 0) for anything else. The
 * controls: C0 (U+0000..U+001F) and DEL, the C1 controls in UTF-8
 * (U+0080..U+009F, bytes C2 80..C2 9F), and the line and paragraph
 * separators U+2028 and U+2029 (E2 80 A8, E2 80 A9). Terminals, log
 * viewers and chat clients take them as line breaks or as the start of a
 * control sequence (C2 9B is CSI, like ESC [): what shows one line of
 * text from a peer must not pass them through. */
size_t vg_utf8_control(const void *p, size_t n, unsigned *cp);

/* Appends s as the body of a JSON string (no quotes): escapes ", \ and
 * control characters, the C1 controls and U+2028/U+2029 too (valid raw in
 * JSON, but line ends to readers that split NDJSON with Python's
 * splitlines, JavaScript before ES2019, and terminals); bytes that are not
 * valid UTF-8 become U+FFFD, so the output is always valid JSON, one line,
 * whatever the sender put in a log line. */
int vg_json_escape(vg_buf *b, vg_str s);

/* mkdir -p: creates dir and its missing parents (parents with parent_mode,
 * dir itself with mode); an existing directory is fine. */
int vg_mkdirs(const char *dir, unsigned parent_mode, unsigned mode);

/* The path a daemon opens for a file or socket named v: v itself when it
 * is absolute, else dir/v; then lexically normalised ("." segments and
 * repeated or trailing '/' dropped, "NAME/.." collapsed, ".." at the root
 * staying there) and, when its directory exists, with that directory's
 * realpath(), so that a symlinked directory and its target give one path
 * (the last segment itself is not followed). Two spellings of one socket
 * ("x.sock", "./x.sock", "/run/vigil/x.sock" under run_dir /run/vigil)
 * resolve the same. Writes into out (cap bytes); 0, or -ENAMETOOLONG when
 * it does not fit (out is then empty). */
int vg_path_resolve(const char *dir, const char *v, char *out, size_t cap);

/* fsyncs the directory that holds path, so that a file just created or
 * renamed there survives a power cut with its synced content. 0 or -errno. */
int vg_fsync_parent(const char *path);

/* Opens path for reading (O_CLOEXEC) without waiting for a writer: open(2)
 * of a FIFO that nothing writes to blocks until something does, which hung
 * -t and a SIGHUP reload (and SIGTERM with it) on such a file in the rules
 * directory. The descriptor is blocking again once open, so a pipe with a
 * writer (/dev/fd/N, process substitution) is read to its end as before;
 * one without gives end of file at once. *fifo tells whether it is a FIFO
 * or pipe, for the caller to refuse one that gave nothing. fd or -errno.
 * For the tools that read a pipe on purpose (--load-list); a file that the
 * daemons read at start, -t and SIGHUP goes through vg_cfile_open
 * (vigil/cfile.h), which refuses a FIFO whatever its writer does. */
int vg_open_read(const char *path, bool *fifo);

/* Writes all n bytes of p to fd (a blocking descriptor), again after a
 * signal or a short write. 0 or -errno. */
int vg_write_all(int fd, const void *p, size_t n);

/* Is v an IPv4 or IPv6 address in text form? */
int vg_is_ip(vg_str v);
/* Is v a port number 0..65535 in decimal? */
int vg_is_port(vg_str v);

#endif
