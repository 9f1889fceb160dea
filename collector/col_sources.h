/* The source map: which agency and site a syslog message comes from.
 *
 * Loaded from the configuration list `collector.sources`:
 *
 *   sources:
 *     - agency: aviation
 *       site: tan-son-nhat
 *       networks: [10.20.0.0/16, "2001:db8:20::/48"]
 *       hosts: ["*-tsn-*", "fids-tsn-??"]
 *     - agency: railway
 *       site: hanoi-station
 *       networks: [10.30.0.0/16]
 *
 * Each entry has:
 *   agency    required; 1 to 64 characters from A-Z a-z 0-9 . _ -
 *   site      optional (default "unknown"); same characters
 *   networks  optional list of sender networks: IPv4 or IPv6 CIDR
 *             ("10.20.0.0/16", "2001:db8:20::/48"); a bare address is a /32
 *             or /128. Bits past the prefix must be zero, and a network may
 *             be listed only once in the whole map.
 *   hosts     optional list of HOSTNAME patterns, matched case-insensitively
 *             (ASCII) against the whole name: '*' any run of characters,
 *             '?' one character, [abc], [a-z], [!abc] or [^abc] one
 *             character of (not of) a set, '\x' the character x. As
 *             fnmatch(3) with FNM_CASEFOLD and no other flag; POSIX classes
 *             ([:alpha:]) are not supported. A HOSTNAME longer than 255
 *             bytes or holding a NUL byte matches no pattern.
 * An entry needs at least one network or host pattern.
 *
 * How a message is tagged (col_sources_tag):
 *   1. Host patterns first: a HOSTNAME matching a pattern tags the message
 *      with that entry's agency and site. The HOSTNAME names the origin
 *      host even when the message came through a relay. When several
 *      patterns match, the first entry in file order wins (and within an
 *      entry, it does not matter which pattern matched).
 *   2. Otherwise the sender address: the entry whose network contains it
 *      with the longest prefix wins. An IPv4-mapped IPv6 sender
 *      (::ffff:a.b.c.d, a dual-stack socket) is the IPv4 sender a.b.c.d and
 *      is matched against IPv4 networks; IPv6 networks never match IPv4
 *      senders, even ::/0. A network written in the mapped form
 *      (::ffff:10.20.0.0/112, prefix 96 or longer) is the IPv4 network
 *      10.20.0.0/16.
 *   3. Otherwise agency "unknown" and site "unknown".
 * Messages from a Unix socket have no sender address: only host patterns
 * apply to them.
 *
 * Cost per message: one binary search over the map's address ranges (nested
 * networks are flattened into disjoint ranges at load time, so the longest
 * prefix is found in O(log n) whatever the nesting), and, only when the map
 * has host patterns, one lowercase copy and hash of the HOSTNAME and a look
 * in a 4096-slot cache of recent names' outcomes; on a miss, literal
 * prefix/suffix/substring tests per pattern before the glob itself runs.
 * The cache is the only state written after loading: one map belongs to
 * one thread (the collector's loop); a reload builds a new map.
 */
#ifndef COL_SOURCES_H
#define COL_SOURCES_H

#include <stddef.h>
#include <sys/socket.h>

#include "vigil/conf.h"
#include "vigil/str.h"

#define COL_SOURCES_NAME_MAX 64 /* longest agency or site name */

typedef struct col_sources col_sources;

/* Builds a map from the `collector.sources` node. list may be NULL (key
 * absent): the map is then empty and tags everything "unknown". On success
 * *out owns a map that does not point into the vg_node tree (the tree may be
 * freed at once); free it with col_sources_free.
 * Errors (*out is set to NULL):
 *   VG_ECONFIG  "FILE:LINE: reason" in err: not a list, an entry that is not
 *               a map, unknown key, missing or invalid agency or site,
 *               networks/hosts not a list of strings, bad address, prefix
 *               out of range, bits set past the prefix, a network listed
 *               twice, bad pattern, an entry with neither networks nor hosts
 *   -ENOMEM     "out of memory" in err */
int col_sources_load(const vg_node *list, col_sources **out, char *err, size_t errlen);

/* Frees m (NULL is fine). Views handed out by col_sources_tag die with it. */
void col_sources_free(col_sources *m);

/* Tags one message. sa is the sender's address (AF_INET or AF_INET6; NULL
 * or any other family means "no address", e.g. a Unix socket). host is the
 * HOSTNAME parsed from the message: pass it absent (VG_STR_NULL) when the
 * message had none, not the sender address the collector substitutes.
 * *agency and *site are set to views into m (valid until col_sources_free)
 * or to the static string "unknown". m may be NULL (everything "unknown").
 * Never fails and allocates nothing; writes only m's host cache. */
void col_sources_tag(col_sources *m, const struct sockaddr *sa, vg_str host, vg_str *agency,
                     vg_str *site);

/* Sizes of the map, for a log line after loading; any pointer may be NULL.
 * entries: list items; networks: distinct networks; patterns: host patterns. */
void col_sources_count(const col_sources *m, size_t *entries, size_t *networks, size_t *patterns);

/* Internal, exposed for tests: the glob matcher. pat is a pattern as
 * validated by col_sources_load, already lowercased; s[0..n) is compared
 * ASCII case-insensitively. Returns 1 on a match, 0 otherwise. */
int col__sources_glob(const char *pat, const char *s, size_t n);

#endif
