#!/usr/bin/env python3
"""Copies a bench rule set without some of its match rules (and the correlations counting them).

An upper-bound tool for bench/correlator (bench/README.md, session 7): how fast would 1,000 rules
run if one family of them cost nothing? It reads a rules.yml written by make_rules.py, drops every
match rule whose regex contains one of the --regex strings or whose program is one of the
--program names, drops every correlation that counts a dropped rule, and writes the rest to
OUT/rules.yml:

    python3 bench/drop_rules.py TMP/rules/r1000 /tmp/r-no-ufw --regex 'UFW BLOCK'
    vigil-correlator --replay TMP/stream.log --rules /tmp/r-no-ufw --year 2024

Only make_rules.py's layout is read (a rule per "  - id: " block, one "regex:", "program:" or
"rules: [...]" line each); no YAML library is needed.
"""
import argparse
import os
import re
import sys


def blocks(text):
    """(head, [rule blocks]): the text before the first rule, then one string per rule."""
    parts = re.split(r'(?m)^(?=  - id: )', text)
    return parts[0], parts[1:]


def field(block, name):
    m = re.search(r'(?m)^[ -]+' + name + r": ('(?:[^']|'')*'|\S.*)$", block)
    if not m:
        return None
    v = m.group(1)
    return v[1:-1].replace("''", "'") if v.startswith("'") else v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('src', help='a rule set directory written by make_rules.py (holds rules.yml)')
    ap.add_argument('out', help='directory to write rules.yml to (created)')
    ap.add_argument('--regex', action='append', default=[],
                    help='drop match rules whose regex contains this string (repeatable)')
    ap.add_argument('--program', action='append', default=[],
                    help='drop match rules with this program (repeatable)')
    a = ap.parse_args()
    with open(os.path.join(a.src, 'rules.yml'), encoding='utf-8') as f:
        head, rules = blocks(f.read())
    dropped = set()
    for b in rules:
        rx, prog = field(b, 'regex'), field(b, 'program')
        if (rx is not None and any(s in rx for s in a.regex)) or (prog in a.program):
            dropped.add(field(b, 'id'))
    kept = []
    for b in rules:
        if field(b, 'id') in dropped:
            continue
        refs = field(b, 'rules')
        if refs and set(x.strip() for x in refs.strip('[]').split(',')) & dropped:
            continue
        kept.append(b)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, 'rules.yml'), 'w', encoding='utf-8') as f:
        f.write(head + ''.join(kept))
    print(f'drop_rules: {len(rules) - len(kept)} of {len(rules)} rules dropped '
          f'({len(dropped)} match rules), {len(kept)} written to {a.out}/rules.yml', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
