#!/usr/bin/env bash
# Cold start as a learner sees it (issue 11): seconds from launching `tuinn run` with an
# empty Numba cache until the header says step 1 is done, with `n` pressed as soon as the
# terminal shows anything (keys typed before the app is up are queued, as in a real
# terminal). Needs tmux. By hand, never in tests; run it on an idle machine.
#   benchmarks/bench_coldstart.sh                     # every bundled scenario
#   benchmarks/bench_coldstart.sh scenarios/lstm.toml # one (or several)
set -u
cd "$(dirname "$0")/.."
TUINN=${TUINN:-.venv/bin/tuinn}
[ $# -gt 0 ] || set -- scenarios/*.toml
cache=$(mktemp -d)
trap 'rm -rf "$cache"; tmux kill-session -t tuinn-cold 2>/dev/null' EXIT
for file in "$@"; do
  rm -rf "${cache:?}"/*
  tmux kill-session -t tuinn-cold 2>/dev/null
  t0=$(date +%s.%N)
  tmux new-session -d -s tuinn-cold -x 80 -y 24 "NUMBA_CACHE_DIR=$cache $TUINN run $file"
  sent=0 seen=""
  for _ in $(seq 1 600); do                   # 30 s at most
    sleep 0.05
    screen=$(tmux capture-pane -p -t tuinn-cold 2>/dev/null)
    if [ $sent = 0 ] && [ -n "$(echo "$screen" | tr -d '[:space:]')" ]; then
      tmux send-keys -t tuinn-cold n; sent=1
    fi
    if echo "$screen" | grep -q "step 1/"; then seen=yes; break; fi
  done
  t1=$(date +%s.%N)
  printf '%-32s %s\n' "$(basename "$file" .toml)" \
    "$([ -n "$seen" ] && echo "$(echo "$t1 - $t0" | bc) s" || echo "no step 1 within 30 s")"
done
