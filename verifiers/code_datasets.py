"""Adapters from the columns code datasets ship to a problem's ``tests`` value.

Each adapter takes one dataset row (a dict, as ``datasets`` or a JSONL line gives it) and returns
the problem as factory reads it: ``{"id", "problem", "tests", "domain": "code"}``, where ``tests``
is the object :func:`verifiers.code.parse_problem` takes (tests, and the row's checker and limits
where it has them). Convert a file once, then point a recipe's ``source.path`` at the result::

    python -m verifiers.code_datasets humaneval HumanEval.jsonl data/humaneval.jsonl

============== =========================================== ==========================================
dataset        columns read                                tests written
============== =========================================== ==========================================
``humaneval``  ``task_id``, ``prompt``, ``test``,          one script: ``test + "check(<entry_point>)"``
               ``entry_point``
``mbpp``       ``task_id``, ``text``/``prompt``,           one script per assert line, each after
               ``test_list``, ``test_setup_code``          ``test_setup_code`` (a graded score)
``kodcode``    ``question_id``, ``question``, ``test``     one script: the pytest file (``from
                                                           solution import ...``; its ``test_*``
                                                           functions run, see verifiers.script_tests)
``acecode``    ``id``, ``question``, ``test_cases``        one script per assert
``apps``       ``problem_id``, ``question``,               stdin/stdout or call-based (``fn_name``)
(``taco``)     ``input_output``, ``time_limit``,           tests; ``time_limit`` ("2 seconds") and
               ``memory_limit``                            ``memory_limit`` ("256 megabytes") become
                                                           ``time_limit_s`` / ``memory_mb``
``codeforces`` ``id``, ``description``/``problem``,        stdin/stdout tests, ``time_limit`` (s),
               ``official_tests``, ``time_limit``,         ``memory_limit`` (MB) and a Python
               ``memory_limit``, ``generated_checker``     ``generated_checker`` as the problem's
                                                           checker program
============== =========================================== ==========================================

A row without the columns its adapter needs is a ``ValueError`` naming the row and the column.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Row = Mapping[str, Any]


def _need(row: Row, *names: str) -> Any:
    """The first of ``names`` the row has (not None); ValueError naming them otherwise."""
    for name in names:
        if row.get(name) is not None:
            return row[name]
    raise ValueError(f"row {_row_id(row)!r} has no column {' or '.join(repr(n) for n in names)}")


def _row_id(row: Row) -> str:
    for name in ("task_id", "question_id", "problem_id", "id"):
        if row.get(name) is not None:
            return str(row[name])
    return "?"


def _lines(value: Any, row: Row, column: str) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"row {_row_id(row)!r}: column {column!r} must be a non-empty list of test lines")
    return value


def humaneval(row: Row) -> dict[str, Any]:
    test, entry = _need(row, "test"), _need(row, "entry_point")
    script = f"{test}\n\ncheck({entry})\n"
    return _problem(row, _need(row, "prompt"), {"tests": [{"script": script}]})


def mbpp(row: Row) -> dict[str, Any]:
    asserts = _lines(_need(row, "test_list"), row, "test_list")
    setup = row.get("test_setup_code") or ""
    tests = [{"script": f"{setup}\n{line}\n" if setup else f"{line}\n"} for line in asserts]
    return _problem(row, _need(row, "text", "prompt"), {"tests": tests})


def kodcode(row: Row) -> dict[str, Any]:
    return _problem(row, _need(row, "question"), {"tests": [{"script": _need(row, "test")}]})


def acecode(row: Row) -> dict[str, Any]:
    asserts = _lines(_need(row, "test_cases", "tests"), row, "test_cases")
    return _problem(row, _need(row, "question", "prompt"), {"tests": [{"script": f"{a}\n"} for a in asserts]})


def apps(row: Row) -> dict[str, Any]:
    io = _need(row, "input_output")
    if isinstance(io, str):
        try:
            io = json.loads(io)
        except ValueError:
            raise ValueError(f"row {_row_id(row)!r}: column 'input_output' is not valid JSON") from None
    spec: dict[str, Any] = {"tests": io}
    _limits(row, spec)
    return _problem(row, _need(row, "question", "problem"), spec)


def codeforces(row: Row) -> dict[str, Any]:
    tests = _need(row, "official_tests", "tests")
    if isinstance(tests, str):
        tests = json.loads(tests)
    spec: dict[str, Any] = {"tests": [{"input": t["input"], "output": t["output"]} for t in tests]}
    if row.get("generated_checker"):
        spec["checker_program"] = row["generated_checker"]
    _limits(row, spec)
    return _problem(row, _need(row, "description", "problem", "question"), spec)


_UNIT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")
_SECONDS = {
    "": 1.0,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "ms": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
}
_MEGABYTES = {
    "": 1.0,
    "mb": 1.0,
    "megabyte": 1.0,
    "megabytes": 1.0,
    "m": 1.0,
    "mib": 1.0,
    "kb": 1 / 1024,
    "kilobytes": 1 / 1024,
    "gb": 1024.0,
    "gigabyte": 1024.0,
    "gigabytes": 1024.0,
    "g": 1024.0,
}


def parse_quantity(value: Any, units: Mapping[str, float], what: str) -> float:
    """``2``, ``"2"``, ``"2 seconds"``, ``"256 megabytes"`` -> a number in the table's base unit."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _UNIT.match(str(value))
    if match is None or match.group(2).lower() not in units:
        raise ValueError(f"cannot read {what} {value!r}")
    return float(match.group(1)) * units[match.group(2).lower()]


