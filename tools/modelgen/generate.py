#!/usr/bin/python3
"""Generates FunASR-layout test model directories (random or behavioural weights; NOT trained models).

    /usr/bin/python3 tools/modelgen/generate.py --set tiny|behav|full --out models/<set>

See docs/test-models.md. Needs Debian's python3-torch (1.13) and python3-onnx (1.12).
"""
import argparse
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import common  # noqa: E402
import nets  # noqa: E402

# Size presets. `tiny` keeps every contract I/O size (enc 512, caches [1,128,19,1] / [1,512,10], 6 punc
# classes) but uses small inner sizes; `full` uses the published Paraformer-large / FSMN-VAD / CT-Transformer sizes.
PRESETS = {
    "tiny": dict(
        vad=dict(affine=32, linear=48, proj=128, lorder=20, layers=4),
        enc=dict(d=64, heads=4, units=128, blocks=2, kernel=11),
        online_dec=dict(heads=4, units=16, blocks=16, att_layers=1, kernel=11),
        offline=dict(d=64, heads=4, units=128, enc_blocks=2, dec_blocks=2, att_layers=2, kernel=11),
        punc=dict(d=32, heads=4, units=64, online_blocks=1, offline_blocks=1, kernel=11),
        punc_vocab=None,
        sensevoice=dict(d=64, heads=4, units=128, blocks=1, tp_blocks=1, kernel=11, vocab=None),
    ),
    "full": dict(
        vad=dict(affine=140, linear=250, proj=128, lorder=20, layers=4),
        enc=dict(d=512, heads=4, units=2048, blocks=50, kernel=11),
        online_dec=dict(heads=4, units=2048, blocks=16, att_layers=16, kernel=11),
        offline=dict(d=512, heads=4, units=2048, enc_blocks=50, dec_blocks=16, att_layers=16, kernel=11),
        punc=dict(d=256, heads=8, units=1024, online_blocks=3, offline_blocks=4, kernel=11),
        punc_vocab=272727,
        # SenseVoiceSmall: SenseVoiceEncoderSmall 512-d, 4 heads, 2048 units, 50 + 20 (tp) SAN-M blocks,
        # 25055 sentencepiece tokens (~234 M parameters).
        sensevoice=dict(d=512, heads=4, units=2048, blocks=50, tp_blocks=20, kernel=11, vocab=25055),
    ),
}

TINY_TOKENS = (["<blank>", "<s>", "</s>"]
               + list("你好世界今天气很我们是吗的了在有一个不这人中国大上来到说")
               + ["hello", "world", "good", "morning", "a", "b", "i", "ok", "ser@@", "ver", "mo@@", "del", "@@"]
               + ["<unk>"])


def asr_tokens(preset_name):
    if preset_name == "tiny":
        return list(TINY_TOKENS)
    # full: 8404 entries like the published vocabulary (specials + CJK range + a few English pieces)
    toks = ["<blank>", "<s>", "</s>"]
    toks += [chr(c) for c in range(0x4E00, 0x4E00 + 8000)]
    toks += ["w%d@@" % i for i in range(200)] + ["w%d" % i for i in range(200)]
    toks = toks[:8403] + ["<unk>"]
    return toks


def sensevoice_tokens(preset_name):
    """SenseVoice-style vocabulary: <unk> (id 0, the CTC blank), <s>, </s>, pieces ("▁" starts a word), tags."""
    base = [t for t in asr_tokens("tiny") if t not in ("<blank>", "<s>", "</s>", "<unk>", "@@")]
    pieces = []
    for i, t in enumerate(base):
        continuation = i > 0 and base[i - 1].endswith("@@")  # "ser@@ ver" -> "▁ser", "ver"
        pieces.append("▁" + t[:-2] if t.endswith("@@") else
                      (t if _is_cjk(t) or continuation else "▁" + t))
    toks = ["<unk>", "<s>", "</s>"] + pieces
    size = PRESETS[preset_name]["sensevoice"]["vocab"]
    if size:
        toks += ["p%d" % i for i in range(size - len(toks) - len(common.SV_TAGS))]
    return toks + list(common.SV_TAGS)


def _is_cjk(t):
    return len(t) > 0 and all(0x4E00 <= ord(c) <= 0x9FFF for c in t)


def punc_tokens(preset_name, asr_toks):
    size = PRESETS[preset_name]["punc_vocab"]
    words = [t for t in asr_toks if t not in ("<blank>", "<s>", "</s>", "<unk>") and "@@" not in t]
    toks = ["<blank>", "<s>", "</s>"] + words + ["server", "model"]
    if size:
        extra = size - len(toks) - 1
        toks += ["p%d" % i for i in range(extra)]
    return toks + ["<unk>"]


