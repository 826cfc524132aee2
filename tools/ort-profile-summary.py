#!/usr/bin/env python3
"""Sums ONNX Runtime profiles (`paraserve bench stream --ort-profile PREFIX`) per op type.

Usage: tools/ort-profile-summary.py PROFILE.json [...] [--shapes N]

For each file (one model session): the model_run total and, per op type (the kernel ORT ran,
e.g. com.microsoft DynamicQuantizeMatMul shows as DynamicQuantizeMatMul), the number of
kernel calls, total kernel time, share of all kernel time and mean time per call, sorted by
time. --shapes N also lists the N most frequent input shapes of the top op types (how many
rows a GEMM gets per call). Standard library only.
"""
import argparse
import collections
import json
import sys


def summarize(path, shapes):
    with open(path) as f:
        events = json.load(f)
    per_op = collections.defaultdict(lambda: [0, 0])  # op -> [calls, us]
    shape_count = collections.defaultdict(collections.Counter)
    run_us = runs = 0
    providers = collections.Counter()
    for e in events:
        cat, name, dur = e.get("cat"), e.get("name", ""), e.get("dur", 0)
        if cat == "Session" and name == "model_run":
            run_us += dur
            runs += 1
        if cat != "Node" or not name.endswith("_kernel_time"):
            continue
        args = e.get("args", {})
        op = args.get("op_name", "?")
        per_op[op][0] += 1
        per_op[op][1] += dur
        providers[args.get("provider", "?")] += 1
        if shapes:
            shp = args.get("input_type_shape", [])
            key = " ".join(
                "x".join(str(d) for d in list(t.values())[0]) for t in shp if isinstance(t, dict) and t
            )
            shape_count[op][key] += 1
    total = sum(v[1] for v in per_op.values()) or 1
    print(f"{path}: {runs} runs, model_run {run_us / 1e3:.1f} ms, kernels {total / 1e3:.1f} ms; "
          f"providers {dict(providers)}")
    print(f"  {'op type':32} {'calls':>8} {'ms':>10} {'share':>7} {'us/call':>9}")
    rows = sorted(per_op.items(), key=lambda kv: -kv[1][1])
    for op, (calls, us) in rows:
        print(f"  {op:32} {calls:8d} {us / 1e3:10.1f} {100.0 * us / total:6.1f}% {us / calls:9.1f}")
    if shapes:
        for op, _ in rows[:3]:
            print(f"  most frequent input shapes of {op}:")
            for key, n in shape_count[op].most_common(shapes):
                print(f"    {n:6d}  {key}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profiles", nargs="+")
    ap.add_argument("--shapes", type=int, default=0)
    a = ap.parse_args()
    for p in a.profiles:
        try:
            summarize(p, a.shapes)
        except (OSError, ValueError) as e:
            print(f"{p}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
