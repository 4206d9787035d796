"""Provides the conv view's presenter: a conv2d or pool layer at its current sliding
window (inputs, filter, output map, the dot product written out, the output size
formula, gradients on the backward pass, the receptive field), as a ConvData.

All numbers come from tuinn.engine.conv_steps and the layer caches, read only when the
layer's step has executed in this pass; no UI imports (the widget only draws).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field_of

import numpy as np

from tuinn import fmt
from tuinn.engine import conv_steps as cs
from tuinn.errors import TuinnError

CONV_TYPES = ("conv2d", "maxpool", "avgpool")
MAX_TERMS = 9          # a dot product longer than this is written with "…"
HEAD, TAIL = 6, 2      # terms kept before and after the "…"

Rect = tuple[int, int, int, int]            # (row0, row1, col0, col1), half-open


@dataclass
class Grid:
    """One small numeric table: a channel of the input, a filter, an output map."""
    title: str
    values: np.ndarray                      # (rows, cols), already divided by 10**scale
    kind: str = "value"                     # value | grad | param
    scale: int = 0                          # shown = true value / 10**scale (title says ×1e..)
    pad: int = 0                            # border of padding cells (drawn "·")
    window: Rect | None = None              # the current window (highlighted)
    current: tuple[int, int] | None = None  # the cell being written (bold)
    hidden: np.ndarray | None = None        # bool (rows, cols): not written yet (blank)
    winners: tuple[tuple[int, int], ...] = ()   # max pool: the winning input (marked)
    field: Rect | None = None               # receptive field (marked)
    selected: tuple[int, int] | None = None  # the cell whose receptive field is shown


@dataclass
class ConvData:
    layer: str
    type: str                               # conv2d | maxpool | avgpool
    phase: str                              # forward | backward | idle
    title: str                              # phase, window and output cell
    what: str                               # the layer's settings, in words
    k: int                                  # window index, row-major (-1 when idle)
    count: int                              # windows in the layer
    out_shape: tuple[int, int]              # (OH, OW)
    cell: tuple[int, int] | None            # the output position of window k
    selected: tuple[int, int]               # the cell whose receptive field is shown
    filter: int                             # filter (conv) or channel (pool) written out
    filters: int
    grids: list[Grid] = _field_of(default_factory=list)
    lines: list[tuple[str, str]] = _field_of(default_factory=list)   # (text, kind)
    terms: list[tuple[float, float]] = _field_of(default_factory=list)  # conv: (w, x) pairs
    bias: float | None = None
    result: float | None = None             # the cached output at the cell
    formula: list[str] = _field_of(default_factory=list)
    field: cs.Field | None = None
    field_text: str = ""
    winner: tuple[int, int] | None = None   # max pool: input (row, col) of the max
    arrays: dict[str, np.ndarray] = _field_of(default_factory=dict)  # full arrays, for tests


# ---------------------------------------------------------------------- helpers

def _layers(prog) -> dict:
    return {layer.name: layer for layer in prog._all(prog.layers)}


def _owner(prog, layer):
    """The top-level layer whose steps run `layer` (itself, or a residual around it)."""
    for top in prog.layers:
        if top is layer or layer in top.sublayers():
            return top
    return layer


def _state(session, layer) -> tuple[str, int, str]:
    """(phase, window, note): which caches may be read now, at which window."""
    prog = session.program
    top = _owner(prog, layer)
    count = layer.substeps()
    pos = session.position
    step = pos.step
    own = step is not None and top is layer and step.node == layer.name
    if own and step.phase in ("forward", "backward"):
        return step.phase, pos.sub, ""
    names = {layer.name, top.name}
    steps = session.steps
    fwd = [s.index for s in steps if s.phase == "forward" and s.node == top.name]
    bwd = [s.index for s in steps if s.phase == "backward" and s.node == top.name]
    upd = [s.index for s in steps if s.phase == "update" and s.layer in names]
    if any(session.executed(i) for i in upd):
        return "idle", -1, "parameters updated: the windows show again in the next pass"
    if bwd and session.executed(bwd[0]):
        return "backward", count - 1, "backward pass done"
    if fwd and session.executed(fwd[0]):
        return "forward", count - 1, "forward pass done"
    return "idle", -1, "not run yet in this pass"


def _scaled(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Values and the power of ten they are shown in, so that 2 decimals say something
    and every number fits one format ("-9.99"): the largest |value| shown is in [0.1, 10)."""
    a = np.asarray(a, dtype=np.float64)
    finite = np.abs(a[np.isfinite(a)])
    top = float(finite.max()) if finite.size else 0.0
    if top == 0.0 or 0.1 <= top < 9.995:
        return a, 0
    e = int(np.floor(np.log10(top)))
    return a / 10.0 ** e, e


