"""Tests bidirectional rnn, lstm and gru (`bidirectional = true`): a plain NumPy
reference, centred finite differences, float32, PyTorch's bidirectional layers, the
views' cache names, the recurrent view, and run mode against the step path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_recurrent as naive
from test_recurrent import fd_check
from tuinn.engine.layers.base import build_layer
from tuinn.engine.network import NetworkProgram
from tuinn.errors import TuinnError
from tuinn.scenario.loader import load_text
from tuinn.scenario.spec import LayerSpec

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o", "c", "h"), "gru": ("r", "z", "n", "h")}
GRADS = {"rnn": ("dh", "da"), "lstm": ("dh", "dc", "di", "df", "dg", "do"),
         "gru": ("dh", "dr", "dz", "dn")}


def make(cell, T, I, H, seq=False, dtype=np.float64, seed=0, scale=0.6):
    spec = LayerSpec(cell, f"{cell}1", {"hidden": H, "return_sequences": seq,
                                        "bidirectional": True, "init": "xavier",
                                        "init_std": 0.01})
    layer = build_layer(spec, (T, I), np.random.default_rng(seed), dtype)
    rng = np.random.default_rng(seed + 100)
    for v in layer.params.values():
        v[...] = rng.normal(0.0, scale, v.shape)
    return layer


def reference(cell, x, params, seq):
    """Both directions from the one-direction NumPy loop; the reverse one on x[:, ::-1]."""
    fwd = {k: v for k, v in params.items() if not k.endswith("_r")}
    rev = {k[:-2]: v for k, v in params.items() if k.endswith("_r")}
    _, cf = naive.FORWARD[cell](x, fwd, True)
    _, cr = naive.FORWARD[cell](x[:, ::-1], rev, True)
    hf, hr = cf["h"], cr["h"][:, ::-1]                     # hr[:, t] = h_bwd at t
    y = np.concatenate([hf, hr], axis=2) if seq else np.concatenate([hf[:, -1], hr[:, 0]], 1)
    return y, (fwd, rev, cf, cr)


def reference_backward(cell, x, params, seq, dy, state):
    fwd, rev, cf, cr = state
    H = fwd["Wh"].shape[0]
    dyf = dy[..., :H]
    dyr = dy[:, ::-1, H:] if seq else dy[:, H:]
    gf, dxf, vf = naive.BACKWARD[cell](x, fwd, cf, dyf, seq)
    gr, dxr, vr = naive.BACKWARD[cell](x[:, ::-1], rev, cr, dyr, seq)
    grads = {**gf, **{k + "_r": v for k, v in gr.items()}}
    return grads, dxf + dxr[:, ::-1], vf, vr


dims = dict(cell=st.sampled_from(CELLS), N=st.integers(1, 3), T=st.integers(1, 5),
            I=st.integers(1, 3), H=st.integers(1, 3), seq=st.booleans(),
            seed=st.integers(0, 10_000))


def test_parameters_shapes_and_l2():
    for cell, names in (("rnn", ("Wx", "Wh", "b")), ("lstm", ("Wx", "Wh", "b")),
                        ("gru", ("Wx", "Wh", "bx", "bh"))):
        layer = make(cell, T=4, I=3, H=5)
        assert tuple(layer.params) == names + tuple(k + "_r" for k in names)
        for k in names:
            assert layer.params[k + "_r"].shape == layer.params[k].shape
        assert layer.l2_params() == ["Wx", "Wh", "Wx_r", "Wh_r"]
        assert layer.out_shape == (10,)
        assert make(cell, T=4, I=3, H=5, seq=True).out_shape == (4, 10)
        assert layer.substeps() == 4


@settings(max_examples=25, deadline=None)
@given(**dims)
def test_matches_numpy_reference(cell, N, T, I, H, seq, seed):
    layer = make(cell, T, I, H, seq, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, I))
    y = layer.forward(x, True, None)
    y_ref, state = reference(cell, x, layer.params, seq)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-13)
    cf, cr = state[2], state[3]
    for k in GATES[cell]:                         # forward under k, reverse under k_r
        np.testing.assert_allclose(layer.cache[k], cf[k], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(layer.cache[k + "_r"], cr[k][:, ::-1], rtol=1e-12,
                                   atol=1e-13, err_msg=k)
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)
    grads, dx_ref, vf, vr = reference_backward(cell, x, layer.params, seq, dy, state)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-11, atol=1e-12)
    assert set(layer.grads) == set(grads)
    for k in grads:
        np.testing.assert_allclose(layer.grads[k], grads[k], rtol=1e-11, atol=1e-12, err_msg=k)
    for k in GRADS[cell]:
        np.testing.assert_allclose(layer.cache[k], vf[k], rtol=1e-11, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(layer.cache[k + "_r"], vr[k][:, ::-1], rtol=1e-11,
                                   atol=1e-12, err_msg=k + "_r")


@settings(max_examples=12, deadline=None)
@given(**dims)
def test_finite_differences(cell, N, T, I, H, seq, seed):
    layer = make(cell, T, I, H, seq, seed=seed)
    fd_check(layer, np.random.default_rng(seed).normal(size=(N, T, I)), seed)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("seq", [False, True])
def test_float32_agrees_with_float64(cell, seq):
    l64 = make(cell, T=5, I=3, H=4, seq=seq)
    l32 = make(cell, T=5, I=3, H=4, seq=seq, dtype=np.float32)
    for k in l64.params:
        l32.params[k][...] = l64.params[k]
    x = np.random.default_rng(0).normal(size=(3, 5, 3))
    y64, y32 = l64.forward(x, True, None), l32.forward(x.astype(np.float32), True, None)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-5)
    dy = np.random.default_rng(1).normal(size=y64.shape)
    dx64, dx32 = l64.backward(dy), l32.backward(dy.astype(np.float32))
    assert dx32.dtype == np.float32
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-5)
    for k in l64.grads:
        assert l32.grads[k].dtype == np.float32
        np.testing.assert_allclose(l32.grads[k], l64.grads[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_the_reverse_direction_sees_the_future():
    # a change at the last timestep moves the reverse half of the output at t = 0 only
    layer = make("gru", T=4, I=2, H=3, seq=True)
    x = np.random.default_rng(2).normal(size=(1, 4, 2))
    y0 = layer.forward(x, True, None).copy()
    x[0, 3] += 1.0
    y1 = layer.forward(x, True, None)
    np.testing.assert_array_equal(y1[0, :3, :3], y0[0, :3, :3])     # forward: causal
    assert np.all(np.abs(y1[0, 0, 3:] - y0[0, 0, 3:]) > 0)          # reverse: reaches t = 0


# ---------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_pytorch(cell, seq, dtype):
    torch = pytest.importorskip("torch")
    T, I, H, N = 5, 3, 4, 2
    layer = make(cell, T, I, H, seq, dtype=dtype, seed=7)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    mod = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        I, H, batch_first=True, bidirectional=True).to(tdt)
    p = layer.params
    with torch.no_grad():
        for tsfx, sfx in (("", ""), ("_reverse", "_r")):
            getattr(mod, "weight_ih_l0" + tsfx).copy_(torch.tensor(p["Wx" + sfx].T))
            getattr(mod, "weight_hh_l0" + tsfx).copy_(torch.tensor(p["Wh" + sfx].T))
            if cell == "gru":
                getattr(mod, "bias_ih_l0" + tsfx).copy_(torch.tensor(p["bx" + sfx]))
                getattr(mod, "bias_hh_l0" + tsfx).copy_(torch.tensor(p["bh" + sfx]))
            else:
                getattr(mod, "bias_ih_l0" + tsfx).copy_(torch.tensor(p["b" + sfx]))
                getattr(mod, "bias_hh_l0" + tsfx).zero_()
    x = np.random.default_rng(3).normal(size=(N, T, I)).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    out, h_n = mod(xt)
    if cell == "lstm":
        h_n = h_n[0]
    ref = out if seq else torch.cat([h_n[0], h_n[1]], dim=1)          # (N, 2H)
    if not seq:      # the final states are also the last/first steps of the sequence output
        torch.testing.assert_close(ref, torch.cat([out[:, -1, :H], out[:, 0, H:]], 1))
    y = layer.forward(x, True, None)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(y, ref.detach().numpy(), **tol)
    dy = np.random.default_rng(4).normal(size=y.shape).astype(dtype)
    (ref * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), **tol)
    for tsfx, sfx in (("", ""), ("_reverse", "_r")):
        g = lambda n: getattr(mod, n + "_l0" + tsfx).grad.numpy()   # noqa: E731
        np.testing.assert_allclose(layer.grads["Wx" + sfx], g("weight_ih").T, **tol)
        np.testing.assert_allclose(layer.grads["Wh" + sfx], g("weight_hh").T, **tol)
        if cell == "gru":
            np.testing.assert_allclose(layer.grads["bx" + sfx], g("bias_ih"), **tol)
            np.testing.assert_allclose(layer.grads["bh" + sfx], g("bias_hh"), **tol)
        else:
            np.testing.assert_allclose(layer.grads["b" + sfx], g("bias_ih"), **tol)


# ---------------------------------------------------------------- scenario level
def scenario(cell="lstm", seq=False, bi="true", params="", optim="adam", l2=0.0):
    pool = '[[model.layers]]\ntype = "seq_pool"\n' if seq else ""
    return f"""[scenario]
