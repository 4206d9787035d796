"""Tests the data generators, inline/.npz/.csv loading and the validation split."""

from __future__ import annotations

import numpy as np
import pytest

from tuinn.errors import TuinnError
from tuinn.scenario import data as D
from tuinn.scenario.spec import DataSpec

POINTS = ["xor", "spiral", "moons", "circles", "blobs"]


def gen(name, input_shape=(2,), seed=0, dtype=np.float64, **options):
    spec = DataSpec(generator=name, options=options)
    return D.load_data(spec, input_shape, np.random.default_rng(seed), dtype)


# --------------------------------------------------------------- generators
@pytest.mark.parametrize("name", POINTS)
def test_point_generators(name):
    classes = 4 if name in ("spiral", "blobs") else 2
    x, y = gen(name, samples=101, classes=classes, noise=0.1)
    assert x.shape == (101, 2) and x.dtype == np.float64 and x.flags.c_contiguous
    assert y.shape == (101,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(classes))
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= (26 if name == "xor" else 1)
    x2, y2 = gen(name, samples=101, classes=classes, noise=0.1)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = gen(name, seed=1, samples=101, classes=classes, noise=0.1)
    assert not np.array_equal(x, x3)
    xf, yf = gen(name, dtype=np.float32, samples=101, classes=classes, noise=0.1)
    assert xf.dtype == np.float32 and yf.dtype == np.int64
    np.testing.assert_allclose(xf, x, rtol=1e-6, atol=1e-7)
    assert not np.all(np.diff(y) >= 0)                # classes are interleaved, not sorted
    with pytest.raises(TuinnError, match="input"):
        gen(name, input_shape=(3, 2), samples=10)


def test_defaults_apply_when_options_are_missing():
    x, y = gen("spiral")
    assert x.shape == (D.DEFAULTS["spiral"]["samples"], 2)
    assert len(np.unique(y)) == D.DEFAULTS["spiral"]["classes"]
    x, _ = gen("moons", samples=None)                 # None counts as unset
    assert len(x) == D.DEFAULTS["moons"]["samples"]
    with pytest.raises(TuinnError, match="samples"):
        gen("xor", samples=0)
    with pytest.raises(TuinnError, match="noise"):
        gen("xor", noise=-1.0)
    with pytest.raises(TuinnError, match="noise"):
        gen("xor", noise=float("nan"))
    with pytest.raises(TuinnError, match="classes"):
        gen("spiral", classes=2.5)


def test_noise_free_geometry():
    x, y = gen("xor", samples=200, noise=0.0)
    np.testing.assert_array_equal(y, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(int))
    x, y = gen("circles", samples=200, noise=0.0, factor=0.3)
    np.testing.assert_allclose(np.hypot(x[:, 0], x[:, 1]), np.where(y == 0, 1.0, 0.3))
    x, y = gen("spiral", samples=300, classes=3, noise=0.0)
    assert np.hypot(x[:, 0], x[:, 1]).max() <= 1.0 + 1e-12
    x, y = gen("blobs", samples=90, classes=3, noise=0.0)
    assert len(np.unique(x, axis=0)) == 3            # every point sits on its centre
    x, y = gen("blobs", input_shape=(5,), samples=40, classes=4, noise=0.1)
    assert x.shape == (40, 5) and set(np.unique(y)) == {0, 1, 2, 3}


