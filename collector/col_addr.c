/* Sender keys for max_connections_per_ip (col_addr.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "col_addr.h"

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
