/* libcurl's multi interface driven by the daemon's libuv loop.
 *
 * One multi handle serves every HTTP output of the process, so that they
 * share one connection cache, one timer and one set of socket watchers.
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one
 * uv_poll_t per socket) and when to call it back (CURLMOPT_TIMERFUNCTION:
 * one uv_timer_t); we hand every readiness and every timeout back with
 * curl_multi_socket_action() and collect finished transfers with
 * curl_multi_info_read(). Nothing blocks the loop and we start no threads
 * (name lookups run in libcurl's resolver thread, which reports back
 * through a socket like any other).
 *
 * Lifetime: each output holds one reference (shp_curl_ref at open,
 * shp_curl_unref at close). The first reference creates the multi handle;
 * the last one destroys it and closes the libuv handles, asynchronously.
 */
#ifndef SHP_CURL_H
#define SHP_CURL_H

#include <curl/curl.h>
#include <uv.h>

/* Called once per transfer started with shp_curl_start, from a loop
 * callback, after the easy handle was removed from the multi handle (the
 * callee may start it again, or free it). rc is the transfer's result. */
typedef struct shp_curl_req {
    void (*done)(struct shp_curl_req *req, CURLcode rc);
    /* read-only: the transfer's socket, as libcurl last asked us to watch
     * it for this transfer; CURL_SOCKET_BAD when none (yet) */
    curl_socket_t fd;
    /* read-only, for the done call: the error the transfer's socket had
     * pending (SO_ERROR: ECONNRESET, say) when the loop found it failed
     * and libcurl, told only "error", ended the transfer; 0 otherwise */
    int sock_err;
    /* private */
    curl_socket_t used_fd; /* fd, also after libcurl removed it (drain) */
    CURL *easy;  /* while started */
    void *multi; /* the multi handle it was started on */
} shp_curl_req;

/* curl_global_init, once per process (idempotent). 0 or -EIO. */
int shp_curl_global(void);

/* Takes a reference to the shared multi handle on loop, creating it on the
 * first call. 0, -ENOMEM, or -EIO (libcurl refused to initialise). */
int shp_curl_ref(uv_loop_t *loop);

/* Drops a reference. closed(ud) is called once nothing of this reference
 * is left on the loop: at once (from inside this call) while other
 * references remain, otherwise after the last libuv handle has closed. */
void shp_curl_unref(void (*closed)(void *ud), void *ud);

/* Starts the transfer configured on easy (the caller owns easy, which must
 * not be started twice at a time; CURLOPT_PRIVATE is ours); req->done is
 * called when it ends, unless shp_curl_stop is called first. req must stay
 * valid until then. 0, or -EIO with nothing started. */
int shp_curl_start(shp_curl_req *req, CURL *easy);

/* Stops a started transfer (no done call); harmless when none runs. */
void shp_curl_stop(shp_curl_req *req);

#endif
