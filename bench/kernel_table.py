#!/usr/bin/env python3
"""GPU time per kernel of two programs side by side, from Nsight Compute CSV files.

Reads what `ncu --csv --print-units base --print-kernel-base function --metrics
gpu__time_duration.sum PROGRAM` printed for each program (scripts/device_profile_kernels.sh makes
them), sums the duration of every kernel name over the profiled launches, divides by the number of
training steps profiled, and prints a Markdown table: kernel, launches and ms per step in A and in B,
and the difference, largest differences first. Kernels are also grouped into families (GEMM,
attention, normalization, elementwise, reduction, copy, optimizer, convolution) for a short summary.

    python3 bench/kernel_table.py layerwise.csv pytorch.csv --steps 3 --names layerwise,PyTorch
"""
import argparse
import collections
import csv
import sys


def read_ncu_csv(path):
    """{kernel name: [launches, total ns]} of one ncu CSV file (lines that are not CSV skipped)."""
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]
    rows = csv.DictReader(lines)
    kernels = collections.defaultdict(lambda: [0, 0.0])
    for row in rows:
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        unit = row.get("Metric Unit", "nsecond")
        scale = {"nsecond": 1.0, "ns": 1.0, "usecond": 1e3, "us": 1e3, "msecond": 1e6,
                 "ms": 1e6, "second": 1e9, "s": 1e9}.get(unit)
        if scale is None:
            sys.exit(f"{path}: unknown time unit {unit!r}")
        entry = kernels[row["Kernel Name"]]
        entry[0] += 1
        entry[1] += value * scale
    if not kernels:
        sys.exit(f"{path}: no gpu__time_duration.sum rows (was ncu run with --csv --metrics ...?)")
    return kernels


FAMILIES = [  # first match wins; lower-case substrings of kernel names
    ("attention", ("flash", "fmha", "attention", "sdpa", "efficient")),
    ("GEMM", ("gemm", "sm90_xmma", "cutlass", "nvjet", "ampere_", "sm80_", "dot")),
    ("convolution", ("conv", "implicit", "wgrad", "dgrad")),
    ("normalization", ("layer_norm", "layernorm", "norm")),
    ("optimizer", ("adam", "foreach", "multi_tensor")),
    ("softmax / loss", ("softmax", "nll", "cross_entropy", "log_softmax")),
    ("reduction", ("reduce", "sum", "mean")),
    ("copy / cast", ("copy", "cat", "index", "gather", "scatter", "transpose", "stack")),
    ("elementwise", ("elementwise", "vectorized", "unrolled", "gelu", "add", "mul")),
]


def family(name):
    lower = name.lower()
    for fam, keys in FAMILIES:
        if any(k in lower for k in keys):
            return fam
    return "other"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="ncu CSV of program A")
    parser.add_argument("b", help="ncu CSV of program B")
    parser.add_argument("--steps", type=float, default=1.0, help="training steps each file covers")
    parser.add_argument("--names", default="A,B", help="two column names, comma-separated")
    parser.add_argument("--top", type=int, default=25, help="kernels listed")
    args = parser.parse_args()
    name_a, name_b = args.names.split(",")
    a, b = read_ncu_csv(args.a), read_ncu_csv(args.b)
    ms = lambda ns: ns / 1e6 / args.steps  # noqa: E731  (per step)

    fam_a, fam_b = collections.Counter(), collections.Counter()
    for k, (_, ns) in a.items():
        fam_a[family(k)] += ns
    for k, (_, ns) in b.items():
        fam_b[family(k)] += ns
    print(f"| family | {name_a} ms/step | {name_b} ms/step | difference |")
    print("|---|---|---|---|")
    for fam in sorted(set(fam_a) | set(fam_b), key=lambda f: -(fam_a[f] + fam_b[f])):
        print(f"| {fam} | {ms(fam_a[fam]):.2f} | {ms(fam_b[fam]):.2f} | "
              f"{ms(fam_a[fam] - fam_b[fam]):+.2f} |")
    total_a = sum(ns for _, ns in a.values())
    total_b = sum(ns for _, ns in b.values())
    print(f"| **all** | **{ms(total_a):.2f}** | **{ms(total_b):.2f}** | "
          f"**{ms(total_a - total_b):+.2f}** |\n")

    print(f"| kernel | family | {name_a} launches/step | {name_a} ms/step | "
          f"{name_b} launches/step | {name_b} ms/step | difference |")
    print("|---|---|---|---|---|---|---|")
    names = sorted(set(a) | set(b),
                   key=lambda k: -abs(a.get(k, [0, 0.0])[1] - b.get(k, [0, 0.0])[1]))
    for k in names[: args.top]:
        la, na = a.get(k, [0, 0.0])
        lb, nb = b.get(k, [0, 0.0])
        short = k if len(k) <= 90 else k[:87] + "..."
        print(f"| `{short}` | {family(k)} | {la / args.steps:.0f} | {ms(na):.3f} | "
              f"{lb / args.steps:.0f} | {ms(nb):.3f} | {ms(na - nb):+.3f} |")


if __name__ == "__main__":
    main()
