#!/usr/bin/env bash
# Wall time of `netattr stats --format json` (naming on) against `bpftool map dump -j` on the
# same map of KEYS cgroup keys (a value on every CPU; examples/bench_fill.rs), with
# hyperfine -N (no shell), both in one run; BEFORE=/path/to/an/older/netattr adds that build
# beside them, on its own load of the same keys. Prints hyperfine's table and the ratios.
# Usage: sudo [BEFORE=...] scripts/bench/stats-wall.sh [KEYS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
KEYS=${1:-10000}; RUNS=${2:-30}
N=$PWD/target/release/netattr
cargo build --release --locked --bins --examples >&2
pin=/sys/fs/bpf/netattr-bench-wall-$$; old=/sys/fs/bpf/netattr-bench-wall-old-$$
json=/tmp/netattr-bench-wall-$$.json
cleanup() {
  $N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true
  [ -n "${BEFORE:-}" ] && "$BEFORE" cleanup --pin-dir "$old" >/dev/null 2>&1 || true
  rm -f "$json"
}
trap cleanup EXIT
$N load --pin-dir "$pin" --max-entries $((KEYS + 100)) >/dev/null
target/release/examples/bench_fill "$pin" "$KEYS"
cmds=(-n "netattr stats" "$N stats --pin-dir $pin --format json"
      -n "bpftool map dump" "bpftool map dump -j pinned $pin/stats_map")
if [ -n "${BEFORE:-}" ]; then
  "$BEFORE" load --pin-dir "$old" --max-entries $((KEYS + 100)) >/dev/null
  target/release/examples/bench_fill "$old" "$KEYS"
  cmds+=(-n "netattr stats, BEFORE" "$BEFORE stats --pin-dir $old --format json")
fi
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$json" "${cmds[@]}" >&2
python3 - "$json" "$KEYS" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
b = med["bpftool map dump"]
print(f"| keys | netattr stats (naming on) | bpftool map dump -j | bpftool / netattr |" + (" netattr BEFORE | BEFORE / now |" if "netattr stats, BEFORE" in med else ""))
print("|---|---|---|---|" + ("---|---|" if "netattr stats, BEFORE" in med else ""))
row = f"| {sys.argv[2]} | {med['netattr stats']:.1f} ms | {b:.1f} ms | {b / med['netattr stats']:.1f}x |"
if "netattr stats, BEFORE" in med:
    o = med["netattr stats, BEFORE"]
    row += f" {o:.1f} ms | {o / med['netattr stats']:.2f}x |"
print(row)
print()
print("Median wall time of hyperfine -N runs, interleaved by hyperfine's order, one run.")
PY
echo "Kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
