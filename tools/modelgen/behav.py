"""Behavioural test models: their outputs are a known function of the audio, so end-to-end tests can assert
exact text. Audio "words" are pure tones (one frequency per token); see docs/test-models.md.

All models assume an identity am.mvn (shift 0, scale 1), so their inputs are raw log-mel LFR features:
  - LFR m=7,n=6 frame i concatenates fbank frames 6i-3 .. 6i+3; its centre sub-frame (dims 240..319) is fbank
    frame 6i (window starting at 60*i ms).  VAD LFR m=5,n=1 frame i: centre sub-frame (dims 160..239) = frame i.
  - a frame is "voiced" when the max over the 80 mel bins of that centre sub-frame exceeds VOICE_THR
    (x sqrt(512) in the streaming encoder, whose input the runtime scales; positions add at most +-1).
  - its class is TABLE[argmax mel bin] (each bin maps to the tone token with the nearest bin).
"""
import json
import math
import os
import wave

import numpy as np
import torch
import torch.nn as nn
import torchaudio.compliance.kaldi as kaldi

import common

SR = 16000
BURST_S = 0.24      # tone length of one word
GAP_S = 0.12        # silence after each word
FADE_S = 0.01       # linear fade in/out inside the burst
AMP = 0.5           # peak amplitude on the [-1, 1) scale
SENTENCE_GAP_S = 2.0  # silence between sentences (>= 1.5 s, so the VAD always closes the segment)
LEAD_S = 0.5        # silence at the start of every file
TRAIL_S = 1.5       # silence at the end (except no_trailing_silence.wav)

VOICE_THR = 15.0    # raw log-mel threshold (tones give 24..30, digital silence -15.9, zero padding 0)
VAD_SLOPE = 1.0     # p_speech = sigmoid(VAD_SLOPE * (max_logmel - VOICE_THR))
STREAM_SCALE = math.sqrt(512.0)
DEC_LOGIT_SCALE = 10.0

TOKENS = (["<blank>", "<s>", "</s>"]
          + list("你好世界今天气很我们是吗")
          + ["hello", "world", "ser@@", "ver", "<unk>"])
EOS_ID = 2
TONE_TOKENS = TOKENS[3:-1]                          # 16 tokens that have a tone
FIRST_BIN, BIN_STEP = 9, 3                          # mel bins 9, 12, ..., 54 (279 Hz .. 3.2 kHz, all < 4 kHz)
TONE_BIN = {tok: FIRST_BIN + BIN_STEP * k for k, tok in enumerate(TONE_TOKENS)}

# SenseVoiceSmall: sentencepiece-style pieces ("▁" starts a word), id 0 = <unk> = CTC blank, tags last.
SV_PIECE = {"hello": "▁hello", "world": "▁world", "ser@@": "▁ser", "ver": "ver"}
SV_TOKENS = (["<unk>", "<s>", "</s>"] + [SV_PIECE.get(t, t) for t in TONE_TOKENS] + list(common.SV_TAGS))
SV_EMO, SV_EVENT = "<|NEUTRAL|>", "<|Speech|>"

PUNC_TOKENS = ["<blank>", "<s>", "</s>"] + list("你好世界今天气很我们是吗") + ["hello", "world", "server", "<unk>"]
PUNC_LIST = ["<unk>", "_", "，", "。", "？", "、"]
PUNC_RULES = {"好": "，", "界": "。", "吗": "？", "world": "。"}  # every other token -> "_"

SENTENCES = {
    "A": ["你", "好", "世", "界"],
    "B": ["今", "天", "气", "很", "好"],
    "C": ["hello", "world"],
    "D": ["我", "们", "是", "ser@@", "ver", "吗"],
    "E": ["你", "好", "吗"],
}


def mel_bin_centre_hz(b):
    """Centre frequency of Kaldi mel bin b (80 bins, 20 Hz .. 8 kHz)."""
    mel = lambda f: 1127.0 * math.log(1.0 + f / 700.0)  # noqa: E731
    lo, hi = mel(20.0), mel(8000.0)
    m = lo + (b + 1) * (hi - lo) / 81.0
    return 700.0 * (math.exp(m / 1127.0) - 1.0)


