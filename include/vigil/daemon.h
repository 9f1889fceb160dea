/* What the three daemons share: command line, configuration loading and
 * reloading, signals, privilege drop, and the pipeline section of the
 * configuration file.
 *
 * Each daemon supplies a vg_daemon_desc (names, help text) and ops. The
 * runner parses the command line, loads the YAML file, reads the
 * 'pipeline' section, calls configure(first = 1), then runs the libuv loop:
 *   SIGHUP   reloads the file; configure(first = 0) applies it or refuses it
 *            with FILE:LINE: reason, and the daemon runs on unchanged;
 *   SIGTERM, SIGINT  call shutdown, which closes the daemon's handles; the
 *            loop then ends and the process exits 0;
 *   SIGUSR1  calls report (log the counters).
 */
#ifndef VIGIL_DAEMON_H
#define VIGIL_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#include "vigil/conf.h"
#include "vigil/store.h"

#define VG_DEFAULT_CONFIG "/etc/vigil/vigil.yaml"
/* The default names of the sockets between the daemons, relative to
 * pipeline.run_dir: each is set on both of its ends (the listener's
 * listen_socket, the sender's *_socket), and the runner compares the two
 * ends when one file holds both sections. */
#define VG_SOCK_CORRELATOR "correlator.sock"
#define VG_SOCK_SHIPPER "shipper.sock"

/* The 'pipeline' section: settings every process must agree on. */
typedef struct vg_pipeline_conf {
    char *user;      /* pipeline user; empty = whoever runs the daemon */
    char *group;     /* pipeline group; empty = the user's primary group */
    char *run_dir;   /* Unix sockets live here (mode 0750) */
    char *data_dir;  /* LMDB environments live here (mode 0700) */
    char *log_level; /* error, warn, info, debug */
    int64_t stats_interval; /* ms between STATS messages to the next hop */
    /* resolved */
    uid_t uid;
    gid_t gid;
} vg_pipeline_conf;

typedef struct vg_daemon vg_daemon;

/* A one-shot mode of a daemon's binary, e.g. "vigil-collector --dump-spool":
 * run instead of the daemon, after the configuration is loaded, with the
 * arguments that follow its flag. Returns the exit status. */
typedef struct vg_daemon_tool {
    const char *name;  /* the long option without "--" */
    const char *usage; /* help lines, each indented by two spaces */
    bool needs_config; /* false: runs with root == NULL when the file is absent */
    int (*run)(vg_daemon *d, const vg_node *root, int argc, char **argv);
} vg_daemon_tool;

typedef struct vg_daemon_desc {
    const char *prog;    /* "vigil-collector" */
    const char *section; /* "collector" */
    const char *summary; /* one line for --help */
    const char *help;    /* --help after the synopsis: description (and counters) */
    const char *check;   /* --help: what -t checks, lines indented by 23 spaces; NULL:
                          * the configuration only */
    const char *files;   /* --help: the files and sockets used, lines indented by two */
    const vg_daemon_tool *tools; /* ended by {NULL}; may be NULL */
} vg_daemon_desc;

typedef struct vg_daemon_ops {
    /* Reads the daemon's section of root. first = 1 at start (open
     * everything), 0 on reload (apply what changed, keep the rest). With
     * vg_daemon_check_only(d) it validates and starts nothing. On error:
     * fill err with "FILE:LINE: reason" and return a negative code. A
     * reload accepted whose last part finishes later (the correlator's
     * prefilter build) returns VG_CONFIGURE_PENDING: systemd hears that
     * the reload ended only from vg_daemon_reload_done. */
    int (*configure)(vg_daemon *d, const vg_node *root, int first, char *err, size_t errlen);
    /* SIGTERM/SIGINT: close every handle so the loop can end. */
    void (*shutdown)(vg_daemon *d);
    /* SIGUSR1: log the counters. May be NULL. */
    void (*report)(vg_daemon *d);
} vg_daemon_ops;

