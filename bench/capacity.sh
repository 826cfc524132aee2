#!/usr/bin/env bash
# Capacity and CPU efficiency, side by side: FunASR HEAD's funasr-wss-server-2pass, then
# `paraserve serve`, on the same models, one server at a time, measured by the same client
# (`paraserve client`). See docs/performance.md, "Capacity".
#
#   bench/capacity.sh [options] MODEL_SET_DIR          (e.g. models/tiny, models/full)
#
# Per server: start it, calibrate (one unloaded 2pass stream of the clip, paced at --calibrate-speed),
# then for each N one run of N concurrent 2pass streams of the whole clip paced at 1x real time with
# starts staggered over one chunk (`paraserve client --latency`); N passes when, over the whole run,
# p95 partial lag <= --max-partial-p95, p95 final latency <= --max-final-p95 and no stream had an error.
# Capacity = the largest passing N ("N+" when the largest N tried passed). Then CPU efficiency: audio
# seconds decoded per server CPU second, `paraserve client --fast`, at each --eff-conc concurrency (--eff-sessions sessions per connection,
# after one warm-up session). Peak RSS = the largest RSS sampled every 0.5 s from the end of model
# loading to the end of the server's run (VmHWM, which includes loading, is on the CAP line). paraserve is also run at
# FunASR's capacity N (when its search did not already) to give its lag there.
#
# Options:
#   --quantize true|false   int8 (model_quant.onnx everywhere) or fp32                       [true]
#   --n-list LIST           N values to run, e.g. 1,2,4,6,8 (ascending; stops at the first failing N)
#                           [search: 1, 2, 4, ... up to --n-max while N passes, then bisection]
#   --n-max N               upper end of the search                                           [32]
#   --duration S            clip length: the default clip's parts repeated and cut to S seconds  [31.9 s clip]
#   --wav FILE              audio to stream instead (16 kHz mono 16-bit WAV; several sentences with pauses)
#   --vad-dir DIR           VAD model folder to use instead of MODEL_SET_DIR/vad (e.g. models/behav/vad:
#                           the random-weight VADs of models/full and models/tiny never end a segment
#                           in the clip, so its only final reply is the whole clip's offline pass)
#   --calibrate-speed S     pacing of the calibration stream (lower = tighter reference)       [0.5]
#   --max-partial-p95 S     [1.0]     --max-final-p95 S   [2.0]
#   --timeout S             a stream fails when its last reply comes S s after its audio ended  [20]
#   --eff-conc LIST         efficiency concurrencies                                          [1,2,4]
#   --eff-sessions K        sessions (whole clips) per connection in each efficiency run        [2]
#   --decoder-threads N [2]   --io-threads N [1]   --model-threads N [1]
#   --funasr-port P [10297]   --paraserve-port P [10298]
#   --only funasr|paraserve   run one server only (no ratios)
# Environment:
#   FUNASR_BIN      funasr-wss-server-2pass to run [$FUNASR_BUILD/bin/funasr-wss-server-2pass]
#   FUNASR_BUILD    FunASR build folder [/tmp/funasr-build]; built with bench/build-funasr.sh when
#                   FUNASR_SRC is set and the binary is missing
#   FUNASR_SRC      FunASR source checkout. With neither FUNASR_SRC nor a built binary: FunASR is skipped.
#   PARASERVE_BIN   [build/paraserve] (server and client)
#   PARASERVE_SERVE_ARGS / FUNASR_SERVE_ARGS   extra server flags
#   BEHAV_AUDIO     folder with the behav WAVs for the default clip [models/behav/audio]
#   BENCH_OUT       folder for logs, calibrations and per-run JSON [a new /tmp/capacity.XXXXXX]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

quantize=true n_list="" n_max=32 duration="" wav="" cal_speed=0.5 max_partial=1.0 max_final=2.0 timeout=20
eff_conc="1,2,4" eff_sessions=2 dec_threads=2 io_threads=1 model_threads=1 funasr_port=10297 paraserve_port=10298 only="" models="" vad_dir=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "capacity: error: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quantize) quantize="$2"; shift 2 ;;
    --n-list) n_list="$2"; shift 2 ;;
    --n-max) n_max="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --wav) wav="$2"; shift 2 ;;
    --vad-dir) vad_dir="$2"; shift 2 ;;
    --calibrate-speed) cal_speed="$2"; shift 2 ;;
    --max-partial-p95) max_partial="$2"; shift 2 ;;
    --max-final-p95) max_final="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --eff-conc) eff_conc="$2"; shift 2 ;;
    --eff-sessions) eff_sessions="$2"; shift 2 ;;
    --decoder-threads) dec_threads="$2"; shift 2 ;;
    --io-threads) io_threads="$2"; shift 2 ;;
    --model-threads) model_threads="$2"; shift 2 ;;
    --funasr-port) funasr_port="$2"; shift 2 ;;
    --paraserve-port) paraserve_port="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [[ -z "$models" ]] || die "one model set folder expected, got '$models' and '$1'"; models="$1"; shift ;;
  esac