name = "bi"
kind = "network"
seed = 1
[data]
generator = "copy"
samples = 24
delay = 1
[model]
input = [5, 4]
[[model.layers]]
type = "{cell}"
hidden = 3
bidirectional = {bi}
return_sequences = {str(seq).lower()}
{pool}[[model.layers]]
type = "dense"
units = 4
{params}
[loss]
type = "softmax_ce"
l2 = {l2}
[optimizer]
type = "{optim}"
lr = 0.05
[train]
epochs = 5
batch_size = 8
"""


def test_loader_key_and_params_errors():
    prog = NetworkProgram(load_text(scenario("gru"), "bi.toml"))
    assert "gru1.Wx_r" in prog.param_layers and "gru1.bh_r" in prog.param_layers
    with pytest.raises(TuinnError) as err:      # a one-way layer has no _r parameters
        NetworkProgram(load_text(scenario("rnn", bi="false",
                                          params='[params]\n"rnn1.Wx_r" = [[0.0, 0.0, 0.0]]'),
                                 "bi.toml"))
    assert "rnn1.Wx_r" in str(err.value)
    with pytest.raises(TuinnError) as err:
        load_text(scenario("rnn", bi='"yes"'), "bi.toml")
    assert err.value.key and "bidirectional" in err.value.key


def _step_iteration(prog) -> None:
    """One iteration through the program's steps, as the debugger runs them."""
    from tuinn.engine.session import Session
    session = Session(prog)
    session.run_to_end()
    assert session.at_end
    return session


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("seq", [False, True])
def test_run_mode_matches_the_step_path(cell, seq):
    text = scenario(cell, seq, l2=0.01)
    stepped = NetworkProgram(load_text(text, "a.toml"))
    _step_iteration(stepped)
    fast = NetworkProgram(load_text(text, "b.toml"))
    fast.train_iteration()
    for key in stepped.param_layers:
        np.testing.assert_array_equal(fast.params()[key], stepped.params()[key], err_msg=key)
    layer_s, layer_f = stepped.layers[0], fast.layers[0]
    for k in layer_s.grads:
        np.testing.assert_array_equal(layer_f.grads[k], layer_s.grads[k], err_msg=k)
    for k in ("h", "h_r", "dh", "dh_r"):
        np.testing.assert_array_equal(layer_f.cache[k], layer_s.cache[k], err_msg=k)


