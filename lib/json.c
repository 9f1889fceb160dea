/* UTF-8 validation, and JSON string escaping built on it (see util.h). */
#include <string.h>

#include "vigil/util.h"

size_t vg_utf8_len(const void *p, size_t n)
{
    const unsigned char *u = p;
    if (n == 0)
        return 0;
    unsigned c = u[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (u[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && u[1] < 0xA0) || (c == 0xED && u[1] > 0x9F))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80 || (u[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && u[1] < 0x90) || (c == 0xF4 && u[1] > 0x8F))
            return 0;
        return 4;
    }
    return 0;
}

size_t vg_utf8_control(const void *p, size_t n, unsigned *cp)
{
    const unsigned char *u = p;
    *cp = 0;
    if (n == 0)
        return 0;
    if (u[0] < 0x20 || u[0] == 0x7f) {
        *cp = u[0];
        return 1;
    }
    if (n >= 2 && u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f) {
        *cp = u[1];
        return 2;
    }
    if (n >= 3 && u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9)) {
        *cp = 0x2000u | (u[2] - 0x80u);
        return 3;
    }
    return 0;
}

/* Whether the 8 bytes at p are all plain: printable ASCII other than '"'
 * and '\\', copied as they are. Word-at-a-time tests (a byte below 0x20,
 * a byte equal to '"' or '\\', a high bit); a borrow can only flag a byte
 * above one that is really special, so "none flagged" is exact. */
static inline int vg__json_plain8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t x, q, s;
    memcpy(&x, p, 8);
    q = x ^ (ones * '"');
    s = x ^ (ones * '\\');
    uint64_t t = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((s - ones) & ~s) | x;
    return (t & high) == 0;
}

int vg_json_escape(vg_buf *b, vg_str s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s.p;
    size_t n = s.len;
    if (vg_buf_reserve(b, n + 16))
        return -12;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (n - run >= 8 && vg__json_plain8(p + run))
            run += 8;
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i && vg_buf_add(b, p + i, run - i))
            return -12;
        i = run;
        if (i >= n)
            break;
        unsigned c = p[i];
        int rc = 0;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = vg_buf_add(b, e, 2);
            i++;
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (c == '\n')
                rc = vg_buf_add(b, "\\n", 2);
            else if (c == '\r')
                rc = vg_buf_add(b, "\\r", 2);
            else if (c == '\t')
                rc = vg_buf_add(b, "\\t", 2);
            else
                rc = vg_buf_add(b, e, 6);
            i++;
        } else {
            unsigned cp;
            size_t l = vg_utf8_control(p + i, n - i, &cp);
            if (l) { /* C1, U+2028, U+2029: valid raw, but line breaks to many readers */
                char e[6] = {'\\', 'u', hex[cp >> 12], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15],
                             hex[cp & 15]};
                rc = vg_buf_add(b, e, 6);
                i += l;
            } else if ((l = vg_utf8_len(p + i, n - i))) {
                rc = vg_buf_add(b, p + i, l);
                i += l;
            } else {
                rc = vg_buf_add(b, "\xEF\xBF\xBD", 3);
                i++;
            }
        }
        if (rc)
            return rc;
    }
    return 0;
}
