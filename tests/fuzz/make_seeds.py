#!/usr/bin/python3
"""Writes the committed seed corpus of every fuzz target into tests/fuzz/<target>/corpus/.

Deterministic; all inputs are small (a few KB at most), so the corpus can live in git.
Needs Debian's python3 with python3-onnx (ONNX seeds) and the ffmpeg CLI (compressed audio
seeds); run it again only when a seed has to change, and commit the result.
usage: tests/fuzz/make_seeds.py
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def out(target, name, data, kind="corpus"):
    d = os.path.join(HERE, target, kind)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ------------------------------------------------------------------------------- audio
def tone(n, rate=16000, f=440.0):
    return [math.sin(2 * math.pi * f * i / rate) * 0.5 for i in range(n)]


def wav(samples, rate=16000, channels=1, bits=16, tag=1, extensible=False, extra_chunk=b"", data_size=None):
    frames = b""
    for x in samples:
        for c in range(channels):
            v = x if c == 0 else -x
            if tag == 3 and bits == 32:
                frames += struct.pack("<f", v)
            elif tag == 3 and bits == 64:
                frames += struct.pack("<d", v)
            elif bits == 8:
                frames += struct.pack("<B", int(v * 127) + 128)
            elif bits == 16:
                frames += struct.pack("<h", int(v * 32767))
            elif bits == 24:
                frames += struct.pack("<i", int(v * 8388607))[:3]
            elif bits == 32:
                frames += struct.pack("<i", int(v * 2147483647))
            elif tag == 6:  # A-law bytes: not decoded by our reader, goes to FFmpeg
                frames += bytes([0xD5 ^ (int((v + 1) * 60) & 0x7F)])
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHHHHIH14s", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0, tag,
                          b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunk
    body += b"data" + struct.pack("<I", len(frames) if data_size is None else data_size) + frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


def audio_seeds():
    s = tone(160)
    seeds = {
        "pcm16_mono_16k.wav": wav(s),
        "pcm16_stereo_8k.wav": wav(tone(80, 8000), rate=8000, channels=2),
        "pcm8_mono_22k.wav": wav(tone(100, 22050), rate=22050, bits=8),
        "pcm24_stereo_48k.wav": wav(tone(96, 48000), rate=48000, channels=2, bits=24),
        "pcm32_mono_16k.wav": wav(s[:64], bits=32),
        "float32_mono_16k.wav": wav(s[:64], bits=32, tag=3),
        "float64_mono_44k.wav": wav(tone(64, 44100), rate=44100, bits=64, tag=3),
        "extensible_pcm16.wav": wav(s[:64], extensible=True),
        "list_chunk_odd.wav": wav(s[:32], extra_chunk=b"LIST" + struct.pack("<I", 5) + b"INFOx\x00"),
        "unknown_length.wav": wav(s[:64], data_size=0xFFFFFFFF),
        "alaw.wav": wav(s[:64], bits=8, tag=6),
        "truncated.wav": wav(s[:64])[:70],
    }
    for name, data in seeds.items():
        out("audio_bytes", name, data)
        out("audio_file", name, data)
    out("audio_file", "raw.pcm", struct.pack("<%dh" % 64, *[int(x * 32767) for x in s[:64]]))
    if not shutil.which("ffmpeg"):
        sys.exit("ffmpeg CLI not found (apt-get install ffmpeg)")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src.wav")
        with open(src, "wb") as f:
            f.write(wav(tone(800)))
        for name, args in [("tone.flac", []), ("tone.ogg", ["-c:a", "libvorbis", "-q:a", "0"]),
                           ("tone.mp3", ["-b:a", "8k"]), ("tone.aiff", []), ("tone.au", []),
                           ("tone.opus", ["-b:a", "6k"]), ("tone.m4a", ["-c:a", "aac", "-b:a", "8k"])]:
            dst = os.path.join(tmp, name)
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", src, "-fflags", "+bitexact", "-map_metadata", "-1",
                            *args, dst], check=True)
            with open(dst, "rb") as f:
                data = f.read()
            if len(data) > 16384:
                sys.exit("%s seed is %d bytes; keep seeds small" % (name, len(data)))
            out("audio_bytes", name, data)
            out("audio_file", name, data)


# ---------------------------------------------------------------------------- protocol
FIRST_FILE = {"mode": "2pass", "chunk_size": [5, 10, 5], "chunk_interval": 10, "encoder_chunk_look_back": 4,
              "decoder_chunk_look_back": 0, "audio_fs": 16000, "wav_name": "demo", "wav_format": "pcm",
              "is_speaking": True, "hotwords": "", "itn": True}
MESSAGES = {
    "python_first.json": json.dumps(FIRST_FILE),
    "python_mic.json": json.dumps({"mode": "online", "chunk_size": [0, 10, 5], "wav_name": "microphone",
                                   "is_speaking": True, "hotwords": "{\"阿里巴巴\": 20}", "itn": False},
                                  ensure_ascii=False),
    "python_end.json": '{"is_speaking": false, "is_end": true}',
    "html5_first.json": json.dumps({"chunk_size": [5, 10, 5], "wav_name": "h5", "is_speaking": True,
                                    "chunk_interval": 10, "itn": False, "mode": "offline", "wav_format": "PCM",
                                    "audio_fs": 44100}),
    "html5_stop.json": '{"chunk_size":[5,10,5],"wav_name":"h5","is_speaking":false,"chunk_interval":10,"mode":"2pass"}',
    "cpp_first.json": json.dumps({"mode": "2pass", "chunk_size": [5, 10, 5], "wav_name": "wav_0",
                                  "wav_format": "pcm", "audio_fs": 8000, "is_speaking": True, "itn": True,
                                  "svs_itn": True, "svs_lang": "auto"}),
    "cpp_end.json": '{"is_speaking":false}',
    "finished.json": '{"is_finished":true}',
    "bad_type.json": '{"audio_fs":"16000"}',
    "bad_chunk.json": '{"chunk_size":[5,0,5]}',
    "bad_format.json": '{"wav_format":"mp3"}',
    "not_object.json": '[1,2,3]',
    "malformed.json": '{"mode":',
    "unicode.json": '{"wav_name":"\\u00e9\\ud83d\\ude00","mode":"online"}',
}


def protocol_seeds():
    for name, text in MESSAGES.items():
        out("protocol_message", name, text)

    def rec(op, payload=b""):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        if op in (0, 1):
            return bytes([op]) + struct.pack("<H", len(payload)) + payload
        return bytes([op])

    audio = struct.pack("<%dh" % 960, *[int(x * 20000) for x in tone(960)])
    first = json.dumps(FIRST_FILE)
    seqs = {
        "one_utterance": [rec(0, first), rec(1, audio), rec(1, audio), rec(2), rec(0, '{"is_speaking":false}'), rec(2)],
        "two_utterances": [rec(0, first), rec(1, audio), rec(0, '{"is_speaking":false}'), rec(2),
                           rec(0, '{"wav_name":"b","audio_fs":8000,"is_speaking":true}'), rec(1, audio[:1000]),
                           rec(0, '{"is_speaking":false}'), rec(2)],
        "audio_before_json": [rec(1, audio[:1001]), rec(0, first), rec(1, audio[:3]), rec(0, '{"is_finished":true}')],
        "odd_frames": [rec(0, first), rec(1, audio[:1]), rec(1, audio[1:4]), rec(1, b""), rec(2),
                       rec(0, '{"is_speaking":false}'), rec(2)],
        "hangup_mid": [rec(0, first), rec(1, audio), rec(3), rec(1, audio)],
        "drain": [rec(0, first), rec(1, audio), rec(4), rec(0, '{"is_speaking":false}'), rec(2)],
        "errors": [rec(0, '{"audio_fs":1}'), rec(0, '{"mode":"x"}'), rec(0, "{"), rec(1, audio)],
        "backpressure": [rec(0, first)] + [rec(1, audio)] * 12 + [rec(2), rec(0, '{"is_speaking":false}'), rec(2)],
    }
    for name, recs in seqs.items():
        out("connection", name + ".bin", b"".join(recs))


def http_seeds():
    reqs = {
        "healthz.http": "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "readyz_query.http": "GET /readyz?probe=1 HTTP/1.0\r\n\r\n",
        "metrics_head.http": "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "not_found.http": "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        "post_body.http": "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "chunked.http": "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "upgrade.http": ("GET / HTTP/1.1\r\nHost: 127.0.0.1:10095\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Protocol: binary\r\n\r\n"),
        "upgrade_bad_version.http": ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"),
        "garbage.http": "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello start
    }
    for name, text in reqs.items():
        out("http_request", name, text.encode("latin-1"))


# ------------------------------------------------------------------------- model dirs
def model_seeds():
    vad_yaml = """frontend_conf:
  fs: 16000
  window: hamming
  n_mels: 80
  frame_length: 25
  frame_shift: 10
  dither: 0.0
  lfr_m: 5
  lfr_n: 1
