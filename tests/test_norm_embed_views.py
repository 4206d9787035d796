"""Tests of the normalisation view (present_norm.py, widgets/norm_view.py) and the
embedding view (present_embed.py, widgets/embed_view.py, render/words.py) against NumPy:
statistics and histogram counts of the layer's real input, nearest words by cosine, the
PCA projection; and their renderables never wider than their slot."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SCENARIOS
from rich.cells import cell_len
from rich.console import Console

from tuinn.engine.build import open_session
from tuinn.tui.present_embed import cosine_nearest, embed_layer_of, embed_view, pca2, vocab_of
from tuinn.tui.present_norm import BINS, histogram, norm_layer_of, norm_view
from tuinn.tui.render.words import WordMap, place
from tuinn.tui.widgets.embed_view import render_embed
from tuinn.tui.widgets.norm_view import render_norm


def _session(name: str):
    return open_session(str(SCENARIOS / f"{name}.toml"))[1]


def _to(s, layer: str, phase: str = "forward"):
    while not (s.current is not None and s.current.layer == layer and s.current.phase == phase):
        s.step_over()
    return s


def _text(renderable, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


# ------------------------------------------------------------------ normalisation
@pytest.mark.parametrize("feature", [0, 7, 15])
def test_batchnorm_statistics_and_histograms_are_those_of_its_input(feature):
    s = _to(_session("batchnorm-deep-sigmoid"), "batchnorm1")
    assert norm_layer_of(s) == "batchnorm1"
    d = norm_view(s, "batchnorm1", feature)
    x = np.asarray(s.tape.values["dense1"], dtype=np.float64)[:, feature]    # its input
    assert d.mode == "train" and d.over == x.size
    assert d.mean == pytest.approx(x.mean(), rel=1e-10, abs=1e-14)
    assert d.var == pytest.approx(x.var(), rel=1e-10)                         # biased
    counts, _ = np.histogram(x, bins=BINS, range=(x.min(), x.max()))
    np.testing.assert_array_equal(d.before.counts, counts)
    assert d.before.lo == pytest.approx(x.min()) and d.before.hi == pytest.approx(x.max())
    y = np.asarray(s.tape.values["batchnorm1"], dtype=np.float64)[:, feature]
    np.testing.assert_array_equal(d.after.counts, histogram(y).counts)
    layer = s.program.layers[1]
    np.testing.assert_array_equal(d.running_mean, layer.running["running_mean"])
    # the running statistics after one training forward: 0.9·start + 0.1·batch
    assert d.running_mean[feature] == pytest.approx(0.1 * x.mean())
    assert d.running_var[feature] == pytest.approx(0.9 + 0.1 * x.var(ddof=1))


def test_batchnorm_says_which_mode_the_last_forward_used():
    s = _to(_session("batchnorm-deep-sigmoid"), "batchnorm1")
    assert "training: the batch's statistics" in _text(render_norm(norm_view(s, "batchnorm1"), 100), 100)
    layer = s.program.layers[1]                                     # a forward in evaluation
    layer.forward(np.asarray(s.tape.values["dense1"]), False, np.random.default_rng(0))
    d = norm_view(s, "batchnorm1")
    assert d.mode == "eval"
    assert "evaluation: the running statistics" in _text(render_norm(d, 100), 100)


def test_layernorm_statistics_are_per_position_over_its_features():
    s = _to(_session("layernorm-rnn"), "layernorm1")
    assert norm_layer_of(s) == "layernorm1"
    h = np.asarray(s.tape.values["rnn1"], dtype=np.float64)          # (N, T, H)
    T = h.shape[1]
    for row in (0, 5, T + 3):
        d = norm_view(s, "layernorm1", row)
        x = h[row // T, row % T]
        assert d.where == f"sample {row // T}, t {row % T}"
        assert d.mean == pytest.approx(x.mean(), rel=1e-9, abs=1e-14)
        assert d.var == pytest.approx(x.var(), rel=1e-6)
        np.testing.assert_array_equal(d.before.counts, histogram(x).counts)
        assert d.before.counts.sum() == x.size == d.over
        np.testing.assert_allclose(d.sample_means, h[row // T].mean(axis=1), atol=1e-12)
        np.testing.assert_allclose(d.sample_vars, h[row // T].var(axis=1), rtol=1e-6)


def test_histogram_counts_every_finite_value():
    h = histogram(np.array([0.0, 1.0, 1.0, np.nan, 2.0, np.inf]), bins=4)
    assert h.counts.tolist() == [1, 0, 2, 1] and (h.lo, h.hi) == (0.0, 2.0)
    assert histogram(np.full(3, 5.0)).counts.sum() == 3            # one value: one bin


@pytest.mark.parametrize("width", [40, 78, 118])
@pytest.mark.parametrize("name,layer", [("batchnorm-deep-sigmoid", "batchnorm1"),
                                        ("layernorm-rnn", "layernorm1")])
def test_the_norm_view_is_never_wider_than_its_slot(name, layer, width):
    s = _to(_session(name), layer)
    text = _text(render_norm(norm_view(s, layer), width), width)
    assert max(cell_len(line.rstrip()) for line in text.splitlines()) <= width
    assert "before:" in text and "after:" in text


# ------------------------------------------------------------------ embeddings
def test_nearest_words_are_by_cosine_similarity():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(9, 5))
    t[4] = 0.0
    got = cosine_nearest(t, 2, k=4)
    n = t / np.where(np.linalg.norm(t, axis=1, keepdims=True) > 0,
                     np.linalg.norm(t, axis=1, keepdims=True), 1)
    sim = n @ n[2]
    want = [j for j in np.argsort(-sim) if j != 2][:4]
    assert [j for j, _ in got] == want
    np.testing.assert_allclose([v for _, v in got], sim[want])


def test_the_projection_is_the_first_two_principal_components():
    rng = np.random.default_rng(2)
    t = rng.normal(size=(12, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1])
    proj, share = pca2(t)
    c = t - t.mean(axis=0)
    w, v = np.linalg.eigh(c.T @ c)                                   # NumPy reference
    top = v[:, ::-1][:, :2]
    ref = c @ top
    for r in range(2):                                               # up to each sign
        sign = np.sign(ref[:, r] @ proj[:, r])
        np.testing.assert_allclose(proj[:, r], sign * ref[:, r], atol=1e-9)
    np.testing.assert_allclose(share, w[::-1][:2] / w.sum())


def test_word2vec_vocabulary_nearest_words_and_projection():
    s = _session("word2vec")
    vocab = vocab_of(s.program)
    assert vocab[0] == "the" and "king" in vocab and len(vocab) == 42
    s.step_over()
    assert embed_layer_of(s) == "skipgram1"
    d = embed_view(s, "skipgram1", vocab.index("king"))
    W = np.asarray(s.program.layers[0].params["W_in"], dtype=np.float64)
    assert [j for j, _ in d.nearest] == [j for j, _ in cosine_nearest(W, vocab.index("king"))]
    assert d.proj.shape == (42, 2) and d.words[d.selected] == "king"


@pytest.mark.parametrize("width,height", [(40, 8), (78, 11), (118, 30)])
def test_the_embed_view_is_never_wider_than_its_slot(width, height):
    s = _session("word2vec")
    s.step_over()
    text = _text(render_embed(embed_view(s, "skipgram1", 3), width, height), width)
    assert max(cell_len(line.rstrip()) for line in text.splitlines()) <= width
    assert "nearest to" in text and "PCA" in text


def test_the_word_map_writes_words_at_their_points_and_keeps_the_selected_one():
    pts = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.01, 0.0]])
    assert place(pts, 10, 3) == [(2, 0), (0, 9), (0, 0), (2, 0)]
    grid = WordMap(pts, ["ab", "cd", "ef", "gh"], selected=3, width=10, height=3).grid(10)
    rows = ["".join(ch for ch, _ in row) for row in grid]
    assert rows[0] == "ef      cd" and rows[2].startswith("gh")   # the selected one wins
    assert len(rows) == 3 and all(len(r) == 10 for r in rows)


def test_words_from_a_users_corpus_reach_the_view_escaped(tmp_path):
    text = (SCENARIOS / "word2vec.toml").read_text()
    text = text.replace('corpus_file = "data/word2vec-corpus.txt"',
                        'corpus = "a \\u001b[31mred b a c a \\u0007bell c"').replace(
        "vocab = 42", "vocab = 5")
    path = tmp_path / "hostile.toml"
    path.write_text(text)
    s = open_session(str(path))[1]
    words = vocab_of(s.program)
    assert all("\x1b" not in w and "\x07" not in w for w in words)
    s.step_over()
    out = _text(render_embed(embed_view(s, "skipgram1", 1), 80, 12), 80)
    assert "\\x1b[31mred" in out and "\x1b" not in out
