#!/usr/bin/env python3
"""Tables from the JSON lines of bench_similarity (--json) and bench/similarity_reference.py.

  python3 bench/summarize.py --impl pytorch < lines.jsonl     one implementation, as it streams
  python3 bench/summarize.py --compare bench.jsonl            markdown: layerwise vs PyTorch Python
Standard library only.
"""
import argparse
import json
import sys


def read(lines):
    return [json.loads(line) for line in lines if line.strip().startswith("{")]


def stream(rows, impl):
    for r in rows:
        if impl and r["impl"] != impl:
            continue
        print(f'{r["impl"]:>9} {r["device"]:>5} N={r["n"]:>6} {r["metric"]:<13} '
              f'median {r["median_s"]:.4f} s  min {r["min_s"]:.4f} s  tf32 {r["tf32"]}')
        sys.stdout.flush()


def fmt(value, digits=4):
    return "-" if value is None else f"{value:.{digits}f}"


def compare(rows):
    best = {}
    for r in rows:
        key = (r["impl"], r["device"], r["n"], r["metric"], bool(r["tf32"]))
        best[key] = r["median_s"]
    metrics = ["cos", "cka_linear", "cka_debiased", "cka_rbf"]
    print("| device | N | metric | precision | layerwise (s) | PyTorch Python (s) | speed-up | "
          "pair-by-pair (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for device, n, tf32 in sorted({(k[1], k[2], k[4]) for k in best if k[0] == "layerwise"}):
        precision = "tf32" if tf32 else "fp32"
        total_ref = 0.0
        for metric in metrics:
            ours = best.get(("layerwise", device, n, metric, tf32))
            ref = best.get(("pytorch", device, n, metric, tf32))
            pair = best.get(("pairwise", device, n, metric, tf32))
            if ours is None:
                continue
            total_ref += ref or 0.0
            ratio = f"{ref / ours:.1f}x" if ref else "-"
            print(f"| {device} | {n} | {metric} | {precision} | {fmt(ours)} | {fmt(ref)} | {ratio} | "
                  f"{fmt(pair, 3)} |")
        together = best.get(("layerwise", device, n, "together", tf32))
        if together:
            ratio = f"{total_ref / together:.1f}x" if total_ref else "-"
            print(f"| {device} | {n} | **all four, one call** | {precision} | **{together:.4f}** | "
                  f"{fmt(total_ref or None)} | {ratio} | |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default="")
    parser.add_argument("--compare", metavar="JSONL")
    args = parser.parse_args()
    if args.compare:
        with open(args.compare) as f:
            compare(read(f))
    else:
        stream(read(sys.stdin), args.impl)


if __name__ == "__main__":
    main()
