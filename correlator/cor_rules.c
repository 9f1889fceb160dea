/* Rule files: loading, validation and compilation (docs/rules.md).
 *
 * A rule file is a YAML map with one key, 'rules', holding a list of rules.
 * Every problem is reported as "FILE:LINE: reason" and refuses the whole
 * set, so a reload applies every file or none. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cor_calendar.h"
#include "cor_lists.h"
#include "cor_prefilter.h"
#include "cor_rules.h"
#include "vigil/util.h"
#include "cor_seq.h"
#include "vigil/conf.h"
#include "vigil/err.h"
#include "vigil/syslog.h"

#define COR_MAX_RULES 100000
#define COR_DEFAULT_EXPIRE_US (24LL * 3600 * 1000000)

const char *cor_kind_name(enum cor_kind k)
{
    static const char *const n[] = {"match",    "event_count",      "value_count",
                                    "temporal", "temporal_ordered", "absence"};
    return k <= COR_ABSENCE ? n[k] : "?";
}

static void cor_strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

static uint32_t cor_strv_len(char **v)
{
    uint32_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

static void cor_rule_free(cor_rule *r)
{
    free(r->id), free(r->name), free(r->file), free(r->description), free(r->pattern);
    cor_strv_free(r->tags);
    cor_strv_free(r->programs), cor_strv_free(r->hosts);
    cor_strv_free(r->agencies), cor_strv_free(r->sites);
    cor_strv_free(r->keywords);
    for (uint32_t i = 0; i < r->ncaps; i++)
        free(r->cap_names[i]);
    free(r->cap_names), free(r->cap_groups);
    pcre2_code_free(r->re);
    for (uint32_t i = 0; i < r->nconds; i++)
        free(r->conds[i].field), free(r->conds[i].list);
    free(r->conds);
    cor_strv_free(r->refs);
    free(r->ref_lines);
    free(r->ref_idx);
    cor_strv_free(r->group_by);
    free(r->group_lines);
    free(r->field);
    free(r->feeds);
    for (uint32_t i = 0; i < r->ntests; i++) {
        free(r->tests[i].input);
        free(r->tests[i].agency);
        free(r->tests[i].site);
        for (uint32_t k = 0; k < r->tests[i].nfields; k++)
            free(r->tests[i].keys[k]), free(r->tests[i].vals[k]);
        free(r->tests[i].keys), free(r->tests[i].vals), free(r->tests[i].key_lines);
    }
    free(r->tests);
}

void cor_rules_free(cor_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        cor_rule_free(&rs->rules[i]);
    free(rs->rules);
    free(rs->idx);
    free(rs->order);
    free(rs->matches);
    cor_prefilter_free(rs->pf);
    cor_calendars_free(rs->cals);
    pcre2_match_data_free(rs->md);
    pcre2_match_context_free(rs->mctx);
    pcre2_jit_stack_free(rs->jit_stack);
    free(rs->dir);
    free(rs);
}

#define COR_IDX_EMPTY UINT32_MAX

static uint64_t cor_id_hash(const char *id)
{
    return vg_fnv1a(VG_FNV1A_INIT, id, strlen(id));
}

/* Rules are looked up by id for every duplicate check and reference while
 * loading, for every rule at a reload and for every group restored from
 * the store: a scan of the ids made those quadratic. */
