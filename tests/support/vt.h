/* Test support: temp dirs, a pipeline of real daemons, real clients.
 *
 * Everything here talks to loopback or to files under a temp dir, waits
 * with bounded time, and kills only the processes it started (by PID). */
#ifndef VT_H
#define VT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A pipeline under one temp dir: config, rules, sockets, data, logs. */
typedef struct vt_pipe {
    char dir[256];
    char config[320];
    char alerts[320];
    char rules[320];
    int port;                 /* collector TCP and UDP port on 127.0.0.1 */
    int port2;                /* a second free port (e.g. for a TLS listener) */
    pid_t pid[3];             /* collector, correlator, shipper */
    int restarts[3];
    int kept_slot;            /* its entry in the runner's list of test dirs (vt.c) */
} vt_pipe;

enum { VT_COLLECTOR = 0, VT_CORRELATOR = 1, VT_SHIPPER = 2 };

/* Creates the temp dir, picks a free port, writes vigil.yaml and a rules
 * dir holding 'rules_yaml' as rules/test.yml. Returns 0 or -1. */
int vt_pipe_init(vt_pipe *p, const char *rules_yaml);
/* Same, with extra YAML: listen_extra lines are added to collector.listen
 * (e.g. "    - tcp://[::1]:PORT\n", PORT standing for the pipe's port),
 * collector_extra to the collector
 * section (e.g. "  spool_size: 2M\n"). Either may be NULL. */
int vt_pipe_init_ex(vt_pipe *p, const char *rules_yaml, const char *listen_extra,
                    const char *collector_extra);
/* Starts BUILD_ROOT/bin (e.g. "shipper/vigil-shipper") with -c config,
 * its output into log, dying with the test process: a daemon beyond the
 * pipe's three (a second shipper). Returns its pid (-1: fork failed); an
 * exec that fails writes its reason into log and exits 127. vt_stop_pid
 * stops it (as vt_pipe_stop: waits for it with SIGTERM or SIGKILL). */
pid_t vt_spawn(const char *bin, const char *config, const char *log);
int vt_stop_pid(pid_t pid, int sig);
/* Same, and shipper_yaml (the whole "shipper:" section, NULL for the
 * default: json_file alerts.json) replaces the shipper's section. */
int vt_pipe_init_full(vt_pipe *p, const char *rules_yaml, const char *listen_extra,
                      const char *collector_extra, const char *shipper_yaml);
/* Starts one daemon (logs to DIR/<name>.<n>.log; an exec that fails
 * writes its reason there and exits 127). A fork that fails fails the
 * test. */
pid_t vt_pipe_start(vt_pipe *p, int which);
/* How long a test waits for a daemon to come up (a poll: it costs nothing
 * when the daemon is quick). Under ASan, on a loaded 2-core machine running
 * two tests at a time, the correlator took over 10 s to compile the
 * shipped rules. */
enum { VT_UP_MS = 60000 };
/* Starts all three and waits (a failed wait fails the test) until the
 * collector has joined the correlator's stream. */
void vt_pipe_start_all(vt_pipe *p);
/* Waits, up to timeout_ms, until the daemon's current log says it has
 * started (" started (config ": its signal handlers are in place), or it
 * has ended. Returns 0 once up; else -1 with why (cap bytes) naming the
 * daemon, its start, what became of it (vt_pid_state) and whether its log
 * is empty: a start that failed says so, not only a count of alerts. */
int vt_pipe_up(vt_pipe *p, int which, int timeout_ms, char *why, size_t cap);
/* 0 while each daemon the pipe started is running; -1 with why (cap bytes)
 * naming the first that ended without vt_pipe_stop (an exec that failed,
 * a crash). It is left unreaped for vt_pipe_stop. */
int vt_pipe_alive(vt_pipe *p, char *why, size_t cap);
/* What became of pid, a child of the test, into out (cap bytes): "pid N
 * exited with status S", "pid N died of signal S (name)", or "pid N alive,
 * state C, in WCHAN" from /proc (T: stopped, D: in the kernel). Reaps
 * nothing. */
void vt_pid_state(pid_t pid, char *out, size_t cap);
/* Sends sig to one daemon and, for SIGTERM/SIGKILL, reaps it within 10 s;
 * returns its exit status (or 128+signal), -1 on timeout. */
int vt_pipe_stop(vt_pipe *p, int which, int sig);
/* Reaps a daemon told to stop otherwise (a signal sent while it was
 * SIGSTOPped), within timeout_ms (else SIGKILL); returns as vt_pipe_stop. */
int vt_pipe_wait(vt_pipe *p, int which, int timeout_ms);
/* Stops whatever is running with SIGTERM and removes the temp dir unless
 * VT_KEEP is set in the environment. */
void vt_pipe_destroy(vt_pipe *p);
/* Path of a daemon's current log file. */
void vt_pipe_log(vt_pipe *p, int which, char *out, size_t cap);

/* Absolute path of a built binary, e.g. "collector/vigil-collector". */
const char *vt_bin(const char *rel);

/* Runs argv to completion (bounded by timeout_s); returns exit status. */
int vt_run(char *const argv[], int timeout_s);

/* Counts '\n' in a file (0 if it does not exist). */
long vt_count_lines(const char *path);
/* Occurrences of needle in the file at path (0 if it cannot be read). */
int vt_count_text(const char *path, const char *needle);
/* Waits until path has at least n lines or timeout_ms passes. */
bool vt_wait_lines(const char *path, long n, int timeout_ms);
/* Waits until path exists (e.g. a socket). */
bool vt_wait_path(const char *path, int timeout_ms);
/* Waits until the file contains needle. */
bool vt_wait_text(const char *path, const char *needle, int timeout_ms);
/* Reads a whole file into a malloc'ed NUL-terminated buffer (NULL on error). */
char *vt_read_file(const char *path, size_t *len);
/* Prints the last n bytes of a file, named (a failing test exits before it
 * cleans up: this is what says why). */
void vt_show_tail(const char *path, size_t n);
/* Writes a whole file. */
int vt_write_file(const char *path, const char *data);

void vt_sleep_ms(int ms);

/* A port free for both TCP and UDP on 127.0.0.1 right now, below the
 * kernel's ephemeral range, and reserved among test processes until this
 * one exits: no other test running at the same time gets it. */
int vt_free_port(void);

/* Asks the shipper for its counters (SIGUSR1) and returns the value of
 * 'key' in its fresh stats line for output 'output', or -1 when no line
 * came within 3 s. */
long vt_shipper_stat(vt_pipe *p, const char *output, const char *key);
/* Asks until the value is 'want' (a delivery's counters move only once the
 * destination has acknowledged it) or timeout_ms passes; returns the last
 * value seen. */
long vt_shipper_wait_stat(vt_pipe *p, const char *output, const char *key, long want,
                          int timeout_ms);

#endif
