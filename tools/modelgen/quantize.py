"""Dynamic int8 quantization as FunASR does it with ORT's quantize_dynamic (MatMul only, per-channel,
QUInt8 weights, no range reduction, nodes whose name contains output/bias_encoder/bias_decoder excluded),
written as a plain ONNX graph rewrite because onnxruntime's Python package is not available here.

Each eligible MatMul(A, W) with W a constant 2-D initializer [K, N] becomes
    DynamicQuantizeLinear(A) -> (A_q uint8, A_scale, A_zp)
    MatMulInteger(A_q, W_q, A_zp, W_zp[N]) -> int32
    Cast(float) -> Mul(A_scale * W_scale[N])
which is the pattern ORT's own dynamic quantizer emits.
"""
import numpy as np
import onnx
from onnx import helper, numpy_helper

EXCLUDE = ("output", "bias_encoder", "bias_decoder")


def quantize_weight(w):
    """Per-column asymmetric uint8: range always includes 0 (as ORT), returns (w_q, scale[N], zp[N])."""
    rmin = np.minimum(w.min(axis=0), 0.0)
    rmax = np.maximum(w.max(axis=0), 0.0)
    scale = ((rmax - rmin) / 255.0).astype(np.float32)
    scale[scale == 0] = 1.0
    zp = np.clip(np.round(-rmin / scale), 0, 255).astype(np.uint8)
    wq = np.clip(np.round(w / scale) + zp.astype(np.float32), 0, 255).astype(np.uint8)
    return wq, scale, zp


def _dynamic_quantize(a):
    """numpy model of ONNX DynamicQuantizeLinear."""
    lo, hi = min(float(a.min()), 0.0), max(float(a.max()), 0.0)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    zp = np.clip(np.round(-lo / scale), 0, 255)
    aq = np.clip(np.round(a / scale) + zp, 0, 255)
    return aq, np.float32(scale), zp


def emulate(a, wq, scale, zp):
    """numpy model of the rewritten subgraph, used to check numerical closeness."""
    aq, a_scale, a_zp = _dynamic_quantize(a)
    acc = (aq - a_zp) @ (wq.astype(np.float64) - zp.astype(np.float64))
    return (acc * (a_scale * scale)).astype(np.float32)


def quantize_model(src, dst, check_rel_err=0.05):
    """Rewrites src into dst. Returns (number of MatMuls quantized, number kept in float)."""
    model = onnx.load(src)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    done = {}  # weight name -> (q, scale, zp) initializer names
    new_nodes = []
    new_inits = []
    kept = 0
    rng = np.random.default_rng(0)
    for node in graph.node:
        eligible = (node.op_type == "MatMul" and node.input[1] in inits
                    and len(inits[node.input[1]].dims) == 2
                    and not any(x in node.name for x in EXCLUDE))
        if not eligible:
            kept += node.op_type == "MatMul"
            new_nodes.append(node)
            continue
        wname = node.input[1]
        if wname not in done:
            w = numpy_helper.to_array(inits[wname]).astype(np.float32)
            wq, scale, zp = quantize_weight(w)
            if check_rel_err and len(done) < 8:  # spot-check the first few weights
                a = rng.normal(0, 1, (4, w.shape[0])).astype(np.float32)
                ref = a @ w
                err = np.abs(emulate(a, wq, scale, zp) - ref).max() / (np.abs(ref).max() + 1e-9)
                if err > check_rel_err:
                    raise RuntimeError("%s: quantized MatMul %s deviates by %.3f (relative) from fp32" % (src, node.name, err))
            names = (wname + "_quantized", wname + "_scale", wname + "_zero_point")
            new_inits += [numpy_helper.from_array(wq, names[0]), numpy_helper.from_array(scale, names[1]),
                          numpy_helper.from_array(zp, names[2])]
            done[wname] = names
        qn, sn, zn = done[wname]
        a = node.input[0]
        base = (node.name or node.output[0]).replace("/", "_").strip("_")
        aq, a_s, a_z = a + "_" + base + "_q", base + "_a_scale", base + "_a_zp"
        mmi, fl, sc = base + "_mmi", base + "_mmi_f", base + "_scale"
        new_nodes += [
            helper.make_node("DynamicQuantizeLinear", [a], [aq, a_s, a_z], name=base + "_QuantizeLinear"),
            helper.make_node("MatMulInteger", [aq, qn, a_z, zn], [mmi], name=base + "_MatMulInteger"),
            helper.make_node("Cast", [mmi], [fl], to=onnx.TensorProto.FLOAT, name=base + "_Cast"),
            helper.make_node("Mul", [a_s, sn], [sc], name=base + "_scales_mul"),
            helper.make_node("Mul", [fl, sc], [node.output[0]], name=base + "_output_scale_mul"),
        ]
    del graph.node[:]
    graph.node.extend(new_nodes)
    used = {i for n in graph.node for i in n.input}
    keep = [i for i in graph.initializer if i.name in used] + new_inits
    del graph.initializer[:]
    graph.initializer.extend(keep)
    # value_info of replaced tensors stays valid (same names/dtypes); nothing else to fix.
    onnx.save(model, dst)
    onnx.checker.check_model(dst)
    return len(done), kept