TONE_HZ = {tok: round(mel_bin_centre_hz(b), 2) for tok, b in TONE_BIN.items()}


def bin_table():
    """mel bin -> token id of the tone with the nearest bin."""
    bins = sorted((b, TOKENS.index(t)) for t, b in TONE_BIN.items())
    return [min(bins, key=lambda x: (abs(x[0] - b), x[0]))[1] for b in range(80)]


# ---------------------------------------------------------------------------
# Front end (Python model of FunASR's, §4.1-4.2) used to verify the models before export
# ---------------------------------------------------------------------------
def fbank(wav16k):
    x = torch.tensor(np.asarray(wav16k), dtype=torch.float32).unsqueeze(0) * 32768.0
    if x.shape[1] < 400:
        return torch.zeros(0, 80)
    return kaldi.fbank(x, num_mel_bins=80, frame_length=25, frame_shift=10, dither=0.0, energy_floor=0.0,
                       window_type="hamming", sample_frequency=SR, snip_edges=True, preemphasis_coefficient=0.97,
                       remove_dc_offset=True)


def lfr(feats, m, n):
    t = feats.shape[0]
    pad = feats[:1].repeat((m - 1) // 2, 1)
    x = torch.cat([pad, feats], 0)
    out = []
    for i in range(math.ceil(t / n)):
        w = x[i * n:i * n + m]
        if w.shape[0] < m:
            w = torch.cat([w, w[-1:].repeat(m - w.shape[0], 1)], 0)
        out.append(w.reshape(-1))
    return torch.stack(out) if out else torch.zeros(0, m * 80)


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------
def _zero_use(*tensors):
    s = 0.0
    for t in tensors:
        s = s + t.float().sum() * 0.0
    return s


class BehavVad(nn.Module):
    def __init__(self):
        super().__init__()
        self.slices = [(0, 128), (90, 218), (180, 308), (272, 400)]

    def forward(self, speech, c0, c1, c2, c3):
        m = speech[:, :, 160:240].max(dim=-1).values                      # [1,T]
        p = torch.sigmoid(VAD_SLOPE * (m - VOICE_THR)).unsqueeze(-1)     # [1,T,1]
        rest = p * torch.full((247,), 1.0 / 247.0)
        logits = torch.cat([1.0 - p, rest], dim=-1) + _zero_use(c0, c1, c2, c3)
        caches = []
        for (a, b), c in zip(self.slices, (c0, c1, c2, c3)):
            x = speech[:, :, a:b].permute(0, 2, 1).unsqueeze(-1)           # [1,128,T,1]
            caches.append(torch.cat([c, x], dim=2)[:, :, -19:, :])        # shifted window, like FSMN memory
        return (logits, *caches)


def _voicing(centre, thr, table):
    """centre [B,T,80] -> voiced [B,T] float, class id [B,T] int64."""
    m, arg = centre.max(dim=-1)
    voiced = (m > thr).float()
    cls = torch.index_select(table, 0, arg.reshape(-1)).reshape(arg.shape)
    return voiced, cls


class BehavOnlineEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.tensor(bin_table(), dtype=torch.int64))

    def forward(self, speech, speech_lengths):
        voiced, cls = _voicing(speech[:, :, 240:320], VOICE_THR * STREAM_SCALE, self.table)
        prev = torch.cat([torch.zeros_like(voiced[:, :1]), voiced[:, :-1]], dim=1)
        alphas = voiced * (1.0 - prev)                                   # 1.0 exactly at onsets
        onehot = (cls.unsqueeze(-1) == torch.arange(512)).float() * voiced.unsqueeze(-1)
        return onehot, speech_lengths + torch.zeros_like(speech_lengths), alphas


