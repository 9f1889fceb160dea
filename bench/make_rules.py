#!/usr/bin/env python3
"""make_rules.py: the rule sets of bench/correlator (not a test; see bench/README.md).

    bench/make_rules.py --rules50 ../shared/bench/rules50.txt \
                        --rules500 ../shared/bench/rules500.txt --out DIR [--seed 7]

Reads the peers' regexes in place and writes, under DIR:

  rN/rules.yml   for N in 10, 50, 100, 500, 1000: N match rules (the regexes) and, for
                 each, the event_count correlation rule that counts it, in Vigil's YAML.
                 Sources: r10 = rules50[:10], r50 = rules50, r100 = rules500[:100],
                 r500 = rules500, r1000 = rules500 + 500 generated watch-list variants
                 of the same kinds (seeded: the same seed gives the same rules).
  check50/rules.yml   the 50 match rules alone, alerting (to check the translation).
  sec50.conf     SEC's configuration for the same work as r50: one SingleWithThreshold
                 rule per regex, same threshold, window and grouping.
  sets.txt       one line per set: name, match rules, correlation rules, grouped by src_ip.

Translation of a peer regex (written for the whole raw line) into a Vigil match rule
(its regex runs on MSG, after the tag): a leading "HOST\\.example\\.net " becomes
'host:', a leading "prog\\[[0-9]+\\]:" / "prog\\[1\\]:" / "prog:" becomes 'program:' and
the rest is anchored at the start of MSG ("sudo\\[[0-9]+\\]: +X" -> "^ *X", since the
parser eats the one space after the tag). Other regexes are kept as they are. The
first IP address a regex reads (after "from ", "rhost=", "by ", "SRC=", inside
"[...]", or nginx's client address) is wrapped in a named group (?<src_ip>...), which
changes no match; both Vigil and SEC group their counts by it. A regex without one is
counted per rule (one group), in both.

Every match rule has alert: false and feeds its own correlation rule:
  authentication failures   gte 5 within 60 s
  scans / probes / rejects  gte 10 within 60 s
  anything else             gte 1 within 5 min (one alert per group and 5 minutes)
"""
import argparse
import os
import random
import re
import sys

SIZES = (10, 50, 100, 500, 1000)

AUTH = re.compile(r'Failed password|Invalid user|invalid user|authentication failure|SASL|'
                  r'FAILED SU|incorrect password|maximum authentication|NOT in sudoers|'
                  r'Disconnected from authenticating')
SCAN = re.compile(r'UFW|nginx|NOQUEUE|connect from unknown|Connection closed|Received disconnect')

PREFIX = re.compile(r'^(?:(?P<host>[a-z]+[0-9]+\\\.example\\\.net) )?'
                    r'(?P<prog>[A-Za-z][A-Za-z0-9_/-]*)'
                    r'(?:\\\[(?:\[0-9\]\+|[0-9]+)\\\])?:(?P<rest>.*)$')

IP_TOKENS = [
    (r'from ', r'([0-9]{1,3}\.){3}[0-9]{1,3}'),
    (r'from ', r'[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+'),
    (r'from ', r'[0-9.]+'),
    (r'rhost=', r'[0-9.]+'),
    (r'by ', r'[0-9.]+'),
    (r'\[', r'[0-9.]+'),
]
SRC_RE = re.compile(r'SRC=((?:\([0-9|]+\)|[0-9]+)\\\.\[0-9\]\+\\\.\[0-9\]\+\\\.\[0-9\]\+)')


def add_src_ip(rx):
    """Wraps the first IP address the regex reads in (?<src_ip>...), or returns None."""
    best = None
    for pre, tok in IP_TOKENS:
        i = rx.find(pre + tok)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, pre, tok)
    m = SRC_RE.search(rx)
    if m and (best is None or m.start() < best[0]):
        return rx[:m.start(1)] + '(?<src_ip>' + m.group(1) + ')' + rx[m.end(1):]
    if best is None:
        m = re.search(r'nginx\\\[\[0-9\]\+\\\]: (\[0-9\.\]\+) - - ', rx)
        if m:
            return rx[:m.start(1)] + '(?<src_ip>' + m.group(1) + ')' + rx[m.end(1):]
        return None
    i, pre, tok = best
    j = i + len(pre)
    return rx[:j] + '(?<src_ip>' + tok + ')' + rx[j + len(tok):]


def to_vigil(rx):
    """(host, program, regex on MSG) for a peer regex (already with its src_ip group)."""
    m = PREFIX.match(rx)
    if not m:
        return None, None, rx
    rest = m.group('rest')
    if rest.startswith(' '):
        rest = rest[1:]
        if rest.startswith('+'):  # ": +X": the parser ate one space, more may follow
            rest = ' *' + rest[1:]
    host = m.group('host').replace('\\.', '.') if m.group('host') else None
    return host, m.group('prog'), '^' + rest


def yq(s):
    return "'" + s.replace("'", "''") + "'"


