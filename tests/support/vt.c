/* Test support (see vt.h). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vt.h"

static const char *const vt_names[3] = {"collector", "correlator", "shipper"};

void vt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

const char *vt_bin(const char *rel)
{
    static char buf[4][512];
    static int i;
    const char *root = getenv("VG_BUILD_ROOT");
    char *b = buf[i++ & 3];
    snprintf(b, 512, "%s/%s", root ? root : ".", rel);
    return b;
}

/* Whether port is free for both TCP and UDP on 127.0.0.1 right now. */
static bool vt_port_bindable(int port)
{
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = t >= 0 && u >= 0 && bind(t, (struct sockaddr *)&a, sizeof(a)) == 0 &&
              bind(u, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (t >= 0)
        close(t);
    if (u >= 0)
        close(u);
    return ok;
}

/* Reserves port among the test processes on this host until this process
 * exits: an abstract unix socket named after the port, bound and kept open
 * (the kernel frees the name when the process dies, however it dies).
 * False when another test process holds it. */
static bool vt_port_reserve(int port)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int n = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "vigil-test-port-%d", port);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    if (bind(fd, (struct sockaddr *)&a, len) != 0) {
        close(fd);
        return false;
    }
    return true; /* fd stays open on purpose: it is the reservation */
}

/* Tests run two at a time (meson test --num-processes 2), each starting
 * daemons on ports it picked a moment before. Two things could take such
 * a port in between: another test process picking the same one, and any
 * process's outgoing connection or bind to port 0, which the kernel gives
 * ports of the ephemeral range (ip_local_port_range). So the port is
 * drawn below that range, reserved among test processes (vt_port_reserve)
 * and checked free. Where the range leaves no room below it, the kernel
 * picks (bind to port 0), as before. */
int vt_free_port(void)
{
    static unsigned x;
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2)
            lo = 32768;
        fclose(f);
    }
    enum { VT_PORT_MIN = 10000 };
    if (lo - VT_PORT_MIN >= 1000) {
        if (!x) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            x = (unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec;
        }
        for (int tries = 0; tries < 200; tries++) {
            x = x * 1103515245u + 12345u;
            int port = VT_PORT_MIN + (int)((x >> 8) % (unsigned)(lo - VT_PORT_MIN));
            if (vt_port_bindable(port) && vt_port_reserve(port))
                return port;
        }
    }
    for (int tries = 0; tries < 50; tries++) {
        int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int port = -1;
        if (bind(t, (struct sockaddr *)&a, sizeof(a)) == 0 &&
            getsockname(t, (struct sockaddr *)&a, &len) == 0 &&
            bind(u, (struct sockaddr *)&a, sizeof(a)) == 0)
            port = ntohs(a.sin_port);
        close(t);
        close(u);
        if (port > 0 && vt_port_reserve(port))
            return port;
    }
    return -1;
}

int vt_write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(data, f);
    return fclose(f) == 0 ? 0 : -1;
}

char *vt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!b)
        return NULL;
    b[n] = '\0';
    if (len)
        *len = n;
    return b;
}

static vt_pipe *vt_current; /* the pipe of the running test, until destroyed */

/* The test dirs of this run, in memory shared by the runner (the process
 * that runs main) and the test processes Check forks from it. A failed
 * assertion ends a test process with _exit (Check 0.15 in fork mode), so
 * its atexit (vt_atexit) never ran and a failing test printed none of its
 * daemons' logs: a restart that never came up in a loaded chaos run left
 * only "alerts missing" and a kept dir to dig in. The runner prints, as it
 * exits, the logs of each dir whose test did not get to vt_pipe_destroy. */
enum { VT_KEPT_MAX = 256 };
typedef struct vt_kept {
    pid_t runner;
    int n;
    char dir[VT_KEPT_MAX][256];
    unsigned char open[VT_KEPT_MAX]; /* 1 from vt_pipe_init to vt_pipe_destroy */
} vt_kept;
static vt_kept *vt_kept_list;

static int vt_is_log(const struct dirent *de)
{
    size_t l = strlen(de->d_name);
    return l > 4 && strcmp(de->d_name + l - 4, ".log") == 0;
}

/* The last 3000 bytes of the *.log files of dir: of each daemon's last
 * two starts (NAME.N.log, in version order: collector.2 before
 * collector.10), and of every log that is empty, said to be empty (a
 * daemon that wrote nothing was not executed, died, hung or was stopped
 * before its first line). A chaos run's dozens of earlier starts are
 * counted, not shown. */
