"""Accuracy of the math verifier vs math-verify on the labelled table, per category.

    python benchmarks/bench_math_accuracy.py [--table traces|extract|notation] [--show-disagreements]
    python benchmarks/bench_math_accuracy.py --table mv-tests --mv-tests DIR [--show-disagreements]

``--table traces`` (default): tests/verifiers/math_cases.py, ours with ``extract="boxed"``;
math-verify runs with TRL's ``accuracy_reward`` settings (its recommended reward use: gold parsed
with the defaults, the response with ``LatexExtractionConfig(normalization_config=
NormalizationConfig(units=True), boxed_match_priority=0, try_extract_without_anchor=False)``,
``extraction_mode="first_match"``, then ``verify``). ``--table extract``: the bare/auto table
(tests/verifiers/math_extract_cases.py), ours with each case's ``extract`` mode; math-verify
with its default ``parse`` of the response (LaTeX and plain-expression extraction, which is how
it reads bare answers), the gold parsed as for the traces table. ``--table notation``: the
notation table of issue 28 (tests/verifiers/math_notation_cases.py: decimal commas, percent,
units, relations, matrices, brace decorations, huge powers), run as the extract table.
``--table mv-tests``: the (gold, pred, expected) rows of Math-Verify's own pytest tables, read from
a checkout's ``tests/`` folder (``--mv-tests``); the labels are the reference verifier's, ours runs
with ``extract="auto"`` as a new user would, and math-verify's verdict is its default ``parse``.
Each math-verify item runs in a forked child killed after 10 s, because its own SIGALRM timeout
cannot stop big-integer arithmetic.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import math
import multiprocessing as mp
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from verifiers import MathConfig, verify_math_batch  # noqa: E402


def load_cases(name: str, table: str) -> list:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "verifiers" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return getattr(mod, table)


class LabelledRow:
    """A row of Math-Verify's test tables, shaped like our cases."""

    def __init__(self, category: str, gold: str, response: str, expected: bool) -> None:
        self.category, self.gold, self.response, self.expected = category, gold, response, expected
        self.extract = "auto"


