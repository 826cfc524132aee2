"""Shared helpers: ONNX export with contract verification, FunASR side files (am.mvn, config.yaml, tokens.json)."""
import json
import math
import os

import numpy as np
import onnx
import torch
import yaml

OPSET = 14

F32 = onnx.TensorProto.FLOAT
I32 = onnx.TensorProto.INT32
I64 = onnx.TensorProto.INT64
_TYPE_NAMES = {F32: "float32", I32: "int32", I64: "int64"}


class ContractError(RuntimeError):
    pass


# ---------------------------------------------------------------------------
# I/O contracts (funasr-compat.md §3.2-3.5, §3.9). A dim is an int (fixed) or a
# str (the symbolic name FunASR's export gives that dynamic axis).
# ---------------------------------------------------------------------------
def vad_contract():
    ins = [("speech", F32, [1, "feats_length", 400])]
    ins += [("in_cache%d" % i, F32, [1, 128, 19, 1]) for i in range(4)]
    outs = [("logits", F32, [1, "feats_length", 248])]
    outs += [("out_cache%d" % i, F32, [1, 128, 19, 1]) for i in range(4)]
    return ins, outs


def online_encoder_contract():
    ins = [("speech", F32, ["batch_size", "feats_length", 560]),
           ("speech_lengths", I32, ["batch_size"])]
    outs = [("enc", F32, ["batch_size", "feats_length", 512]),
            ("enc_len", I32, ["batch_size"]),
            ("alphas", F32, ["batch_size", "feats_length"])]
    return ins, outs


def online_decoder_contract(vocab):
    ins = [("enc", F32, ["batch_size", "enc_length", 512]),
           ("enc_len", I32, ["batch_size"]),
           ("acoustic_embeds", F32, ["batch_size", "token_length", 512]),
           ("acoustic_embeds_len", I32, ["batch_size"])]
    ins += [("in_cache_%d" % i, F32, ["batch_size", 512, 10]) for i in range(16)]
    outs = [("logits", F32, ["batch_size", "token_length", vocab]),
            ("sample_ids", I64, ["batch_size", "token_length"])]
    outs += [("out_cache_%d" % i, F32, ["batch_size", 512, 10]) for i in range(16)]
    return ins, outs


def offline_contract(vocab, timestamps):
    ins = [("speech", F32, ["batch_size", "feats_length", 560]),
           ("speech_lengths", I32, ["batch_size"])]
    outs = [("logits", F32, ["batch_size", "logits_length", vocab]),
            ("token_num", I32, ["batch_size"])]
    if timestamps:
        outs += [("us_alphas", F32, ["batch_size", "alphas_length"]),
                 ("us_cif_peak", F32, ["batch_size", "alphas_length"])]
    return ins, outs


def sensevoice_contract(vocab):
    """SenseVoiceSmall export (funasr/models/sense_voice/export_meta.py): 4 inputs, CTC logits with 4 extra
    leading rows (language, emotion, event, textnorm queries) and encoder_out_lens = speech_lengths + 4."""
    ins = [("speech", F32, ["batch_size", "feats_length", 560]),
           ("speech_lengths", I32, ["batch_size"]),
           ("language", I32, ["batch_size"]),
           ("textnorm", I32, ["batch_size"])]
    outs = [("ctc_logits", F32, ["batch_size", "logits_length", vocab]),
            ("encoder_out_lens", I32, ["batch_size"])]
    return ins, outs


def sensevoice_config(encoder_conf):
    """config.yaml of a SenseVoiceSmall dir; the runtime reads frontend_conf and encoder_conf.output_size."""
    return {
        "encoder": "SenseVoiceEncoderSmall",
        "encoder_conf": encoder_conf,
        "model": "SenseVoiceSmall",
        "model_conf": {"length_normalized_loss": True, "sos": 1, "eos": 2, "ignore_id": -1},
        "tokenizer": "SentencepiecesTokenizer",
        "tokenizer_conf": {"bpemodel": None, "unk_symbol": "<unk>", "split_with_space": True},
        "frontend": "WavFrontend",
        "frontend_conf": {"fs": 16000, "window": "hamming", "n_mels": 80, "frame_length": 25,
                          "frame_shift": 10, "lfr_m": 7, "lfr_n": 6, "cmvn_file": None},
    }