def _grid(title: str, values, kind: str = "value", **kw) -> Grid:
    shown, e = _scaled(values)
    if e:
        title = f"{title} ×1e{e}"
    return Grid(title, shown, kind, scale=e, **kw)


def _n(x: float) -> str:
    """A number with up to 2 decimals ("-0.76", "1.3", "0"); 2 significant digits below
    0.01 ("0.0068"), so that small gradients do not read as 0."""
    x = float(x)
    if not np.isfinite(x) or x == 0 or abs(x) >= 1e5:
        return fmt.num(x, 2)
    if abs(x) < 0.01:
        return f"{x:.2g}"
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _shorten(parts: list[str], sep: str = " + ") -> str:
    """Join terms, with "…" for the middle ones when there are more than MAX_TERMS."""
    if len(parts) <= MAX_TERMS:
        return sep.join(parts)
    hidden = len(parts) - HEAD - TAIL
    return sep.join(parts[:HEAD] + [f"… ({hidden} more)"] + parts[-TAIL:])


def dot_product_text(terms: list[tuple[float, float]], bias: float, result: float) -> str:
    """"(-1)(0.2) + (0)(0.5) + ... + b 0.1 = 0.83", shortened, the total kept."""
    text = _shorten([f"({_n(w)})({_n(x)})" for w, x in terms])
    return f"{text} + b {_n(bias)} = {_n(result)}"


def formula_lines(layer) -> list[str]:
    """The output size formula filled in, once per axis (once if both agree)."""
    K, P, S = layer.kernel, layer.padding, layer.stride
    _, H, W = (int(v) for v in layer.in_shape)
    conv = layer.type == "conv2d"
    sym = "(W - F + 2P) / S + 1" if conv else "(W - F) / S + 1"
    out = []
    axes = [("height and width", W)] if H == W else [("height", H), ("width", W)]
    lines = {"height and width": "row and column", "height": "row", "width": "column"}
    for name, n in axes:
        inner = f"{n} - {K} + 2·{P}" if conv else f"{n} - {K}"
        exact = (n - K + 2 * P) / S + 1
        size = cs.conv_output_size(n, K, P, S)
        text = f"output {name}: {sym} = ({inner}) / {S} + 1 = {_n(exact)}"
        if exact != size:
            left = (n - K + 2 * P) % S
            what = lines[name] if left == 1 else lines[name].replace("row", "rows").replace(
                "column", "columns")
            text += (f" → {size}: rounded down, the last {left} {'padded ' if P else ''}"
                     f"{what} {'is' if left == 1 and name != 'height and width' else 'are'} "
                     "never read")
        out.append(text)
    return out


def _field(session, layer, cell) -> tuple[cs.Field | None, str]:
    prog = session.program
    if layer not in prog.layers:
        return None, "receptive field: shown for top-level layers only"
    index = prog.layers.index(layer)
    try:
        f = cs.receptive_field(prog.layers, index, *cell)
    except TuinnError as err:
        return None, f"receptive field: {err}"
    _, H, W = prog.input_shape
    return f, (f"receptive field of output ({cell[0]}, {cell[1]}): {f.height}x{f.width} "
               f"at rows {f.row0}-{f.row1 - 1}, cols {f.col0}-{f.col1 - 1} "
               f"of the {H}x{W} input")


def _hidden_after(k: int, shape: tuple[int, int]) -> np.ndarray:
    return (np.arange(shape[0] * shape[1]) > k).reshape(shape)


# ---------------------------------------------------------------------- the view

