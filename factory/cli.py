"""The ``factory`` command.

    factory run RECIPE [--set key.path=value ...]    run or resume a recipe
    factory prepare-model [NAME]                     convert the embedded default model once
    factory score INPUT --verifier math --out OUT    score a file of responses
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from factory.recipe import RecipeError


def _run(args: argparse.Namespace) -> int:
    from factory.pipeline import run_recipe
    from factory.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.set)
    summary = run_recipe(recipe, progress=not args.quiet)
    print_summary(summary)
    return 0


def print_summary(s: dict) -> None:
    print()
    print(f"recipe            {s['recipe']}")
    print(f"problems          {s['problems']}" + (f"  ({s['bad_rows']} bad rows skipped)" if s["bad_rows"] else ""))
    print(f"traces generated  {s['traces']}  ({s['truncated']} truncated)")
    if s["tokens_per_second"] is not None:
        print(f"generation        {s['completion_tokens']} tokens in {s['generate_seconds']} s = {s['tokens_per_second']} tok/s")
    for name, rate in s["pass_rate"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in s["verdict_reasons"][name].items())
        print(f"verifier {name:<9}pass rate {rate:.1%}   ({reasons})" if rate is not None else f"verifier {name}: -")
    print(f"kept rows         {s['kept']} from {s['problems_with_kept']} problems; rejected {s['rejected']}")
    print(f"SFT set           {s['sft_dir']}/")
    print(f"rejects           {s['rejected_dir']}/")
    print()
    print("Open it:")
    print("  import pandas as pd")
    print(f"  df = pd.read_parquet('{s['sft_dir']}')            # messages, prompt, completion + provenance")
    print(f"  rej = pd.read_parquet('{s['rejected_dir']}')   # every rejected trace, with reject_reason")


def _prepare_model(args: argparse.Namespace) -> int:
    from factory.models import prepare_embedded

    print(prepare_embedded(args.name))
    return 0


def _score(args: argparse.Namespace) -> int:
    from factory.score import score_file

    counts = score_file(
        args.input,
        args.out,
        verifier=args.verifier,
        response_field=args.response_field,
        gold_field=args.gold_field,
        workers=args.workers,
        timeout_s=args.timeout,
    )
    print(json.dumps(counts, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="factory", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run or resume a recipe")
    p.add_argument("recipe", type=Path)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key, e.g. generate.n=8")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_run)

    p = sub.add_parser("prepare-model", help="convert the embedded default model (cached)")
    p.add_argument("name", nargs="?", default="smollm2")
    p.set_defaults(func=_prepare_model)

    p = sub.add_parser("score", help="score a JSONL/Parquet file of responses with a verifier")
    p.add_argument("input", type=Path)
    p.add_argument("--verifier", default="math")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--response-field", default="response")
    p.add_argument("--gold-field", default="gold")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per item")
    p.set_defaults(func=_score)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (RecipeError, ValueError, FileNotFoundError) as e:
        print(f"factory: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