def load_mv_tests(folder: Path) -> list[LabelledRow]:
    """The ``pytest.mark.parametrize`` tables with ``gold`` and ``pred`` columns of every
    ``test_*.py`` in ``folder``, read from the source without importing it."""
    rows = []
    for path in sorted(folder.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                if not (isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize"):
                    continue
                names = ast.literal_eval(dec.args[0])
                names = [n.strip() for n in (names.split(",") if isinstance(names, str) else names)]
                if not {"gold", "pred"} <= set(names):
                    continue
                # the tables are literals, but for an f-string over math.sqrt: evaluate with math only
                values = eval(ast.unparse(dec.args[1]), {"__builtins__": {}, "math": math})
                for v in values:
                    row = dict(zip(names, v, strict=True))
                    label = row.get("expected", row.get("result"))
                    rows.append(LabelledRow(f"{path.stem}::{node.name}"[:40], row["gold"], row["pred"], bool(label)))
    return rows


def math_verify_default(response: str, gold: str) -> bool:
    from math_verify import parse, verify

    return bool(verify(parse(f"${gold}$") or parse(gold), parse(response)))


def math_verify_reward(response: str, gold: str) -> bool:
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse, verify

    gold_parsed = parse(f"${gold}$") or parse(gold)
    if not gold_parsed:
        return False
    answer = parse(
        response,
        extraction_config=[
            LatexExtractionConfig(
                normalization_config=NormalizationConfig(units=True),
                boxed_match_priority=0,
                try_extract_without_anchor=False,
            )
        ],
        extraction_mode="first_match",
    )
    return bool(verify(gold_parsed, answer))


def _child(conn, fn, response, gold):
    try:
        conn.send(fn(response, gold))
    except BaseException as e:  # noqa: BLE001
        conn.send(f"error: {type(e).__name__}")


def math_verify_bounded(fn, response: str, gold: str, timeout_s: float = 10.0) -> bool | str:
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(child, fn, response, gold))
    p.start()
    child.close()
    result: bool | str = "hang"
    if parent.poll(timeout_s):
        try:
            result = parent.recv()
        except EOFError:
            result = "crash"
    p.kill()
    p.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", choices=("traces", "extract", "notation", "mv-tests"), default="traces")
    ap.add_argument("--mv-tests", type=Path, help="Math-Verify's tests/ folder (for --table mv-tests)")
    ap.add_argument("--show-disagreements", action="store_true")
    args = ap.parse_args()
    import math_verify  # noqa: F401 - import once before forking

    if args.table == "traces":
        cases = load_cases("math_cases", "CASES")
        modes, mv_fn = ["boxed"] * len(cases), math_verify_reward
    elif args.table == "mv-tests":
        if args.mv_tests is None:
            ap.error("--table mv-tests needs --mv-tests DIR")
        cases = load_mv_tests(args.mv_tests)
        modes, mv_fn = [c.extract for c in cases], math_verify_default
    else:
        module, table = {"extract": ("math_extract_cases", "EXTRACT_CASES"),
                         "notation": ("math_notation_cases", "NOTATION_CASES")}[args.table]
        cases = load_cases(module, table)
        modes, mv_fn = [c.extract for c in cases], math_verify_default
    t0 = time.perf_counter()
    ours = [None] * len(cases)
    for mode in dict.fromkeys(modes):
        idx = [i for i, m in enumerate(modes) if m == mode]
        config = MathConfig(timeout_s=5.0, extract=mode)
        verdicts = verify_math_batch([(cases[i].response, cases[i].gold) for i in idx], config=config)
        for i, v in zip(idx, verdicts, strict=True):
            ours[i] = v
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = [math_verify_bounded(mv_fn, c.response, c.gold) for c in cases]
    t_theirs = time.perf_counter() - t0

    stats = defaultdict(lambda: defaultdict(int))
    rows = []
    for c, v, mv in zip(cases, ours, theirs, strict=True):
        want = c.expected is True
        mv_pass = mv is True
        s = stats[c.category]
        s["n"] += 1
        s["ours_right"] += v.passed == want
        s["ours_fp"] += v.passed and not want
        s["ours_fn"] += want and not v.passed
        s["mv_right"] += mv_pass == want
        s["mv_fp"] += mv_pass and not want
        s["mv_fn"] += want and not mv_pass
        s["mv_hang"] += mv in ("hang", "crash") or (isinstance(mv, str) and mv.startswith("error"))
        s["agree"] += v.passed == mv_pass
        if v.passed != want or mv_pass != want:
            rows.append((c, v, mv))

    hdr = (f"{'category':40} {'n':>4} | {'ours ok':>7} {'FP':>3} {'FN':>3} | "
           f"{'mv ok':>6} {'FP':>3} {'FN':>3} {'hang':>4} | {'agree':>5}")
    print(hdr)
    print("-" * len(hdr))
    tot = defaultdict(int)
    for cat, s in stats.items():
        for k, val in s.items():
            tot[k] += val
        print(
            f"{cat:40} {s['n']:4} | {s['ours_right']:7} {s['ours_fp']:3} {s['ours_fn']:3} | "
            f"{s['mv_right']:6} {s['mv_fp']:3} {s['mv_fn']:3} {s['mv_hang']:4} | {s['agree']:5}"
        )
    print("-" * len(hdr))
    print(
        f"{'TOTAL':40} {tot['n']:4} | {tot['ours_right']:7} {tot['ours_fp']:3} {tot['ours_fn']:3} | "
        f"{tot['mv_right']:6} {tot['mv_fp']:3} {tot['mv_fn']:3} {tot['mv_hang']:4} | {tot['agree']:5}"
    )
    print(
        f"\naccuracy: ours {tot['ours_right'] / tot['n']:.1%}  math-verify {tot['mv_right'] / tot['n']:.1%}  "
        f"agreement {tot['agree'] / tot['n']:.1%}"
    )
    print(f"time: ours {t_ours:.1f} s (batch)  math-verify {t_theirs:.1f} s (one forked child per item)")
    if args.show_disagreements:
        for c, v, mv in rows:
            print(f"[{c.category}] gold={c.gold!r} want={c.expected} ours={v.passed}/{v.reason} mv={mv} :: {c.why}")


if __name__ == "__main__":
    main()
