/* The daemon runner shared by the three processes (see daemon.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vigil/daemon.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/notify.h"
#include "vigil/util.h"
#include "vigil/wire.h"

struct vg_daemon {
    const vg_daemon_desc *desc;
    const vg_daemon_ops *ops;
    void *data;
    uv_loop_t loop;
    uv_signal_t sig_hup, sig_term, sig_int, sig_usr1;
    uv_timer_t watchdog; /* systemd's WatchdogSec, when it set one */
    char *config_path;
    vg_pipeline_conf pipeline;
    bool check_only;
    bool stopping;
    int status;
    bool level_given; /* -l: overrides pipeline.log_level, on every reload too */
    enum vg_log_level level;
    char refused[1024]; /* why the last load was refused, for systemd's status */
    bool reload_pending;    /* configure said VG_CONFIGURE_PENDING: READY=1 not sent yet */
    char reload_when[32];   /* the SIGHUP's time, for the status it ends with */
};

/* The log level: -l if given, else pipeline.log_level. */
static void vg__apply_level(const vg_daemon *d)
{
    enum vg_log_level lvl;
    if (d->level_given)
        vg_log_set_level(d->level);
    else if (vg_log_parse_level(d->pipeline.log_level, &lvl) == 0)
        vg_log_set_level(lvl);
}

/* The sections a configuration file may hold: the file is shared by the
 * three daemons, each reads its own, and a misspelt one ("corelator:")
 * would otherwise leave a daemon on its defaults without a word. */
static const char *const vg__sections[] = {"pipeline", "collector", "correlator", "shipper"};

/* Refuses a file whose top level is not a map of known sections. */
static int vg__sections_check(const vg_node *root, char *err, size_t errlen)
{
    if (root->kind != VG_NODE_MAP)
        return vg_conf_errf(err, errlen, root,
                            "the top level must be a map of sections (pipeline, collector, "
                            "correlator, shipper)");
    const size_t nsec = sizeof(vg__sections) / sizeof(vg__sections[0]);
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->str;
        size_t j = 0;
        while (j < nsec && strcmp(k, vg__sections[j]))
            j++;
        if (j == nsec)
            return vg_conf_errf(err, errlen, root->keys[i],
                                "unknown section '%s' (expected pipeline, collector, correlator "
                                "or shipper)", k);
    }
    return 0;
}

static const vg_conf_key vg__pipeline_keys[] = {
    {"user", VG_CONF_STR, "", offsetof(vg_pipeline_conf, user),
     "user the daemons run as and accept as peers; empty: the user who starts them", 0, 0},
    {"group", VG_CONF_STR, "", offsetof(vg_pipeline_conf, group),
     "group owning the socket directory; empty: the user's primary group", 0, 0},
    {"run_dir", VG_CONF_PATH, "/run/vigil", offsetof(vg_pipeline_conf, run_dir),
     "directory of the Unix sockets between the daemons (mode 0750)", 0, 0},
    {"data_dir", VG_CONF_PATH, "/var/lib/vigil", offsetof(vg_pipeline_conf, data_dir),
     "directory of the LMDB environments (mode 0700)", 0, 0},
    {"log_level", VG_CONF_STR, "info", offsetof(vg_pipeline_conf, log_level),
     "error, warn, info or debug", 0, 0},
    {"stats_interval", VG_CONF_DURATION, "10s", offsetof(vg_pipeline_conf, stats_interval),
     "how often each daemon sends its counters to the next hop", 200, 3600000},
    {NULL, 0, NULL, 0, NULL, 0, 0},
};

uv_loop_t *vg_daemon_loop(vg_daemon *d)
{
    return &d->loop;
}
void *vg_daemon_data(vg_daemon *d)
{
    return d->data;
}
const vg_pipeline_conf *vg_daemon_pipeline(vg_daemon *d)
{
    return &d->pipeline;
}
const char *vg_daemon_config_path(vg_daemon *d)
{
    return d->config_path;
}
bool vg_daemon_check_only(vg_daemon *d)
{
    return d->check_only;
}
bool vg_daemon_stopping(vg_daemon *d)
{
    return d->stopping;
}

char *vg_daemon_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int vg_daemon_open_store(vg_daemon *d, const char *role, const char *name, size_t size_mb,
                         const char *qname, const char *what, vg_store **st, vg_queue **q)
{
    char sub[320];
    snprintf(sub, sizeof(sub), "%s/%s", role, name);
    char *dir = vg_daemon_path(d->pipeline.data_dir, sub);
    struct stat sb;
    int rc = dir ? 0 : -ENOMEM;
    *st = NULL;
    *q = NULL;
    if (rc == 0 && stat(dir, &sb) != 0) {
        rc = -errno;
        vg_error("no %s at %s: %s (has the %s run with this configuration?)", what, dir,
                 strerror(errno), role);
    } else if (rc == 0 && ((rc = vg_store_open(st, dir, size_mb)) != 0 ||
                           (rc = vg_queue_open(*st, qname, q)) != 0)) {
        vg_error("%s: %s", dir, vg_strerror(rc));
        vg_store_close(*st);
        *st = NULL;
    } else if (rc) {
        vg_error("%s: %s", what, vg_strerror(rc));
    }
    free(dir);
    return rc;
}

