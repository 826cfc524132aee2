#!/usr/bin/env bash
# Side-by-side: FunASR HEAD's funasr-wss-server-2pass, then `paraserve serve`, on the same models with
# the same load (paraserve client --fast, 2pass), one after the other. For each server it prints the
# CPU efficiency, wall throughput, final latency, page-fault rate, context switches and RSS, then the
# ratios paraserve/FunASR. See docs/baseline-funasr.md.
#
#   FUNASR_SRC=/path/to/FunASR bench/side-by-side.sh [options] MODEL_SET_DIR     (e.g. models/tiny)
#
# Options (defaults = the issue-9 measurement):
#   --quantize true|false   int8 (model_quant.onnx everywhere) or fp32              [true]
#   -c N                    client connections                                     [4]
#   -s S                    sessions (utterances) in total; connection i streams S/N [8]
#   -w, --warmup W          warm-up sessions before the window (not measured)        [4]
#   --wav FILE              audio to stream (16 kHz mono WAV) [27.9 s clip joined from models/behav/audio]
#   --decoder-threads N     [2]      --io-threads N   [1]      --model-threads N [1]
#   --funasr-port P         [10295]  --paraserve-port P [10296]
#   --only funasr|paraserve run one server only (no ratios)
#   --settle S              seconds after the client exits before the "after" RSS sample [2]
# Environment:
#   FUNASR_BIN      funasr-wss-server-2pass to run [$FUNASR_BUILD/bin/funasr-wss-server-2pass]
#   FUNASR_BUILD    FunASR build folder [/tmp/funasr-build]; built with bench/build-funasr.sh when
#                   FUNASR_SRC is set and the binary is missing
#   FUNASR_SRC      FunASR source checkout. With neither FUNASR_SRC nor a built binary: "skipped", exit 0.
#   PARASERVE_BIN   [build/paraserve]
#   PARASERVE_SERVE_ARGS  extra flags for `paraserve serve` (e.g. allocator settings); FUNASR_SERVE_ARGS alike
#   BEHAV_AUDIO     folder with the behav WAVs for the default clip [models/behav/audio]
#   BENCH_OUT       folder for logs and samples [a new /tmp/side-by-side.XXXXXX]
#
# Measurement window: from the client's start to its exit; model loading is excluded (each server is
# started, and the window opens only after its "models loaded" log line). CPU = utime+stime of the
# server process (/proc/PID/stat, all threads); minor faults = /proc/PID/stat field 10; context
# switches = sum of /proc/PID/task/*/status over threads alive at both ends; RSS = /proc/PID/statm
# sampled every 0.5 s ("before" = idle after load and the warm-up, "after" = --settle s after the client exits,
# "peak" = largest sample in between).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

quantize=true conns=4 sessions=8 warmup=4 wav="" dec_threads=2 io_threads=1 model_threads=1
funasr_port=10295 paraserve_port=10296 only="" settle=2 models=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "side-by-side: error: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quantize) quantize="$2"; shift 2 ;;
    -c) conns="$2"; shift 2 ;;
    -s) sessions="$2"; shift 2 ;;
    -w|--warmup) warmup="$2"; shift 2 ;;
    --wav) wav="$2"; shift 2 ;;
    --decoder-threads) dec_threads="$2"; shift 2 ;;
    --io-threads) io_threads="$2"; shift 2 ;;
    --model-threads) model_threads="$2"; shift 2 ;;
    --funasr-port) funasr_port="$2"; shift 2 ;;
    --paraserve-port) paraserve_port="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --settle) settle="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [[ -z "$models" ]] || die "one model set folder expected, got '$models' and '$1'"; models="$1"; shift ;;
  esac
