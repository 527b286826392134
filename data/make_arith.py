"""Generate the shipped easy-arithmetic set: problems at the edge of SmolLM2-135M-Instruct's ability.

    python data/make_arith.py            # writes data/arith/{train,test}.jsonl

``data/math`` is too hard for a 135M model (it solves only level-1 sums there), so the R1-style
loop on the embedded default (``recipes/demo/loop.yaml``) learns from these: one- and two-step
arithmetic, bare and as one-sentence word problems, which the base model answers right some of
the time. Every gold answer is computed here, not by the model. The output is deterministic
(seeded), so the files can be regenerated and compared byte for byte.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from make_math import write_splits  # data/ is the script's own folder

NAMES = ["Sam", "Mia", "Leo", "Ana", "Tom", "Zoe", "Ben", "Ivy", "Max", "Eva"]
THINGS = ["apples", "pencils", "stickers", "marbles", "cookies", "books", "coins", "shells", "cards", "stamps"]

Problem = tuple[str, int]


def add_small(rng: random.Random) -> Problem:
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    return f"What is {a} + {b}?", a + b


def add_teen(rng: random.Random) -> Problem:
    a, b = rng.randint(10, 40), rng.randint(2, 9)
    return f"What is {a} + {b}?", a + b


def add_two_digit(rng: random.Random) -> Problem:
    a, b = rng.randint(10, 49), rng.randint(10, 49)
    return f"What is {a} + {b}?", a + b


def subtract(rng: random.Random) -> Problem:
    a, b = rng.randint(10, 30), rng.randint(2, 9)
    return f"What is {a} - {b}?", a - b


def multiply(rng: random.Random) -> Problem:
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    return f"What is {a} \\times {b}?", a * b


def times_ten(rng: random.Random) -> Problem:
    a = rng.randint(2, 40)
    return (f"What is {a} \\times 10?" if rng.random() < 0.5 else f"What is 10 \\times {a}?"), 10 * a


def half(rng: random.Random) -> Problem:
    a = rng.randint(2, 60)
    return f"What is half of {2 * a}?", a


def word_add(rng: random.Random) -> Problem:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    a, b = rng.randint(2, 15), rng.randint(2, 15)
    return f"{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?", a + b


def word_subtract(rng: random.Random) -> Problem:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    a = rng.randint(8, 20)
    b = rng.randint(2, a - 2)
    return f"{name} has {a} {thing} and gives away {b}. How many {thing} does {name} have left?", a - b


def word_multiply(rng: random.Random) -> Problem:
    thing = rng.choice(THINGS)
    a, b = rng.randint(2, 6), rng.randint(2, 9)
    return f"There are {a} boxes with {b} {thing} in each box. How many {thing} are there in total?", a * b


FAMILIES: dict[str, Callable[[random.Random], Problem]] = {
    "add_small": add_small,
    "add_teen": add_teen,
    "add_two_digit": add_two_digit,
    "subtract": subtract,
    "multiply": multiply,
    "times_ten": times_ten,
    "half": half,
    "word_add": word_add,
    "word_subtract": word_subtract,
    "word_multiply": word_multiply,
}


def make_families(families: dict[str, Callable[[random.Random], Problem]], per_family: int, seed: int) -> list[dict]:
    """``per_family`` distinct problems of each family, in order, ids ``<family>-NNN``."""
    rng = random.Random(seed)
    rows, seen = [], set()
    for family, make_one in families.items():
        made, tries = 0, 0
        while made < per_family:
            tries += 1
            if tries > 10_000:
                raise RuntimeError(f"{family}: too few distinct problems")
            text, value = make_one(rng)
            if text in seen:
                continue
            seen.add(text)
            made += 1
            rows.append({"id": f"{family}-{made:03d}", "problem": text, "answer": str(value), "family": family})
    return rows


def splits() -> dict[str, list[dict]]:
    """The shipped ``train`` and ``test`` splits, exactly as written to ``data/arith``."""
    rows = make_families(FAMILIES, per_family=40, seed=20261128)  # 10 families x 40 = 400 problems
    random.Random(7).shuffle(rows)
    held_out = [int(r["id"][-3:]) > 30 for r in rows]  # 10 per family held out: 100 problems
    return {"train": [r for r, h in zip(rows, held_out, strict=True) if not h], "test": [r for r, h in zip(rows, held_out, strict=True) if h]}


def main() -> None:
    write_splits(Path(__file__).parent / "arith", splits())


if __name__ == "__main__":
    main()
