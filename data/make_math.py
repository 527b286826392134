"""Generate the shipped math problem sets; sympy computes every gold answer.

    python data/make_math.py            # writes data/math/{train,test}.jsonl

Five families (arithmetic, fractions, percentages, linear equations, counting), each at levels
1-5 of growing difficulty. The output is deterministic (seeded), so the files in the repository
can be regenerated and compared byte for byte.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import sympy as sp

Problem = tuple[str, sp.Expr]


def arithmetic(rng: random.Random, level: int) -> Problem:
    hi = [9, 20, 50, 99, 999][level - 1]
    a, b, c, d = (rng.randint(2, hi) for _ in range(4))
    if level == 1:
        return f"What is {a} + {b}?", sp.Integer(a + b)
    if level == 2:
        return f"What is {a} \\times {b}?", sp.Integer(a * b)
    if level == 3:
        return f"Compute {a} + {b} \\times {c}.", sp.Integer(a + b * c)
    if level == 4:
        return f"Compute ({a} - {b}) \\times {c} + {d}.", sp.Integer((a - b) * c + d)
    return f"Compute {a} \\times {b} - {c} \\times {d}.", sp.Integer(a * b - c * d)


def fractions(rng: random.Random, level: int) -> Problem:
    hi = [5, 8, 10, 12, 15][level - 1]
    a, c = rng.randint(1, hi), rng.randint(1, hi)
    b, d = rng.randint(2, hi), rng.randint(2, hi)
    x, y = sp.Rational(a, b), sp.Rational(c, d)
    if level <= 2:
        return f"What is $\\frac{{{a}}}{{{b}}} + \\frac{{{c}}}{{{d}}}$? Give the answer as a fraction in lowest terms.", x + y
    if level == 3:
        return f"What is $\\frac{{{a}}}{{{b}}} \\times \\frac{{{c}}}{{{d}}}$? Give the answer in lowest terms.", x * y
    if level == 4:
        return f"What is $\\frac{{{a}}}{{{b}}} - \\frac{{{c}}}{{{d}}}$? Give the answer in lowest terms.", x - y
    return f"What is $\\frac{{{a}}}{{{b}}} \\div \\frac{{{c}}}{{{d}}}$? Give the answer in lowest terms.", x / y


def percentages(rng: random.Random, level: int) -> Problem:
    if level == 1:
        p, n = rng.choice([10, 50, 25]), rng.randint(1, 20) * 4
        return f"What is {p}% of {n}?", sp.Rational(p * n, 100)
    if level == 2:
        p, n = rng.choice([5, 15, 20, 30, 75]), rng.randint(1, 30) * 20
        return f"What is {p}% of {n}?", sp.Rational(p * n, 100)
    if level == 3:
        price, p = rng.randint(2, 40) * 10, rng.choice([10, 20, 25, 40])
        return f"A shirt costs ${price}. It is on sale for {p}% off. What is the sale price in dollars?", sp.Rational(price * (100 - p), 100)
    if level == 4:
        a, p = rng.randint(2, 40) * 5, rng.choice([10, 20, 40, 60])
        return f"A number is increased by {p}% to give {a * (100 + p) // 100 if a * (100 + p) % 100 == 0 else a * (100 + p) / 100:g}. What was the original number?", sp.Integer(a)
    a, b = rng.randint(2, 50), rng.randint(51, 200)
    return f"What percent of {b} is {a}? Give the exact value.", sp.Rational(100 * a, b)


def linear(rng: random.Random, level: int) -> Problem:
    x = sp.Symbol("x")
    sol = sp.Integer(rng.randint(-9, 12)) if level <= 3 else sp.Rational(rng.randint(-20, 20), rng.randint(2, 5))
    a = rng.randint(2, 9)
    b = rng.randint(-20, 20)
    if level == 1:
        eq = sp.Eq(x + b, sol + b)
    elif level <= 3:
        eq = sp.Eq(a * x + b, a * sol + b)
    else:
        c = rng.randint(1, 9)
        while c == a:
            c = rng.randint(1, 9)
        d = (a - c) * sol + b
        eq = sp.Eq(a * x + b, c * x + d)
    (answer,) = sp.solve(eq, x)
    return f"Solve for $x$: ${sp.latex(eq.lhs)} = {sp.latex(eq.rhs)}$.", answer


OBJECTS = ["books", "flags", "cards", "chairs", "toys", "coins", "paintings", "pens"]
GROUPS = ["people", "students", "players", "friends", "teachers", "volunteers"]
WORDS = ["BANANA", "LETTER", "APPLE", "COMMITTEE", "BALLOON", "LEVEL", "ROTOR", "TOFFEE", "PEPPER",
         "COFFEE", "ALABAMA", "BOOKKEEPER", "STATISTICS", "SUCCESS", "PARALLEL", "GOOGLE", "TENNESSEE", "CANNON"]


def counting(rng: random.Random, level: int) -> Problem:
    if level == 1:
        n, what = rng.randint(3, 7), rng.choice(OBJECTS)
        return f"In how many ways can {n} different {what} be arranged in a row?", sp.factorial(n)
    if level == 2:
        n, who = rng.randint(4, 15), rng.choice(GROUPS)
        return f"How many ways are there to choose 2 {who} from a group of {n}?", sp.binomial(n, 2)
    if level == 3:
        n, k, who = rng.randint(5, 12), rng.randint(3, 4), rng.choice(GROUPS)
        return f"How many ways are there to choose a team of {k} from {n} {who}?", sp.binomial(n, k)
    if level == 4:
        n, k = rng.randint(5, 14), rng.randint(2, 3)
        roles = "a president and a vice-president" if k == 2 else "a president, a vice-president and a treasurer"
        return f"A club has {n} members. In how many ways can it choose {roles}, if no one holds two offices?", sp.ff(n, k)
    word = rng.choice(WORDS)
    counts = [word.count(c) for c in sorted(set(word))]
    value = sp.factorial(len(word))
    for c in counts:
        value /= sp.factorial(c)
    return f"How many distinct arrangements of the letters of the word {word} are there?", value


FAMILIES: dict[str, Callable[[random.Random, int], Problem]] = {
    "arithmetic": arithmetic,
    "fractions": fractions,
    "percentages": percentages,
    "linear": linear,
    "counting": counting,
}


def answer_text(value: sp.Expr) -> str:
    value = sp.nsimplify(value)
    if value.is_Integer:
        return str(int(value))
    if value.is_Rational:
        return f"{value.p}/{value.q}"
    raise ValueError(f"non-rational answer {value}")


def make(per_cell: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows, seen = [], set()
    for family, make_one in FAMILIES.items():
        for level in range(1, 6):
            made, tries = 0, 0
            while made < per_cell:
                tries += 1
                if tries > 1000:
                    raise RuntimeError(f"{family} level {level}: too few distinct problems")
                text, value = make_one(rng, level)
                if text in seen:
                    continue
                seen.add(text)
                made += 1
                rows.append({
                    "id": f"{family}-L{level}-{made:03d}",
                    "problem": text,
                    "answer": answer_text(value),
                    "family": family,
                    "level": level,
                })
    return rows


def splits() -> dict[str, list[dict]]:
    """The shipped ``train`` and ``test`` splits, exactly as written to ``data/math``."""
    rows = make(per_cell=12, seed=20261128)  # 5 families x 5 levels x 12 = 300 problems
    random.Random(7).shuffle(rows)
    held_out = [int(r["id"][-3:]) > 9 for r in rows]  # 3 per cell held out: 75 problems
    return {"train": [r for r, h in zip(rows, held_out, strict=True) if not h], "test": [r for r, h in zip(rows, held_out, strict=True) if h]}


def write_splits(out: Path, parts: dict[str, list[dict]]) -> None:
    """Write each split to ``out/<split>.jsonl``, one problem per line."""
    out.mkdir(exist_ok=True)
    for name, part in parts.items():
        with (out / f"{name}.jsonl").open("w") as f:
            for r in part:
                f.write(json.dumps(r) + "\n")
        print(f"{out / name}.jsonl: {len(part)} problems")


def main() -> None:
    write_splits(Path(__file__).parent / "math", splits())


if __name__ == "__main__":
    main()
