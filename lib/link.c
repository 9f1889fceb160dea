/* Framed msgpack links over Unix sockets (see link.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vigil/err.h"
#include "vigil/link.h"
#include "vigil/log.h"

#define VG_READ_CHUNK (64u << 10)
#define VG_BACKOFF_MIN 100
#define VG_BACKOFF_MAX 5000
#define VG_DOWN_WARN_FIRST_MS 30000 /* vg__warn_down */
#define VG_DOWN_WARN_MAX_MS 600000

struct vg_server {
    uv_pipe_t listener;
    uv_loop_t *loop;
    uid_t allow_uid;
    const vg_link_ops *ops;
    void (*on_link)(vg_server *s, vg_link *l);
    void *data;
    char *path;
    vg_link_stats stats;
    int stopping, listener_closed;
    size_t nlinks;
    vg_link **links; /* accepted and not yet closed */
    size_t links_cap;
};

struct vg_client {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_connect_t connect;
    char *path;
    uid_t allow_uid;
    const vg_link_ops *ops;
    void *data;
    vg_link *link;       /* open link */
    vg_link *connecting; /* link whose connect is in flight */
    vg_link_stats stats;
    uint64_t backoff_ms;
    uint64_t up_ms;      /* when the open link connected (loop time) */
    uint64_t down_ms;    /* when the first of the failed connects failed */
    uint64_t warn_every_ms, warn_next_ms; /* vg__warn_down */
    int stopping, timer_closed, failures;
    int quiet; /* vg_client_quiet */
};

typedef struct vg__write {
    uv_write_t req;
    vg_link *link;
    char *data;
    size_t len;
} vg__write;

static void vg__client_schedule(vg_client *c);
static void vg__server_maybe_free(vg_server *s);
static void vg__on_listener_closed(uv_handle_t *h);

/* Returns 0 when the peer on fd runs as allow_uid; records its pid. */
static int vg__check_peer(vg_link *l, uid_t allow_uid)
{
    uv_os_fd_t fd;
    struct ucred cr;
    socklen_t len = sizeof(cr);
    if (uv_fileno((uv_handle_t *)&l->pipe, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
        return -errno;
    l->peer_pid = cr.pid;
    if (cr.uid != allow_uid) {
        vg_warn("refused peer pid %ld: uid %ld is not the pipeline user (uid %ld)", (long)cr.pid,
                (long)cr.uid, (long)allow_uid);
        return VG_EPEER;
    }
    return 0;
}

static vg_link *vg__link_new(uv_loop_t *loop, const vg_link_ops *ops, vg_link_stats *stats)
{
    vg_link *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    uv_pipe_init(loop, &l->pipe, 0);
    l->pipe.data = l;
    l->ops = ops;
    l->stats = stats;
    return l;
}

static void vg__server_forget(vg_server *s, vg_link *l)
{
    for (size_t i = 0; i < s->nlinks; i++) {
        if (s->links[i] == l) {
            s->links[i] = s->links[--s->nlinks];
            break;
        }
    }
}

/* Close callbacks carry the reason in the link; the owner hears about it
 * once, here, after libuv is done with the handle. */
static int vg__close_reason(vg_link *l)
{
    return l->closing == 1 ? 0 : l->closing;
}

static void vg__on_link_closed(uv_handle_t *h)
{
    vg_link *l = h->data;
    vg_client *c = l->client;
    if (l->ops && l->ops->on_close)
        l->ops->on_close(l, vg__close_reason(l));
    if (c) {
        if (c->link == l) {
            c->link = NULL;
            /* A link that lasted reconnects at once; one the peer closes
             * soon after it opens (it refuses our batches: its store is
             * full, or it cannot read them) goes on backing off, or every
             * 100 ms would reconnect and send a whole window again. */
            if (uv_now(c->loop) - c->up_ms >= VG_BACKOFF_MAX)
                c->backoff_ms = 0;
        }
        free(l->rbuf);
        free(l);
        vg__client_schedule(c);
        return;
    }
    vg_server *s = l->server;
    if (s)
        vg__server_forget(s, l);
    free(l->rbuf);
    free(l);
    if (s)
        vg__server_maybe_free(s);
}

void vg_link_close(vg_link *l, int err)
{
    if (l->closing)
        return;
    l->closing = err ? err : 1;
    uv_read_stop((uv_stream_t *)&l->pipe);
    uv_close((uv_handle_t *)&l->pipe, vg__on_link_closed);
}

static void vg__alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void vg__on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

void vg_link_pause(vg_link *l, int paused)
{
    if (l->closing)
        return;
    if (paused)
        uv_read_stop((uv_stream_t *)&l->pipe);
    else
        uv_read_start((uv_stream_t *)&l->pipe, vg__alloc, vg__on_read);
}

static void vg__on_write(uv_write_t *req, int status)
{
    vg__write *w = (vg__write *)req;
    vg_link *l = w->link;
    l->write_queue -= w->len;
    free(w->data);
    free(w);
    if (status < 0 && status != UV_ECANCELED) {
        /* debug: the owner's on_close reports the loss, with this reason */
        if (!l->closing)
            vg_debug("link write failed: %s", uv_strerror(status));
        vg_link_close(l, status);
    }
}

int vg_link_send(vg_link *l, msgpack_sbuffer *sb)
{
    if (sb->size == 0)
        return 0;
    if (l->closing) {
        free(msgpack_sbuffer_release(sb));
        return -EPIPE;
    }
    vg__write *w = calloc(1, sizeof(*w));
    if (!w) {
        msgpack_sbuffer_clear(sb); /* not sent: must not lead the next frame */
        /* a frame lost mid-conversation (a HELLO: both sides would wait
         * for ever) breaks the link: close it, as a failed write does */
        vg_link_close(l, -ENOMEM);
        return -ENOMEM;
    }
    w->link = l;
    w->len = sb->size;
    w->data = msgpack_sbuffer_release(sb);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&l->pipe, &b, 1, vg__on_write);
    if (rc) {
        free(w->data);
        free(w);
        vg_link_close(l, rc);
        return rc;
    }
    l->write_queue += w->len;
    l->stats->frames_out++;
    l->stats->bytes_out += w->len;
    return 0;
}

static void vg__alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    vg_link *l = h->data;
    (void)hint;
    if (l->rcap - l->rlen < VG_READ_CHUNK) {
        size_t cap = l->rcap ? l->rcap * 2 : 2 * VG_READ_CHUNK;
        while (cap - l->rlen < VG_READ_CHUNK)
            cap *= 2;
        char *p = realloc(l->rbuf, cap);
        if (!p) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        l->rbuf = p;
        l->rcap = cap;
    }
    *buf = uv_buf_init(l->rbuf + l->rlen, (unsigned)(l->rcap - l->rlen));
}

