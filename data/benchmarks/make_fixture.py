"""Generate the small benchmark fixture that decontamination tests and demos use.

    python data/benchmarks/make_fixture.py      # writes data/benchmarks/fixture.jsonl

Real benchmarks (AIME, MATH-500, GPQA, LiveCodeBench) are files a user points
``select.decontaminate.benchmarks`` at; none can be downloaded here, so the project ships this
stand-in in the same shape (``id``, ``problem``, ``answer``, ``benchmark``):

- ``math-test``: the 75 held-out problems of ``data/math/test.jsonl``, so a recipe can check that
  its training problems do not overlap the evaluation set;
- ``synthetic-competition``: 25 longer competition-style word problems (probability, geometry,
  number theory), seeded, so the file is byte-for-byte reproducible.
"""

from __future__ import annotations

import json
import random
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent


def competition(rng: random.Random, i: int) -> dict[str, str]:
    kind = i % 3
    if kind == 0:
        r, b = rng.randint(3, 9), rng.randint(3, 9)
        p = Fraction(r * (r - 1), (r + b) * (r + b - 1))
        text = (f"A bag contains {r} red marbles and {b} blue marbles. Two marbles are drawn at random without "
                f"replacement. What is the probability that both marbles are red? Express your answer as a common fraction.")
        return {"problem": text, "answer": f"{p.numerator}/{p.denominator}"}
    if kind == 1:
        a, b = rng.randint(3, 12), rng.randint(3, 12)
        text = (f"A right triangle has legs of length {a} and {b}. A square is drawn on its hypotenuse, outside the "
                f"triangle. What is the area of the square, in square units?")
        return {"problem": text, "answer": str(a * a + b * b)}
    m = rng.choice([7, 9, 11, 13])
    n = rng.randint(100, 999)
    text = (f"What is the remainder when the sum of the first {n} positive integers is divided by {m}? "
            f"Give your answer as an integer between 0 and {m - 1}.")
    return {"problem": text, "answer": str(n * (n + 1) // 2 % m)}


def main() -> None:
    rows = []
    with (ROOT / "math" / "test.jsonl").open() as f:
        for line in f:
            item = json.loads(line)
            rows.append({"id": f"math-test/{item['id']}", "problem": item["problem"], "answer": item["answer"],
                         "benchmark": "math-test"})
    rng = random.Random(2026)
    for i in range(25):
        rows.append({"id": f"synthetic-competition/{i:02d}", **competition(rng, i), "benchmark": "synthetic-competition"})
    out = HERE / "fixture.jsonl"
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{len(rows)} benchmark problems -> {out}")


if __name__ == "__main__":
    main()