done
[[ -n "$models" ]] || { usage >&2; exit 2; }
[[ "$quantize" == true || "$quantize" == false ]] || die "--quantize: expected true or false, got '$quantize'"
[[ "$conns" =~ ^[1-9][0-9]*$ && "$sessions" =~ ^[1-9][0-9]*$ ]] || die "-c and -s: expected integers >= 1"
[[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup: expected an integer >= 0"
[[ -z "$only" || "$only" == funasr || "$only" == paraserve ]] || die "--only: expected funasr or paraserve"
# --- binaries ---------------------------------------------------------------------------------
run_funasr=1 run_paraserve=1
[[ "$only" == paraserve ]] && run_funasr=0
[[ "$only" == funasr ]] && run_paraserve=0
funasr_bin="${FUNASR_BIN:-${FUNASR_BUILD:-/tmp/funasr-build}/bin/funasr-wss-server-2pass}"
if [[ $run_funasr == 1 && ! -x "$funasr_bin" ]]; then
  if [[ -z "${FUNASR_SRC:-}" ]]; then
    echo "side-by-side: skipped: no FunASR server at '$funasr_bin' and FUNASR_SRC is not set" \
         "(set FUNASR_SRC to a FunASR source checkout, or FUNASR_BIN/FUNASR_BUILD to a build)"
    exit 0
  fi
  FUNASR_BUILD="$(dirname "$(dirname "$funasr_bin")")" "$root/bench/build-funasr.sh"
  [[ -x "$funasr_bin" ]] || die "bench/build-funasr.sh did not produce '$funasr_bin'"
fi
paraserve_bin="${PARASERVE_BIN:-$root/build/paraserve}"
[[ -x "$paraserve_bin" ]] || die "paraserve not found at '$paraserve_bin' (build it, or set PARASERVE_BIN)"
# read -a: split the pass-through flags on whitespace (no quoting inside them)
read -r -a paraserve_extra <<<"${PARASERVE_SERVE_ARGS:-}"
read -r -a funasr_extra <<<"${FUNASR_SERVE_ARGS:-}"

models="$(cd "$models" && pwd)" || die "model set folder '$models' not found"

# Model folders in FunASR's layout (offline-ts: the timestamp model, as run_server_2pass.sh uses).
offline="$models/offline-ts"; [[ -d "$offline" ]] || offline="$models/offline"
punc="$models/punc"
for d in "$models/vad" "$models/online" "$offline" "$punc"; do
  [[ -f "$d/config.yaml" ]] || die "model folder '$d' missing (expected vad, online, offline-ts|offline, punc)"
done

out="${BENCH_OUT:-$(mktemp -d /tmp/side-by-side.XXXXXX)}"
mkdir -p "$out"

# --- audio --------------------------------------------------------------------------------------
if [[ -z "$wav" ]]; then
  a="${BEHAV_AUDIO:-$root/models/behav/audio}"
  # 27.9 s: three_sentences + sample + one_sentence twice (8 spoken segments, 2 s silence between)
  parts=("$a/three_sentences.wav" "$a/sample.wav" "$a/one_sentence.wav" "$a/one_sentence.wav")
  for p in "${parts[@]}"; do [[ -f "$p" ]] || die "'$p' missing: pass --wav FILE or run scripts/make-models.sh behav"; done
  command -v sox >/dev/null || die "sox not found (apt-get install sox), or pass --wav FILE"
  wav="$out/clip.wav"
  sox "${parts[@]}" "$wav"
fi
[[ -f "$wav" ]] || die "--wav '$wav' not found"

# --- /proc helpers ------------------------------------------------------------------------------
clk=$(getconf CLK_TCK) page=$(getconf PAGESIZE)
# "utime_ticks stime_ticks minflt majflt" of a whole process (fields 14, 15, 10, 12; comm may hold spaces)
proc_stat() { local s f; s=$(<"/proc/$1/stat"); read -r -a f <<<"${s##*) }"; echo "${f[11]} ${f[12]} ${f[7]} ${f[9]}"; }
# "voluntary nonvoluntary" context switches summed over the process's threads
proc_ctxt() {
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2} END {print v+0, n+0}'
}
rss_mib() { local f; read -r -a f <"/proc/$1/statm"; awk -v p="${f[1]}" -v ps="$page" 'BEGIN {printf "%.1f", p*ps/1048576}'; }

server_pid="" sampler_pid=""
cleanup() {
  if [[ -n "$sampler_pid" ]]; then kill "$sampler_pid" 2>/dev/null || true; fi
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid="" sampler_pid=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# run_one NAME PORT READY_REGEX CMD...: start the server, wait for READY_REGEX in its log, measure one
# client run, stop it; prints its SUMMARY line and appends it to $out/summary.txt.
run_one() {
  local name="$1" port="$2" ready="$3"; shift 3
  local log="$out/$name.server.log" t0
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is already in use (--${name}-port)"; fi
  echo "side-by-side: $name: starting (log $log)" >&2
  t0=$(date +%s.%N)
  "$@" >"$log" 2>&1 &
  server_pid=$!
  local waited=0
  until grep -q -E "$ready" "$log" 2>/dev/null; do
    kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "$name exited during start-up"; }
    sleep 0.2; waited=$((waited + 1))
    [[ $waited -lt 3000 ]] || die "$name: no '$ready' in its log after 600 s"
  done
  local load_s; load_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b-a}')
  sleep 1  # let start-up threads settle
  local files=() i
  if [[ $warmup -gt 0 ]]; then
    # Warm-up sessions (same clip, same connections) outside the window: both servers are
    # compared in steady state, as the soak's targets are, not on first-touch of their pools.
    for ((i = 0; i < warmup; i++)); do files+=("$wav"); done
    "$paraserve_bin" client --fast --mode 2pass -c "$conns" --port "$port" "${files[@]}" \
      >"$out/$name.warmup.out" 2>&1 || die "$name: warm-up client failed (see $out/$name.warmup.out)"
    sleep "$settle"
  fi
  local rss_before; rss_before=$(rss_mib "$server_pid")
  (while read -r -a f <"/proc/$server_pid/statm"; do echo "${f[1]}"; sleep 0.5; done) \
    >"$out/$name.statm" 2>/dev/null &
  sampler_pid=$!

  files=()
  for ((i = 0; i < sessions; i++)); do files+=("$wav"); done
  local s0 c0 w0 w1 s1 c1 rc=0
  s0=$(proc_stat "$server_pid"); c0=$(proc_ctxt "$server_pid"); w0=$(date +%s.%N)
  "$paraserve_bin" client --fast --mode 2pass -c "$conns" --port "$port" "${files[@]}" \
    >"$out/$name.client.out" 2>"$out/$name.client.err" || rc=$?
  w1=$(date +%s.%N); s1=$(proc_stat "$server_pid"); c1=$(proc_ctxt "$server_pid")
  sleep "$settle"
  local rss_after; rss_after=$(rss_mib "$server_pid")
  local hwm; hwm=$(awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$server_pid/status")
  kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
  cleanup

  # finals, audio seconds and failures from the client's per-utterance lines
  local lat; lat=$(grep -o 'final_ms=[0-9.]*' "$out/$name.client.out" | cut -d= -f2 | sort -n)
  local n_ok; n_ok=$(grep -c 'final_ms=' "$out/$name.client.out" || true)
  local n_err; n_err=$(grep -c $'\terror=' "$out/$name.client.out" || true)
  [[ $rc == 0 ]] || echo "side-by-side: $name: client exit $rc: $(head -c 300 "$out/$name.client.err")" >&2
  awk -v name="$name" -v s0="$s0" -v s1="$s1" -v c0="$c0" -v c1="$c1" -v w0="$w0" -v w1="$w1" \
      -v clk="$clk" -v page="$page" -v rb="$rss_before" -v ra="$rss_after" -v hwm="$hwm" \
      -v load_s="$load_s" -v lat="${lat//$'\n'/ }" -v n_ok="$n_ok" -v n_err="$n_err" -v rc="$rc" \
      -v models="$models" -v q="$quantize" -v conns="$conns" -v sessions="$sessions" \
      -v statm="$out/$name.statm" -v cout="$out/$name.client.out" '
    function pct(p,   k) { if (nl == 0) return -1; k = int(p * nl + 0.999999); if (k < 1) k = 1; return L[k] }
    BEGIN {
      split(s0, a); split(s1, b); split(c0, x); split(c1, y)
      cpu = ((b[1] - a[1]) + (b[2] - a[2])) / clk
      minflt = b[3] - a[3]; majflt = b[4] - a[4]; vcsw = y[1] - x[1]; ivcsw = y[2] - x[2]
      wall = w1 - w0
      audio = 0
      while ((getline line < cout) > 0) if (match(line, /audio_s=[0-9.]+/)) audio += substr(line, RSTART + 8, RLENGTH - 8)
      peak = (rb > ra) ? rb : ra
      while ((getline p < statm) > 0) { m = p * page / 1048576; if (m > peak) peak = m }
      nl = split(lat, L, " ")
      expected = (sessions > conns) ? sessions : conns  # extra connections stream the file again
      fails = (expected > n_ok ? expected - n_ok : 0) + n_err
      eff = (cpu > 0) ? audio / cpu : 0; xrt = (wall > 0) ? audio / wall : 0; fpa = (audio > 0) ? minflt / audio : 0
      printf "SUMMARY server=%s models=%s quantize=%s conns=%d sessions=%d ok=%d failures=%d client_rc=%d " \
             "audio_s=%.1f wall_s=%.2f cpu_s=%.2f audio_per_cpu_s=%.3f xrt=%.2f final_p50_ms=%.0f final_max_ms=%.0f " \
             "minflt=%d minflt_per_audio_s=%.1f majflt=%d vcsw=%d ivcsw=%d " \
             "rss_before_mib=%.1f rss_after_mib=%.1f rss_peak_mib=%.1f vmhwm_mib=%.1f load_wall_s=%.1f\n",
             name, models, q, conns, sessions, n_ok, fails, rc, audio, wall, cpu,
             eff, xrt, pct(0.5), pct(1.0), minflt, fpa, majflt, vcsw, ivcsw, rb, ra, peak, hwm, load_s
    }' | tee -a "$out/summary.txt"
}

[[ $run_funasr == 1 || $run_paraserve == 1 ]] || die "nothing to run"
common_flags=(--vad-dir "$models/vad" --online-model-dir "$models/online" --model-dir "$offline"
              --punc-dir "$punc" --quantize "$quantize" --vad-quant "$quantize" --punc-quant "$quantize"
              --decoder-thread-num "$dec_threads" --io-thread-num "$io_threads" --model-thread-num "$model_threads"
              --certfile '' --keyfile '' --lm-dir '' --itn-dir '' --hotword "$out/no-hotwords.txt")
audio_len=$(soxi -D "$wav" 2>/dev/null || echo "?")
echo "side-by-side: models $models (quantize=$quantize), $sessions x $(basename "$wav") (${audio_len} s)," \
     "$conns connections, $dec_threads decoder / $io_threads I/O threads; logs in $out" >&2

: >"$out/summary.txt"
if [[ $run_funasr == 1 ]]; then
  run_one funasr "$funasr_port" 'asr model init finished' \
    "$funasr_bin" "${common_flags[@]}" --port "$funasr_port" "${funasr_extra[@]}"
fi
if [[ $run_paraserve == 1 ]]; then
  run_one paraserve "$paraserve_port" 'listening on ' \
    "$paraserve_bin" serve "${common_flags[@]}" --port "$paraserve_port" "${paraserve_extra[@]}"
fi

# --- table and ratios -----------------------------------------------------------------------------
awk '
  /^SUMMARY/ {
    n++; for (i = 2; i <= NF; i++) { split($i, kv, "="); V[n, kv[1]] = kv[2] }
  }
  END {
    printf "\n%-10s %9s %7s %8s %7s %10s %8s %8s %5s  %s\n", "server", "audio/cpu", "xRT", "p50 ms",
           "cpu s", "minflt/as", "vcsw", "ivcsw", "fail", "RSS MiB before/after/peak"
    for (r = 1; r <= n; r++)
      printf "%-10s %9.2f %7.2f %8.0f %7.2f %10.1f %8d %8d %5d  %.1f / %.1f / %.1f\n", V[r, "server"],
             V[r, "audio_per_cpu_s"], V[r, "xrt"], V[r, "final_p50_ms"], V[r, "cpu_s"], V[r, "minflt_per_audio_s"],
             V[r, "vcsw"], V[r, "ivcsw"], V[r, "failures"], V[r, "rss_before_mib"], V[r, "rss_after_mib"], V[r, "rss_peak_mib"]
    if (n == 2 && V[1, "server"] == "funasr" && V[2, "server"] == "paraserve") {
      split("audio_per_cpu_s xrt final_p50_ms minflt_per_audio_s vcsw ivcsw rss_before_mib rss_after_mib rss_peak_mib", K, " ")
      line = "RATIO paraserve/funasr"
      for (k = 1; k <= 9; k++)
        line = line sprintf(" %s=%s", K[k], V[1, K[k]] + 0 != 0 ? sprintf("%.2f", V[2, K[k]] / V[1, K[k]]) : "n/a")
      print "\n" line
    }
  }' "$out/summary.txt"