static int cor_rules_index(cor_ruleset *rs, uint32_t i)
{
    if ((size_t)(i + 1) * 2 > rs->idx_cap) {
        size_t cap = rs->idx_cap ? rs->idx_cap * 2 : 256;
        uint32_t *v = malloc(cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        memset(v, 0xff, cap * sizeof(*v));
        free(rs->idx);
        rs->idx = v;
        rs->idx_cap = cap;
        for (uint32_t k = 0; k < i; k++)
            if (cor_rules_index(rs, k) != 0)
                return -ENOMEM; /* not reached: the table has the room */
    }
    size_t mask = rs->idx_cap - 1, slot = cor_id_hash(rs->rules[i].id) & mask;
    while (rs->idx[slot] != COR_IDX_EMPTY)
        slot = (slot + 1) & mask;
    rs->idx[slot] = i;
    return 0;
}

int cor_rules_find(const cor_ruleset *rs, const char *id)
{
    if (!rs->idx)
        return -1;
    size_t mask = rs->idx_cap - 1, slot = cor_id_hash(id) & mask;
    for (; rs->idx[slot] != COR_IDX_EMPTY; slot = (slot + 1) & mask)
        if (strcmp(rs->rules[rs->idx[slot]].id, id) == 0)
            return (int)rs->idx[slot];
    return -1;
}

/* A string or a list of strings, as a NULL-terminated vector. */
static int cor_strv(const vg_node *n, const char *what, char ***out, char *err, size_t errlen)
{
    size_t cnt = n->kind == VG_NODE_SCALAR ? 1 : n->kind == VG_NODE_SEQ ? n->n : 0;
    if (cnt == 0)
        return vg_conf_errf(err, errlen, n, "'%s' must be a string or a non-empty list of strings",
                            what);
    char **v = calloc(cnt + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const vg_node *s = n->kind == VG_NODE_SCALAR ? n : n->items[i];
        if (s->kind != VG_NODE_SCALAR || !s->str[0]) {
            cor_strv_free(v);
            return vg_conf_errf(err, errlen, s, "'%s' entries must be non-empty strings", what);
        }
        if (!(v[i] = strdup(s->str))) {
            cor_strv_free(v);
            return -ENOMEM;
        }
    }
    cor_strv_free(*out);
    *out = v;
    return 0;
}

/* After cor_strv's rc: the line of each entry of n (a scalar or a list, as
 * cor_strv read it) into *lines (malloc'ed, replacing the old), so that the
 * checks made once the whole set is loaded (a rule id that does not exist,
 * a field the events do not carry) can name the entry's line, not the
 * rule's. */
static int cor_strv_lines(int rc, const vg_node *n, int **lines)
{
    if (rc)
        return rc;
    size_t cnt = n->kind == VG_NODE_SEQ ? n->n : 1;
    int *v = malloc(cnt * sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < cnt; i++)
        v[i] = n->kind == VG_NODE_SEQ ? n->items[i]->line : n->line;
    free(*lines);
    *lines = v;
    return 0;
}

/* After cor_strv's rc: a field listed twice in group_by or suppress_by, a
 * typo (the key would hold the value twice, and nothing else changes), is
 * refused at the second. */
static int cor_strv_once(int rc, const vg_node *n, const char *what, char *err, size_t errlen)
{
    if (rc)
        return rc;
    for (size_t j = 1; n->kind == VG_NODE_SEQ && j < n->n; j++)
        for (size_t i = 0; i < j; i++)
            if (strcmp(n->items[i]->str, n->items[j]->str) == 0)
                return vg_conf_errf(err, errlen, n->items[j], "'%s' lists '%s' twice", what,
                                    n->items[j]->str);
    return 0;
}

/* facility/severity: names or numbers, one or a list, into a bit mask. */
static int cor_mask(const vg_node *n, const char *what, const char *const *names, int count,
                    uint32_t *mask, char *err, size_t errlen)
{
    char **v = NULL;
    int rc = cor_strv(n, what, &v, err, errlen);
    if (rc)
        return rc;
    *mask = 0;
    for (char **p = v; *p; p++) {
        int found = -1;
        for (int i = 0; i < count && found < 0; i++)
            if (strcmp(*p, names[i]) == 0)
                found = i;
        if (found < 0 && **p >= '0' && **p <= '9') { /* strtol would take " 3" and "+3" */
            char *end;
            long x = strtol(*p, &end, 10);
            if (!*end && x >= 0 && x < count)
                found = (int)x;
        }
        if (found < 0) { /* named at the entry's own line, not the list's */
            const vg_node *at = n->kind == VG_NODE_SEQ ? n->items[p - v] : n;
            rc = vg_conf_errf(err, errlen, at, "unknown %s '%s'", what, *p);
            break;
        }
        *mask |= 1u << found;
    }
    cor_strv_free(v);
    return rc;
}

/* "FIELD in list NAME" / "FIELD not in list NAME". */
static int cor_cond_parse(const vg_node *n, cor_cond *c, char *err, size_t errlen)
{
    if (n->kind != VG_NODE_SCALAR)
        return vg_conf_errf(err, errlen, n, "a 'where' condition is a string: FIELD in list NAME");
    char w[6][128]; /* one more than a condition has, to see extra words */
    int k = 0;
    for (const char *p = n->str; *p && k < 6;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t l = strcspn(p, " \t");
        if (!l)
            break;
        if (l >= sizeof(w[0]))
            return vg_conf_errf(err, errlen, n, "condition '%s': word too long", n->str);
        memcpy(w[k], p, l);
        w[k++][l] = '\0';
        p += l;
    }
    const char *f = w[0], *name;
    if (k == 4 && strcmp(w[1], "in") == 0 && strcmp(w[2], "list") == 0) {
        c->negate = false;
        name = w[3];
    } else if (k == 5 && strcmp(w[1], "not") == 0 && strcmp(w[2], "in") == 0 &&
               strcmp(w[3], "list") == 0) {
        c->negate = true;
        name = w[4];
    } else {
        return vg_conf_errf(err, errlen, n,
                            "condition '%s' is not 'FIELD in list NAME' or 'FIELD not in list NAME'",
                            n->str);
    }
    if (!cor_lists_name_ok(name))
        return vg_conf_errf(err, errlen, n,
                            "condition '%s': bad list name '%s' (1 to %d of A-Z a-z 0-9 _ . -)",
                            n->str, name, COR_LIST_NAME_MAX);
    c->line = n->line;
    c->field = strdup(f);
    c->list = strdup(name);
    return c->field && c->list ? 0 : -ENOMEM;
}

/* Every rule regex is compiled with these (a UTF pattern again with
 * PCRE2_MATCH_INVALID_UTF: cor_rule_utf_safe). */
#define COR_RE_OPTS PCRE2_DUPNAMES

/* A pattern that turns UTF-8 mode on itself ((*UTF), (*UTF8)) is compiled
 * again with PCRE2_MATCH_INVALID_UTF. Messages are bytes, often not valid
 * UTF-8 (a latin-1 device, a cut multibyte character), and the JIT entry
 * point cor_eval uses skips PCRE2's UTF check: on invalid input it then
 * reads past the subject and reports captures that end beyond it, whose
 * bytes an alert would copy. With the option an invalid sequence matches
 * nothing, whichever way the regex is run. Byte-mode patterns (the usual
 * ones) are left alone: the option would turn UTF mode on for them. */
static int cor_rule_utf_safe(cor_rule *r, const char *pattern)
{
    uint32_t opts = 0;
    if (pcre2_pattern_info(r->re, PCRE2_INFO_ALLOPTIONS, &opts) != 0 || !(opts & PCRE2_UTF))
        return 0;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   COR_RE_OPTS | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
    if (!re)
        return -1;
    pcre2_code_free(r->re);
    r->re = re;
    return 0;
}

/* Collects the regex's named groups so alerts can carry them by name. */
static int cor_rule_captures(cor_rule *r)
{
    uint32_t count, esize;
    PCRE2_SPTR table;
    pcre2_pattern_info(r->re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(r->re, PCRE2_INFO_NAMEENTRYSIZE, &esize);
    pcre2_pattern_info(r->re, PCRE2_INFO_NAMETABLE, &table);
    if (count > VG_ALERT_MAX_FIELDS)
        return VG_ERULE;
    r->cap_names = calloc(count ? count : 1, sizeof(char *));
    r->cap_groups = calloc(count ? count : 1, sizeof(uint32_t));
    if (!r->cap_names || !r->cap_groups)
        return -ENOMEM;
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *e = table + (size_t)i * esize;
        r->cap_groups[i] = (uint32_t)(e[0] << 8 | e[1]);
        if (!(r->cap_names[i] = strdup((const char *)e + 2)))
            return -ENOMEM;
        r->ncaps++;
    }
    /* the name table is sorted by name; alerts list captures in pattern order */
    for (uint32_t i = 1; i < r->ncaps; i++)
        for (uint32_t j = i; j > 0 && r->cap_groups[j - 1] > r->cap_groups[j]; j--) {
            uint32_t g = r->cap_groups[j];
            char *nm = r->cap_names[j];
            r->cap_groups[j] = r->cap_groups[j - 1], r->cap_names[j] = r->cap_names[j - 1];
            r->cap_groups[j - 1] = g, r->cap_names[j - 1] = nm;
        }
    return 0;
}

/* Where key k belongs when it is not where it was written: a rule key
 * indented under match: or correlation:, or one of theirs written at the
 * rule's level (a line indented too little or too much), as a hint for the
 * "unknown key" errors, written into buf (cap bytes) and returned; "" when
 * k is no key of a rule at all. */
static const char *cor_key_hint(const char *k, const char *here, char *buf, size_t cap)
{
    static const char *const match_keys[] = {"regex", "keywords", "program", "host", "agency",
                                             "site", "facility", "severity", "where", "time",
                                             NULL};
    static const char *const corr_keys[] = {"type", "rules", "group_by", "timespan",
                                            "condition", "expire", NULL};
    static const char *const rule_keys[] = {"id", "name", "level", "alert", "tags", "description",
                                            "match", "correlation", "tests", "max_groups",
                                            "suppress_by", NULL};
    static const char *const cond_keys[] = {"gte", "field", NULL};
    struct {
        const char *const *keys;
        const char *where;
    } homes[] = {{match_keys, "match"},
                 {corr_keys, "correlation"},
                 {rule_keys, "rule"},
                 {cond_keys, "condition"}};
    for (size_t h = 0; h < sizeof(homes) / sizeof(homes[0]); h++)
        for (const char *const *q = homes[h].keys; *q; q++)
            if (strcmp(*q, k) == 0 && strcmp(homes[h].where, here) != 0) {
                if (strcmp(homes[h].where, "rule") == 0)
                    snprintf(buf, cap, "; '%s' is a key of the rule itself, at the "
                             "indentation of its 'id'", k);
                else
                    snprintf(buf, cap, "; '%s' belongs under '%s:', indented below it", k,
                             homes[h].where);
                return buf;
            }
    return "";
}

/* time: {in: NAME} or {not_in: NAME}, resolved against the set's calendars. */
static int cor_time_cond(cor_rule *r, const vg_node *v, const cor_calendars *cals, char *err,
                         size_t errlen)
{
    if (v->kind != VG_NODE_MAP || v->n != 1 || v->items[0]->kind != VG_NODE_SCALAR ||
        (strcmp(v->keys[0]->str, "in") != 0 && strcmp(v->keys[0]->str, "not_in") != 0))
        return vg_conf_errf(err, errlen, v, "'time' is {in: CALENDAR} or {not_in: CALENDAR}");
    r->cal_negate = strcmp(v->keys[0]->str, "not_in") == 0;
    r->calendar = cals ? cor_calendar_find(cals, v->items[0]->str) : -1;
    if (r->calendar < 0)
        return vg_conf_errf(err, errlen, v->items[0],
                            "unknown calendar '%s' (calendars live in RULES_DIR/calendars/)",
                            v->items[0]->str);
    return 0;
}

static int cor_match_block(cor_rule *r, const vg_node *m, const cor_calendars *cals, char *err,
                           size_t errlen)
{
    if (m->kind != VG_NODE_MAP)
        return vg_conf_errf(err, errlen, m, "'match' must be a map");
    const vg_node *re = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->str;
        const vg_node *v = m->items[i];
        int rc = 0;
        if (strcmp(k, "regex") == 0) {
            if (v->kind != VG_NODE_SCALAR || !v->str[0])
                return vg_conf_errf(err, errlen, v, "'regex' must be a non-empty string");
            re = v;
        } else if (strcmp(k, "program") == 0) {
            rc = cor_strv(v, "program", &r->programs, err, errlen);
        } else if (strcmp(k, "host") == 0) {
            rc = cor_strv(v, "host", &r->hosts, err, errlen);
        } else if (strcmp(k, "agency") == 0) {
            rc = cor_strv(v, "agency", &r->agencies, err, errlen);
        } else if (strcmp(k, "site") == 0) {
            rc = cor_strv(v, "site", &r->sites, err, errlen);
        } else if (strcmp(k, "keywords") == 0) {
            rc = cor_strv(v, "keywords", &r->keywords, err, errlen);
        } else if (strcmp(k, "facility") == 0) {
            rc = cor_mask(v, "facility", vg_syslog_facilities, 24, &r->facilities, err, errlen);
        } else if (strcmp(k, "severity") == 0) {
            uint32_t mask;
            rc = cor_mask(v, "severity", vg_syslog_severities, 8, &mask, err, errlen);
            r->severities = (uint8_t)mask;
        } else if (strcmp(k, "time") == 0) {
            rc = cor_time_cond(r, v, cals, err, errlen);
        } else if (strcmp(k, "where") == 0) {
            size_t cnt = v->kind == VG_NODE_SEQ ? v->n : 1;
            if (cnt == 0) /* no condition: a rule that looks guarded and is not */
                return vg_conf_errf(err, errlen, v,
                                    "'where' must be a condition or a non-empty list of them");
            r->conds = calloc(cnt, sizeof(cor_cond));
            if (!r->conds)
                return -ENOMEM;
            for (size_t j = 0; j < cnt && rc == 0; j++, r->nconds++)
                rc = cor_cond_parse(v->kind == VG_NODE_SEQ ? v->items[j] : v, &r->conds[j], err,
                                    errlen);
        } else {
            char hint[160];
            return vg_conf_errf(err, errlen, m->keys[i],
                                "unknown key '%s' in match (expected regex, keywords, program, "
                                "host, agency, site, facility, severity, where, time)%s", k,
                                cor_key_hint(k, "match", hint, sizeof(hint)));
        }
        if (rc)
            return rc;
    }
    if (!re && !r->keywords)
        return vg_conf_errf(err, errlen, m, "'match' needs a 'regex' or 'keywords'");
    if (!re) {
        /* The prefilter gets the keywords as an alternation of literals. */
        size_t len = 8;
        for (char **k = r->keywords; *k; k++)
            len += 2 * strlen(*k) + 1;
        char *pat = malloc(len), *q = pat;
        if (!pat)
            return -ENOMEM;
        q += sprintf(q, "(?:");
        for (char **k = r->keywords; *k; k++) {
            if (k != r->keywords)
                *q++ = '|';
            for (const char *c = *k; *c; c++) {
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || (unsigned char)*c >= 0x80 || *c == ' '))
                    *q++ = '\\';
                *q++ = *c;
            }
        }
        strcpy(q, ")");
        r->pattern = pat;
        return 0;
    }
    int ec;
    PCRE2_SIZE eo;
    r->pattern = strdup(re->str);
    r->re = pcre2_compile((PCRE2_SPTR)re->str, PCRE2_ZERO_TERMINATED, COR_RE_OPTS, &ec, &eo, NULL);
    if (!r->re) {
        char msg[256];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
        if (!re->src) /* on one line */
            return vg_conf_errf(err, errlen, re, "regex does not compile at offset %zu: %s",
                                (size_t)eo, msg);
        /* a regex over several lines ('|', '>', folded): the line the
         * offset falls on, or, if that cannot be told, the first one and
         * saying so (vg_node_line_at) */
        int line = vg_node_line_at(re, (size_t)eo);
        if (!line)
            return vg_conf_errf(err, errlen, re,
                                "regex does not compile at offset %zu of the scalar starting at "
                                "this line (which of its lines cannot be told): %s",
                                (size_t)eo, msg);
        return vg_conf_errf(err, errlen, &(vg_node){.file = re->file, .line = line},
                            "regex does not compile at offset %zu (the regex starts at line %d): "
                            "%s",
                            (size_t)eo, re->line, msg);
    }
    if (cor_rule_utf_safe(r, re->str) != 0)
        return vg_conf_errf(err, errlen, re, "regex does not compile with invalid UTF-8 matching");
    /* JIT is best effort: without it matching still works, only slower. */
    r->jit = pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE) == 0;
    if (cor_rule_captures(r) != 0)
        return vg_conf_errf(err, errlen, re, "regex has more than %d named captures",
                            VG_ALERT_MAX_FIELDS);
    return 0;
}