/* Decodes every complete frame in the read buffer and hands it to the
 * owner; a bad frame closes the link, since what follows cannot be trusted. */
static void vg__drain_frames(vg_link *l)
{
    size_t off = 0;
    while (!l->closing && l->rlen - off >= VG_FRAME_HDR) {
        const unsigned char *h = (const unsigned char *)l->rbuf + off;
        size_t len = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
        if (len > VG_FRAME_MAX) {
            l->stats->bad_frames++;
            vg_warn("peer pid %ld sent a %zu-byte frame (limit %u); closing link",
                    (long)l->peer_pid, len, VG_FRAME_MAX);
            vg_link_close(l, VG_ETOOBIG);
            break;
        }
        if (l->rlen - off - VG_FRAME_HDR < len)
            break;
        vg_msg m;
        int rc = vg_wire_decode(l->rbuf + off + VG_FRAME_HDR, len, &m);
        if (rc) {
            l->stats->bad_frames++;
            vg_warn("peer pid %ld sent a malformed frame (%zu bytes): %s; closing link",
                    (long)l->peer_pid, len, vg_strerror(rc));
            vg_link_close(l, rc);
            break;
        }
        l->stats->frames_in++;
        l->ops->on_msg(l, &m);
        vg_msg_free(&m);
        off += VG_FRAME_HDR + len;
    }
    if (off) {
        memmove(l->rbuf, l->rbuf + off, l->rlen - off);
        l->rlen -= off;
    }
    /* Give back memory after a burst of large frames. */
    if (l->rlen == 0 && l->rcap > (4u << 20)) {
        free(l->rbuf);
        l->rbuf = NULL;
        l->rcap = 0;
    }
}

static void vg__on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    vg_link *l = st->data;
    (void)buf;
    if (nread < 0) {
        if (l->rlen) { /* EOF or a reset (the peer closed with our acks unread) */
            l->stats->bad_frames++;
            vg_warn("peer pid %ld closed mid-frame (%zu bytes pending): %s", (long)l->peer_pid,
                    l->rlen, uv_strerror((int)nread));
        }
        vg_link_close(l, (int)nread);
        return;
    }
    if (nread == 0)
        return;
    if (!l->rbuf) {
        vg_link_close(l, -ENOMEM);
        return;
    }
    l->rlen += (size_t)nread;
    l->stats->bytes_in += (uint64_t)nread;
    vg__drain_frames(l);
}

