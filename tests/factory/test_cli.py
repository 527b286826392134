import json

import pandas as pd

from factory.cli import main


def test_bad_recipe_key_is_a_clear_error_with_exit_code_2(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: t\nsource: {path: x.jsonl}\ngenerate: {temprature: 0.5}\n")
    assert main(["run", str(recipe)]) == 2
    assert "generate.temprature: unknown key" in capsys.readouterr().err
    recipe.write_text("name: t\nsource: {path: x.jsonl}\n")
    assert main(["run", str(recipe), "--set", "generate.n=oops"]) == 2
    assert "generate.n: expected int, got 'oops'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_score_command_writes_verdict_columns(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"response": "<think>x</think> \\boxed{\\frac{1}{2}}", "gold": "0.5"},
                {"response": "<think>x</think> \\boxed{3}", "gold": "2"},
            ]
        )
        + "\n"
    )
    out = tmp_path / "out.parquet"
    assert main(["score", str(src), "--verifier", "math", "--out", str(out)]) == 0
    df = pd.read_parquet(out)
    assert df.passed.tolist() == [True, False] and df.reason.tolist() == ["ok", "wrong_answer"]
    assert json.loads(capsys.readouterr().out)["passed"] == 1
