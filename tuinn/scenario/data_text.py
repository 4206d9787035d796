"""Provides the "skipgram" data generator: word2vec's (center, word) pairs with negative sampling.

From a corpus (`corpus`, or a UTF-8 `corpus_file` beside the scenario): words split on
whitespace and lower-cased; the vocabulary ordered by count (descending), ties by
first appearance, so id 0 is the most frequent word. For every position t, and for
every context position c in t-window .. t+window (c != t, inside the corpus) in
increasing order: one row (center, context) with y = 1, then `negatives` rows
(center, w) with y = 0. The negatives of all pairs are drawn at once, before anything
else, as `rng.choice(V, size=(pairs, negatives), p=count**0.75 / sum(count**0.75))`
with the scenario's seeded generator; row p's negatives are row p of that draw.
x (N, 2) holds the ids as numbers, y (N, 1) the labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tuinn.errors import TuinnError
from tuinn.fmt import safe
from tuinn.scenario.data import register_generator

#: every option the generator reads, with its default ("" : not given)
DEFAULTS: dict[str, dict[str, Any]] = {
    "skipgram": {"corpus": "", "corpus_file": "", "window": 2, "negatives": 5},
}
MAX_CORPUS_BYTES = 1 << 20        # a corpus file is read up to 1 MiB
MAX_WINDOW = 50
MAX_NEGATIVES = 100
MAX_ROWS = 2_000_000              # rows the generator makes, at most
POWER = 0.75                      # the unigram distribution's power for negatives


def _int(opts: dict, key: str, lo: int, hi: int) -> int:
    v = opts[key]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise TuinnError(f"{key} must be an integer in {lo}..{hi}, got "
                         f"{safe(repr(v), limit=40)}", key=f"data.{key}")
    return int(v)


def read_corpus(options: dict) -> str:
    """The corpus text: `corpus`, or the contents of `corpus_file` (exactly one)."""
    text, path = options.get("corpus") or "", options.get("corpus_file") or ""
    if not isinstance(text, str) or not isinstance(path, str):
        raise TuinnError("corpus and corpus_file must be strings", key="data.corpus")
    if text and path:
        raise TuinnError("give corpus or corpus_file, not both", key="data.corpus_file")
    if not path:
        return text
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CORPUS_BYTES + 1)
    except OSError as exc:
        raise TuinnError(f"cannot read the corpus file: {exc.strerror}", file=path,
                         key="data.corpus_file") from None
    if len(data) > MAX_CORPUS_BYTES:
        raise TuinnError(f"the corpus file is larger than {MAX_CORPUS_BYTES >> 20} MiB",
                         file=path, key="data.corpus_file", hint="use a smaller text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TuinnError(f"the corpus file is not UTF-8 text (byte {exc.start})", file=path,
                         key="data.corpus_file", hint="save it as UTF-8") from None


def vocabulary(words: list[str]) -> tuple[list[str], np.ndarray]:
    """(the vocabulary, each word's count): by count descending, ties by first appearance."""
    counts: dict[str, int] = {}
    for w in words:                       # dicts keep first-appearance order
        counts[w] = counts.get(w, 0) + 1
    order = sorted(counts, key=lambda w: -counts[w])     # a stable sort keeps ties in order
    return order, np.array([counts[w] for w in order], dtype=np.int64)


def corpus_words(options: dict) -> list[str]:
    """The corpus's words, split on whitespace and lower-cased."""
    return read_corpus(options).lower().split()


def skipgram_rows(ids: np.ndarray, counts: np.ndarray, window: int, negatives: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x (N, 2) int64 (center, word), y (N,) 0/1, in the order the module describes."""
    L = len(ids)
    pairs = [(t, c) for t in range(L) for c in range(max(0, t - window),
                                                    min(L, t + window + 1)) if c != t]
    p = counts.astype(np.float64) ** POWER
    p /= p.sum()
    neg = (rng.choice(len(counts), size=(len(pairs), negatives), p=p) if negatives and pairs
           else np.zeros((len(pairs), negatives), dtype=np.int64))         # (pairs, k)
    per = 1 + negatives
    x = np.empty((len(pairs) * per, 2), dtype=np.int64)
    y = np.zeros(len(pairs) * per, dtype=np.int64)
    for j, (t, c) in enumerate(pairs):
        r = j * per
        x[r:r + per, 0] = ids[t]
        x[r, 1] = ids[c]
        y[r] = 1
        x[r + 1:r + per, 1] = neg[j]
    return x, y


@register_generator("skipgram")
def skipgram(options: dict, input_shape: tuple, rng: np.random.Generator):
    """word2vec's skip-gram pairs with negative sampling: x (N, 2) ids, y (N, 1) labels."""
    opts = {**DEFAULTS["skipgram"], **{k: v for k, v in options.items() if v is not None}}
    if tuple(int(d) for d in input_shape) != (2,):
        raise TuinnError(f"generator 'skipgram' makes (center, word) id pairs, but [model] "
                         f"input is {list(input_shape)}", key="model.input",
                         hint="use input = [2] and a first skipgram layer")
    window = _int(opts, "window", 1, MAX_WINDOW)
    negatives = _int(opts, "negatives", 0, MAX_NEGATIVES)
    words = corpus_words(opts)
    if len(words) < 2:
        raise TuinnError("generator 'skipgram' needs a corpus of at least two words",
                         key="data.corpus_file" if opts.get("corpus_file") else "data.corpus",
                         hint='corpus = "the quick brown fox ..." or corpus_file = "text.txt"')
    rows = sum(min(len(words), t + window + 1) - max(0, t - window) - 1
               for t in range(len(words))) * (1 + negatives)
    if rows > MAX_ROWS:
        raise TuinnError(f"generator 'skipgram' would make {rows:,} rows, at most "
                         f"{MAX_ROWS:,}", key="data.window",
                         hint="use a shorter corpus, a smaller window or fewer negatives")
    vocab, counts = vocabulary(words)
    index = {w: i for i, w in enumerate(vocab)}
    ids = np.array([index[w] for w in words], dtype=np.int64)
    x, y = skipgram_rows(ids, counts, window, negatives, rng)
    return x.astype(np.float64), y.astype(np.float64).reshape(-1, 1)
