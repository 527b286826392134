"""The ``factory`` command.

factory run RECIPE [--set key.path=value ...]    run or resume a recipe (exit 3: finished with errors to retry)
factory prepare-model [NAME]                     convert the embedded default model once
factory score INPUT --verifier math --out OUT    score a file of responses
factory train RECIPE [--set ...]                 fine-tune the recipe's student on its SFT set
factory eval --model PATH --problems FILE        evaluate a model with the factory's verifiers
                 [--against EVAL_DIR]            ... and its paired change against another evaluation
factory grpo RECIPE [--set ...]                  GRPO of the recipe's student, rewarded by its verifiers
factory chain RECIPE [--set ...]                 the recipe's model phases in order, each evaluated
                                                 (alias: factory pipeline)
factory loop RECIPE [--set ...]                  the default chain: eval -> run -> train -> eval
factory check RUN_DIR                            check a run's finished shards (exit 1: damage)
factory report RUN_DIR                           write the run's dataset card (README.md + plots)
factory mix OUT --input PATH[=WEIGHT] ...        mix exported sets with weights
factory sandbox serve [--host H] [--port P]      serve this machine's sandbox to remote code verifiers
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import shlex
import sys
import traceback
from pathlib import Path

from factory.chain import REPORT, comparison_markdown, run_chain
from factory.errors import RecipeError
from factory.evaluate import eval_settings, evaluate, guess_fields
from factory.executors.base import check_run
from factory.failures import EXIT_ERRORS
from factory.grpo import grpo_paths, grpo_recipe
from factory.loop import eval_root, run_loop
from factory.mixture import mix, parse_input
from factory.models import prepare_embedded
from factory.recipe import SourceConfig, load_recipe
from factory.report import write_report
from factory.run import run_recipe
from factory.score import score_file
from factory.shards import RunDir
from factory.summary import RunSummary
from factory.train import train_paths, train_recipe


def _run(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, args.set)
    summary = run_recipe(recipe, progress=not args.quiet)
    print_summary(summary)
    if summary.errors:  # after the summary, last on screen: what failed, and how to retry it
        retry = " ".join(["factory run", shlex.quote(str(args.recipe)), *(f"--set {shlex.quote(s)}" for s in args.set)])
        print_errors(summary, retry)
        return EXIT_ERRORS
    return 0


def print_errors(s: RunSummary, retry: str) -> None:
    """The infrastructure failures the run could not resolve (factory.failures), and the command that retries them."""
    problems = sum(n for k, n in s.errors.items() if k.startswith("generate:"))
    traces = sum(s.errors.values()) - problems
    what = " and ".join(f"{n} {unit}" for n, unit in ((problems, "problems"), (traces, "traces")) if n)
    print(f"NOT FINISHED: {what} could not be made because the machinery failed (not data; nothing is marked done):")
    for cause, n in s.errors.items():
        print(f"  {cause:<48} {n}")
    print(f"fix the cause, then retry them (only the failed work is redone): {retry}")
    print(f"(exit status {EXIT_ERRORS}: finished with errors to retry; see docs/failures.md)")


def print_summary(s: RunSummary) -> None:
    print()
    print(f"recipe            {s.recipe}")
    if s.redone:
        print(f"resumed           recipe changed since the last run: redid {', '.join(s.redone)}; kept the rest")
    print(f"problems          {s.problems}" + (f"  ({s.bad_rows} bad rows skipped)" if s.bad_rows else ""))
    print(f"traces generated  {s.traces}  ({s.truncated} truncated)")
    if s.failed_problems:
        failed = ", ".join(f"{k} {v}" for k, v in s.failed_problems.items())
        print(f"refused problems  {failed}  (those problems are in {s.run_dir}/traces_failed/)")
    if s.tokens_per_second is not None:
        print(f"generation        {s.completion_tokens} tokens in {s.generate_seconds} s = {s.tokens_per_second} tok/s")
    c = s.cost
    cost = f"{c.tokens_per_kept_row} tokens per kept row" if c.tokens_per_kept_row is not None else "no kept row"
    if c.money is not None:
        cost += f"; money {c.money:.4f}, {c.money_per_kept_row} per kept row"
    if c.stopped:
        cost += f"; adaptive stops saved {c.samples_saved} samples, ~{c.tokens_saved_estimate} tokens"
    print(f"cost              {cost}")
    for name, rate in s.pass_rate.items():
        reasons = ", ".join(f"{k} {v}" for k, v in s.verdict_reasons[name].items())
        print(f"verifier {name:<9}pass rate {rate:.1%}   ({reasons})" if rate is not None else f"verifier {name}: -")
        by_domain = s.pass_rate_by_domain.get(name, {})
        skipped = s.not_applicable.get(name, 0)
        if len(by_domain) > 1 or skipped:
            domains = ", ".join(f"{d} {r:.1%}" for d, r in by_domain.items())
            print(f"{'':18}by domain: {domains}" + (f"; not applicable to {skipped} traces" if skipped else ""))
    if s.judge is not None:
        j = s.judge
        roles = ", ".join(f"{role} {r['judged']} ({r['correct']} correct)" for role, r in j.by_role.items()) or "none"
        print(f"judge             sent {j.sent}: {roles}")
        if j.compared:
            print(
                f"{'':18}agrees with the rules on {j.agree} of {j.compared}: "
                f"estimated error rate {j.estimated_error_rate:.1%}"
            )
    if s.rank is not None:
        print(f"rank              {s.rank.scored} traces scored ({s.rank.unscored} without a score)")
    if s.refine is not None:
        refused = ", ".join(f"{k} {v}" for k, v in s.refine.refused.items()) or "none"
        print(f"refine            {s.refine.refined} of {s.refine.sent} rewrites accepted; refused: {refused}")
    print(f"kept rows         {s.kept} from {s.problems_with_kept} problems; rejected {s.rejected}")
    print(f"SFT set           {s.sft_dir}/")
    print(f"rejects           {s.rejected_dir}/")
    if s.pairs:
        print(f"preference pairs  {s.pairs} in {s.run_dir}/export/pairs/  (prompt, chosen, rejected: TRL's DPOTrainer)")
    if s.card:
        print(f"dataset card      {s.card}  (and plots/)")
    print()
    print("Open it:")
    print("  import pandas as pd")
    print(f"  df = pd.read_parquet('{s.sft_dir}')            # messages, prompt, completion + provenance")
    print(f"  rej = pd.read_parquet('{s.rejected_dir}')   # every rejected trace, with reject_reason")


def _prepare_model(args: argparse.Namespace) -> int:
    print(prepare_embedded(args.name))
    return 0


def _score(args: argparse.Namespace) -> int:
    counts = score_file(
        args.input,
        args.out,
        verifier=args.verifier,
        response_field=args.response_field,
        gold_field=args.gold_field,
        workers=args.workers,
        timeout_s=args.timeout,
        extract=args.extract,
    )
    print(json.dumps(counts, indent=2))
    return 0


def _train(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, args.set)
    s = train_recipe(recipe)
    logged = " -> ".join(f"{x:.4f}" for x in s["losses"][:1] + s["losses"][1:][-1:])
    print(
        f"trained {s['settings']['student']} on {s['rows']} rows: {s['steps']} steps in {s['seconds']} s, "
        f"mean train loss {s['train_loss']:.4f}" + (f" (logged {logged})" if logged else "")
    )
    print(f"student           {train_paths(recipe)[3]}/")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import dataclasses

    recipe = load_recipe(args.recipe, args.set) if args.recipe else None
    problems = None
    if args.problems is not None:
        fields = dict(f.split("=", 1) for f in args.field) if args.field else guess_fields(args.problems)
        problems = SourceConfig(path=str(args.problems), fields=fields, limit=args.limit)
    generate, config, verify = eval_settings(recipe, problems)
    if args.limit is not None and config.problems is not None:  # the recipe's eval.problems too
        config = dataclasses.replace(config, problems=dataclasses.replace(config.problems, limit=args.limit))
    if args.n is not None:
        kept = [k for k in config.k if k <= args.n]
        config = dataclasses.replace(config, n=args.n, k=sorted({*kept, args.n}) if len(kept) < len(config.k) else kept)
    if args.k:
        config = dataclasses.replace(config, k=args.k)
    if args.max_tokens is not None:
        config = dataclasses.replace(config, sampling={**config.sampling, "max_tokens": args.max_tokens})
    out = args.out or (eval_root(recipe) if recipe else Path("runs") / "eval") / Path(
        args.model.rstrip("/")
    ).name.replace(":", "-")
    evaluate(args.model, generate=generate, config=config, verify=verify, output_dir=out, reuse=not args.no_reuse)
    print((Path(out) / "report.md").read_text())
    print(f"written to {out}/ (metrics.json, report.md, samples.parquet)")
    if args.against is not None:
        before, after = (json.loads((Path(d) / "metrics.json").read_text()) for d in (args.against, out))
        print("\n" + comparison_markdown(before, after, (str(args.against), str(out))))
    return 0


def _grpo(args: argparse.Namespace) -> int:
    logging.getLogger("factory.grpo").setLevel(logging.INFO)  # which generation it uses, and progress
    recipe = load_recipe(args.recipe, args.set)
    s = grpo_recipe(recipe)
    first, last = s["reward_first"], s["reward_last"]
    print(
        f"GRPO of {s['settings']['student']} on {s['prompts']} prompts: {s['steps']} steps in {s['seconds']} s "
        f"(generation: {s['generation']}); reward {first if first is None else round(first, 3)} -> "
        f"{last if last is None else round(last, 3)} (means of the first and last 10 steps)"
    )
    for name, m in s["reward_means"].items():
        print(
            f"  {name:<20} {m['first'] if m['first'] is None else round(m['first'], 3)} -> "
            f"{m['last'] if m['last'] is None else round(m['last'], 3)}"
        )
    chosen = s.get("prompt_selection")
    if chosen:
        print(
            f"prompts           {chosen['selected']} of {chosen['problems']} with pass rate in {chosen['pass_rate']} "
            f"({chosen['below']} below, {chosen['above']} above, {chosen['unscored']} unscored; {chosen['from']})"
        )
    if s.get("groups") is not None:
        print(f"zero-variance     {s['zero_variance_groups']} of {s['groups']} groups ({s['zero_variance']})")
    out = grpo_paths(recipe)[3]
    print(f"model             {out}/  (rewards.jsonl, rewards.png, factory_grpo.json)")
    return 0


def _chain(args: argparse.Namespace) -> int:
    run_chain(args.recipe, args.set, quiet=args.quiet, verbose=args.verbose)
    out = load_recipe(args.recipe, args.set).output_dir
    print((out / f"{REPORT}.md").read_text())
    print(f"written to {out}/{REPORT}.json, .md, .png")
    return 0


def _loop(args: argparse.Namespace) -> int:
    result = run_loop(args.recipe, args.set, quiet=args.quiet, verbose=args.verbose)

    print((load_recipe(args.recipe, args.set).output_dir / "loop.md").read_text())
    return 0 if result else 1


def _check(args: argparse.Namespace) -> int:
    damaged = check_run(RunDir(args.run_dir))
    for line in damaged:
        print(f"damaged: {line}")
    if damaged:
        print(f"{len(damaged)} damaged shard(s): `factory run RECIPE` redoes them and the steps after them")
        return 1
    print(f"{args.run_dir}: every finished shard matches its marker")
    return 0


def _report(args: argparse.Namespace) -> int:
    print(write_report(args.run_dir))
    return 0


def _mix(args: argparse.Namespace) -> int:
    summary = mix([parse_input(s) for s in args.input], args.out, total=args.total, seed=args.seed)
    for item in summary["inputs"]:
        print(f"{item['name']:<30} weight {item['weight']:<6g} {item['rows_in']:>9} rows -> {item['rows_out']:>9}")
    print(f"{summary['rows']} rows in {args.out}/")
    return 0


def _sandbox_serve(args: argparse.Namespace) -> int:
    from verifiers.sandbox_server import serve

    token = os.environ.get(args.token_env) or None
    return serve(args.host, args.port, token=token, workers=args.workers, queue=args.queue, python=args.python)


def _add_overrides(p: argparse.ArgumentParser, example: str = "") -> None:
    help_ = "override a recipe key" + (f", {example}" if example else "")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help_)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="factory", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run or resume a recipe")
    p.add_argument("recipe", type=Path)
    _add_overrides(p, "e.g. generate.n=8")
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
    p.add_argument(
        "--extract",
        choices=["boxed", "bare", "auto"],
        default="boxed",
        help="math: where the answer is (boxed: a \\boxed{} or Final Answer line; bare: the whole response; "
        "auto: either)",
    )
    p.set_defaults(func=_score)

    p = sub.add_parser("train", help="fine-tune the recipe's student on its exported SFT set (TRL SFTTrainer)")
    p.add_argument("recipe", type=Path)
    _add_overrides(p, "e.g. train.sft.num_train_epochs=2")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="evaluate a model on held-out problems with the factory's generator and verifiers")
    p.add_argument("--model", required=True, help="a model folder, hub name or embedded:smollm2")
    p.add_argument("--problems", type=Path, help="JSONL/Parquet problems (default: the recipe's eval.problems)")
    p.add_argument("--recipe", type=Path, help="take prompts, sampling, verifiers and eval settings from a recipe")
    _add_overrides(p)
    p.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="problem field mapping, e.g. prompt=problem",
    )
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N problems")
    p.add_argument("--n", type=int, default=None, help="samples per problem")
    p.add_argument("--k", type=int, action="append", default=[], help="pass@k / maj@k for this k (repeatable)")
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--out", type=Path, default=None, help="output folder (metrics.json, report.md, samples.parquet)")
    p.add_argument("--no-reuse", action="store_true", help="rerun even if the folder holds this evaluation")
    p.add_argument(
        "--against",
        type=Path,
        default=None,
        metavar="EVAL_DIR",
        help="another evaluation of the same problems: print the paired change, overall and per source",
    )
    p.set_defaults(func=_eval)

    p = sub.add_parser("grpo", help="GRPO of the recipe's student with its verifiers as rewards (TRL GRPOTrainer)")
    p.add_argument("recipe", type=Path)
    _add_overrides(p, "e.g. grpo.config.max_steps=10")
    p.set_defaults(func=_grpo)

    p = sub.add_parser(
        "chain",
        aliases=["pipeline"],
        help="the recipe's model phases (rejection_sample, sft, grpo) in order, each evaluated",
    )
    p.add_argument("recipe", type=Path)
    _add_overrides(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars in data runs")
    p.set_defaults(func=_chain)

    p = sub.add_parser("loop", help="eval base -> rejection-sample -> SFT -> eval student, with a before/after report")
    p.add_argument("recipe", type=Path)
    _add_overrides(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars in the data run")
    p.set_defaults(func=_loop)

    p = sub.add_parser("check", help="check a run folder's finished shards against their markers (redoes nothing)")
    p.add_argument("run_dir", help="the run folder: a path or an object-store URI")
    p.set_defaults(func=_check)

    p = sub.add_parser("report", help="write a run's dataset card: README.md with the HF header, and plots")
    p.add_argument("run_dir", help="the run folder: a path or an object-store URI (s3://bucket/runs/x)")
    p.set_defaults(func=_report)

    p = sub.add_parser("mix", help="mix exported Parquet sets with weights into one set")
    p.add_argument("out", type=Path, help="output folder (new)")
    p.add_argument(
        "--input",
        action="append",
        required=True,
        metavar="[NAME:]PATH[=WEIGHT]",
        help="a Parquet file or folder; weight 1 takes every row once, 0.5 half, 2 twice",
    )
    p.add_argument("--total", type=int, default=None, help="rescale the weights to give this many rows")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_mix)

    p = sub.add_parser("sandbox", help="the code sandbox as a service (see docs/remote-sandbox.md)")
    serve = p.add_subparsers(dest="action", required=True).add_parser(
        "serve", help="serve the sandbox behind the Piston API (POST /execute, GET /runtimes, GET /health)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=2000, help="0: any free port (printed)")
    serve.add_argument(
        "--token-env",
        default="FACTORY_SANDBOX_TOKEN",
        help="environment variable holding the bearer token clients must send (unset: no token)",
    )
    serve.add_argument("--workers", type=int, default=None, help="programs run at once (default: the cores)")
    serve.add_argument(
        "--queue",
        type=int,
        default=None,
        help="requests waiting beyond those (default 4 x workers); more are answered 429",
    )
    serve.add_argument("--python", default=None, help="the interpreter inside the sandbox")
    serve.set_defaults(func=_sandbox_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose:  # vLLM logs every engine detail at INFO; -v shows them
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (RecipeError, ValueError, FileNotFoundError) as e:
        print(f"factory: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the machine failed (permissions, a full disk, a file where a folder goes)
        if args.verbose:
            traceback.print_exc()
        more = "" if args.verbose else "; -v shows the traceback"
        print(f"factory: error: {machine_failure(e)}{more}", file=sys.stderr)
        return 2


# What to do about an OSError, by its errno; the path comes from the error itself.
OS_HINTS = {
    errno.ENOSPC: "the disk is full: free space (or set run_dir on another disk), then rerun to resume",
    errno.EDQUOT: "the disk quota is used up: free space, then rerun to resume",
    errno.EACCES: "permission denied: make it writable by this user, or set run_dir to another folder",
    errno.EPERM: "permission denied: make it writable by this user, or set run_dir to another folder",
    errno.EROFS: "the filesystem is read-only: set run_dir to a writable folder",
    errno.EEXIST: "a file is where a folder must be: move it, or set run_dir to another folder",
    errno.ENOTDIR: "a file is where a folder must be: move it, or set run_dir to another folder",
}


def machine_failure(e: OSError) -> str:
    """An OSError as one line: the path, what happened, what to do."""
    what = f"{e.filename}: {e.strerror}" if e.filename is not None and e.strerror else str(e)
    hint = OS_HINTS.get(e.errno) if e.errno is not None else None
    return what + (f" ({hint})" if hint else "")


if __name__ == "__main__":
    sys.exit(main())