done
[[ -n "$models" ]] || { usage >&2; exit 2; }
[[ "$quantize" == true || "$quantize" == false ]] || die "--quantize: expected true or false, got '$quantize'"
[[ -z "$n_list" || "$n_list" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--n-list: expected e.g. 1,2,4,8, got '$n_list'"
[[ "$eff_conc" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--eff-conc: expected e.g. 1,2,4, got '$eff_conc'"
[[ "$n_max" =~ ^[1-9][0-9]*$ ]] || die "--n-max: expected an integer >= 1"
[[ "$eff_sessions" =~ ^[1-9][0-9]*$ ]] || die "--eff-sessions: expected an integer >= 1"
[[ -z "$duration" || "$duration" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--duration: expected seconds, got '$duration'"
[[ -z "$only" || "$only" == funasr || "$only" == paraserve ]] || die "--only: expected funasr or paraserve"
command -v python3 >/dev/null || die "python3 not found (reads the client's JSON summaries)"

# --- binaries ---------------------------------------------------------------------------------
run_funasr=1 run_paraserve=1
[[ "$only" == paraserve ]] && run_funasr=0
[[ "$only" == funasr ]] && run_paraserve=0
funasr_bin="${FUNASR_BIN:-${FUNASR_BUILD:-/tmp/funasr-build}/bin/funasr-wss-server-2pass}"
if [[ $run_funasr == 1 && ! -x "$funasr_bin" ]]; then
  if [[ -z "${FUNASR_SRC:-}" ]]; then
    echo "capacity: FunASR skipped: no FunASR server at '$funasr_bin' and FUNASR_SRC is not set" \
         "(set FUNASR_SRC to a FunASR source checkout, or FUNASR_BIN/FUNASR_BUILD to a build)"
    run_funasr=0
  else
    FUNASR_BUILD="$(dirname "$(dirname "$funasr_bin")")" "$root/bench/build-funasr.sh"
    [[ -x "$funasr_bin" ]] || die "bench/build-funasr.sh did not produce '$funasr_bin'"
  fi
fi
paraserve_bin="${PARASERVE_BIN:-$root/build/paraserve}"
[[ -x "$paraserve_bin" ]] || die "paraserve not found at '$paraserve_bin' (build it, or set PARASERVE_BIN)"
read -r -a paraserve_extra <<<"${PARASERVE_SERVE_ARGS:-}"
read -r -a funasr_extra <<<"${FUNASR_SERVE_ARGS:-}"

models="$(cd "$models" && pwd)" || die "model set folder '$models' not found"
offline="$models/offline-ts"; [[ -d "$offline" ]] || offline="$models/offline"
punc="$models/punc"
if [[ -n "$vad_dir" ]]; then vad_dir="$(cd "$vad_dir" && pwd)" || die "--vad-dir '$vad_dir' not found"; else vad_dir="$models/vad"; fi
for d in "$vad_dir" "$models/online" "$offline" "$punc"; do
  [[ -f "$d/config.yaml" ]] || die "model folder '$d' missing (expected vad, online, offline-ts|offline, punc)"
done
out="${BENCH_OUT:-$(mktemp -d /tmp/capacity.XXXXXX)}"
mkdir -p "$out"

# --- audio: sentences joined with 1 s of silence ------------------------------------------------------
if [[ -z "$wav" ]]; then
  a="${BEHAV_AUDIO:-$root/models/behav/audio}"
  parts=("$a/three_sentences.wav" "$a/sample.wav" "$a/one_sentence.wav" "$a/one_sentence.wav")
  for p in "${parts[@]}"; do [[ -f "$p" ]] || die "'$p' missing: pass --wav FILE or run scripts/make-models.sh behav"; done
  command -v sox >/dev/null || die "sox not found (apt-get install sox), or pass --wav FILE"
  sox -n -r 16000 -c 1 -b 16 "$out/silence.wav" trim 0 1
  seq_parts=()
  for p in "${parts[@]}"; do seq_parts+=("$p" "$out/silence.wav"); done
  wav="$out/clip.wav"
  if [[ -n "$duration" ]]; then  # repeat the sequence until long enough, then cut
    reps=$(awk -v d="$duration" 'BEGIN {print int(d / 31.88) + 1}')
    all=(); for ((i = 0; i < reps; i++)); do all+=("${seq_parts[@]}"); done
    sox "${all[@]}" "$wav" trim 0 "$duration"
  else
    sox "${seq_parts[@]}" "$wav"  # 31.9 s: 3 + 3 + 1 + 1 sentences, 1 s of silence after each file
  fi
fi
[[ -f "$wav" ]] || die "--wav '$wav' not found"
audio_len=$(soxi -D "$wav" 2>/dev/null || echo "?")

# --- /proc helpers ---------------------------------------------------------------------------------
clk=$(getconf CLK_TCK) page=$(getconf PAGESIZE)
cpu_ticks() { local s f; s=$(<"/proc/$1/stat"); read -r -a f <<<"${s##*) }"; echo $((f[11] + f[12])); }
load1() { cut -d' ' -f1 /proc/loadavg; }
# Waits (at most 60 s) until the server used < 5 % of a CPU over half a second: the previous run's
# backlog is done.
wait_idle() {
  local a b i
  for ((i = 0; i < 120; i++)); do
    a=$(cpu_ticks "$1"); sleep 0.5; b=$(cpu_ticks "$1")
    awk -v d=$((b - a)) -v clk="$clk" 'BEGIN {exit !(d / clk < 0.025)}' && return 0
  done
  echo "capacity: warning: server still busy after 60 s" >&2
}

server_pid="" sampler_pid=""
cleanup() {
  if [[ -n "$sampler_pid" ]]; then kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; fi
  sampler_pid=""
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# json_get FILE EXPR: python expression over `j` (the parsed JSON)
json_get() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print("null" if v is None else v)' "$1" "$2"; }

# try_n NAME PORT N: one paced run of N streams; appends a RUN line to $out/runs.txt; exit 0 when N passes.
try_n() {
  local name="$1" port="$2" n="$3" js="$out/$1.n$3.json" rc=0 l0 l1
  l0=$(load1)
  "$paraserve_bin" client --latency -c "$n" --port "$port" --calibration "$out/$name.cal.json" \
    --timeout "$timeout" --summary-json "$js" "$wav" >"$out/$name.n$n.out" 2>&1 || rc=$?
  l1=$(load1)
  [[ -f "$js" ]] || { echo "capacity: $name N=$n: client failed (exit $rc): $(tail -n 3 "$out/$name.n$n.out")" >&2;
                      echo "RUN server=$name n=$n pass=0 partial_p95_ms=null final_p95_ms=null partial_max_ms=null final_max_ms=null errors=$n load1=$l0/$l1" >>"$out/runs.txt"; return 1; }
  local pp fp pm fm er pass
  pp=$(json_get "$js" 'j["partial_lag"]["p95_ms"]'); fp=$(json_get "$js" 'j["final_latency"]["p95_ms"]')
  pm=$(json_get "$js" 'j["partial_lag"]["max_ms"]'); fm=$(json_get "$js" 'j["final_latency"]["max_ms"]')
  er=$(json_get "$js" 'j["errors"]')
  pass=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); mp,mf=float(sys.argv[2])*1000,float(sys.argv[3])*1000
ok = j["errors"]==0 and all(j[k]["p95_ms"] is None or j[k]["p95_ms"] <= m for k,m in (("partial_lag",mp),("final_latency",mf)))
print(1 if ok else 0)' "$js" "$max_partial" "$max_final")
  echo "RUN server=$name n=$n pass=$pass partial_p95_ms=$pp final_p95_ms=$fp partial_max_ms=$pm final_max_ms=$fm errors=$er load1=$l0/$l1" |
    tee -a "$out/runs.txt" >&2
  wait_idle "$server_pid"
  [[ $pass == 1 ]]
}

# search NAME PORT: prints the capacity (largest passing N; 0 when N=1 fails), with "+" appended
# when the largest N tried passed (the capacity is then at least that).
search() {
  local name="$1" port="$2" best=0 n lo hi mid
  if [[ -n "$n_list" ]]; then
    for n in ${n_list//,/ }; do
      if try_n "$name" "$port" "$n"; then best=$n; else echo "$best"; return; fi
    done
    echo "$best+"; return
  fi
  n=1 hi=0
  while :; do
    if try_n "$name" "$port" "$n"; then best=$n; else hi=$n; break; fi
    [[ $n -ge $n_max ]] && break
    n=$((n * 2)); [[ $n -gt $n_max ]] && n=$n_max
  done
  lo=$best
  [[ $hi -eq 0 ]] && { echo "$best+"; return; }
  while [[ $hi -gt 0 && $((hi - lo)) -gt 1 ]]; do
    mid=$(((lo + hi) / 2))
    if try_n "$name" "$port" "$mid"; then lo=$mid; else hi=$mid; fi
  done
  echo "$lo"
}

# run_server NAME PORT READY_REGEX CMD...: the whole measurement for one server.
run_server() {
  local name="$1" port="$2" ready="$3"; shift 3
  local log="$out/$name.server.log"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is already in use (--${name}-port)"; fi
  echo "capacity: $name: starting (log $log)" >&2
  "$@" >"$log" 2>&1 &
  server_pid=$!
  local waited=0
  until grep -q -E "$ready" "$log" 2>/dev/null; do
    kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "$name exited during start-up"; }
    sleep 0.2; waited=$((waited + 1))
    [[ $waited -lt 3000 ]] || die "$name: no '$ready' in its log after 600 s"
  done
  sleep 1
  (while read -r -a f <"/proc/$server_pid/statm"; do echo "${f[1]}"; sleep 0.5; done) >"$out/$name.statm" 2>/dev/null &
  sampler_pid=$!
  # calibration: one unloaded stream
  echo "capacity: $name: calibrating (1 stream at ${cal_speed}x, $(load1) load)" >&2
  "$paraserve_bin" client --latency --calibrate-only --calibrate-speed "$cal_speed" --port "$port" \
    --save-calibration "$out/$name.cal.json" "$wav" >"$out/$name.cal.out" 2>&1 ||
    die "$name: calibration failed: $(tail -n 3 "$out/$name.cal.out")"
  echo "capacity: $name: $(head -n 1 "$out/$name.cal.out")" >&2
  local cap; cap=$(search "$name" "$port")
  if [[ "$name" == paraserve && -n "${funasr_cap:-}" && "${funasr_cap%+}" -gt 0 ]] &&
     ! grep -q "^RUN server=paraserve n=$funasr_cap " "$out/runs.txt"; then
    try_n "$name" "$port" "${funasr_cap%+}" || true
  fi
  # efficiency: --fast, one session per connection, after one warm-up session
  "$paraserve_bin" client --fast --mode 2pass --port "$port" "$wav" >/dev/null 2>&1 || true
  local c files i t0 t1 w0 w1 rc aud l0
  for c in ${eff_conc//,/ }; do
    files=(); for ((i = 0; i < c * eff_sessions; i++)); do files+=("$wav"); done
    wait_idle "$server_pid"
    l0=$(load1); rc=0
    t0=$(cpu_ticks "$server_pid"); w0=$(date +%s.%N)
    "$paraserve_bin" client --fast --mode 2pass -c "$c" --port "$port" "${files[@]}" >"$out/$name.eff$c.out" 2>&1 || rc=$?
    w1=$(date +%s.%N); t1=$(cpu_ticks "$server_pid")
    aud=$(grep -o 'audio_s=[0-9.]*' "$out/$name.eff$c.out" | cut -d= -f2 | awk '{s += $1} END {printf "%.2f", s}')
    awk -v name="$name" -v c="$c" -v d=$((t1 - t0)) -v clk="$clk" -v a="$aud" -v w0="$w0" -v w1="$w1" -v rc="$rc" -v l="$l0/$(load1)" \
      'BEGIN {cpu = d / clk; printf "EFF server=%s c=%d audio_s=%.1f cpu_s=%.2f audio_per_cpu_s=%.3f wall_s=%.2f client_rc=%d load1=%s\n",
              name, c, a, cpu, (cpu > 0 ? a / cpu : 0), w1 - w0, rc, l}' | tee -a "$out/runs.txt" >&2
  done
  local hwm; hwm=$(awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$server_pid/status")
  kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
  local peak; peak=$(awk -v ps="$page" '$1 > m {m = $1} END {printf "%.1f", m * ps / 1048576}' "$out/$name.statm")
  echo "CAP server=$name capacity=$cap rss_peak_mib=$peak vmhwm_mib=$hwm" | tee -a "$out/runs.txt" >&2
  cleanup
  [[ "$name" == funasr ]] && funasr_cap=$cap
  return 0
}

[[ $run_funasr == 1 || $run_paraserve == 1 ]] || die "nothing to run"
common_flags=(--vad-dir "$vad_dir" --online-model-dir "$models/online" --model-dir "$offline"
              --punc-dir "$punc" --quantize "$quantize" --vad-quant "$quantize" --punc-quant "$quantize"
              --decoder-thread-num "$dec_threads" --io-thread-num "$io_threads" --model-thread-num "$model_threads"
              --certfile '' --keyfile '' --lm-dir '' --itn-dir '' --hotword "$out/no-hotwords.txt")
echo "capacity: models $models (quantize=$quantize), VAD $vad_dir, clip $(basename "$wav") (${audio_len} s)," \
     "$dec_threads decoder / $io_threads I/O / $model_threads model threads; criteria p95 partial <= ${max_partial} s," \
     "p95 final <= ${max_final} s, no errors; logs in $out" >&2
: >"$out/runs.txt"
funasr_cap=""
if [[ $run_funasr == 1 ]]; then
  run_server funasr "$funasr_port" 'asr model init finished' \
    "$funasr_bin" "${common_flags[@]}" --port "$funasr_port" "${funasr_extra[@]}"
fi
if [[ $run_paraserve == 1 ]]; then
  run_server paraserve "$paraserve_port" 'listening on ' \
    "$paraserve_bin" serve "${common_flags[@]}" --port "$paraserve_port" "${paraserve_extra[@]}"
fi

# --- table and ratios -----------------------------------------------------------------------------
awk -v effc="$eff_conc" '
  function kv(   i, p) { delete V; for (i = 2; i <= NF; i++) { split($i, p, "="); V[p[1]] = p[2] } }
  /^RUN / { kv(); R[V["server"], V["n"]] = V["partial_p95_ms"] " " V["final_p95_ms"] " " V["load1"] }
  /^EFF / { kv(); E[V["server"], V["c"]] = V["audio_per_cpu_s"] }
  /^CAP / { kv(); S[++ns] = V["server"]; CS[V["server"]] = V["capacity"]; C[V["server"]] = V["capacity"] + 0
            H[V["server"]] = V["rss_peak_mib"] }
  END {
    nc = split(effc, EC, ",")
    hdr = sprintf("%-10s %8s %15s %15s", "server", "capacity", "p95 partial ms", "p95 final ms")
    for (k = 1; k <= nc; k++) hdr = hdr sprintf(" %9s", "eff c=" EC[k])
    print "\n" hdr sprintf(" %13s  %s", "peak RSS MiB", "load1 at capacity run (start/end)")
    for (i = 1; i <= ns; i++) {
      s = S[i]; n = C[s]; split(R[s, n], r, " ")
      line = sprintf("%-10s %8s %15s %15s", s, CS[s], (n > 0 ? r[1] : "-"), (n > 0 ? r[2] : "-"))
      for (k = 1; k <= nc; k++) line = line sprintf(" %9s", E[s, EC[k]])
      print line sprintf(" %13s  %s", H[s], (n > 0 ? r[3] : "-"))
    }
    if (("funasr" in C) && ("paraserve" in C)) {
      f = "funasr"; p = "paraserve"
      line = "RATIO paraserve/funasr capacity=" (C[f] > 0 ? sprintf("%.2f", C[p] / C[f]) : "n/a") \
             ((CS[f] ~ /\+/ || CS[p] ~ /\+/) ? " (capacity N+ = at least N: widen --n-list or --n-max)" : "")
      for (k = 1; k <= nc; k++)
        line = line sprintf(" eff_c%s=%s", EC[k], (E[f, EC[k]] > 0 ? sprintf("%.2f", E[p, EC[k]] / E[f, EC[k]]) : "n/a"))
      line = line " peak_rss=" (H[f] > 0 ? sprintf("%.2f", H[p] / H[f]) : "n/a")
      print "\n" line
      if (C[f] > 0 && ((p, C[f]) in R)) {
        split(R[p, C[f]], r, " "); split(R[f, C[f]], q, " ")
        printf "at FunASR capacity N=%d: p95 partial lag paraserve %s ms vs funasr %s ms; p95 final latency %s ms vs %s ms\n",
               C[f], r[1], q[1], r[2], q[2]
      }
    }
  }' "$out/runs.txt"
