"""Provides the layer-level picture's data, read off the session on the engine thread:
each layer's name, type, output shape, parameter count, the summary of its output for the
current phase, and the gradient-flow figures (‖∇‖ of its parameters, of its output, and
the update/weight ratio of the last optimizer step)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tuinn import fmt
from tuinn.engine.network import INPUT, LOSS
from tuinn.engine.session import Session
from tuinn.tui.render.flow import short


@dataclass
class LayerItem:
    """One box of the picture (the input, a layer, the loss)."""
    id: str
    name: str                    # display text, already made safe
    type: str
    shape: str = ""              # per-sample output shape, "(16)"
    params: int = 0
    out: str = ""                # the output's value (forward) or ∇ (backward) summary
    grad_norm: float | None = None   # ‖∇‖ over the layer's parameters
    edge_norm: float | None = None   # ‖∂loss/∂output‖, the edge leaving the box
    ratio: float | None = None       # ‖Δw‖/‖w‖ of the last optimizer step
    frozen: bool = False
    children: list["LayerItem"] = field(default_factory=list)    # a residual block's layers

    @property
    def residual(self) -> bool:
        return self.type == "residual"


@dataclass
class LayerPicture:
    items: list[LayerItem]
    grads_shown: bool = False    # edges carry ∇ summaries (backward pass and after)
    ratio_note: str = ""         # where the update ratios come from

    def ids(self) -> list[str]:
        """Every box in selection order (a block's layers after the block)."""
        out: list[str] = []

        def walk(items):
            for it in items:
                out.append(it.id)
                walk(it.children)
        walk(self.items)
        return out


def _norm(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.sum(a * a)))


def _joint(arrays) -> float | None:
    arrays = [a for a in arrays if a is not None]
    if not arrays:
        return None
    return float(np.sqrt(sum(_norm(a) ** 2 for a in arrays)))


def _shape(shape) -> str:
    return "(" + ",".join(str(d) for d in shape) + ")"


def value_text(a) -> str:
    """A tensor's mean without its (batch) shape, which the box already gives: "μ=0.12",
    with "3✗" for 3 values that are not finite; a scalar's value."""
    a = np.asarray(a, dtype=np.float64)
    if a.size == 1:
        return short(float(a.reshape(-1)[0]))
    finite = a[np.isfinite(a)]
    bad = a.size - finite.size
    return "μ=" + (short(float(finite.mean())) if finite.size else "nan") + (f" {bad}✗" if bad else "")


def norm_text(g) -> str:
    """A gradient's Euclidean norm: "‖0.12‖" (a scalar: its value)."""
    g = np.asarray(g, dtype=np.float64)
    return short(float(g.reshape(-1)[0])) if g.size == 1 else "‖" + short(_norm(g)) + "‖"


def _grad_text(g) -> str:
    """A gradient's Euclidean norm: "∇‖0.12‖"."""
    return "∇" + norm_text(g)


def _ratios(session: Session) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    """(parameter -> (before, after)) of the latest optimizer step, and where from."""
    prog, tape = session.program, session.tape
    before = tape.extra.get("before", {})
    pairs = {k: (before[k], tape.values[k]) for k in before if k in tape.values}
    if pairs:
        return pairs, "this iteration's update"
    hist = prog.history[-1] if prog.history else None
    if hist is not None and hist.iteration == prog.start.iteration - 1 and len(hist.params):
        return {k: (hist.params[k], prog.start.params[k]) for k in prog.param_layers
                if k in hist.params and k in prog.start.params}, "the last iteration's update"
    return {}, "no update yet: run the update pass (f) or an iteration (i)"


def layer_picture(session: Session) -> LayerPicture:
    prog, tape = session.program, session.tape
    grads_shown = bool(tape.grads)
    pairs, note = _ratios(session)

    def out_text(node: str) -> str:
        if grads_shown:
            g = tape.grads.get(node)
            return "" if g is None else _grad_text(g)
        v = tape.values.get(node)
        return "" if v is None else value_text(v)

    def edge(node: str) -> float | None:
        g = tape.grads.get(node)
        return None if g is None else _norm(g)

    def item(layer) -> LayerItem:
        keys = [f"{layer.name}.{k}" for k in layer.params]
        it = LayerItem(layer.name, fmt.safe(layer.name, 24), layer.type, _shape(layer.out_shape),
                       layer.param_count(), out_text(layer.name),
                       _joint([tape.grads.get(k) for k in keys]), edge(layer.name),
                       frozen=not getattr(layer, "trainable", True)
                       or layer.options.get("trainable", True) is False)
        moved = [pairs[k] for k in keys if k in pairs]
        if moved:
            w = _joint([b for b, _ in moved])
            dw = _joint([np.asarray(a, np.float64) - np.asarray(b, np.float64) for b, a in moved])
            it.ratio = (dw / w) if w else (float("inf") if dw else 0.0)
        inner = layer.children() if hasattr(layer, "children") else layer.sublayers()
        it.children = [item(sub) for sub in inner] if layer.type == "residual" else []
        return it

    items = [LayerItem(INPUT, "input", "input", _shape(prog.input_shape), 0, out_text(INPUT),
                       edge_norm=edge(INPUT))]
    items += [item(layer) for layer in prog.layers]
    loss = tape.values.get(LOSS)
    items.append(LayerItem(LOSS, "loss", fmt.safe(prog.loss.type, 16), "",
                           out="" if loss is None else "= " + fmt.num(loss, 4)))
    return LayerPicture(items, grads_shown, note)
