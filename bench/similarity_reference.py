#!/usr/bin/env python3
"""PyTorch reference implementation of the layer-similarity matrices (baseline for bench/).

What it is: a plain-PyTorch (torch + stdlib only) implementation of the four within-model
layer-similarity matrices that layerwise's C++ code computes, written the way a careful PyTorch
user would, so the C++ benchmark can be timed and checked side by side against it:

  cos           mean over samples of the per-sample cosine between layers i and j
  cka_linear    linear CKA from one (L*D, L*D) product of the centred, concatenated layers
  cka_debiased  debiased (unbiased-HSIC) linear CKA from the same product
  cka_rbf       RBF-kernel CKA, sigma^2 = threshold^2 * median squared distance, kernels in
                row tiles of ~1 GiB so no full N x N kernel per layer is ever held

Each input layer is an (N, D) float32 tensor; each result is an (L, L) float64 matrix.

How it is run (one JSON line per N and metric goes to stdout):
  python3 bench/similarity_reference.py --device cpu|cuda --n 1000,5000 --layers 13 --width 768 \
      --metrics cos,cka_linear,cka_debiased,cka_rbf --repeats 3 [--tf32] [--threads K] \
      [--input layers.safetensors] [--dump matrices.json]
  python3 bench/similarity_reference.py --selftest [--device cuda]   # vs naive float64 versions

Without --input the synthetic layers of the C++ benchmark are used (seed 0; h = randn(N, D);
layer l+1 = layer l + 0.5 * randn(N, D)). With --input the layers are read from a safetensors
file (tensors named by an integer, in its order; 3-D tensors pooled at token 0; F64 read as
float32); --n then takes the first n rows (all rows when --n is not given). --dump writes the
matrices of the last timed run of the last N as {metric: [[...]]}.
"""
import argparse
import json
import re
import statistics
import struct
import sys
import time

import torch

TILE_BYTES = 1 << 30  # RBF kernel tile budget: L * t * N * 4 bytes
MEDIAN_SAMPLES = 4096


def _normalize(cross, diag):
    """cross_ij / sqrt(diag_i diag_j)."""
    return cross / torch.sqrt(torch.outer(diag, diag))


def cos_similarity(layers):
    n, d = layers[0].shape
    stacked = torch.empty(n, len(layers), d, dtype=layers[0].dtype, device=layers[0].device)
    for l, x in enumerate(layers):
        norms = torch.linalg.vector_norm(x, dim=1, keepdim=True).clamp_min_(1e-12)
        stacked[:, l].copy_(x).div_(norms)  # zero rows stay zero
    per_sample = torch.bmm(stacked, stacked.transpose(1, 2))  # (N, L, L)
    return per_sample.sum(0, dtype=torch.float64) / n


def _centred_product(layers):
    """Centred concatenation X (N, L*D) and its Gram C = X^T X (L*D, L*D), both float32."""
    n, d = layers[0].shape
    cat = torch.empty(n, len(layers) * d, dtype=layers[0].dtype, device=layers[0].device)
    for l, x in enumerate(layers):
        mean = x.mean(0, dtype=torch.float64).to(x.dtype)
        cat[:, l * d:(l + 1) * d].copy_(x).sub_(mean)
    return cat, torch.mm(cat.t(), cat)


def _block_sq_norms(product, n_layers, d):
    """||X_i^T X_j||_F^2 for all layer pairs (consumes product)."""
    blocks = product.view(n_layers, d, n_layers, d).pow_(2)
    return blocks.sum((1, 3), dtype=torch.float64)


def cka_linear(layers):
    _, product = _centred_product(layers)
    hsic = _block_sq_norms(product, len(layers), layers[0].shape[1])
    return _normalize(hsic, hsic.diagonal())


def cka_debiased(layers):
    n, d = layers[0].shape
    cat, product = _centred_product(layers)
    cross = _block_sq_norms(product, len(layers), d)
    del product
    rows = torch.stack([cat[:, l * d:(l + 1) * d].pow(2).sum(1, dtype=torch.float64)
                        for l in range(len(layers))])  # (L, N) squared row norms
    sums = rows.sum(1)  # (L) = ||X_l||_F^2
    hsic = cross - n / (n - 2) * torch.mm(rows, rows.t()) + torch.outer(sums, sums) / ((n - 1) * (n - 2))
    return _normalize(hsic, hsic.diagonal())