/* ---- server ------------------------------------------------------------ */

static void vg__on_connection(uv_stream_t *ls, int status)
{
    vg_server *s = ls->data;
    if (status < 0) {
        vg_warn("accept on %s: %s", s->path, uv_strerror(status));
        return;
    }
    vg_link *l = vg__link_new(s->loop, s->ops, &s->stats);
    if (!l)
        return;
    if (uv_accept(ls, (uv_stream_t *)&l->pipe) != 0 || vg__check_peer(l, s->allow_uid) != 0) {
        s->stats.peers_refused++;
        l->ops = NULL; /* never opened: the owner hears nothing */
        l->closing = VG_EPEER;
        uv_close((uv_handle_t *)&l->pipe, vg__on_link_closed);
        return;
    }
    if (s->nlinks == s->links_cap) {
        size_t cap = s->links_cap ? s->links_cap * 2 : 8;
        vg_link **p = realloc(s->links, cap * sizeof(*p));
        if (!p) {
            l->ops = NULL;
            vg_link_close(l, -ENOMEM);
            return;
        }
        s->links = p;
        s->links_cap = cap;
    }
    s->links[s->nlinks++] = l;
    l->server = s;
    l->data = NULL;
    if (s->on_link)
        s->on_link(s, l);
    uv_read_start((uv_stream_t *)&l->pipe, vg__alloc, vg__on_read);
    if (l->ops->on_open)
        l->ops->on_open(l);
}

static int vg__socket_live(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return 0;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return live;
}

int vg_server_start(uv_loop_t *loop, const char *path, uid_t allow_uid, const vg_link_ops *ops,
                    void (*on_link)(vg_server *s, vg_link *l), void *data, vg_server **out)
{
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            vg_error("%s exists and is not a socket; refusing to replace it", path);
            return -EEXIST;
        }
        if (vg__socket_live(path)) {
            vg_error("%s is in use by another running process", path);
            return -EADDRINUSE;
        }
        unlink(path);
    }
    vg_server *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return -ENOMEM;
    }
    s->loop = loop;
    s->allow_uid = allow_uid;
    s->ops = ops;
    s->on_link = on_link;
    s->data = data;
    uv_pipe_init(loop, &s->listener, 0);
    s->listener.data = s;
    int rc = uv_pipe_bind(&s->listener, path);
    if (rc == 0)
        rc = chmod(path, 0660) == 0 ? 0 : -errno;
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 128, vg__on_connection);
    if (rc) {
        vg_error("cannot listen on %s: %s", path, uv_strerror(rc));
        s->stopping = 1; /* the close callback frees s */
        uv_close((uv_handle_t *)&s->listener, vg__on_listener_closed);
        return rc;
    }
    *out = s;
    return 0;
}

void *vg_server_data(vg_server *s)
{
    return s->data;
}

void vg_server_foreach(vg_server *s, void (*fn)(vg_link *l, void *ud), void *ud)
{
    for (size_t i = 0; i < s->nlinks; i++)
        if (!s->links[i]->closing)
            fn(s->links[i], ud);
}

const vg_link_stats *vg_server_stats(vg_server *s)
{
    return &s->stats;
}

static void vg__on_listener_closed(uv_handle_t *h)
{
    vg_server *s = h->data;
    s->listener_closed = 1;
    vg__server_maybe_free(s);
}

static void vg__server_maybe_free(vg_server *s)
{
    if (s->stopping && s->listener_closed && s->nlinks == 0) {
        free(s->links);
        free(s->path);
        free(s);
    }
}

void vg_server_stop(vg_server *s)
{
    s->stopping = 1;
    unlink(s->path);
    for (size_t i = 0; i < s->nlinks; i++)
        vg_link_close(s->links[i], 0);
    uv_close((uv_handle_t *)&s->listener, vg__on_listener_closed);
}

/* ---- client ------------------------------------------------------------ */

static void vg__on_connect_failed_closed(uv_handle_t *h)
{
    vg_link *l = h->data;
    vg_client *c = l->client;
    free(l);
    c->connecting = NULL;
    vg__client_schedule(c);
}

/* A peer that stays down is said again, not once at its first failure:
 * over a night the one line would be hours old while what goes there
 * piles up in this daemon's store. Again after 30 s of outage, then at
 * twice the interval each time, up to every 10 minutes. */
