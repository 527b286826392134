"""Run a recipe's chain; die with os._exit right after the N-th job's done marker (between jobs)."""

import os
import sys

import factory.chain as chain

if __name__ == "__main__":
    recipe, after = sys.argv[1], int(sys.argv[2])
    real = chain.write_marker
    written = {"n": 0}

    def write_then_die(path, job):
        real(path, job)
        written["n"] += 1
        if written["n"] == after:
            os._exit(17)

    chain.write_marker = write_then_die
    chain.run_chain(recipe, quiet=True)
