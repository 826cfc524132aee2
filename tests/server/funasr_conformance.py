#!/usr/bin/python3
"""Sends exactly what FunASR's Python client (runtime/python/websocket/funasr_wss_client.py)
sends, in file mode and microphone style, with and without hotwords / itn, and checks the
replies of a running paraserve server. Usage: funasr_conformance.py HOST PORT WAV [--ssl]
Exit 0 when every check passes; one line per failure otherwise."""
import asyncio, json, ssl, sys, wave

import websockets


async def run_case(uri, ssl_ctx, wav_path, file_mode, hotwords, itn, mode):
    with wave.open(wav_path, "rb") as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    chunk_size, chunk_interval = [5, 10, 5], 10
    first = {"mode": mode, "chunk_size": chunk_size, "chunk_interval": chunk_interval,
             "encoder_chunk_look_back": 4, "decoder_chunk_look_back": 0,
             "wav_name": "demo" if file_mode else "microphone", "is_speaking": True,
             "hotwords": hotwords, "itn": itn}
    if file_mode:
        first.update({"audio_fs": rate, "wav_format": "pcm"})
    stride = int(60 * chunk_size[1] / chunk_interval / 1000 * rate * 2)
    replies = []
    async with websockets.connect(uri, subprotocols=["binary"], ping_interval=None, ssl=ssl_ctx) as ws:
        await ws.send(json.dumps(first))
        for i in range(0, len(frames), stride):
            await ws.send(frames[i:i + stride])
        await ws.send(json.dumps({"is_speaking": False, "is_end": True}))
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
            replies.append(msg)
            if msg.get("is_end"):
                break
    return replies


def check(replies, name):
    errors = []
    finals = [r for r in replies if r.get("is_final")]
    if len(finals) != 1 or not replies[-1].get("is_final"):
        errors.append(f"{name}: expected exactly one is_final reply, last; got {len(finals)}")
    for r in replies:
        if list(r.keys()) != sorted(r.keys()):
            errors.append(f"{name}: keys not sorted: {list(r.keys())}")
        if "error" in r:
            errors.append(f"{name}: error reply: {r['error']}")
        if r.get("text") and r.get("mode") not in ("2pass-online", "2pass-offline"):
            errors.append(f"{name}: bad mode {r.get('mode')!r}")
        if not r.get("text") and "mode" in r:
            errors.append(f"{name}: mode present with empty text")
        if "timestamp" in r and not isinstance(r["timestamp"], str):
            errors.append(f"{name}: timestamp is not a string")
        if "stamp_sents" in r and not isinstance(r["stamp_sents"], list):
            errors.append(f"{name}: stamp_sents is not an array")
    return errors


async def main():
    host, port, wav = sys.argv[1], sys.argv[2], sys.argv[3]
    use_ssl = "--ssl" in sys.argv
    ctx = None
    if use_ssl:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    uri = f"{'wss' if use_ssl else 'ws'}://{host}:{port}"
    errors = []
    cases = [(True, "", True, "2pass"), (True, "阿里巴巴,通义实验室", False, "2pass"),
             (False, json.dumps({"阿里巴巴": 20}), True, "2pass"), (True, "", True, "online"),
             (True, "", True, "offline")]
    for file_mode, hotwords, itn, mode in cases:
        name = f"{'file' if file_mode else 'mic'}/{mode}/hotwords={bool(hotwords)}/itn={itn}"
        try:
            errors += check(await run_case(uri, ctx, wav, file_mode, hotwords, itn, mode), name)
        except Exception as e:  # noqa: BLE001 - report and continue with the next case
            errors.append(f"{name}: {type(e).__name__}: {e}")
    for e in errors:
        print(e)
    sys.exit(1 if errors else 0)


asyncio.run(main())
