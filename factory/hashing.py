"""Text fingerprints for dedup and decontamination: token hashes, n-grams, MinHash and an LSH index.

The dedup stages (:mod:`factory.stages.dedup`) and the decontamination stage build on this.
Texts are compared as sets of token n-grams ("shingles"). Tokens are runs of letters/digits (any
non-ASCII byte counts as a letter) and, for dedup, each punctuation or math symbol on its own, so
``35 + 6`` and ``35 - 6`` differ. Two texts are:

- *exact* duplicates when their token sequences are equal (case and spacing ignored);
- *near* duplicates when the MinHash estimate of their shingle Jaccard similarity is at or above
  ``threshold``. Candidates come from LSH bands (``bands x rows`` chosen for the threshold the way
  datasketch does) and are confirmed on the full signature, so a band collision alone never
  drops a row.

Everything is vectorised with numpy over a batch of texts (tokenising is a byte class table,
token hashes a polynomial rolling hash), and every hash is a fixed function of the text: an
index rebuilt from disk in another process is identical to the one an uninterrupted run held.
That is what makes run-wide trace dedup resumable (see ``TraceDeduplicator``).

The index keeps one ``uint32`` signature per indexed text (``num_perm * 4`` bytes), one dict
entry per band and one exact key: about 1 KB per indexed trace at ``num_perm=64`` (measured: 0.49
GB peak RSS for a run-wide index of 0.41M traces), so a run-wide index of many millions of traces
needs ``scope: problem``, which holds only one problem's traces at a time. Run-wide dedup depends
on shard order: shards must be selected in order (the local pipeline does), not in parallel.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from factory.recipe import DedupConfig

_U64 = np.uint64
_P = _U64(0x100000001B3)  # byte multiplier of the rolling hash (FNV prime, odd: invertible mod 2^64)
_P_INV = _U64(pow(0x100000001B3, -1, 2**64))
_M = _U64(0x9E3779B97F4A7C15)  # token multiplier of the n-gram hash

# byte classes: 0 separator, 1 word byte, 2 a symbol that is a token of its own
_WORD = np.zeros(256, np.uint8)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _WORD[_c] = 1
_WORD[0x80:] = 1
DEDUP_CLASSES = _WORD.copy()
for _c in range(0x21, 0x7F):
    if not _WORD[_c]:
        DEDUP_CLASSES[_c] = 2
WORD_CLASSES = _WORD  # punctuation separates words and is dropped (decontamination's normalisation)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads the bits of each uint64 (wrapping arithmetic)."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


_POWERS: dict[int, np.ndarray] = {}


def _powers(base: np.uint64, n: int) -> np.ndarray:
    """``base ** arange(n)`` mod 2^64, from a cache grown by doubling (texts come in similar sizes)."""
    table = _POWERS.get(int(base))
    if table is None or len(table) < n:
        size = max(n, 2 * len(table) if table is not None else 1 << 16)
        table = np.full(size, base, dtype=np.uint64)
        table[0] = 1
        table = np.cumprod(table, dtype=np.uint64)
        _POWERS[int(base)] = table
    return table[:n]


def token_hashes(texts: Sequence[str], classes: np.ndarray = DEDUP_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """Hash every token of every text: ``(hashes, counts)``, ``counts[i]`` tokens belonging to text i.

    ASCII is lower-cased; ``classes`` says which bytes are word bytes, separators or one-byte tokens.
    """
    encoded = [t.encode("utf-8", "replace").lower() for t in texts]
    buf = np.frombuffer(b" " + b" ".join(encoded) + b" ", dtype=np.uint8)  # a separator around each text
    cls = classes[buf]
    word = cls == 1
    prev_word = np.concatenate(([False], word[:-1]))
    next_word = np.concatenate((word[1:], [False]))
    single = cls == 2
    starts = np.flatnonzero((word & ~prev_word) | single)
    ends = np.flatnonzero((word & ~next_word) | single) + 1  # exclusive
    # polynomial hash of buf[s:e]: (H[e] - H[s]) * P^-s, with H the prefix sums of b_i * P^i
    n = len(buf)
    pw = _powers(_P, n)
    prefix = np.concatenate(([_U64(0)], np.cumsum(buf.astype(np.uint64) * pw, dtype=np.uint64)))
    inv = _powers(_P_INV, n)
    hashes = _mix((prefix[ends] - prefix[starts]) * inv[starts] + (ends - starts).astype(np.uint64))
    # which text each token belongs to: text i spans buf[off[i] : off[i] + len_i]
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    offsets = np.cumsum(np.concatenate(([1], lengths[:-1] + 1)))
    doc = np.searchsorted(offsets, starts, side="right") - 1
    counts = np.bincount(doc, minlength=len(texts)) if len(texts) else np.zeros(0, np.int64)
    return hashes, counts


def ngram_hashes(hashes: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every run of ``n`` consecutive tokens within one text: ``(grams, text index)``,
    in text order then position order. A text shorter than ``n`` has none."""
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])) if len(counts) else np.zeros(0, np.int64)
    total = len(hashes)
    if total < n:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    m = total - n + 1
    acc = np.zeros(m, dtype=np.uint64)
    for j in range(n):
        acc = acc * _M + hashes[j : j + m]
    doc_of = np.repeat(np.arange(len(counts)), counts)[:m]
    valid = np.arange(m) + n <= (starts + counts)[doc_of]
    return _mix(acc[valid]), doc_of[valid]


