/* What max_connections_per_ip counts a sender by. Pure: no I/O, no
 * allocation (tests/unit/test_col_addr.c). */
#ifndef COL_ADDR_H
#define COL_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Longest key col_addr_key writes, with its NUL: "ffff:ffff:ffff:ffff::/64". */
#define COL_ADDR_KEY_MAX 32

/* Writes into out (cap bytes, at least COL_ADDR_KEY_MAX) the key that
 * max_connections_per_ip counts the sender at sa by: an IPv4 address as
 * itself ("192.0.2.7"), an IPv4-mapped IPv6 address as its IPv4 address
 * (a dual-stack listener's IPv4 sender), any other IPv6 address as its
 * /64 ("2001:db8:1:2::/64"): one host, or one LAN, gets a /64 and can
 * take any address in it, so counted per address it could take every
 * connection. Returns 0, or -EAFNOSUPPORT with out "" for another family
 * (no key: not counted, as before), -ENOSPC if cap is too small. */
int col_addr_key(const struct sockaddr *sa, char *out, size_t cap);

#endif
