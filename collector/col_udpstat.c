/* Datagrams the kernel dropped before the collector could read them.
 *
 * A UDP socket whose receive buffer is full drops what arrives, and only
 * the kernel knows: the sender sees nothing, the collector reads nothing.
 * That is the one loss on the way in that the collector cannot prevent
 * (bursts longer than the buffer, a collector stopped or starved of CPU),
 * so it has to be counted, not silent. Linux keeps a per-socket count in
 * the last column of /proc/net/udp and /proc/net/udp6, by socket inode. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "col.h"
#include "vigil/log.h"

/* Reads the drops of the sockets in ino[0..n) listed in one /proc file
 * into drops[], marking them found. Set, not added: the kernel re-walks
 * its table at each read(2), so a socket closed or opened elsewhere
 * between two reads can list one of ours twice, or not at all. */
static int col_udp_scan(const char *path, const uint64_t *ino, int n, uint64_t *drops, int *found)
{
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    char line[512];
    if (!fgets(line, sizeof(line), f)) { /* the header */
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof(line), f)) {
        unsigned long long inode, d;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
        if (sscanf(line, " %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %*s %*s %llu", &inode,
                   &d) != 2)
            continue;
        for (int i = 0; i < n; i++)
            if (ino[i] && ino[i] == inode) {
                drops[i] = d;
                found[i] = 1;
            }
    }
    fclose(f);
    return 0;
}

int col_udp_kernel_drops(const col *c, uint64_t *sum)
{
    uint64_t drops[COL_MAX_LISTEN] = {0};
    int found[COL_MAX_LISTEN] = {0};
    *sum = 0;
    /* either may be missing (a kernel without IPv6): it then lists nothing */
    col_udp_scan("/proc/net/udp", c->udp_ino, c->nudp, drops, found);
    col_udp_scan("/proc/net/udp6", c->udp_ino, c->nudp, drops, found);
    for (int i = 0; i < c->nudp; i++) {
        /* not listed (a skipped line, no descriptor left to open /proc
         * with): no count, rather than 0 taken for a fall */
        if (c->udp_ino[i] && !found[i]) return -1;
        *sum += drops[i];
    }
    return 0;
}

/* The socket's inode, by which /proc/net/udp lists it; 0 if unknown. */
uint64_t col_udp_inode(uv_udp_t *u)
{
    uv_os_fd_t fd;
    struct stat sb;
    if (uv_fileno((const uv_handle_t *)u, &fd) != 0 || fstat(fd, &sb) != 0) return 0;
    return (uint64_t)sb.st_ino;
}

/* Asks for a receive buffer of want bytes: past net.core.rmem_max with
 * SO_RCVBUFFORCE while still root (the listeners are opened before the
 * privileges are dropped), else as far as rmem_max lets SO_RCVBUF go.
 * Says what it got when that is less, since bursts beyond it are lost. */
void col_udp_buffer(uv_udp_t *u, int want, const char *name)
{
    uv_os_fd_t fd;
    if (uv_fileno((const uv_handle_t *)u, &fd) != 0) return;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
    int got = 0;
    socklen_t len = sizeof(got);
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) != 0) return;
    got /= 2; /* Linux reports twice what it counts against (bookkeeping) */
    if (got < want)
        vg_warn("%s: UDP receive buffer is %d KiB, not the %d KiB asked (net.core.rmem_max; "
                "start as root or raise it): a burst beyond it is dropped by the kernel and "
                "counted in udp_kernel_drops",
                name, got >> 10, want >> 10);
}

void col_udp_check_drops(col *c)
{
    uint64_t now;
    /* a count that could not be read, or went down (it cannot), is no
     * news: the next check tells the drops since the last good one */
    if (col_udp_kernel_drops(c, &now) != 0 || now < c->udp_drops_seen) return;
    if (now > c->udp_drops_seen) {
        char text[300];
        snprintf(text, sizeof(text),
                 "intake loss: the kernel dropped %" PRIu64 " UDP datagrams (%" PRIu64
                 " in all) before the collector could read them: its receive buffer was full",
                 now - c->udp_drops_seen, now);
        vg_warn("%s", text + strlen("intake loss: "));
        if (!c->stopping)
            col_input_notice(c, text);
    }
    c->udp_drops_seen = now;
}

/* Only reads: the stats callbacks (inside the sender, at SIGUSR1) must not
 * queue notices, which may flush the spool; the timer and the stop do. */
uint64_t col_udp_drops_now(const col *c)
{
    uint64_t now;
    if (c->nudp && !uv_is_closing((const uv_handle_t *)&c->udp[0]) &&
        col_udp_kernel_drops(c, &now) == 0 && now > c->udp_drops_seen)
        return now;
    return c->udp_drops_seen;
}
