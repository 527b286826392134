"""Generate the shipped judge demo set: problems the rules can decide, and problems they cannot.

    python data/make_judge.py            # writes data/judge/train.jsonl

Twelve arithmetic problems of ``data/arith`` (a gold ``answer``: the math verifier decides them,
and the judge audits a share of them to measure its agreement with the rules) interleaved with
twelve short free-form questions that have no gold answer (``domain: open``: no rule verifier can
decide them, so they go to the judge: ``recipes/demo/judge.yaml``). Deterministic: a regenerated
file compares byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import make_arith  # data/ is the script's own folder

OPEN = [
    "Is 91 a prime number? Say yes or no, and why.",
    "Name an even number between 11 and 15.",
    "Which is larger, 3/4 or 2/3? Explain briefly.",
    "Give a number that is divisible by both 4 and 6.",
    "Is the sum of two odd numbers odd or even? Explain.",
    "Name a shape with exactly three sides.",
    "If today is Monday, what day is it in three days?",
    "Give an example of a multiple of 7 that is greater than 20.",
    "Is 0.5 equal to one half? Explain.",
    "Name a number whose square is 49.",
    "How many minutes are there in two hours? Explain.",
    "Which is heavier, a kilogram of feathers or a kilogram of iron?",
]


def rows() -> list[dict]:
    math = make_arith.splits()["train"][:12]
    out = []
    for i, (m, question) in enumerate(zip(math, OPEN, strict=True)):
        out.append({"id": m["id"], "problem": m["problem"], "answer": m["answer"], "domain": "math"})
        out.append({"id": f"open-{i:03d}", "problem": question, "answer": None, "domain": "open"})
    return out


def main() -> None:
    folder = Path(__file__).parent / "judge"
    folder.mkdir(exist_ok=True)
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows()))


if __name__ == "__main__":
    main()
