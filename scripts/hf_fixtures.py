#!/usr/bin/env python3
"""Reference fixtures for importing Hugging Face checkpoints (issue 7), made where `transformers`,
`tokenizers`, `safetensors` and `torch` are installed (the GPU machine; no weights are downloaded).

For each architecture it builds a small randomly initialised model from a config, saves it in the
Hugging Face layout (config.json + model.safetensors), runs a few inputs and writes what the model
computed (every layer's hidden states and the logits, float32) to expected.safetensors beside it:

  OUT/vit/        ViTForImageClassification, 1 channel, 28 x 28, patch 7 (+ preprocessor_config.json)
  OUT/deit/       DeiTForImageClassification (class and distillation tokens)
  OUT/bert/       BertForSequenceClassification (token types, padding mask)
  OUT/gpt2/       GPT2LMHeadModel (padding mask)

It also trains a small WordPiece vocabulary (BERT) and a small byte-level BPE (GPT-2) with the
`tokenizers` package on a built-in text set, and writes the ids that Hugging Face's tokenizers give
for a varied list of texts (accents, CJK, emoji, punctuation, long words, runs of whitespace):

  OUT/tokenizers/wordpiece/vocab.txt, OUT/tokenizers/bpe/{vocab.json,merges.txt},
  OUT/tokenizers/cases.json  {"texts": [...], "wordpiece": [[ids]...], "bpe": [[ids]...], and the
                             ids of transformers' tokenizers loaded from the saved files:
                             "wordpiece_transformers", "bpe_transformers"}

Usage: python3 scripts/hf_fixtures.py OUT   (each part runs on its own; a failing part is reported
and the others still run; the exit status is 1 if any failed)
"""
import json
import os
import sys
import traceback

import torch
from safetensors.torch import save_file

SEED = 0
TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Café déjà vu: naïve coöperation, Ångström and façade.",
    "ÉCOLE SUPÉRIEURE — ÀÉÎÕÜ",
    "日本語のテキストと中文字符，混合 English words.",
    "emoji 🙂🚀 and flags 🇫🇷 next to text",
    "punctuation!!! ...?? (brackets) [more] {braces} \"quotes\" 'single' -- dashes;",
    "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism",
    "  leading spaces, tabs\tand\t\ttabs,   runs   of   spaces  ",
    "new\nlines\n\nand\r\nwindows line ends",
    "numbers 3.14159 and 1,000,000 and 42nd",
    "MiXeD CaSe WoRdS and UPPER lower",
    "",
    "a",
    "ß ﬁ Ǆ İ ı — unicode edge cases",
]


def corpus():
    """A small training text: English sentences plus the test texts, repeated."""
    base = [
        "the model reads every layer with the same classifier",
        "aligned training makes shallow layers readable",
        "transformers stack attention and feed forward blocks",
        "a tokenizer splits text into pieces from a vocabulary",
        "early exit stops computation once the prediction is confident",
        "similarity between layers rises with depth",
    ]
    return (base * 20) + TEXTS * 5


def save_expected(path, tensors):
    save_file({k: v.detach().contiguous().to(torch.float32) if v.is_floating_point() else
               v.detach().contiguous() for k, v in tensors.items()}, path)


def dump_outputs(out, model, inputs, names):
    model.eval()
    with torch.no_grad():
        result = model(**inputs, output_hidden_states=True)
    tensors = {name: inputs[name] for name in names}
    for i, h in enumerate(result.hidden_states):
        tensors[f"hidden_states.{i}"] = h
    tensors["logits"] = result.logits
    save_expected(os.path.join(out, "expected.safetensors"), tensors)
    print(f"  {out}: {len(result.hidden_states)} hidden states, logits {tuple(result.logits.shape)}")


def vit(out):
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor
    torch.manual_seed(SEED)
    config = ViTConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                       intermediate_size=64, image_size=28, patch_size=7, num_channels=1,
                       num_labels=10, attn_implementation="eager")
    model = ViTForImageClassification(config)
    model.save_pretrained(out, safe_serialization=True)
    pixels = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    dump_outputs(out, model, {"pixel_values": pixels}, ["pixel_values"])
    # Preprocessing: a 32 x 32 uint8 image resized to 28 x 28 and normalised by the processor.
    processor = ViTImageProcessor(do_resize=True, size={"height": 28, "width": 28},
                                  image_mean=[0.5], image_std=[0.25], resample=2)
    processor.save_pretrained(out)
    if not os.path.exists(os.path.join(out, "preprocessor_config.json")):
        with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
            json.dump(processor.to_dict(), f, indent=1, default=str)
    image = torch.randint(0, 256, (32, 32, 1), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(5))
    processed = processor(images=image.numpy(), return_tensors="pt", input_data_format="channels_last")
    save_expected(os.path.join(out, "preprocess.safetensors"),
                  {"image": image, "pixel_values": processed["pixel_values"]})