def kind(rx):
    if AUTH.search(rx):
        return 'auth', 5, 60
    if SCAN.search(rx):
        return 'scan', 10, 60
    return 'event', 1, 300


def esc(s):
    return s.replace('.', '\\.')


def variants(have, n, seed):
    """n watch-list variants of the rules500 kinds, none equal to a line of 'have'."""
    rnd = random.Random(seed)
    users = (['svc_%s%02d' % (k, i) for k in ('db', 'web', 'ci', 'app', 'ops', 'sec') for i in range(10, 20)] +
             ['svc_%s%02d' % (k, i) for k in ('db', 'web', 'ci') for i in range(10)] +
             ['admin1', 'sysadmin', 'operator', 'default', 'ec2-user', 'centos', 'steam', 'minecraft',
              'info', 'sales', 'helpdesk', 'noreply', 'monitor', 'grafana', 'kafka', 'elastic', 'redis',
              'ldap', 'samba', 'proxy', 'squid', 'dns', 'bind', 'nobody', 'daemon', 'games'])
    kinds = []
    for u in users:
        kinds.append(r'sshd\[[0-9]+\]: Failed password for (invalid user )?%s from ([0-9]{1,3}\.){3}[0-9]{1,3} port [0-9]+'
                     % esc(u))
    octets = [5, 31, 37, 45, 46, 61, 62, 77, 80, 82, 89, 91, 95, 103, 109, 141, 151, 176, 178, 185,
              188, 193, 194, 198, 203, 212, 218, 222]
    ports = [21, 22, 23, 25, 53, 80, 110, 123, 135, 139, 143, 161, 389, 443, 445, 500, 993, 995, 1433,
             1521, 2049, 3306, 3389, 4444, 5060, 5432, 5900, 6379, 6667, 8080, 8443, 9200, 11211,
             27017, 31337]
    ufw = [r'\[UFW BLOCK] IN=%s .*SRC=%d\.[0-9]+\.[0-9]+\.[0-9]+ .*DPT=%d ' % (i, o, p)
           for i in ('eth0', 'eth1', 'ens3', 'ens5') for o in octets for p in ports]
    rnd.shuffle(ufw)
    rcpt = ['info', 'sales', 'helpdesk', 'noreply', 'support', 'billing', 'hr', 'it', 'security',
            'abuse', 'postmaster', 'webmaster', 'contact', 'office', 'ceo', 'cfo', 'finance',
            'payroll', 'svc_app03', 'svc_etl07', 'svc_ops03', 'svc_db01', 'svc_web02', 'news', 'marketing',
            'legal', 'dispatch', 'traffic', 'rail-ops', 'atc-duty']
    mail = [r'postfix/smtpd\[[0-9]+\]: NOQUEUE: reject: RCPT from [^ ]+\[[0-9.]+]: 554 5\.7\.1 <%s@example\.com>'
            % esc(r) for r in rcpt]
    hosts = (['web%02d' % i for i in range(1, 21)] + ['db%02d' % i for i in range(1, 11)] +
             ['bastion%02d' % i for i in range(1, 4)] + ['mail%02d' % i for i in range(1, 5)])
    acc = [r'%s\.example\.net sshd\[[0-9]+\]: Accepted (password|publickey) for svc_%s%02d from'
           % (h, k, i) for h in hosts for k in ('app', 'ops', 'db', 'web', 'ci') for i in range(10)]
    rnd.shuffle(acc)
    cmds = ['/bin/cat', '/usr/bin/curl', '/usr/bin/rsync', '/bin/chmod', '/usr/bin/apt-get', '/usr/bin/vim',
            '/usr/bin/nc', '/usr/bin/passwd', '/usr/bin/journalctl', '/usr/bin/tail', '/usr/bin/systemctl',
            '/usr/bin/wget', '/usr/bin/docker']
    sudo = [r'sudo\[[0-9]+\]: +svc_%s%02d : TTY=pts/[0-9]+ ; PWD=/home/svc_%s%02d ; USER=root ; COMMAND=%s'
            % (k, i, k, i, c) for k in ('app', 'bi', 'etl', 'k8s', 'ml', 'ops', 'sec', 'db', 'web', 'ci')
            for i in range(10) for c in cmds]
    rnd.shuffle(sudo)
    paths = ['/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin\\.php', '/boaform/admin/formLogin',
             '/\\.aws/credentials', '/login', '/healthz', '/api/v1/flights', '/api/v1/tickets',
             '/static/app\\.js', '/favicon\\.ico', '/wp-admin/', '/xmlrpc\\.php', '/\\.DS_Store',
             '/config\\.json', '/debug/pprof/']
    web = [r'nginx\[[0-9]+\]: [0-9.]+ - - "GET %s HTTP/1\.1" %d ' % (p, s)
           for p in paths for s in (200, 301, 403, 404, 500, 502)]
    rnd.shuffle(web)
    svcs = ['nginx', 'postgresql@15-main', 'docker', 'containerd', 'rsyslog', 'redis', 'haproxy',
            'certbot', 'apt-daily', 'logrotate', 'man-db', 'fstrim', 'fwupd-refresh', 'ssh',
            'unattended-upgrades']
    sysd = [r'systemd\[1\]: %s\.service: Main process exited, code=exited, status=%d/FAILURE'
            % (esc(s), rnd.randrange(1, 256)) for s in svcs for _ in range(6)]
    pools = [kinds, ufw, mail, acc, sudo, web, sysd]
    quota = [60, 160, 30, 80, 80, 50, 40]  # = 500
    out, seen = [], set(have)
    for pool, q in zip(pools, quota):
        k = 0
        for rx in pool:
            if k == q:
                break
            if rx in seen:
                continue
            seen.add(rx)
            out.append(rx)
            k += 1
    while len(out) < n:  # more firewall combinations if a pool ran short
        rx = ufw.pop()
        if rx not in seen:
            seen.add(rx)
            out.append(rx)
    rnd.shuffle(out)
    return out[:n]


