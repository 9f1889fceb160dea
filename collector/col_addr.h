/* What max_connections_per_ip counts a sender by. Pure: no I/O, no
 * allocation (tests/unit/test_col_addr.c). */
#ifndef COL_ADDR_H
#define COL_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Longest key col_addr_key writes, with its NUL: a whole IPv6 address
 * (INET6_ADDRSTRLEN) and "%" with a scope id of up to 10 digits. */
#define COL_ADDR_KEY_MAX 64

/* Writes into out (cap bytes, at least COL_ADDR_KEY_MAX) the key that
 * max_connections_per_ip counts the sender at sa by: an IPv4 address as
 * itself ("192.0.2.7"), an IPv4-mapped IPv6 address as its IPv4 address
 * (a dual-stack listener's IPv4 sender), an IPv6 address as its /64
 * ("2001:db8:1:2::/64"): one host, or one LAN, gets a /64 and can take any
 * address in it, so counted per address it could take every connection.
 * Except where the /64 is no one host's: those are counted as the whole
 * address ("fe80::1%2", "::1"): link-local fe80::/10 (every link's hosts
 * share fe80::/64; with the interface's scope id, two links' fe80::1 are
 * two hosts), addresses whose first 64 bits are zero (::1, IPv4-compatible),
 * NAT64's 64:ff9b::/96 and 64:ff9b:1::/48 (an IPv4 sender each, in the
 * last 32 bits) and Teredo's 2001::/32 (the /64 is the Teredo server's,
 * shared by all its clients). Returns 0, or -EAFNOSUPPORT with out "" for another family
 * (no key: not counted, as before), -ENOSPC if cap is too small. */
int col_addr_key(const struct sockaddr *sa, char *out, size_t cap);

#endif