/* A positive duration, named 'what' in its errors. */
static int cor_duration(const vg_node *v, const char *what, int64_t *us, char *err, size_t errlen)
{
    int64_t ms;
    int rc = vg_conf_parse_duration(v, &ms, err, errlen);
    if (rc == 0 && ms <= 0)
        rc = vg_conf_errf(err, errlen, v, "'%s' must be a positive duration, got '%s'", what,
                          v->str);
    /* in microseconds it is added to event times: keep that far from overflow */
    if (rc == 0 && ms > INT64_MAX / 4000)
        rc = vg_conf_errf(err, errlen, v, "'%s' is too long, got '%s'", what, v->str);
    *us = rc == 0 ? ms * 1000 : 0;
    return rc;
}

static int cor_uint(const vg_node *v, const char *what, uint64_t *out, char *err, size_t errlen)
{
    char *end;
    if (v->kind != VG_NODE_SCALAR || !v->str[0] || v->str[0] == '-')
        return vg_conf_errf(err, errlen, v, "'%s' must be a positive integer", what);
    unsigned long long x = strtoull(v->str, &end, 10);
    if (*end || x == 0 || x > 1000000)
        return vg_conf_errf(err, errlen, v, "'%s' must be an integer 1..1000000", what);
    *out = x;
    return 0;
}

