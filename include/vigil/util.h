/* Small helpers shared by the daemons: clock and a growable byte buffer. */
#ifndef VIGIL_UTIL_H
#define VIGIL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/str.h"

/* Wall-clock time, microseconds since the Unix epoch. */
int64_t vg_now_us(void);

/* A growable buffer that owns its bytes. Zero-initialise, then append;
 * vg_buf_free releases. On allocation failure appends return -ENOMEM and
 * leave the buffer as it was. */
typedef struct vg_buf {
    char *p;
    size_t len, cap;
    int oom; /* set by any append that failed; cleared by the owner */
} vg_buf;

int vg_buf_reserve(vg_buf *b, size_t extra);
int vg_buf_add(vg_buf *b, const void *p, size_t n);
int vg_buf_addc(vg_buf *b, char c);
int vg_buf_adds(vg_buf *b, const char *s);
int vg_buf_addf(vg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vg_buf_free(vg_buf *b);

/* Appends s as the body of a JSON string (no quotes): escapes ", \ and
 * control characters; bytes that are not valid UTF-8 become U+FFFD, so the
 * output is always valid JSON whatever the sender put in a log line. */
int vg_json_escape(vg_buf *b, vg_str s);

#endif