def conv_view(session, layer_name: str | None = None, out_cell: tuple[int, int] | None = None,
              filter: int = 0) -> ConvData | None:
    """The conv view of `layer_name` (default: the current step's layer), or None when
    that is no conv2d/maxpool/avgpool layer. `out_cell` picks the output cell whose
    receptive field is shown (default: the current one); `filter` the filter (conv) or
    channel (pool) whose numbers are written out (taken modulo their count)."""
    prog = session.program
    if layer_name is None:
        step = session.current
        layer_name = step.layer if step is not None else None
    layer = _layers(prog).get(layer_name) if layer_name else None
    if layer is None or layer.type not in CONV_TYPES:
        return None
    phase, k, note = _state(session, layer)
    OH, OW = int(layer.out_shape[1]), int(layer.out_shape[2])
    count = OH * OW
    cell = divmod(k, OW) if k >= 0 else None
    if out_cell is None:
        sel = cell or (0, 0)
    else:
        sel = (min(max(int(out_cell[0]), 0), OH - 1), min(max(int(out_cell[1]), 0), OW - 1))
    n_f = layer.filters if layer.type == "conv2d" else int(layer.in_shape[0])
    f = int(filter) % n_f
    data = ConvData(layer.name, layer.type, phase, "", "", k, count, (OH, OW), cell, sel, f, n_f)
    data.formula = formula_lines(layer)
    data.field, data.field_text = _field(session, layer, sel)
    data.what = (f"conv2d {layer.kernel}x{layer.kernel}, {layer.filters} filters, "
            f"stride {layer.stride}, padding {layer.padding}" if layer.type == "conv2d" else
            f"{layer.type} {layer.size}x{layer.size}, stride {layer.stride}")
    if phase == "idle":
        data.title = f"{layer.name}: {note}"
        if layer.type == "conv2d":
            W = layer.params["W"]
            for c in range(W.shape[1]):
                data.grids.append(_grid(f"W[{f}]" + (f" c{c}" if W.shape[1] > 1 else ""),
                                        W[f, c], "param"))
            data.lines.append((f"b[{f}] = {_n(layer.params['b'][f])}", "param"))
        data.lines += [(t, "formula") for t in data.formula]
        data.lines.append((data.field_text, "field"))
        return data
    done = f"  ({note})" if note else ""
    data.title = f"{phase}: window {k + 1}/{count} → output ({cell[0]}, {cell[1]}){done}"
    if layer.type == "conv2d":
        (_conv_forward if phase == "forward" else _conv_backward)(session, layer, data)
    else:
        (_pool_forward if phase == "forward" else _pool_backward)(session, layer, data)
    data.lines += [(t, "formula") for t in data.formula]
    data.lines.append((data.field_text, "field"))
    return data


def _field_marks(session, layer, data: ConvData, pad: int) -> tuple[Rect | None, list[Grid]]:
    """Where to mark the receptive field: on this layer's input (a first layer: the
    rectangle in its padded coordinates), else on a grid of the network's input
    (sample 0, channel 0) to draw after the others."""
    fld = data.field
    if fld is None:
        return None, []
    prog = session.program
    if prog.layers and prog.layers[0] is layer:
        return (fld.row0 + pad, fld.row1 + pad, fld.col0 + pad, fld.col1 + pad), []
    x = session.tape.values.get("input")
    if x is None:
        return None, []
    chans = x.shape[1]
    title = "network input" + (f" c0 of {chans}" if chans > 1 else "") + ": field"
    return None, [_grid(title, x[0, 0], field=(fld.row0, fld.row1, fld.col0, fld.col1))]


def _conv_forward(session, layer, data: ConvData) -> None:
    win = cs.window(layer, data.k)
    f, P = data.filter, layer.padding
    r0, r1 = win["rows"]
    c0, c1 = win["cols"]
    xp = win["input_padded"]                                  # (C, Hp, Wp)
    C = xp.shape[0]
    rf, extra = _field_marks(session, layer, data, P)
    for c in range(C):
        title = "input" + (f" c{c}" if C > 1 else "") + (f" padded {P}" if P else "")
        data.grids.append(_grid(title, xp[c], pad=P, window=(r0, r1, c0, c1), field=rf))
    y = layer.cache["y"][0, f]                                # (OH, OW)
    sel = data.selected if data.selected != data.cell else None
    data.grids.append(_grid(f"output y[{f}]", y, current=data.cell, selected=sel,
                            hidden=_hidden_after(data.k, data.out_shape)))
    W = win["weights"]                                        # (F, C, K, K)
    for c in range(C):
        data.grids.append(_grid(f"W[{f}]" + (f" c{c}" if C > 1 else ""), W[f, c], "param"))
    data.grids += extra
    data.terms = [(float(w), float(x)) for w, x in zip(W[f].ravel(), win["patch"].ravel())]
    data.bias = float(win["bias"][f])
    data.result = float(win["y"][f])
    oh, ow = data.cell
    data.lines.append((f"y[{f}]({oh}, {ow}) = " +
                       dot_product_text(data.terms, data.bias, data.result), "value"))
    if len(data.terms) > MAX_TERMS or C > 1:
        data.lines.append((f"{len(data.terms)} products ({C} channel(s) × "
                           f"{layer.kernel}x{layer.kernel}) sum to {_n(win['sums'][f])}; "
                           f"+ b {_n(data.bias)} = {_n(data.result)}", "value"))
    data.arrays = {"patch": win["patch"], "products": win["products"][f], "y": y}