# SenseVoiceSmall's tag tokens and the ids of its language / textnorm query inputs (model.py lid_dict,
# textnorm_dict; the C++ runtime's lid_map).
SV_LANG_IDS = {"auto": 0, "zh": 3, "en": 4, "yue": 7, "ja": 11, "ko": 12, "nospeech": 13}
SV_TEXTNORM_IDS = {"withitn": 14, "woitn": 15}
SV_TAGS = (["<|zh|>", "<|en|>", "<|yue|>", "<|ja|>", "<|ko|>", "<|nospeech|>"]
           + ["<|HAPPY|>", "<|SAD|>", "<|ANGRY|>", "<|NEUTRAL|>"]
           + ["<|Speech|>", "<|BGM|>", "<|Laughter|>", "<|Applause|>"]
           + ["<|withitn|>", "<|woitn|>"])


def punc_online_contract():
    ins = [("inputs", I32, [1, "feats_length"]),
           ("text_lengths", I32, [1]),
           ("vad_masks", F32, [1, 1, "feats_length1", "feats_length2"]),
           ("sub_masks", F32, [1, 1, "feats_length1", "feats_length2"])]
    outs = [("logits", F32, [1, "logits_length", 6])]
    return ins, outs


def punc_offline_contract():
    ins = [("inputs", I32, ["batch_size", "feats_length"]),
           ("text_lengths", I32, ["batch_size"])]
    outs = [("logits", F32, ["batch_size", "logits_length", 6])]
    return ins, outs


def dynamic_axes_of(ins, outs):
    axes = {}
    for name, _, dims in ins + outs:
        sym = {i: d for i, d in enumerate(dims) if isinstance(d, str)}
        if sym:
            axes[name] = sym
    return axes


# ---------------------------------------------------------------------------
# Export + verification
# ---------------------------------------------------------------------------
def _dims_of(value_info):
    out = []
    for d in value_info.type.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(d.dim_value)
        elif d.HasField("dim_param"):
            out.append(d.dim_param)
        else:
            out.append(None)
    return out


def verify_contract(path, ins, outs):
    """Fails loudly unless the file's graph inputs/outputs are exactly the contract (names, order, dtypes, dims)."""
    model = onnx.load(path, load_external_data=False)
    onnx.checker.check_model(path)  # path form works for models > 2 GB too
    init_names = {i.name for i in model.graph.initializer}
    graph_ins = [i for i in model.graph.input if i.name not in init_names]
    for kind, got, want in (("input", graph_ins, ins), ("output", model.graph.output, outs)):
        got_names = [g.name for g in got]
        want_names = [w[0] for w in want]
        if got_names != want_names:
            raise ContractError("%s: %s names/order %s, expected %s" % (path, kind, got_names, want_names))
        for g, (name, dtype, dims) in zip(got, want):
            et = g.type.tensor_type.elem_type
            if et != dtype:
                raise ContractError("%s: %s '%s' has dtype %s, expected %s" % (
                    path, kind, name, onnx.TensorProto.DataType.Name(et), _TYPE_NAMES[dtype]))
            gd = _dims_of(g)
            if gd != dims:
                raise ContractError("%s: %s '%s' has dims %s, expected %s" % (path, kind, name, gd, dims))
    if model.opset_import[0].version != OPSET:
        raise ContractError("%s: opset %d, expected %d" % (path, model.opset_import[0].version, OPSET))