/* Reads and resolves the pipeline section into *pc (released on error). */
static int vg__pipeline_load(const vg_node *root, const char *file, vg_pipeline_conf *pc, char *err,
                             size_t errlen)
{
    const vg_node *sec = vg_node_get(root, "pipeline");
    memset(pc, 0, sizeof(*pc));
    int rc = vg_conf_apply(sec, file, vg__pipeline_keys, pc, err, errlen);
    if (rc)
        return rc;
    enum vg_log_level lvl;
    if (vg_log_parse_level(pc->log_level, &lvl) != 0) {
        rc = vg_conf_errf(err, errlen, vg_node_get(sec, "log_level") ? vg_node_get(sec, "log_level") : root,
                          "log_level must be error, warn, info or debug, got '%s'", pc->log_level);
        goto fail;
    }
    pc->uid = geteuid();
    pc->gid = getegid();
    if (pc->user[0]) {
        struct passwd *pw = getpwnam(pc->user);
        if (!pw) {
            rc = vg_conf_errf(err, errlen, vg_node_get(sec, "user"), "no such user '%s'", pc->user);
            goto fail;
        }
        pc->uid = pw->pw_uid;
        pc->gid = pw->pw_gid;
    }
    if (pc->group[0]) {
        struct group *gr = getgrnam(pc->group);
        if (!gr) {
            rc = vg_conf_errf(err, errlen, vg_node_get(sec, "group"), "no such group '%s'", pc->group);
            goto fail;
        }
        pc->gid = gr->gr_gid;
    }
    return 0;
fail:
    vg_conf_release(vg__pipeline_keys, pc);
    return rc;
}

/* The key node of section name in root (its line is the section's). */
static const vg_node *vg__section_key(const vg_node *root, const char *name)
{
    for (size_t i = 0; i < root->n; i++)
        if (strcmp(root->keys[i]->str, name) == 0)
            return root->keys[i];
    return root;
}

/* A socket key's path as the daemons open it: vg_path_resolve under
 * run_dir, so that "./x.sock", "a/../x.sock", "x.sock" and "RUN_DIR/x.sock"
 * compare equal (as the correlator compares its own sockets). One too long
 * to resolve is compared as written. Writes into out (cap bytes). */
static void vg__sock_path(const char *run_dir, const char *v, char *out, size_t cap)
{
    if (vg_path_resolve(run_dir, v, out, cap))
        snprintf(out, cap, "%s", v);
}

typedef struct vg__sock_link {
    const char *from, *key, *to, *what;
} vg__sock_link;

/* vg__sockets_check for a link whose upstream end is a list of sockets
 * (an, the correlator's shipper_socket): one of them must be the
 * downstream's listen_socket (bn, NULL for the default). Items that are
 * not sockets are left to the daemon's own section check. */
static int vg__sockets_check_list(const vg_node *root, const char *run_dir, const vg_node *an,
                                  const vg_node *bn, const vg__sock_link *lk, char *err,
                                  size_t errlen)
{
    const char *bv = bn ? bn->str : lk->what;
    char ap[4096], bp[4096];
    if (!bv[0])
        return 0;
    vg__sock_path(run_dir, bv, bp, sizeof(bp));
    for (size_t j = 0; j < an->n; j++) {
        const vg_node *it = an->items[j];
        if (it->kind != VG_NODE_SCALAR || !it->str[0])
            return 0;
        vg__sock_path(run_dir, it->str, ap, sizeof(ap));
        if (strcmp(ap, bp) == 0)
            return 0;
    }
    const vg_node *bat = bn ? bn : vg__section_key(root, lk->to);
    return vg_conf_errf(err, errlen, an,
                        "%s.%s lists no %s.listen_socket '%s'%s (line %d): the %s would connect "
                        "to every socket of the list, and the %s listens on %s; list its socket",
                        lk->from, lk->key, lk->to, bv, bn ? "" : " (the default)", bat->line,
                        lk->from, lk->to, bp);
}

/* One file serves the three daemons, but each reads only its own section:
 * a collector's correlator_socket that is not the correlator's
 * listen_socket (or a correlator's shipper_socket not the shipper's) in
 * that one file passed every daemon's -t and started, and the pipeline
 * never connected, the collector spooling until full. When the file holds
 * both sections of a link that concerns this daemon, their two ends must
 * name one socket. A host that runs only some daemons holds only their
 * sections, and is not checked. Non-scalar or empty values are left to
 * the daemon's own section check. */