static void vg__warn_down(vg_client *c, const char *why)
{
    uint64_t now = uv_now(c->loop);
    if (c->failures == 0) {
        c->down_ms = now;
        c->warn_every_ms = VG_DOWN_WARN_FIRST_MS;
        c->warn_next_ms = now + c->warn_every_ms;
        vg_warn("cannot connect to %s: %s (retrying)", c->path, why);
        return;
    }
    if (now < c->warn_next_ms)
        return;
    vg_warn("still cannot connect to %s: %s (%d attempts over %.0f s; retrying: what goes "
            "there waits in this daemon's store meanwhile)",
            c->path, why, c->failures + 1, (double)(now - c->down_ms) / 1000.0);
    c->warn_every_ms = c->warn_every_ms * 2 < VG_DOWN_WARN_MAX_MS ? c->warn_every_ms * 2
                                                                 : VG_DOWN_WARN_MAX_MS;
    c->warn_next_ms = now + c->warn_every_ms;
}

static void vg__on_connect(uv_connect_t *req, int status)
{
    vg_client *c = req->data;
    vg_link *l = c->connecting;
    if (status == 0 && !c->stopping) {
        int rc = vg__check_peer(l, c->allow_uid);
        if (rc == 0) {
            c->connecting = NULL;
            c->link = l;
            c->up_ms = uv_now(c->loop);
            enum vg_log_level lv = c->quiet ? VG_LOG_DEBUG : VG_LOG_INFO;
            if (c->failures)
                vg_log(lv, "connected to %s after %d failed attempts, down for %.0f s", c->path,
                       c->failures, (double)(uv_now(c->loop) - c->down_ms) / 1000.0);
            else
                vg_log(lv, "connected to %s", c->path);
            c->failures = 0;
            uv_read_start((uv_stream_t *)&l->pipe, vg__alloc, vg__on_read);
            if (l->ops->on_open)
                l->ops->on_open(l);
            return;
        }
        c->stats.peers_refused++;
        status = rc;
    }
    if (!c->stopping)
        vg__warn_down(c, status < -30000 ? vg_strerror(status) : uv_strerror(status));
    c->failures++;
    uv_close((uv_handle_t *)&l->pipe, vg__on_connect_failed_closed);
}

static void vg__on_timer(uv_timer_t *t)
{
    vg_client *c = t->data;
    if (c->stopping || c->link || c->connecting)
        return;
    vg_link *l = vg__link_new(c->loop, c->ops, &c->stats);
    if (!l) {
        vg__client_schedule(c);
        return;
    }
    l->client = c;
    l->data = c->data;
    c->connecting = l;
    c->connect.data = c;
    uv_pipe_connect(&c->connect, &l->pipe, c->path, vg__on_connect);
}

static void vg__client_free_if_done(vg_client *c)
{
    if (c->stopping && c->timer_closed && !c->link && !c->connecting) {
        free(c->path);
        free(c);
    }
}

/* Arms the reconnect timer (or finishes a stop). */
static void vg__client_schedule(vg_client *c)
{
    if (c->stopping) {
        vg__client_free_if_done(c);
        return;
    }
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : VG_BACKOFF_MIN;
    if (c->backoff_ms > VG_BACKOFF_MAX)
        c->backoff_ms = VG_BACKOFF_MAX;
    uv_timer_start(&c->timer, vg__on_timer, c->backoff_ms, 0);
}

int vg_client_start(uv_loop_t *loop, const char *path, uid_t allow_uid, const vg_link_ops *ops,
                    void *data, vg_client **out)
{
    vg_client *c = calloc(1, sizeof(*c));
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return -ENOMEM;
    }
    c->loop = loop;
    c->allow_uid = allow_uid;
    c->ops = ops;
    c->data = data;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, vg__on_timer, 0, 0);
    *out = c;
    return 0;
}

void vg_client_quiet(vg_client *c, int quiet)
{
    c->quiet = quiet;
}

vg_link *vg_client_link(vg_client *c)
{
    return c->link;
}

const vg_link_stats *vg_client_stats(vg_client *c)
{
    return &c->stats;
}

static void vg__on_timer_closed(uv_handle_t *h)
{
    vg_client *c = h->data;
    c->timer_closed = 1;
    vg__client_free_if_done(c);
}

void vg_client_stop(vg_client *c)
{
    c->stopping = 1;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, vg__on_timer_closed);
    if (c->link)
        vg_link_close(c->link, 0);
    /* A connect in flight completes (or is cancelled) and frees itself. */
}