def deit(out):
    from transformers import DeiTConfig, DeiTForImageClassification
    torch.manual_seed(SEED)
    config = DeiTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, image_size=28, patch_size=7, num_channels=1,
                        num_labels=5, attn_implementation="eager")
    model = DeiTForImageClassification(config)
    model.save_pretrained(out, safe_serialization=True)
    pixels = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    dump_outputs(out, model, {"pixel_values": pixels}, ["pixel_values"])


def bert(out):
    from transformers import BertConfig, BertForSequenceClassification
    torch.manual_seed(SEED)
    config = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=40, type_vocab_size=2,
                        num_labels=3, attn_implementation="eager")
    model = BertForSequenceClassification(config)
    model.save_pretrained(out, safe_serialization=True)
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(5, 120, (3, 12), generator=g)
    mask = torch.ones(3, 12, dtype=torch.long)
    mask[1, 9:] = 0  # padded rows
    mask[2, 5:] = 0
    ids[mask == 0] = 0
    types = torch.zeros(3, 12, dtype=torch.long)
    types[:, 6:] = 1
    types[mask == 0] = 0
    dump_outputs(out, model, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
                 ["input_ids", "attention_mask", "token_type_ids"])


def gpt2(out):
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(SEED)
    config = GPT2Config(vocab_size=110, n_positions=40, n_embd=32, n_layer=3, n_head=4,
                        attn_implementation="eager")
    model = GPT2LMHeadModel(config)
    model.save_pretrained(out, safe_serialization=True)
    g = torch.Generator().manual_seed(4)
    ids = torch.randint(0, 110, (2, 10), generator=g)
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[1, 7:] = 0  # right padding
    dump_outputs(out, model, {"input_ids": ids, "attention_mask": mask},
                 ["input_ids", "attention_mask"])


def tokenizers_part(out):
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.implementations import BertWordPieceTokenizer
    from transformers import BertTokenizerFast, GPT2TokenizerFast
    wordpiece_dir = os.path.join(out, "wordpiece")
    bpe_dir = os.path.join(out, "bpe")
    os.makedirs(wordpiece_dir, exist_ok=True)
    os.makedirs(bpe_dir, exist_ok=True)

    wordpiece = BertWordPieceTokenizer(lowercase=True, strip_accents=None, clean_text=True,
                                       handle_chinese_chars=True)
    wordpiece.train_from_iterator(corpus(), vocab_size=300, min_frequency=1,
                                  special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    wordpiece.save_model(wordpiece_dir)

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus(), vocab_size=400, min_frequency=1,
                            special_tokens=["<|endoftext|>"])
    bpe.save_model(bpe_dir)

    # The reference ids: the trained `tokenizers` objects themselves (what transformers' fast
    # tokenizers wrap), WordPiece with [CLS] ... [SEP] as BERT adds them.
    cases = {"texts": TEXTS,
             "wordpiece": [wordpiece.encode(t).ids for t in TEXTS],
             "wordpiece_tokens": [wordpiece.encode(t).tokens for t in TEXTS],
             "bpe": [bpe.encode(t).ids for t in TEXTS],
             "bpe_tokens": [bpe.encode(t).tokens for t in TEXTS]}
    # Cross-check: transformers loading the saved files gives the same ids.
    for name, load in [("wordpiece", lambda: BertTokenizerFast.from_pretrained(wordpiece_dir)),
                       ("bpe", lambda: GPT2TokenizerFast.from_pretrained(bpe_dir))]:
        try:
            tokenizer = load()
            ids = [tokenizer(t)["input_ids"] for t in TEXTS]
            cases[name + "_transformers"] = ids
            cases[name + "_transformers_tokens"] = [tokenizer.convert_ids_to_tokens(i) for i in ids]
            print(f"  transformers {name}: vocab {len(tokenizer)}, same ids: {ids == cases[name]}")
        except Exception as error:  # reported, not fatal: the reference is the tokenizers package
            print(f"  transformers {name}: could not load ({error})")
    with open(os.path.join(out, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
    print(f"  {out}: {len(TEXTS)} texts, wordpiece vocab {wordpiece.get_vocab_size()}, "
          f"bpe vocab {bpe.get_vocab_size()}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "hf_fixtures"
    import tokenizers
    import transformers
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"tokenizers {tokenizers.__version__}")
    torch.set_default_dtype(torch.float32)
    failed = []
    for name, part in [("vit", vit), ("deit", deit), ("bert", bert), ("gpt2", gpt2),
                       ("tokenizers", tokenizers_part)]:
        path = os.path.join(out, name)
        os.makedirs(path, exist_ok=True)
        try:
            part(path)
        except Exception:  # one part's failure must not cost the others
            traceback.print_exc()
            failed.append(name)
    with open(os.path.join(out, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__,
                   "tokenizers": tokenizers.__version__}, f, indent=1)
    if failed:
        print("failed:", ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