class BehavOnlineDecoder(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab

    def forward(self, enc, enc_len, acoustic_embeds, acoustic_embeds_len, *caches):
        logits = acoustic_embeds[:, :, :self.vocab] * DEC_LOGIT_SCALE + _zero_use(enc, enc_len, acoustic_embeds_len, *caches)
        emb_t = acoustic_embeds.transpose(1, 2)                           # [1,512,N]
        new = [torch.cat([c, emb_t], dim=2)[:, :, -10:] for c in caches]  # FSMN-like shifted window
        return (logits, torch.argmax(logits, dim=-1), *new)


class BehavOffline(nn.Module):
    def __init__(self, vocab, timestamps):
        super().__init__()
        self.vocab, self.timestamps = vocab, timestamps
        self.register_buffer("table", torch.tensor(bin_table(), dtype=torch.int64))

    def forward(self, speech, speech_lengths):
        voiced, cls = _voicing(speech[0:1, :, 240:320], VOICE_THR, self.table)
        v, c = voiced[0], cls[0]
        t = v.shape[0]
        prev = torch.cat([torch.zeros(1), v[:-1]])
        onset = v * (1.0 - prev)
        idx = torch.nonzero(onset > 0.5).squeeze(-1)                      # onset frames
        ids = torch.cat([torch.index_select(c, 0, idx), torch.full((1,), EOS_ID, dtype=torch.int64)])
        onehot = (ids.unsqueeze(-1) == torch.arange(self.vocab)).float()
        logits = torch.log_softmax(onehot * 20.0, dim=-1).unsqueeze(0) + _zero_use(speech_lengths)
        token_num = (torch.zeros_like(speech_lengths) + torch.ones_like(ids).sum().to(torch.int32))
        if not self.timestamps:
            return logits, token_num
        nxt = torch.cat([v[1:], torch.zeros(1)])
        end_frame = (v * (1.0 - nxt) * (torch.arange(t).float() + 1.0)).max().long()  # 1 + last voiced frame
        peaks = torch.cat([3 * idx + 2, torch.clamp(3 * end_frame + 2, max=3 * t - 1).reshape(1)])
        us = (torch.arange(3 * t).unsqueeze(0) == peaks.unsqueeze(1)).float().sum(0).unsqueeze(0)
        return logits, token_num, us, us.clone()


def sv_bin_table():
    """mel bin -> SenseVoice token id of the tone with the nearest bin."""
    return [SV_TOKENS.index(SV_PIECE.get(TOKENS[i], TOKENS[i])) for i in bin_table()]


class BehavSenseVoice(nn.Module):
    """ctc_logits rows: [language tag, emotion tag, event tag, textnorm tag] then one row per LFR frame:
    the frame's tone token when voiced (same voicing as BehavOffline), else blank (id 0)."""

    def __init__(self):
        super().__init__()
        self.vocab = len(SV_TOKENS)
        self.register_buffer("table", torch.tensor(sv_bin_table(), dtype=torch.int64))
        en = [1.0 if t.startswith("▁") or t == "ver" else 0.0 for t in SV_TOKENS]
        self.register_buffer("en_mask", torch.tensor(en))
        lang = [-1] * 16  # language input -> tag id; -1 = auto (and any id FunASR never sends)
        for name, lid in common.SV_LANG_IDS.items():
            if name != "auto":
                lang[lid] = SV_TOKENS.index("<|%s|>" % name)
        self.register_buffer("lang_tag", torch.tensor(lang, dtype=torch.int64))

    def forward(self, speech, speech_lengths, language, textnorm):
        voiced, cls = _voicing(speech[0:1, :, 240:320], VOICE_THR, self.table)
        v, c = voiced[0], cls[0]
        frame_ids = torch.where(v > 0.5, c, torch.zeros_like(c))
        en = torch.index_select(self.en_mask, 0, c) * v
        auto = torch.where(en.sum() > (v - en).sum(), torch.tensor(SV_TOKENS.index("<|en|>")),
                           torch.tensor(SV_TOKENS.index("<|zh|>")))
        given = torch.index_select(self.lang_tag, 0, torch.clamp(language[0:1].long(), 0, 15))
        lang = torch.where(given < 0, auto.reshape(1), given)
        itn = torch.where(textnorm[0:1] == 14, torch.tensor([SV_TOKENS.index("<|withitn|>")]),
                          torch.tensor([SV_TOKENS.index("<|woitn|>")]))
        head = torch.cat([lang, torch.tensor([SV_TOKENS.index(SV_EMO), SV_TOKENS.index(SV_EVENT)]), itn])
        ids = torch.cat([head, frame_ids])
        logits = (ids.unsqueeze(-1) == torch.arange(self.vocab)).float() * 20.0
        return logits.unsqueeze(0) + _zero_use(speech_lengths), speech_lengths + 4


def sv_ctc_search(logits, rows):
    """Python model of FunASR's SenseVoiceSmall::CTCSearch over the first `rows` rows."""
    ids, prev = [], -1
    for y in logits[:rows].argmax(-1).tolist():
        if y != 0 and y != prev:
            ids.append(y)
        prev = y
    toks = [SV_TOKENS[i] for i in ids]
    lang, emo, event, itn = (toks + [""] * 4)[:4] if len(toks) >= 3 else ("", "", "", "")
    text = "".join(" " + w.encode()[3:].decode() if "▁" in w else w for w in toks[4:])
    if itn == "<|withitn|>":
        text += "。" if lang == "<|zh|>" else "."
    return lang + emo + event + " " + text


def sv_expected(tokens, lang="auto", itn=True):
    """Reply text of one segment holding `tokens` (paraformer token names), FunASR's rules."""
    en = sum(1 for t in tokens if t in SV_PIECE)
    tag = {"auto": "<|en|>" if en > len(tokens) - en else "<|zh|>"}.get(lang, "<|%s|>" % lang)
    if lang not in common.SV_LANG_IDS:
        tag = "<|en|>" if en > len(tokens) - en else "<|zh|>"
    text = "".join(" " + SV_PIECE[t][1:] if SV_PIECE.get(t, "").startswith("▁") else SV_PIECE.get(t, t)
                   for t in tokens)
    if itn:
        text += "。" if tag == "<|zh|>" else "."
    return tag + SV_EMO + SV_EVENT + " " + text


class BehavPunc(nn.Module):
    def __init__(self, streaming):
        super().__init__()
        self.streaming = streaming
        table = [PUNC_LIST.index(PUNC_RULES.get(t, "_")) for t in PUNC_TOKENS]
        self.register_buffer("table", torch.tensor(table, dtype=torch.int64))

    def forward(self, inputs, text_lengths, vad_masks=None, sub_masks=None):
        cls = torch.index_select(self.table, 0, inputs.long().reshape(-1)).reshape(inputs.shape)
        logits = (cls.unsqueeze(-1) == torch.arange(6)).float() * 10.0
        extra = _zero_use(text_lengths) if not self.streaming else _zero_use(text_lengths, vad_masks, sub_masks)
        return logits + extra


# ---------------------------------------------------------------------------
# Audio and expectations
# ---------------------------------------------------------------------------
def _is_cjk(s):
    return len(s) > 0 and all(0x4E00 <= ord(ch) <= 0x9FFF for ch in s)


def vector2string_v2(tokens):
    """Python model of FunASR Vocab::Vector2StringV2 (zh-cn path), §5.1."""
    words, is_pre_en, pre_len, combining, combine = [], False, 0, False, ""
    for i, w in enumerate(tokens):
        if w in ("<s>", "</s>", "<unk>"):
            continue
        if "@@" in w:
            if i == len(tokens) - 1 or _is_cjk(tokens[i + 1]):
                w = w[:-2] + " "
                if combining:
                    combine += w
                    combining = False
                    w, combine = combine, ""
            else:
                combine += w[:-2]
                combining = True
                continue
        elif combining:
            combine += w
            combining = False
            w, combine = combine, ""
        if _is_cjk(w):
            words.append(w)
            is_pre_en = False
        else:
            if is_pre_en and (pre_len > 1 or len(w) > 1):
                words.append(" ")
            words.append(w)
            pre_len = len(w)
            is_pre_en = True
    return "".join(words)


def synth(sentences, sr, trailing=True):
    """Returns (samples float64 in [-1,1), per-sentence info)."""
    burst, gap, fade = int(round(BURST_S * sr)), int(round(GAP_S * sr)), int(round(FADE_S * sr))
    env = np.ones(burst)
    env[:fade] = np.linspace(0.0, 1.0, fade, endpoint=False)
    env[-fade:] = np.linspace(1.0, 0.0, fade)
    parts = [np.zeros(int(round(LEAD_S * sr)))]
    pos = len(parts[0])
    info = []
    for si, toks in enumerate(sentences):
        if si > 0:
            parts.append(np.zeros(int(round(SENTENCE_GAP_S * sr))))
            pos += len(parts[-1])
        onsets = []
        for wi, tok in enumerate(toks):
            n = np.arange(burst)
            parts.append(AMP * env * np.sin(2 * np.pi * TONE_HZ[tok] * n / sr))
            onsets.append(pos / sr)
            pos += burst
            last = wi == len(toks) - 1
            if not last or trailing or si < len(sentences) - 1:
                parts.append(np.zeros(gap))
                pos += gap
        end = onsets[-1] + BURST_S
        info.append({"tokens": toks, "text": vector2string_v2(toks), "word_onsets_s": [round(o, 6) for o in onsets],
                     "start_s": round(onsets[0], 6), "end_s": round(end, 6)})
    if trailing:
        parts.append(np.zeros(int(round(TRAIL_S * sr))))
    return np.concatenate(parts), info


def write_wav(path, samples, sr, channels=1):
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    if channels == 2:
        pcm = np.stack([pcm, pcm], axis=1).reshape(-1)
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


AUDIO = [
    # file, sentence keys, sample rate, channels, trailing silence
    ("one_sentence.wav", ["A"], 16000, 1, True),
    ("three_sentences.wav", ["B", "C", "D"], 16000, 1, True),
    ("no_trailing_silence.wav", ["E"], 16000, 1, False),
    ("silence.wav", [], 16000, 1, True),
    ("sample.wav", ["A", "C", "D"], 16000, 1, True),
    ("one_sentence_8k.wav", ["A"], 8000, 1, True),
    ("one_sentence_44k_stereo.wav", ["A"], 44100, 2, True),
]


# ---------------------------------------------------------------------------
# Verification in torch (before export)
# ---------------------------------------------------------------------------
def _check(cond, msg):
    if not cond:
        raise RuntimeError("behav self-check failed: " + msg)


def verify_tones():
    """Every tone's fbank argmax is its own bin, far above VOICE_THR; silence is far below."""
    n = np.arange(SR // 2)
    for tok, b in TONE_BIN.items():
        f = fbank(AMP * np.sin(2 * np.pi * TONE_HZ[tok] * n / SR))[5:-5]
        _check(bool((f.argmax(-1) == b).all()), "tone %s (%.1f Hz) argmax != bin %d" % (tok, TONE_HZ[tok], b))
        _check(float(f.max(-1).values.min()) > VOICE_THR + 5, "tone %s too quiet" % tok)
    _check(float(fbank(np.zeros(SR // 2)).max()) < VOICE_THR - 20, "silence too loud")


def verify_models(samples, info, vocab):
    """Runs the torch modules on the file's features (offline front end, identity CMVN) and checks tokens."""
    feats = fbank(samples)
    want = [TOKENS.index(t) for s in info for t in s["tokens"]]
    x = lfr(feats, 7, 6).unsqueeze(0)
    logits, num = BehavOffline(vocab, False)(x, torch.tensor([x.shape[1]], dtype=torch.int32))
    got = logits[0].argmax(-1).tolist()
    _check(got == want + [EOS_ID] and int(num) == len(got), "offline ids %s != %s" % (got, want))
    _, _, us, _ = BehavOffline(vocab, True)(x, torch.tensor([x.shape[1]], dtype=torch.int32))
    _check(int((us > 0.5).sum()) == len(want) + 1, "offline-ts peak count")
    pos = torch.arange(1, x.shape[1] + 1)
    xs = x * STREAM_SCALE + common.sinusoid(pos, 560).unsqueeze(0)
    enc, _, alphas = BehavOnlineEncoder()(xs, torch.tensor([x.shape[1]], dtype=torch.int32))
    fired = enc[0][alphas[0] >= 1.0]
    dec = BehavOnlineDecoder(vocab)(enc, torch.tensor([1], dtype=torch.int32), fired.unsqueeze(0),
                                    torch.tensor([1], dtype=torch.int32), *[torch.zeros(1, 512, 10)] * 16)
    _check(dec[1][0].tolist() == want, "online ids %s != %s" % (dec[1][0].tolist(), want))
    v = lfr(feats, 5, 1).unsqueeze(0)
    probs = BehavVad()(v, *[torch.zeros(1, 128, 19, 1)] * 4)[0][0, :, 0]
    speech = 1.0 - probs
    for s in info:
        for o in s["word_onsets_s"]:  # frames fully inside a burst are speech with margin
            f0 = int(math.ceil(o * 100)) + 2
            _check(bool((speech[f0:f0 + 18] > 0.99).all()), "vad burst at %.2f" % o)
    _check(float(speech[:int(LEAD_S * 100) - 3].max()) < 0.01, "vad lead silence")
    # SenseVoiceSmall on each sentence cut out with 0.3 s of silence either side (a VAD segment's shape)
    sv = BehavSenseVoice()
    for s in info:
        a, b = int((s["start_s"] - 0.3) * SR), int((s["end_s"] + 0.3) * SR)
        if b > len(samples):
            continue  # FunASR decodes T of the T+4 rows: a word in the last 240 ms of a segment is lost
        y = lfr(fbank(samples[a:b]), 7, 6).unsqueeze(0)
        for lang in ("auto", "zh", "en", "ja"):
            for itn in (True, False):
                lg, _ = sv(y, torch.tensor([y.shape[1]], dtype=torch.int32),
                           torch.tensor([common.SV_LANG_IDS[lang]], dtype=torch.int32),
                           torch.tensor([14 if itn else 15], dtype=torch.int32))
                got, want = sv_ctc_search(lg[0], y.shape[1]), sv_expected(s["tokens"], lang, itn)
                _check(got == want, "sensevoice %r != %r" % (got, want))


def punctuate_offline(tokens):
    """Expected classes per punc token (for documentation)."""
    return [PUNC_RULES.get(t, "_") for t in tokens]


# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------
def build(out, report):
    torch.manual_seed(0)
    verify_tones()
    vocab = len(TOKENS)
    zeros560 = np.zeros(560)
    ones560 = np.ones(560)

    d = os.path.join(out, "vad")
    os.makedirs(d)
    common.export_pair(BehavVad(), [torch.randn(1, 30, 400)] + [torch.randn(1, 128, 19, 1) for _ in range(4)], d,
                 "model.onnx", common.vad_contract(), report, "model_quant.onnx")
    common.write_am_mvn(os.path.join(d, "am.mvn"), np.zeros(400), np.ones(400))
    vad_enc = {"input_dim": 400, "input_affine_dim": 140, "fsmn_layers": 4, "linear_dim": 250, "proj_dim": 128,
               "lorder": 20, "rorder": 0, "lstride": 1, "rstride": 0, "output_affine_dim": 140, "output_dim": 248}
    common.write_yaml(os.path.join(d, "config.yaml"), common.vad_config(vad_enc))

    enc_conf = {"output_size": 512, "attention_heads": 4, "linear_units": 2048, "num_blocks": 50, "kernel_size": 11,
                "input_layer": "pe", "pos_enc_class": "SinusoidalPositionEncoder", "normalize_before": True,
                "sanm_shfit": 0, "selfattention_layer_type": "sanm"}
    dec_conf = {"attention_heads": 4, "linear_units": 2048, "num_blocks": 16, "att_layer_num": 16, "kernel_size": 11,
                "sanm_shfit": 0}

    def side(folder, streaming, ts=False):
        common.write_am_mvn(os.path.join(folder, "am.mvn"), zeros560, ones560)
        common.write_yaml(os.path.join(folder, "config.yaml"), common.asr_config(streaming, enc_conf, dec_conf, ts))
        common.write_json(os.path.join(folder, "tokens.json"), TOKENS)

    d = os.path.join(out, "online")
    os.makedirs(d)
    common.export_pair(BehavOnlineEncoder(), [torch.randn(1, 20, 560) * 300, torch.tensor([20], dtype=torch.int32)], d,
                 "model.onnx", common.online_encoder_contract(), report, "model_quant.onnx")
    common.export_pair(BehavOnlineDecoder(vocab), [torch.randn(1, 20, 512), torch.tensor([20], dtype=torch.int32),
                                             torch.randn(1, 3, 512), torch.tensor([3], dtype=torch.int32)]
                 + [torch.randn(1, 512, 10) for _ in range(16)], d, "decoder.onnx",
                 common.online_decoder_contract(vocab), report, "decoder_quant.onnx")
    side(d, True)

    for sub, ts in (("offline", False), ("offline-ts", True)):
        d = os.path.join(out, sub)
        os.makedirs(d)
        common.export_pair(BehavOffline(vocab, ts), [torch.randn(1, 40, 560) * 20, torch.tensor([40], dtype=torch.int32)],
                     d, "model.onnx", common.offline_contract(vocab, ts), report, "model_quant.onnx")
        side(d, False, ts)

    d = os.path.join(out, "SenseVoiceSmall")  # FunASR selects SenseVoiceSmall by this name
    os.makedirs(d)
    common.export_pair(BehavSenseVoice(), [torch.randn(1, 40, 560) * 20, torch.tensor([40], dtype=torch.int32),
                                           torch.tensor([0], dtype=torch.int32), torch.tensor([14], dtype=torch.int32)],
                       d, "model.onnx", common.sensevoice_contract(len(SV_TOKENS)), report, "model_quant.onnx")
    common.write_am_mvn(os.path.join(d, "am.mvn"), zeros560, ones560)
    common.write_yaml(os.path.join(d, "config.yaml"), common.sensevoice_config(
        {"output_size": 512, "attention_heads": 4, "linear_units": 2048, "num_blocks": 50, "tp_blocks": 20,
         "kernel_size": 11, "sanm_shfit": 0, "normalize_before": True}))
    common.write_json(os.path.join(d, "tokens.json"), SV_TOKENS)

    punc_enc = {"input_size": 256, "output_size": 256, "attention_heads": 8, "linear_units": 1024, "num_blocks": 3,
                "kernel_size": 11, "input_layer": "pe", "pos_enc_class": "SinusoidalPositionEncoder",
                "normalize_before": True, "sanm_shfit": 5, "selfattention_layer_type": "sanm", "padding_idx": 0}
    for sub, streaming in (("punc", True), ("punc-offline", False)):
        d = os.path.join(out, sub)
        os.makedirs(d)
        ids = torch.tensor([[3, 4, 5, 6, 1]], dtype=torch.int32)
        lens = torch.tensor([5], dtype=torch.int32)
        if streaming:
            m = torch.tril(torch.ones(5, 5)).view(1, 1, 5, 5)
            args, contract = [ids, lens, m, m.clone()], common.punc_online_contract()
        else:
            args, contract = [ids, lens], common.punc_offline_contract()
        common.export_pair(BehavPunc(streaming), args, d, "model.onnx", contract, report, "model_quant.onnx")
        common.write_yaml(os.path.join(d, "config.yaml"), common.punc_config(streaming, punc_enc))
        common.write_json(os.path.join(d, "tokens.json"), PUNC_TOKENS)

    # audio + expectations
    ad = os.path.join(out, "audio")
    os.makedirs(ad)
    files = {}
    for name, keys, sr, ch, trailing in AUDIO:
        sents = [SENTENCES[k] for k in keys]
        if sents:
            samples, info = synth(sents, sr, trailing)
        else:
            samples, info = np.zeros(int(3.0 * sr)), []
        write_wav(os.path.join(ad, name), samples, sr, ch)
        if sr == SR and info:
            verify_models(samples, info, vocab)
        for s in info:
            s["sensevoice"] = {"%s/%s" % (lang, "withitn" if itn else "woitn"): sv_expected(s["tokens"], lang, itn)
                               for lang in ("auto", "zh", "en") for itn in (True, False)}
        files[name] = {"sample_rate": sr, "channels": ch, "duration_s": round(len(samples) / sr, 6),
                       "trailing_silence": trailing, "sentences": info,
                       "text": "".join(s["text"] for s in info)}
    behaviour = {
        "description": "Behavioural FunASR-layout models (NOT trained); see docs/test-models.md",
        "tokens": TOKENS,
        "tone_table": [{"token": t, "id": TOKENS.index(t), "mel_bin": TONE_BIN[t], "freq_hz": TONE_HZ[t]}
                       for t in TONE_TOKENS],
        "synthesis": {"burst_s": BURST_S, "gap_s": GAP_S, "fade_s": FADE_S, "amplitude": AMP,
                      "sentence_gap_s": SENTENCE_GAP_S, "lead_s": LEAD_S, "trail_s": TRAIL_S,
                      "waveform": "AMP * envelope * sin(2*pi*freq_hz*n/sample_rate), n from burst start; "
                                  "envelope ramps linearly 0->1 over fade_s and 1->0 over the last fade_s; "
                                  "each word = burst then gap_s of zeros (no gap after the last word of "
                                  "no_trailing_silence.wav); int16 = round(x*32767)"},
        "model_rules": {
            "cmvn": "identity (am.mvn shift 0, scale 1)",
            "voice_threshold_logmel": VOICE_THR,
            "streaming_threshold": VOICE_THR * STREAM_SCALE,
            "vad": "p_speech = sigmoid(%g*(max(speech[t,160:240]) - %g)); logits[t,0] = 1 - p_speech, "
                   "logits[t,1:] = p_speech/247; out_cacheK = last 19 frames of cat(in_cacheK, speech[...,slice_K]^T), "
                   "slices [0:128],[90:218],[180:308],[272:400]" % (VAD_SLOPE, VOICE_THR),
            "online_encoder": "voiced[t] = max(speech[t,240:320]) > streaming_threshold; class = bin_to_token[argmax]; "
                              "enc[t] = one_hot(class, 512) * voiced; alphas[t] = voiced[t]*(1-voiced[t-1]) "
                              "(voiced[-1] = 0); enc_len = speech_lengths",
            "online_decoder": "logits = acoustic_embeds[..., :V] * %g; sample_ids = argmax; out_cache_k = "
                              "last 10 columns of cat(in_cache_k, acoustic_embeds^T)" % DEC_LOGIT_SCALE,
            "offline": "same voicing on unscaled input with threshold voice_threshold_logmel; one row per onset "
                       "(class one-hot, log-softmax of 20*one_hot) then a final </s> row; token_num = rows (int32)",
            "offline_ts": "us_alphas = us_cif_peak = 1.0 at index 3*t+2 for each onset LFR frame t, and at "
                          "min(3*e+2, 3T-1) where e = 1 + last voiced frame; 0 elsewhere. FunASR's TimestampOnnx "
                          "then gives token k start = 60*t_k + 10 ms after the segment start (no rescaling); t_k is "
                          "the first LFR frame (fbank window [60t, 60t+25) ms from the segment start) that overlaps "
                          "the burst, so the start lies within [-15, +45] ms of the word onset; the last token ends "
                          "at (3T + e_peak)/2 * 20 ms if more than 5 upsampled frames remain, else at 3T * 20 ms",
            "punc": "logits = 10*one_hot(punc_table[token]) (both variants; masks/lengths consumed, no effect)",
            "sensevoice": "SenseVoiceSmall/: ctc_logits = 20*one_hot of T+4 ids: [language tag (the language "
                          "input's tag; auto (0) -> <|en|> if more voiced frames hold English pieces than not, else "
                          "<|zh|>), <|NEUTRAL|>, <|Speech|>, <|withitn|> if textnorm == 14 else <|woitn|>] then per "
                          "LFR frame the offline voicing's token if voiced, else blank (0); encoder_out_lens = "
                          "speech_lengths + 4. sentences[].sensevoice = FunASR's reply text for a segment holding "
                          "that sentence, by 'svs_lang/withitn|woitn'",
        },
        "bin_to_token": bin_table(),
        "sensevoice_tokens": SV_TOKENS,
        "punc_tokens": PUNC_TOKENS,
        "punc_list": PUNC_LIST,
        "punc_table": {t: PUNC_RULES.get(t, "_") for t in PUNC_TOKENS},
        "files": files,
    }
    common.write_json(os.path.join(out, "behaviour.json"), behaviour, indent=1)
    report.append("audio: %d files, behaviour.json verified against torch modules" % len(files))