static void vt_show_logs(const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, vt_is_log, versionsort), skipped = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t pl = strcspn(name, ".") + 1; /* "collector." */
        int later = 0;
        for (int j = i + 1; j < n; j++)
            later += strncmp(names[j]->d_name, name, pl) == 0;
        char log[600];
        snprintf(log, sizeof(log), "%s/%s", dir, name);
        char *b = vt_read_file(log, NULL);
        size_t len = b ? strlen(b) : 0;
        if (later >= 2 && len) {
            skipped++;
        } else {
            if (skipped)
                printf("---- %d earlier log%s of the %.*s not shown (the dir is kept)\n",
                       skipped, skipped > 1 ? "s" : "", (int)pl - 1, name);
            skipped = 0;
            printf("---- %s (last 3000 bytes)%s\n%s\n", log, len ? "" : ": empty",
                   b ? (len > 3000 ? b + len - 3000 : b) : "");
        }
        free(b);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void vt_runner_exit(void)
{
    if (!vt_kept_list || getpid() != vt_kept_list->runner)
        return;
    for (int i = 0; i < vt_kept_list->n && i < VT_KEPT_MAX; i++) {
        if (!vt_kept_list->open[i])
            continue;
        printf("---- a test ended before vt_pipe_destroy (failed?); its dir is kept: %s\n",
               vt_kept_list->dir[i]);
        vt_show_logs(vt_kept_list->dir[i]);
    }
    fflush(stdout);
}

__attribute__((constructor)) static void vt_kept_init(void)
{
    void *m = mmap(NULL, sizeof(vt_kept), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (m == MAP_FAILED)
        return; /* logs are then not shown: the dirs are still kept */
    vt_kept_list = m;
    vt_kept_list->runner = getpid();
    atexit(vt_runner_exit);
}

/* Whether pid, a child of the test, has ended; *si says how. It is left
 * unreaped (WNOWAIT): vt_pipe_stop and vt_pid_state can still ask. */
static bool vt_ended(pid_t pid, siginfo_t *si)
{
    memset(si, 0, sizeof(*si));
    return waitid(P_PID, (id_t)pid, si, WEXITED | WNOHANG | WNOWAIT) == 0 && si->si_pid == pid;
}

void vt_pid_state(pid_t pid, char *out, size_t cap)
{
    siginfo_t si;
    if (vt_ended(pid, &si)) {
        if (si.si_code == CLD_EXITED)
            snprintf(out, cap, "pid %ld exited with status %d%s", (long)pid, si.si_status,
                     si.si_status == 127 ? " (not executed: its log says why)" : "");
        else
            snprintf(out, cap, "pid %ld died of signal %d (%s)", (long)pid, si.si_status,
                     strsignal(si.si_status));
        return;
    }
    /* /proc/PID/stat: "pid (comm) S ...", comm may hold spaces and ')' */
    char path[64], buf[512] = "", wchan[64] = "?";
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = '\0';
        fclose(f);
    }
    const char *q = strrchr(buf, ')');
    char state = q && q[1] == ' ' ? q[2] : '?';
    snprintf(path, sizeof(path), "/proc/%ld/wchan", (long)pid);
    if ((f = fopen(path, "r"))) {
        if (!fgets(wchan, sizeof(wchan), f) || !wchan[0])
            snprintf(wchan, sizeof(wchan), "-");
        fclose(f);
    }
    snprintf(out, cap, "pid %ld alive, state %c%s, in %s", (long)pid, state,
             state == 'T'   ? " (stopped)"
             : state == 'D' ? " (uninterruptible)"
             : state == 'Z' ? " (zombie)"
                            : "",
             wchan);
}

/* A test process that exits (exit(), not the _exit of a failed assertion:
 * that one the runner reports, vt_runner_exit) before vt_pipe_destroy: say
 * what became of each daemon (alive and in which state, or how it ended)
 * and show the logs, then stop the daemons. The temp dir is kept. */
static void vt_atexit(void)
{
    vt_pipe *p = vt_current;
    if (!p)
        return;
    for (int i = 0; i < 3; i++) {
        if (p->pid[i] > 0) {
            char state[200];
            vt_pid_state(p->pid[i], state, sizeof(state));
            printf("---- %s (start %d): %s\n", vt_names[i], p->restarts[i], state);
            kill(p->pid[i], SIGKILL);
        }
    }
    vt_show_logs(p->dir);
    printf("---- test dir kept: %s\n", p->dir);
    if (vt_kept_list && p->kept_slot >= 0)
        vt_kept_list->open[p->kept_slot] = 0; /* shown: not again by the runner */
}

