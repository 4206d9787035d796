"""Provides fit_large and full_large: FitCircuit's path for a graph of more than LARGE nodes.

Such a graph cannot fit with labels, and drawing all of it would cost every frame more
than it shows: it is laid out in LAST_RESORT (no labels; the inspector has the numbers),
once per panel width, into bands made only as far as a frame needs them, and a frame
draws the band holding the node in view (selected, else current) with WINDOW bands
either side. `full_large` draws the same bands in 3-row boxes with every label.
"""

from __future__ import annotations

from rich.style import Style

from tuinn.tui.render.circuit import CircuitDiagram
from tuinn.tui.render.circuit_bands import Bands
from tuinn.tui.render.circuit_fit import LAST_RESORT, LAYOUTS, WINDOW, FitCircuit

_LAID: dict[tuple, "Laid"] = {}       # (circuit, panel width) -> its bands so far


class Laid:
    """A large circuit in LAST_RESORT for one width: the bands made so far, and the
    generator that makes the rest."""

    def __init__(self, fc: FitCircuit, width: int):
        self.width = width
        whole = fc._build(LAST_RESORT, fc.nodes, fc.output, fc.output_name)
        self.whole = whole if whole.size()[0] <= width else None
        self.bands: list[CircuitDiagram] = []
        self.specs: list[tuple] = []
        self.where: dict[str, int] = {}                # node -> its band
        self.plan = fc._band_plan(whole)
        self.parts = None if self.whole else fc._band_parts(LAST_RESORT, width, self.plan)
        self.done = self.parts is None
        self._fallback = whole                         # if no cut makes a band fit

    def band_of(self, node: str) -> int:
        """The band holding `node`, making bands up to it (0 if none holds it)."""
        while node not in self.where and not self.done:
            self._more()
        return self.where.get(node, 0)

    def make(self, n: int) -> None:
        """Make bands until there are n (or all)."""
        while len(self.bands) < n and not self.done:
            self._more()

    def _more(self) -> None:
        part = next(self.parts, None)
        if part is None:                               # the end, or a band that cannot fit
            self.done = True
            if len(self.specs) == 0 or self.specs[-1][3] is not None:
                self.whole, self.bands, self.specs = self._fallback, [], []
            return
        band, spec = part
        self.where.update((n, len(self.bands)) for n in band.nodes if n not in spec[2])
        self.bands.append(band)
        self.specs.append(spec)

    def total(self) -> str:
        """How many bands there are (an estimate, "~", until all are made)."""
        if self.done:
            return str(len(self.bands))
        last, done = self.plan[0] + 1, self.specs[-1][1] + 1
        return f"~{round(len(self.bands) * last / done)}"


def _laid(fc: FitCircuit, width: int) -> Laid:
    """The circuit's Laid for this width, or one for a panel a cell wider (a scrollbar
    came and took a cell); one cell is spared for that scrollbar when laying out."""
    key = (tuple(fc.nodes), fc.output, fc.output_name)
    laid = _LAID.get(key + (width,)) or _LAID.get(key + (width + 1,))
    if laid is None:
        laid = _LAID[key + (width,)] = Laid(fc, max(1, width - 1))
        while len(_LAID) > 4:
            _LAID.pop(next(iter(_LAID)))
    return laid


def _window(fc: FitCircuit, laid: Laid) -> tuple[int, int]:
    """The bands to draw: WINDOW either side of the one holding the node in view."""
    focus = fc.selected or fc.current                 # none yet: the panel's top, band 0
    here = laid.band_of(focus) if focus else 0
    laid.make(max(here + WINDOW, 2 * WINDOW) + 1)
    lo = max(0, min(here - WINDOW, len(laid.bands) - 2 * WINDOW - 1))
    return lo, min(len(laid.bands), lo + 2 * WINDOW + 1)


def _stack(fc: FitCircuit, bands: list[CircuitDiagram], laid: Laid, lo: int, hi: int,
           prefix: str) -> Bands:
    edge = fc.styles.get("edge_style", "")
    drawing = Bands(bands, [spec[2] for spec in laid.specs[lo:hi]],
                    edge if isinstance(edge, Style) else Style.parse(edge))
    total = laid.total()
    drawing.layout = prefix + ("scrolls" if hi - lo == len(laid.bands) and laid.done
                               else f"bands {lo + 1}-{hi} of {total}")
    return drawing


def fit_large(fc: FitCircuit, width: int):
    """The fitted drawing of a large circuit: the window of its bands, painted anew."""
    laid = _laid(fc, width)
    if laid.whole is not None:
        drawing = laid.whole.restyled(fc.labels, fc.current, fc.selected)
        drawing.layout = "too large to fit: scrolls" if laid.whole.size()[0] > width \
            else LAST_RESORT.name
        return drawing
    lo, hi = _window(fc, laid)
    bands = [b.restyled(fc.labels, *(None if n in spec[2] else n
                                     for n in (fc.current, fc.selected)))
             for b, spec in zip(laid.bands[lo:hi], laid.specs[lo:hi])]
    return _stack(fc, bands, laid, lo, hi, "too large to fit: ")


def full_large(fc: FitCircuit):
    """`full` for a large circuit: the bands around the node in view (cut where the
    panel's fitted layout cut them) in 3-row boxes with every label."""
    key = (tuple(fc.nodes), fc.output, fc.output_name)
    laid = next((v for k, v in reversed(_LAID.items()) if k[:3] == key), None) \
        or _laid(fc, 200)
    if laid.whole is not None:
        return fc._build(LAYOUTS[0], fc.nodes, fc.output, fc.output_name, full=True)
    lo, hi = _window(fc, laid)
    home = laid.plan[1]
    bands = [fc._band(LAYOUTS[0], home, *spec) for spec in laid.specs[lo:hi]]
    return _stack(fc, bands, laid, lo, hi, "full size, ")