static int cor_corr_block(cor_rule *r, const vg_node *c, char *err, size_t errlen)
{
    if (c->kind != VG_NODE_MAP)
        return vg_conf_errf(err, errlen, c, "'correlation' must be a map");
    const vg_node *type = vg_node_get(c, "type"), *cond = NULL;
    if (!type || type->kind != VG_NODE_SCALAR)
        return vg_conf_errf(err, errlen, c, "correlation needs a 'type'");
    static const char *const types[] = {"event_count", "value_count", "temporal",
                                        "temporal_ordered", "absence"};
    for (int i = 0; i < 5; i++)
        if (strcmp(type->str, types[i]) == 0)
            r->kind = (enum cor_kind)(i + 1);
    if (r->kind == COR_MATCH)
        return vg_conf_errf(err, errlen, type,
                            "unknown correlation type '%s' (expected event_count, value_count, "
                            "temporal, temporal_ordered, absence)", type->str);
    int rc = 0;
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        const char *k = c->keys[i]->str;
        const vg_node *v = c->items[i];
        if (strcmp(k, "type") == 0)
            continue;
        if (strcmp(k, "rules") == 0)
            rc = cor_strv_lines(cor_strv(v, "rules", &r->refs, err, errlen), v, &r->ref_lines);
        else if ((strcmp(k, "group_by") == 0 || strcmp(k, "group-by") == 0) && r->group_by)
            /* both spellings: the second replaced the first without a word */
            rc = vg_conf_errf(err, errlen, c->keys[i],
                              "'group_by' and 'group-by' are the same key: give one");
        else if (strcmp(k, "group_by") == 0 || strcmp(k, "group-by") == 0)
            rc = cor_strv_lines(cor_strv_once(cor_strv(v, "group_by", &r->group_by, err, errlen),
                                              v, "group_by", err, errlen),
                                v, &r->group_lines);
        else if (strcmp(k, "timespan") == 0)
            rc = cor_duration(v, "timespan", &r->timespan_us, err, errlen);
        else if (strcmp(k, "suppress") == 0 && r->kind == COR_ABSENCE)
            /* an absence fires once per silence (re-armed by the group's
             * next event): a suppress would be read and never used */
            rc = vg_conf_errf(err, errlen, c->keys[i],
                              "absence takes no 'suppress': it reports a silence once, and "
                              "again only after the group has logged anew");
        else if (strcmp(k, "suppress") == 0)
            rc = cor_duration(v, "suppress", &r->suppress_us, err, errlen);
        else if (strcmp(k, "expire") == 0 && r->kind != COR_ABSENCE)
            rc = vg_conf_errf(err, errlen, c->keys[i],
                              "'expire' is for absence only (how long a silent group is "
                              "remembered); %s groups end with their windows", type->str);
        else if (strcmp(k, "expire") == 0)
            rc = cor_duration(v, "expire", &r->expire_us, err, errlen);
        else if (strcmp(k, "condition") == 0)
            cond = v;
        else {
            char hint[160];
            rc = vg_conf_errf(err, errlen, c->keys[i],
                              "unknown key '%s' in correlation (expected type, rules, group_by, "
                              "timespan, condition, suppress, expire)%s", k,
                              cor_key_hint(k, "correlation", hint, sizeof(hint)));
        }
    }
    if (rc)
        return rc;
    r->nrefs = cor_strv_len(r->refs);
    r->ngroup = cor_strv_len(r->group_by);
    if (r->nrefs == 0)
        return vg_conf_errf(err, errlen, c, "correlation needs 'rules'");
    if (r->timespan_us == 0)
        return vg_conf_errf(err, errlen, c, "correlation needs a 'timespan'");
    if ((r->kind == COR_TEMPORAL || r->kind == COR_TEMPORAL_ORDERED) && r->nrefs < 2)
        return vg_conf_errf(err, errlen, c, "%s needs at least two rules", type->str);
    if (r->kind == COR_TEMPORAL_ORDERED && r->nrefs > COR_SEQ_MAX)
        return vg_conf_errf(err, errlen, c, "temporal_ordered takes at most %d rules",
                            COR_SEQ_MAX);
    for (uint32_t i = 0; r->kind == COR_TEMPORAL && i < r->nrefs; i++)
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(r->refs[i], r->refs[j]) == 0)
                return vg_conf_errf(err, errlen,
                                    &(vg_node){.file = c->file, .line = r->ref_lines[i]},
                                    "temporal lists '%s' twice (one event of a rule counts for "
                                    "the rule; temporal_ordered may list a rule twice)",
                                    r->refs[i]);
    if (r->ngroup > VG_ALERT_MAX_FIELDS / 2)
        return vg_conf_errf(err, errlen, c, "group_by takes at most %d fields",
                            VG_ALERT_MAX_FIELDS / 2);
    if (r->kind == COR_EVENT_COUNT || r->kind == COR_VALUE_COUNT) {
        if (!cond || cond->kind != VG_NODE_MAP)
            return vg_conf_errf(err, errlen, cond ? cond : c,
                                "%s needs 'condition: {gte: N}'%s", type->str,
                                r->kind == COR_VALUE_COUNT ? " with 'field'" : "");
        for (size_t i = 0; i < cond->n && rc == 0; i++) {
            const char *k = cond->keys[i]->str;
            if (strcmp(k, "gte") == 0)
                rc = cor_uint(cond->items[i], "gte", &r->threshold, err, errlen);
            else if (strcmp(k, "field") == 0 && r->kind != COR_VALUE_COUNT)
                rc = vg_conf_errf(err, errlen, cond->keys[i],
                                  "'field' is for value_count only (%s counts events)", type->str);
            else if (strcmp(k, "field") == 0 && (cond->items[i]->kind != VG_NODE_SCALAR ||
                                                 !cond->items[i]->str[0]))
                rc = vg_conf_errf(err, errlen, cond->items[i],
                                  "'field' must be one field name (a capture or an event field)");
            else if (strcmp(k, "field") == 0 && !(r->field = strdup(cond->items[i]->str)))
                rc = -ENOMEM;
            else if (strcmp(k, "field") == 0)
                r->field_line = cond->items[i]->line;
            else {
                char hint[160];
                rc = vg_conf_errf(err, errlen, cond->keys[i],
                                  "unknown key '%s' in condition (expected gte, and field for "
                                  "value_count: {field: user, gte: 5})%s", k,
                                  cor_key_hint(k, "condition", hint, sizeof(hint)));
            }
        }
        if (rc)
            return rc;
        if (!r->threshold)
            return vg_conf_errf(err, errlen, cond, "condition needs 'gte'");
        if (r->kind == COR_VALUE_COUNT && !r->field)
            return vg_conf_errf(err, errlen, cond, "value_count condition needs 'field'");
    } else if (cond) {
        return vg_conf_errf(err, errlen, cond, "%s takes no 'condition'", type->str);
    }
    if (!r->suppress_us)
        r->suppress_us = r->timespan_us;
    if (!r->expire_us)
        r->expire_us = COR_DEFAULT_EXPIRE_US;
    return 0;
}

static int cor_tests_block(cor_rule *r, const vg_node *t, char *err, size_t errlen)
{
    if (t->kind != VG_NODE_SEQ)
        return vg_conf_errf(err, errlen, t, "'tests' must be a list");
    r->tests = calloc(t->n ? t->n : 1, sizeof(cor_test));
    if (!r->tests)
        return -ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        const vg_node *c = t->items[i];
        cor_test *ct = &r->tests[i];
        r->ntests = (uint32_t)i + 1; /* counted before it is filled: an error frees it too */
        ct->line = c->line;
        if (c->kind != VG_NODE_MAP)
            return vg_conf_errf(err, errlen, c, "a test is a map with 'line' and 'fires'");
        const vg_node *fires = NULL;
        for (size_t k = 0; k < c->n; k++) {
            const char *key = c->keys[k]->str;
            const vg_node *v = c->items[k];
            bool is_input = strcmp(key, "line") == 0 || strcmp(key, "lines") == 0;
            if (is_input && ct->input) /* one of the two would be fed, the other left out */
                return vg_conf_errf(err, errlen, c->keys[k],
                                    "a test takes 'line' or 'lines', not both");
            if (is_input && v->kind == VG_NODE_SCALAR) {
                if (!v->str[0]) /* no event: "fires: false" would pass on nothing */
                    return vg_conf_errf(err, errlen, v, "'line' is empty");
                ct->input = strdup(v->str);
            } else if (strcmp(key, "lines") == 0 && v->kind == VG_NODE_SEQ) {
                if (v->n == 0) /* "fires: false" would pass on nothing */
                    return vg_conf_errf(err, errlen, v, "'lines' needs at least one line");
                size_t len = 1;
                for (size_t j = 0; j < v->n; j++)
                    len += v->items[j]->kind == VG_NODE_SCALAR ? strlen(v->items[j]->str) + 1 : 0;
                ct->input = calloc(1, len);
                for (size_t j = 0; ct->input && j < v->n; j++) {
                    if (v->items[j]->kind != VG_NODE_SCALAR)
                        return vg_conf_errf(err, errlen, v->items[j], "'lines' holds strings");
                    if (!v->items[j]->str[0]) /* skipped: no event for the test */
                        return vg_conf_errf(err, errlen, v->items[j], "an empty line in 'lines'");
                    strcat(ct->input, v->items[j]->str);
                    strcat(ct->input, "\n");
                }
            } else if (is_input) { /* a known key of the wrong kind is not an unknown key */
                return vg_conf_errf(err, errlen, v,
                                    key[4] ? "'lines' is a list of lines"
                                           : "'line' is one line, a string (several go in 'lines')");
            } else if (strcmp(key, "fires") == 0) {
                fires = v;
            } else if ((strcmp(key, "agency") == 0 || strcmp(key, "site") == 0) &&
                       v->kind == VG_NODE_SCALAR) {
                char **dst = key[0] == 'a' ? &ct->agency : &ct->site;
                free(*dst);
                *dst = strdup(v->str);
            } else if (strcmp(key, "fields") == 0 && v->kind == VG_NODE_MAP) {
                ct->keys = calloc(v->n ? v->n : 1, sizeof(char *));
                ct->vals = calloc(v->n ? v->n : 1, sizeof(char *));
                ct->key_lines = calloc(v->n ? v->n : 1, sizeof(int));
                if (!ct->keys || !ct->vals || !ct->key_lines)
                    return -ENOMEM;
                for (size_t j = 0; j < v->n; j++) {
                    if (v->items[j]->kind != VG_NODE_SCALAR)
                        return vg_conf_errf(err, errlen, v->items[j], "field values are strings");
                    ct->nfields = (uint32_t)j + 1; /* counted first: an error frees it too */
                    ct->key_lines[j] = v->keys[j]->line;
                    if (!(ct->keys[j] = strdup(v->keys[j]->str)) ||
                        !(ct->vals[j] = strdup(v->items[j]->str)))
                        return -ENOMEM;
                }
            } else if (strcmp(key, "agency") == 0 || strcmp(key, "site") == 0) {
                return vg_conf_errf(err, errlen, v, "'%s' is a string", key);
            } else if (strcmp(key, "fields") == 0) {
                return vg_conf_errf(err, errlen, v, "'fields' is a map of FIELD: VALUE");
            } else {
                return vg_conf_errf(err, errlen, c->keys[k],
                                    "unknown key '%s' in test (expected line, lines, fires, "
                                    "fields, agency, site)", key);
            }
        }
        if (!ct->input || !fires)
            return vg_conf_errf(err, errlen, c, "a test needs 'line' (or 'lines') and 'fires'");
        int rc = vg_conf_parse_bool(fires, &ct->fires, err, errlen);
        if (rc)
            return rc;
        if (ct->nfields && !ct->fires)
            return vg_conf_errf(err, errlen, c, "'fields' only make sense with 'fires: true'");
    }
    return 0;
}

