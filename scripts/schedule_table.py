#!/usr/bin/env python3
"""The layer-weight schedule study in one table: per configuration (run folders named
CONFIG-seedS by scripts/device_schedules.sh), the mean and spread over seeds of the final accuracy,
the accuracy at layers 1, L/4, L/2, and the best accuracy reachable by early exit at 7.5x and 10x
layer speed-up or more (exit.json's threshold sweep), read with the standard library alone.

    python3 scripts/schedule_table.py RESULTS_DIR [--markdown]
"""
import json
import os
import statistics
import sys


def accuracy_at_speedup(exit_json, speedup):
    """Highest accuracy among the sweep's points whose layer speed-up is at least `speedup`."""
    best = None
    for p in exit_json["points"]:
        if p["speedup_layers"] >= speedup and (best is None or p["accuracy"] > best):
            best = p["accuracy"]
    return best


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    mean = 100 * statistics.mean(values)
    sd = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.2f} ± {sd:.2f} (n={len(values)})"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    configs = {}
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if not os.path.isfile(os.path.join(folder, "eval.json")):
            continue
        config = name.rsplit("-seed", 1)[0]
        e = json.load(open(os.path.join(folder, "eval.json")))
        x = json.load(open(os.path.join(folder, "exit.json"))) if os.path.isfile(
            os.path.join(folder, "exit.json")) else {"points": []}
        acc = e["accuracy"]
        n = len(acc)
        configs.setdefault(config, []).append({
            "final": e["final_accuracy"], "layer1": acc[0], "quarter": acc[max(0, n // 4 - 1)],
            "half": acc[max(0, n // 2 - 1)], "x7.5": accuracy_at_speedup(x, 7.5),
            "x10": accuracy_at_speedup(x, 10.0)})
    columns = ["final", "layer1", "quarter", "half", "x7.5", "x10"]
    header = ["configuration", "final (%)", "layer 1", "layer L/4", "layer L/2",
              "exit >= 7.5x", "exit >= 10x"]
    rows = [[c] + [spread([r[k] for r in runs]) for k in columns] for c, runs in configs.items()]
    if "--markdown" in sys.argv:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for row in [header] + rows:
            print("  ".join(f"{cell:<24}" for cell in row))


if __name__ == "__main__":
    main()
