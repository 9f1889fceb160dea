/* Multi-pattern prefilter for the correlator's rules (docs/prefilter.md).
 *
 * One scan of an event's message with a Hyperscan database built from every
 * rule's regex tells which rules *may* match; only those are handed to PCRE2,
 * which has the final word. The prefilter may report rules that then do not
 * match (false candidates), but it never leaves out a rule whose PCRE2 regex
 * matches: that is the whole contract, and the unit tests check it.
 *
 * The patterns are taken to be compiled as cor_rules.c compiles them: 8-bit
 * code units, no UTF, options PCRE2_DUPNAMES only (inline (?i), (?s), (?m)
 * are fine). If cor_rules.c ever adds compile options, the Hyperscan flags in
 * cor_prefilter.c must follow.
 *
 * Patterns that Hyperscan cannot take, even in its prefilter mode, become
 * "always candidates": every scan reports them. They are counted and each
 * has a reason, so the operator can see which rules are paid for on every
 * event.
 *
 * Without Hyperscan at build time (no VG_HAVE_HS), the same API exists and
 * every rule is an always candidate.
 */
#ifndef COR_PREFILTER_H
#define COR_PREFILTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct cor_prefilter cor_prefilter;

/* Builds a prefilter over n PCRE2 patterns; pattern i belongs to rule i, and
 * bit i of a scan's result stands for it. The patterns are NUL-terminated
 * and only borrowed during the call. patterns[i] may be NULL: rule i has no
 * regex and is an always candidate ("no regex").
 *
 * Returns 0 and sets *out (free it with cor_prefilter_free), or:
 *   -EINVAL  out is NULL, patterns is NULL with n > 0, or n is larger than
 *            INT_MAX;
 *   -ENOMEM  out of memory (Hyperscan's allocations included).
 * err (errlen bytes, may be 0) gets a message on failure. A pattern that
 * Hyperscan refuses is not a failure: it becomes an always candidate (see
 * cor_prefilter_always_reason). Building costs some milliseconds per pattern;
 * do it when rules are (re)loaded, never per event. */
int cor_prefilter_build(const char *const *patterns, size_t n, cor_prefilter **out, char *err,
                        size_t errlen);

/* Frees pf and everything it owns. NULL is fine. */
void cor_prefilter_free(cor_prefilter *pf);

/* Marks in cand every rule whose regex may match subject[0..len). cand is a
 * caller-allocated bitmap of n bits, (n + 63) / 64 words, bit i being
 * (cand[i / 64] >> (i % 64)) & 1; the call overwrites all of it (bits past n
 * are left 0). subject may be NULL when len is 0; it need not be
 * NUL-terminated and is only read during the call.
 *
 * Returns the number of candidates (0..n), or on failure a negative error
 * after setting the bit of every rule, so that a caller that ignores the
 * error still misses nothing:
 *   -EBUSY   the scratch space is in use (pf used from two threads at once:
 *            a prefilter is single-threaded, it owns one scratch);
 *   -ENOMEM  Hyperscan ran out of memory;
 *   -EIO     any other Hyperscan scan error.
 * A subject longer than UINT_MAX bytes is not scanned: every rule is a
 * candidate and n is returned. */
int cor_prefilter_scan(cor_prefilter *pf, const char *subject, size_t len, uint64_t *cand);

/* Number of patterns that are candidates on every scan. */
size_t cor_prefilter_always(const cor_prefilter *pf);

/* Why rule i is an always candidate ("hyperscan: <message>", "no regex",
 * ...), or NULL if the prefilter decides for it (or i >= n). The string
 * lives as long as pf. */
const char *cor_prefilter_always_reason(const cor_prefilter *pf, size_t i);

/* Number of patterns given to cor_prefilter_build. */
size_t cor_prefilter_count(const cor_prefilter *pf);

/* Bytes of the compiled multi-pattern database (0 without one). Logged at
 * load: a scan touches much of it, so past the CPU's L2 cache (~512 KiB
 * here) every line pays for misses (docs/prefilter.md). */
size_t cor_prefilter_db_size(const cor_prefilter *pf);

#endif
