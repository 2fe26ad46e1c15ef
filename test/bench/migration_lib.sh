# shellcheck shell=bash
# Helpers of the mobility and failover benchmarks (migration_handoff.sh, failover_bench.sh,
# redirect_bench.sh): gwsync-bench-stream driven through a fifo, RESULT lines, medians.
# Source after scripts/lab/lib.sh; set BENCH_STREAM to the tool's path.

declare -gA BS_FD BS_PID

# shellcheck disable=SC2317  # runs from wait_for
bs_has() {  # bs_has NAME PATTERN COUNT: COUNT lines match, or the tool is gone
  local n
  n=$(grep -c -- "$2" "$LAB_TMP/stream-$1.out" 2>/dev/null) || true
  ((${n:-0} >= $3)) || lab_pid_gone "${BS_PID[$1]}"
}

# bs_start NAME ARGS...: gwsync-bench-stream with ARGS, reading commands from a fifo this shell
# holds open read-write; returns once it printed "ready".
bs_start() {
  local name=$1 fd
  shift
  mkfifo "$LAB_TMP/stream-$name.in"
  : >"$LAB_TMP/stream-$name.out"
  exec {fd}<>"$LAB_TMP/stream-$name.in"
  "$BENCH_STREAM" "$@" <"$LAB_TMP/stream-$name.in" >"$LAB_TMP/stream-$name.out" \
    2>"$LAB_TMP/stream-$name.err" &
  BS_PID[$name]=$!
  BS_FD[$name]=$fd
  lab_track_pid "$!"
  wait_for 10000 bs_has "$name" '^ready ' 1 || lab_die "stream $name did not start"
  grep -q '^ready ' "$LAB_TMP/stream-$name.out" ||
    lab_die "stream $name: $(tail -n 3 "$LAB_TMP/stream-$name.err")"
}

# bs_cmd NAME CMD PATTERN TIMEOUT_MS: sends CMD, waits for the next line matching PATTERN and
# prints it.
bs_cmd() {
  local name=$1 n
  n=$(grep -c -- "$3" "$LAB_TMP/stream-$name.out") || true
  echo "$2" >&"${BS_FD[$name]}"
  wait_for "$4" bs_has "$name" "$3" $((${n:-0} + 1)) || lab_die "stream $name: no answer to '$2'"
  grep -- "$3" "$LAB_TMP/stream-$name.out" | sed -n "$((${n:-0} + 1))p" | grep . ||
    lab_die "stream $name died: $(tail -n 3 "$LAB_TMP/stream-$name.err")"
}

bs_stop() {  # bs_stop NAME: quit, and close our end of its fifo
  local fd=${BS_FD[$1]:-}
  [[ -n "$fd" ]] || return 0
  echo quit >&"$fd" || true
  wait_for 2000 lab_pid_gone "${BS_PID[$1]}" || true
  exec {fd}>&-
  unset "BS_FD[$1]"
}

kv() {  # kv LINE KEY: the value of KEY=VALUE in LINE (nothing when absent)
  sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<" $1"
}

# raw_append FILE IMPL RUN LINE KEY...: appends to FILE one line per KEY whose value in LINE is a
# number, "IMPL<TAB>RUN<TAB>KEY<TAB>VALUE" (the --raw output of the benchmarks, the shape of
# sync_bench.sh's results); a figure not measured ("-") gets no line rather than a fake value.
raw_append() {
  local file=$1 impl=$2 run=$3 line=$4 k v
  shift 4
  for k in "$@"; do
    v=$(kv "$line" "$k")
    if [[ $v =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
      printf '%s\t%s\t%s\t%s\n' "$impl" "$run" "$k" "$v" >>"$file"
    fi
  done
}

# median VALUES...: the median of the numeric values ("-" and empty ones ignored), or "-".
median() {
  printf '%s\n' "$@" | grep -E '^-?[0-9.]+$' | sort -g |
    awk '{a[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2];
                           else printf "%.10g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# ratio A B: A / B with 2 decimals, or "-".
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {if (a ~ /^-?[0-9.]+$/ && b ~ /^-?[0-9.]+$/ && b != 0)
    printf "%.2f\n", a / b; else print "-"}'
}

# bench_need BUILD TOOL...: each tool built, root and BIRD present (exit 77 to skip otherwise).
bench_need() {
  local build=$1 t
  shift
  for t in "$@"; do
    [[ -x "$build/$t" ]] || { echo "bench: $build/$t is missing: build it first" >&2; exit 1; }
  done
  ((EUID == 0)) || { echo "bench: needs root (network namespaces); skipped"; exit 77; }
  for t in bird birdc nft conntrack; do
    command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/install-deps.sh); skipped"; exit 77; }
  done
}

bs_send() {  # bs_send NAME CMD: sends a command without waiting for its answer
  echo "$2" >&"${BS_FD[$1]}"
}

# bs_wait NAME PATTERN TIMEOUT_MS: the first line matching PATTERN, once there.
bs_wait() {
  wait_for "$3" bs_has "$1" "$2" 1 || lab_die "stream $1: no '$2' within $3 ms"
  grep -m 1 -- "$2" "$LAB_TMP/stream-$1.out" ||
    lab_die "stream $1 died: $(tail -n 3 "$LAB_TMP/stream-$1.err")"
}