/* What configure returns for a reload that is accepted but not yet in
 * force (see vg_daemon_ops.configure). */
#define VG_CONFIGURE_PENDING 1

/* Ends a reload whose configure returned VG_CONFIGURE_PENDING: tells
 * systemd (READY=1, so that `systemctl reload` returns now) and its status
 * how it ended. rc 0: in force; negative: refused for why (the previous
 * rules run on). Called for the latest SIGHUP's reload only (one that a
 * later SIGHUP superseded is answered by that one); does nothing when no
 * reload is pending (a later SIGHUP refused at once has answered) or
 * during the stop. */
void vg_daemon_reload_done(vg_daemon *d, int rc, const char *why);

/* Runs a daemon to completion and returns its exit status. */
int vg_daemon_main(int argc, char **argv, const vg_daemon_desc *desc, const vg_daemon_ops *ops,
                   void *data);

uv_loop_t *vg_daemon_loop(vg_daemon *d);
void *vg_daemon_data(vg_daemon *d);
const vg_pipeline_conf *vg_daemon_pipeline(vg_daemon *d);
const char *vg_daemon_config_path(vg_daemon *d);
bool vg_daemon_check_only(vg_daemon *d);
/* Whether shutdown has begun (SIGTERM, SIGINT or vg_daemon_fail): work
 * finishing after it must not start anything. */
bool vg_daemon_stopping(vg_daemon *d);
/* Ends the loop with a failure status (fatal runtime error). */
void vg_daemon_fail(vg_daemon *d, int status);

/* Creates pipeline.data_dir (mode 0700) and, with run_dir, pipeline.run_dir
 * (0750), parents included, owned by the pipeline user and group when
 * running as root. An existing one gets that owner and mode too, but only
 * if it holds nothing but the daemons' own entries (their stores'
 * directories, sockets, lost+found) or the pipeline user (not root) owns
 * it already: a mistaken shared path (/run, /var/lib, /tmp) is refused
 * and left as it is. With store (the instance name), the daemon's own store
 * DATA_DIR/SECTION/store, which an earlier run as root may have made
 * root's, is given to the pipeline user with all it holds (and
 * DATA_DIR/SECTION itself). On error writes "CONFIG: pipeline.KEY DIR:
 * reason" into err and returns a negative code. */
int vg_daemon_prepare_dirs(vg_daemon *d, bool run_dir, const char *store, char *err,
                           size_t errlen);

/* When running as root with a pipeline user configured: switch to it
 * (group, supplementary groups, then user) after the privileged setup. */
int vg_daemon_drop_privileges(vg_daemon *d);

/* For -t, which runs as root: whether pipeline.user (when one is set and
 * the process runs as root) may access path with mode (access(2) bits),
 * as the daemon will after its privilege drop. If not, logs a warning
 * "CONFIG: pipeline.user U cannot read PATH (what): reason; then" and
 * returns false. True when nothing is known (not root, no user). */
bool vg_daemon_user_access(vg_daemon *d, const char *path, int mode, const char *what,
                           const char *then);

/* Joins data_dir and name into a malloc'ed path. */
char *vg_daemon_path(const char *dir, const char *name);

/* For a one-shot mode that reads a daemon's store, which may be running:
 * opens DATA_DIR/ROLE/NAME (size_mb, as the daemon does) and its queue
 * qname. Refuses, logging "no WHAT at DIR: reason (has the ROLE run with
 * this configuration?)", a store that does not exist yet: opening would
 * create an empty one owned by whoever runs the tool (root, often), which
 * the daemon could then not open after dropping to pipeline.user. On
 * success sets *st and *q (the caller closes *st) and returns 0; else
 * returns a negative code, already logged. */
int vg_daemon_open_store(vg_daemon *d, const char *role, const char *name, size_t size_mb,
                         const char *qname, const char *what, vg_store **st, vg_queue **q);

#endif
