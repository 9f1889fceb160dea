#!/usr/bin/env bash
# bench/value_count.sh — value_count with many distinct values in a group (not a test).
#
# Replays seeded streams of sshd "Failed password for invalid user U from A"
# lines through one value_count rule (distinct users per source address) and
# prints `vigil-correlator --replay`'s lines/s per case:
#
#   small    20,000 sources, 10 lines each over 2-8 users (the common case:
#            many small groups), gte: 5, timespan 10m
#   one1k    one source cycling over 1,000 users, gte: 1000 (fires once), 1h
#   one10k   the same with 10,000 users
#   one100k  the same with 100,000 users
#   cap1k    one source, 100,000 users each seen once, gte: 1000: the group
#            stays at its cap (N + 4,096 values) and every new user makes
#            room by forgetting the one seen longest ago
#   jit10k   one10k with every 10th line stamped 2 s early (out of order,
#            within the lateness): before the group fires, such a line
#            still reads every value (cor_vc_sweep)
#   fire10k  one source cycling over 10,000 users, gte: 1000, suppress: 1s:
#            the group fires once a second of event time (every 50 lines)
#            from its 1,000th user on, each firing's window holding every
#            user (its start, FIELD_values)
#
# Each stream holds LINES lines (default 100,000; one100k and cap1k: at
# least 100,000), 50 lines per second of event time, so that every value of
# a case is within its window. With BASE set to another vigil-correlator
# (the tree before a change), every round runs both, alternating which goes
# first, and prints the per-round ratio new/base and its median: the
# machine drifts by tens of percent over a minute, so paired runs compare
# better than medians.
#
# Usage: bench/value_count.sh              (R=3 rounds, every case)
#        BASE=/tmp/old/build-bench/correlator/vigil-correlator CASES="small one10k" bench/value_count.sh
# Environment: R [3] rounds   LINES [100000]   SEED [29]   CASES [all]   CPU [0] (taskset)
#   BUILD [build-bench] meson build (release, no tests) of this tree   BIN: a correlator
#   to use instead of building one   BASE: a second one to compare with   KEEP=1 keeps the streams
set -euo pipefail