def test_sine_regression_and_windows():
    x, y = gen("sine", input_shape=(1,), samples=50, noise=0.0)
    assert x.shape == (50, 1) and y.shape == (50, 1) and y.dtype == np.float64
    assert np.all(np.abs(x) <= np.pi)
    np.testing.assert_allclose(y, np.sin(x))
    for shape in ((8, 1), (8,)):
        x, y = gen("sine", input_shape=shape, samples=30, noise=0.0)
        assert x.shape == (30, *shape) and y.shape == (30, 1)
        s = x.reshape(30, 8)
        # a sampled sine obeys s[k+1] = 2 cos(step) s[k] - s[k-1]; y is the next sample
        c = 2 * np.cos(D.SINE_STEP)
        np.testing.assert_allclose(s[:, 2:], c * s[:, 1:-1] - s[:, :-2], atol=1e-12)
        np.testing.assert_allclose(y[:, 0], c * s[:, -1] - s[:, -2], atol=1e-12)
    x32, y32 = gen("sine", input_shape=(8, 1), dtype=np.float32, samples=5)
    assert x32.dtype == np.float32 and y32.dtype == np.float32
    with pytest.raises(TuinnError, match="sine"):
        gen("sine", input_shape=(4, 2))


def test_register_generator_and_unknown_names():
    @D.register_generator("ones_for_test")
    def ones(options, input_shape, rng):
        n = options.get("samples", 3)
        return np.ones((n, *input_shape)), rng.integers(0, 2, size=n)

    try:
        x, y = gen("ones_for_test", input_shape=(3,), samples=4)
        assert x.shape == (4, 3) and y.dtype == np.int64
        assert "ones_for_test" in D.generator_names()
    finally:
        del D.GENERATORS["ones_for_test"]
    with pytest.raises(TuinnError, match="unknown generator") as err:
        gen("spirals")
    assert "spiral" in err.value.hint and err.value.key == "data.generator"


# ------------------------------------------------------------------ loading
def test_inline_data():
    spec = DataSpec(x=np.array([[0.05, 0.10], [0.2, 0.3]]), y=np.array([[0.01, 0.99], [1, 0]]))
    x, y = D.load_data(spec, (2,), np.random.default_rng(0), np.float32)
    assert x.dtype == np.float32 and y.dtype == np.float32 and y.shape == (2, 2)
    x, y = D.load_data(DataSpec(x=np.array([1.0, 2.0, 3.0]), y=np.array([0, 1, 0])), (1,),
                       np.random.default_rng(0))
    assert x.shape == (3, 1) and y.dtype == np.int64
    x, _ = D.load_data(DataSpec(x=np.arange(8.0).reshape(2, 4), y=np.array([0, 1])), (1, 2, 2),
                       np.random.default_rng(0))
    assert x.shape == (2, 1, 2, 2)                   # flat rows fill the input shape
    with pytest.raises(TuinnError, match=r"input is \[3\]") as err:
        D.load_data(DataSpec(x=np.ones((2, 2)), y=np.array([0, 1]), line=9), (3,), None)
    assert err.value.line == 9
    with pytest.raises(TuinnError, match="2 samples in x but 3 targets"):
        D.load_data(DataSpec(x=np.ones((2, 2)), y=np.array([0, 1, 1])), (2,), None)
    with pytest.raises(TuinnError, match="both x and y"):
        D.load_data(DataSpec(x=np.ones((2, 2))), (2,), None)
    with pytest.raises(TuinnError, match="exactly one"):
        D.load_data(DataSpec(), (2,), None)
    with pytest.raises(TuinnError, match="generator and file"):
        D.load_data(DataSpec(generator="xor", file="a.csv"), (2,), None)


def test_npz(tmp_path):
    path = tmp_path / "points.npz"
    np.savez(path, x=np.arange(6.0).reshape(3, 2), y=np.array([0, 1, 2]))
    x, y = D.load_data(DataSpec(file=str(path)), (2,), None, np.float32)
    assert x.dtype == np.float32 and x.shape == (3, 2) and y.tolist() == [0, 1, 2]
    bad = tmp_path / "noy.npz"
    np.savez(bad, x=np.ones((2, 2)), labels=np.ones(2))
    with pytest.raises(TuinnError, match="no array named 'y'") as err:
        D.load_data(DataSpec(file=str(bad)), (2,), None)
    assert err.value.file == str(bad) and "labels" in err.value.message
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, x=np.array([{"a": 1}, {"b": 2}], dtype=object), y=np.ones(2))
    with pytest.raises(TuinnError, match="holds objects"):
        D.load_data(DataSpec(file=str(pickled)), (2,), None)
    notzip = tmp_path / "junk.npz"
    notzip.write_text("hello")
    with pytest.raises(TuinnError, match="not a readable .npz"):
        D.load_data(DataSpec(file=str(notzip)), (2,), None)
    with pytest.raises(TuinnError, match="not found"):
        D.load_data(DataSpec(file=str(tmp_path / "missing.npz")), (2,), None)
    with pytest.raises(TuinnError, match="unsupported"):
        D.load_data(DataSpec(file=str(tmp_path / "points.txt")), (2,), None)


