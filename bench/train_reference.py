#!/usr/bin/env python3
"""The layerwise ViT training step in PyTorch Python, for bench/bench_train's side-by-side ratios.

The same model as layerwise's ViT (src/model/vit.cpp, block.cpp, layered_model.cpp): a patch
embedding (convolution, kernel = stride = patch), a class token, learned position embeddings,
pre-LayerNorm blocks (LayerNorm eps 1e-6; attention with one fused qkv projection, 12 heads, no
dropout; MLP d -> 4d -> d with exact (erf) GELU), then the head classifier(final_norm(z)) on the
class token (--pool cls, layerwise's default) or the mean of the patch tokens (--pool mean).
Objectives as src/train/objective.cpp:
  standard  CE(head(pool(h_L)), y)
  aligned   sum_l w_l CE(head(pool(h_l)), y) over l = 1..L, the one shared head applied once to the
            stacked pooled states (L, B, D), w_l = 2l / (L (L + 1))
The step as layerwise train's (src/train/trainer.cpp) with its defaults: bf16 autocast on CUDA
around forward and loss, backward, clip_grad_norm_ to 1.0, AdamW (lr 1e-3 with warm-up and cosine
decay, betas 0.9 / 0.999, eps 1e-8, weight decay 0.05 on matrices and the patch kernel only, not on
biases, norms, position embeddings or the class token; fused=True on CUDA), zero_grad. The loss and
the top-1 hits stay on the device, as in the trainer. Written the way a competent user writes it:
F.scaled_dot_product_attention, fused AdamW, the foreach gradient clipping, no host syncs in the
step; with --mode compile the forward and the loss are one torch.compile'd function.

Inputs: four random batches N(0, 1) of images and random labels, drawn on the device first, used in
turn. Timing: --warmup steps (compilation included), then --repeats windows of --steps steps, each
closed by torch.cuda.synchronize() before the clock is read; the median window is reported.
--breakdown N then times N more steps phase by phase (forward + loss, backward, clip, optimizer;
host time until queued and wall time until done) and counts the aten:: operators of each phase in
one last step (torch.profiler, CPU activity), as bench_train --breakdown does.

One JSON line per configuration, the fields of bench_train's:
  python3 bench/train_reference.py --preset base --objective standard,aligned --batch 256 \
      --device cuda --mode eager,compile
  python3 bench/train_reference.py --summarize bench_train.jsonl     (the side-by-side table)
"""

import argparse
import contextlib
import json
import math
import statistics
import sys
import time

PEAK_BF16 = 989e12  # H100 / H200 SXM datasheet, dense bf16

# layers, d_model, heads, patch, image side, channels (d_ff = 4 d, 10 classes), as bench_train's.
PRESETS = {
    "tiny": (2, 32, 2, 7, 28, 1),
    "small": (6, 96, 3, 7, 28, 1),
    "medium": (12, 384, 6, 4, 28, 1),
    "base": (12, 768, 12, 4, 28, 1),
    "vit-b16": (12, 768, 12, 16, 224, 3),
}