/* FNV-1a over the parts of a correlation that its state depends on: a
 * reload keeps a rule's state only when this is unchanged. */
static uint64_t cor_rule_hash(const cor_rule *r)
{
    uint64_t h = VG_FNV1A_INIT;
    h = vg_fnv1a(h, &r->kind, sizeof(r->kind));
    for (uint32_t i = 0; i < r->nrefs; i++)
        h = vg_fnv1a(h, r->refs[i], strlen(r->refs[i]) + 1);
    for (uint32_t i = 0; i < r->ngroup; i++)
        h = vg_fnv1a(h, r->group_by[i], strlen(r->group_by[i]) + 1);
    if (r->field)
        h = vg_fnv1a(h, r->field, strlen(r->field) + 1);
    h = vg_fnv1a(h, &r->threshold, sizeof(r->threshold));
    h = vg_fnv1a(h, &r->timespan_us, sizeof(r->timespan_us));
    h = vg_fnv1a(h, &r->suppress_us, sizeof(r->suppress_us));
    h = vg_fnv1a(h, &r->expire_us, sizeof(r->expire_us));
    return h;
}

static int cor_rule_load(cor_rule *r, const vg_node *n, const cor_rules_opts *o,
                         const cor_calendars *cals, char *err, size_t errlen)
{
    if (n->kind != VG_NODE_MAP)
        return vg_conf_errf(err, errlen, n, "a rule must be a map with id, name, level and "
                                            "match or correlation");
    r->line = n->line;
    r->alert = true;
    r->level = -1;
    r->max_groups = o->max_groups;
    r->calendar = -1;
    const vg_node *match = NULL, *corr = NULL, *supp = NULL, *supp_by = NULL;
    int rc = 0;
    for (size_t i = 0; i < n->n && rc == 0; i++) {
        const char *k = n->keys[i]->str;
        const vg_node *v = n->items[i];
        if (strcmp(k, "id") == 0 || strcmp(k, "name") == 0 || strcmp(k, "description") == 0) {
            if (v->kind != VG_NODE_SCALAR || !v->str[0])
                return vg_conf_errf(err, errlen, v, "'%s' must be a non-empty string", k);
            char **dst = k[0] == 'i' ? &r->id : k[0] == 'n' ? &r->name : &r->description;
            free(*dst);
            if (!(*dst = strdup(v->str)))
                return -ENOMEM;
        } else if (strcmp(k, "level") == 0) {
            char *end;
            long lv = v->kind == VG_NODE_SCALAR ? strtol(v->str, &end, 10) : -1;
            if (v->kind != VG_NODE_SCALAR || *end || !v->str[0] || lv < 0 || lv > 15)
                return vg_conf_errf(err, errlen, v, "'level' must be an integer 0..15");
            r->level = (int)lv;
        } else if (strcmp(k, "alert") == 0) {
            rc = vg_conf_parse_bool(v, &r->alert, err, errlen);
        } else if (strcmp(k, "tags") == 0) {
            rc = cor_strv(v, "tags", &r->tags, err, errlen);
            r->ntags = cor_strv_len(r->tags);
            if (rc == 0 && r->ntags > VG_ALERT_MAX_TAGS)
                rc = vg_conf_errf(err, errlen, v, "at most %d tags", VG_ALERT_MAX_TAGS);
        } else if (strcmp(k, "max_groups") == 0) {
            uint64_t x = 0;
            rc = cor_uint(v, "max_groups", &x, err, errlen);
            r->max_groups = (uint32_t)x;
        } else if (strcmp(k, "suppress") == 0) {
            supp = v;
        } else if (strcmp(k, "suppress_by") == 0) {
            supp_by = v;
        } else if (strcmp(k, "match") == 0) {
            match = v;
        } else if (strcmp(k, "correlation") == 0) {
            corr = v;
        } else if (strcmp(k, "tests") == 0) {
            rc = cor_tests_block(r, v, err, errlen);
        } else {
            char hint[160];
            return vg_conf_errf(err, errlen, n->keys[i],
                                "unknown key '%s' in rule (expected id, name, level, alert, tags, "
                                "description, match, correlation, tests, max_groups, suppress, "
                                "suppress_by)%s", k, cor_key_hint(k, "rule", hint, sizeof(hint)));
        }
    }
    if (rc)
        return rc;
    if (!r->id)
        return vg_conf_errf(err, errlen, n, "rule has no 'id'");
    if (strlen(r->id) > COR_RULE_ID_MAX)
        return vg_conf_errf(err, errlen, n, "rule id '%.40s...' is %zu bytes long; at most %d",
                            r->id, strlen(r->id), COR_RULE_ID_MAX);
    for (const char *p = r->id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
              *p == '-'))
            return vg_conf_errf(err, errlen, n,
                                "rule id '%s': use lower-case letters, digits, '.', '_', '-'", r->id);
    if (!r->name)
        return vg_conf_errf(err, errlen, n, "rule '%s' has no 'name'", r->id);
    if (r->level < 0)
        return vg_conf_errf(err, errlen, n, "rule '%s' has no 'level'", r->id);
    if (!!match == !!corr)
        return vg_conf_errf(err, errlen, n, "rule '%s' needs exactly one of 'match' and "
                                            "'correlation'", r->id);
    if ((supp || supp_by) && !match)
        return vg_conf_errf(err, errlen, supp ? supp : supp_by,
                            "rule '%s': a correlation's suppress goes inside 'correlation'", r->id);
    if (supp_by && !supp)
        return vg_conf_errf(err, errlen, supp_by, "rule '%s': suppress_by needs suppress", r->id);
    if (supp && !r->alert)
        return vg_conf_errf(err, errlen, supp,
                            "rule '%s': suppress limits alerts, and with alert: false there are "
                            "none (every hit feeds its correlations either way)", r->id);
    rc = match ? cor_match_block(r, match, cals, err, errlen) : cor_corr_block(r, corr, err, errlen);
    /* A match rule's suppression: at most one alert per suppress_by values
     * per span; every hit still feeds correlations. */
    if (rc == 0 && supp)
        rc = cor_duration(supp, "suppress", &r->suppress_us, err, errlen);
    if (rc == 0 && supp_by) {
        rc = cor_strv_lines(cor_strv_once(cor_strv(supp_by, "suppress_by", &r->group_by, err,
                                                   errlen),
                                          supp_by, "suppress_by", err, errlen),
                            supp_by, &r->group_lines);
        r->ngroup = cor_strv_len(r->group_by);
        if (rc == 0 && r->ngroup > VG_ALERT_MAX_FIELDS / 2)
            rc = vg_conf_errf(err, errlen, supp_by, "suppress_by takes at most %d fields",
                              VG_ALERT_MAX_FIELDS / 2);
    }
    if (rc == 0)
        r->hash = cor_rule_hash(r);
    return rc;
}

/* The array grows while files load (nothing holds a pointer into it until
 * loading ends): a fixed array for COR_MAX_RULES took 44 MB of address space
 * per rule set, which a free under MALLOC_PERTURB_ (meson test) writes over. */
