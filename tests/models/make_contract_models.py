#!/usr/bin/python3
"""Writes small hand-built ONNX models with FunASR's I/O contracts (and deliberately broken
variants) for tests/models. Independent of tools/modelgen: graphs are built with onnx.helper,
so names, dtypes and shapes are exactly what is written here.

usage: make_contract_models.py OUTDIR
Dims: online D=8, 2 decoder caches of [1,8,2] (kernel_size 3), vocab 6; VAD/punc as FunASR.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP, helper as h, numpy_helper as nh

OPSET = 14
D, LAYERS, LORDER, VOCAB = 8, 2, 2, 6
rng = np.random.default_rng(7)


def const(name, arr):
    return h.make_node("Constant", [], [name], value=nh.from_array(np.asarray(arr), name))


def save(path, nodes, inputs, outputs, inits=()):
    g = h.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", OPSET)], producer_name="paraserve-tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(m, path)


def vi(name, t, shape):
    return h.make_tensor_value_info(name, t, shape)


def mean_all(src, dst):
    return h.make_node("ReduceMean", [src], [dst], keepdims=0)


def write_mvn(path, dim):
    shift = " ".join("%g" % v for v in (-0.1 * np.arange(dim) / dim))
    scale = " ".join("%g" % v for v in (1.0 + 0.5 * np.arange(dim) / dim))
    with open(path, "w") as f:
        f.write("<Nnet>\n<Splice> %d %d\n[ 0 ]\n" % (dim, dim))
        f.write("<AddShift> %d %d\n<LearnRateCoef> 0 [ %s ]\n" % (dim, dim, shift))
        f.write("<Rescale> %d %d\n<LearnRateCoef> 0 [ %s ]\n</Nnet>\n" % (dim, dim, scale))


def vad(d, rename=None):
    W = (rng.standard_normal((400, 248)) * 0.1).astype(np.float32)
    names = ["speech"] + ["in_cache%d" % i for i in range(4)]
    if rename:
        names[rename[0]] = rename[1]
    nodes = [const("W", W), h.make_node("MatMul", [names[0], "W"], ["z"]),
             h.make_node("Softmax", ["z"], ["logits"], axis=-1), mean_all(names[0], "m"), const("half", np.float32(0.5))]
    outs = [vi("logits", TP.FLOAT, [1, "T", 248])]
    for i in range(4):
        # out_cache = 0.5 * in_cache + mean(speech) + i: depends on both, distinct per layer.
        nodes += [const("k%d" % i, np.float32(i)), h.make_node("Mul", [names[1 + i], "half"], ["a%d" % i]),
                  h.make_node("Add", ["a%d" % i, "m"], ["b%d" % i]),
                  h.make_node("Add", ["b%d" % i, "k%d" % i], ["out_cache%d" % i])]
        outs.append(vi("out_cache%d" % i, TP.FLOAT, [1, 128, 19, 1]))
    ins = [vi(names[0], TP.FLOAT, [1, "T", 400])] + [vi(n, TP.FLOAT, [1, 128, 19, 1]) for n in names[1:]]
    save(os.path.join(d, "model.onnx"), nodes, ins, outs)
    save(os.path.join(d, "model_quant.onnx"), nodes, ins, outs)
    write_mvn(os.path.join(d, "am.mvn"), 400)
    with open(os.path.join(d, "config.yaml"), "w") as f:
        f.write("frontend_conf:\n  fs: 16000\n  window: hamming\n  n_mels: 80\n  frame_length: 25\n"
                "  frame_shift: 10\n  dither: 0.0\n  lfr_m: 5\n  lfr_n: 1\n"
                "model_conf:\n  max_end_silence_time: 800\n  max_single_segment_time: 60000\n"
                "  speech_noise_thres: 0.6\n")


def tokens(d, n):
    toks = ["<blank>", "<s>", "</s>"] + ["t%d" % i for i in range(n - 4)] + ["<unk>"]
    with open(os.path.join(d, "tokens.json"), "w") as f:
        json.dump(toks, f)


def online_cfg(d):
    with open(os.path.join(d, "config.yaml"), "w") as f:
        f.write("frontend_conf:\n  fs: 16000\n  window: hamming\n  n_mels: 80\n  frame_length: 25\n"
                "  frame_shift: 10\n  lfr_m: 7\n  lfr_n: 6\n"
                "encoder_conf:\n  output_size: %d\ndecoder_conf:\n  num_blocks: %d\n  kernel_size: %d\n"
                "predictor_conf:\n  threshold: 1.0\n  tail_threshold: 0.45\n" % (D, LAYERS, LORDER + 1))


def encoder(path):
    W = (rng.standard_normal((560, D)) * 0.1).astype(np.float32)
    nodes = [const("W", W), h.make_node("MatMul", ["speech", "W"], ["enc"]),
             h.make_node("Identity", ["speech_lengths"], ["enc_len"]),
             h.make_node("ReduceMean", ["speech"], ["r"], axes=[2], keepdims=0),
             h.make_node("Sigmoid", ["r"], ["alphas"])]
    save(path, nodes, [vi("speech", TP.FLOAT, [1, "T", 560]), vi("speech_lengths", TP.INT32, [1])],
         [vi("enc", TP.FLOAT, [1, "T", D]), vi("enc_len", TP.INT32, [1]), vi("alphas", TP.FLOAT, [1, "T"])])


def decoder(path, len_type=TP.INT32, caches=LAYERS):
    W = (rng.standard_normal((D, VOCAB))).astype(np.float32)
    nodes = [const("W", W), h.make_node("MatMul", ["acoustic_embeds", "W"], ["l0"]),
             mean_all("enc", "me"), mean_all("acoustic_embeds", "ma"), h.make_node("Add", ["l0", "me"], ["l1"])]
    cur = "l1"
    for i in range(caches):
        # logits also depend on every cache, so stale caches change the output.
        nodes += [mean_all("in_cache_%d" % i, "mc%d" % i), h.make_node("Add", [cur, "mc%d" % i], ["l%d" % (i + 2)])]
        cur = "l%d" % (i + 2)
    nodes += [h.make_node("Identity", [cur], ["logits"]),
              h.make_node("ArgMax", ["logits"], ["sample_ids"], axis=2, keepdims=0), const("g", np.float32(0.9))]
    outs = [vi("logits", TP.FLOAT, [1, "N", VOCAB]), vi("sample_ids", TP.INT64, [1, "N"])]
    for i in range(caches):
        nodes += [const("k%d" % i, np.float32(i + 1)), h.make_node("Mul", ["in_cache_%d" % i, "g"], ["c%d" % i]),
                  h.make_node("Add", ["c%d" % i, "ma"], ["e%d" % i]),
                  h.make_node("Add", ["e%d" % i, "k%d" % i], ["out_cache_%d" % i])]
        outs.append(vi("out_cache_%d" % i, TP.FLOAT, [1, D, LORDER]))
    ins = [vi("enc", TP.FLOAT, [1, "T", D]), vi("enc_len", TP.INT32, [1]),
           vi("acoustic_embeds", TP.FLOAT, [1, "N", D]), vi("acoustic_embeds_len", len_type, [1])]
    ins += [vi("in_cache_%d" % i, TP.FLOAT, [1, D, LORDER]) for i in range(caches)]
    save(path, nodes, ins, outs)


def online(d, **dec):
    os.makedirs(d, exist_ok=True)
    encoder(os.path.join(d, "model.onnx"))
    encoder(os.path.join(d, "model_quant.onnx"))
    decoder(os.path.join(d, "decoder.onnx"), **dec)
    decoder(os.path.join(d, "decoder_quant.onnx"), **dec)
    write_mvn(os.path.join(d, "am.mvn"), 560)
    online_cfg(d)
    tokens(d, VOCAB)


def offline(d, timestamps, token_type=TP.INT32):
    W = (rng.standard_normal((560, VOCAB))).astype(np.float32)
    # N = T rows; token_num = T - 1 (so it differs from the row count).
    nodes = [const("W", W), h.make_node("MatMul", ["speech", "W"], ["z"]),
             h.make_node("LogSoftmax", ["z"], ["logits"], axis=-1), const("one", np.array([1], np.int32)),
             h.make_node("Sub", ["speech_lengths", "one"], ["tn32"])]
    nodes.append(h.make_node("Cast", ["tn32"], ["token_num"], to=token_type))
    outs = [vi("logits", TP.FLOAT, [1, "N", VOCAB]), vi("token_num", token_type, [1])]
    if timestamps:
        nodes += [h.make_node("ReduceMean", ["speech"], ["r"], axes=[2], keepdims=0),
                  const("rep", np.array([1, 3], np.int64)), h.make_node("Tile", ["r"], ["us_alphas"]),
                  h.make_node("Neg", ["us_alphas"], ["us_cif_peak"])]
        nodes[-2].input.append("rep")
        outs += [vi("us_alphas", TP.FLOAT, [1, "T3"]), vi("us_cif_peak", TP.FLOAT, [1, "T3"])]
    ins = [vi("speech", TP.FLOAT, [1, "T", 560]), vi("speech_lengths", TP.INT32, [1])]
    save(os.path.join(d, "model.onnx"), nodes, ins, outs)
    save(os.path.join(d, "model_quant.onnx"), nodes, ins, outs)


def sensevoice(d, lang_type=TP.INT32, lens_type=TP.INT32, names=("speech", "speech_lengths", "language", "textnorm"),
               feat=560, n_tokens=VOCAB):
    """SenseVoiceSmall contract (ctc_logits here has T rows, not T + 4; the loader does not care)."""
    W = (rng.standard_normal((feat, VOCAB))).astype(np.float32)
    sp, ln, la, tn = names
    nodes = [const("W", W), h.make_node("MatMul", [sp, "W"], ["ctc_logits"]),
             h.make_node("Cast", [la], ["la32"], to=TP.INT32), const("zero", np.array([0], np.int32)),
             h.make_node("Mul", ["la32", "zero"], ["la0"]), h.make_node("Mul", [tn, "zero"], ["tn0"]),
             const("four", np.array([4], np.int32)), h.make_node("Add", [ln, "four"], ["l4"]),
             h.make_node("Add", ["l4", "la0"], ["l5"]), h.make_node("Add", ["l5", "tn0"], ["l6"]),
             h.make_node("Cast", ["l6"], ["encoder_out_lens"], to=lens_type)]
    ins = [vi(sp, TP.FLOAT, [1, "T", feat]), vi(ln, TP.INT32, [1]), vi(la, lang_type, [1]), vi(tn, TP.INT32, [1])]
    outs = [vi("ctc_logits", TP.FLOAT, [1, "T", VOCAB]), vi("encoder_out_lens", lens_type, [1])]
    save(os.path.join(d, "model.onnx"), nodes, ins, outs)
    save(os.path.join(d, "model_quant.onnx"), nodes, ins, outs)
    toks = ["<unk>", "<s>", "</s>", "\u2581a", "b", "<|zh|>"][:n_tokens]
    with open(os.path.join(d, "tokens.json"), "w") as f:
        json.dump(toks, f)


def punc(d, realtime):
    E = np.random.default_rng(11).standard_normal((VOCAB, 6)).astype(np.float32)  # same in both variants
    nodes = [const("E", E), h.make_node("Gather", ["E", "inputs"], ["g"])]
    ins = [vi("inputs", TP.INT32, [1, "L"]), vi("text_lengths", TP.INT32, [1])]
    if realtime:
        # logits[l] += mean over row l of vad_masks + 2 * mean of sub_masks row l.
        nodes += [h.make_node("ReduceMean", ["vad_masks"], ["mv"], axes=[3], keepdims=0),
                  h.make_node("ReduceMean", ["sub_masks"], ["ms"], axes=[3], keepdims=0),
                  h.make_node("Add", ["mv", "ms"], ["mm"]),
                  h.make_node("Transpose", ["mm"], ["mt"], perm=[0, 2, 1]),
                  h.make_node("Add", ["g", "mt"], ["logits"])]
        ins += [vi("vad_masks", TP.FLOAT, [1, 1, "L", "L"]), vi("sub_masks", TP.FLOAT, [1, 1, "L", "L"])]
    else:
        nodes.append(h.make_node("Identity", ["g"], ["logits"]))
    save(os.path.join(d, "model.onnx"), nodes, ins, [vi("logits", TP.FLOAT, [1, "L", 6])])
    save(os.path.join(d, "model_quant.onnx"), nodes, ins, [vi("logits", TP.FLOAT, [1, "L", 6])])
    with open(os.path.join(d, "config.yaml"), "w") as f:
        f.write("model_conf:\n  punc_list:\n  - <unk>\n  - _\n  - ，\n  - 。\n  - ？\n  - 、\n")
    tokens(d, VOCAB)


def main():
    out = sys.argv[1]
    vad(os.path.join(out, "good/vad"))
    online(os.path.join(out, "good/online"))
    offline(os.path.join(out, "good/offline"), False)
    offline(os.path.join(out, "good/offline-ts"), True)
    punc(os.path.join(out, "good/punc"), True)
    punc(os.path.join(out, "good/punc-offline"), False)
    # Broken contracts.
    vad(os.path.join(out, "bad/vad-renamed"), rename=(2, "cache1"))
    online(os.path.join(out, "bad/online-int64-len"), len_type=TP.INT64)
    online(os.path.join(out, "bad/online-missing-cache"), caches=LAYERS - 1)
    # Accepted variant: token_num int64 (FunASR's runtime reads it as int64).
    offline(os.path.join(out, "good/offline-int64"), False, token_type=TP.INT64)
    # SenseVoiceSmall: good (encoder_out_lens int32 or int64) and broken contracts.
    sensevoice(os.path.join(out, "good/SenseVoiceSmall"))
    sensevoice(os.path.join(out, "good/SenseVoiceSmall-lens-int64"), lens_type=TP.INT64)
    sensevoice(os.path.join(out, "bad/SenseVoiceSmall-language-int64"), lang_type=TP.INT64)
    sensevoice(os.path.join(out, "bad/SenseVoiceSmall-renamed"), names=("speech", "speech_lengths", "language", "text_norm"))
    sensevoice(os.path.join(out, "bad/SenseVoiceSmall-80-dims"), feat=80)
    sensevoice(os.path.join(out, "bad/SenseVoiceSmall-5-tokens"), n_tokens=VOCAB - 1)


if __name__ == "__main__":
    main()
