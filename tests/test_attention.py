"""Tests the attention layer against tests/naive_attention.py, centred finite
differences (float64) over random shapes, float32, torch.nn.MultiheadAttention, the
loader's checks, and run mode against the step path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_attention as naive
from test_recurrent import fd_check
from tuinn.engine.layers.base import LAYERS, build_layer
from tuinn.engine.network import NetworkProgram
from tuinn.engine.session import Session
from tuinn.errors import TuinnError
from tuinn.scenario.loader import load_text
from tuinn.scenario.spec import LayerSpec

VIEWS = ("Q", "K", "V", "scores", "A", "C")
GRAD_VIEWS = ("dC", "dA", "dscores", "dQ", "dK", "dV")


def make(T, D, heads=1, causal=False, dtype=np.float64, seed=0, scale=0.5):
    spec = LayerSpec("attention", "attention1", {"heads": heads, "causal": causal,
                                                 "init": "xavier", "init_std": 0.01})
    layer = build_layer(spec, (T, D), np.random.default_rng(seed), dtype)
    rng = np.random.default_rng(seed + 100)
    for v in layer.params.values():
        v[...] = rng.normal(0.0, scale, v.shape)
    return layer


@st.composite
def shapes(draw):
    heads = draw(st.integers(1, 3))
    return dict(heads=heads, D=heads * draw(st.integers(1, 3)), T=draw(st.integers(1, 5)),
                N=draw(st.integers(1, 3)), causal=draw(st.booleans()),
                seed=draw(st.integers(0, 10_000)))


def test_registered_with_contract_params():
    layer = make(T=4, D=6, heads=2)
    assert LAYERS["attention"] is type(layer)
    assert tuple(layer.params) == ("Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo")
    assert all(layer.params[k].shape == (6, 6) for k in ("Wq", "Wk", "Wv", "Wo"))
    assert all(layer.params[k].shape == (6,) for k in ("bq", "bk", "bv", "bo"))
    assert layer.l2_params() == ["Wq", "Wk", "Wv", "Wo"]
    assert layer.out_shape == (4, 6) and layer.dk == 3


@settings(max_examples=30, deadline=None)
@given(s=shapes())
def test_matches_numpy_reference(s):
    layer = make(s["T"], s["D"], s["heads"], s["causal"], seed=s["seed"])
    rng = np.random.default_rng(s["seed"])
    x = rng.normal(size=(s["N"], s["T"], s["D"]))
    y = layer.forward(x, True, None)
    y_ref, cache = naive.forward(x, layer.params, s["heads"], s["causal"])
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-13)
    for k in VIEWS:
        np.testing.assert_allclose(layer.cache[k], cache[k], rtol=1e-12, atol=1e-13, err_msg=k)
    np.testing.assert_allclose(layer.cache["A"].sum(axis=3), 1.0, rtol=1e-12)
    if s["causal"]:                  # no query looks ahead
        assert not np.triu(layer.cache["A"], 1).any()
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)
    grads, dx_ref, views = naive.backward(layer.params, cache, dy, s["heads"], s["causal"])
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-11, atol=1e-12)
    for k in grads:
        np.testing.assert_allclose(layer.grads[k], grads[k], rtol=1e-11, atol=1e-12, err_msg=k)
    for k in GRAD_VIEWS:
        np.testing.assert_allclose(layer.cache[k], views[k], rtol=1e-11, atol=1e-12, err_msg=k)


@settings(max_examples=15, deadline=None)
@given(s=shapes())
def test_finite_differences(s):
    layer = make(s["T"], s["D"], s["heads"], s["causal"], seed=s["seed"])
    fd_check(layer, np.random.default_rng(s["seed"]).normal(size=(s["N"], s["T"], s["D"])),
             s["seed"])


@pytest.mark.parametrize("causal", [False, True])
def test_float32_agrees_with_float64(causal):
    l64 = make(5, 6, 3, causal)
    l32 = make(5, 6, 3, causal, dtype=np.float32)
    for k in l64.params:
        l32.params[k][...] = l64.params[k]
    x = np.random.default_rng(0).normal(size=(3, 5, 6))
    y64, y32 = l64.forward(x, True, None), l32.forward(x.astype(np.float32), True, None)
    assert y32.dtype == np.float32 and l32.cache["A"].dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-5)
    dy = np.random.default_rng(1).normal(size=y64.shape)
    dx64, dx32 = l64.backward(dy), l32.backward(dy.astype(np.float32))
    assert dx32.dtype == np.float32
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-5)
    for k in l64.grads:
        assert l32.grads[k].dtype == np.float32
        np.testing.assert_allclose(l32.grads[k], l64.grads[k], rtol=1e-4, atol=2e-5, err_msg=k)


def test_one_key_and_nan():
    layer = make(1, 4, 2, causal=True)
    y = layer.forward(np.ones((2, 1, 4)), True, None)
    np.testing.assert_array_equal(layer.cache["A"], 1.0)       # one key: all its weight
    assert np.isfinite(y).all()
    layer = make(3, 4, 2, causal=False)
    x = np.random.default_rng(0).normal(size=(1, 3, 4))
    x[0, 1, 0] = np.nan                                         # a NaN reaches the output
    y = layer.forward(x, True, None)
    assert np.isnan(y).any() and np.isnan(layer.cache["A"]).any()


# ---------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("heads", [1, 2, 3])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch_multihead_attention(heads, causal, dtype):
    torch = pytest.importorskip("torch")
    T, D, N = 5, 6, 2
    layer = make(T, D, heads, causal, dtype=dtype, seed=11)
    p = layer.params
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    mha = torch.nn.MultiheadAttention(D, heads, batch_first=True).to(tdt)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.tensor(np.concatenate([p["Wq"].T, p["Wk"].T,
                                                              p["Wv"].T])))
        mha.in_proj_bias.copy_(torch.tensor(np.concatenate([p["bq"], p["bk"], p["bv"]])))
        mha.out_proj.weight.copy_(torch.tensor(p["Wo"].T))
        mha.out_proj.bias.copy_(torch.tensor(p["bo"]))
    x = np.random.default_rng(5).normal(size=(N, T, D)).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    mask = torch.triu(torch.full((T, T), float("-inf"), dtype=tdt), 1) if causal else None
    out, weights = mha(xt, xt, xt, attn_mask=mask, need_weights=True,
                       average_attn_weights=False)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    y = layer.forward(x, True, None)
    np.testing.assert_allclose(y, out.detach().numpy(), **tol)
    np.testing.assert_allclose(layer.cache["A"], weights.detach().numpy(), **tol)
    dy = np.random.default_rng(6).normal(size=y.shape).astype(dtype)
    (out * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), **tol)
    gw, gb = mha.in_proj_weight.grad.numpy(), mha.in_proj_bias.grad.numpy()
    for i, (w, b) in enumerate((("Wq", "bq"), ("Wk", "bk"), ("Wv", "bv"))):
        np.testing.assert_allclose(layer.grads[w], gw[i * D:(i + 1) * D].T, **tol)
        np.testing.assert_allclose(layer.grads[b], gb[i * D:(i + 1) * D], **tol)
    np.testing.assert_allclose(layer.grads["Wo"], mha.out_proj.weight.grad.numpy().T, **tol)
    np.testing.assert_allclose(layer.grads["bo"], mha.out_proj.bias.grad.numpy(), **tol)


# ---------------------------------------------------------------- scenario level
def scenario(heads=2, causal="true", extra="", l2=0.01):
    return f"""[scenario]