def build(regexes, alerting_only=False):
    """YAML text for the set, and rows for SEC / the summary."""
    y = ['# Generated by bench/make_rules.py for bench/correlator. Do not edit.', 'rules:']
    rows = []
    for i, peer in enumerate(regexes, 1):
        rid = 'b.%04d' % i
        k, thr, win = kind(peer)
        grouped = add_src_ip(peer)
        full = grouped if grouped else peer
        host, prog, msg_rx = to_vigil(full)
        y.append('  - id: %s' % rid)
        y.append('    name: bench %s rule %d' % (k, i))
        y.append('    level: 3')
        if not alerting_only:
            y.append('    alert: false')
        y.append('    match:')
        if prog:
            y.append('      program: %s' % yq(prog))
        if host:
            y.append('      host: %s' % yq(host))
        y.append('      regex: %s' % yq(msg_rx))
        rows.append((rid, k, thr, win, full, grouped is not None, peer))
    if not alerting_only:
        for rid, k, thr, win, full, grouped, _ in rows:
            y.append('  - id: %s.count' % rid)
            y.append('    name: bench %s %s, %d within %ds' % (k, rid, thr, win))
            y.append('    level: %d' % {'auth': 8, 'scan': 6, 'event': 4}[k])
            y.append('    correlation:')
            y.append('      type: event_count')
            y.append('      rules: [%s]' % rid)
            if grouped:
                y.append('      group_by: [src_ip]')
            y.append('      timespan: %ds' % win)
            y.append('      condition: {gte: %d}' % thr)
    return '\n'.join(y) + '\n', rows


def sec_conf(rows):
    out = ['# Generated by bench/make_rules.py: the work of bench/correlator\'s r50 set for SEC.']
    for rid, k, thr, win, full, grouped, _ in rows:
        pat = full[:-1] + '[ ]' if full.endswith(' ') else full  # keep a trailing space
        out += ['', 'type=SingleWithThreshold', 'ptype=RegExp', 'pattern=' + pat,
                'desc=%s%s' % (rid, ' $+{src_ip}' if grouped else ''),
                'action=write - %s', 'thresh=%d' % thr, 'window=%d' % win]
    return '\n'.join(out) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rules50', required=True)
    ap.add_argument('--rules500', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=7)
    a = ap.parse_args()

    def load(p):
        with open(p) as f:
            return [l.rstrip('\n') for l in f if l.strip()]
    r50, r500 = load(a.rules50), load(a.rules500)
    if len(r50) < 50 or len(r500) < 500:
        sys.exit('make_rules: expected 50 and 500 regexes')
    srcs = {10: r50[:10], 50: r50[:50], 100: r500[:100], 500: r500[:500],
            1000: r500[:500] + variants(r500, 500, a.seed)}
    os.makedirs(a.out, exist_ok=True)
    summary = []
    for n in SIZES:
        text, rows = build(srcs[n])
        d = os.path.join(a.out, 'r%d' % n)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'rules.yml'), 'w') as f:
            f.write(text)
        summary.append('r%d match=%d correlation=%d by_src_ip=%d' %
                       (n, len(rows), len(rows), sum(1 for r in rows if r[5])))
        if n == 50:
            with open(os.path.join(a.out, 'sec50.conf'), 'w') as f:
                f.write(sec_conf(rows))
            text, _ = build(srcs[n], alerting_only=True)
            os.makedirs(os.path.join(a.out, 'check50'), exist_ok=True)
            with open(os.path.join(a.out, 'check50', 'rules.yml'), 'w') as f:
                f.write(text)
            with open(os.path.join(a.out, 'check50', 'peer.txt'), 'w') as f:
                f.write('\n'.join(r[6] for r in rows) + '\n')
    with open(os.path.join(a.out, 'sets.txt'), 'w') as f:
        f.write('\n'.join(summary) + '\n')


if __name__ == '__main__':
    main()
