"""Run the pipeline on the fake backend; with "crash", die with os._exit mid-shard.

``python kill_run.py TMP crash`` dies while writing the 6th Parquet batch; ``TMP finish`` runs to the
end. ``TMP kill AT N [RECIPE]`` dies (exit 17) at the N-th time the run reaches ``AT``: ``write`` (a batch
written into a shard's temporary file, before it is renamed: the middle of a write), ``shard`` (a
shard renamed into place, before its marker), or ``json`` (a marker, stats or recipe file written).
With a RECIPE file, that recipe runs instead of the fake-backend one.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))

from fakes import recipe_for  # noqa: E402

import factory.run as factory_run  # noqa: E402
import factory.shards as shards  # noqa: E402
from factory.recipe import load_recipe  # noqa: E402

PATCHED = {
    "write": (shards.pq.ParquetWriter, "write_table"),
    "shard": (shards, "write_shard"),
    "json": (shards, "write_json"),
}


def die_at(at: str, n: int) -> None:
    """Make the ``n``-th call of what ``at`` names exit the process at once, without cleanup."""
    owner, name = PATCHED[at]
    real, calls = getattr(owner, name), {"n": 0}

    def then_die(*args, **kwargs):
        result = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == n:
            os._exit(17)
        return result

    setattr(owner, name, then_die)


if __name__ == "__main__":
    tmp, mode = Path(sys.argv[1]), sys.argv[2]
    if mode == "crash":
        die_at("write", 6)  # problems (4 shards), then 2 trace shards: die while writing the next
    elif mode == "kill":
        die_at(sys.argv[3], int(sys.argv[4]))
    recipe = load_recipe(sys.argv[5]) if len(sys.argv) > 5 else recipe_for(tmp)
    factory_run.run_recipe(recipe, progress=False)
