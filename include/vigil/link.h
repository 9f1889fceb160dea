/* Links: framed msgpack streams over Unix sockets between Vigil processes.
 *
 * A downstream process listens (vg_server); its upstream connects
 * (vg_client), and reconnects with backoff whenever the link drops. Both
 * sides check the peer's credentials (SO_PEERCRED) against the pipeline
 * user before reading a byte, and decode every frame with the strict
 * decoder in wire.h: a frame that does not decode is counted, logged and
 * closes the link; the process lives on.
 *
 * Memory: a vg_link is owned by the module. It stays valid until its
 * on_close callback has returned; after that it is freed.
 */
#ifndef VIGIL_LINK_H
#define VIGIL_LINK_H

#include <msgpack.h>
#include <sys/types.h>
#include <uv.h>

#include "vigil/wire.h"

typedef struct vg_link vg_link;
typedef struct vg_server vg_server;
typedef struct vg_client vg_client;

typedef struct vg_link_ops {
    /* The link is up and the peer's credentials were accepted. */
    void (*on_open)(vg_link *l);
    /* One decoded message. m and the bytes it points to are valid only
     * during the call. The callback may call vg_link_close. */
    void (*on_msg)(vg_link *l, const vg_msg *m);
    /* The link is gone: err is 0 for an orderly close by either side,
     * UV_EOF when the peer closed, VG_EPROTO/VG_EPEER/negative errno. */
    void (*on_close)(vg_link *l, int err);
} vg_link_ops;

/* Counters every process reports (read-only for callers). */
typedef struct vg_link_stats {
    uint64_t frames_in, frames_out, bytes_in, bytes_out;
    uint64_t bad_frames;   /* frames refused by the decoder */
    uint64_t peers_refused; /* connections dropped by the credential check */
} vg_link_stats;

struct vg_link {
    /* public */
    void *data; /* owner's pointer, set in on_open or the server's on_link */
    /* read-only */
    const vg_link_ops *ops;
    uv_pipe_t pipe;
    int closing;
    pid_t peer_pid;
    size_t write_queue; /* bytes handed to libuv and not yet written */
    vg_link_stats *stats;
    /* private */
    char *rbuf;
    size_t rlen, rcap;
    vg_client *client;
    vg_server *server;
};

/* Queues the frame(s) in sb for writing and takes ownership of its bytes:
 * sb is left empty (msgpack_sbuffer_release) and reusable. */
int vg_link_send(vg_link *l, msgpack_sbuffer *sb);
/* Stops (paused != 0) or resumes reading from the peer: backpressure on
 * the upstream, whose own queue then holds what it cannot send. Frames
 * already read are still delivered. */
void vg_link_pause(vg_link *l, int paused);
/* Starts an orderly close; on_close follows from the loop. */
void vg_link_close(vg_link *l, int err);

/* Listens on the Unix socket 'path' (mode 0660; a stale socket file is
 * replaced, a live one is an error). Accepted links from a process whose
 * uid is not allow_uid are refused and counted. For each accepted link
 * on_link is called with ops already set to 'ops'; it may set l->data. */
int vg_server_start(uv_loop_t *loop, const char *path, uid_t allow_uid, const vg_link_ops *ops,
                    void (*on_link)(vg_server *s, vg_link *l), void *data, vg_server **out);
void *vg_server_data(vg_server *s);
/* Calls fn for every open link the server accepted. */
void vg_server_foreach(vg_server *s, void (*fn)(vg_link *l, void *ud), void *ud);
const vg_link_stats *vg_server_stats(vg_server *s);
/* Closes the listener and every link it accepted (their on_close runs);
 * unlinks the socket file. The server is freed from the loop. */
void vg_server_stop(vg_server *s);

/* Connects to 'path' now and after every loss, with backoff from 100 ms
 * doubling to 5 s; a link that lasted 5 s starts the backoff over, one
 * closed sooner goes on doubling it. 'data' is copied into every link's
 * data field. */
int vg_client_start(uv_loop_t *loop, const char *path, uid_t allow_uid, const vg_link_ops *ops,
                    void *data, vg_client **out);
vg_link *vg_client_link(vg_client *c); /* the open link, or NULL */
/* With quiet set, a successful (re)connect is logged at debug level, not
 * info: its owner says when the links' churn starts and ends. */
void vg_client_quiet(vg_client *c, int quiet);
const vg_link_stats *vg_client_stats(vg_client *c);
void vg_client_stop(vg_client *c);

#endif
