"""Near-duplicate detection: factory's vectorised MinHash + LSH vs datasketch, side by side.

    pip install datasketch  # the baseline only; factory does not depend on it
    python benchmarks/bench_minhash.py [--texts 2000] [--words 300]

Same texts, 5-word shingles, 64 permutations, threshold 0.8, each text checked against the index
and then added (what the dedup stages do). CPU seconds, so the figure holds on a loaded machine.
"""

from __future__ import annotations

import argparse
import random
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--words", type=int, default=300)
    args = parser.parse_args()
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        raise SystemExit("the baseline needs datasketch: pip install datasketch") from None
    from factory.hashing import Deduplicator
    from factory.recipe import DedupConfig

    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(2000)]
    texts = [" ".join(rng.choice(vocab) for _ in range(args.words)) for _ in range(args.texts)]
    texts += texts[: args.texts // 10]  # some exact repeats for both to find

    start = time.process_time()
    dedup = Deduplicator(DedupConfig(exact=False, near=True, threshold=0.8, ngram=5, num_perm=64))
    ours_hits = sum(dedup.first_seen(prep, i) is not None for i, prep in enumerate(dedup.prepare(texts)))
    ours = time.process_time() - start

    start = time.process_time()
    lsh, theirs_hits = MinHashLSH(threshold=0.8, num_perm=64), 0
    for i, text in enumerate(texts):
        w = text.split()
        m = MinHash(num_perm=64)
        m.update_batch([" ".join(w[j : j + 5]).encode() for j in range(len(w) - 4)])
        if lsh.query(m):
            theirs_hits += 1
        else:
            lsh.insert(str(i), m)
    theirs = time.process_time() - start
    print(
        f"{len(texts)} texts x {args.words} words: factory {ours:.2f} CPU s ({ours_hits} duplicates), "
        f"datasketch {theirs:.2f} CPU s ({theirs_hits} duplicates); datasketch/factory = {theirs / ours:.1f}x"
    )


if __name__ == "__main__":
    main()
