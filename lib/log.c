/* stderr logger. Each record is formatted into one buffer and written with a
 * single write(2), so lines from several processes sharing a terminal or a
 * journal never interleave mid-line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vigil/log.h"
#include "vigil/util.h"

static char vg__progname[64] = "vigil";
static enum vg_log_level vg__level = VG_LOG_INFO;
static const char *const vg__names[] = {"error", "warning", "info", "debug"};
static const int vg__syslog_prio[] = {3, 4, 6, 7}; /* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
static int vg__journal;

/* True if stderr is the journal's stream: systemd sets JOURNAL_STREAM to
 * its "device:inode" when it connects a service's output to journald. A
 * child whose stderr was redirected elsewhere inherits the variable, hence
 * the check of the inode itself. */
static int vg__stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    char end;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void vg_log_init(const char *progname, enum vg_log_level level)
{
    snprintf(vg__progname, sizeof(vg__progname), "%s", progname);
    vg__level = level;
    vg__journal = vg__stderr_is_journal();
}

void vg_log_set_level(enum vg_log_level level)
{
    vg__level = level;
}

enum vg_log_level vg_log_get_level(void)
{
    return vg__level;
}

int vg_log_parse_level(const char *s, enum vg_log_level *out)
{
    static const char *const alias[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, alias[i]) == 0 || strcmp(s, vg__names[i]) == 0) {
            *out = (enum vg_log_level)i;
            return 0;
        }
    }
    return -22; /* -EINVAL */
}

/* Copies the n bytes of text to out (cap bytes, cap > 6), each control
 * character escaped; returns the length written. Peers' strings go into
 * log lines (a client certificate's name, the reason a SIEM gives, an
 * error text): a line feed in one ended the line and began a forged one,
 * with its own "<N>" priority under journald, and an escape sequence
 * reached the terminal of whoever read the log. A C0 control or DEL is
 * written \xHH, and so is each byte that is not UTF-8 (a lone 0x9B is CSI
 * to a terminal that reads 8-bit controls); a C1 control or U+2028/U+2029
 * (vg_utf8_control) \uHHHH. So the line is valid UTF-8 with no control in
 * it. A character that does not fit whole is left out. */
static size_t vg__escape(char *out, size_t cap, const char *text, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        size_t k = vg_utf8_control(text + i, n - i, &cp);
        if (k > 1) {
            if (o + 6 > cap)
                break;
            out[o++] = '\\';
            out[o++] = 'u';
            for (int sh = 12; sh >= 0; sh -= 4)
                out[o++] = hex[(cp >> sh) & 15];
            i += k;
            continue;
        }
        size_t u = k ? 0 : vg_utf8_len(text + i, n - i);
        if (u) {
            if (o + u > cap)
                break;
            memcpy(out + o, text + i, u);
            o += u;
            i += u;
            continue;
        }
        unsigned char c = (unsigned char)text[i++];
        if (o + 4 > cap)
            break;
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    return o;
}

void vg_log(enum vg_log_level level, const char *fmt, ...)
{
    if (level > vg__level)
        return;
    char buf[2048], text[2048];
    int n;
    if (vg__journal) {
        /* journald stamps the time, the name and the pid itself; the
         * "<N>" prefix gives it the priority (journalctl -p warning) */
        n = snprintf(buf, sizeof(buf), "<%d>%s: ", vg__syslog_prio[level], vg__names[level]);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld]: %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, vg__progname, (long)getpid(),
                     vg__names[level]);
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    size_t tlen = m < 0 ? 0 : (size_t)m < sizeof(text) ? (size_t)m : sizeof(text) - 1;
    size_t len = (size_t)n + vg__escape(buf + n, sizeof(buf) - (size_t)n - 1, text, tlen);
    buf[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, len);
    (void)w;
}