def export(module, args, path, contract):
    """torch.onnx.export with the contract's names and dynamic axes, then verify_contract."""
    ins, outs = contract
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module, tuple(args), path,
            input_names=[i[0] for i in ins],
            output_names=[o[0] for o in outs],
            dynamic_axes=dynamic_axes_of(ins, outs),
            opset_version=OPSET,
            do_constant_folding=True,
        )
    _pin_fixed_dims(path, ins + outs)
    verify_contract(path, ins, outs)


def _pin_fixed_dims(path, specs):
    """torch leaves e.g. a cache slice `x[:, :, -19:]` of a dynamic-length tensor as a symbolic dim; the
    contract fixes it, so write the fixed value (and the declared dynamic name) into the graph signature."""
    model = onnx.load(path)
    want = {name: dims for name, _, dims in specs}
    changed = False
    for vi in list(model.graph.input) + list(model.graph.output):
        dims = want.get(vi.name)
        if dims is None or len(vi.type.tensor_type.shape.dim) != len(dims):
            continue
        for d, w in zip(vi.type.tensor_type.shape.dim, dims):
            if isinstance(w, int) and not (d.HasField("dim_value") and d.dim_value == w):
                if d.HasField("dim_value"):
                    raise ContractError("%s: '%s' has fixed dim %d where the contract says %d" % (path, vi.name, d.dim_value, w))
                d.ClearField("dim_param")
                d.dim_value = w
                changed = True
    if changed:
        onnx.save(model, path)


# ---------------------------------------------------------------------------
# Side files
# ---------------------------------------------------------------------------
def write_am_mvn(path, shift, scale):
    """Kaldi nnet1 text CMVN exactly as FunASR ships it (funasr-compat.md §4.5)."""
    n = len(shift)
    assert len(scale) == n

    def vec(v):
        return " ".join("%.7g" % float(x) for x in v)

    text = ("<Nnet> \n<Splice> %d %d\n[ 0 ]\n<AddShift> %d %d \n<LearnRateCoef> 0 [ %s ]\n"
            "<Rescale> %d %d\n<LearnRateCoef> 0 [ %s ]\n</Nnet> \n") % (n, n, n, n, vec(shift), n, n, vec(scale))
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def realistic_cmvn(dim, seed):
    """Shift/scale in the range of the published Paraformer am.mvn (means about -8..-16, inv std about 0.15)."""
    g = np.random.default_rng(seed)
    per_bin = -8.0 - 8.0 * np.linspace(0, 1, 80) ** 0.5
    shift = np.tile(per_bin, dim // 80) + g.normal(0, 0.3, dim)
    scale = 0.15 + g.normal(0, 0.01, dim)
    return shift, scale


def write_yaml(path, data):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, allow_unicode=True, sort_keys=False, default_flow_style=False)


def write_json(path, data, indent=None):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=indent)
        f.write("\n")


def vad_config(encoder_conf, max_end_silence_time=800, max_single_segment_time=60000, speech_noise_thres=0.6):
    """config.yaml of the FSMN-VAD dir, keys as funasr/models/fsmn_vad_streaming/template.yaml."""
    return {
        "model": "FsmnVADStreaming",
        "model_conf": {
            "sample_rate": 16000, "detect_mode": 1, "snr_mode": 0,
            "max_end_silence_time": max_end_silence_time, "max_start_silence_time": 3000,
            "do_start_point_detection": True, "do_end_point_detection": True,
            "window_size_ms": 200, "sil_to_speech_time_thres": 150, "speech_to_sil_time_thres": 150,
            "speech_2_noise_ratio": 1.0, "do_extend": 1,
            "lookback_time_start_point": 200, "lookahead_time_end_point": 100,
            "max_single_segment_time": max_single_segment_time,
            "snr_thres": -100.0, "noise_frame_num_used_for_snr": 100, "decibel_thres": -100.0,
            "speech_noise_thres": speech_noise_thres, "fe_prior_thres": 0.0001,
            "silence_pdf_num": 1, "sil_pdf_ids": [0],
            "speech_noise_thresh_low": -0.1, "speech_noise_thresh_high": 0.3,
            "output_frame_probs": False, "frame_in_ms": 10, "frame_length_ms": 25,
        },
        "encoder": "FSMN",
        "encoder_conf": encoder_conf,
        "frontend": "WavFrontend",
        "frontend_conf": {"fs": 16000, "window": "hamming", "n_mels": 80, "frame_length": 25,
                          "frame_shift": 10, "dither": 0.0, "lfr_m": 5, "lfr_n": 1},
    }