def test_csv(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x0,x1,label\n0.5,1.0,0\n\n# a comment\n-1,2.5,1\n3,4,2\n")
    x, y = D.load_data(DataSpec(file=str(path)), (2,), None)
    np.testing.assert_array_equal(x, [[0.5, 1.0], [-1.0, 2.5], [3.0, 4.0]])
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2]
    reg = tmp_path / "reg.csv"
    reg.write_text("1,0.25\n2,0.5\n")
    x, y = D.load_data(DataSpec(file=str(reg)), (1,), None, np.float32)
    assert y.shape == (2, 1) and y.dtype == np.float32 and x.shape == (2, 1)


def test_csv_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("0.5,1.0,0\n0.1,oops,1\n")
    with pytest.raises(TuinnError, match="row 2") as err:
        D.load_data(DataSpec(file=str(bad)), (2,), None)
    assert err.value.file == str(bad) and err.value.line == 2 and "oops" in str(err.value)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("1,2,0\n3,4,5,1\n")
    with pytest.raises(TuinnError, match="row 2: 4 columns, expected 3"):
        D.load_data(DataSpec(file=str(ragged)), (2,), None)
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")
    with pytest.raises(TuinnError, match="no data rows"):
        D.load_data(DataSpec(file=str(empty)), (2,), None)
    one = tmp_path / "one.csv"
    one.write_text("1\n2\n")
    with pytest.raises(TuinnError, match="two columns"):
        D.load_data(DataSpec(file=str(one)), (2,), None)
    wide = tmp_path / "wide.csv"
    wide.write_text("1,2,3,0\n")
    with pytest.raises(TuinnError, match="input"):
        D.load_data(DataSpec(file=str(wide)), (2,), None)
    with pytest.raises(TuinnError, match="not found"):
        D.load_data(DataSpec(file=str(tmp_path / "none.csv")), (2,), None)


# -------------------------------------------------------------------- split
def test_split():
    x = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    xtr, ytr, xv, yv = D.split(x, y, 0.3, np.random.default_rng(0))
    assert len(xtr) == 7 and len(xv) == 3
    assert sorted(ytr.tolist() + yv.tolist()) == list(range(10))
    assert np.all(np.diff(ytr) > 0) and np.all(np.diff(yv) > 0)   # order kept
    np.testing.assert_array_equal(xtr[:, 0], 2 * ytr)
    again = D.split(x, y, 0.3, np.random.default_rng(0))
    np.testing.assert_array_equal(again[3], yv)
    rng = np.random.default_rng(4)
    xtr, ytr, xv, yv = D.split(x, y, 0.0, rng)
    assert xtr is x and xv.shape == (0, 2) and yv.shape == (0,)
    assert rng.integers(1 << 30) == np.random.default_rng(4).integers(1 << 30)  # rng untouched
    assert len(D.split(x, y, 0.01, np.random.default_rng(0))[2]) == 1
    with pytest.raises(TuinnError, match="validation"):
        D.split(x, y, 1.0, np.random.default_rng(0))
    with pytest.raises(TuinnError, match="no training samples"):
        D.split(x[:1], y[:1], 0.5, np.random.default_rng(0))
