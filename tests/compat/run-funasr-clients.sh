#!/usr/bin/env bash
# Run FunASR's own clients, unchanged, against `paraserve serve` with the behav models:
#   * runtime/python/websocket/funasr_wss_client.py  (file mode; ws and wss)
#   * runtime/html5/static (the HTML5 demo page) in headless Chromium (file and fake-mic mode)
# and print PASS/FAIL per case. See docs/compat-testing.md.
#
#   FUNASR_SRC=/path/to/FunASR tests/compat/run-funasr-clients.sh [PARASERVE_BIN]
#
# FUNASR_SRC: a FunASR checkout (work tree) or a bare git mirror (read with `git show HEAD:`).
# Without FUNASR_SRC the script skips (exit 0): FunASR's code is never part of this repository.
# Env: PARASERVE_BIN (default build/paraserve), MODELS (default models/behav),
#      CHROMIUM (default `chromium`; missing => the HTML5 cases are skipped),
#      PYTHON (default /usr/bin/python3, needs the `websockets` package),
#      KEEP_DIR=1 keeps the scratch folder (logs, screenshots) and prints its path,
#      ONLY=python|html5 runs one group.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [[ -z "${FUNASR_SRC:-}" ]]; then
  echo "SKIP: FUNASR_SRC is not set (point it at a FunASR checkout to run FunASR's own clients)"
  exit 0
fi

bin=${1:-${PARASERVE_BIN:-$root/build/paraserve}}
models=${MODELS:-$root/models/behav}
py=${PYTHON:-/usr/bin/python3}
chromium=${CHROMIUM:-$(command -v chromium || true)}
only=${ONLY:-}

die() { echo "FAIL: $*"; exit 1; }
[[ -x "$bin" ]] || die "paraserve binary not found at $bin (build it, or pass its path)"
[[ -f "$models/behaviour.json" ]] || die "behav models not found in $models (run scripts/make-models.sh behav)"
"$py" -c "import websockets" 2>/dev/null || die "$py has no 'websockets' module (Debian: python3-websockets)"
command -v openssl >/dev/null || die "openssl is needed for the TLS cases"

