/* The rule model (docs/rules.md): match rules and correlation rules, as
 * loaded from YAML and compiled. A ruleset is immutable once loaded; a
 * reload builds a new one and swaps it between two batches. */
#ifndef COR_RULES_H
#define COR_RULES_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>

#include "cor_seq.h"
#include "vigil/event.h"

/* Longest rule id, in bytes: ids travel in every alert and name the rule in
 * logs, stats and outputs' state. */
#define COR_RULE_ID_MAX 128

enum cor_kind {
    COR_MATCH = 0,
    COR_EVENT_COUNT,      /* N events of rules R within T, per group */
    COR_VALUE_COUNT,      /* N distinct values of a field within T, per group */
    COR_TEMPORAL,         /* every rule of R within T, per group, any order */
    COR_TEMPORAL_ORDERED, /* every rule of R within T, per group, in the listed order */
    COR_ABSENCE,          /* a group seen before has no event of R for T */
};

/* A condition on a field: "FIELD in list NAME" or "FIELD not in list NAME". */
typedef struct cor_cond {
    char *field;
    char *list;
    bool negate;
    int line;       /* of the condition in the rule file, for errors found after loading */
} cor_cond;

/* A test case carried by a rule (run by --test-rules). */
typedef struct cor_test {
    int line;       /* in the rule file */
    char *input;    /* one raw syslog line, or several separated by newlines */
    bool fires;     /* must the rule fire (at least once)? */
    char *agency;   /* tag the lines with this agency/site (as the collector would); NULL: unknown */
    char *site;
    uint32_t nfields;
    char **keys, **vals; /* fields the (first) alert must carry */
    int *key_lines;      /* nfields: the line of each key, for the check made once the set
                          * is linked (a field the rule never sets) */
} cor_test;

/* The fields a candidate's match and its correlations' update read come
 * first, in the first three cache lines of a rule (the rule set's array is
 * aligned to them: cor_rules_grow): with hundreds of rules a rule is rarely
 * in cache when a line hits it, and each further line it spans is another
 * miss on the engine's path (bench/README.md, session 28). */
typedef struct cor_rule {
    /* line 0: a candidate's filters */
    _Alignas(64) enum cor_kind kind;
    bool alert;          /* raise alerts (false: only feeds correlations) */
    bool jit;            /* re has JIT code: match with pcre2_jit_match */
    bool cal_negate;     /* time: {not_in: NAME} */
    uint8_t severities;  /* bit s set = severity s allowed; 0 = any */
    uint32_t facilities; /* bit f set = facility f allowed; 0 = any */
    uint32_t ncaps;
    uint32_t nconds;
    int calendar;        /* index into the rule set's calendars, -1 = none */
    uint32_t nfeeds;
    uint32_t ngroup;
    char **programs, **hosts, **agencies, **sites; /* NULL-terminated; NULL = any */
    /* line 1: the match, and where its hits go */
    pcre2_code *re;      /* NULL when keywords only */
    char **keywords;     /* any of them as a substring of MSG; NULL = none */
    char **cap_names;
    uint32_t *cap_groups;
    cor_cond *conds;
    uint32_t *feeds;     /* wiring: correlation rules that count this rule's hits */
    /* counters (mutable; a reload carries them over to the rule of the same id) */
    uint64_t hits, cpu_ns;
    /* line 2: a correlation's update */
    uint32_t *ref_idx;   /* resolved indices into the ruleset */
    char **group_by;
    char *field;         /* value_count: the field whose distinct values count */
    uint64_t threshold;  /* event_count/value_count: fire at >= threshold */
    int64_t timespan_us;
    int64_t suppress_us; /* after firing, the group is quiet this long (default timespan);
                          * on a match rule: at most one alert per suppress_by group per span */
    uint32_t max_groups; /* memory bound: oldest group evicted beyond this */
    uint32_t nrefs;
    uint64_t late;
    /* the rest */
    int64_t expire_us;   /* absence: forget a group silent this long (default 24 h) */
    uint64_t match_errors, evictions;
    uint64_t suppressed; /* match rules with suppress: alerts held back */
    uint64_t trimmed;    /* correlations: times forgotten at a cap (temporal_ordered: events
                          * arriving at or before times folded early at its cap) */
    /* identity */
    char *id, *name, *file, *description;
    int line;
    int level;
    char **tags;         /* NULL-terminated */
    uint32_t ntags;
    uint64_t hash;       /* of the definition: state survives a reload only if unchanged */
    char *pattern;
    char **refs;         /* rule ids this one counts */
    int *ref_lines;      /* nrefs: each id's line in the rule file (checks made at linking) */
    cor_seq_shape seq;   /* temporal_ordered: the steps as slots (cor_seq.h) */
    int *group_lines;    /* ngroup: each field's line (group_by, or suppress_by) */
    int field_line;
    /* tests */
    cor_test *tests;
    uint32_t ntests;
} cor_rule;

typedef struct cor_prefilter cor_prefilter;
typedef struct cor_calendars cor_calendars;

typedef struct cor_ruleset {
    cor_rule *rules;
    size_t n;
    size_t cap;         /* room in rules; grows while loading, never after */
    uint32_t *idx;      /* rule ids -> index (cor_rules_find): open addressing, */
    size_t idx_cap;     /* ... a power of two, at most half full */
    uint32_t *order;    /* correlation rules in dependency order (refs first) */
    uint32_t norder;
    uint32_t *matches;  /* indices of match rules */
    uint32_t nmatches;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack; /* large enough for 64 KiB lines (the default 32 KiB is not) */
    cor_prefilter *pf;  /* over the match rules' regexes; NULL = try every rule */
    char *dir;
    int64_t lateness_us;
    cor_calendars *cals; /* from RULES_DIR/calendars/ */
} cor_ruleset;

typedef struct cor_rules_opts {
    int64_t match_limit;   /* PCRE2 match limit per regex and event */
    uint32_t max_groups;   /* default per-rule group cap */
    int64_t lateness_us;   /* allowed lateness of event time */
    int defer_prefilter;   /* leave rs->pf NULL: cor_rules_build_prefilter later */
} cor_rules_opts;

/* Writes to out the directory that holds what goes with the rules at path
 * (calendars/, lists/): path/sub when path is a directory, and sub next to
 * the file when path is a single rule file ("rules/intel.yml" and "lists"
 * give "rules/lists"), so that one file sees the same calendars and lists
 * as its directory. */
void cor_rules_side_dir(const char *path, const char *sub, char *out, size_t outlen);

/* Loads every *.yml / *.yaml file in dir (sorted by name), or one file.
 * On error, err holds "FILE:LINE: reason" and nothing is returned. */
int cor_rules_load(const char *path, const cor_rules_opts *o, cor_ruleset **out, char *err,
                   size_t errlen);
/* Builds rs->pf for a rule set loaded with defer_prefilter (the slow part of
 * a load: Hyperscan's compile, ~1 s at 1,000 rules). Touches nothing but rs,
 * so it may run on a worker thread while another rule set is in use. */
int cor_rules_build_prefilter(cor_ruleset *rs, char *err, size_t errlen);
void cor_rules_free(cor_ruleset *rs);
/* Index of rule id, or -1. */
int cor_rules_find(const cor_ruleset *rs, const char *id);

const char *cor_kind_name(enum cor_kind k);

#endif