static int cor_rules_grow(cor_ruleset *rs)
{
    size_t cap = rs->cap ? rs->cap * 2 : 64;
    if (cap > COR_MAX_RULES)
        cap = COR_MAX_RULES;
    /* aligned as cor_rule asks (its hot fields on cache lines): realloc
     * would not keep that */
    cor_rule *v = aligned_alloc(_Alignof(cor_rule), cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    if (rs->n)
        memcpy(v, rs->rules, rs->n * sizeof(*v));
    free(rs->rules);
    rs->rules = v;
    rs->cap = cap;
    return 0;
}

static int cor_rules_file(cor_ruleset *rs, const char *path, const cor_rules_opts *o, char *err,
                          size_t errlen)
{
    vg_node *root = NULL;
    int rc = vg_yaml_load(path, &root, err, errlen);
    if (rc)
        return VG_ERULE;
    const vg_node *list = vg_node_get(root, "rules");
    if (root->kind != VG_NODE_MAP || root->n != 1 || !list || list->kind != VG_NODE_SEQ) {
        rc = vg_conf_errf(err, errlen, vg_node_blame_only(root, "rules"),
                          "a rule file is a map with one key, 'rules', holding a list");
        goto out;
    }
    for (size_t i = 0; i < list->n; i++) {
        if (rs->n == COR_MAX_RULES) {
            rc = vg_conf_errf(err, errlen, list->items[i], "more than %d rules", COR_MAX_RULES);
            goto out;
        }
        if (rs->n == rs->cap && cor_rules_grow(rs) != 0) {
            rc = vg_conf_errf(err, errlen, list->items[i], "out of memory");
            goto out;
        }
        cor_rule *r = &rs->rules[rs->n];
        memset(r, 0, sizeof(*r));
        r->file = strdup(path);
        rc = r->file ? cor_rule_load(r, list->items[i], o, rs->cals, err, errlen) : -ENOMEM;
        if (rc) {
            cor_rule_free(r);
            goto out;
        }
        int dup = cor_rules_find(rs, r->id);
        if (dup >= 0) {
            rc = vg_conf_errf(err, errlen, list->items[i], "duplicate rule id '%s' (also %s:%d)",
                              r->id, rs->rules[dup].file, rs->rules[dup].line);
            cor_rule_free(r);
            goto out;
        }
        if (cor_rules_index(rs, (uint32_t)rs->n) != 0) {
            cor_rule_free(r);
            rc = vg_conf_errf(err, errlen, list->items[i], "out of memory");
            goto out;
        }
        rs->n++;
    }
out:
    vg_node_free(root);
    return rc ? VG_ERULE : 0;
}

static int cor_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cor_is_rule_file(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && ((l > 4 && strcmp(n + l - 4, ".yml") == 0) ||
                           (l > 5 && strcmp(n + l - 5, ".yaml") == 0));
}

/* Names a cycle of correlations, after Kahn's algorithm left the rules with
 * indeg > 0: those on a cycle, and those that count one (the first of these
 * in the file was named as "part of a cycle" though it was not). Every such
 * rule counts another such rule, so following those references from any of
 * them reaches a cycle within rs->n steps; the error is at the line of the
 * cycle's first rule in file order, with the whole loop: "a counts b, which
 * counts a". Returns VG_ERULE (-ENOMEM without memory for the walk). */
static int cor_rules_cycle(const cor_ruleset *rs, const uint32_t *indeg, char *err,
                           size_t errlen)
{
    uint32_t *step = malloc((rs->n + 1) * sizeof(uint32_t)); /* 1 + place on the walk, 0 = off */
    uint32_t *walk = malloc((rs->n + 1) * sizeof(uint32_t));
    if (!step || !walk) {
        free(step);
        free(walk);
        return -ENOMEM;
    }
    memset(step, 0, (rs->n + 1) * sizeof(uint32_t));
    size_t at = 0;
    while (at < rs->n && (rs->rules[at].kind == COR_MATCH || !indeg[at]))
        at++;
    uint32_t n = 0, from = 0;
    while (at < rs->n && !step[at]) {
        step[at] = ++n;
        walk[n - 1] = (uint32_t)at;
        const cor_rule *r = &rs->rules[at];
        size_t next = rs->n;
        for (uint32_t k = 0; k < r->nrefs && next == rs->n; k++)
            if (rs->rules[r->ref_idx[k]].kind != COR_MATCH && indeg[r->ref_idx[k]])
                next = r->ref_idx[k];
        at = next;
    }
    if (n == 0) { /* not reached: Kahn's algorithm left some rule */
        snprintf(err, errlen, "rule set: a cycle of correlations");
        free(step);
        free(walk);
        return VG_ERULE;
    }
    if (at < rs->n)
        from = step[at] - 1; /* the loop is walk[from .. n-1] */
    uint32_t first = from; /* the loop's rule that comes first in the files */
    for (uint32_t k = from; k < n; k++)
        if (walk[k] < walk[first])
            first = k;
    const cor_rule *f = &rs->rules[walk[first]];
    int o = snprintf(err, errlen, "%s:%d: rule '%s' is part of a cycle of correlations: %s",
                     f->file, f->line, f->id, f->id);
    uint32_t len = n - from;
    for (uint32_t k = 1; k <= len && o >= 0 && (size_t)o < errlen; k++) {
        const cor_rule *c = &rs->rules[walk[from + (first - from + k) % len]];
        o += snprintf(err + o, errlen - (size_t)o, "%s %s", k == 1 ? " counts" : ", which counts",
                      c->id);
    }
    free(step);
    free(walk);
    return VG_ERULE;
}

/* Resolves references, orders correlations so that a rule comes after
 * every rule it counts, and wires each rule to the correlations fed by it.
 * A reference to an unknown rule or a cycle refuses the set. */
/* The fields every event has: the names cor__field (cor_eval.c) reads; keep
 * the two the same. */
static const char *const cor_event_fields[] = {"app",     "agency",   "facility", "host",
                                               "message", "msg",      "msgid",    "procid",
                                               "program", "sender",   "severity", "site",
                                               NULL};

/* What cor_rule_has_field knows of each rule during one search (one field
 * name): correlations share the rules they count, and a chain of layers
 * that each count the whole layer below has paths exponential in its depth
 * (24 layers of two rules took 3 s to refuse a misspelt field). */
typedef struct cor_field_memo {
    uint32_t gen;   /* the search this entry is from (cor_field_search.gen) */
    uint8_t depth;  /* 1 + the least depth at which the rule was found not to carry it */
} cor_field_memo;

typedef struct cor_field_search {
    cor_field_memo *memo; /* rs->n entries */
    uint32_t gen;         /* bumped for each field name searched */
} cor_field_search;

#define COR_FIELD_DEPTH 64 /* correlations followed at most, down a chain */

/* Whether rule r gives field name itself, without the rules it counts: a
 * named capture of a match rule's regex; a correlation's group_by field,
 * or FIELD_values of its value_count field. */
static bool cor_rule_own_field(const cor_rule *r, const char *name)
{
    if (r->kind == COR_MATCH) {
        for (uint32_t i = 0; i < r->ncaps; i++)
            if (strcmp(r->cap_names[i], name) == 0)
                return true;
        return false;
    }
    for (uint32_t i = 0; i < r->ngroup; i++)
        if (strcmp(r->group_by[i], name) == 0)
            return true;
    size_t fl = r->field ? strlen(r->field) : 0;
    return r->field && strncmp(name, r->field, fl) == 0 && strcmp(name + fl, "_values") == 0;
}

/* Whether hits of rule r can carry field name: an event field, a named
 * capture of its regex, or for a correlation one of its group_by fields,
 * FIELD_values (value_count), or a field one of its rules carries (a
 * correlation's hit carries the fields of the hit that completed it). A
 * rule already searched at this depth or less is not searched again: it
 * had as much depth left then, and did not carry the field. */
static bool cor_rule_has_field(const cor_ruleset *rs, const cor_rule *r, const char *name,
                               int depth, cor_field_search *s)
{
    for (const char *const *f = cor_event_fields; *f; f++)
        if (strcmp(*f, name) == 0)
            return true;
    cor_field_memo *m = &s->memo[r - rs->rules];
    if (m->gen == s->gen && m->depth <= depth + 1)
        return false;
    if (cor_rule_own_field(r, name))
        return true;
    if (r->kind == COR_MATCH)
        return false;
    for (uint32_t k = 0; k < r->nrefs && depth < COR_FIELD_DEPTH; k++)
        if (cor_rule_has_field(rs, &rs->rules[r->ref_idx[k]], name, depth + 1, s))
            return true;
    *m = (cor_field_memo){s->gen, (uint8_t)(depth + 1)};
    return false;
}

/* A field a rule uses that its events cannot carry is a typo: a group_by
 * on it puts every event in one group, 'in list' on it never holds and
 * 'not in list' always does. Refused with the rule's file and line. */
static int cor_rule_field_err(const cor_ruleset *rs, const cor_rule *r, const char *use,
                              const char *name, int line, const cor_rule *src,
                              cor_field_search *s, char *err, size_t errlen)
{
    s->gen++;
    if (cor_rule_has_field(rs, src, name, 0, s))
        return 0;
    char caps[512] = "";
    size_t n = 0;
    for (uint32_t i = 0; src->kind == COR_MATCH && i < src->ncaps && n < sizeof(caps); i++)
        n += (size_t)snprintf(caps + n, sizeof(caps) - n, "%s%s", i ? ", " : "",
                              src->cap_names[i]);
    /* from the list the check uses, so that it names exactly what is accepted */
    char evf[256] = "";
    size_t m = 0;
    for (const char *const *f = cor_event_fields; *f && m < sizeof(evf); f++)
        m += (size_t)snprintf(evf + m, sizeof(evf) - m, "%s%s", m ? ", " : "", *f);
    char whose[COR_RULE_ID_MAX + 32] = "its events";
    if (src != r)
        snprintf(whose, sizeof(whose), "the events of rule '%s'", src->id);
    snprintf(err, errlen,
             "%s:%d: rule '%s': %s field '%s' is not carried by %s (event fields: %s; %s: %s)",
             r->file, line, r->id, use, name, whose, evf,
             src->kind == COR_MATCH ? "captures" : "group_by",
             src->kind == COR_MATCH ? (caps[0] ? caps : "none") : "see that rule");
    return VG_ERULE;
}

/* Checks every field name a rule uses against what its events carry. */
static int cor_rules_check_fields(const cor_ruleset *rs, char *err, size_t errlen)
{
    int rc = 0;
    cor_field_search s = {calloc(rs->n ? rs->n : 1, sizeof(cor_field_memo)), 0};
    if (!s.memo)
        return -ENOMEM;
    for (size_t i = 0; i < rs->n && rc == 0; i++) {
        const cor_rule *r = &rs->rules[i];
        if (r->kind == COR_MATCH) {
            for (uint32_t c = 0; c < r->nconds && rc == 0; c++)
                rc = cor_rule_field_err(rs, r, "where", r->conds[c].field, r->conds[c].line, r,
                                        &s, err, errlen);
            for (uint32_t g = 0; g < r->ngroup && rc == 0; g++)
                rc = cor_rule_field_err(rs, r, "suppress_by", r->group_by[g], r->group_lines[g],
                                        r, &s, err, errlen);
            continue;
        }
        for (uint32_t k = 0; k < r->nrefs && rc == 0; k++) {
            const cor_rule *src = &rs->rules[r->ref_idx[k]];
            for (uint32_t g = 0; g < r->ngroup && rc == 0; g++)
                rc = cor_rule_field_err(rs, r, "group_by", r->group_by[g], r->group_lines[g], src,
                                        &s, err, errlen);
            if (rc == 0 && r->field)
                rc = cor_rule_field_err(rs, r, "value_count", r->field, r->field_line, src, &s,
                                        err, errlen);
        }
    }
    free(s.memo);
    return rc;
}

/* What cor_rule_sets_field knows of each rule during one search: 0 not
 * yet, 1 never sets the field, 2 may set it. */
typedef struct cor_sets_memo {
    uint32_t gen;
    uint8_t state;
} cor_sets_memo;

/* Whether an alert (a hit) of rule r can carry field name in its fields,
 * as cor_eval.c builds them: a match rule's are the named captures of its
 * regex (cor_match_one; none for keywords only); an absence's its group_by
 * values (cor__absence_report); another correlation's its group_by values,
 * then the fields of the hit that completed it except value_count's field,
 * which it reports as FIELD_values instead (cor_correlate, cor_vc_fire).
 * Event fields (host, program, ...) are fields of an alert only through a
 * group_by. Past COR_FIELD_DEPTH correlations down a chain the answer is
 * "may": a test is refused only for a field the rule surely never sets. */
static bool cor_rule_sets_field(const cor_ruleset *rs, const cor_rule *r, const char *name,
                                int depth, cor_sets_memo *memo, uint32_t gen)
{
    cor_sets_memo *m = &memo[r - rs->rules];
    if (m->gen == gen)
        return m->state == 2;
    bool sets = cor_rule_own_field(r, name);
    if (r->kind != COR_MATCH) {
        bool passed = r->kind != COR_ABSENCE && !(r->field && strcmp(name, r->field) == 0);
        if (!sets && passed && depth >= COR_FIELD_DEPTH)
            sets = true;
        for (uint32_t k = 0; k < r->nrefs && !sets && passed; k++)
            sets = cor_rule_sets_field(rs, &rs->rules[r->ref_idx[k]], name, depth + 1, memo, gen);
    }
    *m = (cor_sets_memo){gen, sets ? 2 : 1};
    return sets;
}

/* Appends name to the list of names v (n of them; deduplicated). */
static int cor_names_add(char ***v, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], name) == 0)
            return 0;
    char **p = realloc(*v, (*n + 1) * sizeof(*p));
    if (!p)
        return -ENOMEM;
    *v = p;
    if (!(p[*n] = strdup(name)))
        return -ENOMEM;
    ++*n;
    return 0;
}

