/* Borrowed byte strings.
 *
 * A vg_str is a view: it never owns its bytes. Whoever hands one out states
 * how long the bytes stay valid (usually: as long as the buffer it was parsed
 * from). p may be NULL only when len is 0; "absent" is p == NULL, "empty" is
 * p != NULL && len == 0.
 */
#ifndef VIGIL_STR_H
#define VIGIL_STR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct vg_str {
    const char *p;
    uint32_t len;
} vg_str;

#define VG_STR_NULL ((vg_str){NULL, 0})

static inline vg_str vg_str_c(const char *s)
{
    return s ? (vg_str){s, (uint32_t)strlen(s)} : VG_STR_NULL;
}

static inline vg_str vg_str_n(const char *p, size_t n)
{
    return (vg_str){p, (uint32_t)n};
}

static inline int vg_str_eq(vg_str a, const char *s)
{
    size_t n = strlen(s);
    return a.p && a.len == n && memcmp(a.p, s, n) == 0;
}

/* A name/value pair of views, e.g. a regex capture. */
typedef struct vg_kv {
    vg_str key;
    vg_str val;
} vg_kv;

#endif