int vt_pipe_init(vt_pipe *p, const char *rules_yaml)
{
    return vt_pipe_init_ex(p, rules_yaml, NULL, NULL);
}

int vt_pipe_init_ex(vt_pipe *p, const char *rules_yaml, const char *listen_extra,
                    const char *collector_extra)
{
    return vt_pipe_init_full(p, rules_yaml, listen_extra, collector_extra, NULL);
}

int vt_pipe_init_full(vt_pipe *p, const char *rules_yaml, const char *listen_extra,
                      const char *collector_extra, const char *shipper_yaml)
{
    static int registered;
    if (!registered++)
        atexit(vt_atexit);
    memset(p, 0, sizeof(*p));
    vt_current = p;
    p->kept_slot = -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(p->dir, sizeof(p->dir), "%s/vigil-test-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(p->dir))
        return -1;
    if (vt_kept_list) {
        int k = __atomic_fetch_add(&vt_kept_list->n, 1, __ATOMIC_SEQ_CST);
        if (k < VT_KEPT_MAX) {
            snprintf(vt_kept_list->dir[k], sizeof(vt_kept_list->dir[k]), "%s", p->dir);
            vt_kept_list->open[k] = 1;
            p->kept_slot = k;
        }
    }
    p->port = vt_free_port();
    p->port2 = -1;
    for (int tries = 0; tries < 50 && p->port > 0 && (p->port2 < 0 || p->port2 == p->port); tries++)
        p->port2 = vt_free_port(); /* bounded: with no free port both were -1, forever */
    if (p->port2 < 0 || p->port2 == p->port)
        return -1;
    snprintf(p->config, sizeof(p->config), "%s/vigil.yaml", p->dir);
    snprintf(p->alerts, sizeof(p->alerts), "%s/alerts.json", p->dir);
    snprintf(p->rules, sizeof(p->rules), "%s/rules", p->dir);
    if (p->port < 0 || mkdir(p->rules, 0755) != 0)
        return -1;
    char path[400], cfg[16384], listen[1024] = "";
    /* "PORT" in listen_extra stands for the pipe's port. */
    for (const char *q = listen_extra; q && *q && strlen(listen) < sizeof(listen) - 8;) {
        if (strncmp(q, "PORT", 4) == 0) {
            snprintf(listen + strlen(listen), sizeof(listen) - strlen(listen), "%d", p->port);
            q += 4;
        } else {
            size_t l = strlen(listen);
            listen[l] = *q++;
            listen[l + 1] = '\0';
        }
    }
    snprintf(path, sizeof(path), "%s/test.yml", p->rules);
    if (vt_write_file(path, rules_yaml) != 0)
        return -1;
    snprintf(cfg, sizeof(cfg),
             "pipeline:\n  run_dir: run\n  data_dir: data\n  log_level: info\n  stats_interval: 200ms\n"
             "collector:\n  name: c1\n  listen:\n    - udp://127.0.0.1:%d\n    - tcp://127.0.0.1:%d\n"
             "%s%s%s"
             "correlator:\n  rules_dir: rules\n  state_size: 256M\n"
             "%s",
             p->port, p->port, listen,
             collector_extra ? collector_extra : "",
             collector_extra && strstr(collector_extra, "spool_size") ? "" : "  spool_size: 256M\n",
             shipper_yaml ? shipper_yaml
                          : "shipper:\n  json_file: alerts.json\n  outbox_size: 256M\n");
    return vt_write_file(p->config, cfg);
}

void vt_pipe_log(vt_pipe *p, int which, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.%d.log", p->dir, vt_names[which], p->restarts[which]);
}

pid_t vt_pipe_start(vt_pipe *p, int which)
{
    char bin[64], log[400];
    snprintf(bin, sizeof(bin), "%s/vigil-%s", vt_names[which], vt_names[which]);
    p->restarts[which]++;
    vt_pipe_log(p, which, log, sizeof(log));
    pid_t pid = vt_spawn(bin, p->config, log);
    /* pid -1 would be kill(-1, ...) to a test's SIGSTOP: every process */
    ck_assert_msg(pid > 0, "cannot fork the %s: %s", vt_names[which], strerror(errno));
    p->pid[which] = pid;
    return pid;
}

int vt_pipe_up(vt_pipe *p, int which, int timeout_ms, char *why, size_t cap)
{
    char log[400];
    vt_pipe_log(p, which, log, sizeof(log));
    why[0] = '\0';
    siginfo_t si;
    bool ended = false;
    int waited = 0;
    for (; p->pid[which] > 0; waited += 20) {
        /* ended first: a daemon that started and then died is not up */
        if ((ended = vt_ended(p->pid[which], &si)))
            break;
        if (vt_count_text(log, " started (config ") > 0)
            return 0;
        if (waited >= timeout_ms)
            break;
        vt_sleep_ms(20);
    }
    char state[200] = "not running (stopped by the test)", after[32] = "";
    if (p->pid[which] > 0)
        vt_pid_state(p->pid[which], state, sizeof(state));
    if (!ended && p->pid[which] > 0)
        snprintf(after, sizeof(after), " after %d ms", timeout_ms);
    char *b = vt_read_file(log, NULL);
    const char *says = !b                                ? "does not exist"
                       : !b[0]                           ? "is empty"
                       : strstr(b, " started (config ") ? "says it started"
                                                         : "has no \" started (config\" line";
    snprintf(why, cap, "the %s (start %d) is not up%s: %s; its log %s %s", vt_names[which],
             p->restarts[which], after, state, log, says);
    free(b);
    return -1;
}

int vt_pipe_alive(vt_pipe *p, char *why, size_t cap)
{
    why[0] = '\0';
    for (int i = 0; i < 3; i++) {
        siginfo_t si;
        if (p->pid[i] <= 0 || !vt_ended(p->pid[i], &si))
            continue;
        char state[200];
        vt_pid_state(p->pid[i], state, sizeof(state));
        snprintf(why, cap, "the %s (start %d) ended without being told to: %s", vt_names[i],
                 p->restarts[i], state);
        return -1;
    }
    return 0;
}

void vt_pipe_start_all(vt_pipe *p)
{
    /* Each wait fails the test when it times out: a pipeline that did not
     * come up would otherwise fail later, in a wait that names the wrong
     * cause (or in none, for a test that expects nothing to arrive).
     * The bound is generous (VT_UP_MS): under ASan on a loaded 2-core
     * machine the correlator took over 10 s to compile the shipped rules,
     * and test_correlator failed with "did not create correlator.sock". */
    enum { UP_MS = VT_UP_MS };
    char sock[400];
    vt_pipe_start(p, VT_SHIPPER);
    snprintf(sock, sizeof(sock), "%s/run/shipper.sock", p->dir);
    ck_assert_msg(vt_wait_path(sock, UP_MS), "the shipper did not create %s", sock);
    vt_pipe_start(p, VT_CORRELATOR);
    snprintf(sock, sizeof(sock), "%s/run/correlator.sock", p->dir);
    ck_assert_msg(vt_wait_path(sock, UP_MS), "the correlator did not create %s", sock);
    vt_pipe_start(p, VT_COLLECTOR);
    char log[400];
    vt_pipe_log(p, VT_COLLECTOR, log, sizeof(log));
    ck_assert_msg(vt_wait_text(log, "has everything up to seq", UP_MS),
                  "the collector did not join the correlator's stream");
}

/* Waits for pid to exit, up to timeout_ms; returns status or -1. */
static int vt_reap(pid_t pid, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0)
            return -1;
        vt_sleep_ms(10);
    }
    return -1;
}

