"""Generate the shipped transfer set: word problems of kinds ``data/arith`` never trains on.

    python data/make_words.py            # writes data/words/test.jsonl

``data/arith`` trains on bare sums and three one-sentence templates (has/gets, has/gives away,
boxes of things). A model that only learned those templates should not gain here; one that learned
to read a small word problem and do its arithmetic should. So every family below is a different
story (prices, ages, sharing, comparisons, units, two steps) over the same one- and two-step
arithmetic. It is a held-out set only: there is no train split. Every gold answer is computed here,
not by a model. The output is deterministic (seeded), so the file can be regenerated and compared
byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from random import Random

from make_arith import NAMES, THINGS, make_families  # data/ is the script's own folder
from make_math import write_splits

ITEMS = ["pen", "ball", "cup", "kite", "hat", "toy car", "notebook", "puzzle"]

Problem = tuple[str, int]


def price_total(rng: Random) -> Problem:
    item, price, count = rng.choice(ITEMS), rng.randint(2, 9), rng.randint(2, 6)
    return f"One {item} costs {price} dollars. How many dollars do {count} of them cost?", price * count


def change(rng: Random) -> Problem:
    name, item, price = rng.choice(NAMES), rng.choice(ITEMS), rng.randint(3, 17)
    return (
        f"{name} pays for a {item} that costs {price} dollars with a 20 dollar bill. How much change is left?",
        20 - price,
    )


def age_older(rng: Random) -> Problem:
    name, age, gap = rng.choice(NAMES), rng.randint(4, 15), rng.randint(2, 9)
    return f"{name} is {age} years old. {name}'s cousin is {gap} years older. How old is the cousin?", age + gap


def age_ago(rng: Random) -> Problem:
    name, age = rng.choice(NAMES), rng.randint(9, 30)
    ago = rng.randint(2, 8)
    return f"{name} is {age} years old now. How old was {name} {ago} years ago?", age - ago


def share(rng: Random) -> Problem:
    thing, friends, each = rng.choice(THINGS), rng.randint(2, 6), rng.randint(2, 8)
    return f"{friends} friends share {friends * each} {thing} equally. How many {thing} does each friend get?", each


def fewer(rng: Random) -> Problem:
    a, b = rng.sample(NAMES, 2)
    thing, count = rng.choice(THINGS), rng.randint(10, 25)
    less = rng.randint(2, 9)
    return (
        f"{a} has {count} {thing}. {b} has {less} fewer {thing} than {a}. How many {thing} does {b} have?",
        count - less,
    )


def twice(rng: Random) -> Problem:
    a, b = rng.sample(NAMES, 2)
    thing, count = rng.choice(THINGS), rng.randint(3, 25)
    return f"{a} has {count} {thing}. {b} has twice as many {thing} as {a}. How many {thing} does {b} have?", 2 * count


def weeks(rng: Random) -> Problem:
    count = rng.randint(2, 15)
    return f"A week has 7 days. How many days are there in {count} weeks?", 7 * count


def pages_left(rng: Random) -> Problem:
    name, pages = rng.choice(NAMES), rng.randint(20, 60)
    read = rng.randint(5, pages - 5)
    return f"A book has {pages} pages. {name} has read {read} pages. How many pages are left to read?", pages - read


def two_steps(rng: Random) -> Problem:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    had, bought = rng.randint(5, 15), rng.randint(2, 9)
    gave = rng.randint(1, had)
    text = f"{name} had {had} {thing}, bought {bought} more, then gave {gave} to a friend. How many {thing} are left?"
    return text, had + bought - gave


FAMILIES: dict[str, Callable[[Random], Problem]] = {
    "price_total": price_total,
    "change": change,
    "age_older": age_older,
    "age_ago": age_ago,
    "share": share,
    "fewer": fewer,
    "twice": twice,
    "weeks": weeks,
    "pages_left": pages_left,
    "two_steps": two_steps,
}


def splits() -> dict[str, list[dict]]:
    """The shipped ``test`` split (the only one), exactly as written to ``data/words``."""
    rows = make_families(FAMILIES, per_family=10, seed=20261206)  # 10 families x 10 = 100 problems
    Random(7).shuffle(rows)
    return {"test": rows}


def main() -> None:
    write_splits(Path(__file__).parent / "words", splits())


if __name__ == "__main__":
    main()
