"""The installed names: a clear error when another package answers to ``import verifiers``."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_foreign_verifiers_package_is_named_in_the_error(tmp_path):
    foreign = tmp_path / "site" / "verifiers"
    foreign.mkdir(parents=True)
    (foreign / "__init__.py").write_text("class Environment: ...\n")  # PrimeIntellect's package, in spirit
    env = {"PYTHONPATH": f"{foreign.parent}:{ROOT}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", "import factory"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert f"the package imported as 'verifiers' ({foreign / '__init__.py'}) is not factory's" in proc.stderr
    assert "PrimeIntellect" in proc.stderr


def test_factory_imports_beside_its_own_verifiers():
    proc = subprocess.run(
        [sys.executable, "-c", "import factory, verifiers; print(verifiers.FACTORY_VERIFIERS)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "True", proc.stderr