work=$(mktemp -d /tmp/paraserve-compat.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [[ "${KEEP_DIR:-0}" == 1 ]]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- FunASR's client files, taken into the scratch folder ------------------------------
client_files=(runtime/python/websocket/funasr_wss_client.py
              runtime/html5/static/index.html runtime/html5/static/main.js
              runtime/html5/static/wsconnecter.js runtime/html5/static/recorder-core.js
              runtime/html5/static/wav.js runtime/html5/static/pcm.js)
if [[ -f "$FUNASR_SRC/${client_files[0]}" ]]; then
  for f in "${client_files[@]}"; do mkdir -p "$work/funasr/$(dirname "$f")"; cp "$FUNASR_SRC/$f" "$work/funasr/$f" || die "missing $FUNASR_SRC/$f"; done
else
  for f in "${client_files[@]}"; do
    mkdir -p "$work/funasr/$(dirname "$f")"
    git --git-dir="$FUNASR_SRC" show "HEAD:$f" > "$work/funasr/$f" 2>/dev/null \
      || git -C "$FUNASR_SRC" show "HEAD:$f" > "$work/funasr/$f" 2>/dev/null \
      || die "FUNASR_SRC=$FUNASR_SRC has no $f (not a FunASR checkout or git mirror)"
  done
fi
funasr_rev=$(git -C "$FUNASR_SRC" rev-parse HEAD 2>/dev/null || git --git-dir="$FUNASR_SRC" rev-parse HEAD 2>/dev/null || echo unknown)
client="$work/funasr/runtime/python/websocket/funasr_wss_client.py"
echo "FunASR clients from $FUNASR_SRC (commit $funasr_rev)"
echo "paraserve: $bin; models: $models"

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- servers: ws with the timestamp model, wss with it, ws with the plain offline model ---
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || die "openssl could not make a test certificate"

start_server() {  # name port offline-dir [tls]
  local name=$1 port=$2 offline=$3 tls=${4:-}
  local args=(serve --listen-ip 127.0.0.1 --port "$port" --vad-dir "$models/vad"
              --online-model-dir "$models/online" --model-dir "$models/$offline"
              --punc-dir "$models/punc" --decoder-thread-num 1 --io-thread-num 1)
  [[ -n "$tls" ]] && args+=(--certfile "$work/cert.pem" --keyfile "$work/key.pem")
  "$bin" "${args[@]}" > "$work/server-$name.log" 2>&1 &
  pids+=($!)
  local scheme=http; [[ -n "$tls" ]] && scheme=https
  for _ in $(seq 1 100); do
    "$py" - "$scheme://127.0.0.1:$port/readyz" <<'EOF' 2>/dev/null && return 0
import ssl, sys, urllib.request
ctx = ssl._create_unverified_context()
urllib.request.urlopen(sys.argv[1], timeout=2, context=ctx).read()
EOF
    sleep 0.2
  done
  die "server $name did not become ready; see $work/server-$name.log"
}
port_ws=$(free_port); port_wss=$(free_port); port_plain=$(free_port)
start_server ws "$port_ws" offline-ts
start_server wss "$port_wss" offline-ts tls
start_server plain "$port_plain" offline

pass=0; fail=0; skip=0
report() {  # status name detail-file
  local status=$1 name=$2 detail=${3:-}
  printf '%-4s %s\n' "$status" "$name"
  case $status in
    PASS) pass=$((pass + 1)) ;;
    SKIP) skip=$((skip + 1)) ;;
    *) fail=$((fail + 1)); [[ -n "$detail" && -f "$detail" ]] && sed 's/^/       /' "$detail" ;;
  esac
}

# --- FunASR's Python client -------------------------------------------------------------
printf '阿里巴巴 20\nhello world 40\n' > "$work/hotwords.txt"
py_case() {  # name port ssl mode audio timestamps [client args...]
  local name=$1 port=$2 ssl=$3 mode=$4 audio=$5 ts=$6; shift 6
  local dir="$work/py-$name"; mkdir -p "$dir"
  (cd "$dir" && timeout 120 "$py" "$client" --host 127.0.0.1 --port "$port" --ssl "$ssl" \
     --mode "$mode" --audio_in "$models/audio/$audio" --log_dir "$dir/logs" \
     --output_dir "$dir/out" --result_timeout 60 "$@" > "$dir/client.log" 2>&1)
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "client exit status $rc (124 = hung past 120 s); last lines:" > "$dir/why"
    tail -5 "$dir/client.log" >> "$dir/why"
    report FAIL "python $name" "$dir/why"; return
  fi
  if "$py" "$here/check_results.py" python "$dir/logs/meeting_0_0/events.jsonl" "$dir/client.log" \
       --models "$models" --mode "$mode" --audio "$audio" --timestamps "$ts" > "$dir/why"; then
    report PASS "python $name"
  else
    report FAIL "python $name" "$dir/why"
  fi
}

if [[ -z "$only" || "$only" == python ]]; then
  for mode in 2pass online offline; do
    py_case "ws-$mode" "$port_ws" 0 "$mode" one_sentence.wav yes
    py_case "ws-$mode-hotwords-noitn" "$port_ws" 0 "$mode" three_sentences.wav yes \
      --hotword "$work/hotwords.txt" --use_itn 0
    py_case "wss-$mode" "$port_wss" 1 "$mode" one_sentence.wav yes
  done
  py_case "ws-2pass-no-timestamp-model" "$port_plain" 0 2pass sample.wav no
  py_case "ws-offline-no-timestamp-model" "$port_plain" 0 offline one_sentence.wav no
  # Stream ends inside speech. (Not 2pass: there the final call yields both the last online
  # delta and the offline sentence, and FunASR sends only the offline text in that reply.)
  py_case "ws-online-no-trailing-silence" "$port_ws" 0 online no_trailing_silence.wav yes
  py_case "ws-offline-no-trailing-silence" "$port_ws" 0 offline no_trailing_silence.wav yes
  py_case "ws-2pass-8k" "$port_ws" 0 2pass one_sentence_8k.wav yes --audio_fs 8000
  py_case "ws-2pass-silence" "$port_ws" 0 2pass silence.wav yes
  py_case "ws-2pass-send-without-sleep" "$port_ws" 0 2pass three_sentences.wav yes --send_without_sleep
