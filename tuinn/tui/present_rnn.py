"""Provides recurrent_view: what the recurrent view shows of an rnn, lstm or gru layer at
the cursor: its gates over time, the selected unit's equations, saturation, and on the
backward pass the gradient norms through time.

Values come from the layer's cache (read only once its step has run in this pass, and
copied), the Tape and the parameters the forward pass used; the only arithmetic is
picking, norms and shares, and the pre-activation sums the equations print.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tuinn.engine.network import INPUT
from tuinn.engine.session import Session
from tuinn.tui.render.plot import compact

CELLS = ("rnn", "lstm", "gru")
SIGMOID_LOW, SIGMOID_HIGH, TANH_HIGH = 0.05, 0.95, 0.95   # saturation thresholds
SATURATED = 0.5                                           # share that flags a gate

#: forward maps per cell: (cache key, label, activation for the saturation share or None)
FORWARD = {
    "rnn": [("h", "hidden h = tanh", "tanh")],
    "lstm": [("i", "input gate", "sigmoid"), ("f", "forget gate", "sigmoid"),
             ("g", "candidate", "tanh"), ("o", "output gate", "sigmoid"),
             ("c", "cell state", None), ("h", "hidden", None)],
    "gru": [("r", "reset gate", "sigmoid"), ("z", "update gate", "sigmoid"),
            ("n", "candidate", "tanh"), ("h", "hidden", None)],
}
#: backward maps per cell: (cache key, label)
BACKWARD = {
    "rnn": [("dh", "total ∂L/∂h_t"), ("da", "at the pre-activation")],
    "lstm": [("dh", "total ∂L/∂h_t"), ("dc", "total ∂L/∂c_t"), ("di", "at i's pre-activation"),
             ("df", "at f's"), ("dg", "at g's"), ("do", "at o's")],
    "gru": [("dh", "total ∂L/∂h_t"), ("dr", "at r's pre-activation"), ("dz", "at z's"),
            ("dn", "at n's")],
}
MAX_INPUT_ROWS = 8          # the input x is shown as a map when it has at most this many features
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass
class Saturation:
    """Share of a gate's entries (batch x time so far x units) in its flat tails."""
    gate: str
    activation: str          # "sigmoid" (< 0.05 or > 0.95) | "tanh" (|x| > 0.95)
    share: float

    @property
    def saturated(self) -> bool:
        return self.share > SATURATED


@dataclass
class GateMap:
    """One heatmap over time x units of sample 0 (rows = units, columns = t = 1..T)."""
    name: str                # cache key: "f", "dh", or "x" for the layer's input
    symbol: str              # what the view calls it: "f", "∇h", "x"
    label: str
    kind: str                # "value" | "grad" | "input"
    values: np.ndarray       # (rows, T); columns outside RecurrentData.shown are 0
    lo: float                # range over the revealed entries (nan when none)
    hi: float
    saturation: Saturation | None = None
    marker: int | None = None  # the ▼ column when not the current t (the backward direction's)


@dataclass
class RecurrentData:
    layer: str
    cell: str                # "rnn" | "lstm" | "gru"
    phase: str               # "forward" | "backward"
    t: int                   # current timestep, 1-based
    T: int
    H: int
    batch: int
    sample: int              # the sample the maps and equations show
    unit: int                # the selected unit (clamped to 0..H-1)
    shown: tuple[int, int]   # revealed columns [a, b), 0-based: forward (0, t), backward (t-1, T)
    maps: list[GateMap] = field(default_factory=list)
    numbers: dict[str, float] = field(default_factory=dict)   # the selected unit's values at t
    equations: list[tuple[str, str]] = field(default_factory=list)   # (text, "value" | "grad")
    saturation: list[Saturation] = field(default_factory=list)
    dh_norm: np.ndarray | None = None     # (T+1,) indexed by t: mean over the batch of ||dL/dh_t||
    dc_norm: np.ndarray | None = None     # lstm; entry 0 and the not yet revealed t are NaN
    gradient_ratio: float | None = None   # ||dL/dh_1|| / ||dL/dh_T|| once revealed down to t = 1
    note: str = ""


def recurrent_layer_of(session: Session) -> str | None:
    """The recurrent layer the cursor's forward or backward step belongs to, if any."""
    step = session.current
    if step is None or step.phase not in ("forward", "backward") or not step.layer:
        return None
    layer = _layers(session).get(step.layer)
    return step.layer if layer is not None and layer.type in CELLS else None