def _median(flat):
    """Numpy-style median: the mean of the two middle values for an even count."""
    k = flat.numel()
    if flat.is_cuda:  # a GPU radix sort is fast; CUDA kthvalue on one huge slice is not
        values = flat.sort().values
        low, high = values[(k - 1) // 2], values[k // 2]
    else:  # O(k) selection, several times faster than sorting on CPU
        low = flat.kthvalue((k + 1) // 2).values
        high = low
        if k % 2 == 0 and int((flat <= low).sum()) <= k // 2:
            high = torch.where(flat > low, flat, torch.full_like(flat, float("inf"))).min()
    return (low.double() + high.double()) / 2


def _sq_dists(x_rows, norms_rows, x, norms, out=None):
    d2 = torch.addmm(norms.unsqueeze(0), x_rows, x.t(), beta=1, alpha=-2, out=out)
    return d2.add_(norms_rows.unsqueeze(1)).clamp_min_(0)


def rbf_sigma2(x, threshold=0.5, median_samples=MEDIAN_SAMPLES):
    n = x.shape[0]
    m = min(n, median_samples)
    rows = x
    if m < n:
        index = torch.div(torch.arange(m, device=x.device) * n, m, rounding_mode="floor")
        rows = x.index_select(0, index)
    norms = rows.pow(2).sum(1)
    return _median(_sq_dists(rows, norms, rows, norms).reshape(-1)) * threshold ** 2


def cka_rbf(layers, threshold=0.5, median_samples=MEDIAN_SAMPLES, tile_rows=None):
    n = layers[0].shape[0]
    n_layers, device, dtype = len(layers), layers[0].device, layers[0].dtype
    norms = [x.pow(2).sum(1) for x in layers]
    gammas = [float(0.5 / rbf_sigma2(x, threshold, median_samples)) for x in layers]
    t = tile_rows or max(1, TILE_BYTES // (4 * n_layers * n))
    t = min(t, n)
    buffer = torch.empty(n_layers * t * n, dtype=dtype, device=device)
    gram = torch.zeros(n_layers, n_layers, dtype=torch.float64, device=device)  # <K_a, K_b>
    row_sums = torch.empty(n_layers, n, dtype=torch.float64, device=device)     # K_l 1
    for start in range(0, n, t):
        rows = min(t, n - start)
        block = buffer[:n_layers * rows * n].view(n_layers, rows, n)  # contiguous
        for l, x in enumerate(layers):
            _sq_dists(x[start:start + rows], norms[l][start:start + rows], x, norms[l], out=block[l])
            block[l].mul_(-gammas[l]).exp_()
        flat = block.view(n_layers, rows * n)
        gram += torch.mm(flat, flat.t()).double()
        row_sums[:, start:start + rows] = block.sum(2, dtype=torch.float64)
    totals = row_sums.sum(1)
    centred = gram - 2.0 / n * torch.mm(row_sums, row_sums.t()) + torch.outer(totals, totals) / n ** 2
    return _normalize(centred, centred.diagonal())


METRICS = {"cos": cos_similarity, "cka_linear": cka_linear, "cka_debiased": cka_debiased,
           "cka_rbf": cka_rbf}


def synthetic_layers(n, n_layers, width):
    torch.manual_seed(0)
    h = torch.randn(n, width)
    layers = [h]
    for _ in range(1, n_layers):
        h = h + 0.5 * torch.randn(n, width)
        layers.append(h)
    return layers


def read_safetensors(path):
    """Minimal safetensors reader: u64-LE header length, JSON header, raw little-endian bytes."""
    dtypes = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16}
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    named = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in dtypes:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtypes[info["dtype"]])
        t = t.reshape(info["shape"])
        if t.dim() == 3:
            t = t[:, 0, :]  # pool with token 0
        key = re.search(r"(\d+)$", name)
        if key is None:
            raise ValueError(f"{path}: tensor name {name!r} does not end in an integer")
        named.append((int(key.group(1)), t.float().contiguous()))
    return [t for _, t in sorted(named, key=lambda p: p[0])]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_metric(fn, layers, repeats, device):
    fn(layers)  # warm-up
    _sync(device)
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(layers)
        _sync(device)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def selftest(device):
    """Compare every metric on device with a naive CPU float64 version (N x N Grams, H K H)."""
    torch.manual_seed(1)
    n, d = 150, 12
    layers = synthetic_layers(n, 4, d)
    layers[2] = layers[2] * 3 + 1  # different scale and offset
    layers[1][5].zero_()           # a zero row for cos
    xs = [x.double() for x in layers]
    H = torch.eye(n, dtype=torch.float64) - 1.0 / n

    def align(grams):  # <A, B> / (|A| |B|) over flattened matrices
        flat = torch.stack([g.reshape(-1) for g in grams])
        return _normalize(flat @ flat.t(), (flat * flat).sum(1))

    def u_centre(g):  # Kornblith et al.'s unbiased centring
        g = g.clone().fill_diagonal_(0)
        means = g.sum(0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        return (g - means[:, None] - means[None, :]).fill_diagonal_(0)

    def naive_rbf(median_samples):
        grams = []
        for x in xs:
            d2 = torch.cdist(x, x).pow(2)
            m = min(n, median_samples)
            idx = torch.arange(m) * n // m
            sub = d2[idx][:, idx].reshape(-1).sort().values
            med = sub[sub.numel() // 2] if sub.numel() % 2 else (sub[sub.numel() // 2 - 1] + sub[sub.numel() // 2]) / 2
            grams.append(H @ torch.exp(-d2 / (2 * 0.25 * med)) @ H)
        return align(grams)

    unit = [x / x.norm(dim=1, keepdim=True).clamp_min(1e-300) * (x.norm(dim=1, keepdim=True) > 0) for x in xs]
    expected = {
        "cos": torch.stack([torch.stack([(a * b).sum(1).mean() for b in unit]) for a in unit]),
        "cka_linear": align([H @ x @ x.t() @ H for x in xs]),
        "cka_debiased": align([u_centre(x @ x.t()) for x in xs]),
        "cka_rbf": naive_rbf(MEDIAN_SAMPLES),
    }
    on_device = [x.to(device) for x in layers]
    got = {name: fn(on_device).cpu() for name, fn in METRICS.items()}
    got["cka_rbf tiled+subsampled"] = cka_rbf(on_device, median_samples=64, tile_rows=17).cpu()
    expected["cka_rbf tiled+subsampled"] = naive_rbf(64)
    ok = True
    for name, value in got.items():
        err = (value - expected[name]).abs().max().item()
        ok &= err <= 1e-5
        print(f"selftest {name:26s} max |diff| = {err:.2e} {'ok' if err <= 1e-5 else 'FAIL'}")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--n", default=None, help="comma-separated sample counts (default 1000,5000)")
    p.add_argument("--layers", type=int, default=13)
    p.add_argument("--width", type=int, default=768)
    p.add_argument("--metrics", default=",".join(METRICS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--tf32", action="store_true", help="allow TF32 in CUDA matmuls")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--input", default=None, help="safetensors file of layers")
    p.add_argument("--dump", default=None, help="write the last run's matrices to this JSON file")
    p.add_argument("--selftest", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    device = torch.device(args.device)
    if args.selftest:
        return selftest(device)
    metrics = args.metrics.split(",")
    for m in metrics:
        if m not in METRICS:
            p.error(f"unknown metric {m!r}; known: {', '.join(METRICS)}")
    source = read_safetensors(args.input) if args.input else None
    if source is not None:
        ns = [int(v) for v in args.n.split(",")] if args.n else [source[0].shape[0]]
    else:
        ns = [int(v) for v in (args.n or "1000,5000").split(",")]
    dump = {}
    for n in ns:
        cpu = [x[:n] for x in source] if source else synthetic_layers(n, args.layers, args.width)
        layers = [x.to(device).contiguous() for x in cpu]
        del cpu
        dump = {}
        for metric in metrics:
            best, med, result = time_metric(METRICS[metric], layers, args.repeats, device)
            dump[metric] = result.cpu().tolist()
            print(json.dumps({"impl": "pytorch", "device": str(device), "n": layers[0].shape[0],
                              "layers": len(layers), "width": layers[0].shape[1], "metric": metric,
                              "median_s": med, "min_s": best, "torch": torch.__version__,
                              "tf32": args.tf32}), flush=True)
        del layers
    if args.dump:
        with open(args.dump, "w") as f:
            json.dump(dump, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
