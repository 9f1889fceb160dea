/* VT_ASAN: 1 in a build with AddressSanitizer (scripts/test's second
 * build, -Db_sanitize=address,undefined), else 0.
 *
 * Why: that build runs code ~5x slower, and CI runs both builds within a
 * time limit. The CPU-heavy randomised tests (model and fuzz loops) run a
 * part of their iterations there, a prefix of the same seeded sequence or
 * a smaller sample of it, and say so where they do; the plain build always
 * runs the full count, and their environment overrides (VG_MODEL_WIDE,
 * VG_PREFILTER_FUZZ) run any count in either build. */
#ifndef VT_ASAN_H
#define VT_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define VT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VT_ASAN 1
#endif
#endif
#ifndef VT_ASAN
#define VT_ASAN 0
#endif

#endif