name = "attn"
kind = "network"
seed = 2
[data]
generator = "copy"
samples = 24
delay = 2
[model]
input = [5, 4]
[[model.layers]]
type = "residual"
layers = [ {{ type = "attention", heads = {heads}, causal = {causal}{extra} }} ]
[[model.layers]]
type = "attention"
[[model.layers]]
type = "seq_pool"
mode = "last"
[[model.layers]]
type = "dense"
units = 4
[loss]
type = "softmax_ce"
l2 = {l2}
[optimizer]
type = "adam"
lr = 0.05
[train]
epochs = 5
batch_size = 8
"""


def test_loader_errors():
    with pytest.raises(TuinnError) as err:
        NetworkProgram(load_text(scenario(heads=3), "a.toml"))
    assert err.value.key == "heads" and "divide" in str(err.value)
    assert "1, 2, 4" in (err.value.hint or "")
    with pytest.raises(TuinnError) as err:
        load_text(scenario(extra=", head = 2"), "a.toml")
    assert "head" in str(err.value) and "heads" in (err.value.hint or "")
    with pytest.raises(TuinnError) as err:
        load_text(scenario(causal='"yes"'), "a.toml")
    assert "causal" in (err.value.key or "")
    with pytest.raises(TuinnError):               # attention needs a sequence
        build_layer(LayerSpec("attention", "a", {"heads": 1}), (4,),
                    np.random.default_rng(0), np.float64)


@pytest.mark.parametrize("causal", ["true", "false"])
def test_run_mode_matches_the_step_path(causal):
    text = scenario(causal=causal)
    stepped = NetworkProgram(load_text(text, "a.toml"))
    session = Session(stepped)
    session.run_to_end()
    fast = NetworkProgram(load_text(text, "b.toml"))
    fast.train_iteration()
    assert fast.losses[0] == stepped.losses[0]
    for key in stepped.param_layers:
        np.testing.assert_array_equal(fast.params()[key], stepped.params()[key], err_msg=key)
    for a, b in zip(fast._all_layers(), stepped._all_layers()):
        if a.type == "attention":
            for k in ("A", "scores", "dA", "dQ"):
                np.testing.assert_array_equal(a.cache[k], b.cache[k], err_msg=f"{a.name}.{k}")
    names = [layer.name for layer in stepped._all_layers() if layer.type == "attention"]
    assert names == ["attention1", "attention2"]


def test_memory_estimate_counts_the_weights_per_head():
    from tuinn.scenario.memory import layer_parts
    parts = layer_parts([LayerSpec("attention", "a", {"heads": 4})], (10, 8))
    assert parts[0].params == 4 * 8 * 8 + 4 * 8
    assert parts[0].values == 12 * 10 * 8 + 4 * 4 * 10 * 10
    text = scenario(heads=1, causal="true").replace("input = [5, 4]", "input = [60000, 4]")
    with pytest.raises(TuinnError) as err:        # (T, T) weights that could never fit
        load_text(text.replace("generator = \"copy\"", "generator = \"copy\"\nnoise = 0"),
                  "a.toml")
    assert "too large" in str(err.value) or "too many" in str(err.value)


@pytest.mark.parametrize("causal", ["true", "false"])
def test_packed_run_mode_is_bit_for_bit_the_plain_path(causal):
    from test_fastpath import train_both
    fast, plain = train_both(scenario(causal=causal), 4)     # compares every cache too
    assert fast.packed is not None and plain.packed is None