def asr_config(streaming, encoder_conf, decoder_conf, timestamps=False):
    """config.yaml of a Paraformer dir; the runtime reads frontend_conf, encoder_conf.output_size,
    decoder_conf.num_blocks/kernel_size and predictor_conf.threshold/tail_threshold (§3.3.1)."""
    predictor_conf = {"idim": 512, "threshold": 1.0, "l_order": 1, "r_order": 1, "tail_threshold": 0.45}
    if timestamps:
        predictor_conf.update({"smooth_factor2": 0.25, "noise_threshold2": 0.01, "upsample_times": 3,
                               "use_cif1_cnn": False, "upsample_type": "cnn_blstm"})
    return {
        "model": "ParaformerStreaming" if streaming else ("BiCifParaformer" if timestamps else "Paraformer"),
        "model_conf": {"ctc_weight": 0.0, "lsm_weight": 0.1, "length_normalized_loss": True,
                       "predictor_weight": 1.0, "predictor_bias": 1, "sampling_ratio": 0.75},
        "encoder": "SANMEncoderChunkOpt" if streaming else "SANMEncoder",
        "encoder_conf": encoder_conf,
        "decoder": "ParaformerSANMDecoder",
        "decoder_conf": decoder_conf,
        "predictor": "CifPredictorV3" if timestamps else "CifPredictorV2",
        "predictor_conf": predictor_conf,
        "frontend": "WavFrontendOnline" if streaming else "WavFrontend",
        "frontend_conf": {"fs": 16000, "window": "hamming", "n_mels": 80, "frame_length": 25,
                          "frame_shift": 10, "lfr_m": 7, "lfr_n": 6},
    }


def punc_config(streaming, encoder_conf):
    """config.yaml of a CT-Transformer dir (templates ct_transformer[_streaming]/template.yaml)."""
    return {
        "model": "CTTransformerStreaming" if streaming else "CTTransformer",
        "model_conf": {"ignore_id": 0, "embed_unit": encoder_conf["input_size"], "att_unit": encoder_conf["output_size"],
                       "dropout_rate": 0.1,
                       "punc_list": ["<unk>", "_", "，", "。", "？", "、"],
                       "punc_weight": [1.0] * 6, "sentence_end_id": 3},
        "encoder": "SANMVadEncoder" if streaming else "SANMEncoder",
        "encoder_conf": encoder_conf,
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>"},
    }


def sinusoid(positions, dim):
    """FunASR SinusoidalPositionEncoder: dim i<dim/2 -> sin(p*exp(-i*ln(1e4)/(dim/2-1))), i+dim/2 -> cos."""
    half = dim // 2
    inv = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000.0) / (half - 1)))
    ang = positions.float().unsqueeze(-1) * inv
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)


def export_pair(module, args, folder, name, contract, report, quant_name):
    """Exports fp32 `name` and its int8 twin `quant_name`, verifies both, appends a size line to report."""
    from quantize import quantize_model
    path = os.path.join(folder, name)
    export(module, args, path, contract)
    qpath = os.path.join(folder, quant_name)
    nq, kept = quantize_model(path, qpath)
    verify_contract(qpath, *contract)
    report.append("%-28s %8.1f MB  (quant %8.1f MB, %d MatMul weights int8, %d kept fp32)" % (
        os.path.relpath(path, os.path.dirname(folder)), file_size_mb(path), file_size_mb(qpath), nq, kept))


def file_size_mb(path):
    return os.path.getsize(path) / 1e6
