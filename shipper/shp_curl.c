/* libcurl's multi interface on the libuv loop (see shp_curl.h).
 *
 * The shape follows libcurl's "multi_socket" design: libcurl owns the
 * sockets and tells us, through two callbacks, what to watch and when it
 * wants to be woken; we own the watching. Three details matter:
 *
 * - A transfer may finish inside any call into libcurl made from a loop
 *   callback, and its owner's done() may close the owner, even drop the
 *   last reference. The multi handle is therefore never destroyed while a
 *   call into it is on the stack (depth): the last unref only marks it
 *   dying, and whoever unwinds to depth 0 destroys it.
 * - A socket's watcher is freed in its close callback, after libcurl said
 *   CURL_POLL_REMOVE (libcurl does so before it closes the descriptor), so
 *   a descriptor number reused by a new connection gets a new watcher.
 * - libcurl asks for "timeout 0" to be called back soon; we never call it
 *   from inside its own callback but from the uv timer, on the next pass.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "shp_curl.h"
#include "vigil/log.h"

typedef struct shp__curl_multi shp__curl_multi;

/* One socket libcurl asked us to watch. */
typedef struct shp__curl_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    shp__curl_multi *m;
    struct shp__curl_sock *prev, *next; /* m->socks, while watched */
} shp__curl_sock;

struct shp__curl_multi {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    shp__curl_sock *socks;
    int refs;
    int depth;   /* calls into libcurl on the stack */
    int dying;   /* refs reached 0: destroy at depth 0 */
    int closing; /* libuv handles whose close callback is pending */
    /* during an action for a socket the loop found failed: it and its
     * pending error, for the transfers that end in it (shp__curl_drain) */
    curl_socket_t err_fd;
    int err;
    void (*closed)(void *ud);
    void *closed_ud;
};

/* The live multi handle of the process (one loop per process). A dying
 * one is detached from here, so that an output opened meanwhile (a reload)
 * starts a fresh one. */
static shp__curl_multi *shp__curl_cur;

