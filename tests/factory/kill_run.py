"""Run the pipeline on the fake backend; with "crash", die with os._exit mid-shard."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))

from fakes import recipe_for  # noqa: E402

import factory.run as factory_run  # noqa: E402
import factory.shards as shards  # noqa: E402

if __name__ == "__main__":
    tmp, mode = Path(sys.argv[1]), sys.argv[2]
    if mode == "crash":
        real = shards.pq.ParquetWriter.write_table
        written = {"n": 0}

        def write_then_die(self, table, *a, **kw):
            real(self, table, *a, **kw)
            written["n"] += 1
            if written["n"] == 6:  # problems (4 shards), then 2 trace shards: die while writing the next
                os._exit(17)

        shards.pq.ParquetWriter.write_table = write_then_die
    factory_run.run_recipe(recipe_for(tmp), progress=False)