/* The names any rule under r (r, the rules it counts, and so on, down to
 * COR_FIELD_DEPTH) can give a field: captures, group_by, FIELD_values. The
 * candidates for "its fields" in the refusal below, which keeps those r
 * does set. */
static int cor_rule_names(const cor_ruleset *rs, const cor_rule *r, int depth, uint8_t *seen,
                          char ***v, size_t *n)
{
    if (seen[r - rs->rules] || depth > COR_FIELD_DEPTH)
        return 0;
    seen[r - rs->rules] = 1;
    int rc = 0;
    for (uint32_t i = 0; i < r->ngroup && rc == 0; i++)
        rc = cor_names_add(v, n, r->group_by[i]);
    for (uint32_t i = 0; r->kind == COR_MATCH && i < r->ncaps && rc == 0; i++)
        rc = cor_names_add(v, n, r->cap_names[i]);
    if (rc == 0 && r->field) {
        char fv[256];
        snprintf(fv, sizeof(fv), "%s_values", r->field);
        rc = cor_names_add(v, n, fv);
    }
    for (uint32_t k = 0; k < r->nrefs && rc == 0; k++)
        rc = cor_rule_names(rs, &rs->rules[r->ref_idx[k]], depth + 1, seen, v, n);
    return rc;
}

/* The refusal of test ti of rule r, whose 'fields' entry k names a field
 * the rule never sets: that test could only fail, at --test-rules time,
 * and a misspelt field is better named when the rules load. */
static int cor_test_field_err(const cor_ruleset *rs, const cor_rule *r, uint32_t ti, uint32_t k,
                              cor_sets_memo *memo, uint32_t *gen, char *err, size_t errlen)
{
    const cor_test *ct = &r->tests[ti];
    char **v = NULL, list[512] = "";
    size_t n = 0, len = 0;
    uint8_t *seen = calloc(rs->n, 1);
    int rc = seen ? cor_rule_names(rs, r, 0, seen, &v, &n) : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!cor_rule_sets_field(rs, r, v[i], 0, memo, ++*gen))
            continue;
        if (len + strlen(v[i]) + 8 > sizeof(list)) { /* room for ", ..." is left */
            snprintf(list + len, sizeof(list) - len, ", ...");
            break;
        }
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "", v[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    free(seen);
    if (rc)
        return rc;
    bool event = false;
    for (const char *const *f = cor_event_fields; *f && !event; f++)
        event = strcmp(*f, ct->keys[k]) == 0;
    snprintf(err, errlen,
             "%s:%d: test %u of rule %s expects field \"%s\", which the rule never sets (%s%s%s)",
             r->file, ct->key_lines[k], ti + 1, r->id, ct->keys[k],
             list[0] ? "its fields: " : "it sets no fields", list,
             event ? "; an event field is one of an alert's fields only when a correlation "
                     "groups by it"
                   : "");
    return VG_ERULE;
}

/* Every 'fields' entry of every rule's tests against what the rule's
 * alerts can carry (cor_rule_sets_field). */
static int cor_rules_check_tests(const cor_ruleset *rs, char *err, size_t errlen)
{
    cor_sets_memo *memo = calloc(rs->n ? rs->n : 1, sizeof(*memo));
    if (!memo)
        return -ENOMEM;
    uint32_t gen = 0;
    int rc = 0;
    for (size_t i = 0; i < rs->n && rc == 0; i++) {
        const cor_rule *r = &rs->rules[i];
        for (uint32_t t = 0; t < r->ntests && rc == 0; t++)
            for (uint32_t k = 0; k < r->tests[t].nfields && rc == 0; k++)
                if (!cor_rule_sets_field(rs, r, r->tests[t].keys[k], 0, memo, ++gen))
                    rc = cor_test_field_err(rs, r, t, k, memo, &gen, err, errlen);
    }
    free(memo);
    return rc;
}

