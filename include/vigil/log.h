/* Logging to stderr, one line per record: "TIME NAME[PID]: LEVEL: text";
 * "<N>LEVEL: text" when stderr is systemd's journal stream (JOURNAL_STREAM
 * names its device and inode, checked at vg_log_init), N the syslog
 * priority, so that journald keeps each line's level and adds the rest.
 *
 * The text's C0 control characters and DEL (a line feed, an escape), and
 * bytes that are not UTF-8, are written as \xHH; C1 controls (U+0080..
 * U+009F) and U+2028/U+2029 as \uHHHH: a string from a peer cannot end
 * its line and forge another, nor send a terminal a control sequence.
 *
 * The daemons log to stderr so that systemd, a supervisor or a test harness
 * owns the destination. Thread-safe at line granularity (one write(2) each).
 */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

enum vg_log_level { VG_LOG_ERROR = 0, VG_LOG_WARN, VG_LOG_INFO, VG_LOG_DEBUG };

/* Sets the program name shown on every line (the string is copied) and
 * looks whether stderr is the journal. */
void vg_log_init(const char *progname, enum vg_log_level level);
void vg_log_set_level(enum vg_log_level level);
enum vg_log_level vg_log_get_level(void);
/* Parses "error", "warn", "info" or "debug"; returns -EINVAL otherwise. */
int vg_log_parse_level(const char *s, enum vg_log_level *out);

void vg_log(enum vg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vg_error(...) vg_log(VG_LOG_ERROR, __VA_ARGS__)
#define vg_warn(...) vg_log(VG_LOG_WARN, __VA_ARGS__)
#define vg_info(...) vg_log(VG_LOG_INFO, __VA_ARGS__)
#define vg_debug(...)                                                                              \
    do {                                                                                           \
        if (vg_log_get_level() >= VG_LOG_DEBUG)                                                    \
            vg_log(VG_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

#endif
