"""Mixing exported sets with weights."""

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory.cli import main
from factory.mixture import MixInput, mix, parse_input, plan


def make_set(folder, prefix: str, n: int, extra: bool = False):
    folder.mkdir(parents=True)
    msgs = [
        [{"role": "user", "content": f"{prefix} q{i}"}, {"role": "assistant", "content": f"{prefix} a{i}"}]
        for i in range(n)
    ]
    cols = {"messages": msgs, "row_id": [f"{prefix}{i}" for i in range(n)]}
    if extra:
        cols["pass_rate"] = [0.5] * n
    half = n // 2
    t = pa.table(cols)
    pq.write_table(t.slice(0, half), folder / "shard-00000.parquet")
    pq.write_table(t.slice(half), folder / "shard-00001.parquet")
    return folder


def test_weights_scale_each_set(tmp_path):
    a = make_set(tmp_path / "reasoning", "r", 40, extra=True)
    b = make_set(tmp_path / "chat", "c", 30)
    summary = mix([MixInput(str(a), 0.5), MixInput(str(b), 2.0)], tmp_path / "out", seed=1, shard_rows=25)
    df = pd.read_parquet(tmp_path / "out")
    assert summary["rows"] == len(df) == 20 + 60
    assert df.mix_source.value_counts().to_dict() == {"reasoning": 20, "chat": 60}
    assert set(df.columns) == {"messages", "row_id", "mix_source"}  # pass_rate is not shared: left out
    r = df[df.mix_source == "reasoning"].row_id
    assert r.is_unique and set(r) <= {f"r{i}" for i in range(40)}  # weight <= 1: a sample without repeats
    assert (df[df.mix_source == "chat"].row_id.value_counts() == 2).all()  # weight 2: every row twice
    assert len(list((tmp_path / "out").glob("shard-*.parquet"))) == 4
    assert json.loads((tmp_path / "out/_mix.json").read_text())["inputs"][1]["rows_out"] == 60
    # interleaved, not concatenated
    first_half = df.mix_source.iloc[:40]
    assert first_half.nunique() == 2


def test_same_seed_same_mixture_and_total(tmp_path):
    a = make_set(tmp_path / "a", "a", 50)
    b = make_set(tmp_path / "b", "b", 50)
    for name, seed in [("x", 3), ("y", 3), ("z", 4)]:
        mix([MixInput(str(a), 3.0), MixInput(str(b), 1.0)], tmp_path / name, total=40, seed=seed)
    x, y, z = (pd.read_parquet(tmp_path / n) for n in "xyz")
    pd.testing.assert_frame_equal(x, y)
    assert not x.row_id.equals(z.row_id)
    assert x.mix_source.value_counts().to_dict() == {"a": 30, "b": 10}  # 3:1 of equal sizes


def test_plan_and_parse():
    assert plan([100, 10], [1.0, 2.5]) == [100, 25]
    assert plan([100, 100], [3, 1], total=10) == [8, 2]
    assert sum(plan([7, 13], [1, 1], total=11)) == 11
    assert parse_input("runs/a/export/sft=0.5") == MixInput("runs/a/export/sft", 0.5)
    assert parse_input("math:runs/a/export/sft") == MixInput("runs/a/export/sft", 1.0, "math")
    assert MixInput("runs/demo/export/sft").label == "demo/sft"
    with pytest.raises(ValueError, match="not a number"):
        parse_input("x=abc")


def test_cli_mix_refuses_to_overwrite(tmp_path, capsys):
    a = make_set(tmp_path / "a", "a", 4)
    assert main(["mix", str(tmp_path / "out"), "--input", f"{a}=1"]) == 0
    assert "4 rows" in capsys.readouterr().out
    assert main(["mix", str(tmp_path / "out"), "--input", f"{a}=1"]) == 2