static int vg__sockets_check(const vg_daemon *d, const vg_node *root, const char *run_dir,
                             char *err, size_t errlen)
{
    static const vg__sock_link links[] = {
        {"collector", "correlator_socket", "correlator", VG_SOCK_CORRELATOR},
        {"correlator", "shipper_socket", "shipper", VG_SOCK_SHIPPER},
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        const char *own = d->desc->section;
        if (strcmp(own, links[i].from) != 0 && strcmp(own, links[i].to) != 0)
            continue;
        const vg_node *a = vg_node_get(root, links[i].from), *b = vg_node_get(root, links[i].to);
        if (!a || !b || a->kind != VG_NODE_MAP || b->kind != VG_NODE_MAP)
            continue;
        const vg_node *an = vg_node_get(a, links[i].key), *bn = vg_node_get(b, "listen_socket");
        if (an && an->kind == VG_NODE_SEQ && strcmp(links[i].key, "shipper_socket") == 0 &&
            (!bn || bn->kind == VG_NODE_SCALAR)) {
            /* correlator.shipper_socket as a list (one socket per shipper):
             * the shipper of this file must be one of them */
            int rc = vg__sockets_check_list(root, run_dir, an, bn, &links[i], err, errlen);
            if (rc)
                return rc;
            continue;
        }
        if ((an && an->kind != VG_NODE_SCALAR) || (bn && bn->kind != VG_NODE_SCALAR))
            continue;
        const char *av = an ? an->str : links[i].what, *bv = bn ? bn->str : links[i].what;
        if (!av[0] || !bv[0])
            continue;
        char ap[4096], bp[4096];
        vg__sock_path(run_dir, av, ap, sizeof(ap));
        vg__sock_path(run_dir, bv, bp, sizeof(bp));
        if (strcmp(ap, bp) == 0)
            continue;
        const vg_node *bat = bn ? bn : vg__section_key(root, links[i].to);
        return vg_conf_errf(err, errlen, an ? an : vg__section_key(root, links[i].from),
                            "%s.%s '%s'%s is not %s.listen_socket '%s'%s (line %d): the %s would "
                            "connect to %s, where the %s listens on %s; give both one socket",
                            links[i].from, links[i].key, av, an ? "" : " (the default)",
                            links[i].to, bv, bn ? "" : " (the default)", bat->line,
                            links[i].from, ap, links[i].to, bp);
    }
    return 0;
}

/* Each socket of this daemon's section must fit a Unix socket address
 * (107 bytes and its NUL): -t called a longer one valid, and libuv cut it
 * there, so the shipper failed to start with "no such file or directory"
 * (the cut path's directory) and a collector retried "connection refused"
 * for ever. The path is the one the daemon opens: under run_dir unless
 * absolute, resolved for the correlator's shipper sockets
 * (cor_conf_sock_path). Non-scalar or empty values are left to the
 * daemon's own section check. The line blamed: the key's, else
 * pipeline.run_dir's (a default socket name under a long directory). */
static int vg__sockets_fit(const vg_daemon *d, const vg_node *root, const char *run_dir,
                           char *err, size_t errlen)
{
    static const struct {
        const char *section, *key, *dflt;
        bool resolved;
    } socks[] = {
        {"collector", "correlator_socket", VG_SOCK_CORRELATOR, false},
        {"correlator", "listen_socket", VG_SOCK_CORRELATOR, false},
        {"correlator", "shipper_socket", VG_SOCK_SHIPPER, true},
        {"shipper", "listen_socket", VG_SOCK_SHIPPER, false},
    };
    const size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    const vg_node *rd = vg_node_get(vg_node_get(root, "pipeline"), "run_dir");
    for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
        if (strcmp(d->desc->section, socks[i].section) != 0)
            continue;
        const vg_node *n = vg_node_get(vg_node_get(root, socks[i].section), socks[i].key);
        size_t count = n && n->kind == VG_NODE_SEQ ? n->n : 1;
        for (size_t j = 0; j < count; j++) {
            const vg_node *it = n && n->kind == VG_NODE_SEQ ? n->items[j] : n;
            if (it && (it->kind != VG_NODE_SCALAR || !it->str[0]))
                continue;
            const char *v = it ? it->str : socks[i].dflt;
            char path[4096];
            int w = 0;
            if (socks[i].resolved && vg_path_resolve(run_dir, v, path, sizeof(path)) == 0)
                w = (int)strlen(path);
            else
                w = snprintf(path, sizeof(path), "%s%s%s", v[0] == '/' ? "" : run_dir,
                             v[0] == '/' ? "" : "/", v);
            if (w >= 0 && (size_t)w <= max)
                continue;
            const vg_node *at = it ? it : rd;
            return vg_conf_errf(err, errlen, at ? at : vg__section_key(root, socks[i].section),
                                "%s.%s '%s'%s is the socket %s, %d bytes: a Unix socket's path "
                                "holds at most %zu; shorten pipeline.run_dir or give the socket "
                                "a shorter absolute path",
                                socks[i].section, socks[i].key, v, it ? "" : " (the default)",
                                path, w, max);
        }
    }
    return 0;
}

/* Whether dir holds only what the daemons put there (their stores'
 * directories, sockets) or what a file system puts at its root; else
 * *foreign gets the first other entry's name. A directory that cannot be
 * read counts as foreign: nothing is known of it. */
static bool vg__dir_ours(const char *dir, char *foreign, size_t cap)
{
    static const char *const ours[] = {".", "..", "collector", "correlator", "shipper",
                                       "lost+found"};
    DIR *dh = opendir(dir);
    if (!dh) {
        snprintf(foreign, cap, "(unreadable: %s)", strerror(errno));
        return false;
    }
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(dh)) != NULL) {
        size_t i = 0;
        while (i < sizeof(ours) / sizeof(ours[0]) && strcmp(de->d_name, ours[i]) != 0)
            i++;
        if (i < sizeof(ours) / sizeof(ours[0]) || de->d_type == DT_SOCK)
            continue;
        char path[4400];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (de->d_type == DT_UNKNOWN && lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
            continue;
        snprintf(foreign, cap, "%s", de->d_name);
        ok = false;
    }
    closedir(dh);
    return ok;
}

/* Creates dir, or takes it over: its owner and mode are set only where it
 * holds nothing but the daemons' own entries. Else a mistaken path (run_dir:
 * /run, data_dir: /var/lib or /tmp) had its owner changed to the pipeline
 * user and its mode to 0700, which breaks every other service using it. */