/* If the test dies (a failed assertion exits its process), the daemons
 * it started die with it (PR_SET_PDEATHSIG). */
pid_t vt_spawn(const char *bin, const char *config, const char *log)
{
    const char *exe = vt_bin(bin);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(exe, exe, "-c", config, (char *)NULL);
        /* into the log: else an exec that failed (ENOENT, ETXTBSY while
         * the binary is relinked, ENOMEM) left an empty log and a daemon
         * that was never there */
        char msg[700];
        int n = snprintf(msg, sizeof(msg), "vt_spawn: cannot execute %s: %s\n", exe,
                         strerror(errno));
        if (n > 0) {
            ssize_t w = write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
            (void)w;
        }
        _exit(127);
    }
    return pid;
}

int vt_stop_pid(pid_t pid, int sig)
{
    if (pid <= 0)
        return -1;
    kill(pid, sig);
    int st = vt_reap(pid, 10000);
    if (st < 0) {
        kill(pid, SIGKILL);
        vt_reap(pid, 5000);
    }
    return st;
}

int vt_pipe_stop(vt_pipe *p, int which, int sig)
{
    pid_t pid = p->pid[which];
    if (pid <= 0)
        return -1;
    if (sig != SIGTERM && sig != SIGKILL && sig != SIGINT) {
        kill(pid, sig);
        return 0;
    }
    p->pid[which] = 0;
    return vt_stop_pid(pid, sig);
}