def recurrent_view(session: Session, layer_name: str, unit: int = 0,
                   sample: int = 0) -> RecurrentData | None:
    """The view of `layer_name` at the cursor; None before its forward step has run."""
    layer = _layers(session).get(layer_name)
    if layer is None or layer.type not in CELLS:
        return None
    owner = _owner(session, layer)
    fwd = _step(session, owner.name, "forward")
    bwd = _step(session, owner.name, "backward")
    if fwd is None or not session.executed(fwd.index) or "h" not in layer.cache:
        return None
    T, H, cell = layer.T, layer.H, layer.type
    pos = session.position
    here = pos.step.index if pos.step is not None else -1
    exact = owner is layer           # sub-steps are this layer's timesteps
    if bwd is not None and session.executed(bwd.index) and "dh" in layer.cache:
        phase = "backward"
        t = T - pos.sub if (exact and here == bwd.index) else 1
        shown = (t - 1, T)
    else:
        phase = "forward"
        t = pos.sub + 1 if (exact and here == fwd.index) else T
        shown = (0, t)
    N = layer.cache["h"].shape[0]
    sample = min(max(0, sample), N - 1)
    unit = min(max(0, unit), H - 1)
    cache = {k: np.array(v, dtype=np.float64) for k, v in layer.cache.items()}   # copies
    data = RecurrentData(layer_name, cell, phase, t, T, H, N, sample, unit, shown)
    x = _layer_input(session, layer)
    upto = T if phase == "backward" else t
    for key, label, act in FORWARD[cell]:
        sat = None if act is None else _saturation(key, act, cache[key][:, :upto])
        if sat is not None:
            data.saturation.append(sat)
        if phase == "forward":
            data.maps.append(_map(key, label, "value", cache[key][sample], shown, sat))
    if phase == "forward" and x is not None and x.shape[2] <= MAX_INPUT_ROWS:
        data.maps.append(_map("x", "the layer input", "input", x[sample], shown, None))
    if phase == "backward":
        for key, label in BACKWARD[cell]:
            data.maps.append(_map(key, label, "grad", cache[key][sample], shown, None))
        data.dh_norm = _norms(cache["dh"], t)
        if cell == "lstm":
            data.dc_norm = _norms(cache["dc"], t)
        if t == 1 and data.dh_norm[T] > 0:
            data.gradient_ratio = float(data.dh_norm[1] / data.dh_norm[T])
    if getattr(layer, "bi", False) and "h_r" in cache:
        _reverse_maps(data, cache, sample, exact and here in (fwd.index, getattr(bwd, "index", -1)))
    pre = _preacts(session, layer, x, cache, sample, t)
    _equations(data, cache, pre)
    flagged = [s.gate for s in data.saturation if s.saturated]
    data.note = f"saturated: {', '.join(flagged)}" if flagged else ""
    return data


def _reverse_maps(data: RecurrentData, cache: dict, sample: int, stepping: bool) -> None:
    """A bidirectional layer's second direction, which runs from t = T down to 1: its maps
    (symbols "←h", "←∇h", ...) each beside the forward direction's, on the same time
    axis, revealed from the right on the
    forward pass; its backward pass (BPTT from t = 1 up) revealed from the left."""
    T, t = data.T, data.t
    if data.phase == "forward":
        keys = [(k, label, "value") for k, label, _ in FORWARD[data.cell]]
        shown, mark = ((T - t, T), T - t) if stepping else ((0, T), 0)
    else:
        keys = [(k, label, "grad") for k, label in BACKWARD[data.cell]]
        shown, mark = ((0, T - t + 1), T - t) if stepping else ((0, T), T - 1)
    for key, label, kind in keys:
        m = _map(key + "_r", label + " (backward direction)", kind, cache[key + "_r"][sample],
                 shown, None)
        m.symbol, m.marker = "←" + (("∇" + key[1:]) if kind == "grad" else key), mark
        at = next((i + 1 for i, f in enumerate(data.maps) if f.name == key), len(data.maps))
        data.maps.insert(at, m)                      # beside the forward direction's map


# ------------------------------------------------------------------ lookups
def _layers(session: Session) -> dict:
    prog = session.program
    return {layer.name: layer for layer in prog._all_layers()}


def _owner(session: Session, layer):
    """The top-level layer whose steps run `layer` (itself, or a residual around it)."""
    for top in session.program.layers:
        if top is layer or layer in top.sublayers():
            return top
    return layer


def _step(session: Session, name: str, phase: str):
    for st in session.steps:
        if st.layer == name and st.phase == phase:
            return st
    return None