def build_model_class():
    import torch
    from torch import nn
    import torch.nn.functional as F

    has_sdpa = hasattr(F, "scaled_dot_product_attention")

    def attention(q, k, v):
        if has_sdpa:
            return F.scaled_dot_product_attention(q, k, v)
        # PyTorch 1.x (the CPU check on Debian's 1.13 only): the textbook composition
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
        return scores.softmax(-1) @ v

    class Attention(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)

        def forward(self, x):
            b, t, d = x.shape
            qkv = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)  # (B, H, T, Dh) each (timm's form)
            out = attention(q, k, v)  # (B, H, T, Dh)
            return self.proj(out.transpose(1, 2).reshape(b, t, d))

    class Mlp(nn.Module):
        def __init__(self, d, d_ff):
            super().__init__()
            self.fc1 = nn.Linear(d, d_ff)
            self.fc2 = nn.Linear(d_ff, d)

        def forward(self, x):
            return self.fc2(F.gelu(self.fc1(x)))

    class Block(nn.Module):
        def __init__(self, d, heads, d_ff, eps):
            super().__init__()
            self.norm1 = nn.LayerNorm(d, eps=eps)
            self.attn = Attention(d, heads)
            self.norm2 = nn.LayerNorm(d, eps=eps)
            self.mlp = Mlp(d, d_ff)

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class PatchEmbed(nn.Module):
        def __init__(self, channels, d, patch):
            super().__init__()
            self.proj = nn.Conv2d(channels, d, patch, stride=patch)

        def forward(self, x):
            return self.proj(x).flatten(2).transpose(1, 2)  # (B, N_p, D)

    class ViT(nn.Module):
        def __init__(self, layers, d, heads, d_ff, patch, image, channels, classes, pool, eps=1e-6):
            super().__init__()
            self.pool_mean = pool == "mean"
            n_patches = (image // patch) ** 2
            self.patch_embed = PatchEmbed(channels, d, patch)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
            self.pos_embed = nn.Parameter(torch.zeros(1, 1 + n_patches, d))
            self.blocks = nn.ModuleList(Block(d, heads, d_ff, eps) for _ in range(layers))
            self.final_norm = nn.LayerNorm(d, eps=eps)
            self.classifier = nn.Linear(d, classes)
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.trunc_normal_(m.weight, std=0.02)
                    nn.init.zeros_(m.bias)
            for p in (self.patch_embed.proj.weight, self.cls_token, self.pos_embed):
                nn.init.trunc_normal_(p, std=0.02)

        def pool(self, h):
            return h[:, 1:].mean(1) if self.pool_mean else h[:, 0]  # (B, D)

        def head(self, z):
            return self.classifier(self.final_norm(z))

        def forward(self, x, every_layer=False):
            """Logits (B, C) of the last layer, or (L, B, C) of every layer (one head call)."""
            h = self.patch_embed(x)
            h = torch.cat([self.cls_token.expand(h.size(0), -1, -1), h], 1) + self.pos_embed
            pooled = []
            for block in self.blocks:
                h = block(h)
                if every_layer:
                    pooled.append(self.pool(h))
            if every_layer:
                return self.head(torch.stack(pooled))  # (L, B, C)
            return self.head(self.pool(h))  # (B, C)

    return ViT


def warmup_cosine_lr(step, total_steps, warmup_steps, lr, min_lr):
    """src/train/optimizer.cpp's schedule."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps - 1)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def flops_per_image(layers, d, d_ff, patch, image, channels, classes, head_calls):
    """Forward matrix-product FLOPs per image, as bench_train counts them."""
    n_p = (image // patch) ** 2
    t = n_p + 1
    parts = {
        "patch_embed": 2 * n_p * channels * patch * patch * d,
        "qkv": layers * 2 * t * d * 3 * d,
        "attn_scores": layers * 2 * t * t * d,
        "attn_values": layers * 2 * t * t * d,
        "out_proj": layers * 2 * t * d * d,
        "mlp": layers * 2 * 2 * t * d * d_ff,
        "heads": head_calls * 2 * d * classes,
    }
    return float(sum(parts.values())), {k: float(v) for k, v in parts.items()}


def bench_one(args, shape, objective, batch, mode):
    import torch
    import torch.nn.functional as F

    layers, d, heads, patch, image, channels = shape
    d_ff, classes = 4 * d, 10
    if args.layers:
        layers = args.layers
    d = args.d_model or d
    heads = args.heads or heads
    d_ff = args.d_ff or (4 * d if args.d_model else d_ff)  # as bench_train: 4 d unless given
    patch = args.patch_size or patch
    image = args.image_size or image
    channels = args.channels or channels
    classes = args.classes or classes
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    bf16 = cuda and not args.no_bf16
    aligned = objective == "aligned"
    if objective not in ("standard", "aligned"):
        sys.exit(f"train_reference.py: objective {objective!r}: use standard or aligned")

    torch.manual_seed(0)
    ViT = build_model_class()
    model = ViT(layers, d, heads, d_ff, patch, image, channels, classes, args.pool).to(device)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    # Weight decay on matrices and the patch kernel only (layerwise's AdamW::decays).
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        skip = p.dim() < 2 or "pos_embed" in name or "cls_token" in name
        (no_decay if skip else decay).append(p)
    lr, min_lr = 1e-3, 1e-5
    groups = [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}]
    extra = {"fused": True} if cuda else {}
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8, **extra)
    weights = torch.tensor([2.0 * l / (layers * (layers + 1)) for l in range(1, layers + 1)],
                           device=device)

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def loss_fn(x, y):
        with autocast():
            logits = model(x, every_layer=aligned)
            if aligned:  # (L, B, C): per-layer mean CE, weighted
                per_layer = F.cross_entropy(logits.float().flatten(0, 1), y.repeat(layers),
                                            reduction="none").view(layers, -1).mean(1)
                loss = (weights * per_layer).sum()
                last = logits[-1]
            else:
                loss = F.cross_entropy(logits.float(), y)
                last = logits
            correct = (last.argmax(-1) == y).sum()
        return loss, correct

    if mode == "compile":
        torch._dynamo.reset()
        loss_fn = torch.compile(loss_fn)
    elif mode == "max-autotune":
        torch._dynamo.reset()
        loss_fn = torch.compile(loss_fn, mode="max-autotune-no-cudagraphs")
    elif mode != "eager":
        sys.exit(f"train_reference.py: mode {mode!r}: use eager, compile or max-autotune")

    xs = [torch.randn(batch, channels, image, image, device=device) for _ in range(4)]
    ys = [torch.randint(0, classes, (batch,), device=device) for _ in range(4)]
    total_steps = args.warmup + args.repeats * args.steps + args.breakdown + 1
    warmup_steps = max(1, args.warmup)
    state = {}

    def step(i):
        loss, correct = loss_fn(xs[i % 4], ys[i % 4])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        step_lr = warmup_cosine_lr(i, total_steps, warmup_steps, lr, min_lr)
        for g in optimizer.param_groups:
            g["lr"] = step_lr
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state["loss"], state["correct"] = loss.detach(), correct

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    start = time.perf_counter()
    step(0)
    sync()
    first_step_s = time.perf_counter() - start
    i = 1
    while i < args.warmup:
        step(i)
        i += 1
    sync()
    windows = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            step(i)
            i += 1
        sync()
        windows.append((time.perf_counter() - start) * 1000 / args.steps)
    phases = {name: {"host": [], "wall": [], "ops": 0}
              for name in ("forward_loss", "backward", "clip", "optimizer")}

    def run_phase(name, body, count):
        if count:
            from torch.profiler import ProfilerActivity, profile
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                out = body()
                sync()
            phases[name]["ops"] = sum(1 for e in prof.events() if e.name.startswith("aten::"))
            return out
        start = time.perf_counter()
        out = body()
        queued = time.perf_counter()
        sync()
        done = time.perf_counter()
        phases[name]["host"].append((queued - start) * 1000)
        phases[name]["wall"].append((done - start) * 1000)
        return out

    def phased_step(i, count):  # step() in phases, each closed by a synchronization
        loss, correct = run_phase("forward_loss", lambda: loss_fn(xs[i % 4], ys[i % 4]), count)
        run_phase("backward", loss.backward, count)
        run_phase("clip", lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0), count)
        step_lr = warmup_cosine_lr(i, total_steps, warmup_steps, lr, min_lr)
        for g in optimizer.param_groups:
            g["lr"] = step_lr

        def update():
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        run_phase("optimizer", update, count)
        state["loss"], state["correct"] = loss.detach(), correct

    breakdown = None
    if args.breakdown > 0:
        for _ in range(args.breakdown):
            phased_step(i, False)
            i += 1
        phased_step(i, True)
        i += 1
        breakdown = {name: {"host_ms": statistics.median(v["host"]),
                            "wall_ms": statistics.median(v["wall"]), "aten_ops": v["ops"]}
                     for name, v in phases.items()}
    loss = state["loss"].item()
    if not math.isfinite(loss):
        sys.exit(f"train_reference.py: the loss is {loss} after {i} steps")
    ms = statistics.median(windows)
    fwd, parts = flops_per_image(layers, d, d_ff, patch, image, channels, classes,
                                 layers if aligned else 1)
    ips = batch / (ms / 1000)
    label = args.preset if not any((args.layers, args.d_model, args.heads, args.d_ff,
                                    args.patch_size, args.image_size, args.channels,
                                    args.classes)) else "custom"
    if args.pool != "cls":
        label += "-" + args.pool
    return {
        "bench": "train", "impl": "pytorch", "mode": mode, "model": label,
        "objective": objective, "batch": batch, "bf16": bf16, "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if cuda else "cpu",
        "torch": torch.__version__, "layers": layers, "d_model": d, "heads": heads,
        "d_ff": d_ff, "tokens": (image // patch) ** 2 + 1, "image_size": image,
        "channels": channels, "patch": patch, "classes": classes, "pool": args.pool,
        "params": n_params, "warmup": args.warmup, "steps": args.steps,
        "repeats": args.repeats, "first_step_s": first_step_s, "ms_per_step": ms,
        "ms_per_step_min": min(windows), "ms_per_step_max": max(windows),
        "images_per_second": ips, "flops_per_image_forward": fwd,
        "flops_per_image_train": 3 * fwd, "flops_forward_parts": parts,
        "peak_flops": args.peak_flops, "mfu": 3 * fwd * ips / args.peak_flops,
        "breakdown_steps": args.breakdown, "phases": breakdown, "final_loss": loss,
    }


def summarize(path):
    """The side-by-side tables (Markdown) of a JSON-lines file of bench_train and this script."""
    rows, order = {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if r.get("bench") != "train":
                continue
            key = (r["model"], r["objective"], r["batch"], r["bf16"])
            if key not in rows:
                rows[key] = {}
                order.append(key)
            rows[key][("lw:" if r["impl"] == "layerwise" else "") + r["mode"]] = r
    if not order:
        print(f"no training-step lines in {path}")
        return

    def fmt(r, field, spec="{:,.0f}"):
        return spec.format(r[field]) if r else "-"

    def ratio(a, b):
        return f"{a['images_per_second'] / b['images_per_second']:.2f}x" if a and b else "-"

    print("| model | tokens | objective | batch | precision | params (layerwise / PyTorch) "
          "| layerwise step | layerwise img/s | layerwise eager steps img/s | PyTorch eager img/s "
          "| torch.compile img/s | layerwise / eager | layerwise / compile | MFU layerwise "
          "| MFU eager | MFU compile | compile first step |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    peak = None
    for key in order:
        g = rows[key]
        # The trainer's step: graph replays where it captured them, else its eager step.
        lw = next((g[k] for k in ("lw:graph", "lw:eager", "lw:libtorch", "lw:eager-loop")
                   if k in g), None)
        lw_eager = g.get("lw:eager") if lw is not g.get("lw:eager") else None
        py = g.get("eager")
        any_row = next(iter(g.values()))
        peak = any_row["peak_flops"]
        params = " / ".join(fmt(r, "params", "{:,}") for r in (lw, py))
        if lw and py and lw["params"] != py["params"]:
            params += " MISMATCH"
        model, objective, batch, bf16 = key
        print(f"| {model} | {any_row['tokens']} | {objective} | {batch} | "
              f"{'bf16' if bf16 else 'fp32'} | {params} | {lw['mode'] if lw else '-'} | "
              f"{fmt(lw, 'images_per_second')} | {fmt(lw_eager, 'images_per_second')} | "
              f"{fmt(py, 'images_per_second')} | {fmt(g.get('compile'), 'images_per_second')} | "
              f"{ratio(lw, py)} | {ratio(lw, g.get('compile'))} | {fmt(lw, 'mfu', '{:.1%}')} | "
              f"{fmt(py, 'mfu', '{:.1%}')} | {fmt(g.get('compile'), 'mfu', '{:.1%}')} | "
              f"{fmt(g.get('compile'), 'first_step_s', '{:.0f} s')} |")
        if "max-autotune" in g:
            print(f"| {model} | | {objective} | {batch} | | | | | | | "
                  f"max-autotune-no-cudagraphs: {fmt(g['max-autotune'], 'images_per_second')} | | "
                  f"{ratio(lw, g['max-autotune'])} | | | "
                  f"{fmt(g['max-autotune'], 'mfu', '{:.1%}')} | "
                  f"{fmt(g['max-autotune'], 'first_step_s', '{:.0f} s')} |")
    print(f"\nMFU = 3 x forward matrix FLOPs per image x images/s / {peak:.4g} FLOP/s")
    phased = [(key, name, r) for key in order for name, r in rows[key].items() if r.get("phases")]
    if phased:
        print("\nPhase by phase (median ms per step; host: until queued, wall: until done; "
              "aten ops dispatched, nested included)\n")
        names = ("forward_loss", "backward", "clip", "optimizer")
        print("| model | objective | step | " + " | ".join(names) + " |")
        print("|---|---|---|" + "---|" * len(names))
        for (model, objective, _, _), name, r in phased:
            cells = []
            for n in names:
                v = r["phases"][n]
                cells.append(f"{v['host_ms']:.1f} / {v['wall_ms']:.1f} ms, {v['aten_ops']} ops")
            impl = "layerwise " + r["mode"] if r["impl"] == "layerwise" else "PyTorch " + name
            print(f"| {model} | {objective} | {impl} | " + " | ".join(cells) + " |")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="base", choices=sorted(PRESETS))
    p.add_argument("--layers", type=int, default=0)
    p.add_argument("--d-model", type=int, default=0)
    p.add_argument("--heads", type=int, default=0)
    p.add_argument("--d-ff", type=int, default=0)
    p.add_argument("--patch-size", type=int, default=0)
    p.add_argument("--image-size", type=int, default=0)
    p.add_argument("--channels", type=int, default=0)
    p.add_argument("--classes", type=int, default=0)
    p.add_argument("--pool", default="cls", choices=["cls", "mean"])
    p.add_argument("--objective", default="standard,aligned")
    p.add_argument("--batch", default="256")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-bf16", action="store_true")
    p.add_argument("--mode", default="eager", help="comma-separated: eager, compile, max-autotune")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--breakdown", type=int, default=0,
                   help="then this many steps timed phase by phase")
    p.add_argument("--peak-flops", type=float, default=PEAK_BF16)
    p.add_argument("--json", help="also append the JSON lines to this file")
    p.add_argument("--summarize", metavar="JSONL", help="print the side-by-side table and exit")
    args = p.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    if args.steps < 1 or args.repeats < 1 or args.warmup < 1:
        sys.exit("train_reference.py: --warmup, --steps and --repeats must be >= 1")
    shape = PRESETS[args.preset]
    print(f"MFU against {args.peak_flops:.4g} FLOP/s", file=sys.stderr)
    for mode in args.mode.split(","):
        for batch in (int(b) for b in args.batch.split(",")):
            for objective in args.objective.split(","):
                r = bench_one(args, shape, objective, batch, mode)
                line = json.dumps(r)
                print(line, flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(line + "\n")
                print(f"{r['model']:10s} {objective:10s} {mode:12s} batch {batch:5d} "
                      f"{'bf16' if r['bf16'] else 'fp32'} params {r['params']:,} "
                      f"first step {r['first_step_s']:.1f} s  {r['ms_per_step']:.2f} ms/step "
                      f"(min {r['ms_per_step_min']:.2f}, max {r['ms_per_step_max']:.2f})  "
                      f"{r['images_per_second']:,.1f} img/s  "
                      f"{r['flops_per_image_train'] / 1e9:.2f} GFLOP/img  MFU {r['mfu']:.1%}",
                      file=sys.stderr, flush=True)
                for name, v in (r["phases"] or {}).items():
                    print(f"    {name:13s} host {v['host_ms']:8.2f} ms  wall {v['wall_ms']:8.2f} ms  "
                          f"{v['aten_ops']:6d} aten ops", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
