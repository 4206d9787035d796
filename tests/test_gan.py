"""kind = "gan": the trace per the contract, every iteration recomputed from it in plain
NumPy (and in PyTorch when installed), gradients of the generator's path through the
discriminator against centred differences, the loader's errors, the breakpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SCENARIOS
from tuinn.cli import app
from tuinn.engine.breakpoints import run_to_hit
from tuinn.engine.build import build_session, open_session
from tuinn.engine.trace import gan_trace
from tuinn.errors import TuinnError
from tuinn.scenario.loader import load_text

SMALL = """
[scenario]
name = "small gan"
kind = "gan"
seed = 3

[data]
generator = "{gen}"
samples = 40

[gan]
latent = 3
d_steps = {d_steps}

[generator]
input = [3]
[[generator.layers]]
type = "dense"
units = 5
[[generator.layers]]
type = "tanh"
[[generator.layers]]
type = "dense"
units = 2

[discriminator]
input = [2]
[[discriminator.layers]]
type = "dense"
units = 6
[[discriminator.layers]]
type = "relu"
[[discriminator.layers]]
type = "dense"
units = 1

[optimizer]
type = "adam"
lr = 0.01

[train]
batch_size = 16
"""


def small(d_steps=2, gen="ring", extra=""):
    return load_text(SMALL.format(d_steps=d_steps, gen=gen) + extra, "small.toml")


# ------------------------------------------------------------------ a plain NumPy GAN
def sigmoid(a):
    return 0.5 * (1 + np.tanh(0.5 * a))


def bce(logits, target):
    """Mean bce on logits and its gradient."""
    loss = np.mean(np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits))))
    return loss, (sigmoid(logits) - target) / logits.size


ACT = {"tanh": (np.tanh, lambda y: 1 - y * y), "relu": (lambda a: np.maximum(a, 0),
                                                         lambda y: (y > 0) * 1.0)}


def mlp(p, net, acts, x):
    """Forward of dense-act-dense; returns the output and the cache."""
    W1, b1, W2, b2 = (p[f"{net}.{k}"] for k in ("dense1.W", "dense1.b", "dense2.W", "dense2.b"))
    h = ACT[acts][0](x @ W1 + b1)
    return h @ W2 + b2, (x, h)


def mlp_back(p, net, acts, cache, dy):
    x, h = cache
    W1, W2 = p[f"{net}.dense1.W"], p[f"{net}.dense2.W"]
    dh = dy @ W2.T * ACT[acts][1](h)
    grads = {f"{net}.dense2.W": h.T @ dy, f"{net}.dense2.b": dy.sum(0),
             f"{net}.dense1.W": x.T @ dh, f"{net}.dense1.b": dh.sum(0)}
    return grads, dh @ W1.T


class Adam:
    def __init__(self, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps, self.m, self.v, self.t = lr, b1, b2, eps, {}, {}, {}

    def step(self, key, w, g):
        m = self.m[key] = self.b1 * self.m.get(key, 0) + (1 - self.b1) * g
        v = self.v[key] = self.b2 * self.v.get(key, 0) + (1 - self.b2) * g * g
        t = self.t[key] = self.t.get(key, 0) + 1
        return w - self.lr * (m / (1 - self.b1 ** t)) / (np.sqrt(v / (1 - self.b2 ** t)) + self.eps)


def reference_iteration(p, ev, opt):
    """One iteration from the trace's noise and real batches: (d_loss, g_loss, D grads
    of the last D step, G grads, the parameters after the iteration)."""
    p = dict(p)
    zd, zg = np.array(ev["noise"]["d"]), np.array(ev["noise"]["g"])
    for k in range(len(zd)):
        real = np.array(ev["real"][k])
        fake, _ = mlp(p, "generator", "tanh", zd[k])
        out_r, c_r = mlp(p, "discriminator", "relu", real)
        out_f, c_f = mlp(p, "discriminator", "relu", fake)
        lr_, dr = bce(out_r, 1.0)
        lf, df = bce(out_f, 0.0)
        gr, _ = mlp_back(p, "discriminator", "relu", c_r, dr)
        gf, _ = mlp_back(p, "discriminator", "relu", c_f, df)
        d_grads = {key: gr[key] + gf[key] for key in gr}
        d_loss = lr_ + lf
        for key, g in d_grads.items():
            p[key] = opt.step(key, p[key], g)
    gen, c_g = mlp(p, "generator", "tanh", zg)
    out, c_d = mlp(p, "discriminator", "relu", gen)
    g_loss, dout = bce(out, 1.0)
    _, dgen = mlp_back(p, "discriminator", "relu", c_d, dout)
    g_grads, _ = mlp_back(p, "generator", "tanh", c_g, dgen)
    for key, g in g_grads.items():
        p[key] = opt.step(key, p[key], g)
    return d_loss, g_loss, d_grads, g_grads, p


def trace_events(spec, iterations):
    return [json.loads(json.dumps(e, default=lambda a: np.asarray(a).tolist()))
            for e in gan_trace(build_session(spec), iterations)]


def test_every_iteration_recomputes_from_the_trace_in_numpy():
    events = [e for e in trace_events(small(d_steps=2), 3) if e["event"] == "iteration"]
    assert [e["iteration"] for e in events] == [0, 1, 2]
    p = {k: np.array(v["value"]) for k, v in events[0]["params"].items()}
    opt = Adam(0.01)
    for i, ev in enumerate(events):
        for key, rec in ev["params"].items():        # the values the trace starts from
            np.testing.assert_allclose(rec["value"], p[key], rtol=1e-10, atol=1e-12)
        d_loss, g_loss, d_grads, g_grads, p = reference_iteration(p, ev, opt)
        assert ev["d_loss"] == pytest.approx(d_loss, rel=1e-10)
        assert ev["g_loss"] == pytest.approx(g_loss, rel=1e-10)
        for key, g in {**d_grads, **g_grads}.items():
            np.testing.assert_allclose(ev["params"][key]["grad"], g, rtol=1e-9, atol=1e-12)


def test_trace_events_follow_the_contract():
    spec = small(d_steps=2)
    events = trace_events(spec, 2)
    its = [e for e in events if e["event"] == "iteration"]
    assert len(its) == 2
    ev = its[0]
    assert set(ev) >= {"event", "iteration", "epoch", "d_loss", "g_loss", "noise", "params"}
    assert np.shape(ev["noise"]["d"]) == (2, 16, 3) and np.shape(ev["noise"]["g"]) == (16, 3)
    names = set(ev["params"])
    assert names == {f"{n}.{l}.{k}" for n in ("generator", "discriminator")
                     for l in ("dense1", "dense2") for k in ("W", "b")}
    assert all({"value", "grad"} <= set(r) for r in ev["params"].values())
    steps = [e for e in events if e["event"] == "step" and e["iteration"] == 0]
    assert [(e["phase"], e["node"]) for e in steps[:6]] == [
        ("forward", "d1.fake"), ("forward", "d1.D_real"), ("forward", "d1.D_fake"),
        ("forward", "d1.d_loss"), ("backward", "d1.D_fake"), ("backward", "d1.D_real")]
    assert steps[-1]["phase"] == "update" and steps[-1]["node"].startswith("generator.")
    # the noise differs between iterations and between D's steps
    assert its[0]["noise"]["g"] != its[1]["noise"]["g"]
    assert ev["noise"]["d"][0] != ev["noise"]["d"][1]


def test_cli_trace_json_is_one_object_a_line():
    result = CliRunner().invoke(app, ["trace", str(SCENARIOS / "gan-ring.toml"), "--json"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    assert sum(e["event"] == "iteration" for e in events) == 1
    assert events[-1]["node"].startswith("generator.")


def test_generator_path_through_the_discriminator_matches_centred_differences():
    """dg_loss/d(G's parameters) goes back through D: check it against centred
    differences of the whole generator step in float64."""
    session = build_session(small(d_steps=1))
    prog = session.program
    n_d = len(prog.D.params)
    session.goto(session.tick_of(len(prog.steps) - len(prog.G.params)))   # G's backward done
    grads = {k: session.tape.grads[k].copy() for k in prog.G.params}
    zg = session.tape.extra["noise_g"]
    assert n_d == 4

    def g_loss():
        from tuinn.engine.gan import run_layers
        out = run_layers(prog.eval_d, run_layers(prog.eval_g, zg, False, None), False, None)
        return bce(out, 1.0)[0]

    h = 1e-6
    for key, (layer, k) in prog.G.params.items():
        arr = layer.params[k]
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            up = g_loss()
            arr[idx] = old - h
            down = g_loss()
            arr[idx] = old
            num[idx] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[key], num, rtol=1e-6, atol=1e-9)


def test_discriminator_gradient_matches_centred_differences():
    session = build_session(small(d_steps=1))
    prog = session.program
    first_update = next(st.index for st in prog.steps if st.phase == "update")
    session.goto(session.tick_of(first_update))
    tape = session.tape
    real, fake = tape.extra["real"][0], tape.values["fake"]
    from tuinn.engine.gan import run_layers

    def d_loss():
        return (bce(run_layers(prog.eval_d, real, False, None), 1.0)[0]
                + bce(run_layers(prog.eval_d, fake, False, None), 0.0)[0])

    h = 1e-6
    for key, (layer, k) in prog.D.params.items():
        arr = layer.params[k]
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            up = d_loss()
            arr[idx] = old - h
            down = d_loss()
            arr[idx] = old
            num[idx] = (up - down) / (2 * h)
        np.testing.assert_allclose(tape.grads[key], num, rtol=1e-6, atol=1e-9)


def test_recomputed_in_pytorch():
    torch = pytest.importorskip("torch")
    ev = next(e for e in trace_events(small(d_steps=1), 1) if e["event"] == "iteration")
    P = {k: torch.tensor(v["value"], dtype=torch.float64, requires_grad=True)
         for k, v in ev["params"].items()}

    def net(x, name, act):
        h = act(x @ P[f"{name}.dense1.W"] + P[f"{name}.dense1.b"])
        return h @ P[f"{name}.dense2.W"] + P[f"{name}.dense2.b"]

    G = lambda z: net(z, "generator", torch.tanh)              # noqa: E731
    D = lambda x: net(x, "discriminator", torch.relu)          # noqa: E731
    bce_t = torch.nn.functional.binary_cross_entropy_with_logits
    zd = torch.tensor(ev["noise"]["d"][0], dtype=torch.float64)
    real = torch.tensor(ev["real"][0], dtype=torch.float64)
    out_r, out_f = D(real), D(G(zd).detach())
    d_loss = bce_t(out_r, torch.ones_like(out_r)) + bce_t(out_f, torch.zeros_like(out_f))
    d_loss.backward()
    assert ev["d_loss"] == pytest.approx(d_loss.item(), rel=1e-10)
    for k, v in P.items():
        if k.startswith("discriminator."):
            np.testing.assert_allclose(ev["params"][k]["grad"], v.grad.numpy(), rtol=1e-9,
                                       atol=1e-12)
    opt = torch.optim.Adam([v for k, v in P.items() if k.startswith("discriminator.")], lr=0.01)
    opt.step()
    for v in P.values():
        v.grad = None
    zg = torch.tensor(ev["noise"]["g"], dtype=torch.float64)
    out = D(G(zg))
    g_loss = bce_t(out, torch.ones_like(out))
    g_loss.backward()
    assert ev["g_loss"] == pytest.approx(g_loss.item(), rel=1e-10)
    for k, v in P.items():
        if k.startswith("generator."):
            np.testing.assert_allclose(ev["params"][k]["grad"], v.grad.numpy(), rtol=1e-9,
                                       atol=1e-12)


# ------------------------------------------------------------------ breakpoints
def test_collapse_stops_at_the_spread_and_d_wins_breakpoints():
    spec, session = open_session(str(SCENARIOS / "gan-collapse.toml"))
    hit = run_to_hit(session, session.breakpoints, 50_000)
    assert hit is not None and hit[0].text == "spread < 0.05"
    assert "spread = " in hit[1] and "forward gen" in hit[1]
    from tuinn.engine.gan import spread
    assert spread(session.tape.values["gen"], session.program.x) < 0.05
    session.breakpoints.toggle("spread < 0.05", False)
    hit = run_to_hit(session, session.breakpoints, 50_000)
    assert hit is not None and hit[0].text == "d_wins"
    tape = session.tape
    assert (tape.values["D_real"] > 0).all() and (tape.values["D_fake"] < 0).all()


def test_run_mode_breakpoint_checks_after_a_fast_iteration():
    spec, session = open_session(str(SCENARIOS / "gan-collapse.toml"))
    prog = session.program
    for _ in range(200):
        prog.train_iteration()
        got = session.breakpoints.first_hit_fast(prog)
        if got:
            break
    assert got is not None and got[0].text == "spread < 0.05"
    assert prog.spreads[prog.iteration - 1] < 0.05


def test_healthy_run_keeps_its_spread():
    spec, session = open_session(str(SCENARIOS / "gan-ring.toml"))
    prog = session.program
    for _ in range(300):
        prog.train_iteration()
    assert min(prog.spreads[i] for i in range(300)) > 0.3


@pytest.mark.parametrize("text, message", [
    ("loss < 1", "not for gan"), ("dead_relu > 0.5", "not for gan"),
    ("spread < 0.1 0", "unexpected"), ("d_wins > 1", "unexpected")])
def test_gan_breakpoints_reject_what_does_not_apply(text, message):
    with pytest.raises(TuinnError, match=message):
        build_session(small(extra=f'\n[debug]\nbreakpoints = ["{text}"]\n'))


def test_gan_breakpoints_are_refused_elsewhere():
    with pytest.raises(TuinnError, match="for gan scenarios"):
        open_session_text = (SCENARIOS / "xor.toml").read_text() + ""
        spec = load_text(open_session_text.replace("[debug]", "[debug]\nbreakpoints = [\"spread < 1\"]")
                         if "[debug]" in open_session_text else
                         open_session_text + '\n[debug]\nbreakpoints = ["spread < 1"]\n', "x.toml")
        build_session(spec)


# ------------------------------------------------------------------ the loader
@pytest.mark.parametrize("change, key", [
    (("input = [3]\n[[generator.layers]]", "input = [2]\n[[generator.layers]]"), "generator.input"),
    (("units = 2\n\n[discriminator]", "units = 3\n\n[discriminator]"), "generator.layers"),
    (("d_steps = 2", "d_step = 2"), "gan.d_step"),
])
def test_loader_errors_name_the_key(change, key):
    text = SMALL.format(d_steps=2, gen="ring").replace(*change)
    with pytest.raises(TuinnError) as err:
        build_session(load_text(text, "bad.toml"))
    assert err.value.key == key and err.value.line


def test_the_discriminator_must_end_in_one_logit():
    text = SMALL.format(d_steps=1, gen="ring").rstrip().replace(
        'type = "dense"\nunits = 1\n', 'type = "dense"\nunits = 2\n')
    with pytest.raises(TuinnError, match="one logit"):
        build_session(load_text(text, "bad.toml"))


def test_missing_generator_table():
    text = SMALL.format(d_steps=1, gen="ring")
    text = text[:text.index("[generator]")] + text[text.index("[discriminator]"):]
    with pytest.raises(TuinnError, match=r"needs a \[generator\]"):
        load_text(text, "bad.toml")


@pytest.mark.parametrize("gen", ["ring", "gaussians", "line"])
def test_point_generators(gen):
    prog = build_session(small(gen=gen)).program
    x = prog.x
    assert x.shape == (40, 2) and np.isfinite(x).all()
    if gen == "ring":
        np.testing.assert_allclose(np.hypot(x[:, 0], x[:, 1]).mean(), 1.0, atol=0.05)
    if gen == "line":
        assert np.corrcoef(x[:, 0], x[:, 1])[0, 1] > 0.9
    if gen == "gaussians":       # eight modes on the unit circle
        angles = np.round(np.arctan2(x[:, 1], x[:, 0]) / (2 * np.pi / 8)) % 8
        assert len(set(angles.tolist())) == 8


def test_watches_are_refused_with_the_key():
    with pytest.raises(TuinnError) as err:
        build_session(small(extra='\n[debug]\nwatch = ["g_loss"]\n'))
    assert err.value.key == "debug.watch" and err.value.line


def test_check_summarises_the_duel():
    result = CliRunner().invoke(app, ["check", str(SCENARIOS / "gan-collapse.toml")])
    assert result.exit_code == 0, result.output
    assert "generator.dense1" in result.output and "discriminator.dense3" in result.output
    assert "G: momentum lr 0.2, D: adam lr 0.01" in " ".join(result.output.split())


# ------------------------------------------------------------------ the map
def test_arrows_point_where_the_push_goes():
    from tuinn.tui.render.gan_map import arrow
    assert [arrow(1, 0), arrow(1, 1), arrow(0, 1), arrow(-1, 0), arrow(0, -1)] == \
        ["→", "↗", "↑", "←", "↓"]


def test_the_map_draws_points_and_an_arrow_beside_each_generated_point():
    from rich.console import Console
    from tuinn.tui.render.gan_map import GanMap
    grid = np.full((10, 20), 0.9)                       # D: "real" everywhere
    m = GanMap(grid, real=np.array([[-0.8, 0.8]]), fake=np.array([[0.0, 0.0]]),
               push=np.array([[1.0, 0.0]]), extent=(-1, 1, -1, 1), mono=True)
    console = Console(width=20, record=True, color_system=None)
    console.print(m)
    rows = console.export_text().splitlines()
    fake_row = next(r for r in rows if "◆" in r)
    assert fake_row[fake_row.index("◆") + 1] == "→"
    assert any("●" in r for r in rows) and "+" in rows[0]     # mono: D says real
    assert "G's" in rows[-1]


def test_the_presenter_shows_the_push_after_the_generator_backward_step():
    from tuinn.tui.present_gan import GanPresenter
    session = build_session(small(d_steps=1))
    prog = session.program
    pres = GanPresenter(prog)
    start = pres.frame(session, (8, 16))
    assert start.push is None and start.which == "G(z) now" and start.grid.shape == (8, 16)
    back = next(st.index for st in prog.steps if st.phase == "backward" and st.node == "gen")
    session.goto(session.tick_of(back) + 1)
    f = pres.frame(session, (8, 16))
    np.testing.assert_array_equal(f.push, -session.tape.grads["gen"])
    np.testing.assert_array_equal(f.fake, session.tape.values["gen"])
    assert dict(f.rows)["g_loss"] != "?"
    np.testing.assert_allclose(f.grid[0, 0], prog.discriminate(
        np.array([[pres.extent[0], pres.extent[3]]]))[0])
    assert dict(start.rows)["d_loss"] == "?"              # nothing run yet
    for _ in range(3):                                    # run mode: no step on the tape
        prog.train_iteration()
    session.sync()
    rows = dict(pres.frame(session, (8, 16)).rows)
    assert rows["d_loss"].endswith("(it 2)") and rows["g_loss"].startswith(
        f"{float(prog.g_losses[2]):.4g}"[:4])


def test_a_data_shape_that_does_not_fit_the_discriminator_names_its_input():
    text = SMALL.format(d_steps=1, gen="ring").replace(
        "[discriminator]\ninput = [2]", "[discriminator]\ninput = [3]")
    with pytest.raises(TuinnError) as err:
        build_session(load_text(text, "bad.toml"))
    assert err.value.key == "discriminator.input" and err.value.line
    assert "[discriminator] input" in err.value.message


def test_cli_errors_exit_2_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.format(d_steps=1, gen="rings"))
    result = CliRunner().invoke(app, ["check", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "did you mean 'ring'" in result.output


def test_the_status_shows_both_losses():
    from tuinn.tui.present_gan import losses_text
    session = build_session(small(d_steps=1))
    assert losses_text(session) == "D loss ? · G loss ?"
    session.run_to_end()
    tape = session.tape
    from tuinn import fmt
    assert losses_text(session) == (f"D loss {fmt.num(tape.extra['d_loss'], 4)} · "
                                    f"G loss {fmt.num(tape.extra['g_loss'], 4)}")