static int vg__prepare_dir(vg_daemon *d, const char *dir, unsigned mode, char *why, size_t whylen)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    struct stat sb;
    bool existed = lstat(path, &sb) == 0;
    int rc = vg_mkdirs(path, 0755, mode);
    if (rc)
        return rc;
    if (stat(path, &sb) != 0)
        return -errno;
    if (!S_ISDIR(sb.st_mode))
        return -ENOTDIR;
    bool owner = geteuid() == 0 && (sb.st_uid != d->pipeline.uid || sb.st_gid != d->pipeline.gid);
    bool perms = (sb.st_mode & 07777) != mode;
    /* A directory the (unprivileged) pipeline user owns already is its
     * own (a home made by useradd -m, dotfiles in it): only its mode is
     * set. Root's are checked: /var/lib and /run are root's too. */
    bool own = sb.st_uid == d->pipeline.uid && d->pipeline.uid != 0;
    char foreign[300];
    if (existed && (owner || perms) && !own && !vg__dir_ours(path, foreign, sizeof(foreign))) {
        snprintf(why, whylen,
                 "holds '%s', which is not Vigil's: name a directory of Vigil's own (such as "
                 "/var/lib/vigil, /run/vigil), whose owner and mode (%04o) the daemons set; "
                 "left as it is (owner %ld, mode %04o)",
                 foreign, mode, (long)sb.st_uid, (unsigned)(sb.st_mode & 07777));
        return VG_ECONFIG;
    }
    if (owner && chown(path, d->pipeline.uid, d->pipeline.gid) != 0) {
        rc = -errno;
        snprintf(why, whylen, "cannot give it owner %ld:%ld: %s", (long)d->pipeline.uid,
                 (long)d->pipeline.gid, strerror(-rc));
        return rc;
    }
    if (perms && chmod(path, (mode_t)mode) != 0) {
        rc = -errno;
        snprintf(why, whylen, "cannot give it mode %04o (it is %04o, owner %ld): %s", mode,
                 (unsigned)(sb.st_mode & 07777), (long)sb.st_uid, strerror(-rc));
        return rc;
    }
    return 0;
}

/* Gives the entries of the directory at dfd (and below, up to depth
 * levels) to uid:gid, symlinks themselves and not their targets; counts
 * the entries changed into *n. On error names the entry in why. */
static int vg__chown_tree(int dfd, const char *path, uid_t uid, gid_t gid, int depth, size_t *n,
                          char *why, size_t whylen)
{
    int fd = dup(dfd);
    DIR *dh = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dh) {
        int rc = -errno;
        if (fd >= 0)
            close(fd);
        snprintf(why, whylen, "cannot read %.400s: %s", path, strerror(-rc));
        return rc;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dh)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat sb;
        char sub[4400];
        snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
        if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = -errno;
        } else if (!S_ISDIR(sb.st_mode) && sb.st_nlink > 1) {
            continue; /* a hard link to a file elsewhere (root's?) is not ours to give */
        } else if ((sb.st_uid != uid || sb.st_gid != gid) &&
                   fchownat(dfd, de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = -errno;
        } else {
            *n += sb.st_uid != uid || sb.st_gid != gid;
            if (S_ISDIR(sb.st_mode) && depth > 0) {
                int sfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
                if (sfd < 0) {
                    rc = -errno;
                } else { /* its error, if any, names the entry below */
                    rc = vg__chown_tree(sfd, sub, uid, gid, depth - 1, n, why, whylen);
                    close(sfd);
                    continue;
                }
            }
        }
        if (rc)
            snprintf(why, whylen, "cannot give %.400s to uid %ld gid %ld: %s", sub, (long)uid,
                     (long)gid, strerror(-rc));
    }
    closedir(dh);
    return rc;
}

/* The daemon's own store, DATA_DIR/ROLE/NAME, and DATA_DIR/ROLE, made by
 * an earlier run as root without pipeline.user (or with another user):
 * root's and mode 0700, so the daemon could not open its store once it
 * had dropped to pipeline.user, and the start failed with "Permission
 * denied". Everything under DATA_DIR/ROLE/NAME is Vigil's, so it is given
 * to the pipeline user; the other instances' stores under DATA_DIR/ROLE
 * are left as they are. */
static int vg__prepare_store(vg_daemon *d, const char *name, char *why, size_t whylen)
{
    const vg_pipeline_conf *pc = &d->pipeline;
    if (geteuid() != 0 || pc->uid == 0 || !name)
        return 0;
    char role[4200], store[4400];
    snprintf(role, sizeof(role), "%s/%s", pc->data_dir, d->desc->section);
    snprintf(store, sizeof(store), "%s/%s", role, name);
    const char *const dirs[] = {role, store};
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        struct stat sb;
        if (lstat(dirs[i], &sb) != 0) {
            if (errno == ENOENT)
                return 0; /* the store will be made by the pipeline user */
            rc = -errno;
            snprintf(why, whylen, "%.400s: %s", dirs[i], strerror(-rc));
            return rc;
        }
        /* A symlink is not followed: the pipeline user could make one
         * (to /etc) in its data_dir, and root would give it the target. */
        if (!S_ISDIR(sb.st_mode))
            return 0;
        if (sb.st_uid != pc->uid || sb.st_gid != pc->gid) {
            if (lchown(dirs[i], pc->uid, pc->gid) != 0) {
                rc = -errno;
                snprintf(why, whylen, "cannot give %.400s to uid %ld gid %ld: %s", dirs[i],
                         (long)pc->uid, (long)pc->gid, strerror(-rc));
                return rc;
            }
            n++;
        }
    }
    int fd = open(store, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0) {
        rc = -errno;
        snprintf(why, whylen, "cannot open %.400s: %s", store, strerror(-rc));
        return rc;
    }
    rc = vg__chown_tree(fd, store, pc->uid, pc->gid, 4, &n, why, whylen);
    close(fd);
    if (rc == 0 && n)
        vg_info("%s: gave %zu entries of %s (from a run as another user) to pipeline.user %s",
                d->config_path, n, store, pc->user);
    return rc;
}

