"""Throughput and peak memory of the format, readability and language verifiers.

Generates realistic R1-style traces (English math reasoning with LaTeX, some Chinese, some
French, code-problem traces with code blocks, and the usual failures: truncations, duplicated
think tags, a Chinese clause in English reasoning, repetition loops) and times each verifier on
one core. Goals from issue 5: >= 2,000 traces/s per core for format + readability together,
>= 500 traces/s per core for language.

    python benchmarks/bench_text_verifiers.py --n 100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import time
from collections import Counter

from verifiers.format import check_format
from verifiers.language import language_consistency
from verifiers.readability import check_readability

EN_SENTENCES = [
    "We need to find the value of {v} that satisfies the equation ${a}{v} + {b} = {c}$.",
    "Let me start by isolating the variable on one side.",
    "Subtracting {b} from both sides gives ${a}{v} = {d}$.",
    "Wait, let me double-check that subtraction before going on.",
    "Dividing by {a}, we get ${v} = \\frac{{{d}}}{{{a}}}$.",
    "Hmm, that fraction does not simplify nicely, so maybe I made an arithmetic slip.",
    "Let's verify by substituting back into the original equation.",
    "The left side becomes ${a} \\cdot \\frac{{{d}}}{{{a}}} + {b} = {c}$, which matches.",
    "Alternatively, we could think about this problem geometrically.",
    "The sum of the first $n$ terms of an arithmetic sequence is $\\frac{{n(a_1 + a_n)}}{{2}}$.",
    "So the number of ways is $\\binom{{{a}}}{{2}} = {e}$.",
    "Since {a} and {b} are coprime, their greatest common divisor is 1.",
    "By the Pythagorean theorem, the hypotenuse is $\\sqrt{{{a}^2 + {b}^2}}$.",
    "Now consider the case where $n$ is even.",
    "This means every term in the product is positive, so the product itself is positive.",
    "Therefore the answer should be {c}, but let me make sure I have not missed any case.",
    "Okay, so putting everything together, the final value is {c}.",
]
ZH_SENTENCES = [
    "我们需要求出满足方程 ${a}{v} + {b} = {c}$ 的 ${v}$ 的值。",
    "首先把常数项移到等式右边，得到 ${a}{v} = {d}$。",
    "两边同时除以 {a}，得到 ${v} = \\frac{{{d}}}{{{a}}}$。",
    "我们再把 ${v} = {c}$ 代回原方程验证一下，左边等于右边。",
    "注意到 {a} 和 {b} 互质，所以它们的最大公约数是 1。",
    "现在考虑 $n = {a}$ 的情况。",
    "根据勾股定理，斜边长为 $\\sqrt{{{a}^2 + {b}^2}}$。",
    "所以最终答案是 {c}。",
]
FR_SENTENCES = [
    "Nous devons trouver la valeur de ${v}$ qui vérifie l'équation ${a}{v} + {b} = {c}$.",
    "On soustrait {b} des deux côtés, ce qui donne ${a}{v} = {d}$.",
    "Vérifions encore une fois que ${a} \\cdot {d} + {b}$ donne bien {c}.",
    "Comme {a} et {b} sont premiers entre eux, leur plus grand diviseur commun vaut 1.",
    "Considérons maintenant le cas où $n = {a}$.",
    "Donc la réponse finale est {c}.",
]
CODE_BLOCK = (
    "```python\ndef solve(xs):\n    total = 0\n    for x in xs:\n        total += x * {a}\n    return total % {c}\n```"
)


def _fill(s: str, rng: random.Random) -> str:
    a, b = rng.randint(2, 30), rng.randint(1, 99)
    c = a * rng.randint(1, 20) + b
    return s.format(a=a, b=b, c=c, d=c - b, e=a * (a - 1) // 2, v=rng.choice("xyzn"))


OPENERS = ["", "", "", "So ", "Now, ", "Then ", "Hmm, ", "Okay, ", "Next, ", "Well, ", "But ", "And "]


def _sentence(pool: list[str], rng: random.Random, opener: bool) -> str:
    s = _fill(rng.choice(pool), rng)
    o = rng.choice(OPENERS) if opener else ""
    return o + s[0].lower() + s[1:] if o and not s.startswith("$") else s


def _paragraphs(pool: list[str], rng: random.Random, n_par: int, joiner: str = " ") -> str:
    # healthy reasoning: varied openers, and never the same sentence twice in a row
    out, prev = [], None
    for _ in range(n_par):
        sents = []
        for _ in range(rng.randint(2, 6)):
            s = prev
            while s == prev:
                s = _sentence(pool, rng, pool is EN_SENTENCES)
            sents.append(s)
            prev = s
        out.append(joiner.join(sents))
    return "\n\n".join(out)


def make_trace(rng: random.Random) -> tuple[str, str | None, str, str]:
    """(completion, finish_reason, language, domain) for one synthetic trace."""
    kind = rng.random()
    n_par = rng.randint(4, 30)
    lang, domain, finish = "en", "math", "stop"
    if kind < 0.10:
        lang, body = "zh", _paragraphs(ZH_SENTENCES, rng, n_par, "")
        answer = f"所以答案是 $\\boxed{{{rng.randint(1, 999)}}}$。"
    elif kind < 0.15:
        lang, body = "fr", _paragraphs(FR_SENTENCES, rng, n_par)
        answer = f"La réponse est $\\boxed{{{rng.randint(1, 999)}}}$."
    else:
        body = _paragraphs(EN_SENTENCES, rng, n_par)
        answer = f"The answer is $\\boxed{{{rng.randint(1, 999)}}}$."
        if kind < 0.25:
            domain = "code"
            body += "\n\n" + _fill(CODE_BLOCK, rng) + "\n\nThis loop handles every element once."
            answer = "Here is the solution:\n" + _fill(CODE_BLOCK, rng)
        elif kind < 0.30:
            body += "\n\n" + rng.choice(ZH_SENTENCES).format(a=2, b=3, c=5, d=2, e=1, v="x")
    text = f"<think>\n{body}\n</think>\n\n{answer}"
    failure = rng.random()
    if failure < 0.05:
        text, finish = text[: len(text) // 2], "length"  # truncated
    elif failure < 0.08:
        text = text.replace("</think>", "</think>\n<think>\nLet me reconsider.\n</think>", 1)
    elif failure < 0.11:
        loop = _fill(rng.choice(EN_SENTENCES), rng) + "\n"
        text = text.replace("</think>", loop * rng.randint(12, 60) + "</think>", 1)
    return text, finish, lang, domain


def _rss_mib() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _bench(name: str, fn, rows: list[tuple[str, str | None, str, str]]) -> dict:
    t0 = time.process_time()
    reasons = Counter(fn(r).reason for r in rows)
    cpu = time.process_time() - t0
    return {
        "verifier": name,
        "traces": len(rows),
        "cpu_s": round(cpu, 2),
        "traces_per_s_per_core": round(len(rows) / cpu),
        "reasons": dict(reasons.most_common()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    rng = random.Random(args.seed)
    rows = [make_trace(rng) for _ in range(args.n)]
    mean_chars = sum(len(r[0]) for r in rows) / len(rows)
    rss_traces = _rss_mib()  # the 100k traces themselves live in this process too
    language_consistency("warm up the detector: la réponse est correcte", "en")  # model load is not per trace
    rss_models = _rss_mib()
    results = [
        _bench("format", lambda r: check_format(r[0], finish_reason=r[1]), rows),
        _bench("readability", lambda r: check_readability(r[0], domain=r[3]), rows),
        _bench("language", lambda r: language_consistency(r[0], r[2]), rows),
    ]
    fr = 1 / (1 / results[0]["traces_per_s_per_core"] + 1 / results[1]["traces_per_s_per_core"])
    summary = {
        "traces": args.n,
        "mean_chars": round(mean_chars),
        "format_plus_readability_per_s_per_core": round(fr),
        "goal_format_plus_readability": 2000,
        "goal_language": 500,
        "peak_rss_mib": _rss_mib(),
        "rss_mib_after_making_traces": rss_traces,
        "rss_mib_after_loading_lingua": rss_models,
    }
    for r in results:
        print(json.dumps(r))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
