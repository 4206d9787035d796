"""kind = "knn": the numbers against a loop-by-loop reference (ties, both weightings, the
distance-0 rule, the class-tie rule), the stepping, the trace per the contract, the
headless commands and the loader's errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SCENARIOS
from tuinn.cli import app
from tuinn.engine import knn as K
from tuinn.engine.build import build_session, open_session
from tuinn.errors import TuinnError
from tuinn.scenario.loader import load_text


# ------------------------------------------------------------------ the reference
def ref_distance(a, b, metric):
    if metric == "l2":
        return math.sqrt(sum((u - v) ** 2 for u, v in zip(a, b)))
    if metric == "l1":
        return sum(abs(u - v) for u, v in zip(a, b))
    na, nb = math.sqrt(sum(u * u for u in a)), math.sqrt(sum(v * v for v in b))
    if na == 0 or nb == 0:
        return 1.0
    return 1.0 - max(-1.0, min(1.0, sum(u * v for u, v in zip(a, b)) / (na * nb)))


def ref_query(x, y, q, k, metric, weights):
    d = [ref_distance(row, q, metric) for row in x]
    order = sorted(range(len(x)), key=lambda i: (d[i], i))     # ties: lower index first
    nn = order[:k]
    votes = {}
    zero = [i for i in nn if d[i] == 0]
    for i in nn:
        if weights == "uniform":
            w = 1.0
        elif zero:
            w = 1.0 if d[i] == 0 else 0.0
        else:
            w = 1.0 / d[i]
        if w:
            votes[y[i]] = votes.get(y[i], 0.0) + w
    best = max(votes.values())
    tied = [c for c, w in votes.items() if w == best]
    pred = next(y[i] for i in nn if y[i] in tied)
    return nn, [d[i] for i in nn], votes, pred


def grid_data(rng, n=30, d=2, classes=3):
    """Points on a coarse integer grid, so that distance ties and repeats are common."""
    x = rng.integers(-3, 4, size=(n, d)).astype(float)
    y = rng.integers(0, classes, size=n)
    return x, y


@pytest.mark.parametrize("metric", K.METRICS)
@pytest.mark.parametrize("weights", K.WEIGHTS)
def test_numbers_match_the_reference(metric, weights):
    rng = np.random.default_rng(7)
    ties = zeros = 0
    for trial in range(40):
        x, y = grid_data(rng, d=int(rng.integers(1, 4)))
        q = (x[rng.integers(len(x))] if trial % 3 == 0
             else rng.integers(-3, 4, size=x.shape[1]).astype(float))
        k = int(rng.integers(1, 8))
        nn, dist, votes, pred = ref_query(x.tolist(), y.tolist(), q.tolist(), k, metric, weights)
        d = K.distances(x, q, metric)
        np.testing.assert_allclose(d[nn], dist, rtol=1e-12, atol=1e-15)
        _, got = K.nearest(d, k)
        assert got.tolist() == nn == K.k_nearest(d, k).tolist()
        v = K.vote(y[got], d[got], weights)
        assert set(v) == set(votes) and all(math.isclose(v[c], votes[c]) for c in votes)
        assert K.predict(v, y[got]) == pred == K.classify(x, y, q, k, metric, weights)
        ties += len(set(np.round(d, 12).tolist())) < len(d)
        zeros += bool((d[got] == 0).any())
    assert ties > 10 and zeros > 3          # the cases that matter did occur


@pytest.mark.parametrize("metric", K.METRICS)
@pytest.mark.parametrize("weights", K.WEIGHTS)
def test_the_decision_regions_classify_as_the_steps_do(metric, weights):
    """classify_many (the regions, vectorised) equals classify point by point, on grid
    data full of ties, repeats and points at distance 0."""
    rng = np.random.default_rng(11)
    for _ in range(5):
        x, y = grid_data(rng, n=40, d=2, classes=4)
        pts = rng.integers(-4, 5, size=(300, 2)).astype(float) / rng.choice([1, 2])
        for k in (1, 2, 4, 9):
            want = [K.classify(x, y, p, k, metric, weights) for p in pts]
            assert K.classify_many(x, y, pts, k, metric, weights).tolist() == want


def test_distance_zero_wins_outright():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.1, 0.0]])
    y = np.array([0, 1, 1, 1])
    d = K.distances(x, np.zeros(2), "l2")
    _, nn = K.nearest(d, 4)
    votes = K.vote(y[nn], d[nn], "distance")
    assert votes == {0: 1.0} and K.predict(votes, y[nn]) == 0
    assert K.predict(K.vote(y[nn], d[nn], "uniform"), y[nn]) == 1


def test_a_class_tie_goes_to_the_nearest_neighbours_class():
    x = np.array([[3.0], [1.0], [2.0], [4.0]])
    y = np.array([5, 2, 5, 2])
    d = K.distances(x, np.zeros(1), "l1")
    order, nn = K.nearest(d, 4)
    assert nn.tolist() == [1, 2, 0, 3]
    votes = K.vote(y[nn], d[nn], "uniform")
    assert votes == {2: 2.0, 5: 2.0} and K.predict(votes, y[nn]) == 2


def test_equal_distances_keep_the_lower_training_index_first():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    _, nn = K.nearest(K.distances(x, np.zeros(2), "l2"), 3)
    assert nn.tolist() == [0, 1, 2]


# ------------------------------------------------------------------ scenarios
BASE = """
[scenario]
name = "t"
kind = "knn"
seed = 3
[data]
{data}
[knn]
{knn}
"""


def spec_of(data: str, knn: str = "k = 3"):
    return load_text(BASE.format(data=data, knn=knn), "t.toml")


def test_the_session_steps_each_query_and_back():
    spec = spec_of("generator = \"blobs\"\nsamples = 40\nclasses = 3\nvalidation = 0.25")
    s = build_session(spec)
    prog = s.program
    assert len(prog.queries) == 10 and len(prog.x) == 30
    assert [st.phase for st in s.steps[:5]] == list(K.STAGES)
    s.step(3)
    q = prog.queries[0]
    assert q.neighbors is not None and q.votes is None
    s.step(2)
    nn, dist, votes, pred = ref_query(prog.x.tolist(), prog.y.tolist(), q.at.tolist(), 3, "l2",
                                      "uniform")
    assert q.neighbors.tolist() == nn and q.prediction == pred
    s.back(4)
    assert q.neighbors is None and q.distances is not None
    prog.set_k(1)
    s.goto(0); s.goto(5)
    assert len(q.neighbors) == 1
    prog.set_metric("l1")
    prog.move_query(0, [5.0, 5.0])
    s.goto(0); s.goto(5)
    assert q.label is None and q.distances[0] == pytest.approx(np.abs(prog.x[0] - 5).sum())


def test_validation_queries_and_accuracy():
    spec = spec_of("generator = \"blobs\"\nsamples = 60\nclasses = 2\nnoise = 0.3\n"
                   "validation = 0.2", "k = 5")
    s = build_session(spec)
    s.run_to_end()
    prog = s.program
    want = np.mean([q.prediction == q.label for q in prog.queries])
    assert prog.accuracy() == pytest.approx(want) and len(prog.queries) == 12


def trace(path) -> list[dict]:
    r = CliRunner().invoke(app, ["trace", str(path), "--json"])
    assert r.exit_code == 0, r.output
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_trace_json_follows_the_contract(tmp_path):
    p = tmp_path / "k.toml"
    p.write_text(BASE.format(
        data='x = [[0, 0], [1, 0], [0, 1], [2, 2], [3, 3]]\ny = [0, 0, 1, 1, 1]',
        knn='k = 2\nweights = "distance"\nqueries = [[0, 0], [0.5, 0.5]]'))
    ev = trace(p)
    assert [e["event"] for e in ev] == ["query", "query"]      # no labels: no accuracy
    assert ev[0] == {"event": "query", "index": 0, "query": [0.0, 0.0], "neighbors": [0, 1],
                     "distances": [0.0, 1.0], "votes": {"0": 1.0}, "prediction": 0}
    r = math.sqrt(0.5)
    assert ev[1]["neighbors"] == [0, 1] and ev[1]["distances"] == pytest.approx([r, r])
    assert ev[1]["votes"] == {"0": pytest.approx(2 / r)} and ev[1]["prediction"] == 0


def test_trace_json_ends_with_the_accuracy(tmp_path):
    ev = trace(SCENARIOS / "knn-blobs.toml")
    assert ev[-1]["event"] == "knn" and 0 <= ev[-1]["accuracy"] <= 1
    queries = [e for e in ev if e["event"] == "query"]
    assert [e["index"] for e in queries] == list(range(len(queries)))
    assert all(len(e["neighbors"]) == len(e["distances"]) for e in queries)


def test_check_and_train_summarise():
    r = CliRunner().invoke(app, ["check", str(SCENARIOS / "knn-blobs.toml")])
    assert r.exit_code == 0
    for word in ("training points", "classes", "metric", "queries", "k "):
        assert word in r.stdout
    r = CliRunner().invoke(app, ["train", str(SCENARIOS / "knn-blobs.toml")])
    assert r.exit_code == 0 and "no parameters to train" in r.stdout and "accuracy" in r.stdout


@pytest.mark.parametrize("data,knn,key,words", [
    ('generator = "blobs"', "k = 3", "knn", "no queries"),
    ('generator = "blobs"\nvalidation = 0.5', 'metric = "cosin"', "knn.metric", "cosine"),
    ('generator = "blobs"\nvalidation = 0.5', 'weights = "inverse"', "knn.weights", "uniform"),
    ('x = [[0, 0], [1, 1]]\ny = [0, 1]', "k = 3\nqueries = [[0, 0]]", "knn.k", "only 2"),
    ('x = [[0, 0], [1, 1]]\ny = [0, 1]', "k = 1\nqueries = [[0, 0, 0]]", "knn.queries",
     "3 numbers"),
    ('x = [[0, 0], [1, 1]]\ny = [0.5, 1]', "k = 1\nqueries = [[0, 0]]", "data.y", "integer"),
    ('generator = "blobs"\nvalidation = 0.5', "k = 0", "knn.k", "> 0"),
    ('x = [[0, 0], [1, 1]]\ny = [0, 1]', "k = 1\nfeatures = 3\nqueries = [[0, 0]]",
     "knn.features", "generated"),
    ('generator = "blobs"\nsamples = 200000\nvalidation = 0.001', "k = 3", "data.samples",
     "at most 100,000"),
    ('generator = "blobs"\nsamples = 90000\nvalidation = 0.5', "k = 3", "data.validation",
     "at most 2,000 queries"),
])
def test_bad_knn_scenarios_name_the_key(data, knn, key, words):
    with pytest.raises(TuinnError) as exc:
        spec_of(data, knn)
    assert exc.value.key == key and exc.value.line and words in str(exc.value)


@pytest.mark.parametrize("y", ["[0, -1]", "[0, 1000]", "[0, 123456789012]"])
def test_class_labels_out_of_range_are_refused(y):
    spec = spec_of(f"x = [[0, 0], [1, 1]]\ny = {y}", "k = 1\nqueries = [[0, 0]]")
    with pytest.raises(TuinnError, match="class labels must be in") as exc:
        build_session(spec)
    assert exc.value.key == "data.y" and exc.value.line == 8


def test_knn_tables_are_only_for_their_kind():
    text = BASE.format(data='generator = "blobs"\nvalidation = 0.5', knn="k = 3")
    with pytest.raises(TuinnError, match=r"\[knn\] is only for kind = 'knn'"):
        load_text(text.replace('kind = "knn"', 'kind = "network"'), "t.toml")
    with pytest.raises(TuinnError, match="breakpoints are for graphs and networks"):
        build_session(load_text(text + '[debug]\nbreakpoints = ["nan"]\n', "t.toml"))


def accuracies(name: str, **change) -> float:
    _, s = open_session(str(SCENARIOS / f"{name}.toml"))
    prog = s.program
    prog.set_k(change.get("k", prog.k))
    prog.set_metric(change.get("metric", prog.metric))
    s.run_to_end()
    return prog.accuracy()


def test_knn_blobs_description_table_is_true():
    """The k comparison in knn-blobs' description is what the program computes."""
    text = (SCENARIOS / "knn-blobs.toml").read_text()
    ks = [line for line in text.splitlines() if line.strip().startswith("| k |")][0]
    right = [line for line in text.splitlines() if "queries right" in line][0]
    ks = [int(v) for v in ks.split("|")[2:-1]]
    pct = [int(v.strip().rstrip("%")) for v in right.split("|")[2:-1]]
    assert ks[0] == 1 and len(ks) == len(pct) >= 4
    for k, p in zip(ks, pct):
        assert round(100 * accuracies("knn-blobs", k=k)) == p, k
    assert pct[0] < max(pct)                  # k = 1 overfits: a larger k does better