int vg_daemon_prepare_dirs(vg_daemon *d, bool run_dir, const char *store, char *err,
                           size_t errlen)
{
    const struct {
        const char *key, *dir;
        unsigned mode;
    } dirs[] = {{"data_dir", d->pipeline.data_dir, 0700}, {"run_dir", d->pipeline.run_dir, 0750}};
    for (size_t i = 0; i < (run_dir ? 2u : 1u); i++) {
        char why[600] = "";
        int rc = vg__prepare_dir(d, dirs[i].dir, dirs[i].mode, why, sizeof(why));
        if (rc) {
            snprintf(err, errlen, "%s: pipeline.%s %s: %s", d->config_path, dirs[i].key,
                     dirs[i].dir, why[0] ? why : vg_strerror(rc));
            return rc;
        }
    }
    char why[600] = "";
    int rc = vg__prepare_store(d, store, why, sizeof(why));
    if (rc)
        snprintf(err, errlen, "%s: pipeline.user %s: %s", d->config_path, d->pipeline.user,
                 why[0] ? why : vg_strerror(rc));
    return rc;
}

int vg_daemon_drop_privileges(vg_daemon *d)
{
    const vg_pipeline_conf *pc = &d->pipeline;
    if (geteuid() != 0 || pc->uid == 0)
        return 0;
    /* Order matters: groups first, while we still may change them; then the
     * uid, after which nothing can be regained. */
    if (setgroups(1, &pc->gid) != 0 || setgid(pc->gid) != 0 || setuid(pc->uid) != 0) {
        int rc = -errno;
        vg_error("cannot run as pipeline.user %s (uid %ld gid %ld): %s", pc->user, (long)pc->uid,
                 (long)pc->gid, vg_strerror(rc));
        return rc;
    }
    if (setuid(0) == 0)
        return -EPERM; /* the drop did not stick */
    vg_info("running as uid %ld gid %ld", (long)pc->uid, (long)pc->gid);
    return 0;
}

bool vg_daemon_user_access(vg_daemon *d, const char *path, int mode, const char *what,
                           const char *then)
{
    const vg_pipeline_conf *pc = &d->pipeline;
    if (!path || geteuid() != 0 || pc->uid == 0)
        return true;
    /* A child takes the identity the daemon drops to (vg_daemon_drop_
     * privileges: the primary group only) and asks the kernel, so that
     * modes, ACLs and every directory on the way count; the check itself
     * changes nothing of this process. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(1, &pc->gid) != 0 || setgid(pc->gid) != 0 || setuid(pc->uid) != 0)
            _exit(255);
        _exit(access(path, mode) == 0 ? 0 : (errno & 0xff) ? (errno & 0xff) : 254);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) >= 254)
        return true; /* nothing known: say nothing */
    if (WEXITSTATUS(st) == 0)
        return true;
    const char *how = mode & W_OK ? "write to" : mode & R_OK ? "read" : "reach";
    vg_warn("%s: pipeline.user %s cannot %s %s (%s): %s; %s", d->config_path, pc->user, how,
            path, what, strerror(WEXITSTATUS(st)), then);
    return false;
}

void vg_daemon_fail(vg_daemon *d, int status)
{
    d->status = status;
    if (!d->stopping) {
        d->stopping = true;
        vg_notify("STOPPING=1\nSTATUS=stopping%s", status ? " after a failure (see the log)" : "");
        d->ops->shutdown(d);
        /* The handlers stay for the rest of the stop, unreferenced so that
         * they do not keep the loop running: closing them gave the signals
         * back their default action, and a SIGHUP (logrotate), a SIGUSR1
         * (a monitoring script) or a second SIGTERM during a stop that
         * takes seconds (the collector reading its sockets out, the
         * correlator waiting for a prefilter build) killed the daemon
         * half-way through it. vg__on_signal ignores them meanwhile. */
        uv_unref((uv_handle_t *)&d->sig_hup);
        uv_unref((uv_handle_t *)&d->sig_term);
        uv_unref((uv_handle_t *)&d->sig_int);
        uv_unref((uv_handle_t *)&d->sig_usr1);
    }
}

/* On a reload: names the pipeline keys that changed but are fixed at the
 * start (the sockets' owner, the directories, the stats timers of the
 * links), which keep their running values. */
static void vg__restart_keys(const vg_daemon *d, const vg_pipeline_conf *pc)
{
    const vg_pipeline_conf *old = &d->pipeline;
    const vg_conf_change keys[] = {
        {"user", old->uid != pc->uid},
        {"group", old->gid != pc->gid},
        {"run_dir", strcmp(old->run_dir, pc->run_dir) != 0},
        {"data_dir", strcmp(old->data_dir, pc->data_dir) != 0},
        {"stats_interval", old->stats_interval != pc->stats_interval},
    };
    char list[100];
    if (vg_conf_changed_list(keys, sizeof(keys) / sizeof(keys[0]), list, sizeof(list)))
        vg_warn("%s: pipeline %s changed: this takes effect after a restart; keeping the running "
                "values", d->config_path, list);
}

