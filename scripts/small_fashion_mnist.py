#!/usr/bin/env python3
"""Writes a smaller Fashion-MNIST in the IDX layout for device calls that must carry it beside
other files (64 MiB travel in all): the first N training images (default 6000) and the whole test
set, gzip-compressed, from Debian's dataset-fashion-mnist.

  /usr/bin/python3 scripts/small_fashion_mnist.py [OUT_DIR=.data/fmnist-small] [N=6000]
"""
import gzip
import os
import sys

SOURCE = "/usr/share/datasets/fashion-mnist"


def cut(name, n, item_bytes, header):
    with gzip.open(f"{SOURCE}/{name}.gz") as f:
        data = f.read()
    count = int.from_bytes(data[4:8], "big")
    keep = min(n, count) if n else count
    return data[:4] + keep.to_bytes(4, "big") + data[8:header] + data[header : header + keep * item_bytes]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else ".data/fmnist-small"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 6000
    os.makedirs(out, exist_ok=True)
    for name, limit, item, header in [
        ("train-images-idx3-ubyte", n, 784, 16),
        ("train-labels-idx1-ubyte", n, 1, 8),
        ("t10k-images-idx3-ubyte", 0, 784, 16),
        ("t10k-labels-idx1-ubyte", 0, 1, 8),
    ]:
        with gzip.open(f"{out}/{name}.gz", "wb") as f:
            f.write(cut(name, limit, item, header))
    print(out)


if __name__ == "__main__":
    main()
