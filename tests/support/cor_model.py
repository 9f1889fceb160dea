#!/usr/bin/env python3
"""Differential test of the correlator's correlation semantics (docs/rules.md).

Usage: cor_model.py [--keep DIR] [--lines N] CORRELATOR SEED|FIRST-LAST...
(COR_MODEL_LATENESS_MS: correlator.lateness, 20000 by default; COR_MODEL_VERBOSE=1)

For each seed this script generates a small random rule set (match rules
m.a, m.b, m.c, m.ab that only feed correlations, m.s that alerts with a
suppress, and one correlation rule of each type, plus event_counts of an
event_count, a value_count, a temporal, a temporal_ordered and an absence,
one counting two different correlations, a value_count, a temporal and a
temporal_ordered of correlations, an absence of an event_count, and over
the absence an absence, a temporal with a match rule, a temporal_ordered
"silent, then back" and a value_count of its groups) and a
few hundred RFC 5424 lines with clustered timestamps (duplicates, window
edges at exactly T, events out of order within and beyond the lateness,
silences for the absence rule, missing group_by and value fields, repeated
lines, lines of two rules), runs `CORRELATOR -c CFG --replay LOG --rules DIR
--year Y` (the lines cut into one to four files, --replay A B ...: the
years and the untimed lines follow on from file to file; TZ=UTC but for the
RFC 3164 seeds, below), and compares the alerts (rule, group, start, end,
count, message, FIELD_values, raw lines) and the order they come in with
those of its own reference model.

Raw lines and order (rules.md, "Alerts"): a match's alert carries its line,
whole; a correlation's the lines its group received (an event counted, not
a late one nor one a value_count ignores; a firing of a correlation it
counts: the line that fired it, at the firing's end, none for an
absence's) with times from its start to its end, of the last 10, in arrival
order, 1 KiB of each (a line the same, time and text, as the last one the
group kept is kept once); an absence's none. Some RFC 5424 lines (their own
generator) have an SD element padded so that the cut at 1,024 bytes falls
inside a multi-byte character (its bytes left: U+FFFD each, alerts.md),
just after one, far past it, or not at all. The order: line by line, a
line's match rules in file order, each alert followed by what it fires,
depth first; a degradation alert where its group is made; the look of the
absences in dependency order (Kahn's: the correlations counting no
correlation in file order, then each as the last it counts has had its
place), each rule's silent groups from the least recently updated.

Each seed also has one feature, by seed % 3 so that any three seeds have
each: (0) a watchlist `bad` (a random subset of IPv4/IPv6 addresses and
networks, IPv4-mapped and zero-padded ones, domains, `*.` and `.tk` entries,
a hash, a string), given in the rules dir's lists/ or with `--list
bad=FILE`, and "W value" lines (addresses in and out of networks, zones,
subdomains, near misses, a missing field) for m.w (`ip in list bad`), m.wn
(`not in list`) and m.wz (a list never loaded), modelled from
docs/watchlists.md "Matching"; (1) a calendar `k` in rules/calendars/ (its
offset from -14:00 to +14:00, odd minutes too) whose boundary is a local
midnight inside the stream (a holiday's first or last day, a range of days,
weekly hours from midnight, a night past midnight, every day except a
holiday), with "K" lines at that midnight and 1 ms, 1 s and 1 min either
side, for m.kin / m.kout (`time: {in|not_in: k}`), modelled from
docs/calendars.md "When a calendar holds"; in every other one (with tzdata;
its own generator) k is in a named zone (Berlin, New York, Adelaide,
Lord Howe) and the boundary is a change of its offset in 2026, k's hours
starting or ending at the wall-clock time the change leaves or reaches
(or half an hour off), holding the minute the clock reaches or the one
it leaves but not both (so that a reading at the old offset is wrong), on
that weekday or every day, modelled with Python's zoneinfo ("Time
zones"); in some of the others (their own generator) k has more date ranges (overlapping, out of order) and one to
three `except` calendars in other offsets (-14:00 to +14:00) whose boundary
is the same instant (weekly minutes up to it or from it, past midnight
too, or the local day that holds it or the day before), one of them with an
`except` of its own; (2) RFC 3164 lines (some or all)
mixed with RFC 5424 ones across a new year (2025-12-31 23:57 on, --year
2025) or from 2028-03-30 23:48 (the edge lines below then fall on Feb 29 and
Mar 1, across a leap day), lines without a stamp and with `Feb 29` (in a
year without it untimed: the time of the line before, the stamp staying in
the message), modelled from rules.md (a year more than 30 days before and at
most 335 days after the last line with a stamp; --year for the first; stamps
exactly 30 days before it and a second either side, and the rule where a
leap day leaves no year) and architecture.md ("RFC 3164 headers are read
leniently"); the correlator then runs with a TZ of its own (UTC, fixed
offsets of +07:00, +05:45 and -09:30, and, with tzdata, New York, Paris and
Lord Howe), the stamps written in that zone's local time and the stream
starting at its local new year (the year windows on UTC times, so across a
daylight-saving change for the edge lines of the 2028 streams). In half
the seeds with a named zone (their own generator) the stream starts one to
five minutes before one of the zone's daylight-saving changes of 2026
instead (clocks forward or back, by 30 minutes at Lord Howe), some lines of
the hour after it stamped at the offset before it (a device that kept its
old offset: stamps in the hour that never comes, or in the first pass of
the repeated one): a local time skipped or repeated is read with the
offset before the change (rules.md), so the second pass of a repeated hour
is an hour early, late for the correlations. In some other seeds the
stream starts on 2027-06-01 and the edge lines are 335 days after the line
before (a second either side): Feb 29 2028 lies inside the window, so a
second past it no year holds (the rule above places it a year before).

What the model reads from docs/rules.md: the watermark (every line moves it,
matched or not) and lateness; the windows (s - T, s] of event_count,
value_count and temporal, the earliest holding the arriving event that ends
at or after the suppression, then each later one past the next suppression;
temporal_ordered's earliest-ending, latest-starting sequence of distinct
events, a line of several rules one event, used up to its end (an event at
that end arriving later is not); absence's look once per second of event
time and at a group's own event (before it is counted, with the watermark
before it), its re-arming and the look at the end of the input; events
without a group_by field in the group ""; value_count ignoring events
without its field; "message repeated N times" as N lines; correlations of
correlations (of every type, over each type) at the alert's end, carrying
the completing hit's fields (a value_count's FIELD_values its own) and its
alert's message (an absence's `no event of the watched rules since ...`),
the group "" a value ("" in FIELD_values); a match rule's suppress, either
side of an alert in event time, late hits included, with the 8 alert times
a group used last (one pushed out no longer keeps a hit near it quiet).

A quarter of the watchlist seeds also have a flood (their own generator):
a value_count c.fvc over F lines (`F G V`, N 2 or 3, T 40 or 60 s, a
suppress of 2, 5 or 12 s) and, half way, 110 to 160 F lines in time order,
100 to 250 ms apart, of values from a pool of 500 to 5,000, most in one
group: more distinct values within T than a group keeps (rules.md,
value_count: N + min(7N + 64, 4,096)), so the value seen longest ago is
forgotten and the later alerts count and list only the newest ones. The
rest of the stream moves on by the burst's length.

The caps (rules.md, "Precisely" of each type), modelled as rules.md gives
them, with the `trimmed` of each rule (the --replay summary's, next to its
alerts) compared: event_count's kept times (before a time is added, the
oldest forgotten uncounted while at or before W - lateness - T or the
suppression's end - T, below W - lateness with N - 1 kept after it below it
too, or, suppress at least T, the first of N + 1 spanning less than T; W
the watermark before the line; then past N + min(7N + 64, 4,096) the
oldest, counted: the arriving one if older than all, which then completes
only the window it makes with the oldest N - 1 kept), its windows over the
events counted but those trimmed; value_count's values (a new one past the
cap when that many have a sighting after W - lateness - T, or the
suppression's end - T, trims the value seen longest ago) and the 8
sightings a value or a temporal's listed rule keeps (none at or before
that time, below W - lateness only the latest, middles of three less than
T apart below it, at or after it while more than 8 are left, then the
oldest, counted: the arriving one if older than all, which then still
makes the window ending at it, with the sightings kept), their windows
judged on the sightings kept (ending at the arriving event or a kept
sighting after it); temporal_ordered's 4,096
buffered times, which rules.md gives up to the group's header: the model
keeps a bracket (times surely and maybe folded early), counts an event at
or before them in [surely, maybe] and, where it may be trimmed, requires
the rule's alerts to be among its own (it may miss a sequence, never make
a wrong one); exactly equal while nothing can be folded early. A third of
the seeds (their own generator) have a burst after the stream: 150 to 300
X lines (`XA G V`, `XB G V`, `XC G V`) within the lateness, in time order,
reversed, shuffled or reversed by blocks, for an event_count (N 1 to 3, T
15 to 60 s, mostly a suppress shorter than T), a value_count, a temporal
(T down to 1 s) and a temporal_ordered of them: past event_count's cap
(also in time order: times within the lateness are kept while an event to
come may need them), past 8 sightings of a value or listed rule. One seed
in 20 (its own generator, a lateness of 6 s or more) has a chain after the
stream: 4,300 to 4,500 YA lines in time order within the lateness for a
temporal_ordered of YA then YB, a few YA and YB out of order from its
first 100, and a YB ending a sequence with the last YA. Two seeds in five
(their own generator, a lateness of 4 s or more) have old sightings after
the stream: O lines (`OA G V`, `OB G V`, `OC G V`) for a value_count
(N 2 or 3) and a temporal (of OA and OB, or of the three), T 3 % to 6 %
of the lateness, per group other values (OB, OC) early, 8 to 11 `OA G 0`
late, then one to four `OA G 0` older than all of those (at the other
values' times, 1 ms and T either side of them, or anywhere early; within
the lateness): the arriving sighting trimmed, its window judged, needing
it or not, inside a suppression or past it.
COR_MODEL_VERBOSE=1 prints, per seed, each rule's trimmed (the engine's,
and the model's bounds), the groups the model could only bound and how
many of its alerts were made by a sighting trimmed as it arrived ("old
fired").

Every seed also has two parts of its own (own generators, so the rest of
the seed stays as it was). max_groups (rules.md, "Memory"): G lines (`G kN
V`, keys from a pool of M+1 to 3M, some out of order, some late) for m.g /
m.g2 and, each with max_groups M (2 to 4), one correlation of every type
(the absence with an expire of 15 s, 40 s or 24 h), an event_count of one of
them, and a match rule with suppress_by; in half the seeds (not the
calendar ones) an hour's gap of event time half way; in half of those whose
absence has an expire of 15 s or 40 s, after the stream, an absence group
over behind a live least recently updated one, found by a new group at the
cap before the sweep's next look (over_lines). Modelled: the order of
groups by last update (events counted for the group, a match rule's hits),
at the cap a group over dropped without a count (last event before W -
lateness - T and suppression ended; an absence's reported, silent past
expire and its report before W - lateness; a match rule's suppressions
ended and no hit for a lateness): the least recently updated one if it is
over, else one over wherever it is in the order (an absence's too); when
none is, the least recently updated group evicted; the
sweep with the absences' look once per second of event time (from the least
recently updated up to the first live group; an absence's every group; the
match rules' too, so a late hit after it alerts), the vigil.correlation_degraded
alerts (time of the event, count the rule's evictions so far, field rule, at
most one per rule and hour of event time) and the --replay summary's
evictions. Conditions (rules.md, "Match rules"): Q lines (`Q USER IP[
KEYWORD]`) with their own host, program and PRI (or none), RFC 5424 or RFC
3164, for alerting match rules of several conditions: program / host /
agency / site equality (case-sensitive), facility / severity by name and
number, keywords, and `where` with `in` and `not in` on captures, on a
capture that did not take part, and on host, program / app, facility,
severity (their names), sender (`replay`), agency, site (`unknown`), msg /
message, over lists of strings, domains and addresses.

What it leaves out: fields other than the group's and FIELD_values, host,
program and sender of alerts, absence's clock ticks, which times exactly
temporal_ordered folds early (a bracket, above), the equal times and the
lines of several rules in temporal_ordered's buffer, which of two values
seen last at the same time value_count trims, restarts and reloads (a max_groups
lowered by one among them), raw lines restored from state, file mtimes
(--year is always given), the future-stamp clamp (5 minutes after arrival:
--replay has no arrival clock), procid, msgid and time conditions with the
others, hashes of other lengths, list reloads.
"""

import bisect
import ipaddress
import json
import re
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

# ms; the config the script writes sets correlator.lateness to it (20 s, or
# COR_MODEL_LATENESS_MS for a hunt under another one)
LATENESS = int(os.environ.get('COR_MODEL_LATENESS_MS', '20000'))
# alerts of a sighting trimmed as it arrived (on_values_event), per rule
OLD_FIRED = {}
SHRINK_S = 60             # at most this long shrinking the first divergence
BASE = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)


# ---------------------------------------------------------------- rule sets