def _randn(*shape):
    return torch.randn(*shape)


def build_random_set(preset_name, out, report):
    p = PRESETS[preset_name]
    torch.manual_seed(1234)
    toks = asr_tokens(preset_name)
    vocab = len(toks)

    # --- vad ---
    d = os.path.join(out, "vad")
    os.makedirs(d)
    v = p["vad"]
    vad = nets.FsmnVad(affine=v["affine"], linear=v["linear"], proj=v["proj"], lorder=v["lorder"], layers=v["layers"])
    common.export_pair(vad, [_randn(1, 30, 400)] + [_randn(1, 128, 19, 1) for _ in range(4)], d, "model.onnx",
                 common.vad_contract(), report, "model_quant.onnx")
    shift, scale = common.realistic_cmvn(400, 1)
    common.write_am_mvn(os.path.join(d, "am.mvn"), shift, scale)
    enc_conf = {"input_dim": 400, "input_affine_dim": v["affine"], "fsmn_layers": v["layers"], "linear_dim": v["linear"],
                "proj_dim": v["proj"], "lorder": v["lorder"], "rorder": 0, "lstride": 1, "rstride": 0,
                "output_affine_dim": v["affine"], "output_dim": 248}
    common.write_yaml(os.path.join(d, "config.yaml"), common.vad_config(enc_conf))
    del vad

    # --- shared ASR side files ---
    e, od = p["enc"], p["online_dec"]
    shift, scale = common.realistic_cmvn(560, 2)

    def encoder_conf(dd, blocks, streaming):
        c = {"output_size": 512, "attention_heads": e["heads"], "linear_units": e["units"], "num_blocks": blocks,
             "dropout_rate": 0.1, "positional_dropout_rate": 0.1, "attention_dropout_rate": 0.1,
             "input_layer": "pe_online" if streaming else "pe", "pos_enc_class": "SinusoidalPositionEncoder",
             "normalize_before": True, "kernel_size": e["kernel"], "sanm_shfit": 0, "selfattention_layer_type": "sanm"}
        if dd != 512:
            c["inner_size"] = dd  # tiny only: inner width before the projection to 512
        return c

    def decoder_conf(units, blocks, att, streaming):
        return {"attention_heads": 4, "linear_units": units, "num_blocks": blocks, "dropout_rate": 0.1,
                "positional_dropout_rate": 0.1, "self_attention_dropout_rate": 0.1, "src_attention_dropout_rate": 0.1,
                "att_layer_num": att, "kernel_size": 11, "sanm_shfit": 5 if streaming else 0}

    def side_files(folder, cfg):
        common.write_am_mvn(os.path.join(folder, "am.mvn"), shift, scale)
        common.write_yaml(os.path.join(folder, "config.yaml"), cfg)
        common.write_json(os.path.join(folder, "tokens.json"), toks)

    # --- online ---
    d = os.path.join(out, "online")
    os.makedirs(d)
    enc = nets.OnlineEncoder(e["d"], e["heads"], e["units"], e["blocks"], e["kernel"])
    common.export_pair(enc, [_randn(1, 20, 560), torch.tensor([20], dtype=torch.int32)], d, "model.onnx",
                 common.online_encoder_contract(), report, "model_quant.onnx")
    del enc
    dec = nets.OnlineDecoder(vocab, od["heads"], od["units"], od["blocks"], od["att_layers"], od["kernel"])
    common.export_pair(dec, [_randn(1, 20, 512), torch.tensor([20], dtype=torch.int32), _randn(1, 3, 512),
                       torch.tensor([3], dtype=torch.int32)] + [_randn(1, 512, 10) for _ in range(16)],
                 d, "decoder.onnx", common.online_decoder_contract(vocab), report, "decoder_quant.onnx")
    del dec
    side_files(d, common.asr_config(True, encoder_conf(e["d"], e["blocks"], True),
                                    decoder_conf(od["units"], od["blocks"], od["att_layers"], True)))

    # --- offline and offline-ts ---
    o = p["offline"]
    for sub, ts in (("offline", False), ("offline-ts", True)):
        d = os.path.join(out, sub)
        os.makedirs(d)
        m = nets.OfflineParaformer(o["d"], vocab, o["heads"], o["units"], o["enc_blocks"], o["dec_blocks"],
                                   o["att_layers"], o["kernel"], ts)
        common.export_pair(m, [_randn(1, 40, 560), torch.tensor([40], dtype=torch.int32)], d, "model.onnx",
                     common.offline_contract(vocab, ts), report, "model_quant.onnx")
        del m
        side_files(d, common.asr_config(False, encoder_conf(o["d"], o["enc_blocks"], False),
                                        decoder_conf(o["units"], o["dec_blocks"], o["att_layers"], False), ts))

    # --- punctuation ---
    pc = p["punc"]
    ptoks = punc_tokens(preset_name, toks)
    for sub, streaming in (("punc", True), ("punc-offline", False)):
        d = os.path.join(out, sub)
        os.makedirs(d)
        blocks = pc["online_blocks"] if streaming else pc["offline_blocks"]
        m = nets.CTTransformer(len(ptoks), pc["d"], pc["heads"], pc["units"], blocks, pc["kernel"], streaming)
        length = 7
        ids = torch.randint(0, len(ptoks), (1, length), dtype=torch.int32)
        lens = torch.tensor([length], dtype=torch.int32)
        if streaming:
            mask = torch.tril(torch.ones(length, length)).view(1, 1, length, length)
            args, contract = [ids, lens, mask, mask.clone()], common.punc_online_contract()
        else:
            args, contract = [ids, lens], common.punc_offline_contract()
        common.export_pair(m, args, d, "model.onnx", contract, report, "model_quant.onnx")
        del m
        enc_conf = {"input_size": pc["d"], "output_size": pc["d"], "attention_heads": pc["heads"],
                    "linear_units": pc["units"], "num_blocks": blocks, "dropout_rate": 0.1,
                    "positional_dropout_rate": 0.1, "attention_dropout_rate": 0.0, "input_layer": "pe",
                    "pos_enc_class": "SinusoidalPositionEncoder", "normalize_before": True, "kernel_size": pc["kernel"],
                    "sanm_shfit": 5 if streaming else 0, "selfattention_layer_type": "sanm", "padding_idx": 0}
        common.write_yaml(os.path.join(d, "config.yaml"), common.punc_config(streaming, enc_conf))
        common.write_json(os.path.join(d, "tokens.json"), ptoks)

    # --- SenseVoiceSmall (last, so the other models' random weights do not change; the directory
    # name must contain "SenseVoiceSmall") ---
    sv = p["sensevoice"]
    sv_toks = sensevoice_tokens(preset_name)
    d = os.path.join(out, "SenseVoiceSmall")
    os.makedirs(d)
    m = nets.SenseVoiceSmall(sv["d"], len(sv_toks), sv["heads"], sv["units"], sv["blocks"] + sv["tp_blocks"],
                             sv["kernel"])
    common.export_pair(m, [_randn(1, 40, 560), torch.tensor([40], dtype=torch.int32),
                           torch.tensor([0], dtype=torch.int32), torch.tensor([15], dtype=torch.int32)],
                       d, "model.onnx", common.sensevoice_contract(len(sv_toks)), report, "model_quant.onnx")
    del m
    common.write_am_mvn(os.path.join(d, "am.mvn"), shift, scale)
    common.write_yaml(os.path.join(d, "config.yaml"), common.sensevoice_config(
        {"output_size": sv["d"], "attention_heads": sv["heads"], "linear_units": sv["units"],
         "num_blocks": sv["blocks"], "tp_blocks": sv["tp_blocks"], "dropout_rate": 0.1,
         "positional_dropout_rate": 0.1, "attention_dropout_rate": 0.1, "input_layer": "pe",
         "pos_enc_class": "SinusoidalPositionEncoder", "normalize_before": True, "kernel_size": sv["kernel"],
         "sanm_shfit": 0, "selfattention_layer_type": "sanm"}))
    common.write_json(os.path.join(d, "tokens.json"), sv_toks)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", required=True, choices=["tiny", "behav", "full"])
    ap.add_argument("--out", required=True, help="output folder (replaced)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    np.random.seed(0)
    start = time.time()
    out = os.path.abspath(args.out)
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    report = []
    if args.set == "behav":
        import behav
        behav.build(tmp, report)
    else:
        build_random_set(args.set, tmp, report)
    # swap in atomically-ish so readers never see a half-written set
    old = out + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(out):
        os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(out) for f in fs)
    for line in report:
        print("  " + line)
    print("modelgen: set '%s' written to %s in %.1f s (%.1f MB)" % (args.set, out, time.time() - start, total / 1e6))


if __name__ == "__main__":
    main()
