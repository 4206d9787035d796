"""Provides embed_view: what the embedding view shows of an embedding or skipgram layer: its
table as a heatmap, the nearest words to a selected word by cosine similarity, and a 2-D
projection (PCA) of the vectors; and vocab_of, the words (or characters) behind the ids.

Computed on the engine thread from a copy of the layer's table (no UI imports).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from tuinn.engine.session import Session
from tuinn.fmt import safe

EMBED_TYPES = ("embedding", "skipgram")
NEAREST = 6                 # nearest words listed


def _printable(token: str) -> str:
    """A character id as a label: the space as ␣ (a blank label reads as nothing)."""
    return "␣" if token == " " else token


def vocab_of(prog) -> list[str] | None:
    """The token each id stands for, when the data says: the characters of the "chars"
    generator, the words of the "skipgram" corpus; None for anything else."""
    data = prog.spec.network.data
    try:
        if data.generator == "chars":
            from tuinn.scenario.data_seq import vocabulary
            return [_printable(ch) for ch in vocabulary()]
        if data.generator == "skipgram":
            opts = data.options
            return list(_corpus_vocab(opts.get("corpus") or "", opts.get("corpus_file") or ""))
    except Exception:           # the data was read once to load; a view never fails on it
        return None
    return None


@lru_cache(maxsize=8)
def _corpus_vocab(corpus: str, corpus_file: str) -> tuple[str, ...]:
    """The skipgram corpus's vocabulary, read once per corpus (the views redraw often)."""
    from tuinn.scenario.data_text import corpus_words, vocabulary
    words, _ = vocabulary(corpus_words({"corpus": corpus, "corpus_file": corpus_file}))
    return tuple(safe(w, 24) for w in words)                # words from the user's file


@dataclass
class EmbedData:
    layer: str
    kind: str                        # "embedding" | "skipgram"
    table_name: str                  # "W" or "W_in"
    words: list[str]                 # one label per row (ids as numbers when unknown)
    table: np.ndarray                # (V, D) copy
    selected: int                    # the selected word's id
    nearest: list[tuple[int, float]] = field(default_factory=list)   # (id, cosine), best first
    proj: np.ndarray | None = None   # (V, 2) PCA coordinates
    explained: tuple[float, float] = (0.0, 0.0)   # share of the variance of PC1, PC2
    iteration: int = 0


def embed_layer_of(session: Session) -> str | None:
    """The embedding or skipgram layer the cursor's step belongs to, if any."""
    step = session.current
    if step is None or not step.layer:
        return None
    for layer in session.program._all_layers():
        if layer.name == step.layer and layer.type in EMBED_TYPES:
            return layer.name
    return None


def cosine_nearest(table: np.ndarray, i: int, k: int = NEAREST) -> list[tuple[int, float]]:
    """The k rows most similar to row i by cosine similarity (i itself left out); a zero
    row has similarity 0 with everything."""
    t = np.asarray(table, dtype=np.float64)
    norms = np.linalg.norm(t, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    sim = (t @ t[i]) / (safe * safe[i])
    sim[norms == 0] = 0.0
    order = [int(j) for j in np.argsort(-sim, kind="stable") if j != i][:k]
    return [(j, float(sim[j])) for j in order]


def pca2(table: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """The rows projected on the first two principal components (V, 2), and each one's
    share of the total variance. Signs follow numpy's SVD, made definite: each
    component's largest loading is positive."""
    t = np.asarray(table, dtype=np.float64)
    c = t - t.mean(axis=0)
    if c.shape[1] < 2 or not np.isfinite(c).all():
        return np.zeros((t.shape[0], 2)), (0.0, 0.0)
    _, s, vt = np.linalg.svd(c, full_matrices=False)
    comps = vt[:2]
    for r in range(2):
        if comps[r][np.argmax(np.abs(comps[r]))] < 0:
            comps[r] = -comps[r]
    total = float((s ** 2).sum())
    share = tuple(float(v ** 2 / total) if total > 0 else 0.0 for v in s[:2])
    return c @ comps.T, (share[0], share[1] if len(share) > 1 else 0.0)


def embed_view(session: Session, layer_name: str, selected: int = 0) -> EmbedData | None:
    """The view of `layer_name` (its table as it is now, this iteration's parameters)."""
    layer = next((la for la in session.program._all_layers() if la.name == layer_name), None)
    if layer is None or layer.type not in EMBED_TYPES:
        return None
    key = "W" if layer.type == "embedding" else "W_in"
    table = np.array(layer.params[key], dtype=np.float64)           # (V, D) copy
    V = table.shape[0]
    words = vocab_of(session.program)
    if words is None or len(words) != V:
        words = [str(i) for i in range(V)]
    selected = min(max(0, int(selected)), V - 1)
    proj, explained = pca2(table)
    return EmbedData(layer_name, layer.type, key, words, table, selected,
                     cosine_nearest(table, selected), proj, explained,
                     session.program.iteration)
