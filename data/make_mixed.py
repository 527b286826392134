"""Generate the shipped mixed set: math and code problems in one file, as R1's reasoning data mixed them.

    python data/make_mixed.py            # writes data/mixed/{train,test}.jsonl

The rows of ``data/arith`` (math, a gold ``answer``) and ``data/code`` (programs, ``tests``)
interleaved, every row with the same columns (``answer`` is null for code, ``tests`` for math),
so one recipe reads them with one field mapping and the verify step routes each trace to the
verifier that can judge it (``recipes/demo/mixed.yaml``). Deterministic: regenerated files
compare byte for byte.
"""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path

import make_arith
import make_code
from make_math import write_splits  # data/ is the script's own folder

COLUMNS = ["id", "problem", "answer", "tests", "domain", "family", "level"]


def _row(problem: dict, domain: str) -> dict:
    return {c: problem.get(c) for c in COLUMNS} | {"domain": domain}


def splits() -> dict[str, list[dict]]:
    math, code = make_arith.splits(), make_code.splits()
    out = {}
    for split in ("train", "test"):
        pairs = zip_longest([_row(p, "math") for p in math[split]], [_row(p, "code") for p in code[split]])
        out[split] = [row for pair in pairs for row in pair if row is not None]
    return out


def main() -> None:
    write_splits(Path(__file__).parent / "mixed", splits())


if __name__ == "__main__":
    main()
