#!/usr/bin/env python3
"""Differential test of the correlator's correlation semantics (docs/rules.md).

Usage: cor_model.py [--keep DIR] [--lines N] CORRELATOR SEED|FIRST-LAST...

For each seed this script generates a small random rule set (match rules
m.a, m.b, m.c, m.ab that only feed correlations, m.s that alerts with a
suppress, and one correlation rule of each type, plus an event_count of an
event_count and one of an absence) and a few hundred RFC 5424 lines with
clustered timestamps (duplicates, window edges at exactly T, events out of
order within and beyond the lateness, silences for the absence rule, missing
group_by and value fields, repeated lines, lines of two rules), runs
`CORRELATOR -c CFG --replay LOG --rules DIR --year 2026`, and compares the
alerts with those of its own reference model.

The model is written from docs/rules.md alone ("Exact semantics"), not from
correlator/*.c: it keeps every event of every group and recomputes each
window from scratch, so it knows nothing of the engine's thinning, caps or
folding. It compares, per rule and sorted by end (not the order of the
alerts): group, start, end, count, the triggering message and, for
value_count, the set of values. Allowed: the documented thinning of
value_count and temporal starts (rules.md: "so the start may be a later
sighting of the same value").

On a divergence it shrinks the line list (ddmin, rules fixed, at most a
minute) to a minimal case that still diverges for the same rule, keeping
only that rule and those it counts, prints the rules, the lines and both
alert lists, and exits 1 (later diverging seeds are named, not shrunk).
--keep DIR leaves the last case's files (rules/, vigil.yaml, in.log) there;
COR_MODEL_LATENESS_MS sets another lateness (20 s by default). Exit 0 when
every seed agrees, 2 on a usage or run error. Standard library only.

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
correlations (event_count of event_count, of absence) at the alert's end; a
match rule's suppress, either side of an alert in event time, late hits
included.

What it leaves out: raw lines, fields other than the group's, the order of
alerts, max_groups and evictions, absence's expire (24 h) and clock ticks,
the caps past which groups forget (N + 7N + 64 times, 8 sightings per value,
4,096 temporal_ordered times, 8 alert times per match-rule group: the
streams are too small to reach them), restarts and reloads, RFC 3164 years,
lines without a time, where conditions, calendars and lists. Known,
documented divergences it could meet with other parameters: value_count and
temporal thinning after a suppression (a lateness well past 3T),
temporal_ordered past 4,096 events, a late match-rule hit after its group
was forgotten (the model forgets a group when a hit comes, the engine in its
sweep).
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

# ms; the config the script writes sets correlator.lateness to it (20 s, or
# COR_MODEL_LATENESS_MS for a hunt under another one)
LATENESS = int(os.environ.get('COR_MODEL_LATENESS_MS', '20000'))
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
    rules.append(dict(id='m.s', type='match', rules=[], group_by=rng.choice([['g'], []]),
                      t=0, suppress=rng.choice([1000, 3000, 5000, 10000])))
    return rules


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
    for r in rules:
        if r['type'] == 'match':
            out += ['  - id: %s' % r['id'], '    name: %s' % r['id'], '    level: 3',
                    '    match:', "      regex: '^S (?:(?<g>[xy])|-) (?:(?<v>[0-9])|-)$'",
                    '    suppress: %s' % dur(r['suppress'])]
            if r['group_by']:
                out.append('    suppress_by: [%s]' % ', '.join(r['group_by']))
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
    return '\n'.join(out) + '\n'


# ---------------------------------------------------------------- streams

def stamp(ms):
    d = datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc)
    return d.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (ms % 1000)


def gen_lines(rng, count):
    """Lines on a 250 ms grid around a clock that jumps ahead in clusters."""
    clock = BASE + 1000
    lines = []
    disorder = rng.choice([0.05, 0.15, 0.3])     # share of lines out of order
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
        lines.append((t, msg))
    return lines


def render(lines):
    return ''.join('<38>1 %s h p - - - %s\n' % (stamp(t), m) for t, m in lines)


# ---------------------------------------------------------------- the model

class Alert:
    def __init__(self, rule, group, start, end, count, msg, values=None, trig=None):
        self.rule, self.group, self.start, self.end = rule, group, start, end
        self.count, self.msg, self.values = count, msg, values
        self.trig = trig          # model only: the window's events, for tolerances

    def key(self):
        return (self.rule, self.group, self.start, self.end, self.count, self.msg,
                tuple(sorted(self.values)) if self.values is not None else None)

    def __repr__(self):
        s = '%s g=%r %s..%s count=%d msg=%r' % (self.rule, self.group, stamp(self.start),
                                                 stamp(self.end), self.count, self.msg)
        if self.values is not None:
            s += ' values=%s' % ','.join(sorted(self.values))
        return s


class Corr:
    """One correlation rule: its groups, each with every event it counted."""

    def __init__(self, r):
        self.r = r
        self.supp = r['suppress'] if r['suppress'] is not None else r['t']
        self.groups = {}

    def group(self, key):
        return self.groups.setdefault(key, {'ev': [], 'supp': None, 'used': None,
                                            'last': None, 'reported': None})

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

    def on_window_event(self, key, ev, out):
        """rules.md: fires for the earliest window (s - T, s] holding the arriving
        event, s at or after the suppression, then each later one past the
        suppression of the one before."""
        gs = self.group(key)
        gs['ev'].append(ev)
        t = ev[0]
        ends = sorted({e[0] for e in gs['ev'] if t <= e[0] < t + self.r['t']})
        for s in ends:
            if gs['supp'] is not None and s < gs['supp']:
                continue
            win = self.window(gs, s)
            got = self.check(win)
            if got is None:
                continue
            start, count, vals = got
            if self.r['type'] == 'temporal':
                vals = None
            out.append(Alert(self.r['id'], key, start, s, count, ev[3], vals, win))
            gs['supp'] = s + self.supp

    def on_ordered_event(self, key, lid, t, seq, rule, msg, out):
        """rules.md temporal_ordered: distinct events (a line of several rules is
        one event, filling one step) e1 <= ... <= en of the steps' rules with
        en - e1 < T and en at or after the suppression; the sequence that ends
        earliest, of those the one that starts latest.  After it fires, the
        events before its end, and those at its end that had arrived, are used
        up ("an event before that end that arrives after it"; one at the end
        arriving later may start the next sequence)."""
        r = self.r
        gs = self.group(key)
        ev = next((e for e in gs['ev'] if e['lid'] == lid), None)
        if ev is None:
            ev = {'lid': lid, 't': t, 'seq': seq, 'rules': set()}
            gs['ev'].append(ev)
        ev['rules'].add(rule)
        used = gs['used']
        evs = [e for e in gs['ev']
               if used is None or e['t'] > used[0] or (e['t'] == used[0] and e['seq'] > used[1])]
        steps = r['rules']

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
        out.append(Alert(r['id'], key, best[0], best[1], len(steps), msg))
        gs['supp'] = best[1] + self.supp
        gs['used'] = (best[1], seq)


class Model:
    def __init__(self, rules):
        self.rules = rules
        self.corr = [Corr(r) for r in rules]
        self.w = None
        self.look = None
        self.seq = 0
        self.line = 0
        self.msup = {}
        self.alerts = []

    def feed(self, t, msg):
        # the watermark moves with every event, even one no rule matches
        prev_w = self.w
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
        if text[:2] == 'S ':
            _, g, v = text.split(' ')
            f = {}
            if g != '-':
                f['g'] = g
            self.match_suppress(t, f, msg, reps, prev_w)
        if not late:
            for occ in range(reps):
                for rule in rules:
                    self.hit(rule, t, fields, msg, prev_w, (self.line, occ))
        self.absence_look(False)

    def match_suppress(self, t, fields, msg, reps, prev_w):
        """rules.md, suppression of a match rule: a hit alerts unless an alert
        of its group is less than suppress away in event time, either side
        (late hits too); a group is forgotten once its suppressions ended for
        the watermark and it had no hit for a lateness, judged after an
        event (the sweep), so with the watermark before this one."""
        r = next((x for x in self.rules if x['type'] == 'match'), None)
        if r is None:
            return
        key = tuple(fields.get(f, '') for f in r['group_by'])
        gs = self.msup.get(key)
        if gs is not None and prev_w - LATENESS >= max(gs['a']) + r['suppress'] \
                and prev_w - gs['aux'] >= LATENESS:
            gs = None                   # forgotten (the sweep may be later)
        if gs is None:
            gs = self.msup[key] = {'a': [], 'aux': 0}
        gs['aux'] = max(self.w, t)
        if any(abs(t - a) < r['suppress'] for a in gs['a']):
            return
        gs['a'].append(t)
        self.alerts.append(Alert(r['id'], key, t, t, reps, msg))

    def hit(self, rule, t, fields, msg, prev_w, lid):
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
                c.on_window_event(key, (t, None, val, msg), out)
            elif r['type'] == 'temporal_ordered':
                c.on_ordered_event(key, lid, t, self.seq, rule, msg, out)
            elif r['type'] == 'absence':
                gs = c.groups.get(key)
                if gs is not None and gs['reported'] is None and prev_w is not None \
                        and prev_w >= gs['last'] + r['t']:
                    out.append(Alert(r['id'], key, gs['last'], prev_w, 0, None))
                    gs['reported'] = prev_w
                gs = c.group(key)
                if gs['last'] is None or t > gs['last']:
                    gs['last'] = t
                if gs['reported'] is not None and t >= gs['reported']:
                    gs['reported'] = None
            for a in out:
                self.alerts.append(a)
                # a correlation's firing is an event of that rule at its end
                f = dict(fields)
                for name, val in zip(r['group_by'], key):
                    f[name] = val
                self.seq += 1
                self.hit(r['id'], a.end, f, msg if r['type'] != 'absence' else None,
                         self.w, ('c', self.seq))

    def absence_look(self, final):
        if self.w is None:
            return
        if not final and self.look is not None and self.w < self.look + 1000:
            return
        self.look = self.w
        for c in self.corr:
            if c.r['type'] != 'absence':
                continue
            for key, gs in list(c.groups.items()):
                if gs['reported'] is None and self.w >= gs['last'] + c.r['t']:
                    self.alerts.append(Alert(c.r['id'], key, gs['last'], self.w, 0, None))
                    gs['reported'] = self.w
                    self.seq += 1
                    self.hit(c.r['id'], self.w, dict(zip(c.r['group_by'], key)), None,
                             self.w, ('c', self.seq))


def model_alerts(rules, lines):
    m = Model(rules)
    for t, msg in lines:
        m.feed(t, msg)
    m.absence_look(True)
    return m.alerts


# ---------------------------------------------------------------- the engine

def parse_ts(s):
    d = datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=timezone.utc)
    return int(round(d.timestamp() * 1000))


def engine_alerts(exe, workdir, rules, lines):
    rdir = os.path.join(workdir, 'rules')
    os.makedirs(rdir, exist_ok=True)
    with open(os.path.join(rdir, 'r.yml'), 'w') as f:
        f.write(yaml_rules(rules))
    cfg = os.path.join(workdir, 'vigil.yaml')
    with open(cfg, 'w') as f:
        f.write('pipeline:\n  run_dir: ./run\n  data_dir: ./lib\n'
                'correlator:\n  rules_dir: ./rules\n  lateness: %dms\n' % LATENESS)
    log = os.path.join(workdir, 'in.log')
    with open(log, 'w') as f:
        f.write(render(lines))
    p = subprocess.run([exe, '-c', cfg, '--replay', log, '--rules', rdir, '--year', '2026'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode(errors='replace'))
        raise RuntimeError('correlator exited %d' % p.returncode)
    out = []
    for ln in p.stdout.decode().splitlines():
        j = json.loads(ln)
        rid = j['rule']['id']
        if not rid.startswith('c.') and rid != 'm.s':
            continue
        r = next(x for x in rules if x['id'] == rid)
        fl = j['vigil'].get('fields', {})
        key = tuple(fl.get(g, '') for g in r['group_by'])
        vals = None
        if r['type'] == 'value_count':
            vals = set(fl.get('v_values', '').split(','))
        msg = j.get('message') if r['type'] != 'absence' and 'c.ab' not in r['rules'] else None
        out.append(Alert(rid, key, parse_ts(j['event']['start']), parse_ts(j['event']['end']),
                         j['vigil']['count'], msg, vals))
    return out


# ---------------------------------------------------------------- comparison

def tolerated(m, e):
    """The documented thinning of value_count / temporal: the start may be a
    later sighting of a value of the window (rules.md, value_count)."""
    if m.rule != e.rule or m.r_type not in ('value_count', 'temporal'):
        return False
    if (m.group, m.end, m.count, m.msg, m.values) != (e.group, e.end, e.count, e.msg, e.values):
        return False
    return e.start > m.start and any(ev[0] == e.start for ev in m.trig)


def diff(rules, malerts, ealerts):
    """Rule ids whose alert lists differ."""
    types = {r['id']: r['type'] for r in rules}
    bad = []
    for r in rules:
        ms = [a for a in malerts if a.rule == r['id']]
        es = [a for a in ealerts if a.rule == r['id']]
        for a in ms:
            a.r_type = types[a.rule]
        if len(ms) != len(es):
            bad.append(r['id'])
            continue
        ms.sort(key=lambda a: (a.end, a.group))
        es.sort(key=lambda a: (a.end, a.group))
        if any(a.key() != b.key() and not tolerated(a, b) for a, b in zip(ms, es)):
            bad.append(r['id'])
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
    rules = gen_rules(rng)
    lines = gen_lines(rng, nlines)
    bad = diff(rules, model_alerts(rules, lines), engine_alerts(exe, workdir, rules, lines))
    if not bad:
        return True
    rid = bad[0]
    if not shrink:
        print('DIVERGENCE seed %d rule %s (not shrunk: see the first one)' % (seed, rid))
        return False
    keep = {rid}
    for _ in range(3):                   # the rules it counts, transitively
        for r in rules:
            if r['id'] in keep:
                keep.update(r['rules'])
    small = [r for r in rules if r['id'] in keep]

    def still_bad(cand):
        return rid in diff(small, model_alerts(small, cand),
                           engine_alerts(exe, workdir, small, cand))
    if still_bad(lines):
        lines = ddmin(lines, still_bad, time.monotonic() + SHRINK_S)
    else:
        small = rules
    print('DIVERGENCE seed %d rule %s' % (seed, rid))
    print('--- rules (correlator.lateness: %d ms)' % LATENESS)
    sys.stdout.write(yaml_rules(small))
    print('--- lines')
    sys.stdout.write(render(lines))
    print('--- model')
    for a in sorted(model_alerts(small, lines), key=lambda a: (a.rule, a.end)):
        print('  ', a)
    print('--- engine')
    for a in sorted(engine_alerts(exe, workdir, small, lines), key=lambda a: (a.rule, a.end)):
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
    print('%d seeds, %d diverging' % (len(seeds), failed))
    return 1 if failed else 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        sys.stderr.write('cor_model: %s\n' % e)
        sys.exit(2)