def test_recurrent_view_shows_the_forward_direction():
    from tuinn.engine.session import Session
    from tuinn.tui.present_rnn import recurrent_view
    prog = NetworkProgram(load_text(scenario("lstm"), "bi.toml"))
    session = Session(prog)
    session.step(3)                          # inside the lstm's forward timesteps
    data = recurrent_view(session, "lstm1")
    assert data is not None and data.H == 3 and data.phase == "forward"
    layer = prog.layers[0]
    assert data.numbers["h"] == pytest.approx(float(layer.cache["h"][0, data.t - 1, 0]))
    bwd = next(st for st in session.steps if st.layer == "lstm1" and st.phase == "backward")
    session.goto(session.tick_of(bwd.index) + 1)              # the backward pass's t = T
    data = recurrent_view(session, "lstm1")
    assert data.phase == "backward" and data.t == 5
    np.testing.assert_allclose(data.dh_norm[5], np.linalg.norm(layer.cache["dh"][:, 4], axis=1)
                               .mean())


def test_memory_estimate_counts_both_directions():
    from tuinn.scenario.memory import layer_parts
    one = layer_parts([LayerSpec("gru", "g", {"hidden": 2})], (5, 3))[0]
    two = layer_parts([LayerSpec("gru", "g", {"hidden": 2, "bidirectional": True})], (5, 3))[0]
    assert two.params == 2 * one.params == 2 * (3 * 6 + 2 * 6 + 2 * 6)
    assert two.values == 2 * one.values


@pytest.mark.parametrize("cell", CELLS)
def test_packed_run_mode_is_bit_for_bit_the_plain_path(cell):
    from test_fastpath import train_both
    fast, plain = train_both(scenario(cell, seq=True, l2=0.01), 4)   # every cache too
    assert fast.packed is not None and plain.packed is None
