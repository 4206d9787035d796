"""`tuinn trace --json` of attention and bidirectional recurrent networks against cases
computed here with PyTorch (nn.MultiheadAttention, bidirectional nn.RNN/LSTM/GRU), in
float64 and float32: the loss, every parameter and its gradient (L2 included) over two
SGD iterations, compared as the contract cases are (tests/contract_compare.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import contract_compare as C
from tuinn.cli import app

torch = pytest.importorskip("torch")
F = torch.nn.functional
import torch_reference as R  # noqa: E402  (needs torch)

LR, L2, ITERATIONS = 0.3, 0.01, 2


def cli(argv):
    r = CliRunner().invoke(app, [str(a) for a in argv])
    return r.exit_code, r.stdout, r.stderr


def toml_array(a) -> str:
    return json.dumps(np.asarray(a).tolist())          # JSON arrays of numbers are TOML


class Attn:
    """attention (heads, causal) on (N, T, D) -> dense on every step."""

    def __init__(self, heads, causal, T=4, D=6, out=3):
        self.heads, self.causal, self.T, self.D, self.out = heads, causal, T, D, out

    def layers(self):
        return (f'[[model.layers]]\ntype = "attention"\nheads = {self.heads}\n'
                f'causal = {str(self.causal).lower()}\n'
                f'[[model.layers]]\ntype = "dense"\nunits = {self.out}\n')

    def params(self, rng):
        D = self.D
        p = {f"attention1.{k}": rng.normal(0, 0.5, (D, D)) for k in ("Wq", "Wk", "Wv", "Wo")}
        p.update({f"attention1.{k}": rng.normal(0, 0.2, D) for k in ("bq", "bk", "bv", "bo")})
        p["dense1.W"] = rng.normal(0, 0.5, (D, self.out))
        p["dense1.b"] = rng.normal(0, 0.2, self.out)
        return p

    def forward(self, t, x):
        y = R.attention(t, "attention1", x, self.heads, self.causal)
        return y @ t["dense1.W"] + t["dense1.b"]


class BiRec:
    """a bidirectional rnn/lstm/gru -> dense (every step or the final states)."""

    def __init__(self, cell, seq, T=4, I=3, H=2, out=3):
        self.cell, self.seq, self.T, self.D, self.H, self.out = cell, seq, T, I, H, out

    def layers(self):
        return (f'[[model.layers]]\ntype = "{self.cell}"\nhidden = {self.H}\n'
                f'bidirectional = true\nreturn_sequences = {str(self.seq).lower()}\n'
                f'[[model.layers]]\ntype = "dense"\nunits = {self.out}\n')

    def params(self, rng):
        G = {"rnn": 1, "lstm": 4, "gru": 3}[self.cell] * self.H
        p = {}
        for s in ("", "_r"):
            p[f"{self.cell}1.Wx{s}"] = rng.normal(0, 0.6, (self.D, G))
            p[f"{self.cell}1.Wh{s}"] = rng.normal(0, 0.6, (self.H, G))
            for b in (("bx", "bh") if self.cell == "gru" else ("b",)):
                p[f"{self.cell}1.{b}{s}"] = rng.normal(0, 0.3, G)
        p["dense1.W"] = rng.normal(0, 0.5, (2 * self.H, self.out))
        p["dense1.b"] = rng.normal(0, 0.2, self.out)
        return p

    def forward(self, t, x):
        h = R.recurrent(t, f"{self.cell}1", self.cell, x, self.H, True, self.seq)
        return h @ t["dense1.W"] + t["dense1.b"]


CASES = {
    "attn3-causal": Attn(3, True),
    "attn2": Attn(2, False, T=5, D=4),
    "attn1-causal-t1": Attn(1, True, T=1, D=2),
    "birnn-seq": BiRec("rnn", True),
    "bilstm-last": BiRec("lstm", False),
    "bigru-seq": BiRec("gru", True),
    "bigru-last": BiRec("gru", False),
}


def expected(case, params, x, y, dtype):
    """The history of ITERATIONS SGD steps, computed with torch."""
    tdt = torch.float64 if dtype == "float64" else torch.float32
    t = {k: torch.tensor(v, dtype=tdt, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x, dtype=tdt)
    history = []
    for i in range(ITERATIONS):
        out = case.forward(t, xt)
        if out.ndim == 3:                          # softmax_ce on every step
            data = F.cross_entropy(out.reshape(-1, out.shape[-1]),
                                   torch.tensor(y).reshape(-1))
        else:
            data = F.cross_entropy(out, torch.tensor(y))
        reg = sum((p ** 2).sum() for k, p in t.items() if k.split(".")[1].startswith("W"))
        loss = data + L2 * reg
        for p in t.values():
            p.grad = None
        loss.backward()
        history.append({"iteration": i, "loss": float(loss.detach()),
                        "params": {k: {"value": p.detach().numpy().astype(np.float64).tolist(),
                                       "grad": p.grad.numpy().astype(np.float64).tolist()}
                                   for k, p in t.items()}})
        with torch.no_grad():
            for p in t.values():
                p -= LR * p.grad
    return history


def scenario(name, case, params, x, y, dtype) -> str:
    lines = "\n".join(f'"{k}" = {toml_array(v)}' for k, v in params.items())
    return f"""[scenario]
name = "{name}"
kind = "network"
seed = 0
dtype = "{dtype}"
[data]
x = {toml_array(x)}
y = {toml_array(y)}
[model]
input = [{case.T}, {case.D}]
{case.layers()}
[params]
{lines}
[loss]
type = "softmax_ce"
l2 = {L2}
[optimizer]
type = "sgd"
lr = {LR}
[train]
epochs = 5
shuffle = false
"""


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(CASES))
def test_trace_matches_pytorch(name, dtype, tmp_path):
    case = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    params = {k: np.round(v, 3) for k, v in case.params(rng).items()}
    N = 3
    x = np.round(rng.normal(size=(N, case.T, case.D)), 3)
    seq = isinstance(case, Attn) or case.seq
    y = rng.integers(0, case.out, size=(N, case.T) if seq else N)
    if dtype == "float32":      # both sides start from the same float32 numbers
        params = {k: v.astype(np.float32).astype(np.float64) for k, v in params.items()}
        x = x.astype(np.float32).astype(np.float64)
    toml = tmp_path / f"{name}.toml"
    toml.write_text(scenario(name, case, params, x, y, dtype), encoding="utf-8")
    tol = dict(rtol=1e-9, atol=1e-11) if dtype == "float64" else dict(rtol=2e-4, atol=2e-5)
    exp = {"iterations": ITERATIONS, "history": expected(case, params, x, y, dtype), **tol}
    bad = C.check_network(cli, toml, exp)
    assert not bad, "\n".join(bad[:12])