def _layer_input(session: Session, layer) -> np.ndarray | None:
    """The layer's input this iteration (N, T, I), when it is a top-level layer."""
    layers = session.program.layers
    for i, top in enumerate(layers):
        if top is layer:
            x = session.tape.values.get(layers[i - 1].name if i else INPUT)
            return None if x is None else np.array(x, dtype=np.float64)
    return None


# ------------------------------------------------------------------ pieces
def _map(key: str, label: str, kind: str, arr: np.ndarray, shown: tuple[int, int],
         sat: Saturation | None) -> GateMap:
    """arr (T, rows) of one sample -> (rows, T) with the columns outside `shown` zeroed."""
    values = np.zeros((arr.shape[1], arr.shape[0]))                 # (rows, T)
    a, b = shown
    values[:, a:b] = arr[a:b].T
    rev = values[:, a:b]
    fin = rev[np.isfinite(rev)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (np.nan, np.nan)
    symbol = "∇" + key[1:] if kind == "grad" else key
    return GateMap(key, symbol, label, kind, values, lo, hi, sat)


def _saturation(key: str, act: str, a: np.ndarray) -> Saturation:
    """a (N, t, H): the share of entries in the flat tails of the activation."""
    if a.size == 0:
        return Saturation(key, act, 0.0)
    if act == "sigmoid":
        flat = (a < SIGMOID_LOW) | (a > SIGMOID_HIGH)
    else:
        flat = np.abs(a) > TANH_HIGH
    return Saturation(key, act, float(flat.mean()))


def _norms(d: np.ndarray, t: int) -> np.ndarray:
    """d (N, T, H) -> (T+1,) by timestep: mean over the batch of each sample's norm,
    revealed from T down to t (NaN elsewhere and at index 0)."""
    T = d.shape[1]
    out = np.full(T + 1, np.nan)
    out[t:] = np.linalg.norm(d[:, t - 1:, :], axis=2).mean(axis=0)
    return out


def _preacts(session: Session, layer, x: np.ndarray | None, cache: dict, n: int,
             t: int) -> dict[str, float]:
    """Pre-activation sums of sample n at timestep t for every unit's gates, from the
    parameters this iteration's forward pass used (the layer's own until its update
    steps run, then the old values the tape keeps); {} when the input is not on the tape."""
    if x is None:
        return {}
    before = session.tape.extra.get("before", {})
    p = {}
    for k, value in layer.params.items():
        old = before.get(f"{layer.name}.{k}") if isinstance(before, dict) else None
        p[k] = np.asarray(value if old is None else old, dtype=np.float64)
    H = layer.H
    xt = x[n, t - 1]                                                 # (I,)
    hp = cache["h"][n, t - 2] if t > 1 else np.zeros(H)              # (H,)
    xs, hs = xt @ p["Wx"], hp @ p["Wh"]                              # (G*H,)
    out: dict[str, np.ndarray] = {}
    if layer.type == "gru":
        xs, hs = xs + p["bx"], hs + p["bh"]
        for j, k in enumerate(("r", "z")):
            out["a_" + k] = xs[j * H:(j + 1) * H] + hs[j * H:(j + 1) * H]
        out["xn"], out["hn"] = xs[2 * H:], hs[2 * H:]
    else:
        names = ("h",) if layer.type == "rnn" else ("i", "f", "g", "o")
        for j, k in enumerate(names):
            sl = slice(j * H, (j + 1) * H)
            out["x_" + k], out["h_" + k], out["b_" + k] = xs[sl], hs[sl], p["b"][sl]
            out["a_" + k] = xs[sl] + hs[sl] + p["b"][sl]
    return out


def _s(t: int) -> str:
    return str(t).translate(_SUB)


def _v(x: float) -> str:
    """A number with 3 significant digits: 0.00213, -6.6e-5, 0.154."""
    return compact(x)


def _n(x: float) -> str:
    """A factor in a product: negatives in parentheses."""
    s = _v(x)
    return f"({s})" if s.startswith("-") else s


def _equations(data: RecurrentData, cache: dict, pre: dict) -> None:
    """Fill data.numbers and data.equations for the selected unit at t (sample data.sample)."""
    n, t, u = data.sample, data.t, data.unit
    k = t - 1
    num = data.numbers
    for key in [key for key, _, _ in FORWARD[data.cell]]:
        num[key] = float(cache[key][n, k, u])
    num["h_prev"] = float(cache["h"][n, k - 1, u]) if t > 1 else 0.0
    for key, v in pre.items():
        num[key] = float(v[u])
    eq = data.equations
    st, sp = _s(t), _s(t - 1)

    def gate(g: str, act: str) -> str:
        a = f"{act}({_v(num['a_' + g])})" if "a_" + g in num else f"{act}(·)"
        return f"{g} = {a} = {_v(num[g])}"

    if data.cell == "lstm":
        num["c_prev"] = float(cache["c"][n, k - 1, u]) if t > 1 else 0.0
        num["tanh_c"] = float(np.tanh(num["c"]))
        eq.append((f"{gate('i', 'σ')}   {gate('f', 'σ')}", "value"))
        eq.append((f"{gate('g', 'tanh')}   {gate('o', 'σ')}", "value"))
        eq.append((f"c{st} = f·c{sp} + i·g = {_n(num['f'])}·{_n(num['c_prev'])} + "
                   f"{_n(num['i'])}·{_n(num['g'])} = {_v(num['c'])}", "value"))
        eq.append((f"h{st} = o·tanh(c{st}) = {_n(num['o'])}·tanh({_v(num['c'])}) = "
                   f"{_v(num['h'])}", "value"))
    elif data.cell == "gru":
        eq.append((f"{gate('r', 'σ')}   {gate('z', 'σ')}", "value"))
        if "xn" in num:
            eq.append((f"n = tanh(x·Wxn + bxn + r·(h{sp}·Whn + bhn)) = tanh({_v(num['xn'])} + "
                       f"{_n(num['r'])}·{_n(num['hn'])}) = {_v(num['n'])}", "value"))
        else:
            eq.append((f"n = tanh(x·Wxn + bxn + r·(h{sp}·Whn + bhn)) = {_v(num['n'])}", "value"))
        eq.append((f"h{st} = (1-z)·n + z·h{sp} = (1-{_n(num['z'])})·{_n(num['n'])} + "
                   f"{_n(num['z'])}·{_n(num['h_prev'])} = {_v(num['h'])}", "value"))
    else:
        if "a_h" in num:
            eq.append((f"h{st} = tanh(x{st}·Wx + h{sp}·Wh + b) = tanh({_v(num['x_h'])} + "
                       f"{_n(num['h_h'])} + {_n(num['b_h'])}) = tanh({_v(num['a_h'])}) = "
                       f"{_v(num['h'])}", "value"))
        else:
            eq.append((f"h{st} = tanh(x{st}·Wx + h{sp}·Wh + b) = {_v(num['h'])}", "value"))
    if data.phase == "backward":
        _grad_equations(data, cache)


def _grad_equations(data: RecurrentData, cache: dict) -> None:
    n, t, u, T = data.sample, data.t, data.unit, data.T
    k = t - 1
    num, eq = data.numbers, data.equations
    st, sn = _s(t), _s(t + 1)
    for key, _ in BACKWARD[data.cell]:
        num[key] = float(cache[key][n, k, u])
    dh = num["dh"]
    if data.cell == "lstm":
        local = num["o"] * (1.0 - num["tanh_c"] ** 2)
        num["dc_local"] = local
        if t < T:
            num["dc_next"] = float(cache["dc"][n, k + 1, u])
            num["f_next"] = float(cache["f"][n, k + 1, u])
            carry = f" + ∇c{sn}·f{sn}"
            nums = f" + {_n(num['dc_next'])}·{_n(num['f_next'])}"
        else:
            carry = nums = ""
        eq.append((f"∇h{st} = {_v(dh)}   ∇c{st} = ∇h{st}·o·(1-tanh²c{st}){carry} = "
                   f"{_n(dh)}·{_n(local)}{nums} = {_v(num['dc'])}", "grad"))
        eq.append(("pre-act ∇  " + "  ".join(f"∇{g} {_v(num['d' + g])}" for g in "ifgo"), "grad"))
    elif data.cell == "gru":
        eq.append((f"∇h{st} = {_v(dh)}   ∇n = ∇h{st}·(1-z)·(1-n²) = {_n(dh)}·"
                   f"(1-{_n(num['z'])})·(1-{_n(num['n'])}²) = {_v(num['dn'])}", "grad"))
        eq.append((f"pre-act ∇  ∇r {_v(num['dr'])}  ∇z {_v(num['dz'])}  ∇n {_v(num['dn'])}",
                   "grad"))
    else:
        eq.append((f"∇h{st} = {_v(dh)}   ∇a{st} = ∇h{st}·(1-h{st}²) = {_n(dh)}·"
                   f"(1-{_n(num['h'])}²) = {_v(num['da'])}", "grad"))
        eq.append(("each step back: ∇h_t-1 = ∇a_t·Whᵀ, so (1-h²)·Wh multiplies at every t",
                   "grad"))