def _limits(row: Row, spec: dict[str, Any]) -> None:
    if row.get("time_limit") not in (None, ""):
        spec["time_limit_s"] = parse_quantity(row["time_limit"], _SECONDS, "time_limit")
    if row.get("memory_limit") not in (None, ""):
        spec["memory_mb"] = max(1, round(parse_quantity(row["memory_limit"], _MEGABYTES, "memory_limit")))


def _problem(row: Row, statement: Any, spec: dict[str, Any]) -> dict[str, Any]:
    from verifiers.code import parse_problem

    try:
        parse_problem(spec)  # a row that cannot be verified fails here, naming itself
    except ValueError as exc:
        raise ValueError(f"row {_row_id(row)!r}: {exc}") from None
    return {"id": _row_id(row), "problem": str(statement), "tests": spec, "domain": "code"}


ADAPTERS: dict[str, Callable[[Row], dict[str, Any]]] = {
    "humaneval": humaneval,
    "mbpp": mbpp,
    "kodcode": kodcode,
    "acecode": acecode,
    "apps": apps,
    "taco": apps,
    "codeforces": codeforces,
}


def convert(rows: Iterable[Row], dataset: str) -> Iterator[dict[str, Any]]:
    """Every row through the dataset's adapter (:data:`ADAPTERS`)."""
    if dataset not in ADAPTERS:
        raise ValueError(f"unknown code dataset {dataset!r} (known: {', '.join(sorted(ADAPTERS))})")
    adapter = ADAPTERS[dataset]
    for row in rows:
        yield adapter(row)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Convert a code dataset's rows to factory problems (JSONL).")
    parser.add_argument("dataset", choices=sorted(ADAPTERS))
    parser.add_argument("input", help="a .jsonl or .jsonl.gz file of the dataset's rows")
    parser.add_argument("output", help="the .jsonl file to write")
    args = parser.parse_args(argv)
    import gzip

    opener = gzip.open if args.input.endswith(".gz") else open
    with opener(args.input, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for problem in convert(rows, args.dataset):
            fh.write(json.dumps(problem) + "\n")
    logging.basicConfig(level=logging.INFO)
    log.info("wrote %d %s problems to %s", len(rows), args.dataset, out)


if __name__ == "__main__":
    main()


__all__ = ["ADAPTERS", "acecode", "apps", "codeforces", "convert", "humaneval", "kodcode", "mbpp", "parse_quantity"]
