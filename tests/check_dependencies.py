#!/usr/bin/env python3
"""Checks that layerwise's folders depend on each other only as docs/ARCHITECTURE.md allows.

Scans every `#include "layerwise/<folder>/..."` (or <...>) line of include/layerwise/** and src/**
and prints `file:line: <from> -> <to> is not allowed` for each edge outside ALLOWED. A folder that
is not in ALLOWED is an error too, so that adding one is a decision. Exit status 0 when clean.

    tests/check_dependencies.py [ROOT]       check the tree at ROOT (default: this script's ../)
    tests/check_dependencies.py --self-test  check a tiny tree with one forbidden include: must fail
"""

import re
import sys
import tempfile
from pathlib import Path

# What each folder may include besides itself; the layers from the bottom up.
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "model": {"core"},
    "analysis": {"core"},  # functions of tensors only
    "inference": {"core", "data", "model", "analysis"},  # data: the inputs it reads in batches
    "train": {"core", "data", "model", "analysis", "inference", "distributed"},
    "exit": {"core", "model", "inference", "analysis"},
    "report": {"core", "analysis"},  # reads result files, never models
    "workflow": {"core", "data", "model", "analysis", "inference", "train", "exit", "report",
                 "distributed"},
    "distributed": {"core"},  # c10d groups, launcher, gradient all-reduce
}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]layerwise/([^/">]+)/')
SOURCE_SUFFIXES = {".h", ".hpp", ".cpp", ".cc", ".inl"}


def source_files(root):
    """(folder, path) of every source file under include/layerwise/<folder>/ and src/<folder>/."""
    for base in (root / "include" / "layerwise", root / "src"):
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and path.suffix in SOURCE_SUFFIXES:
                parts = path.relative_to(base).parts
                yield (parts[0] if len(parts) > 1 else None), path


def check(root):
    """Returns the offences under `root` as printable lines."""
    offences = []
    for folder, path in source_files(root):
        where = path.relative_to(root)
        if folder is None:
            offences.append(f"{where}:1: not in a folder (one of {', '.join(ALLOWED)})")
            continue
        if folder not in ALLOWED:
            offences.append(f"{where}:1: folder {folder} is not in the dependency table")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            match = INCLUDE.match(line)
            if not match:
                continue
            target = match.group(1)
            if target not in ALLOWED:
                offences.append(f"{where}:{number}: {folder} -> {target} is not allowed ({target} "
                                "is not in the dependency table)")
            elif target != folder and target not in ALLOWED[folder]:
                offences.append(f"{where}:{number}: {folder} -> {target} is not allowed")
    return offences


def self_test():
    """A clean tree passes; one forbidden include and one unknown folder are both reported."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "include/layerwise/core").mkdir(parents=True)
        (root / "src/analysis").mkdir(parents=True)
        (root / "include/layerwise/core/a.h").write_text("#pragma once\n")
        (root / "src/analysis/b.cpp").write_text('#include "layerwise/core/a.h"\n')
        if check(root):
            print("self-test: a clean tree was reported:", *check(root), sep="\n")
            return 1
        (root / "src/analysis/b.cpp").write_text('#include "layerwise/core/a.h"\n'
                                                 '#include <layerwise/model/vit.h>\n')
        (root / "src/gadgets").mkdir()
        (root / "src/gadgets/c.cpp").write_text("\n")
        expected = ["src/analysis/b.cpp:2: analysis -> model is not allowed",
                    "src/gadgets/c.cpp:1: folder gadgets is not in the dependency table"]
        found = check(root)
        if found != expected:
            print("self-test: expected", *expected, "but found", *found, sep="\n")
            return 1
    print("self-test passed: a forbidden edge and an unknown folder are reported")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = Path(argv[1]) if len(argv) == 2 else Path(__file__).resolve().parent.parent
    if not (root / "include" / "layerwise").is_dir():
        print(f"{root}: no include/layerwise folder here", file=sys.stderr)
        return 2
    offences = check(root)
    for line in offences:
        print(line)
    if offences:
        print(f"{len(offences)} include(s) break the layering of docs/ARCHITECTURE.md")
        return 1
    print("dependencies follow docs/ARCHITECTURE.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