def gen_rules(rng):
    """One Python structure for the rule set; yaml_rules() writes it."""
    def supp(t):
        c = rng.random()
        if c < 0.4:
            return None                    # default: timespan
        if c < 0.7:
            return rng.choice([t // 2, t - 500, 1000])
        return rng.choice([t, t + 2000, 2 * t])
    rules = []
    t = rng.choice([2000, 3000, 5000])
    rules.append(dict(id='c.ec', type='event_count', rules=['m.a'], group_by=['g'],
                      n=rng.choice([2, 3, 4]), t=t, suppress=supp(t)))
    t = rng.choice([3000, 5000])
    rules.append(dict(id='c.ecall', type='event_count', rules=['m.a', 'm.b'], group_by=[],
                      n=rng.choice([3, 5]), t=t, suppress=supp(t)))
    t = rng.choice([3000, 5000, 8000])
    rules.append(dict(id='c.vc', type='value_count', rules=['m.a', 'm.b'], group_by=['g'],
                      field='v', n=rng.choice([2, 3]), t=t, suppress=supp(t)))
    t = rng.choice([3000, 5000, 8000])
    rules.append(dict(id='c.tp', type='temporal', group_by=['g'],
                      rules=rng.choice([['m.a', 'm.b', 'm.c'], ['m.ab', 'm.b', 'm.c']]),
                      n=3, t=t, suppress=supp(t)))
    t = rng.choice([3000, 5000, 8000])
    steps = rng.choice([['m.a', 'm.b'], ['m.b', 'm.c'], ['m.a', 'm.b', 'm.a'],
                        ['m.ab', 'm.b'], ['m.b', 'm.ab'], ['m.ab', 'm.a', 'm.ab']])
    rules.append(dict(id='c.to', type='temporal_ordered', rules=steps, group_by=['g'],
                      n=len(steps), t=t, suppress=supp(t)))
    rules.append(dict(id='c.ab', type='absence', rules=['m.c'], group_by=['g'],
                      n=0, t=rng.choice([5000, 10000, 30000]), suppress=None))
    t = rng.choice([10000, 20000])
    rules.append(dict(id='c.cc', type='event_count', rules=['c.ec'], group_by=['g'],
                      n=2, t=t, suppress=supp(t)))
    rules.append(dict(id='c.ac', type='event_count', rules=['c.ab'], group_by=['g'],
                      n=2, t=60000, suppress=None))
    # correlations of value_count, temporal and temporal_ordered, and one
    # counting two different correlations
    t = rng.choice([10000, 20000])
    rules.append(dict(id='c.vcc', type='event_count', rules=['c.vc'], group_by=['g'],
                      n=2, t=t, suppress=supp(t)))
    rules.append(dict(id='c.tpc', type='event_count', rules=['c.tp'], group_by=['g'],
                      n=rng.choice([1, 2]), t=t, suppress=supp(t)))
    rules.append(dict(id='c.toc', type='event_count', rules=['c.to'], group_by=['g'],
                      n=2, t=t, suppress=supp(t)))
    rules.append(dict(id='c.two', type='event_count', rules=['c.ec', 'c.to'],
                      group_by=rng.choice([['g'], []]), n=rng.choice([2, 3]), t=t,
                      suppress=supp(t)))
    # other types over correlations: a value_count of a field the completing
    # hits carry, a temporal and a temporal_ordered of correlations
    rules.append(dict(id='c.vcv', type='value_count', rules=['c.ec', 'c.vc'], group_by=['g'],
                      field='v', n=2, t=t, suppress=supp(t)))
    rules.append(dict(id='c.tpx', type='temporal', rules=['c.ec', 'c.vc'], group_by=['g'],
                      n=2, t=t, suppress=supp(t)))
    rules.append(dict(id='c.tox', type='temporal_ordered', rules=['c.ec', 'c.to'],
                      group_by=['g'], n=2, t=t, suppress=supp(t)))
    rules.append(dict(id='c.abc', type='absence', rules=['c.ec'], group_by=['g'],
                      n=0, t=rng.choice([10000, 30000]), suppress=None))
    rules.append(dict(id='m.s', type='match', rules=[], group_by=rng.choice([['g'], []]),
                      t=0, suppress=rng.choice([1000, 3000, 5000, 10000])))
    # over absences (no draws from rng, so the rest stays as it was): an
    # absence of an absence, a temporal of one and a match rule, a
    # temporal_ordered "silent, then back", a value_count of the groups
    # reported silent (their group_by value as the field)
    rules.append(dict(id='c.aba', type='absence', rules=['c.ab'], group_by=['g'], n=0,
                      t=45000, suppress=None))
    rules.append(dict(id='c.tpa', type='temporal', rules=['c.ab', 'm.b'], group_by=['g'], n=2,
                      t=10000, suppress=None))
    rules.append(dict(id='c.toa', type='temporal_ordered', rules=['c.ab', 'm.c'],
                      group_by=['g'], n=2, t=30000, suppress=5000))
    rules.append(dict(id='c.vab', type='value_count', rules=['c.ab'], group_by=[], field='g',
                      n=2, t=20000, suppress=None))
    return rules


def feature_rules(f):
    """Alerting match rules (no suppress) of the seed's feature."""
    if f['kind'] == 'list':
        return [dict(id='m.w', type='amatch', rules=[], group_by=[], head='W',
                     where='ip in list bad'),
                dict(id='m.wn', type='amatch', rules=[], group_by=[], head='W',
                     where='ip not in list bad'),
                dict(id='m.wz', type='amatch', rules=[], group_by=[], head='W',
                     where='ip in list never')]
    if f['kind'] == 'cal':
        return [dict(id='m.kin', type='amatch', rules=[], group_by=[], head='K', time='in'),
                dict(id='m.kout', type='amatch', rules=[], group_by=[], head='K',
                     time='not_in')]
    return []


def gen_caps(seed):
    """The seed's max_groups part (its own generator, so the rest stays as it
    was): a cap M of 2 to 4 groups, G lines over a pool of keys, and in half
    the seeds (not the calendar ones, whose K lines sit in the first minutes)
    an hour's gap of event time half way (a second degradation alert; the
    groups from before are then over, dropped without an eviction)."""
    grng = random.Random(seed * 104729 + 3)
    m = grng.choice([2, 3, 4])
    return {'m': m, 'keys': grng.choice([m + 1, 2 * m, 3 * m]),
            'share': grng.choice([0.1, 0.2, 0.35]), 'jump': grng.random() < 0.5,
            'seed': seed * 104729 + 5, 'supp': grng.choice([None, 1000, 8000]),
            'msupp': grng.choice([2000, 6000]), 'expire': grng.choice([None, 15000, 40000]),
            'over': grng.random() < 0.5}


def caps_rules(c):
    """Rules over G lines (`G kN V`), each with max_groups (rules.md, Memory):
    one of each correlation type, a correlation of one of them, and a match
    rule with a suppress_by (its groups are capped too)."""
    m = c['m']
    return [dict(id='c.gec', type='event_count', rules=['m.g'], group_by=['k'], n=2, t=5000,
                 suppress=c['supp'], max_groups=m),
            dict(id='c.gvc', type='value_count', rules=['m.g'], group_by=['k'], field='v', n=2,
                 t=5000, suppress=None, max_groups=m),
            dict(id='c.gtp', type='temporal', rules=['m.g', 'm.g2'], group_by=['k'], n=2,
                 t=5000, suppress=None, max_groups=m),
            dict(id='c.gto', type='temporal_ordered', rules=['m.g', 'm.g2'], group_by=['k'],
                 n=2, t=4000, suppress=c['supp'], max_groups=m),
            dict(id='c.gab', type='absence', rules=['m.g'], group_by=['k'], n=0, t=10000,
                 suppress=None, max_groups=m, expire=c['expire']),
            dict(id='c.gcc', type='event_count', rules=['c.gec'], group_by=['k'], n=2, t=20000,
                 suppress=None, max_groups=max(1, m - 1)),
            dict(id='m.gs', type='match', rules=[], group_by=['k'], t=0, head='G',
                 suppress=c['msupp'], max_groups=m)]


# ---------------------------------------------------------------- conditions
# Q lines (`Q USER IP[ KEYWORD]`) with their own host, program and PRI (or
# none), in RFC 5424 or RFC 3164, for alerting match rules of several
# conditions: program / host / agency / site equality, facility / severity
# (names and numbers), keywords, and `where` on captures and on event fields
# (host, program, facility, severity, sender, agency, site, msg, a capture
# that did not take part), `in` and `not in`, several in one rule (rules.md,
# "Match rules"). In --replay, sender is `replay` and agency and site are
# `unknown` (rules.md).

FACILITY = {1: 'user', 3: 'daemon', 4: 'auth', 9: 'cron', 10: 'authpriv', 16: 'local0',
            23: 'local7'}
SEVERITY = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug']
Q_HOSTS = ['web1', 'WEB1', 'db.example.com', 'h', 'mail.Example.org']
Q_PROGS = ['sshd', 'cron', 'p', 'Sshd']
Q_USERS = ['alice', 'svc_backup', 'root', 'bob', 'Root']
Q_KW = ['', '', '', ' segfault at 0', ' Out of memory', ' out of memory', ' segfaul', ' zz']


def gen_conds(seed):
    """The seed's conditions part (its own generator): the rules' values and
    the lists' entries."""
    q = random.Random(seed * 7727 + 11)
    sub = lambda xs, lo: q.sample(xs, q.randint(lo, len(xs)))
    c = {'seed': seed * 7727 + 13, 'share': q.choice([0.05, 0.1, 0.2])}
    c['lists'] = {
        'svc': sub(['svc_backup', 'root', 'nobody', 'alice'], 1),
        'hosts': sub(['web1', 'example.com', 'h', 'Example.ORG.', 'db'], 1),
        'progs': sub(['cron', 'sshd', 'SSHD'], 1),
        'fs': sub(['auth', 'daemon', 'err', 'crit', 'local0', '4', 'info'], 1),
        'misc': sub(['replay', 'unknown', 'Unknown', 'x'], 1),
        'msgs': sub(['Q alice 10.1.2.3', 'Q root 192.0.2.1 Out of memory', 'Q bob ',
                     'q alice 10.1.2.3'], 1)}
    c['rules'] = [
        dict(id='q.prog', program=sub(['sshd', 'cron', 'Sshd'], 1),
             regex=r'^Q (?<user>\S+) (?<ip>\S+)', where=['user not in list svc']),
        dict(id='q.host', host=sub(['web1', 'db.example.com', 'WEB1'], 1),
             keywords=q.choice([['segfault', 'Out of memory'], ['Out of memory']])),
        dict(id='q.fac', regex=r'^Q (?<user>\S+)',
             facility=sub(['auth', 'authpriv', 16, 'daemon', 'user'], 1),
             severity=sub(['err', 'warning', 0, 'info', 7], 1)),
        dict(id='q.wh', regex='^Q ', where=['host in list hosts', '%s not in list progs'
                                            % q.choice(['program', 'app'])]),
        dict(id='q.wfs', regex='^Q ', where=['facility in list fs', 'severity not in list fs']),
        dict(id='q.wsa', regex=r'^Q (?<user>\S+) (?<ip>\S+)',
             where=['sender in list misc', 'agency not in list misc', 'ip in list bad2'],
             site=q.choice([['unknown'], ['unknown', 'x'], ['x']])),
        dict(id='q.wmsg', keywords=['Q '], where=['%s in list msgs'
                                                  % q.choice(['msg', 'message'])]),
        dict(id='q.ag', regex='^Q', agency=q.choice([['unknown'], ['aviation'], ['Unknown']]),
             where=['site in list misc']),
        dict(id='q.opt', regex=r'^Q (?<user>\S+) \S+(?: (?<opt>zz))?$',
             where=['opt not in list svc', 'user in list svc']),
        dict(id='q.opt2', regex=r'^Q \S+ \S+(?: (?<opt>zz))?$', where=['opt in list misc'])]
    c['lists']['bad2'] = sub(LIST_ENTRIES, 3)
    c['lists']['misc'].append('zz') if q.random() < 0.5 else None
    return c


def yaml_qrules(c):
    out = []
    lst = lambda xs: '[%s]' % ', '.join("'%s'" % x if isinstance(x, str) else str(x) for x in xs)
    for r in c['rules']:
        out += ['  - id: %s' % r['id'], '    name: %s' % r['id'], '    level: 2', '    match:']
        for k in ('program', 'host', 'agency', 'site', 'facility', 'severity', 'keywords',
                  'where'):
            if k in r:
                out.append('      %s: %s' % (k, lst(r[k])))
        if 'regex' in r:
            out.append("      regex: '%s'" % r['regex'])
    return out


def q_fields(r, msg, hdr):
    """The fields a Q rule's `where` sees, or None when its regex / keywords
    do not match."""
    f = {'host': hdr['host'], 'program': hdr['prog'], 'app': hdr['prog'], 'sender': 'replay',
         'agency': 'unknown', 'site': 'unknown', 'msg': msg, 'message': msg}
    if hdr['pri'] is not None:
        f['facility'] = FACILITY[hdr['pri'] // 8]
        f['severity'] = SEVERITY[hdr['pri'] % 8]
    if 'keywords' in r and not any(k in msg for k in r['keywords']):
        return None
    if 'regex' in r:
        rx = re.sub(r'\(\?<(\w+)>', r'(?P<\1>', r['regex'])
        mt = re.search(rx, msg)
        if not mt:
            return None
        f.update({k: v for k, v in mt.groupdict().items() if v is not None})
    return f


def q_holds(r, msg, hdr, lists):
    """rules.md, "Match rules": every condition given holds."""
    f = q_fields(r, msg, hdr)
    if f is None:
        return False
    for k in ('program', 'host', 'agency', 'site'):
        if k in r and f[k] not in r[k]:
            return False
    for k, names in (('facility', FACILITY), ('severity', dict(enumerate(SEVERITY)))):
        if k in r:
            if hdr['pri'] is None:
                return False
            num = hdr['pri'] // 8 if k == 'facility' else hdr['pri'] % 8
            if not any(x == num or x == names[num] for x in r[k]):
                return False
    for w in r.get('where', []):
        field, neg, lst = re.match(r'^(\w+) (not )?in list (\S+)$', w).groups()
        # watchlists.md: an entry's leading and trailing blanks are removed
        if in_list([e.strip() for e in lists[lst]], f.get(field)) == bool(neg):
            return False
    return True


# the match rules, in file order (the order a line's hits are evaluated in)
MATCH = [('m.a', 'A'), ('m.b', 'B'), ('m.c', 'C'), ('m.ab', '[AB]')]


def dur(ms):
    return '%dms' % ms


def yaml_rules(rules):
    out = ['rules:']
    for mid, head in MATCH:
        out += ['  - id: %s' % mid, '    name: match %s' % mid, '    level: 1',
                '    alert: false', '    match:',
                "      regex: '^%s (?:(?<g>[xy])|-) (?:(?<v>[0-9])|-)$'" % head]
    if any('m.f' in r['rules'] for r in rules):
        # F lines: `F G V`, a flood of values
        out += ['  - id: m.f', '    name: match m.f', '    level: 1', '    alert: false',
                '    match:', "      regex: '^F (?<g>[xy]) (?<fv>[0-9]+)$'"]
    for head in ('XA', 'XB', 'XC', 'YA', 'YB', 'OA', 'OB', 'OC'):
        # X lines: `XA G V`, bursts out of order; Y lines: `YA G`, a long
        # chain; O lines: `OA G V`, old sightings at the cap
        mid = 'm.' + head.lower()
        if any(mid in r['rules'] for r in rules):
            out += ['  - id: %s' % mid, '    name: match %s' % mid, '    level: 1',
                    '    alert: false', '    match:',
                    "      regex: '^%s (?<g>z[0-9])(?: (?<xv>[0-9]+))?$'" % head]
    if any('m.g' in r['rules'] for r in rules):
        # G lines: `G kN V`; m.g2 those whose V is odd (a second rule for the
        # temporal ones; a line of both is one event of two rules)
        out += ['  - id: m.g', '    name: match m.g', '    level: 1', '    alert: false',
                '    match:', "      regex: '^G (?<k>k[0-9]+) (?<v>[0-9])$'",
                '  - id: m.g2', '    name: match m.g2', '    level: 1', '    alert: false',
                '    match:', "      regex: '^G (?<k>k[0-9]+) (?<v>[13579])$'"]
    qr = [r for r in rules if r['type'] == 'qmatch']
    if qr:
        out += yaml_qrules({'rules': qr})
    for r in rules:
        if r['type'] == 'qmatch':
            continue
        if r['type'] == 'match':
            if r.get('head') == 'G':
                rx = "'^G (?<k>k[0-9]+) (?<v>[0-9])$'"
            else:
                rx = "'^S (?:(?<g>[xy])|-) (?:(?<v>[0-9])|-)$'"
            out += ['  - id: %s' % r['id'], '    name: %s' % r['id'], '    level: 3',
                    '    match:', '      regex: %s' % rx,
                    '    suppress: %s' % dur(r['suppress'])]
            if r['group_by']:
                out.append('    suppress_by: [%s]' % ', '.join(r['group_by']))
            if r.get('max_groups'):
                out.append('    max_groups: %d' % r['max_groups'])
            continue
        if r['type'] == 'amatch':
            out += ['  - id: %s' % r['id'], '    name: %s' % r['id'], '    level: 3',
                    '    match:', "      regex: '^%s(?: (?<ip>\\S+))?$'" % r['head']]
            if 'where' in r:
                out.append("      where: ['%s']" % r['where'])
            if 'time' in r:
                out.append('      time: {%s: k}' % r['time'])
            continue
        out += ['  - id: %s' % r['id'], '    name: %s' % r['id'], '    level: 5',
                '    correlation:', '      type: %s' % r['type'],
                '      rules: [%s]' % ', '.join(r['rules'])]
        if r['group_by']:
            out.append('      group_by: [%s]' % ', '.join(r['group_by']))
        out.append('      timespan: %s' % dur(r['t']))
        if r['type'] == 'value_count':
            out.append('      condition: {field: %s, gte: %d}' % (r['field'], r['n']))
        elif r['type'] == 'event_count':
            out.append('      condition: {gte: %d}' % r['n'])
        if r['suppress'] is not None:
            out.append('      suppress: %s' % dur(r['suppress']))
        if r.get('expire'):
            out.append('      expire: %s' % dur(r['expire']))
        if r.get('max_groups'):
            out.append('    max_groups: %d' % r['max_groups'])
    return '\n'.join(out) + '\n'


# ---------------------------------------------------------------- streams

def stamp(ms):
    d = datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc)
    return d.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (ms % 1000)


def gen_lines(rng, count, f=None, caps=None, conds=None):
    """Lines on a 250 ms grid around a clock that jumps ahead in clusters;
    with a feature f, also its W or K lines (K lines at the calendar's
    midnight and a second around it, as the clock passes), and RFC 3164
    lines (second resolution) for the rfc3164 feature."""
    f = f or {'kind': None, 'base': BASE}
    frng = random.Random(count * 31 + f['base'] % 9973)
    clock = f['base'] + 1000
    lines = []
    marks = []
    if f['kind'] == 'cal':
        m = f['midnight']
        marks = [m + d for d in (-60000, -1000, -1, 0, 1, 999, 1000, 60000, 120000)]
    disorder = rng.choice([0.05, 0.15, 0.3])     # share of lines out of order
    grng = random.Random(caps['seed']) if caps else None
    qrng = random.Random(conds['seed']) if conds else None
    recent = []
    for i in range(count):
        c = rng.random()
        if c < 0.55:
            clock += rng.choice([0, 0, 250, 500, 1000])
        elif c < 0.9:
            clock += rng.choice([1000, 2000, 2500, 3000, 5000])
        elif c < 0.97:
            clock += rng.choice([8000, 10000])
        else:
            clock += rng.choice([30000, 45000])
        t = clock
        c = rng.random()
        if c < disorder * 0.8:
            t -= rng.choice([250, 500, 1000, 2000, 3000, 5000, 8000, 15000])   # within lateness
        elif c < disorder:
            t -= rng.choice([20000, 21000, 30000])                            # at / beyond it
        kind = rng.choice('aaabbbccns')
        g = rng.choice('xxxxxxyyyy-')           # '-': no g, the group ""
        v = rng.choice('12341234123-')          # '-': no v, not a value
        msg = ('%s %s %s' % (kind.upper(), g, v)) if kind != 'n' else 'noise %d' % i
        if rng.random() < 0.04:
            msg = 'message repeated %d times: [ %s]' % (rng.choice([2, 3]), msg)
        fmt = '5'
        if f['kind'] == 'list' and frng.random() < 0.25:
            msg = ('W %s' % frng.choice(LIST_VALUES)) if frng.random() < 0.95 else 'W'
        if f['kind'] == 'cal' and frng.random() < 0.1:
            msg = 'K %d' % i
        if f['kind'] == 'rfc3164':
            c = frng.random()
            if i > 0 and c < 0.03:
                fmt = 'n'          # no stamp: the time of the line before
            elif i > 0 and c < 0.05:
                fmt = 'f'          # Feb 29: in a year without it, stays in the message
            elif c < f['share']:
                fmt = '3'
                t -= t % 1000
        lines.append((t, msg, fmt))
        if f['kind'] == 'rfc3164' and i > count * 0.9 and frng.random() < 0.1:
            # a stamp at the edge of the line before's year window: 30 days
            # before it (the next year then), or a second either side
            e = t - 30 * 86400000 + frng.choice([-1000, 0, 1000])
            if f.get('edge335'):    # or 335 days after it
                e += 365 * 86400000
            lines.append((e - e % 1000, 'S x 1', '3'))
        while marks and clock >= marks[0]:
            lines.append((marks.pop(0), 'K m%d' % i, '5'))
        if grng is not None and grng.random() < caps['share']:
            # a G line: a key of the last two or any of the pool, at an odd
            # millisecond near the clock, some out of order
            if recent and grng.random() < 0.6:
                k = grng.choice(recent[-2:])
            else:
                k = 'k%d' % grng.randrange(caps['keys'])
            recent.append(k)
            gt = clock + grng.randint(0, 999) - grng.choice([0, 0, 0, 0, 2000, 6000, 19000,
                                                            25000])
            lines.append((gt - gt % 1000 if fmt == '3' else gt,
                          'G %s %d' % (k, grng.randint(1, 4)), fmt if fmt in '35' else '5'))
        if qrng is not None and qrng.random() < conds['share']:
            # a Q line: its header's host, program and PRI (none: RFC 3164
            # only), RFC 5424 or RFC 3164 (whole seconds)
            style = qrng.choice(['5', '5', '3', '3n']) if f['kind'] != 'cal' else '5'
            pri = None if style == '3n' else qrng.choice(list(FACILITY)) * 8 + qrng.randrange(8)
            qmsg = 'Q %s %s%s' % (qrng.choice(Q_USERS), qrng.choice(LIST_VALUES),
                                  qrng.choice(Q_KW))
            if qrng.random() < 0.08:
                qmsg = qrng.choice(conds['lists']['msgs'])
            qt = clock + qrng.randint(0, 999)
            if style != '5':
                qt -= qt % 1000
            lines.append((qt, qmsg, ('q', pri, qrng.choice(Q_HOSTS), qrng.choice(Q_PROGS),
                                     '3' if style == '3n' else style)))
    if caps and caps['jump'] and f['kind'] != 'cal':
        # an hour's gap of event time half way
        # half way, led by a G line of a new key: the groups from before are
        # over, and the sweep has not run yet (it runs after the event), so
        # that line finds the cap full of them and drops one without an
        # eviction
        h = len(lines) // 2
        lines = lines[:h] + [(t + 3660000, m, x) for t, m, x in lines[h:]]
        t0 = max(t for t, m, x in lines[:h + 1] if x == '5' or x == '3') + 1
        x3 = lines[h][2] == '3'
        lines.insert(h, (t0 - t0 % 1000 if x3 else t0, 'G k%d 2' % caps['keys'],
                         '3' if x3 else '5'))
        # and before the gap, a burst of new keys that fills every cap
        tb = max(t for t, m, x in lines[:h] if x == '5' or x == '3')
        lines[h:h] = [(tb - tb % 1000 if x3 else tb, 'G k%d %d' % (caps['keys'] + 1 + i, i % 4 + 1),
                       '3' if x3 else '5') for i in range(caps['m'] + 1)]
    if caps and caps['over'] and caps['expire'] and LATENESS == 20000:  # its times assume it
        lines += over_lines(caps, max(r[0] for r in read_times(lines, f)))
    return lines


def over_lines(caps, end):
    """After the stream (in half the seeds whose absence c.gab has an expire
    of 15 s or 40 s): an absence group over behind a live least recently
    updated one, at the cap (rules.md, Memory). A minute after the
    watermark at the end (RFC 3164 edge lines may have put it a year on), a
    look reports every group and 21 s later another drops them (s below).
    Then X at s, reported at s + 10 s; M - 1 new keys Y at s + 12 s, and X
    again with an event at s (out of order: counted, but from before its
    report, so not re-armed and still silent since s) makes Y1 the least
    recently updated. Ys are reported at s + 22 s, live until s + 42 s; X is
    over at s + max(30 s, expire) (report + lateness, silent for expire). A
    look half a second before that, then a new key Z at that very time: the
    sweep has not looked since X became over, and Y1 is live, so X makes the
    room, quietly, not Y1."""
    assert caps['expire'] <= 40000
    s = end + 60000 + 21000
    over = s + max(10000 + LATENESS, caps['expire'])
    out = [(s - 21000, 'noise a', '5'), (s - 1, 'noise b', '5'),  # report, then drop
           (s, 'G k90 2', '5'), (s + 10000, 'noise c', '5')]         # X, reported
    out += [(s + 12000, 'G k%d 2' % (91 + i), '5') for i in range(caps['m'] - 1)]
    out += [(s, 'G k90 2', '5'),                                      # X again, from before
            (s + 22000, 'noise d', '5'),                            # Ys reported
            (over - 500, 'noise e', '5'), (over, 'G k99 2', '5')]    # the look, then Z
    return out


def gen_flood(seed, f):
    """The seed's flood part (its own generator; a quarter of the watchlist
    seeds, whose lines all carry a time): a value_count c.fvc (N 2 or 3,
    suppress shorter than T) and, half way, a burst in time order of 110 to
    160 F lines within T, most of one group, of more distinct values than a
    group keeps (N + min(7N + 64, 4,096), rules.md): past it the value seen
    longest ago is forgotten, and the alerts then count and list the newest
    ones; the lines after the burst move on by its length."""
    r = random.Random(seed * 8191 + 5)
    if f['kind'] != 'list' or r.random() >= 0.25:
        return None
    n = r.choice([2, 3])
    return {'n': n, 't': r.choice([40000, 60000]), 'supp': r.choice([2000, 5000, 12000]),
            'count': r.randint(110, 160), 'gap': r.choice([100, 150, 250]),
            'pool': r.choice([500, 1000, 5000]), 'seed': seed * 8191 + 7}


def flood_rules(fl):
    if not fl:
        return []
    return [dict(id='c.fvc', type='value_count', rules=['m.f'], group_by=['g'], field='fv',
                 n=fl['n'], t=fl['t'], suppress=fl['supp'])]


def flood_lines(fl, lines):
    if not fl:
        return lines
    r = random.Random(fl['seed'])
    h = len(lines) // 2
    t0 = max(t for t, m, x in lines[:h]) + 1
    burst = [(t0 + i * fl['gap'], 'F %s %d' % (r.choice('xxxxxxxy'), r.randrange(fl['pool'])),
              '5') for i in range(fl['count'])]
    d = (fl['count'] * fl['gap'] // 1000 + 2) * 1000    # whole seconds: RFC 3164 Q lines
    return lines[:h] + burst + [(t + d, m, x) for t, m, x in lines[h:]]


def gen_burst(seed):
    """The seed's burst part (its own generator, a third of the seeds): X
    lines (`XA G V`, `XB G V`, `XC G V`, G z1 or z2) for m.xa, m.xb, m.xc and
    an event_count c.xec of XA and XB (N 1 to 3, T 15 to 60 s, mostly a
    suppress shorter than T: a longer one keeps fewer times), a value_count c.xvc of
    XA and XB (field xv), a temporal c.xtp of the three and a
    temporal_ordered c.xto, suppress shorter than T or not; after the
    stream, 150 to 300 of them within the lateness, in time order, reversed,
    shuffled or reversed by blocks, most of z1 and of XA, of 2 to 12
    values, some (in half the seeds) as `message repeated N times` (2 to
    12): more times than event_count keeps (N + min(7N + 64, 4,096),
    rules.md), more than 8 sightings of a value or listed rule."""
    r = random.Random(seed * 7919 + 11)
    if r.random() >= 0.35:
        return None
    def supp(t):
        return r.choice([None, 500, 2000, t, 2 * t])
    t1, t2, t3, t4 = (r.choice([15000, 30000, 60000]), r.choice([1000, 2000, 5000, 10000]),
                      r.choice([1000, 2000, 5000, 10000]), r.choice([5000, 10000, 30000]))
    rules = [dict(id='c.xec', type='event_count', rules=['m.xa', 'm.xb'], group_by=['g'],
                  n=r.choice([1, 2, 3]), t=t1, suppress=r.choice([500, 2000, 500, None])),
             dict(id='c.xvc', type='value_count', rules=['m.xa', 'm.xb'], group_by=['g'],
                  field='xv', n=r.choice([2, 3]), t=t2, suppress=supp(t2)),
             dict(id='c.xtp', type='temporal', rules=['m.xa', 'm.xb', 'm.xc'], group_by=['g'], n=3,
                  t=t3, suppress=supp(t3)),
             dict(id='c.xto', type='temporal_ordered', group_by=['g'],
                  rules=r.choice([['m.xa', 'm.xb'], ['m.xa', 'm.xb', 'm.xc'],
                                  ['m.xa', 'm.xa', 'm.xb']]), t=t4, suppress=supp(t4))]
    return {'rules': rules, 'count': r.randint(150, 300), 'span': r.choice([0.5, 0.8, 0.95]),
            'order': r.choice(['asc', 'desc', 'shuffle', 'blocks']),
            'pool': r.choice([2, 4, 12]), 'seed': seed * 7919 + 13,
            'reps': r.choice([0, 0, 0.05, 0.2])}


def burst_lines(b, lines):
    if not b:
        return lines
    r = random.Random(b['seed'])
    t0 = max(t for t, m, x in lines) + 1000
    span = int(LATENESS * b['span'])
    ts = sorted(t0 + r.randrange(span) for _ in range(b['count']))
    out = [(t, '%s %s %d' % (r.choice(['XA'] * 6 + ['XB'] * 3 + ['XC']),
                             r.choice(['z1'] * 5 + ['z2']), r.randrange(b['pool'])), '5')
           for t in ts]
    # some repeated (rules.md: N occurrences at one time, each counted)
    out = [(t, 'message repeated %d times: [ %s]' % (r.randint(2, 12), m)
            if r.random() < b['reps'] else m, x) for t, m, x in out]
    if b['order'] == 'desc':
        out.reverse()
    elif b['order'] == 'shuffle':
        r.shuffle(out)
    elif b['order'] == 'blocks':
        k = r.randint(5, 30)
        out = [x for i in range(0, len(out), k) for x in reversed(out[i:i + k])]
    return lines + out


def gen_chain(seed):
    """The seed's chain part (its own generator, one seed in 20, a lateness
    of 6 s or more): a temporal_ordered c.yto of YA then YB (`YA z1`), and
    after the stream 4,300 to 4,500 YA lines in time order within the
    lateness (more times than a group keeps: 4,096, rules.md), then a few YA
    and YB out of order from the first 100 of them (before the last time
    folded: counted in trimmed; they may miss a sequence, never make a
    wrong one), and a YB that ends a sequence with the last YA."""
    r = random.Random(seed * 104729 + 3)
    if r.random() >= 0.05 or LATENESS < 6000:
        return None
    return {'rules': [dict(id='c.yto', type='temporal_ordered', rules=['m.ya', 'm.yb'],
                           group_by=['g'], t=r.choice([5000, 10000]), suppress=None)],
            'count': r.randint(4300, 4500), 'late': r.randint(3, 10), 'seed': seed * 104729 + 5}


def chain_lines(c, lines):
    if not c:
        return lines
    r = random.Random(c['seed'])
    t0 = max(t for t, m, x in lines) + 1000
    gap = int(LATENESS * 0.85) // c['count']
    out = [(t0 + i * gap, 'YA z1', '5') for i in range(c['count'])]
    out += [(t0 + r.randrange(100) * gap + r.randrange(gap), r.choice(['YA z1'] * 3 + ['YB z1']),
             '5') for _ in range(c['late'])]
    out.append((t0 + c['count'] * gap, 'YB z1', '5'))
    return lines + out


def gen_oldcap(seed):
    """The seed's old-sighting part (its own generator, two seeds in five):
    O lines (`OA G V`, `OB G V`, `OC G V`, G z1 to z4) for m.oa, m.ob, m.oc,
    a value_count c.ovc of the three (field xv, N 2 or 3) and a temporal
    c.otp of OA and OB or of the three, T 3 % to 6 % of the lateness, a
    suppress of none, T / 2, T or 3T. After the stream, per group: other
    values (OB, OC, values 1 to 9) early, then 8 to 11 sightings of `OA G 0`
    late (T / 2 apart or more: none thinned; some closer), then one to four
    OA 0 older than all of them (rules.md, value_count's 8 sightings: the
    arriving one trimmed, but its window (t - T, t] still judged), at the
    other values' times, 1 ms and T either side of them, or anywhere early:
    windows that need the old sighting, that hold N without it, that hold
    too few, inside a suppression (of an early firing or of the old
    sighting before) and past it. All within the lateness."""
    r = random.Random(seed * 6151 + 29)
    if r.random() >= 0.4 or LATENESS < 4000:
        return None
    t = max(100, int(LATENESS * r.choice([0.03, 0.045, 0.06])))
    def supp():
        return r.choice([None, t // 2, t, 3 * t])
    rules = [dict(id='c.ovc', type='value_count', rules=['m.oa', 'm.ob', 'm.oc'],
                  group_by=['g'], field='xv', n=r.choice([2, 3]), t=t, suppress=supp()),
             dict(id='c.otp', type='temporal', group_by=['g'], t=t, suppress=supp(),
                  **r.choice([dict(rules=['m.oa', 'm.ob'], n=2),
                              dict(rules=['m.oa', 'm.ob', 'm.oc'], n=3)]))]
    return {'rules': rules, 't': t, 'groups': r.randint(2, 4), 'seed': seed * 6151 + 31}


def oldcap_lines(o, lines):
    if not o:
        return lines
    r = random.Random(o['seed'])
    T = o['t']
    b = max(t for t, m, x in lines) + 1000
    early, late, old = [], [], []
    for gi in range(o['groups']):
        g = 'z%d' % (gi + 1)
        # the other values: k distinct ones, 1 or 2 sightings each, in [b, b + 2T]
        vals = r.sample(range(1, 10), r.choice([0, 1, 1, 2, 2, 3]))
        heads = r.choice([['OB'], ['OB', 'OC'], ['OB', 'OC'], ['OC']])
        if r.random() < 0.15:
            heads = heads + ['OA']      # OA early too: the temporal's regular path
        r.shuffle(heads)
        ets = []
        for v in vals:
            for _ in range(r.choice([1, 1, 2])):
                x = b + r.randrange(2 * T)
                early.append((x, '%s %s %d' % (heads[len(ets) % len(heads)], g, v), '5'))
                ets.append(x)
        # OA 0 late: from b + 4T on, T / 2 + 1 to 3T / 4 apart (some closer: thinned)
        x = b + 4 * T + r.randrange(T)
        for _ in range(r.randint(8, 11)):
            late.append((x, 'OA %s 0' % g, '5'))
            x += T // 2 + 1 + r.randrange(T // 4) if r.random() < 0.85 else \
                1 + r.randrange(T // 2)
        # OA 0 older than every late one (within [b, b + 3T])
        mine = []
        for _ in range(r.randint(1, 4)):
            if ets and r.random() < 0.7:
                y = r.choice(ets) + r.choice([0, 1, -1, T - 1, T, T + 1, T // 2])
            else:
                y = b + r.randrange(3 * T)
            mine.append((max(b, min(y, b + 3 * T)), 'OA %s 0' % g, '5'))
        if r.random() < 0.7:
            mine.sort()
        old.append(mine)
    out = sorted(early) + sorted(late)
    while any(old):
        out.append(r.choice([q for q in old if q]).pop(0))
    return lines + out


def long_lines(seed, lines):
    """Some RFC 5424 lines made long (their own generator): an SD element
    padded so that the line is just under 1 KiB, or cut at 1 KiB inside a
    multi-byte character or after it, or well past it (rules.md, Alerts)."""
    lrng = random.Random(seed * 131 + 7)
    share = lrng.choice([0, 0.03, 0.1])
    return [(t, m, 'L%d' % lrng.choice([900, 970, 972, 973, 974, 975, 977, 1100]))
            if x == '5' and lrng.random() < share else (t, m, x) for t, m, x in lines]


# RFC 3164 stamps are local time (rules.md): the correlator's TZ. The
# rfc3164 seeds run it in one of these (TZ, zone), POSIX fixed offsets (no
# tzdata needed) and, where tzdata is installed, zones with daylight saving
# time (the edge lines 30 days before a stamp then fall on the other side of
# a change: New York and Paris in March 2028).
FIXED_TZS = [('UTC', timezone.utc), ('<+07>-7', timezone(timedelta(hours=7))),
             ('<+0545>-5:45', timezone(timedelta(hours=5, minutes=45))),
             ('<-0930>9:30', timezone(-timedelta(hours=9, minutes=30)))]
NAMED_TZS = ['America/New_York', 'Europe/Paris', 'Australia/Lord_Howe']
ZONE = [None, timezone.utc]        # the seed at hand's (TZ, zone)


CAL_ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Adelaide', 'Australia/Lord_Howe']


def cal_zones():
    """The zones a calendar may name here: none without tzdata (and without
    Python's zoneinfo, which is the model's own reading of them)."""
    try:
        for n in CAL_ZONES:
            ZoneInfo(n)
        return CAL_ZONES
    except Exception:
        return []


def ZoneInfo(name):
    import zoneinfo
    return zoneinfo.ZoneInfo(name)


def tz_choices():
    out = list(FIXED_TZS)
    try:
        import zoneinfo
        out += [(n, zoneinfo.ZoneInfo(n)) for n in NAMED_TZS]
    except Exception:              # no tzdata: the fixed offsets alone
        pass
    return out


def wall(ms):
    """The local wall-clock time (aware) of ms in the seed's zone."""
    return datetime.fromtimestamp(ms / 1000.0, tz=ZONE[1])


def stamp3164(ms):
    d = wall(ms)
    return d.strftime('%b ') + '%2d' % d.day + d.strftime(' %H:%M:%S')


def render_line(t, m, fmt):
    if isinstance(fmt, tuple):           # a Q line: its own header
        _, pri, host, prog, style = fmt
        p = '<%d>' % pri if pri is not None else ''
        if style == '5':
            return '%s1 %s %s %s - - - %s\n' % (p, stamp(t), host, prog, m)
        return '%s%s %s %s: %s\n' % (p, stamp3164(t), host, prog, m)
    if fmt == '5':
        return '<38>1 %s h p - - - %s\n' % (stamp(t), m)
    if fmt[0] == 'L':       # a long line: its SD padded, the cut at 1 KiB in it
        return '<38>1 %s h p - - [x@1 p="%s\u20ac\u20ac\u00e9y"] %s\n' % (stamp(t), 'x' * int(fmt[1:]),
                                                                      m)
    if fmt == '3':
        return '<38>%s h p: %s\n' % (stamp3164(t), m)
    if fmt[0] == 'o':       # a stamp at a fixed offset (minutes), no zone given
        d = datetime.fromtimestamp(t / 1000.0, tz=timezone(timedelta(minutes=int(fmt[1:]))))
        return '<38>%s %2d %s h p: %s\n' % (d.strftime('%b'), d.day, d.strftime('%H:%M:%S'), m)
    return '<38>%s%s\n' % (FEB29 if fmt == 'f' else '', m)


# architecture.md: an RFC 3164 header that cannot be read stays in the message
FEB29 = 'Feb 29 12:00:00 h p: '


def feb29_ms():
    """The instant whose local wall time is 2028-02-29 12:00:00 (FEB29's text)."""
    return int(datetime(2028, 2, 29, 12, tzinfo=ZONE[1]).timestamp() * 1000)


def render(lines):
    return ''.join(render_line(*x) for x in lines)


def infer_year(text_ms, prev, year):
    """rules.md: the year that puts the stamp more than 30 days before and at
    most 335 days after the line before's event time (the first: --year);
    where a leap day leaves no such year, the stamp in the year of the time
    304 days after that one, a year earlier if it is then more than 31 days
    after that time, a year later if 334 days or more before it. None: Feb 29
    in a year without it (untimed). Wall times are the local ones of the
    seed's zone; the windows are on instants."""
    d = text_ms if isinstance(text_ms, datetime) else wall(text_ms)
    d = d.replace(tzinfo=ZONE[1], fold=0)

    def put(y):
        # a wall time that a change of offset skips or repeats: the offset
        # before the change (rules.md), Python's fold=0
        try:
            return int(d.replace(year=y).timestamp() * 1000)
        except ValueError:
            return None                  # Feb 29 of a year without one
    if prev is None:
        return put(year)
    py = wall(prev).year
    for y in range(py - 1, py + 2):
        c = put(y)
        if c is not None and prev - 30 * 86400000 < c <= prev + 335 * 86400000:
            return c
    now = prev + 304 * 86400000
    y = wall(now).year
    # judged on the stamp's wall time in y (Feb 29 as the day after Feb 28)
    c = int((datetime(y, d.month, 28 if (d.month, d.day) == (2, 29) else d.day, d.hour,
                      d.minute, d.second, tzinfo=ZONE[1])
             + timedelta(days=1 if (d.month, d.day) == (2, 29) else 0)).timestamp() * 1000)
    if c > now + 31 * 86400000:
        y -= 1
    elif c <= now - 334 * 86400000:
        y += 1
    return put(y)


# ---------------------------------------------------------------- features
# Each seed also draws (from its own generator, so the rest stays as it was)
# one of: a watchlist (W lines, m.w / m.wn / m.wz alerting match rules with
# `where`), a calendar (K lines, m.kin / m.kout with `time`) with the stream
# placed across the calendar's boundary, or RFC 3164 lines with --year around
# a new year. Their models: watchlists.md "Matching", calendars.md "When a
# calendar holds", rules.md (RFC 3164 years).

LIST_ENTRIES = ['192.0.2.1', '198.51.100.0/24', '2001:db8::1', '2001:db8:aa::/48',
                'evil.example.com', '*.phish.example', '.tk', '010.001.002.003',
                '::ffff:203.0.113.0/120', 'fe80::/10', '::/0', 'Mozilla/5.0',
                'Example.ORG.', '172.016.000.000/12', 'D41D8CD98F00B204E9800998ECF8427E']
LIST_VALUES = ['192.0.2.1', '192.0.2.2', '198.51.100.7', '198.51.100.255', '198.51.101.1',
               '10.1.2.3', '010.1.2.3', '10.1.2.30', '2001:db8::1', '2001:DB8:0:0::1',
               '2001:db8:aa:ffff::5', '2001:db8:ab::1', '::ffff:192.0.2.1',
               '::ffff:198.51.100.9', '203.0.113.5', '203.0.114.5', 'a.evil.example.com',
               'EVIL.example.com.', 'evil.example.com', 'evil-example.com', 'example.com',
               'example.com.au', 'x.phish.example', 'phish.example', 'phish.example.org',
               'foo.tk', 'tk', 'fe80::1%eth0', 'fe80::1%', 'fe81::1', '1.2.3.256',
               'www.example.com/x', 'Mozilla/5.0', 'mozilla/5.0', 'example.org', 'a.Example.Org',
               '172.31.255.255', '172.32.0.0', 'd41d8cd98f00b204e9800998ecf8427e',
               'd41d8cd98f00b204e9800998ecf8427f']

HEX = set('0123456789abcdefABCDEF')
LABEL = re.compile(r'^[A-Za-z0-9_-]{1,63}$')


def v4(text):
    """watchlists.md: four decimal octets of 1-3 digits, zero padding decimal."""
    parts = text.split('.')
    if len(parts) != 4 or not all(p.isdigit() and 1 <= len(p) <= 3 for p in parts):
        return None
    if any(int(p) > 255 for p in parts):
        return None
    return ipaddress.IPv4Address('.'.join(str(int(p)) for p in parts))


def domain(text):
    name = text[:-1] if text.endswith('.') else text
    labels = name.split('.')
    if len(labels) < 2 or len(name) > 253 or not all(LABEL.match(x) for x in labels) \
            or labels[-1].isdigit():
        return None
    return name.lower()


def entry_kind(e):
    """An entry as stored: ('net', network) / ('dom', name) / ('hash', h) / ('str', s)."""
    a, _, n = e.partition('/')
    if n and (a.replace('.', '').isdigit() or (':' in a and set(a) <= HEX | set(':.'))):
        if a.replace('.', '').isdigit():
            ip = v4(a)
            return ('net', ipaddress.ip_network('%s/%s' % (ip, n)))
        net = ipaddress.ip_network(e)
        if net.version == 6 and net.network_address.ipv4_mapped is not None \
                and net.prefixlen >= 96:
            return ('net', ipaddress.ip_network('%s/%d' % (net.network_address.ipv4_mapped,
                                                           net.prefixlen - 96)))
        return ('net', net)
    if v4(e) is not None:
        return ('net', ipaddress.ip_network('%s/32' % v4(e)))
    if ':' in e:
        a = ipaddress.IPv6Address(e)
        if a.ipv4_mapped is not None:
            return ('net', ipaddress.ip_network('%s/32' % a.ipv4_mapped))
        return ('net', ipaddress.ip_network('%s/128' % a))
    if len(e) in (32, 40, 64) and set(e) <= HEX:
        return ('hash', e.lower())
    if e.startswith('*.'):
        return ('dom', e[2:].lower())
    if e.startswith('.'):
        return ('dom', e[1:].lower())
    if domain(e):
        return ('dom', domain(e))
    return ('str', e)


def in_list(entries, val):
    """watchlists.md "Matching"."""
    if val is None:
        return False
    kinds = [entry_kind(e) for e in entries]
    addr = v4(val)
    if addr is None and ':' in val and set(val.split('%')[0]) <= HEX | set(':.'):
        text = val
        if '%' in val:
            zone = val.split('%', 1)[1]
            if not re.match(r'^[A-Za-z0-9_.-]{1,64}$', zone):
                text = None
            else:
                text = val.split('%')[0]
        try:
            addr = ipaddress.IPv6Address(text) if text else None
        except ValueError:
            addr = None
        if addr is not None and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
    if addr is not None:
        for k, n in kinds:
            if k != 'net':
                continue
            if n.version == addr.version and addr in n:
                return True
            if addr.version == 4 and n.version == 6 and n.prefixlen <= 96 and \
                    ipaddress.IPv6Address('::ffff:%s' % addr) in n:
                return True
        return False
    if domain(val):
        name = domain(val).split('.')
        doms = {n for k, n in kinds if k == 'dom'}
        return any('.'.join(name[i:]) in doms for i in range(len(name)))
    if len(val) in (32, 40, 64) and set(val) <= HEX:
        return ('hash', val.lower()) in kinds
    return ('str', val) in kinds


def gen_feature(seed):
    frng = random.Random(seed * 7919 + 17)
    kind = ['list', 'cal', 'rfc3164'][seed % 3]      # each in any three seeds
    f = {'kind': kind, 'base': BASE, 'year': 2026, 'seed': seed}
    if kind == 'list':
        f['entries'] = frng.sample(LIST_ENTRIES, frng.randint(3, len(LIST_ENTRIES)))
        f['via'] = frng.choice(['dir', 'option'])
    elif kind == 'cal':
        # an offset whose local midnight falls inside the stream's first minutes
        off = frng.choice([0, 7 * 60, -(5 * 60 + 30), 14 * 60, -14 * 60, 3, -1])
        day = datetime(2026, 3, 2, tzinfo=timezone.utc)      # a Monday
        midnight = int((day - timedelta(minutes=off)).timestamp() * 1000)
        f['off'] = off
        f['midnight'] = midnight
        f['base'] = midnight - frng.choice([60000, 120000, 180000])
        shape = frng.choice(['first', 'last', 'range', 'weekly', 'night', 'except'])
        f['shape'] = shape
        f['local_day'] = day          # the local date that starts at midnight
        # in every other calendar seed (its own generator, so the others stay
        # as they were), k in a named zone instead, its boundary a change of the
        # zone's offset in 2026 (calendars.md "Time zones"): the boundary
        # instant is the change, and k's hours start or end at the local
        # time the clock leaves or reaches there, or half an hour off
        zrng = random.Random(seed * 433 + 7)
        zones = cal_zones()
        if zones and (seed // 3) % 2 == 0:         # every other calendar seed
            name = zrng.choice(zones)
            change, before = zrng.choice(dst_changes(ZoneInfo(name), 2026))
            f['zone'] = name
            f['off'] = before
            f['midnight'] = change
            f['base'] = change - zrng.choice([60000, 120000, 180000])
            loc = datetime.fromtimestamp(change // 1000, tz=ZoneInfo(name))
            f['local_day'] = datetime(loc.year, loc.month, loc.day, tzinfo=timezone.utc)
            after = loc.hour * 60 + loc.minute            # the wall clock it reaches
            left = (after + before - int(loc.utcoffset().total_seconds()) // 60) % 1440
            marks = [after, left, (after + 30) % 1440, (left - 30) % 1440, (after + 90) % 1440,
                     (left + 90) % 1440]
            # a range that holds the minute the clock reaches or the one it
            # leaves, not both: one a reading at the old offset gets wrong
            inside = lambda m, a, b: (a <= m < b) if a < b else (m >= a or m < b)
            st, en = after, left
            for _ in range(50):
                st, en = zrng.sample(marks, 2)
                if st != en and inside(after, st, en) != inside(left, st, en):
                    break
            f['shape'] = 'zone'
            f['zone_weekly'] = (zrng.choice([DAYS, [DAYS[loc.weekday()]]]), st, en or 1440)
    else:
        # across a new year, or 30 days after a Feb 29 (the edge lines then
        # fall on Feb 29 / Mar 1, where a leap day leaves no year in the window)
        f['year'] = frng.choice([2025, 2025, 2028])
        start = (12, 31, 23, 57) if f['year'] == 2025 else (3, 30, 23, 48)
        # the correlator's TZ (its own generator): the start is local time
        tzs = tz_choices()
        f['tz'] = tzs[random.Random(seed * 13 + 5).randrange(len(tzs))]
        f['base'] = int(datetime(f['year'], *start, tzinfo=f['tz'][1]).timestamp() * 1000)
        f['share'] = frng.choice([0.3, 0.7, 1.0])
        drng = random.Random(seed * 389 + 1)
        if not isinstance(f['tz'][1], timezone) and drng.random() < 0.5:
            # a daylight-saving change of the zone a few minutes into the
            # stream (its own generator): the hour that repeats or never comes
            f['year'] = 2026
            f['change'], f['before'] = drng.choice(dst_changes(f['tz'][1], 2026))
            f['base'] = f['change'] - drng.choice([60000, 180000, 300000])
        elif drng.random() < 0.4:
            # from 2027-06-01: the edge lines 335 days after a stamp, with
            # Feb 29 2028 inside the window (a second past it no year holds)
            f['year'] = 2027
            f['edge335'] = True
            f['base'] = int(datetime(2027, 6, 1, tzinfo=f['tz'][1]).timestamp() * 1000)
    return f


def dst_changes(zone, year):
    """[(instant ms, offset minutes before it)] of the zone's changes in year."""
    off = lambda ms: int(datetime.fromtimestamp(ms / 1000.0, tz=zone).utcoffset()
                         .total_seconds()) // 60
    out = []
    t = int(datetime(year, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
    end = int(datetime(year + 1, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
    while t < end:
        if off(t) != off(t + 86400000):
            lo, hi = t, t + 86400000       # off(lo) != off(hi): the change in (lo, hi]
            while hi - lo > 60000:
                mid = (lo + hi) // 2 // 60000 * 60000
                lo, hi = (mid, hi) if off(mid) == off(lo) else (lo, mid)
            out.append((hi, off(lo)))
        t += 86400000
    return out


def dst_lines(seed, f, lines):
    """In a stream across a change of offset, some RFC 3164 lines of the
    hour after it stamped as by a device that kept the offset before (their
    own generator): stamps in the hour that never came, or in the first
    pass of the hour that repeats."""
    if 'change' not in f:
        return lines
    r = random.Random(seed * 577 + 2)
    c = f['change']
    return [(t, m, 'o%d' % f['before'])
            if x == '3' and c <= t < c + 3600000 and r.random() < 0.3 else (t, m, x)
            for t, m, x in lines]


def tz_text(off):
    if off == 0:
        return 'UTC'
    return '%s%02d:%02d' % ('+' if off > 0 else '-', abs(off) // 60, abs(off) % 60)


def cal_spec(f):
    """The calendars of the feature: YAML text, and a model {name: calendar}
    (off: minutes east of UTC; dates: (first, last) local days; weekly:
    (days, start, end) minutes; except: names)."""
    d = f['local_day']
    prev = d - timedelta(days=1)
    off = f['off']
    shape = f['shape']
    cals = {}
    if shape == 'zone':           # hours around a change of offset, nothing else
        cals['k'] = {'weekly': [f['zone_weekly']]}
    elif shape == 'first':          # a holiday that starts at the midnight
        cals['k'] = {'dates': [(d.date(), d.date())]}
    elif shape == 'last':         # one that ends there
        cals['k'] = {'dates': [(prev.date(), prev.date())]}
    elif shape == 'range':
        cals['k'] = {'dates': [((prev - timedelta(days=3)).date(), prev.date())]}
    elif shape == 'weekly':       # hours starting at midnight on Monday
        cals['k'] = {'weekly': [(['mon'], 0, 2)]}
    elif shape == 'night':        # Sunday's night into Monday, until 00:01
        cals['k'] = {'weekly': [(['sun'], 23 * 60 + 58, 1)]}
    else:                         # every day, except a holiday starting at midnight
        cals['k'] = {'weekly': [(DAYS, 0, 1440)], 'except': ['hol']}
        cals['hol'] = {'off': off, 'dates': [(d.date(), d.date())]}
    cals['k']['off'] = off
    if f.get('zone'):
        cals['k']['zone'] = f['zone']
    k = cals['k']
    # the seed's extras (their own generator, so the rest stays as it was):
    # more date ranges (overlapping, out of order), several `except`
    # calendars in other offsets whose boundary is the same instant (weekly
    # minutes from it, or the local day that starts or ends there), one with
    # an `except` of its own
    x = random.Random(f.get('seed', 0) * 211 + 3)
    if shape == 'zone':           # (which would hide the change: k holding all day)
        x = random.Random()
        x.random = lambda: 1.0
    if x.random() < 0.5:
        ds = k.setdefault('dates', [])
        for _ in range(x.randint(1, 3)):
            a = d + timedelta(days=x.choice([-9, -2, -1, 0, 1, 5]))
            ds.insert(x.randrange(len(ds) + 1),
                      (a.date(), (a + timedelta(days=x.choice([0, 0, 1, 3]))).date()))
    if x.random() < 0.6:
        for i in range(x.randint(1, 3)):
            name = 'e%d' % i
            o = x.choice([0, 60, -180, 330, 765, -570, 14 * 60, -14 * 60, off])
            loc = datetime.fromtimestamp(f['midnight'] / 1000.0, tz=timezone.utc) + \
                timedelta(minutes=o)
            mod = loc.hour * 60 + loc.minute
            c = {'off': o}
            if x.random() < 0.6:
                dur = x.choice([1, 2, 1440 - mod, 1441 - mod if mod else 1])
                if x.random() < 0.5:       # before the instant, up to it
                    st = loc - timedelta(minutes=dur)    # the day it starts on
                    c['weekly'] = [([DAYS[st.weekday()]], st.hour * 60 + st.minute,
                                    mod or 1440)]
                else:
                    c['weekly'] = [([DAYS[loc.weekday()]], mod, (mod + dur) % 1440 or 1440)]
            else:                          # the local day that holds the instant, or the one before
                day = (loc - timedelta(days=x.choice([0, 1]))).date()
                c['dates'] = [(day, day)]
            if i == 0 and x.random() < 0.3:
                c['except'] = ['e9']
                cals['e9'] = {'off': x.choice([0, off, 60]), 'weekly': [(DAYS, 0, 1440)],
                              'dates': [(d.date(), d.date())]}
                if x.random() < 0.5:
                    cals['e9']['weekly'] = [(['mon', 'sun'], 23 * 60 + 59, 1)]
            if c.get('weekly') and c['weekly'][0][1] == c['weekly'][0][2]:
                c['weekly'] = [(c['weekly'][0][0], 0, 1440)]
            cals[name] = c
            k.setdefault('except', []).append(name)
    ds = lambda x: x.strftime('%Y-%m-%d')
    hm = lambda m: '%02d:%02d' % (m // 60, m % 60)
    y = ['calendars:']
    for name, c in cals.items():
        y += ['  - name: %s' % name,
              '    timezone: %s' % (c['zone'] if c.get('zone') else '"%s"' % tz_text(c['off']))]
        if c.get('dates'):
            y.append('    dates: [%s]' % ', '.join(
                '"%s"' % ds(a) if a == b else '"%s..%s"' % (ds(a), ds(b)) for a, b in c['dates']))
        if c.get('weekly'):
            y.append('    weekly: [%s]' % ', '.join(
                '{days: [%s], hours: "%s-%s"}' % (', '.join(days), hm(st), hm(en))
                for days, st, en in c['weekly']))
        if c.get('except'):
            y.append('    except: [%s]' % ', '.join(c['except']))
    return '\n'.join(y) + '\n', cals


DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']


def cal_holds(cals, name, t):
    """calendars.md "When a calendar holds", at t (ms UTC): a local date in
    dates or a weekly range over the local weekday and time, and none of
    its except calendars (each in its own offset) holding. A calendar in a
    named zone reads the zone's wall clock at t (Python's zoneinfo): its
    offset then, so a local time the clock skips never comes and one it
    repeats comes twice."""
    c = cals[name]
    off = c['off']
    if c.get('zone'):
        off = int(datetime.fromtimestamp(t // 1000, tz=ZoneInfo(c['zone'])).utcoffset()
                  .total_seconds()) // 60
    local = datetime.fromtimestamp(t / 1000.0, tz=timezone.utc) + timedelta(minutes=off)
    tod = (t + off * 60000) % 86400000
    day = local.date()
    held = any(a <= day <= b for a, b in c.get('dates', []))
    wd = DAYS[local.weekday()]
    yd = DAYS[(local.weekday() + 6) % 7]
    for days, start, end in c.get('weekly', []):
        if start < end:
            held = held or (wd in days and start * 60000 <= tod < end * 60000)
        else:                          # past midnight: the night of the day it starts
            held = held or (wd in days and tod >= start * 60000) \
                or (yd in days and tod < end * 60000)
    return held and not any(cal_holds(cals, e, t) for e in c.get('except', []))


# ---------------------------------------------------------------- the model

def absence_msg(last):
    """rules.md: an absence alert's message (and so that of a firing of a
    correlation it completes)."""
    d = datetime.fromtimestamp(last // 1000, tz=timezone.utc)
    return 'no event of the watched rules since %s.%06dZ' % (d.strftime('%Y-%m-%dT%H:%M:%S'),
                                                              last % 1000 * 1000)


RAW_KEEP = 10           # rules.md, Alerts: a group's last 10 lines
RAW_MAX = 1024          # 1 KiB of each


def json_text(b):
    """alerts.md: bytes that are not valid UTF-8 become U+FFFD (each byte of
    a sequence cut short, as one cut at RAW_MAX, is one)."""
    out = []
    i = 0
    while i < len(b):
        c = b[i]
        n = 1 if c < 0x80 else 2 if 0xc2 <= c < 0xe0 else 3 if 0xe0 <= c < 0xf0 else \
            4 if 0xf0 <= c < 0xf5 else 0
        try:
            out.append(b[i:i + n].decode('utf-8') if n else '\ufffd')
        except UnicodeDecodeError:
            n = 0
            out.append('\ufffd')
        i += max(n, 1)
    return ''.join(out)


class Alert:
    def __init__(self, rule, group, start, end, count, msg, values=None, trig=None, raw=(),
                 ring=None):
        self.rule, self.group, self.start, self.end = rule, group, start, end
        self.count, self.msg, self.values = count, msg, values
        self.trig = trig          # model only: the window's events, for tolerances
        self.ring = ring          # model only: the group's raw lines (time, bytes)
        if ring is not None:
            raw = self.raw_from(start)
        self.raw = tuple(raw)

    def raw_from(self, start):
        """rules.md, Alerts: the group's last lines of events in the window
        (start to end, both included), in arrival order."""
        return tuple(json_text(x) for t, x in self.ring if start <= t <= self.end)

    def key(self):
        return (self.rule, self.group, self.start, self.end, self.count, self.msg,
                tuple(sorted(self.values)) if self.values is not None else None, self.raw)

    def __repr__(self):
        s = '%s g=%r %s..%s count=%d msg=%r' % (self.rule, self.group, stamp(self.start),
                                                 stamp(self.end), self.count, self.msg)
        if self.values is not None:
            s += ' values=%s' % ','.join(sorted(str(v) for v in self.values))
        if self.raw:
            s += ' raw=[%s]' % ' | '.join(x[:60] + ('...(%d)' % len(x) if len(x) > 60 else '')
                                          for x in self.raw)
        return s


class Corr:
    """One correlation rule: its groups, each with every event it counted."""

    def __init__(self, r, model):
        self.r = r
        self.model = model
        self.supp = r['suppress'] if r['suppress'] is not None else r['t']
        self.groups = {}           # in order of last update, least recent first

    def group(self, key, t):
        """The group of key, made the most recently updated; a new one first
        makes room under max_groups (rules.md, Memory)."""
        gs = self.groups.pop(key, None)
        if gs is None:
            if self.r.get('max_groups'):
                self.model.make_room(self.r, self.groups, self.done, t)
            gs = {'ev': [], 'supp': None, 'used': None, 'last': None, 'reported': None,
                  'raw': [], 'kept': [], 'vt': {}, 'byid': {}, 'folded': [None, None]}
        self.groups[key] = gs
        return gs

    @staticmethod
    def keep_raw(gs, t, raw):
        """rules.md, Alerts: each event counted for a group (late ones and a
        value_count's without its field are not) keeps its line, 1 KiB of it,
        with its time, the last 10; a line the same (time and text) as the
        one kept last is kept once (a repeated line, a line of several rules).
        A correlation's firing keeps the line that fired it, at the firing's
        end; an absence's firing has none."""
        if raw is None:
            return
        x = (t, raw[:RAW_MAX])
        if gs['raw'] and gs['raw'][-1] == x:
            return
        gs['raw'] = (gs['raw'] + [x])[-RAW_KEEP:]

    def done(self, gs):
        """rules.md: a group that can no longer fire nor suppress anything, the
        sweep's to drop: its last event before W - lateness - T (no window or
        sequence with an event to come can hold it) and W - lateness at or past
        its suppression's end. An absence's once it was reported, has been
        silent for its expire (default 24 h) and W - lateness has passed its
        report."""
        w = self.model.w - LATENESS
        if self.r['type'] == 'absence':
            return gs['reported'] is not None and \
                self.model.w - gs['last'] >= (self.r.get('expire') or 86400000) and \
                w >= gs['reported']
        times = [e['t'] if isinstance(e, dict) else e[0] for e in gs['ev']] + \
            [xs[-1] for xs in gs['vt'].values() if xs]
        return (not times or max(times) < w - self.r['t']) and \
            (gs['supp'] is None or gs['supp'] <= w)

    # window types: event_count, value_count, temporal
    def window(self, gs, s):
        t = self.r['t']
        return [e for e in gs['ev'] if s - t < e[0] <= s]

    def check(self, win):
        r = self.r
        if r['type'] == 'event_count':
            if len(win) < r['n']:
                return None
            times = sorted(e[0] for e in win)
            return times[-r['n']], r['n'], None
        vals = {e[2] for e in win}
        if len(vals) < r['n']:
            return None
        return min(e[0] for e in win), len(vals), vals

    def trim(self, lo, hi=None):
        """One more time forgotten at a cap (rules.md: the rule's `trimmed`);
        [lo, hi] where rules.md gives a bound only."""
        t = self.model.trimmed.setdefault(self.r['id'], [0, 0])
        t[0] += lo
        t[1] += lo if hi is None else hi

    def bounds(self, gs):
        """L = W - lateness (W the watermark before the event's line; rules.md)
        and the time at or before which no window with an event to come (at
        or after L) that may fire can hold a time: L - T, or the end of the
        group's suppression - T if later."""
        ew = self.model.ew
        L = -10 ** 15 if ew is None else ew - LATENESS
        dead = L - self.r['t']
        if gs['supp'] is not None:
            dead = max(dead, gs['supp'] - self.r['t'])
        return L, dead

    def cap(self):
        n = self.r['n'] if self.r['type'] != 'temporal' else len(self.r['rules'])
        return n + min(7 * n + 64, 4096)

    def value_room(self, gs, val):
        """rules.md, value_count: a group keeps at most N + min(7N + 64, 4096)
        values; a new one past that makes the value seen longest ago (by its
        latest sighting) go, with its times: quietly if no window with an
        event to come can need it (its latest sighting at or before L - T,
        or the suppression's end - T), else counted in trimmed. So a new
        value is trimmed for when cap values have a sighting after that
        time; the model keeps the others, which change no alert."""
        L, dead = self.bounds(gs)
        live = {v: xs[-1] for v, xs in gs['vt'].items() if xs and xs[-1] > dead}
        if val in live or len(live) < self.cap():
            return
        self.trim(1)
        old = min(live, key=lambda v: live[v])
        del gs['vt'][old]

    def ec_keep(self, gs, ts):
        """rules.md, event_count, "Precisely": before a time is added, the
        oldest kept times are forgotten uncounted, one by one from the
        oldest, while the oldest is at or before L - T or the suppression's
        end - T, or below L with N - 1 kept times after it below L too, or
        (suppress at least T) the first of N + 1 spanning less than T. Then,
        with N + min(7N + 64, 4096) times kept, the oldest is forgotten,
        counted in trimmed: the new one if it is older than all (it still
        completes the window it makes with the oldest N - 1 kept, and no
        other). Returns the time trimmed, or None."""
        n, T = self.r['n'], self.r['t']
        L, dead = self.bounds(gs)
        k = gs['kept']
        below = sum(1 for x in k if x < L)
        d = 0
        while d < len(k):
            t0 = k[d]
            if t0 <= dead or below - d >= n or \
                    (self.supp >= T and len(k) - d > n and k[d + n] - t0 < T):
                d += 1
            else:
                break
        del k[:d]
        out = None
        if len(k) >= self.cap():
            self.trim(1)
            if ts < k[0]:
                return ts
            out = k.pop(0)
        bisect.insort_right(k, ts)
        return out

    def vc_keep(self, gs, val, ts):
        """rules.md, value_count (temporal: the listed rule as the value): a
        value keeps up to 8 times: those after L - T (or the suppression's
        end - T), below L only its latest, and of three less than T apart
        not the middle one: below L always, at or after L only while more
        than 8 are left; past 8 the oldest goes, counted in trimmed. A time
        seen again changes nothing. Returns (the time trimmed or None,
        whether a time at or after L was thinned)."""
        T = self.r['t']
        L, dead = self.bounds(gs)
        have = gs['vt'].get(val, [])
        if ts in have:
            return None, False
        p = []
        for x in have:
            if x <= dead:
                continue
            if len(p) == 1 and p[0] < L and x < L:
                p = []
            p.append(x)
        bisect.insort_right(p, ts)
        thinned = False
        for pas in (0, 1):
            j = 1
            while j + 1 < len(p):
                if p[j + 1] - p[j - 1] < T and (len(p) > 8 if pas else p[j] < L):
                    # it matters only as the end of a window past a suppression
                    thinned = thinned or (pas == 1 and gs['supp'] is not None and
                                          p[j] >= gs['supp'])
                    del p[j]
                else:
                    j += 1
        out = None
        if len(p) > 8:
            self.trim(1)
            out = p.pop(0)
        gs['vt'][val] = p
        return out, thinned

    def on_window_event(self, key, ev, out, raw):
        """rules.md: fires for the earliest window (s - T, s] holding the arriving
        event, s at or after the suppression, then each later one past the
        suppression of the one before. Over every event counted, but those
        forgotten at a cap (trimmed)."""
        t = ev[0]
        gs = self.group(key, t)
        self.keep_raw(gs, t, raw)
        if self.r['type'] == 'event_count':
            gone = self.ec_keep(gs, t)
            if gone == t:
                # the arriving event is the one forgotten: the window it
                # makes with the oldest N - 1 kept, if any
                n, k = self.r['n'], gs['kept']
                end = k[n - 2] if n > 1 else t
                if (n > 1 and (len(k) < n - 1 or end - t >= self.r['t'])) or \
                        (gs['supp'] is not None and end < gs['supp']):
                    return
                win = [ev] + [e for e in gs['ev'] if t < e[0] <= end]
                out.append(Alert(self.r['id'], key, t, end, n, ev[3], None, win,
                                 ring=gs['raw']))
                gs['supp'] = end + self.supp
                return
            if gone is not None:
                i = next(i for i, e in enumerate(gs['ev']) if e[0] == gone)
                del gs['ev'][i]
        else:
            self.on_values_event(key, gs, ev, out)
            return
        gs['ev'].append(ev)
        ends = sorted({e[0] for e in gs['ev'] if t <= e[0] < t + self.r['t']})
        for s in ends:
            if gs['supp'] is not None and s < gs['supp']:
                continue
            win = self.window(gs, s)
            got = self.check(win)
            if got is None:
                continue
            start, count, vals = got
            out.append(Alert(self.r['id'], key, start, s, count, ev[3], vals, win,
                             ring=gs['raw']))
            gs['supp'] = s + self.supp

    def on_values_event(self, key, gs, ev, out):
        """value_count and temporal (rules.md): the windows (s - T, s] are
        judged on the sightings each value keeps (vc_keep), so that what
        they forget is exact: a window holding the arriving event, ending at
        it or at a kept sighting within T after it, at or after the
        suppression, with N values; the earliest, then each later one past
        the suppression of the one before. An arriving sighting older than
        the 8 its value keeps is trimmed, but still judged: the window
        ending at it holds it (and the sightings kept); the later ones do
        not."""
        t, T = ev[0], self.r['t']
        if self.r['type'] == 'value_count':
            self.value_room(gs, ev[2])
        gone, _ = self.vc_keep(gs, ev[2], t)
        kept = [(x, None, v, None) for v, xs in gs['vt'].items() for x in xs]
        ends = {x for x, _, _, _ in kept if t <= x < t + T}
        if gs['supp'] is None or gs['supp'] <= t:
            ends.add(t)             # the arriving event's own, thinned or not
        for s in sorted(ends):
            if gs['supp'] is not None and s < gs['supp']:
                continue
            win = [e for e in kept if s - T < e[0] <= s]
            if gone == t and s == t:
                win.append((t, None, ev[2], None))
            got = self.check(win)
            if got is None:
                continue
            if gone == t and s == t:
                OLD_FIRED[self.r['id']] = OLD_FIRED.get(self.r['id'], 0) + 1
            start, count, vals = got
            if self.r['type'] == 'temporal':
                vals = None
            out.append(Alert(self.r['id'], key, start, s, count, ev[3], vals, win,
                             ring=gs['raw']))
            gs['supp'] = s + self.supp

    def ordered_cap(self, gs, t, L, spent):
        """rules.md, temporal_ordered: a group keeps the times at or after L
        one by one, up to 4,096 (plus what one time may hold: 2·n·rules);
        past that the oldest are folded early, and an event (not used up)
        arriving at or before the last time folded is counted in trimmed.
        rules.md gives the cap up to a few times of the group's own header,
        and the engine may miss a sequence the model finds (so use up less
        of its times), so the model keeps a bracket: times surely folded
        (past 4,096 plus 2·n·rules plus n, of the times the model has not
        used up) and times maybe folded (past 4,095 of all), and counts
        the event in [surely, maybe] (surely only if the model has not
        used it up: spent)."""
        n, m = len(self.r['rules']), len(set(self.r['rules']))
        used = gs['used']
        f = gs['folded']
        if len(gs['ev']) > 4095:
            for i, k in ((0, 4096 + 2 * n * m + n), (1, 4095)):
                buf = sorted(e['t'] for e in gs['ev'] if e['t'] >= L and
                             (i or used is None or e['t'] > used[0]))
                if len(buf) > k:
                    x = buf[len(buf) - k - 1]
                    f[i] = x if f[i] is None else max(f[i], x)
        lo = f[0] is not None and t <= f[0] and not spent
        hi = f[1] is not None and t <= f[1]
        if hi:
            self.trim(int(lo), 1)
            self.model.loose.add((self.r['id'], 'ordered'))

    def on_ordered_event(self, key, lid, t, seq, rule, msg, out, raw):
        """rules.md temporal_ordered: distinct events (a line of several rules is
        one event, filling one step) e1 <= ... <= en of the steps' rules with
        en - e1 < T and en at or after the suppression; the sequence that ends
        earliest, of those the one that starts latest.  After it fires, the
        events before its end, and those at its end that had arrived, are used
        up ("an event before that end that arrives after it"; one at the end
        arriving later may start the next sequence)."""
        r = self.r
        gs = self.group(key, t)
        self.keep_raw(gs, t, raw)
        used = gs['used']
        L, dead = self.bounds(gs)
        self.ordered_cap(gs, t, L, used is not None and (t < used[0] or
                                                        (t == used[0] and seq <= used[1])))
        if len(gs['ev']) > 2 * gs.get('pruned', 0) + 64:
            # events at or before L - T are in no sequence with one to come
            gs['ev'] = [e for e in gs['ev'] if e['t'] > L - r['t']]
            gs['byid'] = {e['lid']: e for e in gs['ev']}
            gs['pruned'] = len(gs['ev'])
        # every event, for the sequences the engine may report instead where
        # it may fold early
        self.model.hist.setdefault((r['id'], key), {}).setdefault(lid, [t, set()])[1].add(rule)
        ev = gs['byid'].get(lid)
        if ev is None:
            ev = {'lid': lid, 't': t, 'seq': seq, 'rules': set()}
            gs['ev'].append(ev)
            gs['byid'][lid] = ev
        ev['rules'].add(rule)
        steps = r['rules']
        if rule == steps[-1]:
            gs['lastn'] = max(gs.get('lastn', t), t)
        elif gs.get('lastn', t - 1) < t:
            return                      # no step n to end a sequence through it
        evs = [e for e in gs['ev']
               if used is None or e['t'] > used[0] or (e['t'] == used[0] and e['seq'] > used[1])]

        def latest_start(j, cur, taken):
            # the latest time step 0 can have, steps 0..j filled at or before cur
            best = None
            for e in evs:
                if steps[j] in e['rules'] and e['t'] <= cur and e['lid'] not in taken \
                        and (best is None or e['t'] > best):
                    got = e['t'] if j == 0 else latest_start(j - 1, e['t'], taken | {e['lid']})
                    if got is not None and (best is None or got > best):
                        best = got
            return best

        best = None
        for end in sorted(evs, key=lambda e: e['t']):
            if steps[-1] not in end['rules']:
                continue
            if gs['supp'] is not None and end['t'] < gs['supp']:
                continue
            if best is not None and end['t'] > best[1]:
                break
            start = end['t'] if len(steps) == 1 else \
                latest_start(len(steps) - 2, end['t'], frozenset([end['lid']]))
            if start is None or end['t'] - start >= r['t']:
                continue
            if best is None or start > best[0]:
                best = (start, end['t'])
        if best is None:
            return
        out.append(Alert(r['id'], key, best[0], best[1], len(steps), msg, ring=gs['raw']))
        gs['supp'] = best[1] + self.supp
        gs['used'] = (best[1], seq)


class Model:
    def __init__(self, rules, f=None, conds=None):
        self.f = f or {'kind': None}
        self.conds = conds
        self.rule_ids = {r['id'] for r in rules}
        if self.f['kind'] == 'cal':
            self.cal = cal_spec(self.f)
        self.rules = rules
        self.corr = [Corr(r, self) for r in rules
                     if r['type'] not in ('amatch', 'match', 'qmatch')]
        self.order = self.dep_order()
        self.evictions = 0
        self.degraded = {}          # rule id: the time of its last degradation alert
        self.rule_evictions = {}
        self.w = None
        self.look = None
        self.seq = 0
        self.line = 0
        self.msup = {}
        self.alerts = []
        self.prev_w = self.ew = None
        self.loose = set()          # (rule, group) the model cannot tell exactly
        self.hist = {}              # (rule, group): {event: [time, rules]}, where loose
        self.trimmed = {}           # rule id: [at least, at most] (rules.md: `trimmed`)

    def feed(self, t, msg, hfmt=None, raw=None):
        """One line (raw: its bytes, without the LF). Its rules are evaluated
        in file order (rules.md, Alerts: the order of alerts): m.a, m.b,
        m.c, m.ab, m.g, m.g2, the q.* rules, m.s, the feature's, m.gs; each
        hit's alert, then what it fires, depth first; the occurrences of a
        repeated line after the first after every rule's first."""
        # the watermark moves with every event, even one no rule matches
        self.raw = raw
        mraw = (json_text(raw),) if raw is not None else ()
        prev_w = self.w
        self.prev_w = prev_w
        self.ew = prev_w            # the watermark the line's hits see (before it)
        late = self.w is not None and t < self.w - LATENESS
        self.w = t if self.w is None else max(self.w, t)
        self.line += 1
        reps = 1
        text = msg
        if msg.startswith('message repeated '):
            reps = int(msg.split(' ')[2])
            text = msg[msg.index('[ ') + 2:-1]
        fields = {}
        rules = []
        if text[:2] in ('A ', 'B ', 'C '):
            _, g, v = text.split(' ')
            if g != '-':
                fields['g'] = g
            if v != '-':
                fields['v'] = v
            rules = ['m.' + text[0].lower()] + (['m.ab'] if text[0] in 'AB' else [])
        if text[:2] == 'F ':
            _, g, v = text.split(' ')
            fields = {'g': g, 'fv': v}
            rules = ['m.f']
        if text[:1] in 'XYO' and text[2:3] == ' ':
            parts = text.split(' ')
            fields = {'g': parts[1]}
            if len(parts) > 2:
                fields['xv'] = parts[2]
            rules = ['m.' + parts[0].lower()]
        if text[:2] == 'G ':
            _, k, v = text.split(' ')
            fields = {'k': k, 'v': v}
            rules = ['m.g'] + (['m.g2'] if int(v) % 2 else [])
        if isinstance(hfmt, tuple) and self.conds:
            hdr = {'pri': hfmt[1], 'host': hfmt[2], 'prog': hfmt[3]}
            for r in self.rules:
                if r['type'] == 'qmatch' and q_holds(r, text, hdr, self.conds['lists']):
                    self.alerts.append(Alert(r['id'], (), t, t, reps, msg, raw=mraw))
        if text[:2] in ('W ', 'K ') or text == 'W':
            val = text[2:] or None       # 'W': no ip, "not in" any list
            for r in self.rules:
                if r['type'] != 'amatch':
                    continue
                if 'where' in r:
                    field, neg, lst = re.match(r'^(\w+) (not )?in list (\S+)$',
                                               r['where']).groups()
                    ents = self.f['entries'] if lst == 'bad' else []
                    ok = in_list(ents, val) != bool(neg)
                else:
                    ok = cal_holds(self.cal[1], 'k', t) == (r['time'] == 'in')
                if ok:
                    self.alerts.append(Alert(r['id'], (), t, t, reps, msg, raw=mraw))
        if text[:2] == 'S ':
            _, g, v = text.split(' ')
            f = {}
            if g != '-':
                f['g'] = g
            self.match_suppress('S', t, f, msg, reps, prev_w, mraw)
        for occ in range(reps):
            if not late:
                for rule in rules:
                    self.hit(rule, t, fields, msg, prev_w, (self.line, occ), raw)
            if occ == 0 and text[:2] == 'G ':    # m.gs: after m.g and m.g2
                self.match_suppress('G', t, fields, msg, reps, prev_w, mraw)
        self.absence_look(False)

    def dep_order(self):
        """rules.md, Alerts: the look reports absences in dependency order,
        the correlations that count only match rules first, in file order,
        then each in turn as the last rule it counts has had its place (the
        rules counting one in file order)."""
        corr = [c for c in self.corr]
        ids = {c.r['id'] for c in corr}
        indeg = {c.r['id']: len({x for x in c.r['rules'] if x in ids}) for c in corr}
        order = [c for c in corr if indeg[c.r['id']] == 0]
        q = 0
        while q < len(order):
            rid = order[q].r['id']
            q += 1
            for c in corr:
                if rid in c.r['rules']:
                    indeg[c.r['id']] -= 1
                    if indeg[c.r['id']] == 0:
                        order.append(c)
        return order

    def make_room(self, r, groups, done, t):
        """rules.md, Memory: at max_groups a new group first removes a group
        the sweep would drop at this time, quietly: the least recently
        updated one if it is such, else any such group, wherever it is in
        the order (an absence's too: one that became over since the sweep's
        last look); only when there is none is the least recently
        updated one evicted: counted, and a vigil.correlation_degraded alert
        at the time of the event (its count the rule's evictions so far, its
        field `rule`), at most one per rule and hour of event time."""
        evicted = False
        while len(groups) >= r['max_groups']:
            k = next(iter(groups))
            if not done(groups[k]):
                k = next((x for x, gs in groups.items() if done(gs)), k)
            gs = groups.pop(k)
            if not done(gs):
                evicted = True
                self.evictions += 1
                self.rule_evictions[r['id']] = self.rule_evictions.get(r['id'], 0) + 1
        last = self.degraded.get(r['id'])
        if evicted and (last is None or t - last >= 3600000):
            self.degraded[r['id']] = t
            self.alerts.append(Alert('vigil.correlation_degraded', (r['id'],), t, t,
                                     self.rule_evictions[r['id']], None))

    def msup_done(self, r, gs):
        """rules.md, suppression of a match rule: a group lives until its
        suppressions have ended for the watermark and it has had no hit for
        a lateness of event time."""
        return self.w - LATENESS >= gs['until'] and \
            self.w - gs['aux'] >= LATENESS

    def sweep(self):
        """rules.md, Memory: the sweep (with the look of the absences, once per
        second of event time) drops the groups that can no longer fire nor
        suppress anything in order of last update, from the least recent,
        up to the first that still can (an absence's: every one, as it looks
        at every group). Only the rules with max_groups, and the match rules
        (a late hit after its group was dropped alerts): for the other rules
        it changes nothing the model sees."""
        for c in self.corr:
            if c.r.get('max_groups') and c.r['type'] == 'absence':
                for key in [k for k, gs in c.groups.items() if c.done(gs)]:
                    del c.groups[key]
            elif c.r.get('max_groups'):
                while c.groups and c.done(next(iter(c.groups.values()))):
                    del c.groups[next(iter(c.groups))]
        for r in self.rules:
            if r['type'] == 'match':
                grp = self.msup.get(r['id'], {})
                while grp and self.msup_done(r, next(iter(grp.values()))):
                    del grp[next(iter(grp))]

    def match_suppress(self, head, t, fields, msg, reps, prev_w, mraw):
        """rules.md, suppression of a match rule: a hit alerts unless an alert
        of its group is less than suppress away in event time, either side
        (late hits too); a group is forgotten by the sweep (see sweep()).
        It keeps the 8 alert times it used last (an alert's own, or the one
        that made a hit quiet, the most recently used of those near it): a
        time pushed out by 8 others, of late hits, no longer keeps a hit
        near it quiet, late or not."""
        r = next((x for x in self.rules if x['type'] == 'match' and
                  x.get('head', 'S') == head), None)
        if r is None:
            return
        key = tuple(fields.get(f, '') for f in r['group_by'])
        grp = self.msup.setdefault(r['id'], {})
        gs = grp.pop(key, None)
        if gs is None:
            if r.get('max_groups'):
                self.make_room(r, grp, lambda g: self.msup_done(r, g), t)
            gs = {'a': [], 'aux': 0, 'until': None}
        grp[key] = gs                   # the most recently updated
        gs['aux'] = max(self.w, t)
        near = next((a for a in reversed(gs['a']) if abs(t - a) < r['suppress']), None)
        if near is not None:
            gs['a'].remove(near)
            gs['a'].append(near)        # used last
            return
        gs['a'] = (gs['a'] + [t])[-8:]
        gs['until'] = max(gs['until'] or t + r['suppress'], t + r['suppress'])
        self.alerts.append(Alert(r['id'], key, t, t, reps, msg, raw=mraw))

    def hit(self, rule, t, fields, msg, prev_w, lid, raw):
        self.seq += 1
        for c in self.corr:
            r = c.r
            if rule not in r['rules']:
                continue
            key = tuple(fields.get(f, '') for f in r['group_by'])
            out = []
            if r['type'] in ('event_count', 'temporal', 'value_count'):
                val = rule if r['type'] == 'temporal' else fields.get(r.get('field'))
                if val is None and r['type'] == 'value_count':
                    continue            # value_count: an event without the field
                c.on_window_event(key, (t, None, val, msg), out, raw)
            elif r['type'] == 'temporal_ordered':
                c.on_ordered_event(key, lid, t, self.seq, rule, msg, out, raw)
            elif r['type'] == 'absence':
                gs = c.groups.get(key)
                if gs is not None and gs['reported'] is None and prev_w is not None \
                        and prev_w >= gs['last'] + r['t']:
                    out.append(Alert(r['id'], key, gs['last'], prev_w, 0,
                                     absence_msg(gs['last'])))
                    gs['reported'] = prev_w
                gs = c.group(key, t)
                if gs['last'] is None or t > gs['last']:
                    gs['last'] = t
                if gs['reported'] is not None and t >= gs['reported']:
                    gs['reported'] = None
            for a in out:
                self.alerts.append(a)
                # the line behind the firing (rules.md, Alerts): none for an absence's
                fraw = None if r['type'] == 'absence' else raw
                # a correlation's firing is an event of that rule at its end
                f = dict(fields)
                for name, val in zip(r['group_by'], key):
                    f[name] = val
                self.seq += 1
                # an event of the line that made it: an absence counting it
                # looks with the watermark before that line, as for a match
                self.hit(r['id'], a.end, f, a.msg, prev_w, ('c', self.seq), fraw)

    def absence_look(self, final):
        if self.w is None:
            return
        if not final and self.look is not None and self.w < self.look + 1000:
            return
        self.look = self.w
        self.ew = self.w            # the look's firings see the watermark with the line
        self.sweep()
        for c in self.order:
            if c.r['type'] != 'absence':
                continue
            for key, gs in list(c.groups.items()):
                if gs['reported'] is None and self.w >= gs['last'] + c.r['t']:
                    m = absence_msg(gs['last'])
                    self.alerts.append(Alert(c.r['id'], key, gs['last'], self.w, 0, m))
                    gs['reported'] = self.w
                    self.seq += 1
                    self.hit(c.r['id'], self.w, dict(zip(c.r['group_by'], key)), m,
                             self.w, ('c', self.seq), None)


def read_times(lines, f):
    """The lines as the correlator reads them: (event time, message, header)
    each, RFC 3164 years inferred (rules.md), untimed lines at the time of
    the line before, and the raw line as sent."""
    prev = None                  # the event time of the last line with a stamp
    last = 0                     # of the last line (untimed ones take it)
    for t, msg, hfmt in lines:
        raw = render_line(t, msg, hfmt)[:-1].encode()
        fmt = hfmt[4] if isinstance(hfmt, tuple) else hfmt
        if fmt == 'f':           # a stamp Feb 29 12:00:00, a year inferred as any
            t = feb29_ms()
        if fmt[0] == 'o':        # the stamp's wall time, read in the zone
            d = datetime.fromtimestamp(t / 1000.0, tz=timezone(timedelta(minutes=int(fmt[1:]))))
            t = infer_year(d, prev, f['year'])
        if fmt in ('3', 'f'):    # the year is the model's, from the stamp's text
            orig = t
            t = infer_year(t, prev, f['year'])
            if t is None:        # Feb 29 of a year without it: untimed, the
                fmt = 'n'        # stamp stays in the message
                msg = '%s h p: %s' % (stamp3164(orig), msg)
        if fmt == 'n':           # rules.md: untimed, the line before's time (1970 before any)
            t = last
        else:
            prev = t             # the year follows the last line with a stamp
        last = t
        yield t, msg, hfmt, raw


def model_alerts(rules, lines, f=None, conds=None):
    m = Model(rules, f, conds)
    for t, msg, hfmt, raw in read_times(lines, f):
        m.feed(t, msg, hfmt, raw)
    m.absence_look(True)
    # the --replay summary's evictions and each rule's trimmed, as pseudo-alerts
    # (trimmed: count the least, values the most, where rules.md bounds it)
    out = m.alerts + [Alert('#evictions', (), 0, 0, m.evictions, None)]
    for rid, (lo, hi) in sorted(m.trimmed.items()):
        out.append(Alert('#trimmed', (rid,), 0, 0, lo, None, {hi}))
    LOOSE[:] = [m.loose, m.hist]
    return out


LOOSE = [set(), {}]     # the last model run's (rule, group) it cannot tell exactly, and
                        # the events of temporal_ordered groups that may fold early


def a_sequence(steps, t, evs, start, end):
    """Whether distinct events of evs ([time, rules]) make steps in order
    from start to end, end - start < t (rules.md, temporal_ordered): a
    sequence the engine may report where the model, uncapped, reported
    another (an earlier one, whose suppression hid this)."""
    if end - start >= t:
        return False
    evs = sorted((x for x in evs if start <= x[0] <= end), key=lambda x: x[0])
    used, prev = set(), start
    for j, st in enumerate(steps):
        pick = next((i for i, x in enumerate(evs) if i not in used and st in x[1] and
                     x[0] >= prev and (j or x[0] == start) and
                     (j < len(steps) - 1 or x[0] == end)), None)
        if pick is None:
            return False
        used.add(pick)
        prev = evs[pick][0]
    return True
LOOSE_USED = [0]
TRIM_BAD = [None]       # the rule whose trimmed differs        # rules compared loosely, because exactly they differ


# ---------------------------------------------------------------- the engine

def parse_ts(s):
    d = datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=timezone.utc)
    return int(round(d.timestamp() * 1000))


def write_rules_dir(rdir, workdir, rules, f, conds=None):
    """Writes the rules dir --replay reads (r.yml, lists/, calendars/; a
    previous seed's lists and calendars removed) and the feature's list, in
    it or in workdir; returns the arguments that list then needs (--list).
    scripts/soak-livediff writes its rules dirs with it too."""
    os.makedirs(rdir, exist_ok=True)
    extra = []
    for sub in ('lists', 'calendars'):
        d = os.path.join(rdir, sub)
        if os.path.isdir(d):
            for x in os.listdir(d):
                os.unlink(os.path.join(d, x))
    if f['kind'] == 'list':
        path = os.path.join(workdir, 'bad.txt')
        if f['via'] == 'dir':
            os.makedirs(os.path.join(rdir, 'lists'), exist_ok=True)
            path = os.path.join(rdir, 'lists', 'bad.txt')
        else:
            extra = ['--list', 'bad=' + path]
        with open(path, 'w') as fh:
            fh.write('# the feature\'s list\n' + '\n'.join(f['entries']) + '\n')
    if conds:
        os.makedirs(os.path.join(rdir, 'lists'), exist_ok=True)
        for name, ents in conds['lists'].items():
            with open(os.path.join(rdir, 'lists', name + '.txt'), 'w') as fh:
                fh.write('\n'.join(ents) + '\n')
    if f['kind'] == 'cal':
        os.makedirs(os.path.join(rdir, 'calendars'), exist_ok=True)
        with open(os.path.join(rdir, 'calendars', 'k.yml'), 'w') as fh:
            fh.write(cal_spec(f)[0])
    with open(os.path.join(rdir, 'r.yml'), 'w') as fh:
        fh.write(yaml_rules(rules))
    return extra


def engine_alerts(exe, workdir, rules, lines, f=None, conds=None):
    f = f or {'kind': None, 'year': 2026}
    rdir = os.path.join(workdir, 'rules')
    extra = write_rules_dir(rdir, workdir, rules, f, conds)
    cfg = os.path.join(workdir, 'vigil.yaml')
    with open(cfg, 'w') as fh:
        fh.write('pipeline:\n  run_dir: ./run\n  data_dir: ./lib\n'
                'correlator:\n  rules_dir: ./rules\n  lateness: %dms\n' % LATENESS)
    # several files (rules.md: --year gives the first file's year, later
    # files follow on from the line before), cut at the seed's fractions
    cuts = [0] + [int(len(lines) * x) for x in f.get('files', [])] + [len(lines)]
    logs = []
    for i in range(len(cuts) - 1):
        logs.append(os.path.join(workdir, 'in%d.log' % i))
        with open(logs[-1], 'w') as fh:
            fh.write(render(lines[cuts[i]:cuts[i + 1]]))
    env = dict(os.environ, TZ=ZONE[0] or 'UTC')    # RFC 3164 stamps are local time
    p = subprocess.run([exe, '-c', cfg, '--replay'] + logs + ['--rules', rdir,
                        '--year', str(f['year'])] + extra,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, env=env)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode(errors='replace'))
        raise RuntimeError('correlator exited %d' % p.returncode)
    ev = re.search(r'^replay: .* (\d+) evictions,', p.stderr.decode(), re.M)
    if not ev:
        raise RuntimeError('no replay summary with evictions on stderr')
    out = [Alert('#evictions', (), 0, 0, int(ev.group(1)), None)]
    # each rule's line of the summary: its alerts, then (N trimmed) if any
    for rid, n in re.findall(r'^  (\S+) +\d+(?: \(\d+ match_errors\))? \((\d+) trimmed\)$',
                             p.stderr.decode(), re.M):
        out.append(Alert('#trimmed', (rid,), 0, 0, int(n), None))
    for ln in p.stdout.decode().splitlines():
        j = json.loads(ln)
        rid = j['rule']['id']
        if rid == 'vigil.correlation_degraded':
            fl = j['vigil'].get('fields', {})
            out.append(Alert(rid, (fl.get('rule'),), parse_ts(j['event']['start']),
                             parse_ts(j['event']['end']), j['vigil']['count'], None))
            continue
        if not rid.startswith('c.') and rid not in ('m.s', 'm.w', 'm.wn', 'm.wz',
                                                     'm.kin', 'm.kout', 'm.gs') \
                and not rid.startswith('q.'):
            continue
        r = next(x for x in rules if x['id'] == rid)
        fl = j['vigil'].get('fields', {})
        key = tuple(fl.get(g, '') for g in r['group_by'])
        vals = None
        if r['type'] == 'value_count':
            vals = set(fl.get('%s_values' % r['field'], '').split(','))
        msg = j.get('message')
        if r['type'] == 'qmatch':
            key = ()
        out.append(Alert(rid, key, parse_ts(j['event']['start']), parse_ts(j['event']['end']),
                         j['vigil']['count'], msg, vals, raw=j['vigil'].get('raw', [])))
    return out


# ---------------------------------------------------------------- comparison

def tolerated(m, e):
    """The documented thinning of value_count / temporal: the start may be a
    later sighting of a value of the window (rules.md, value_count)."""
    if m.rule != e.rule or m.r_type not in ('value_count', 'temporal'):
        return False
    if (m.group, m.end, m.count, m.msg, m.values) != (e.group, e.end, e.count, e.msg, e.values):
        return False
    return e.start > m.start and any(ev[0] == e.start for ev in m.trig) and \
        e.raw == m.raw_from(e.start)


def diff(rules, malerts, ealerts):
    """Rule ids whose alert lists differ. Where rules.md bounds what a cap
    loses without saying which (LOOSE: value_count and temporal thinning
    after a suppression, temporal_ordered folded early), the alerts of that
    group (a temporal_ordered's: of the rule) must be among the model's, or
    (temporal_ordered) be a sequence of its events all the same,
    and the rules counting it are not compared; `trimmed` within the
    model's bounds, and 0 where it has none."""
    types = {r['id']: r['type'] for r in rules}
    types['vigil.correlation_degraded'] = types['#evictions'] = 'internal'
    loose = LOOSE[0]
    lrules = {rid for rid, g in loose}
    down = set()
    for _ in range(4):
        for r in rules:
            if any(x in lrules or x in down for x in r.get('rules', [])):
                down.add(r['id'])
    skip = lambda a: a.rule in down or (a.rule, a.group) in loose or (a.rule, 'ordered') in loose
    bad = []

    def same(ms, es):
        ms = sorted(ms, key=lambda a: (a.end, a.group))
        es = sorted(es, key=lambda a: (a.end, a.group))
        return len(ms) == len(es) and \
            all(a.key() == b.key() or tolerated(a, b) for a, b in zip(ms, es))
    mt = {a.group[0]: (a.count, next(iter(a.values))) for a in malerts if a.rule == '#trimmed'}
    et = {a.group[0]: a.count for a in ealerts if a.rule == '#trimmed'}
    for rid in sorted(set(mt) | set(et)):
        lo, hi = mt.get(rid, (0, 0))
        if not lo <= et.get(rid, 0) <= hi:
            bad.append('#trimmed')
            TRIM_BAD[:] = [rid]
            break
    for r in rules + [{'id': 'vigil.correlation_degraded'}, {'id': '#evictions'}]:
        ms = [a for a in malerts if a.rule == r['id']]
        es = [a for a in ealerts if a.rule == r['id']]
        for a in ms:
            a.r_type = types[a.rule]
        if any(skip(a) for a in ms + es) and not same(ms, es):
            # exact first: the loose comparison only where that fails
            LOOSE_USED[0] += 1
            mk = {a.key() for a in ms}
            if any((a.rule, 'ordered') in loose and a.key() not in mk and
                   not (a.count == len(r['rules']) and
                        a_sequence(r['rules'], r['t'],
                                   LOOSE[1].get((a.rule, a.group), {}).values(),
                                   a.start, a.end))
                   for a in es):
                bad.append(r['id'])
            ms = [a for a in ms if not skip(a)]
            es = [a for a in es if not skip(a)]
        if not same(ms, es):
            bad.append(r['id'])
    # rules.md, Alerts: the order in which they are raised (the start aside:
    # the tolerated thinning may move it)
    order = lambda xs, sk: [(a.rule, a.group, a.end, a.count) for a in xs
                            if a.rule not in ('#evictions', '#trimmed') and not sk(a)]
    if not bad and order(malerts, lambda a: False) != order(ealerts, lambda a: False) and \
            order(malerts, skip) != order(ealerts, skip):
        bad.append('#order')
    return bad


def ddmin(lines, still_bad, deadline):
    """Delta debugging: a 1-minimal sublist that still diverges, or the
    smallest found when the deadline (time.monotonic()) passes."""
    n = 2
    while len(lines) >= 2 and time.monotonic() < deadline:
        chunk = max(1, len(lines) // n)
        reduced = False
        for i in range(0, len(lines), chunk):
            if time.monotonic() >= deadline:
                break
            cand = lines[:i] + lines[i + chunk:]
            if cand and still_bad(cand):
                lines = cand
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(lines), n * 2)
    return lines


def run_seed(exe, seed, workdir, nlines, shrink):
    rng = random.Random(seed)
    f = gen_feature(seed)
    f['files'] = random.Random(seed * 17 + 9).choice([[], [], [0.5], [0.3, 0.7], [0.1, 0.45, 0.9]])
    ZONE[:] = f.get('tz', ('UTC', timezone.utc))
    caps = gen_caps(seed)
    conds = gen_conds(seed)
    rules = gen_rules(rng) + feature_rules(f) + caps_rules(caps) + \
        [dict(r, type='qmatch', rules=[], group_by=[]) for r in conds['rules']]
    lines = dst_lines(seed, f, long_lines(seed, gen_lines(rng, nlines, f, caps, conds)))
    fl = gen_flood(seed, f)
    rules += flood_rules(fl)
    lines = flood_lines(fl, lines)
    b = gen_burst(seed)
    ch = gen_chain(seed)
    rules += (b['rules'] if b else []) + (ch['rules'] if ch else [])
    lines = chain_lines(ch, burst_lines(b, lines))
    oc = gen_oldcap(seed)
    rules += oc['rules'] if oc else []
    lines = oldcap_lines(oc, lines)
    OLD_FIRED.clear()
    ma = model_alerts(rules, lines, f, conds)
    ea = engine_alerts(exe, workdir, rules, lines, f, conds)
    if os.environ.get('COR_MODEL_VERBOSE'):
        # what the caps did: each rule's trimmed (the engine's, the model's
        # bounds), what the model could not tell exactly, and the alerts of
        # a sighting trimmed as it arrived
        print('seed %d: trimmed %s, model %s, loose %s, old fired %s' % (
            seed, {a.group[0]: a.count for a in ea if a.rule == '#trimmed'},
            {a.group[0]: (a.count, next(iter(a.values))) for a in ma if a.rule == '#trimmed'},
            sorted(LOOSE[0]), dict(sorted(OLD_FIRED.items()))))
    bad = diff(rules, ma, ea)
    if not bad:
        return True
    rid = bad[0]
    if not shrink:
        print('DIVERGENCE seed %d rule %s (not shrunk: see the first one)' % (seed, rid))
        return False
    keep = {rid}
    if rid in ('vigil.correlation_degraded', '#evictions'):
        keep = {r['id'] for r in rules if r.get('max_groups')}
    if rid == '#trimmed':
        keep = {TRIM_BAD[0]}
    for _ in range(3):                   # the rules it counts, transitively
        for r in rules:
            if r['id'] in keep:
                keep.update(r['rules'])
    small = [r for r in rules if r['id'] in keep] if rid != '#order' else rules

    def still_bad(cand):
        return rid in diff(small, model_alerts(small, cand, f, conds),
                           engine_alerts(exe, workdir, small, cand, f, conds))
    if still_bad(lines):
        lines = ddmin(lines, still_bad, time.monotonic() + SHRINK_S)
    else:
        small = rules
    print('DIVERGENCE seed %d rule %s' % (seed, rid))
    print('--- rules (correlator.lateness: %d ms, --year %d, TZ=%s)' % (LATENESS, f['year'],
                                                                      ZONE[0]))
    sys.stdout.write(yaml_rules(small))
    if f['kind'] == 'list':
        print('--- list bad (%s)' % f['via'])
        print('\n'.join(f['entries']))
    if f['kind'] == 'cal':
        print('--- calendars')
        sys.stdout.write(cal_spec(f)[0])
    if any(r['type'] == 'qmatch' for r in small):
        for name, ents in conds['lists'].items():
            print('--- list %s' % name)
            print('\n'.join(ents))
    print('--- lines%s' % (' (files cut at %s of them)' % f['files'] if f['files'] else ''))
    sys.stdout.write(render(lines))
    print('--- model')
    for a in sorted(model_alerts(small, lines, f, conds), key=lambda a: (a.rule, a.end)):
        print('  ', a)
    print('--- engine')
    for a in sorted(engine_alerts(exe, workdir, small, lines, f, conds),
                    key=lambda a: (a.rule, a.end)):
        print('  ', a)
    return False


def main(argv):
    keep = None
    nlines = 300
    while argv and argv[0].startswith('--'):
        if argv[0] == '--keep':
            keep = argv[1]
            argv = argv[2:]
        elif argv[0] == '--lines':
            nlines = int(argv[1])
            argv = argv[2:]
        else:
            break
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    exe = argv[0]
    seeds = []
    for a in argv[1:]:
        if '-' in a:
            lo, hi = a.split('-')
            seeds += range(int(lo), int(hi) + 1)
        else:
            seeds.append(int(a))
    failed = 0
    with tempfile.TemporaryDirectory(prefix='cor_model.') as tmp:
        for seed in seeds:
            wd = keep or tmp
            if not run_seed(exe, seed, wd, nlines, failed == 0):
                failed += 1
    print('%d seeds, %d diverging%s' % (len(seeds), failed, ', %d rules compared within '
                                        'documented bounds only' % LOOSE_USED[0]
                                        if LOOSE_USED[0] else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        sys.stderr.write('cor_model: %s\n' % e)
        sys.exit(2)