int shp_curl_global(void)
{
    static int done;
    if (done)
        return 0;
    /* Not thread-safe by libcurl's contract; the shipper has no threads. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -EIO;
    done = 1;
    return 0;
}

static void shp__curl_maybe_free(shp__curl_multi *m)
{
    if (m->dying && !m->multi && m->closing == 0) {
        void (*closed)(void *) = m->closed;
        void *ud = m->closed_ud;
        free(m);
        if (closed)
            closed(ud);
    }
}

static void shp__curl_on_sock_closed(uv_handle_t *h)
{
    shp__curl_sock *k = h->data;
    shp__curl_multi *m = k->m;
    free(k);
    m->closing--;
    shp__curl_maybe_free(m);
}

static void shp__curl_sock_close(shp__curl_sock *k)
{
    shp__curl_multi *m = k->m;
    if (k->prev)
        k->prev->next = k->next;
    else
        m->socks = k->next;
    if (k->next)
        k->next->prev = k->prev;
    m->closing++;
    uv_poll_stop(&k->poll);
    uv_close((uv_handle_t *)&k->poll, shp__curl_on_sock_closed);
}

/* Hands every finished transfer to its owner. The easy handle is removed
 * first, so the owner may start it again or free it. */
static void shp__curl_drain(shp__curl_multi *m)
{
    CURLMsg *msg;
    int left;
    while (!m->dying && (msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result; /* msg dies with remove_handle */
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        curl_multi_remove_handle(m->multi, easy);
        shp_curl_req *req = (shp_curl_req *)priv;
        if (!req)
            continue;
        req->easy = NULL;
        req->sock_err = rc != CURLE_OK && m->err && req->used_fd == m->err_fd ? m->err : 0;
        req->used_fd = CURL_SOCKET_BAD;
        req->fd = CURL_SOCKET_BAD;
        req->done(req, rc);
        /* done() may have stopped other transfers: remove_handle also drops
         * their pending messages, so the next read never sees them. */
    }
}

static void shp__curl_on_timer_closed(uv_handle_t *h)
{
    shp__curl_multi *m = h->data;
    m->closing--;
    shp__curl_maybe_free(m);
}

static void shp__curl_destroy(shp__curl_multi *m)
{
    /* Cleanup may still call the socket callback (CURL_POLL_REMOVE for
     * cached connections) and the timer callback: both are still valid. */
    curl_multi_cleanup(m->multi);
    m->multi = NULL;
    while (m->socks)
        shp__curl_sock_close(m->socks);
    uv_timer_stop(&m->timer);
    m->closing++;
    uv_close((uv_handle_t *)&m->timer, shp__curl_on_timer_closed);
}

/* Runs libcurl for one socket (or the timeout) and delivers what ended;
 * err: the socket's pending error when the loop found it failed. */
static void shp__curl_action(shp__curl_multi *m, curl_socket_t fd, int flags, int err)
{
    int running;
    m->depth++;
    int was_err = m->err;
    curl_socket_t was_fd = m->err_fd;
    m->err = err;
    m->err_fd = fd;
    curl_multi_socket_action(m->multi, fd, flags, &running);
    shp__curl_drain(m);
    m->err = was_err;
    m->err_fd = was_fd;
    m->depth--;
    if (m->dying && m->depth == 0 && m->multi)
        shp__curl_destroy(m);
}

static void shp__curl_on_poll(uv_poll_t *h, int status, int events)
{
    shp__curl_sock *k = h->data;
    int flags = 0, err = 0;
    if (status < 0) {
        /* libuv reports a socket error (POLLERR) as EBADF, whatever it
         * was, and stops watching; libcurl told CURL_CSELECT_ERR ends the
         * transfer with "select/poll returned error". The socket's own
         * error (a reset by the server, say) is what an operator needs:
         * taken here for the transfer's done call (shp_curl_req.sock_err). */
        socklen_t len = sizeof(err);
        if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = 0;
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    shp__curl_action(k->m, k->fd, flags, err);
}

static void shp__curl_on_timeout(uv_timer_t *t)
{
    shp__curl_action(t->data, CURL_SOCKET_TIMEOUT, 0, 0);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching fd. */
static int shp__curl_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
    shp__curl_multi *m = userp;
    shp__curl_sock *k = sockp;
    char *priv = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    shp_curl_req *req = (shp_curl_req *)priv;
    if (req && req->easy == easy) { /* a transfer of ours: its socket */
        if (what != CURL_POLL_REMOVE)
            req->fd = req->used_fd = fd;
        else if (req->fd == fd)
            req->fd = CURL_SOCKET_BAD;
    }
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            curl_multi_assign(m->multi, fd, NULL);
            shp__curl_sock_close(k);
        }
        return 0;
    }
    if (!k) {
        k = calloc(1, sizeof(*k));
        if (!k)
            return -1; /* libcurl fails the transfer */
        int rc = uv_poll_init_socket(m->loop, &k->poll, fd);
        if (rc) {
            vg_error("http: cannot watch socket %d: %s", (int)fd, uv_strerror(rc));
            free(k);
            return -1;
        }
        k->poll.data = k;
        k->fd = fd;
        k->m = m;
        k->next = m->socks;
        if (m->socks)
            m->socks->prev = k;
        m->socks = k;
        curl_multi_assign(m->multi, fd, k);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&k->poll, ev, shp__curl_on_poll);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: one-shot timer, -1 cancels. */
static int shp__curl_on_timer(CURLM *multi, long ms, void *userp)
{
    shp__curl_multi *m = userp;
    if (ms < 0)
        uv_timer_stop(&m->timer);
    else
        uv_timer_start(&m->timer, shp__curl_on_timeout, (uint64_t)ms, 0);
    return 0;
}

int shp_curl_ref(uv_loop_t *loop)
{
    shp__curl_multi *m = shp__curl_cur;
    if (m) {
        m->refs++;
        return 0;
    }
    int rc = shp_curl_global();
    if (rc)
        return rc;
    m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->loop = loop;
    m->multi = curl_multi_init();
    if (!m->multi) {
        free(m);
        return -EIO;
    }
    uv_timer_init(loop, &m->timer);
    m->timer.data = m;
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, shp__curl_on_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, shp__curl_on_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    m->refs = 1;
    shp__curl_cur = m;
    return 0;
}

void shp_curl_unref(void (*closed)(void *ud), void *ud)
{
    shp__curl_multi *m = shp__curl_cur;
    if (!m || --m->refs > 0) {
        if (closed)
            closed(ud);
        return;
    }
    m->dying = 1;
    m->closed = closed;
    m->closed_ud = ud;
    shp__curl_cur = NULL;
    if (m->depth == 0)
        shp__curl_destroy(m);
}

int shp_curl_start(shp_curl_req *req, CURL *easy)
{
    shp__curl_multi *m = shp__curl_cur;
    if (!m || req->easy)
        return -EIO;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)req);
    req->easy = easy;
    req->fd = req->used_fd = CURL_SOCKET_BAD;
    req->sock_err = 0;
    req->multi = m;
    /* Adding sets a timeout of 0 through the timer callback: the transfer
     * begins on the next loop pass, never inside this call. */
    if (curl_multi_add_handle(m->multi, easy) != CURLM_OK) {
        req->easy = NULL;
        return -EIO;
    }
    return 0;
}

void shp_curl_stop(shp_curl_req *req)
{
    shp__curl_multi *m = req->multi;
    if (!req->easy)
        return;
    if (m && m->multi)
        curl_multi_remove_handle(m->multi, req->easy);
    req->easy = NULL;
    req->fd = CURL_SOCKET_BAD;
}