R=${R:-3}
LINES=${LINES:-100000}
SEED=${SEED:-29}
CASES=${CASES:-"small one1k one10k one100k cap1k jit10k fire10k"}
CPU=${CPU:-0}
KEEP=${KEEP:-0}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$root/build-bench}
[[ $BUILD = /* ]] || BUILD=$root/$BUILD

die() { echo "bench/value_count: $*" >&2; exit 1; }
[[ $R =~ ^[0-9]+$ && $R -ge 1 ]] || die "R must be a number >= 1"
[[ $LINES =~ ^[0-9]+$ && $LINES -ge 1000 ]] || die "LINES must be a number >= 1000"
for c in $CASES; do
  [[ " small one1k one10k one100k cap1k jit10k fire10k " == *" $c "* ]] || die "unknown case '$c'"
done
for t in python3 taskset; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found"
done

if [[ -z ${BIN:-} ]]; then
  if [[ ! -f $BUILD/build.ninja ]]; then
    meson setup "$BUILD" "$root" -Dbuildtype=release -Dtests=false >/dev/null ||
      die "meson setup failed (see $BUILD/meson-logs/meson-log.txt)"
  fi
  ninja -C "$BUILD" correlator/vigil-correlator >/dev/null || die "build failed"
  BIN=$BUILD/correlator/vigil-correlator
fi
[[ -x $BIN ]] || die "$BIN is not executable"
[[ -z ${BASE:-} || -x $BASE ]] || die "BASE=$BASE is not executable"

TMP=$(mktemp -d /tmp/vigil-bench-vc.XXXXXX)
cleanup() { if [[ $KEEP == 1 ]]; then echo "bench: kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
export TMPDIR=$TMP # the replay's throw-away LMDB environment

# ---- streams and rules ------------------------------------------------------------
# gen CASE: TMP/CASE.log and TMP/CASE/rules.yml
gen() {
  mkdir -p "$TMP/$1"
  python3 - "$1" "$LINES" "$SEED" "$TMP/$1.log" "$TMP/$1/rules.yml" <<'EOF'
import calendar, random, sys, time
case, lines, seed, out, rules = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rnd = random.Random(seed)
gte, span = {"small": (5, "10m"), "cap1k": (1000, "1h")}.get(case, (None, "1h"))
sup = "1s" if case == "fire10k" else "2h"
if case.startswith("one") or case in ("jit10k", "fire10k"):
    d = {"one1k": 1000, "one10k": 10000, "one100k": 100000, "jit10k": 10000,
         "fire10k": 10000}[case]
    gte = 1000 if case == "fire10k" else d
    lines = max(lines, d)
if case == "cap1k":
    lines = max(lines, 100000)
with open(rules, "w") as f:
    f.write(f"""rules:
  - id: m.fail
    name: failed password
    level: 3
    alert: false
    match:
      regex: 'Failed password for invalid user (?<user>\\S+) from (?<src_ip>\\S+)'
  - id: c.spray
    name: password spraying
    level: 10
    correlation:
      type: value_count
      rules: [m.fail]
      group_by: [src_ip]
      timespan: {span}
      condition: {{field: user, gte: {gte}}}
      suppress: {sup}
""")
t0 = calendar.timegm((2024, 6, 1, 0, 0, 0))
def stamp(i):  # 50 lines per second of event time (jit10k: every 10th 2 s early)
    if case == "jit10k" and i % 10 == 9 and i >= 100:
        i -= 100
    return time.strftime("%b %e %H:%M:%S", time.gmtime(t0 + i // 50))
def line(i, user, src):
    return (f"<38>{stamp(i)} bastion-01 sshd[{1000 + i % 50000}]: Failed password for invalid "
            f"user {user} from {src} port {1024 + i % 60000} ssh2\n")
with open(out, "w") as f:
    if case == "small":
        # 20,000 sources, each 10 lines within a few minutes, over 2-8 users
        srcs = [f"198.{18 + k // 65536}.{k // 256 % 256}.{k % 256}" for k in range(lines // 10)]
        users = {s: [f"u{rnd.randrange(100000)}" for _ in range(rnd.randint(2, 8))] for s in srcs}
        live, nxt, left = [], 0, {}
        for i in range(lines):
            while nxt < len(srcs) and (len(live) < 500 or not live):
                live.append(srcs[nxt]); left[srcs[nxt]] = 10; nxt += 1
            s = rnd.choice(live)
            f.write(line(i, rnd.choice(users[s]), s))
            left[s] -= 1
            if left[s] == 0:
                live.remove(s)
    elif case == "cap1k":
        for i in range(lines):
            f.write(line(i, f"u{i:06d}", "203.0.113.5"))
    else:
        order = [f"u{k:06d}" for k in range(d)]
        rnd.shuffle(order)
        for i in range(lines):
            f.write(line(i, order[i % d], "203.0.113.5"))
EOF
}

# run BIN CASE: prints "lines/s alerts trimmed maxrss_kb" of one pinned replay
TIMECMD=()
[[ -x /usr/bin/time ]] && TIMECMD=(/usr/bin/time -f %M -o "$TMP/rss")
run() {
  local err=$TMP/run.err sum rss=-
  rm -f "$TMP/rss"
  TZ=UTC "${TIMECMD[@]}" taskset -c "$CPU" "$1" --replay "$TMP/$2.log" --rules "$TMP/$2" \
    --year 2024 >"$TMP/run.out" 2>"$err" || { cat "$err" >&2; die "replay failed ($1, $2)"; }
  [[ -s $TMP/rss ]] && rss=$(tail -n 1 "$TMP/rss")
  sum=$(grep '^replay: ' "$err") || die "no summary: $(head -c 300 "$err")"
  awk -v rss="$rss" '{ gsub(/[(),]/, " "); for (i = 2; i <= NF; i++) {
           if ($i == "lines/s") r = $(i - 1); if ($i == "alerts") a = $(i - 1);
           if ($i == "trimmed") t = $(i - 1) } }
       END { print r, a, t, rss }' <<<"$sum"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "bench/value_count: $BIN${BASE:+ against BASE $BASE}, $R rounds, seed $SEED, cpu $CPU"
for c in $CASES; do
  gen "$c"
  n=$(wc -l <"$TMP/$c.log")
  : >"$TMP/new" ; : >"$TMP/base"; : >"$TMP/ratio"
  for ((r = 1; r <= R; r++)); do
    if [[ -n ${BASE:-} ]] && ((r % 2 == 0)); then
      read -r b ba bt bm < <(run "$BASE" "$c"); read -r a aa at am < <(run "$BIN" "$c")
    else
      read -r a aa at am < <(run "$BIN" "$c")
      [[ -z ${BASE:-} ]] || read -r b ba bt bm < <(run "$BASE" "$c")
    fi
    echo "$a" >>"$TMP/new"
    if [[ -n ${BASE:-} ]]; then
      echo "$b" >>"$TMP/base"
      awk -v a="$a" -v b="$b" 'BEGIN { print a / b }' >>"$TMP/ratio"
      [[ $aa == "$ba" ]] || echo "  WARNING: $c: $aa alerts, base $ba" >&2
      printf "  %-8s round %d: %10.0f lines/s, base %10.0f (x%.2f); %s alerts, %s trimmed; max RSS %s KiB, base %s\n" \
        "$c" "$r" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')" "$aa" "$at" "$am" "$bm"
    else
      printf "  %-8s round %d: %10.0f lines/s; %s alerts, %s trimmed; max RSS %s KiB\n" "$c" "$r" "$a" "$aa" "$at" "$am"
    fi
  done
  if [[ -n ${BASE:-} ]]; then
    printf "%-8s %7d lines: median %10.0f lines/s, base %10.0f; paired ratio median x%.2f\n" "$c" "$n" \
      "$(median <"$TMP/new")" "$(median <"$TMP/base")" "$(median <"$TMP/ratio")"
  else
    printf "%-8s %7d lines: median %10.0f lines/s\n" "$c" "$n" "$(median <"$TMP/new")"
  fi
done