/* Loads the file and hands it to configure; the tree lives only for the
 * call, so configure copies what it keeps. */
static int vg__load(vg_daemon *d, int first)
{
    char err[1024] = "";
    vg_node *root = NULL;
    vg_pipeline_conf pc;
    int rc = vg_yaml_load(d->config_path, &root, err, sizeof(err));
    if (rc == 0)
        rc = vg__sections_check(root, err, sizeof(err));
    if (rc == 0)
        rc = vg__pipeline_load(root, d->config_path, &pc, err, sizeof(err));
    if (rc == 0 && ((rc = vg__sockets_check(d, root, pc.run_dir, err, sizeof(err))) != 0 ||
                    (rc = vg__sockets_fit(d, root, pc.run_dir, err, sizeof(err))) != 0))
        vg_conf_release(vg__pipeline_keys, &pc);
    if (rc == 0) {
        /* Nothing of a reload takes effect before all of it is accepted:
         * the daemon's part is checked (configure) before the log level
         * changes. The first load has nothing to go back to. */
        if (!first)
            vg__restart_keys(d, &pc);
        if (first) {
            d->pipeline = pc;
            vg__apply_level(d);
        }
        rc = d->ops->configure(d, root, first, err, sizeof(err));
        if (!first) {
            if (rc == 0 || rc == VG_CONFIGURE_PENDING) {
                free(d->pipeline.log_level);
                d->pipeline.log_level = pc.log_level;
                pc.log_level = NULL;
                vg__apply_level(d);
            }
            vg_conf_release(vg__pipeline_keys, &pc);
        }
    }
    if (rc != 0 && (first || rc != VG_CONFIGURE_PENDING)) {
        if (!err[0])
            snprintf(err, sizeof(err), "%s: %s", d->config_path, vg_strerror(rc));
        vg_error("%s%s", err, first ? "" : " (configuration refused; running on the previous one)");
        snprintf(d->refused, sizeof(d->refused), "%s", err);
    }
    vg_node_free(root);
    return rc;
}

/* SIGHUP: loads the configuration again, and tells systemd (Type=notify)
 * that a reload runs and how it ended, so that `systemctl status` shows a
 * refused one with its reason rather than only the log. A reload whose
 * daemon finishes it later (VG_CONFIGURE_PENDING) is answered by
 * vg_daemon_reload_done, so that `systemctl reload` returns once it is in
 * force, not before. */
static void vg__reload(vg_daemon *d)
{
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    vg_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
              (unsigned long long)mono.tv_sec * 1000000ULL + (unsigned long long)mono.tv_nsec / 1000);
    vg_info("SIGHUP: reloading %s", d->config_path);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    int rc = vg__load(d, 0);
    if (rc == VG_CONFIGURE_PENDING) {
        /* a pending one of an earlier SIGHUP is superseded: this one answers */
        vg_info("configuration reloaded");
        d->reload_pending = true;
        snprintf(d->reload_when, sizeof(d->reload_when), "%s", when);
    } else if (rc == 0) {
        vg_info("configuration reloaded");
        d->reload_pending = false;
        vg_notify("READY=1\nSTATUS=running; configuration reloaded at %s", when);
    } else {
        /* the status answers the last SIGHUP: one still pending from an
         * earlier SIGHUP takes over silently if its build succeeds */
        d->reload_pending = false;
        vg_notify("READY=1\nSTATUS=running on the previous configuration; reload refused at %s: %s",
                  when, d->refused);
    }
}

void vg_daemon_reload_done(vg_daemon *d, int rc, const char *why)
{
    if (!d->reload_pending || d->stopping)
        return;
    d->reload_pending = false;
    if (rc == 0)
        vg_notify("READY=1\nSTATUS=running; configuration reloaded at %s", d->reload_when);
    else
        vg_notify("READY=1\nSTATUS=running on the previous rules; reload of %s refused: %s",
                  d->reload_when, why && why[0] ? why : vg_strerror(rc));
}

