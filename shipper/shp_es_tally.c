/* Tally of a _bulk reply's refused item types (shp_es_tally.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shp_es_tally.h"

void shp_es_tally_add(shp_es_tally *t, const char *type, long status)
{
    char name[SHP_ES_TYPE_MAX];
    if (type && *type) {
        size_t i = 0;
        for (; type[i] && i + 1 < sizeof(name); i++) {
            unsigned char ch = (unsigned char)type[i];
            name[i] = ch > 0x20 && ch < 0x7f && ch != ',' ? (char)ch : '?';
        }
        name[i] = '\0';
    } else
        snprintf(name, sizeof(name), "HTTP %ld", status);
    t->items++;
    for (size_t i = 0; i < t->nt; i++)
        if (strcmp(t->t[i].type, name) == 0) {
            t->t[i].n++;
            return;
        }
    if (t->nt == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct shp_es_type *p = realloc(t->t, cap * sizeof(*p));
        if (!p) {
            t->oom = 1;
            return;
        }
        t->t = p;
        t->cap = cap;
    }
    memcpy(t->t[t->nt].type, name, sizeof(name));
    t->t[t->nt++].n = 1;
}

void shp_es_tally_text(shp_es_tally *t, char *out, size_t cap)
{
    /* insertion sort by count, stable: few types, and ties keep the order seen */
    for (size_t i = 1; i < t->nt; i++) {
        struct shp_es_type x = t->t[i];
        size_t j = i;
        for (; j > 0 && t->t[j - 1].n < x.n; j--)
            t->t[j] = t->t[j - 1];
        t->t[j] = x;
    }
    size_t len = 0, listed = 0, shown = t->nt < SHP_ES_TALLY_TYPES ? t->nt : SHP_ES_TALLY_TYPES;
    out[0] = '\0';
    for (size_t i = 0; i < shown && len < cap; i++) {
        int k = snprintf(out + len, cap - len, "%s%zu x %s", i ? ", " : "", t->t[i].n,
                         t->t[i].type);
        if (k < 0)
            break;
        len += (size_t)k;
        listed += t->t[i].n;
    }
    size_t more = t->nt - shown, rest = t->items - listed;
    if (rest && len < cap) /* types not listed, or not kept (no memory) */
        snprintf(out + len, cap - len, "%sand %zu more type%s (%zu alert%s)", len ? ", " : "",
                 more, more == 1 ? "" : "s", rest, rest == 1 ? "" : "s");
}

uint64_t shp_es_tally_key(const shp_es_tally *t)
{
    uint64_t h = 0;
    /* order-free: the sum of each type's FNV-1a hash */
    for (size_t i = 0; i < t->nt; i++) {
        uint64_t x = 1469598103934665603ull;
        for (const char *p = t->t[i].type; *p; p++)
            x = (x ^ (unsigned char)*p) * 1099511628211ull;
        h += x;
    }
    return h;
}

void shp_es_tally_free(shp_es_tally *t)
{
    free(t->t);
    memset(t, 0, sizeof(*t));
}
