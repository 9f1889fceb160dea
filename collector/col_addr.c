/* Sender keys for max_connections_per_ip (col_addr.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "col_addr.h"

/* Whether the IPv6 address a is counted as itself, not by its /64: its
 * /64 is no one host's or LAN's (col_addr.h). */
static int col_addr_whole(const uint8_t *a)
{
    static const uint8_t zero[8], nat64[12] = {0, 0x64, 0xff, 0x9b},
                                  nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 1},
                                  teredo[4] = {0x20, 0x01, 0, 0};
    return memcmp(a, zero, 8) == 0 ||                      /* ::1, IPv4-compatible */
           (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||     /* fe80::/10 link-local */
           memcmp(a, nat64, sizeof(nat64)) == 0 ||        /* 64:ff9b::/96 */
           memcmp(a, nat64_local, sizeof(nat64_local)) == 0 || /* 64:ff9b:1::/48 */
           memcmp(a, teredo, sizeof(teredo)) == 0;        /* 2001::/32 Teredo */
}

int col_addr_key(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (cap < COL_ADDR_KEY_MAX) {
        if (cap)
            out[0] = '\0';
        return -ENOSPC;
    }
    out[0] = '\0';
    if (sa->sa_family == AF_INET) {
        if (!inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap))
            return -ENOSPC;
        return 0;
    }
    if (sa->sa_family != AF_INET6)
        return -EAFNOSUPPORT;
    struct in6_addr a = ((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
        if (!inet_ntop(AF_INET, &a.s6_addr[12], out, (socklen_t)cap))
            return -ENOSPC;
        return 0;
    }
    if (col_addr_whole(a.s6_addr)) {
        if (!inet_ntop(AF_INET6, &a, ip, sizeof(ip)))
            return -ENOSPC;
        uint32_t scope = ((const struct sockaddr_in6 *)sa)->sin6_scope_id;
        /* fe80::1 on eth0 and fe80::1 on eth1 are two hosts */
        int n = scope && IN6_IS_ADDR_LINKLOCAL(&a) ? snprintf(out, cap, "%s%%%u", ip, scope)
                                                    : snprintf(out, cap, "%s", ip);
        if (n < 0 || (size_t)n >= cap) {
            out[0] = '\0';
            return -ENOSPC;
        }
        return 0;
    }
    memset(&a.s6_addr[8], 0, 8); /* the interface identifier: the host's own choice */
    if (!inet_ntop(AF_INET6, &a, ip, sizeof(ip)))
        return -ENOSPC;
    int n = snprintf(out, cap, "%s/64", ip);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return -ENOSPC;
    }
    return 0;
}