static void vg__on_signal(uv_signal_t *h, int signum)
{
    vg_daemon *d = h->data;
    if (d->stopping) {
        vg_info("%s during the stop: ignored (SIGKILL ends the daemon at once)",
                signum == SIGHUP    ? "SIGHUP"
                : signum == SIGUSR1 ? "SIGUSR1"
                : signum == SIGTERM ? "SIGTERM"
                                    : "SIGINT");
        return;
    }
    switch (signum) {
    case SIGHUP:
        vg__reload(d);
        break;
    case SIGUSR1:
        if (d->ops->report)
            d->ops->report(d);
        break;
    default:
        vg_info("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
        vg_daemon_fail(d, 0);
    }
}

static void vg__close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* The synopsis, also printed (to stderr) after a usage error. */
static void vg__synopsis(const vg_daemon_desc *desc, FILE *f)
{
    fprintf(f, "Usage: %s [-c FILE] [-t] [-l LEVEL]\n", desc->prog);
    if (desc->tools && desc->tools[0].name)
        fprintf(f, "       %s [-c FILE] [-l LEVEL] --MODE [ARGS...]   (one-shot modes)\n",
                desc->prog);
    fprintf(f, "       %s --help | --version\n", desc->prog);
}

static void vg__usage(const vg_daemon_desc *desc, FILE *f)
{
    static const char *const progs[] = {"vigil-collector", "vigil-correlator", "vigil-shipper"};
    vg__synopsis(desc, f);
    fprintf(f,
            "\n%s\n\n%s\n"
            "Options:\n"
            "  -c, --config FILE    configuration file (default %s);\n"
            "                       relative paths in it are taken from its directory\n"
            "  -t, --check-config   load and check the configuration, start nothing, and exit\n"
            "                       0 if valid, 1 with FILE:LINE: reason if not. Run as root\n"
            "                       with pipeline.user set, also warns if this user could not\n"
            "                       read the file, or use a file or directory named there.\n"
            "%s"
            "  -l, --log-level LEVEL\n"
            "                       error, warn, info or debug (overrides pipeline.log_level)\n"
            "  -h, --help           show this text\n"
            "  -V, --version        show the version\n",
            desc->summary, desc->help, VG_DEFAULT_CONFIG, desc->check ? desc->check : "");
    if (desc->tools && desc->tools[0].name) {
        fprintf(f, "\nOne-shot modes (instead of running the daemon; options before them apply):\n");
        for (const vg_daemon_tool *t = desc->tools; t->name; t++)
            fprintf(f, "%s", t->usage);
    }
    fprintf(f,
            "\nSignals:\n"
            "  SIGHUP   reload the configuration; a bad one is refused and logged with\n"
            "           FILE:LINE: reason, and the daemon keeps running on the old one\n"
            "  SIGTERM, SIGINT  finish the current batch, commit, close and exit 0\n"
            "  SIGUSR1  log the counters\n"
            "  A signal sent while the daemon loads its configuration takes effect\n"
            "  once it is up (not one sent in the first milliseconds after the exec,\n"
            "  before the program blocks them: SIGHUP then ends it; systemd's\n"
            "  Type=notify units wait for the start before a reload); one\n"
            "  sent while it stops (SIGHUP, SIGUSR1, SIGTERM or SIGINT again) is\n"
            "  logged and ignored, and the stop goes on (SIGKILL ends it at once).\n"
            "\nExit status:\n"
            "  0  a clean stop; -t on a valid configuration\n"
            "  1  a configuration error (FILE:LINE: reason), or the daemon could not start\n"
            "     (a port, directory or store it cannot open: the log says which and why)\n"
            "  2  a usage error\n"
            "  3  a failure after the start that the daemon cannot go on from (logged)\n"
            "  One-shot modes exit 0 on success, 1 on failure, 2 on a usage error.\n");
    if (desc->files)
        fprintf(f, "\nFiles:\n%s", desc->files);
    fprintf(f, "\nSee also:\n ");
    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
        if (strcmp(progs[i], desc->prog))
            fprintf(f, " %s --help;", progs[i]);
    fprintf(f, " in the source tree:\n"
               "  README.md, docs/architecture.md, docs/configuration.md (every key).\n");
}

/* The configuration's path as given, made absolute, symlinks kept (NULL,
 * errno set, if the file cannot be opened): a SIGHUP reads the file that
 * path names then, so that a configuration managed as a symlink swapped
 * to a new version is reloaded from the new one (realpath fixed the
 * target of the start), and relative paths in it are taken from the
 * directory the operator named (vg_conf_path). */
static char *vg__config_path(const char *config)
{
    if (access(config, R_OK) != 0)
        return NULL;
    return vg_conf_path(NULL, config);
}

/* Runs a one-shot tool: configuration (when present or needed), then the
 * tool, then exit with its status. */
static int vg__run_tool(vg_daemon *d, const vg_daemon_tool *t, const char *config, bool given,
                        int argc, char **argv)
{
    char err[1024] = "";
    vg_node *root = NULL;
    int rc = 0;
    d->config_path = vg__config_path(config);
    if (!d->config_path && (t->needs_config || given)) {
        vg_error("cannot open configuration %s: %s", config, strerror(errno));
        return 1;
    }
    if (d->config_path) {
        rc = vg_yaml_load(d->config_path, &root, err, sizeof(err));
        if (rc == 0)
            rc = vg__pipeline_load(root, d->config_path, &d->pipeline, err, sizeof(err));
        if (rc) {
            vg_error("%s", err);
            vg_node_free(root);
            return 1;
        }
    }
    uv_loop_init(&d->loop);
    rc = t->run(d, root, argc, argv);
    uv_walk(&d->loop, vg__close_walk, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    uv_loop_close(&d->loop);
    vg_node_free(root);
    vg_conf_release(vg__pipeline_keys, &d->pipeline);
    free(d->config_path);
    return rc;
}

/* Opens /dev/null on any of fds 0-2 that is closed (an init system or a
 * shell with 2>&- may start us so). Else the first file or socket opened
 * takes that number: libuv's signal pipe became fd 2, every log line went
 * into it, and the next signal aborted the daemon; an LMDB data file would
 * take log lines the same way. */
static void vg__std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            int nfd = open("/dev/null", O_RDWR);
            if (nfd > 2) /* cannot happen: the lowest free number is fd */
                close(nfd);
        }
    }
}