def shingle_hashes(hashes: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the token n-grams of each text: ``(shingles, counts)``.

    A text shorter than ``n`` tokens is one shingle of all its tokens; an empty text is one fixed
    shingle (so two empty texts are duplicates of each other, and of nothing else).
    """
    grams, gram_doc = ngram_hashes(hashes, counts, n)
    short = np.flatnonzero(counts < n)
    if len(short):
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        extra = []
        for d in short:  # rare: whole-text shingles for short texts
            acc = int(counts[d]) + 0x51ED
            for h in hashes[starts[d] : starts[d] + counts[d]].tolist():
                acc = (acc * int(_M) + h) & 0xFFFFFFFFFFFFFFFF
            extra.append(acc)
        grams = np.concatenate((grams, _mix(np.array(extra, dtype=np.uint64))))
        gram_doc = np.concatenate((gram_doc, short))
        order = np.argsort(gram_doc, kind="stable")
        grams, gram_doc = grams[order], gram_doc[order]
    return grams, np.bincount(gram_doc, minlength=len(counts))


def text_keys(hashes: np.ndarray, counts: np.ndarray) -> list[int]:
    """One 64-bit key per text from its whole token sequence: equal keys are exact duplicates."""
    if not len(counts):
        return []
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.arange(len(hashes)) - np.repeat(starts, counts)
    weighted = hashes * _powers(_M, int(counts.max()) + 1)[position] if len(hashes) else hashes
    sums = np.zeros(len(counts), dtype=np.uint64)
    nonempty = counts > 0
    if len(hashes):
        sums[nonempty] = np.add.reduceat(weighted, starts[nonempty])
    return _mix(sums + counts.astype(np.uint64)).tolist()


@functools.lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising the false-positive plus false-negative area around ``threshold``
    (the rule datasketch's MinHashLSH uses, with equal weights)."""
    best, best_err = (1, num_perm), float("inf")
    s_lo, s_hi = np.linspace(0, threshold, 201), np.linspace(threshold, 1, 201)
    for b in range(1, num_perm + 1):
        r = num_perm // b
        fp = np.trapezoid(1 - (1 - s_lo**r) ** b, s_lo)
        fn = np.trapezoid((1 - s_hi**r) ** b, s_hi)
        if fp + fn < best_err:
            best, best_err = (b, r), fp + fn
    return best


class MinHasher:
    """MinHash signatures (``uint32 x num_perm``) of texts, a batch at a time.

    One-permutation hashing with rotation densification (Shrivastava & Li, 2014): each shingle
    hash falls into one of ``num_perm`` bins and a bin keeps its smallest value; an empty bin
    borrows the value of the next non-empty bin, shifted by the distance. The cost is one pass over
    the shingles instead of ``num_perm``, and two signatures agree in a bin with probability
    close to the texts' Jaccard similarity, which is all LSH and the confirmation step need.
    """

    def __init__(self, num_perm: int = 64, ngram: int = 5, classes: np.ndarray = DEDUP_CLASSES) -> None:
        self.num_perm, self.ngram, self.classes = num_perm, ngram, classes

    def signatures(self, texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """``(signatures, exact keys)`` of ``texts``: an ``(len(texts), num_perm)`` uint32 array."""
        hashes, counts = token_hashes(texts, self.classes)
        keys = text_keys(hashes, counts)
        grams, gram_counts = shingle_hashes(hashes, counts, self.ngram)
        return self._oph(grams, gram_counts), keys

    def _oph(self, grams: np.ndarray, gram_counts: np.ndarray) -> np.ndarray:
        n, p = len(gram_counts), self.num_perm
        doc = np.repeat(np.arange(n, dtype=np.int64), gram_counts)
        bins = ((grams >> _U64(32)) % _U64(p)).astype(np.int64)
        sig = np.full(n * p, _EMPTY, dtype=np.uint32)
        np.minimum.at(sig, doc * p + bins, (grams & _U64(0xFFFFFFFF)).astype(np.uint32))
        sig = sig.reshape(n, p)
        empty = sig == _EMPTY
        if empty.any():
            pos = np.arange(2 * p)
            cand = np.where(np.tile(~empty, 2), pos, 2 * p)
            nxt = np.minimum.accumulate(cand[:, ::-1], axis=1)[:, ::-1][:, :p]  # next non-empty bin, circular
            borrowed = np.take_along_axis(sig, nxt % p, axis=1)
            shift = ((nxt - pos[:p]).astype(np.uint64) * _U64(0x9E3779B1)).astype(np.uint32)
            sig = np.where(empty, borrowed + shift, sig)
        return sig


_EMPTY = np.uint32(0xFFFFFFFF)


class NearDupIndex:
    """LSH over MinHash signatures; ``find`` confirms a candidate on the whole signature."""

    def __init__(self, threshold: float, num_perm: int) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self.bands, self.rows = optimal_bands(threshold, num_perm)
        rng = np.random.default_rng(7)
        self._mult = rng.integers(0, 2**64, self.rows, dtype=np.uint64, endpoint=False) | _U64(1)
        self._salt = rng.integers(0, 2**64, self.bands, dtype=np.uint64, endpoint=False)
        self._table: dict[int, int] = {}  # band key -> index of the first signature stored under it
        self._sigs = np.empty((1024, num_perm), dtype=np.uint32)
        self._labels: list[Any] = []

    def __len__(self) -> int:
        return len(self._labels)

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """``(n, bands)`` uint64 keys; two signatures share a key only if they share a whole band."""
        n = len(sigs)
        s = sigs[:, : self.bands * self.rows].reshape(n, self.bands, self.rows).astype(np.uint64)
        return _mix((s * self._mult).sum(axis=2, dtype=np.uint64) ^ self._salt)

    def find(self, sig: np.ndarray, keys: Iterable[int]) -> tuple[Any, float] | None:
        """The label and estimated similarity of a stored near-duplicate of ``sig``, or None."""
        tried = set()
        for key in keys:
            j = self._table.get(key)
            if j is None or j in tried:
                continue
            tried.add(j)
            sim = float(np.count_nonzero(self._sigs[j] == sig)) / self.num_perm
            if sim >= self.threshold:
                return self._labels[j], sim
        return None

    def add(self, sig: np.ndarray, keys: Iterable[int], label: Any = None) -> None:
        j = len(self._labels)
        if j == len(self._sigs):
            self._sigs = np.concatenate((self._sigs, np.empty_like(self._sigs)))
        self._sigs[j] = sig
        self._labels.append(label)
        for key in keys:
            self._table.setdefault(key, j)

    def clear(self) -> None:
        self._table.clear()
        self._labels.clear()


class Deduplicator:
    """Exact and near-duplicate checks over a stream of texts (the state both stages share)."""

    def __init__(self, config: DedupConfig) -> None:
        self.config = config
        self.hasher = MinHasher(config.num_perm, config.ngram)
        self.index = NearDupIndex(config.threshold, config.num_perm)
        self.exact: dict[int, Any] = {}

    def prepare(self, texts: Sequence[str]) -> list[tuple[np.ndarray, list[int], int]]:
        """Per text: (signature, band keys, exact key); computed a batch at a time."""
        if not texts:
            return []
        sigs, exact = self.hasher.signatures(texts)
        bands = self.index.band_keys(sigs).tolist() if self.config.near else [[]] * len(texts)
        return list(zip(sigs, bands, exact, strict=True))

    def check(self, prepared: tuple[np.ndarray, list[int], int]) -> tuple[str, Any, float] | None:
        """``("exact" | "near", label of the earlier text, similarity)`` or None for a new text."""
        sig, bands, key = prepared
        if self.config.exact and key in self.exact:
            return "exact", self.exact[key], 1.0
        if self.config.near:
            hit = self.index.find(sig, bands)
            if hit is not None:
                return "near", hit[0], hit[1]
        return None

    def first_seen(self, prepared: tuple[np.ndarray, list[int], int], label: Any) -> tuple[str, Any, float] | None:
        """:meth:`check`, then :meth:`add` the text under ``label`` when it is new."""
        hit = self.check(prepared)
        if hit is None:
            self.add(prepared, label)
        return hit

    def add(self, prepared: tuple[np.ndarray, list[int], int], label: Any) -> None:
        sig, bands, key = prepared
        if self.config.exact:
            self.exact.setdefault(key, label)
        if self.config.near:
            self.index.add(sig, bands, label)

    def reset(self) -> None:
        self.exact.clear()
        self.index.clear()