def _conv_backward(session, layer, data: ConvData) -> None:
    bw = cs.backward_window(layer, data.k)
    f, P, k = data.filter, layer.padding, data.k
    r0, r1 = bw["rows"]
    c0, c1 = bw["cols"]
    dy = layer.cache["dy"][0, f]                              # (OH, OW)
    N = layer.cache["dy"].shape[0]
    data.grids.append(_grid(f"∇y[{f}] from above", dy, "grad", current=data.cell))
    dXp = bw["dX_padded"][0]                                  # (C, Hp, Wp)
    C = dXp.shape[0]
    for c in range(C):
        title = "∇input" + (f" c{c}" if C > 1 else "") + f" windows 0-{k}"
        data.grids.append(_grid(title, dXp[c], "grad", pad=P, window=(r0, r1, c0, c1)))
    for c in range(C):
        data.grids.append(_grid(f"∇W[{f}]" + (f" c{c}" if C > 1 else "") + f" windows 0-{k}",
                                bw["dW"][f, c], "grad"))
    oh, ow = data.cell
    g = float(bw["dy"][f])
    data.lines += [
        (f"∇y[{f}]({oh}, {ow}) = {_n(g)} (sample 0):  ∇W[{f}] += ∇y · window, summed over the "
         f"{N} samples;  ∇b[{f}] += ∇y, so far {_n(bw['db'][f])}", "grad"),
        (f"∇input window += Σ over {layer.filters} filter(s) of ∇y[f] · W[f]", "grad")]
    if k == data.count - 1:
        data.lines.append(("last window: ∇W and ∇b are the layer's whole gradients, "
                           "∇input the gradient passed down", "grad"))
    data.arrays = {"dW": bw["dW"], "db": bw["db"], "dX": bw["dX"],
                   "dW_step": bw["dW_step"], "dX_step": bw["dX_step_padded"]}


def _pool_forward(session, layer, data: ConvData) -> None:
    pw = cs.pool_window(layer, data.k)
    ch = data.filter
    r0, r1 = pw["rows"]
    c0, c1 = pw["cols"]
    x = layer.cache["x"][0, ch]                               # (H, W)
    winners = ()
    if pw["kind"] == "max":
        data.winner = (int(pw["winner"][ch, 0]), int(pw["winner"][ch, 1]))
        winners = (data.winner,)
    C = int(layer.in_shape[0])
    name = f"input c{ch}" + (f" of {C}" if C > 1 else "")
    rf, extra = _field_marks(session, layer, data, 0)
    data.grids.append(_grid(name, x, window=(r0, r1, c0, c1), winners=winners, field=rf))
    y = layer.cache["y"][0, ch]
    sel = data.selected if data.selected != data.cell else None
    data.grids.append(_grid(f"output c{ch}", y, current=data.cell, selected=sel,
                            hidden=_hidden_after(data.k, data.out_shape)))
    data.grids += extra
    vals = [_n(v) for v in pw["input"][ch].ravel()]
    data.result = float(pw["result"][ch])
    oh, ow = data.cell
    if pw["kind"] == "max":
        wr, wc = data.winner
        data.lines.append((f"y({oh}, {ow}) = max({_shorten(vals, ', ')}) = {_n(data.result)}, "
                           f"the input at ({wr}, {wc})", "value"))
    else:
        Z = layer.size
        data.lines.append((f"y({oh}, {ow}) = ({_shorten(vals)}) / {Z * Z} = {_n(data.result)}",
                           "value"))
    data.arrays = {"window": pw["input"][ch], "mask": pw["mask"][ch]}


def _pool_backward(session, layer, data: ConvData) -> None:
    pb = cs.pool_backward_window(layer, data.k)
    ch, k = data.filter, data.k
    r0, r1 = pb["rows"]
    c0, c1 = pb["cols"]
    data.grids.append(_grid(f"∇y c{ch} from above", layer.cache["dy"][0, ch], "grad",
                            current=data.cell))
    g = float(pb["dy"][ch])
    Z = layer.size
    winners = ()
    if layer.type == "maxpool":
        pw = cs.pool_window(layer, k)
        data.winner = (int(pw["winner"][ch, 0]), int(pw["winner"][ch, 1]))
        winners = (data.winner,)
        wr, wc = data.winner
        data.lines.append((f"∇y({data.cell[0]}, {data.cell[1]}) = {_n(g)}: the max routes all "
                           f"of it to its winner, the input at ({wr}, {wc}); the other "
                           f"{Z * Z - 1} inputs get 0", "grad"))
    else:
        data.lines.append((f"∇y({data.cell[0]}, {data.cell[1]}) = {_n(g)}: the average spreads "
                           f"∇y / {Z * Z} = {_n(g / (Z * Z))} to each of its {Z * Z} inputs",
                           "grad"))
    data.grids.append(_grid(f"∇input c{ch} windows 0-{k}", pb["dX"][0, ch], "grad",
                            window=(r0, r1, c0, c1), winners=winners))
    data.arrays = {"dX": pb["dX"], "dX_step": pb["dX_step"][ch]}