model_conf:
  max_end_silence_time: 800
  max_single_segment_time: 15000
  speech_noise_thres: 0.6
"""
    online_yaml = """encoder_conf:
  output_size: 8
decoder_conf:
  num_blocks: 2
  kernel_size: 3
predictor_conf:
  threshold: 1.0
  tail_threshold: 0.45
frontend_conf:
  fs: 16000
  window: hamming
  n_mels: 80
  frame_length: 25
  frame_shift: 10
  lfr_m: 7
  lfr_n: 6
"""
    punc_yaml = """model_conf:
  punc_list: ["<unk>", "_", "\\uff0c", "\\u3002", "\\uff1f", "\\u3001"]
seg_jieba: false
"""
    out("config_yaml", "vad.yaml", vad_yaml)
    out("config_yaml", "online.yaml", online_yaml)
    out("config_yaml", "punc.yaml", punc_yaml)
    out("config_yaml", "flow.yaml", "frontend_conf: {fs: 8000, n_mels: 40, lfr_m: 3, lfr_n: 2}\n"
                                    "model_conf: {punc_list: [a, b, c, d, e]}\nseg_jieba: yes\n")
    out("config_yaml", "anchors.yaml", "base: &b {fs: 16000}\nfrontend_conf:\n  <<: *b\n  window: hanning\n")
    out("am_mvn", "am_4.mvn", "<Nnet>\n<Splice> 4 4\n[ 0 ]\n<AddShift> 4 4\n<LearnRateCoef> 0 [ -1 -2 -3 -4 ]\n"
                             "<Rescale> 4 4\n<LearnRateCoef> 0 [ 0.5 1.5 2 1e-3 ]\n</Nnet>\n")
    out("am_mvn", "no_decl.mvn", "<AddShift>\n<LearnRateCoef> 0 [ 1.0 ]\n<Rescale>\n<LearnRateCoef> 0 [ inf ]\n")
    out("am_mvn", "bad_value.mvn", "<AddShift> 2 2\n<LearnRateCoef> 0 [ 1 x ]\n")
    out("tokens_json", "tokens.json", json.dumps(["<blank>", "<s>", "</s>", "你", "好", "he@@", "llo", "<unk>"],
                                                ensure_ascii=False))
    out("tokens_json", "dup.json", '["a","b","a"]')
    out("tokens_json", "mixed.json", '["a",1,null]')
    out("tokens_json", "object.json", '{"a":0}')
    onnx_seeds()


def onnx_seeds():
    import onnx
    from onnx import TensorProto as TP, helper as h

    def vi(name, t, shape):
        return h.make_tensor_value_info(name, t, shape)

    def model(inputs, outputs):
        # Each output is an Identity of the first input of the same dtype (or a cast of input 0):
        # just enough graph for ONNX Runtime to load; the contract is the declared I/O.
        nodes = []
        for o in outputs:
            src = next((i for i in inputs if i.type.tensor_type.elem_type == o.type.tensor_type.elem_type), None)
            if src is None:
                nodes.append(h.make_node("Cast", [inputs[0].name], [o.name], to=o.type.tensor_type.elem_type))
            else:
                nodes.append(h.make_node("Identity", [src.name], [o.name]))
        g = h.make_graph(nodes, "g", inputs, outputs)
        m = h.make_model(g, opset_imports=[h.make_opsetid("", 14)], producer_name="paraserve-fuzz")
        m.ir_version = 8
        return m.SerializeToString()

    F, I32, I64 = TP.FLOAT, TP.INT32, TP.INT64
    out("onnx_contract", "vad.onnx", model(
        [vi("speech", F, [1, "T", 400])] + [vi("in_cache%d" % i, F, [1, 128, 19, 1]) for i in range(4)],
        [vi("logits", F, [1, "T", 248])] + [vi("out_cache%d" % i, F, [1, 128, 19, 1]) for i in range(4)]))
    out("onnx_contract", "offline_ts.onnx", model(
        [vi("speech", F, [1, "T", 560]), vi("speech_lengths", I32, [1])],
        [vi("logits", F, [1, "N", 6]), vi("token_num", I64, [1]), vi("us_alphas", F, [1, "T"]),
         vi("us_cif_peak", F, [1, "T"])]))
    out("onnx_contract", "punc_rt.onnx", model(
        [vi("inputs", I32, [1, "L"]), vi("text_lengths", I32, [1]), vi("vad_masks", F, [1, 1, "L", "L"]),
         vi("sub_masks", F, [1, 1, "L", "L"])],
        [vi("logits", F, [1, "L", 6])]))
    out("onnx_contract", "decoder.onnx", model(
        [vi("enc", F, [1, "T", 8]), vi("enc_len", I32, [1]), vi("acoustic_embeds", F, [1, "N", 8]),
         vi("acoustic_embeds_len", I32, [1])] + [vi("in_cache_%d" % i, F, [1, 8, 2]) for i in range(2)],
        [vi("logits", F, [1, "N", 6]), vi("sample_ids", I64, [1, "N"])] +
        [vi("out_cache_%d" % i, F, [1, 8, 2]) for i in range(2)]))
    # Once split the contract error over two lines (fixed in src/models/contract.cpp).
    out("onnx_contract", "name_with_newline.onnx", model([vi("x\ny", F, [2, 3])], [vi("out", F, [2, 3])]),
        kind="regressions")


if __name__ == "__main__":
    audio_seeds()
    protocol_seeds()
    http_seeds()
    model_seeds()
