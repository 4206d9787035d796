"""The "skipgram" data generator: vocabulary order, row order, unigram^0.75 negatives
drawn with the scenario's seed, corpus files beside the scenario, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from tuinn.engine.network import NetworkProgram
from tuinn.errors import TuinnError
from tuinn.scenario.data import generator_names
from tuinn.scenario.data_text import skipgram, vocabulary
from tuinn.scenario.loader import load_text

CORPUS = "The quick brown fox jumps over the lazy dog"


def reference(text, window, negatives, seed):
    """The contract's rows, written out plainly."""
    words = text.lower().split()
    first = {}
    for i, w in enumerate(words):
        first.setdefault(w, i)
    vocab = sorted(first, key=lambda w: (-words.count(w), first[w]))
    counts = np.array([words.count(w) for w in vocab], dtype=float)
    pairs = []
    for t in range(len(words)):
        for c in range(t - window, t + window + 1):
            if c != t and 0 <= c < len(words):
                pairs.append((vocab.index(words[t]), vocab.index(words[c])))
    p = counts ** 0.75 / (counts ** 0.75).sum()
    neg = np.random.default_rng(seed).choice(len(vocab), size=(len(pairs), negatives), p=p)
    x, y = [], []
    for j, (center, context) in enumerate(pairs):
        x.append([center, context])
        y.append([1.0])
        for w in neg[j]:
            x.append([center, w])
            y.append([0.0])
    return vocab, np.array(x, dtype=float), np.array(y)


def test_registered():
    assert "skipgram" in generator_names()


def test_vocabulary_by_count_then_first_appearance():
    vocab, counts = vocabulary("b a c a b d b".split())
    assert vocab == ["b", "a", "c", "d"] and counts.tolist() == [3, 2, 1, 1]
    vocab, _ = vocabulary(CORPUS.lower().split())
    assert vocab[0] == "the" and vocab[1:4] == ["quick", "brown", "fox"]


@pytest.mark.parametrize("window,negatives,seed", [(2, 5, 0), (1, 0, 3), (3, 2, 11)])
def test_rows_match_the_contract(window, negatives, seed):
    x, y = skipgram({"corpus": CORPUS, "window": window, "negatives": negatives}, (2,),
                    np.random.default_rng(seed))
    _, want_x, want_y = reference(CORPUS, window, negatives, seed)
    assert x.shape == want_x.shape and y.shape == want_y.shape
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(y, want_y)


def test_first_rows_by_hand():
    x, y = skipgram({"corpus": "b a b c", "window": 1, "negatives": 0}, (2,),
                    np.random.default_rng(0))
    # vocab b=0, a=1, c=2; ids 0 1 0 2
    assert x.tolist() == [[0, 1], [1, 0], [1, 0], [0, 1], [0, 2], [2, 0]]
    assert y.ravel().tolist() == [1.0] * 6


def test_negatives_follow_the_unigram_power():
    text = " ".join(["a"] * 80 + ["b"] * 10 + ["c"] * 10)
    x, y = skipgram({"corpus": text, "window": 1, "negatives": 20}, (2,),
                    np.random.default_rng(1))
    neg = x[y[:, 0] == 0, 1]
    p = np.array([80, 10, 10]) ** 0.75
    p /= p.sum()
    share = np.bincount(neg.astype(int), minlength=3) / len(neg)
    np.testing.assert_allclose(share, p, atol=0.01)          # not the plain unigram 0.8


def scenario(data: str, extra: str = "") -> str:
    return f"""
[scenario]
name = "w2v"
kind = "network"
seed = 4
[data]
generator = "skipgram"
{data}
[model]
input = [2]
[[model.layers]]
type = "skipgram"
vocab = 8
dim = 2
{extra}
[loss]
type = "bce"
"""


def test_the_scenario_seed_drives_the_draw(tmp_path):
    prog = NetworkProgram(load_text(scenario(f'corpus = "{CORPUS}"'), str(tmp_path / "s.toml")))
    _, want_x, want_y = reference(CORPUS, 2, 5, 4)
    np.testing.assert_array_equal(prog.x, want_x)
    np.testing.assert_array_equal(prog.y, want_y)


def test_corpus_file_is_read_beside_the_scenario(tmp_path):
    (tmp_path / "text.txt").write_text(CORPUS + "\n", encoding="utf-8")
    prog = NetworkProgram(load_text(scenario('corpus_file = "text.txt"'),
                                    str(tmp_path / "s.toml")))
    _, want_x, _ = reference(CORPUS, 2, 5, 4)
    np.testing.assert_array_equal(prog.x, want_x)
    with pytest.raises(TuinnError) as err:
        load_text(scenario('corpus_file = "nope.txt"'), str(tmp_path / "s.toml"))
    assert err.value.key == "data.corpus_file" and err.value.line == 8   # its line
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00abc")
    with pytest.raises(TuinnError, match="UTF-8") as err:
        NetworkProgram(load_text(scenario('corpus_file = "bin.txt"'), str(tmp_path / "s.toml")))
    assert err.value.key == "data.corpus_file"


@pytest.mark.parametrize("data,match,key", [
    ('corpus = "one"', "at least two words", "data.corpus"),
    ("window = 2", "at least two words", "data.corpus"),
    ('corpus = "a b c"\nwindow = 0', "window must be an integer in 1..50", "data.window"),
    ('corpus = "a b c"\nnegatives = -1', "negatives must be", "data.negatives"),
    ('corpus = "a b"\ncorpus_file = "x.txt"', "not both", "data.corpus_file"),
])
def test_errors_name_the_key(tmp_path, data, match, key):
    (tmp_path / "x.txt").write_text("a b", encoding="utf-8")
    with pytest.raises(TuinnError, match=match) as err:
        NetworkProgram(load_text(scenario(data), str(tmp_path / "s.toml")))
    assert err.value.key == key


def test_input_must_be_pairs(tmp_path):
    text = scenario(f'corpus = "{CORPUS}"').replace("input = [2]", "input = [3]")
    with pytest.raises(TuinnError, match=r"input = \[2\]"):
        NetworkProgram(load_text(text, str(tmp_path / "s.toml")))


def test_unknown_option_is_refused_with_a_hint(tmp_path):
    with pytest.raises(TuinnError, match="window") as err:
        load_text(scenario('corpus = "a b"\nwindw = 2'), str(tmp_path / "s.toml"))
    assert err.value.key == "data.windw"
