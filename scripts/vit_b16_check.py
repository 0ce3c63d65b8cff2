#!/usr/bin/env python3
"""A ViT-B/16 as transformers saves it, and its hidden states on Fashion-MNIST against layerwise's
(issue 19), on the GPU machine (transformers, Pillow, torch, safetensors installed there).

  python3 scripts/vit_b16_check.py make OUT
      ViTForImageClassification with ViTConfig's defaults (224 x 224 x 3, patch 16, 12 layers,
      d = 768: ViT-B/16), randomly initialised (seed 0), 10 labels, and ViTImageProcessor's
      defaults (resize to 224 x 224, bilinear, mean = std = 0.5), saved with save_pretrained.

  python3 scripts/vit_b16_check.py compare MODEL ACTIVATIONS IDX_DIR OUT_JSON
      The first N Fashion-MNIST test images (N = the samples in ACTIVATIONS, which
      `layerwise similarity RUN --save-activations --embeddings` wrote), each a PIL image converted
      to RGB and preprocessed by the model's ViTImageProcessor, through transformers in float32 on
      the CPU; the class token of every hidden state against layerwise's layer.<l>. Writes the
      largest |ours - theirs| / max |theirs| per layer and exits 1 above 1e-4.
"""
import gzip
import json
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file


def make(out):
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    model = ViTForImageClassification(ViTConfig(num_labels=10)).eval()
    model.save_pretrained(out)
    ViTImageProcessor().save_pretrained(out)
    print(f"{out}: ViT-B/16, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")


def test_images(idx_dir, n):
    with gzip.open(f"{idx_dir}/t10k-images-idx3-ubyte.gz") as f:
        data = f.read()
    count, rows, cols = (int.from_bytes(data[i : i + 4], "big") for i in (4, 8, 12))
    pixels = np.frombuffer(data, np.uint8, offset=16).reshape(count, rows, cols)
    return [Image.fromarray(pixels[i]).convert("RGB") for i in range(n)]


def compare(model_dir, activations, idx_dir, out_json):
    from transformers import ViTForImageClassification, ViTImageProcessor

    ours = load_file(activations)
    layers = sorted((k for k in ours if k.startswith("layer.")), key=lambda k: int(k[6:]))
    n = ours[layers[0]].shape[0]
    processor = ViTImageProcessor.from_pretrained(model_dir)
    model = ViTForImageClassification.from_pretrained(model_dir).eval()
    pixels = processor(test_images(idx_dir, n), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        hidden = model(pixel_values=pixels, output_hidden_states=True).hidden_states
    result = {"samples": n, "pixel_shape": list(pixels.shape), "relative_error": {}}
    for name in layers:
        theirs = hidden[int(name[6:])][:, 0].float()
        error = ((ours[name].float() - theirs).abs().max() / theirs.abs().max()).item()
        result["relative_error"][name] = error
    result["max_relative_error"] = max(result["relative_error"].values())
    result["passed"] = result["max_relative_error"] <= 1e-4
    with open(out_json, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["make"] and len(sys.argv) == 3:
        make(sys.argv[2])
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 6:
        sys.exit(compare(*sys.argv[2:]))
    else:
        sys.exit(__doc__)