static int cor_rules_link(cor_ruleset *rs, char *err, size_t errlen)
{
    for (size_t i = 0; i < rs->n; i++) {
        cor_rule *r = &rs->rules[i];
        if (r->kind == COR_MATCH)
            continue;
        r->ref_idx = calloc(r->nrefs, sizeof(uint32_t));
        if (!r->ref_idx)
            return -ENOMEM;
        for (uint32_t k = 0; k < r->nrefs; k++) {
            int j = cor_rules_find(rs, r->refs[k]);
            if (j < 0 || (size_t)j == i) {
                snprintf(err, errlen, "%s:%d: rule '%s' counts %s rule '%s'", r->file,
                         r->ref_lines[k], r->id, j < 0 ? "unknown" : "itself as", r->refs[k]);
                return VG_ERULE;
            }
            r->ref_idx[k] = (uint32_t)j;
            cor_rule *src = &rs->rules[j];
            if (src->nfeeds && src->feeds[src->nfeeds - 1] == (uint32_t)i)
                continue; /* listed twice (temporal_ordered): one feed, or one
                           * event would be counted twice */
            uint32_t *f = realloc(src->feeds, (src->nfeeds + 1) * sizeof(uint32_t));
            if (!f)
                return -ENOMEM;
            src->feeds = f;
            src->feeds[src->nfeeds++] = (uint32_t)i;
        }
        if (r->kind == COR_TEMPORAL_ORDERED)
            cor_seq_shape_of(&r->seq, r->ref_idx, r->nrefs);
    }
    /* Kahn's algorithm over "r counts s" edges. */
    uint32_t *indeg = calloc(rs->n + 1, sizeof(uint32_t));
    rs->order = calloc(rs->n + 1, sizeof(uint32_t));
    rs->matches = calloc(rs->n + 1, sizeof(uint32_t));
    if (!indeg || !rs->order || !rs->matches) {
        free(indeg);
        return -ENOMEM;
    }
    size_t ncorr = 0;
    for (size_t i = 0; i < rs->n; i++) {
        if (rs->rules[i].kind == COR_MATCH) {
            rs->matches[rs->nmatches++] = (uint32_t)i;
            continue;
        }
        ncorr++;
        const cor_rule *c = &rs->rules[i];
        for (uint32_t k = 0; k < c->nrefs; k++) { /* each rule once, as in feeds */
            uint32_t j = 0;
            while (j < k && c->ref_idx[j] != c->ref_idx[k])
                j++;
            indeg[i] += j == k && rs->rules[c->ref_idx[k]].kind != COR_MATCH;
        }
    }
    for (size_t i = 0; i < rs->n; i++)
        if (rs->rules[i].kind != COR_MATCH && indeg[i] == 0)
            rs->order[rs->norder++] = (uint32_t)i;
    for (uint32_t q = 0; q < rs->norder; q++) {
        const cor_rule *r = &rs->rules[rs->order[q]];
        for (uint32_t f = 0; f < r->nfeeds; f++)
            if (--indeg[r->feeds[f]] == 0)
                rs->order[rs->norder++] = r->feeds[f];
    }
    int rc = 0;
    if (rs->norder != ncorr) {
        rc = cor_rules_cycle(rs, indeg, err, errlen);
    }
    free(indeg);
    return rc;
}

/* Collects the rule files under path (a directory, or one file). */
static int cor_rules_files(const char *path, char ***names, size_t *nn, char *err, size_t errlen)
{
    struct stat sb;
    *names = NULL;
    *nn = 0;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
        *names = calloc(1, sizeof(char *));
        if (!*names || !((*names)[0] = strdup(path)))
            return -ENOMEM;
        *nn = 1;
        return 0;
    }
    DIR *dh = opendir(path);
    if (!dh) {
        snprintf(err, errlen, "%s: cannot open rules directory: %s", path, strerror(errno));
        return VG_ERULE;
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dh)) && rc == 0) {
        if (!cor_is_rule_file(de->d_name))
            continue;
        if (*nn == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(*names, cap * sizeof(*p));
            if (!p) {
                rc = -ENOMEM;
                break;
            }
            *names = p;
        }
        size_t l = strlen(path) + strlen(de->d_name) + 2;
        if (!((*names)[*nn] = malloc(l)))
            rc = -ENOMEM;
        else
            snprintf((*names)[(*nn)++], l, "%s/%s", path, de->d_name);
    }
    closedir(dh);
    if (*names)
        qsort(*names, *nn, sizeof(char *), cor_name_cmp);
    return rc;
}

int cor_rules_build_prefilter(cor_ruleset *rs, char *err, size_t errlen)
{
    const char **pats = calloc(rs->nmatches + 1, sizeof(char *));
    if (!pats)
        return -ENOMEM;
    for (uint32_t i = 0; i < rs->nmatches; i++)
        pats[i] = rs->rules[rs->matches[i]].pattern; /* NULL: keywords only, always a candidate */
    int rc = cor_prefilter_build(pats, rs->nmatches, &rs->pf, err, errlen);
    free(pats);
    return rc == -ENOMEM ? rc : rc ? VG_ERULE : 0;
}

void cor_rules_side_dir(const char *path, const char *sub, char *out, size_t outlen)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(out, outlen, "%s/%s", path, sub);
        return;
    }
    const char *slash = strrchr(path, '/');
    snprintf(out, outlen, "%.*s/%s", slash ? (int)(slash - path) : 1, slash ? path : ".", sub);
}

int cor_rules_load(const char *path, const cor_rules_opts *o, cor_ruleset **out, char *err,
                   size_t errlen)
{
    char **names = NULL;
    size_t nn = 0;
    err[0] = '\0';
    int rc = cor_rules_files(path, &names, &nn, err, errlen);
    cor_ruleset *rs = calloc(1, sizeof(*rs));
    if (rc == 0 && !rs)
        rc = -ENOMEM;
    if (rc == 0) { /* calendars first: rules refer to them by name */
        char cdir[4096];
        cor_rules_side_dir(path, "calendars", cdir, sizeof(cdir));
        if (cor_calendars_load(cdir, &rs->cals, err, errlen) != 0)
            rc = VG_ERULE;
    }
    for (size_t i = 0; rc == 0 && i < nn; i++)
        rc = cor_rules_file(rs, names[i], o, err, errlen);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    if (rc == 0 && rs->n == 0) {
        snprintf(err, errlen, "%s: no rules found (*.yml, *.yaml)", path);
        rc = VG_ERULE;
    }
    if (rc == 0)
        rc = cor_rules_link(rs, err, errlen);
    if (rc == 0)
        rc = cor_rules_check_fields(rs, err, errlen);
    if (rc == 0)
        rc = cor_rules_check_tests(rs, err, errlen);
    if (rc == 0) {
        uint32_t maxcap = 1;
        for (uint32_t i = 0; i < rs->nmatches; i++) {
            const cor_rule *r = &rs->rules[rs->matches[i]];
            uint32_t c = 0;
            if (r->re)
                pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &c);
            if (c + 1 > maxcap)
                maxcap = c + 1;
        }
        rs->md = pcre2_match_data_create(maxcap, NULL);
        rs->mctx = pcre2_match_context_create(NULL);
        rs->dir = strdup(path);
        rs->lateness_us = o->lateness_us;
        if (!rs->md || !rs->mctx || !rs->dir)
            rc = -ENOMEM;
        else
            pcre2_set_match_limit(rs->mctx, (uint32_t)o->match_limit);
        /* A JIT stack overflow is a match error, i.e. "no match": an attacker
         * could pad a line to get past a rule. 4 MiB covers 64 KiB lines. */
        if (rc == 0 && (rs->jit_stack = pcre2_jit_stack_create(32 << 10, 4 << 20, NULL)))
            pcre2_jit_stack_assign(rs->mctx, NULL, rs->jit_stack);
        if (rc == 0 && !o->defer_prefilter)
            rc = cor_rules_build_prefilter(rs, err, errlen);
    }
    if (rc) {
        if (rc == -ENOMEM && !err[0])
            snprintf(err, errlen, "%s: out of memory loading rules", path);
        cor_rules_free(rs);
        return rc;
    }
    *out = rs;
    return 0;
}
