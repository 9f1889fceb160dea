/* The error types of the items an Elasticsearch _bulk reply refused,
 * tallied for one log line ("3 x cluster_block_exception, 1 x
 * mapper_parsing_exception"): the first refused item alone hides the
 * others' causes. Pure but for its allocation (shp_http.c uses it). */
#ifndef SHP_ES_TALLY_H
#define SHP_ES_TALLY_H

#include <stddef.h>
#include <stdint.h>

#define SHP_ES_TYPE_MAX 64   /* longest type kept (with its NUL): longer ones are cut */
#define SHP_ES_TALLY_TYPES 4 /* types listed on the line; the rest as "and K more" */

typedef struct shp_es_tally {
    struct shp_es_type {
        char type[SHP_ES_TYPE_MAX];
        size_t n;
    } *t;           /* in the order first seen; owned */
    size_t nt, cap; /* types, room */
    size_t items;   /* refused items added */
    int oom;        /* a type could not be added (counted in items only) */
} shp_es_tally;

/* Counts one refused item of error type type (NULL or "": "HTTP status").
 * Non-printable bytes of a type become '?' (the server's text goes into
 * our log). */
void shp_es_tally_add(shp_es_tally *t, const char *type, long status);

/* Writes "3 x a, 1 x b, and 2 more types (5 alerts)" into out (cap bytes):
 * the types by count, most first (ties in the order first seen), at most
 * SHP_ES_TALLY_TYPES of them. Sorts t. */
void shp_es_tally_text(shp_es_tally *t, char *out, size_t cap);

/* A hash of the set of types (not their counts), to tell a new mix of
 * causes from the one last logged. */
uint64_t shp_es_tally_key(const shp_es_tally *t);

void shp_es_tally_free(shp_es_tally *t);

#endif