fi

# --- FunASR's HTML5 page in headless Chromium -------------------------------------------
html_case() {  # name ws-url mode audio timestamps itn hotwords [driver args...]
  local name=$1 url=$2 mode=$3 audio=$4 ts=$5 itn=$6 hot=$7; shift 7
  local dir="$work/html5-$name"; mkdir -p "$dir"
  local extra=()
  [[ $itn == 1 ]] && extra+=(--itn)
  [[ $hot == 1 ]] && extra+=(--hotwords)
  timeout 180 "$py" "$here/html5_driver.py" --chromium "$chromium" --page-url "$page" \
    --ws-url "$url" --audio "$models/audio/$audio" --screenshot "$work/html5-$name.png" \
    --timeout 60 "${extra[@]}" "$@" > "$dir/driver.json" 2> "$dir/driver.err"
  if "$py" "$here/check_results.py" html5 "$dir/driver.json" --models "$models" --mode "$mode" \
       --audio "$audio" --timestamps "$ts" --itn "$itn" --hotwords "$hot" > "$dir/why"; then
    report PASS "html5 $name"
  else
    tail -3 "$dir/driver.err" >> "$dir/why"
    report FAIL "html5 $name" "$dir/why"
  fi
}

if [[ -z "$only" || "$only" == html5 ]]; then
  if [[ -z "$chromium" ]]; then
    report SKIP "html5 (no chromium; set CHROMIUM or apt-get install chromium)"
  else
    http_port=$(free_port)
    (cd "$work/funasr/runtime/html5/static" && exec "$py" -m http.server "$http_port" --bind 127.0.0.1) \
      > "$work/http.log" 2>&1 &
    pids+=($!)
    page="http://127.0.0.1:$http_port/index.html"
    for _ in $(seq 1 50); do "$py" -c "import urllib.request; urllib.request.urlopen('$page', timeout=2)" 2>/dev/null && break; sleep 0.2; done
    # File mode: the page always asks for mode "offline".
    html_case file-ws "ws://127.0.0.1:$port_ws/" offline one_sentence.wav yes 0 0
    html_case file-ws-itn-hotwords "ws://127.0.0.1:$port_ws/" offline three_sentences.wav yes 1 1
    html_case file-ws-no-timestamp-model "ws://127.0.0.1:$port_plain/" offline one_sentence.wav no 0 0
    html_case file-wss "wss://127.0.0.1:$port_wss/" offline one_sentence.wav yes 0 0 --ignore-cert-errors
    # Microphone mode: Chromium's fake capture device plays the WAV file.
    html_case mic-2pass "ws://127.0.0.1:$port_ws/" 2pass one_sentence.wav yes 0 0 --mic --mode 2pass --mic-seconds 4.5
    html_case mic-online "ws://127.0.0.1:$port_ws/" online one_sentence.wav yes 0 0 --mic --mode online --mic-seconds 4.5
    html_case mic-offline "ws://127.0.0.1:$port_ws/" offline one_sentence.wav yes 0 0 --mic --mode offline --mic-seconds 4.5
  fi
fi

echo "passed $pass, failed $fail, skipped $skip (FunASR $funasr_rev)"
[[ $fail -eq 0 ]]
