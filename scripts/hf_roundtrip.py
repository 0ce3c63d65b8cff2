#!/usr/bin/env python3
"""Checks that checkpoints exported by `layerwise export` load in Hugging Face transformers and
compute what layerwise computed (run where transformers is installed: the GPU machine).

For each folder: loads it with the class named in config.json (ViTForImageClassification,
DeiTForImageClassification, BertForSequenceClassification, GPT2LMHeadModel), float32, eager
attention, on the CPU; feeds the inputs of layerwise_reference.safetensors; compares every hidden
state and the logits with layerwise's, as max |difference| / max |layerwise|.

Usage: python3 scripts/hf_roundtrip.py OUT.json DIR...   (exit status 1 if any relative error
exceeds 1e-5 or a folder fails to load)
"""
import json
import sys

import torch
import transformers
from safetensors.torch import load_file

TOLERANCE = 1e-5


def check(folder):
    config = json.load(open(f"{folder}/config.json"))
    architecture = config["architectures"][0]
    model = getattr(transformers, architecture).from_pretrained(
        folder, attn_implementation="eager", dtype=torch.float32).eval()
    reference = load_file(f"{folder}/layerwise_reference.safetensors")
    inputs = reference["inputs"]
    with torch.no_grad():
        if inputs.is_floating_point():
            result = model(pixel_values=inputs, output_hidden_states=True)
        else:
            result = model(input_ids=inputs, attention_mask=torch.ones_like(inputs),
                           output_hidden_states=True)

    def relative(ours, theirs):
        return ((theirs - ours).abs().max() / ours.abs().max()).item()

    errors = {f"hidden_states.{i}": relative(reference[f"hidden_states.{i}"], h)
              for i, h in enumerate(result.hidden_states)}
    errors["logits"] = relative(reference["logits"], result.logits)
    return {"folder": folder, "architecture": architecture,
            "transformers": transformers.__version__, "torch": torch.__version__,
            "layers": len(result.hidden_states) - 1, "max_relative_error": max(errors.values()),
            "relative_errors": errors, "ok": max(errors.values()) <= TOLERANCE}


def main():
    out, folders = sys.argv[1], sys.argv[2:]
    results = []
    for folder in folders:
        try:
            results.append(check(folder))
        except Exception as error:  # a folder that does not load is a failed check
            results.append({"folder": folder, "ok": False, "error": repr(error)})
        r = results[-1]
        print(f"{folder}: {r.get('architecture', '?')} "
              f"{'ok' if r['ok'] else 'FAILED'} max relative error "
              f"{r.get('max_relative_error', r.get('error'))}")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    sys.exit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
