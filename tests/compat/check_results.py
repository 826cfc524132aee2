#!/usr/bin/python3
"""Judge one FunASR-client run against paraserve with the behav models.

  check_results.py python EVENTS_JSONL CLIENT_LOG --mode M --audio NAME [--timestamps yes|no]
  check_results.py html5 DRIVER_JSON --mode M --audio NAME [--timestamps yes|no]
                   [--ws-mode M] [--itn 0|1] [--hotwords 0|1]

The expected text comes from models/behav/behaviour.json (files.NAME.text). Texts are
compared after removing punctuation and spaces: punctuation is the punctuation model's
business and FunASR does not re-space English across online chunks. Prints "ok" or one
line per problem; exits 1 on any problem.
"""
import argparse
import json
import os
import re
import sys

PUNCT = re.compile(r"[，。？、,.?!\s]")
STAMP_PREFIX = re.compile(r"\d+(\.\d+)?:")  # the HTML5 page writes "0.54:你好" per word


def norm(text):
    return PUNCT.sub("", text)


def expected_text(models, audio):
    with open(os.path.join(models, "behaviour.json"), encoding="utf-8") as f:
        files = json.load(f)["files"]
    if audio not in files:
        raise SystemExit(f"behaviour.json: no entry files.{audio}")
    return files[audio]["text"]


def check_timestamp(reply, want, problems):
    ts = reply.get("timestamp")
    if ts is None:
        if want == "yes" and reply.get("mode") == "2pass-offline" and reply.get("text"):
            problems.append(f"2pass-offline reply without timestamp: {reply}")
        return
    if want == "no":
        problems.append(f"timestamp sent although the offline model has none: {ts!r}")
    if not isinstance(ts, str):
        problems.append(f"timestamp is {type(ts).__name__}, FunASR clients need a string: {ts!r}")
        return
    try:
        pairs = json.loads(ts)
    except ValueError:
        problems.append(f"timestamp is not JSON: {ts!r}")
        return
    if not (isinstance(pairs, list) and pairs and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, int) for x in p) and p[0] <= p[1]
            for p in pairs)):
        problems.append(f"timestamp is not a list of [begin_ms,end_ms]: {ts!r}")


def check_replies(replies, mode, expected, want_ts, problems):
    finals = [r for r in replies if r.get("is_final")]
    if len(finals) != 1:
        problems.append(f"{len(finals)} is_final replies, expected exactly 1")
    elif replies[-1] is not finals[0]:
        problems.append("replies after the is_final reply")
    for r in replies:
        if "error" in r:
            problems.append(f"error reply: {r['error']}")
        check_timestamp(r, want_ts, problems)
    online = "".join(r.get("text", "") for r in replies if r.get("mode") == "2pass-online")
    offline = "".join(r.get("text", "") for r in replies if r.get("mode") == "2pass-offline")
    if mode in ("2pass", "online") and norm(online) != norm(expected):
        problems.append(f"online text {online!r} != expected {expected!r}")
    if mode in ("2pass", "offline") and norm(offline) != norm(expected):
        problems.append(f"offline text {offline!r} != expected {expected!r}")
    if mode == "online" and offline:
        problems.append(f"2pass-offline text in online mode: {offline!r}")
    if mode == "offline" and online:
        problems.append(f"2pass-online text in offline mode: {online!r}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["python", "html5"])
    p.add_argument("files", nargs="+")
    p.add_argument("--models", required=True, help="models/behav")
    p.add_argument("--mode", required=True, help="the mode the server was asked for")
    p.add_argument("--audio", required=True, help="file name in behaviour.json")
    p.add_argument("--timestamps", choices=["yes", "no"], default="yes")
    p.add_argument("--itn", type=int, choices=[0, 1])
    p.add_argument("--hotwords", type=int, choices=[0, 1])
    a = p.parse_args()
    expected = expected_text(a.models, a.audio)
    problems = []
    if a.kind == "python":
        events_path, log_path = a.files
        log = open(log_path, encoding="utf-8", errors="replace").read()
        for bad in ("Exception", "Traceback", "TimeoutError", "server failed to finalize"):
            if bad in log:
                problems.append(f"client printed {bad!r}: see {log_path}")
        if not os.path.exists(events_path):
            problems.append(f"client wrote no {events_path}")
        else:
            with open(events_path, encoding="utf-8") as f:
                events = [json.loads(line) for line in f if line.strip()]
            # events.jsonl keeps mode/text/is_final and the timestamp as "server_timestamp".
            replies = [{"mode": e["mode"] or None, "text": e["text"], "is_final": e["is_final"],
                        **({"timestamp": e["server_timestamp"]} if e["server_timestamp"] is not None else {})}
                       for e in events]
            check_replies([{k: v for k, v in r.items() if v is not None} for r in replies],
                          a.mode, expected, a.timestamps, problems)
    else:
        with open(a.files[0], encoding="utf-8") as f:
            lines = [line for line in f if line.strip().startswith("{")]
        if not lines:
            problems.append(f"driver printed no JSON: see {a.files[0]}")
            res = {}
        else:
            res = json.loads(lines[-1])
        if "error" in res:
            problems.append(f"driver: {res['error']}")
        else:
            for m in res.get("alerts", []):
                problems.append(f"page showed an alert: {m}")
            for e in res.get("exceptions", []):
                problems.append(f"page threw: {e.splitlines()[0] if e else e}")
            check_replies(res.get("received", []), a.mode, expected, a.timestamps, problems)
            shown = STAMP_PREFIX.sub("", res.get("text", ""))
            if norm(shown) != norm(expected):
                problems.append(f"page shows {res.get('text')!r}, expected {expected!r}")
            sent = [m for m in res.get("sent", []) if m.get("is_speaking") is True]
            if len(sent) != 1:
                problems.append(f"page sent {len(sent)} start messages")
            else:
                first = sent[0]
                if first.get("mode") != a.mode:
                    problems.append(f"page sent mode {first.get('mode')!r}, expected {a.mode!r}")
                if a.itn is not None and first.get("itn") != bool(a.itn):
                    problems.append(f"page sent itn {first.get('itn')!r}")
                if a.hotwords is not None and ("hotwords" in first) != bool(a.hotwords):
                    problems.append(f"page sent hotwords {first.get('hotwords')!r}")
    if problems:
        for line in problems:
            print(line)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