def test_knn_metric_description_numbers_are_true():
    text = (SCENARIOS / "knn-metric.toml").read_text()
    for metric, words in (("l2", "92% of the 36"), ("l1", ": 86%"), ("cosine", "coin toss: 47%")):
        assert words in text
        want = int(words.split("%")[0].split()[-1].lstrip(":"))
        assert round(100 * accuracies("knn-metric", metric=metric)) == want


def test_knn_scaled_standardize_on_and_off():
    """knn-scaled: 100% with standardize, 68% (27 of 40) on the raw numbers, as its
    description says; turning preprocessing off measures on the raw points exactly."""
    text = (SCENARIOS / "knn-scaled.toml").read_text()
    assert "100% come out right" in text and "68% (27 of 40)" in text
    _, s = open_session(str(SCENARIOS / "knn-scaled.toml"))
    prog = s.program
    s.run_to_end()
    assert prog.accuracy() == 1.0 and len(prog.queries) == 40
    prog.set_preprocess(False)
    s.goto(0)
    s.run_to_end()
    assert prog.accuracy() == 27 / 40
    q = prog.queries[3]
    np.testing.assert_array_equal(q.distances, K.distances(prog.raw_x, q.point, "l2"))
    prog.set_preprocess(True)
    s.goto(0)
    s.goto(5 * 4)
    np.testing.assert_allclose(q.distances, K.distances(prog.prep.apply(prog.raw_x),
                                                        prog.prep.apply(q.point[None])[0],
                                                        "l2"), rtol=1e-12)