int vt_pipe_wait(vt_pipe *p, int which, int timeout_ms)
{
    pid_t pid = p->pid[which];
    if (pid <= 0)
        return -1;
    int st = vt_reap(pid, timeout_ms);
    if (st < 0) {
        kill(pid, SIGKILL);
        vt_reap(pid, 5000);
    }
    p->pid[which] = 0;
    return st;
}

static void vt_rm_rf(const char *path)
{
    char *argv[] = {"rm", "-rf", (char *)path, NULL};
    vt_run(argv, 30);
}

void vt_pipe_destroy(vt_pipe *p)
{
    for (int i = 0; i < 3; i++)
        if (p->pid[i] > 0)
            vt_pipe_stop(p, i, SIGTERM);
    if (!getenv("VT_KEEP") && p->dir[0])
        vt_rm_rf(p->dir);
    if (vt_kept_list && p->kept_slot >= 0)
        vt_kept_list->open[p->kept_slot] = 0;
    vt_current = NULL;
}

int vt_run(char *const argv[], int timeout_s)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    int st = vt_reap(pid, timeout_s * 1000);
    if (st < 0) {
        kill(pid, SIGKILL);
        vt_reap(pid, 5000);
    }
    return st;
}

void vt_show_tail(const char *path, size_t n)
{
    char *b = vt_read_file(path, NULL);
    if (!b)
        return;
    size_t len = strlen(b);
    printf("---- %s (last %zu bytes)\n%s\n", path, n, len > n ? b + len - n : b);
    fflush(stdout);
    free(b);
}

long vt_count_lines(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    char buf[65536];
    long n = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < r; i++)
            n += buf[i] == '\n';
    close(fd);
    return n;
}

int vt_count_text(const char *path, const char *needle)
{
    char *b = vt_read_file(path, NULL);
    int n = 0;
    for (char *q = b; q && (q = strstr(q, needle)); q += strlen(needle))
        n++;
    free(b);
    return n;
}

bool vt_wait_lines(const char *path, long n, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        if (vt_count_lines(path) >= n)
            return true;
        vt_sleep_ms(50);
    }
    return false;
}

bool vt_wait_path(const char *path, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (access(path, F_OK) == 0)
            return true;
        vt_sleep_ms(10);
    }
    return false;
}

bool vt_wait_text(const char *path, const char *needle, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        char *b = vt_read_file(path, NULL);
        bool found = b && strstr(b, needle);
        free(b);
        if (found)
            return true;
        vt_sleep_ms(20);
    }
    return false;
}

static int vt_count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *q = hay; hay && (q = strstr(q, needle)); q++)
        n++;
    return n;
}

long vt_shipper_stat(vt_pipe *p, const char *output, const char *key)
{
    char log[400], head[200], k[64];
    vt_pipe_log(p, VT_SHIPPER, log, sizeof(log));
    snprintf(head, sizeof(head), "output %s (", output);
    snprintf(k, sizeof(k), " %s=", key);
    char *b = vt_read_file(log, NULL);
    int before = vt_count_str(b, head);
    free(b);
    /* pid 0 (a shipper stopped) would signal the test's own process group */
    ck_assert_msg(p->pid[VT_SHIPPER] > 0, "vt_shipper_stat: the shipper is not running");
    kill(p->pid[VT_SHIPPER], SIGUSR1);
    for (int i = 0; i < 60; i++) {
        vt_sleep_ms(50);
        b = vt_read_file(log, NULL);
        if (b && vt_count_str(b, head) > before) {
            char *line = b, *q;
            while ((q = strstr(line + 1, head)))
                line = q;
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            q = strstr(line, k);
            long v = q ? atol(q + strlen(k)) : -1;
            free(b);
            return v;
        }
        free(b);
    }
    return -1;
}

long vt_shipper_wait_stat(vt_pipe *p, const char *output, const char *key, long want,
                          int timeout_ms)
{
    long v = -1;
    for (int t = 0; t < timeout_ms && (v = vt_shipper_stat(p, output, key)) != want; t += 300)
        vt_sleep_ms(200);
    return v;
}