int vg_daemon_main(int argc, char **argv, const vg_daemon_desc *desc, const vg_daemon_ops *ops,
                   void *data)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 't'},
        {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
    };
    vg_daemon d = {.desc = desc, .ops = ops, .data = data};
    const char *config = VG_DEFAULT_CONFIG, *level = NULL;
    bool config_given = false;
    int c;
    vg__std_fds();
    vg_log_init(desc->prog, VG_LOG_INFO);
    /* A tool flag splits the command line: common options before it, the
     * tool's own arguments after it. */
    const vg_daemon_tool *tool = NULL;
    int targc = 0;
    char **targv = NULL;
    for (int i = 1; i < argc && !tool; i++) {
        for (const vg_daemon_tool *t = desc->tools; t && t->name; t++) {
            if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, t->name) == 0) {
                tool = t;
                targc = argc - i - 1;
                targv = argv + i + 1;
                argc = i;
                break;
            }
        }
    }
    while ((c = getopt_long(argc, argv, "c:tl:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            config_given = true;
            break;
        case 't':
            d.check_only = true;
            break;
        case 'l':
            level = optarg;
            break;
        case 'h':
            vg__usage(desc, stdout);
            return 0;
        case 'V':
            printf("%s %s (wire protocol %d)\n", desc->prog, VG_VERSION, VG_PROTO_VERSION);
            return 0;
        default: /* getopt said what is wrong */
            vg__synopsis(desc, stderr);
            fprintf(stderr, "Try '%s --help'.\n", desc->prog);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", desc->prog, argv[optind]);
        vg__synopsis(desc, stderr);
        fprintf(stderr, "Try '%s --help'.\n", desc->prog);
        return 2;
    }
    enum vg_log_level lvl = VG_LOG_INFO;
    if (level && vg_log_parse_level(level, &lvl) != 0) {
        fprintf(stderr, "%s: bad log level '%s' (error, warn, info or debug)\n", desc->prog,
                level);
        vg__synopsis(desc, stderr);
        fprintf(stderr, "Try '%s --help'.\n", desc->prog);
        return 2;
    }
    if (tool) {
        if (level)
            vg_log_set_level(lvl);
        return vg__run_tool(&d, tool, config, config_given, targc, targv);
    }
    d.config_path = vg__config_path(config);
    if (!d.config_path) {
        vg_error("cannot open configuration %s: %s", config, strerror(errno));
        return 1;
    }
    uv_loop_init(&d.loop);
    d.level_given = level != NULL;
    d.level = lvl;
    if (d.level_given)
        vg_log_set_level(lvl); /* for what loading logs before the level is known */
    /* A log line written while loading to a stderr whose reader is gone
     * (a pipe to a log collector that died) must fail with EPIPE, not
     * kill the daemon. (The one-shot modes keep SIGPIPE: replay | head.) */
    signal(SIGPIPE, SIG_IGN);
    /* A signal that comes while the configuration loads (thousands of rules
     * or a large watchlist take seconds; an init system or logrotate may
     * send a reload or a stop just after a start) waits, blocked, for its
     * handler below instead of killing the daemon by its default action.
     * After a failed load the daemon exits 1 with it still pending. */
    int nums[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1};
    sigset_t early, was;
    sigemptyset(&early);
    for (int i = 0; i < 4; i++)
        sigaddset(&early, nums[i]);
    sigprocmask(SIG_BLOCK, &early, &was);
    if (vg__load(&d, 1) != 0) {
        d.status = 1;
        goto out;
    }
    if (d.check_only) {
        /* The file itself, as the start warns below: -t runs as root (the
         * units' ExecStartPre and ExecReload), passed a file only root may
         * read, and `systemctl reload` sent a SIGHUP the daemon refused. */
        vg_daemon_user_access(&d, d.config_path, R_OK, "the configuration itself",
                              "every SIGHUP reads it as that user and would be refused; make "
                              "it readable by pipeline.user (owner root, its group, mode 0640)");
        printf("%s: configuration %s is valid\n", desc->prog, d.config_path);
        goto out;
    }
    uv_signal_t *sigs[] = {&d.sig_hup, &d.sig_term, &d.sig_int, &d.sig_usr1};
    for (int i = 0; i < 4; i++) {
        uv_signal_init(&d.loop, sigs[i]);
        sigs[i]->data = &d;
        uv_signal_start(sigs[i], vg__on_signal, nums[i]);
    }
    sigprocmask(SIG_SETMASK, &was, NULL); /* what came during the load is handled now */
    /* Read as root at the start, the file is read again on SIGHUP as
     * pipeline.user: one kept 0600 for the outputs' secrets refused every
     * reload, and only a reload said so. */
    if (access(d.config_path, R_OK) != 0) {
        int e = errno;
        const struct group *gr = getgrgid(getegid());
        vg_warn("configuration %s is not readable by uid %ld (%s): every SIGHUP will be refused; "
                "make it readable by pipeline.user (e.g. owner root, group %s, mode 0640)",
                d.config_path, (long)geteuid(), strerror(e), gr ? gr->gr_name : "its group");
    }
    vg_info("%s %s started (config %s)", desc->prog, VG_VERSION, d.config_path);
    vg_notify("READY=1\nSTATUS=running (config %s)", d.config_path);
    vg_notify_watchdog_start(&d.loop, &d.watchdog);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    vg_info("stopped");
out:
    uv_walk(&d.loop, vg__close_walk, NULL);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    uv_loop_close(&d.loop);
    /* closing the signal handles gave the signals their default action:
     * what is left is the daemon's own cleanup (its stores closed), which
     * a late signal should not cut short with a death by signal */
    for (int i = 0; i < 4; i++)
        signal(nums[i], SIG_IGN);
    vg_conf_release(vg__pipeline_keys, &d.pipeline);
    free(d.config_path);
    return d.status;
}
