"""Provides FitCircuit: one circuit, laid out in the most detailed form that fits a panel.

The forms, most detailed first (LAYOUTS): 3-row boxes with each edge's value above its
wire and gradient below; compact boxes (`[exp]`); either wrapped into bands (a long
circuit continues below: one crossing edge through a ╮ ╭──╯ ╰──▶ wire, several each
ending in "▶ name" and starting the next band as `name`); "value ∇grad" inline on each
wire; inline with no blank rows; a tensor's mean without its shape; finally only the
current gate's edges labelled (the inspector shows every number). Each compact form is
also tried with the inputs beside their first gate. `fit(width, height)` returns the
first that fits, else the least detailed one, which the panel scrolls (always to the
current node). `full()` is the 3-row form at its natural size (the `z` key's view).
Bounded work: a step replays the plan found (label widths within their reserve change
nothing); a search gives up on detail after SEARCH_WORK nodes laid out; a graph of more
than LARGE nodes goes straight to LAST_RESORT (no labels), laid out once per panel width,
and each frame (fit or full) draws only the bands around the node in view.
Text layout only, no math.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace

from rich.cells import cell_len
from rich.style import Style

from tuinn.tui.render.circuit import GRAD_PREFIX, CircuitDiagram, DiagramNode, EdgeLabel
from tuinn.tui.render.circuit_bands import Bands, _left_of


@dataclass(frozen=True)
class Layout:
    name: str                   # shown in the panel's subtitle
    compact: bool = True
    inline: bool = False
    row_gap: int | None = None
    wire_pad: int = 1           # inline: wire cells before a label
    current_only: bool = False  # label only the current gate's edges
    bands: bool = False         # may wrap the columns into bands
    short: bool = False         # abbreviated labels (a tensor's mean without its shape)
    near: bool = False          # each input just left of its first user
    no_labels: bool = False     # label no edge


LAYOUTS = [
    Layout("boxes", compact=False),
    Layout("compact"),
    Layout("boxes, wrapped", compact=False, bands=True),
    Layout("compact, wrapped", bands=True),
    Layout("inline labels", inline=True, row_gap=1, bands=True),
    Layout("inline labels, tight", inline=True, row_gap=1, wire_pad=0, bands=True),
    Layout("dense", inline=True, row_gap=0, bands=True),
    Layout("dense, tight", inline=True, row_gap=0, wire_pad=0, bands=True),
    Layout("short labels", inline=True, row_gap=1, bands=True, short=True),
    Layout("dense, short labels", inline=True, row_gap=0, wire_pad=0, bands=True, short=True),
    Layout("current gate's labels", inline=True, row_gap=0, wire_pad=0, current_only=True,
           bands=True, short=True),
]
#: a graph too large to search the layouts for: no labels at all (the inspector has them),
#: the same drawing whichever gate is current, so a step replays it
LAST_RESORT = Layout("no labels (large graph)", inline=True, row_gap=0, wire_pad=0, bands=True,
                     short=True, no_labels=True)
#: the nodes one search may lay out (summed over every drawing it tries) before it gives up
#: on detail and goes to LAST_RESORT: a few hundred gates, far more than a bundled graph
SEARCH_WORK = 6000
#: nodes above which the search is skipped: the graph cannot fit with labels anyway
LARGE = 120
#: a large graph draws the band holding the node in view and this many either side
WINDOW = 4


_PLANS: dict[tuple, tuple] = {}      # (circuit, label widths, panel size) -> the layout found


def _from_guess(options: list[int], fitting, k: int):
    """(cut, band): the widest of `options` (widest first) that `fitting` makes a band
    for, trying the guess options[k] first, then wider ones while they fit, or else
    narrower ones. Two or three tries a band where widest-first takes five."""
    if not options:
        return None
    if (band := fitting(options[k])) is not None:
        found = (options[k], band)
        for c in reversed(options[:k]):
            if (band := fitting(c)) is None:
                break
            found = (c, band)
        return found
    for c in options[k + 1:]:
        if (band := fitting(c)) is not None:
            return c, band
    return None


def _grad_cells(grad: str | None) -> int:
    return 0 if grad is None else cell_len(GRAD_PREFIX + grad)


class FitCircuit:
    """A circuit's data and styles; `fit` and `full` lay it out (cached per panel size)."""

    def __init__(self, nodes: list[DiagramNode], output: str, labels: dict[str, EdgeLabel],
                 current: str | None = None, selected: str | None = None,
                 output_name: str | None = None, min_label_width: int = 0,
                 label_reserve: dict[str, tuple[int, ...]] | None = None, **styles):
        """min_label_width: the least label width of the full-size form (`full`).
        label_reserve: per node, the cells its value and "∇grad" labels will take (say,
        at the end of the pass), and then those of their short forms, so the chosen
        layout does not change while stepping."""
        self.nodes, self.output, self.labels = nodes, output, labels
        self.current, self.selected, self.output_name = current, selected, output_name
        self.min_label_width, self.label_reserve = min_label_width, label_reserve or {}
        self.styles = styles
        self._by_id = {n.id: n for n in nodes}
        self._cache: dict = {}
        self.work = 0                 # nodes laid out so far, over every drawing tried
        self._budget = math.inf       # the work at which the search gives up on detail

    def full(self) -> CircuitDiagram:
        if len(self.nodes) > LARGE:
            from tuinn.tui.render.circuit_large import full_large
            return full_large(self)
        d = self._build(LAYOUTS[0], self.nodes, self.output, self.output_name, full=True)
        d.layout = "full size"
        return d

    def fit(self, width: int, height: int):
        """The most detailed layout whose drawing fits width x height cells."""
        key = (width, height)
        if key not in self._cache:
            self._cache[key] = self._fit(width, height)
        return self._cache[key]

    def _fit(self, width: int, height: int):
        """Search the candidates, or replay the plan found for the same circuit, label
        widths and panel size (stepping changes neither, so a step lays out only once)."""
        if len(self.nodes) > LARGE:
            from tuinn.tui.render.circuit_large import fit_large
            return fit_large(self, width)
        shape = (tuple(self.nodes), self.output, self.output_name, self._widths(), width, height)
        plan = _PLANS.get(shape + (self.current,)) or _PLANS.get(shape)
        if plan is None or plan[0] == "skip":             # ("skip", n): the first n never fit
            plan, drawing = self._search(width, height, skip=plan[1] if plan else 0)
            if plan[0].current_only:                       # depends on the current gate
                _PLANS[shape + (self.current,)] = plan
                _PLANS[shape] = ("skip", next(i for i, lay in enumerate(self.candidates())
                                              if lay.current_only))
            else:
                _PLANS[shape] = plan
            while len(_PLANS) > 256:
                _PLANS.pop(next(iter(_PLANS)))
            return drawing
        layout, home, specs, name = plan
        if specs is None:
            drawing = self._build(layout, self.nodes, self.output, self.output_name)
        else:
            bands = [self._band(layout, home, *spec) for spec in specs]
            edge = self.styles.get("edge_style", "")
            drawing = Bands(bands, [()] + [tuple(spec[3]) for spec in specs[:-1]],
                            edge if isinstance(edge, Style) else Style.parse(edge))
        drawing.layout = name
        return drawing

    def _widths(self) -> tuple:
        """What the layout depends on besides the graph: the cells each edge's labels
        take, long and short (the reserve, or the label if wider). Numbers arriving
        within the reserve change nothing, so a step replays the plan."""
        out = []
        for n in self.nodes:
            lab = self.labels.get(n.id) or EdgeLabel()
            short = lab.short or (lab.value, lab.grad)
            r = self.label_reserve.get(n.id) or (0, 0)
            cells = (cell_len(lab.value), _grad_cells(lab.grad), cell_len(short[0]),
                     _grad_cells(short[1]))
            out.append(tuple(max(c, w) for c, w in zip(cells, r[:2] + (r[2:4] or r[:2]))))
        return tuple(out)

    def _search(self, width: int, height: int, skip: int = 0):
        """(plan, drawing): the first candidate that fits, else the last one tried. A large
        graph, or a search that has laid out SEARCH_WORK nodes, goes to LAST_RESORT."""
        fallback = None
        todo = self.candidates()[skip:] if len(self.nodes) <= LARGE else [LAST_RESORT]
        self._budget = self.work + SEARCH_WORK
        while todo:
            layout = todo.pop(0)
            if layout is LAST_RESORT:
                self._budget = math.inf
            elif self.work + len(self.nodes) > self._budget:
                todo = [LAST_RESORT]
                continue
            one = self._build(layout, self.nodes, self.output, self.output_name)
            w, h = one.size()
            if w <= width and h <= height:
                one.layout = layout.name
                return (layout, None, None, layout.name), one
            fallback = (layout, None, None, ""), one
            if layout.bands and w > width:
                banded = self._banded(layout, one, width)
                if banded is not None:
                    banded.layout = layout.name
                    if banded.size()[1] <= height:
                        return (layout, *banded.plan, layout.name), banded
                    fallback = (layout, *banded.plan, ""), banded
        self._budget = math.inf
        plan, drawing = fallback
        drawing.layout = "too large to fit: scrolls"
        return plan[:3] + (drawing.layout,), drawing

    def candidates(self) -> list[Layout]:
        """The layouts `fit` tries, in order: LAYOUTS, each compact one also with the
        inputs beside their gates when some input is first used late."""
        if len(self.nodes) > LARGE:
            return [LAST_RESORT]
        late = self._late_inputs()
        return [v for lay in LAYOUTS for v in
                ([lay, replace(lay, name=lay.name + ", inputs by their gates", near=True)]
                 if late and lay.compact else [lay])]

    def _late_inputs(self) -> bool:
        """Whether some input is first used after the first column of gates."""
        first = {a for n in self.nodes if n.kind == "gate"
                 and all(self._by_id[a].kind == "input" for a in n.args) for a in n.args}
        used = {a for n in self.nodes for a in n.args}
        return any(n.kind == "input" and n.id not in first and n.id in used for n in self.nodes)

    # ---- bands ---------------------------------------------------------------------------
    def _banded(self, layout: Layout, whole: CircuitDiagram, width: int) -> Bands | None:
        """Wrap `whole`'s columns into bands no wider than `width`. A cut may cross one
        computed edge (wired on to the next band) and any inputs used only after it (they
        move to the next band's left edge); None if no cuts make every band fit."""
        plan = self._band_plan(whole)
        bands, specs = [], []
        for part in self._band_parts(layout, width, plan):
            if part is None:
                return None
            bands.append(part[0])
            specs.append(part[1])
        edge = self.styles.get("edge_style", "")
        banded = Bands(bands, [spec[2] for spec in specs],
                       edge if isinstance(edge, Style) else Style.parse(edge))
        banded.plan = (plan[1], specs)
        return banded

    def _band_plan(self, whole: CircuitDiagram) -> tuple:
        """(last column, each node's home column, the cuts: gap -> the computed edges
        crossing it, each column's x in `whole`)."""
        cols = whole.columns()
        last = len(cols) - 2                           # the column of the rightmost node
        col = {n.id: whole.column_of(n.id) for n in self.nodes}
        users: dict[str, list[int]] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for a in n.args:
                users[a].append(col[n.id])
        home = {n.id: min(users[n.id], default=0) if n.kind == "input" else col[n.id]
                for n in self.nodes}                   # an input stands with its first user
        cuts: dict[int, list[str]] = {}              # gap -> the computed edges crossing it
        for c in range(last):
            carried = [n for n in cols[c][1]
                       if not (self._by_id[n].kind == "input" and home[n] > c)]
            if carried:
                cuts[c] = carried
        return last, home, cuts, [x for x, _ in cols] + [whole.size()[0]]

    def _band_parts(self, layout: Layout, width: int, plan: tuple):
        """The bands, first to last, as (band, _band's arguments); None (and no more)
        where no cut makes a band fit. A generator: a large graph's window takes only
        the bands it shows."""
        last, home, cuts, xs = plan
        cut_cols = sorted(cuts)

        def est(first: int, end: int) -> int:
            """About the width of columns first..end-1 as a band, less a margin: a band
            can come out narrower than its part of the whole (fewer tracks, names)."""
            return xs[end] - xs[first] - 12

        into: tuple[str, ...] = ()                     # the edges the next band continues
        start, over = 0, None                          # over: a band's cells beyond est's
        while True:
            if start > 0 and est(start, last + 1) <= width:    # the rest in one band?
                rest = self._band(layout, home, start, last, into, None)
                if rest is not None and rest.size()[0] + _left_of(rest, into) <= width:
                    yield rest, (start, last, into, None)
                    return
            # the widest band that fits (skipping those the whole's columns say cannot:
            # est grows with c, so those that may fit are the cuts start..widest)
            widest = bisect.bisect_right(xs, width + 12 + xs[start]) - 2
            options = cut_cols[bisect.bisect_left(cut_cols, start):
                               bisect.bisect_right(cut_cols, widest)][::-1]

            def fitting(c: int) -> CircuitDiagram | None:
                band = self._band(layout, home, start, c, into, cuts[c])
                fits = band is not None and band.size()[0] + _left_of(band, into) <= width
                return band if fits else None

            if layout is LAST_RESORT and over is not None:     # a large graph: guess first
                found = _from_guess(options, fitting, next(
                    (i for i, c in enumerate(options) if xs[c + 1] - xs[start] + over <= width),
                    len(options) - 1))
            else:
                found = None
                for c in options:
                    if self.work > self._budget:
                        break                      # the search gives up on this layout
                    if (band := fitting(c)) is not None:
                        found = (c, band)
                        break
            if found is None:
                yield None
                return
            c, band = found
            if layout is LAST_RESORT:
                over = max(over or 0, band.size()[0] + _left_of(band, into)
                           - (xs[c + 1] - xs[start]))
            yield band, (start, c, into, cuts[c])
            into, start = tuple(cuts[c]), c + 1

    def _band(self, layout: Layout, home: dict[str, int], first: int, last: int,
              into: tuple[str, ...], out: list[str] | None) -> CircuitDiagram | None:
        """The nodes of columns first..last. `into`: the edges from the band before, as
        inputs (nameless when one edge is wired in); `out` (None: the circuit's output):
        the edges this band hands on."""
        nodes = [self.nodes[i] for i in self._in_columns(home, first, last)
                 if self.nodes[i].id not in into]
        nodes[:0] = [DiagramNode(n, "" if len(into) == 1 else n, "input") for n in into]
        if out is None:
            outs, name = [self.output], self.output_name
        else:
            outs, name = out, None if len(out) == 1 else out[0]
        try:
            return self._build(layout, nodes, outs[0], name, hidden=set(into), more=outs[1:])
        except ValueError:                             # not a clean cut after all
            return None

    def _in_columns(self, home: dict[str, int], first: int, last: int) -> list[int]:
        """Indices (in order) of the nodes whose home is in columns first..last."""
        if getattr(self, "_home", None) is not home:      # bucketed once per banding
            self._home, self._at = home, {}
            for i, n in enumerate(self.nodes):
                self._at.setdefault(home[n.id], []).append(i)
        return sorted(i for c in range(first, last + 1) for i in self._at.get(c, ()))

    def _build(self, layout: Layout, nodes, output, output_name, hidden=frozenset(),
               full=False, more=()) -> CircuitDiagram:
        self.work += len(nodes)
        labelled = None
        if layout.no_labels:
            labelled = set()
        elif layout.current_only:
            cur = self._by_id.get(self.current) if self.current else None
            labelled = set() if cur is None else {cur.id, *cur.args}
        if hidden:
            labelled = (labelled if labelled is not None else set(self._by_id)) - hidden
        hide = lambda n: None if n in hidden else n  # noqa: E731
        return CircuitDiagram(
            nodes, output, self.labels, current=hide(self.current), selected=hide(self.selected),
            output_name=output_name, compact=layout.compact, labels_inline=layout.inline,
            inputs_near=layout.near, more_outputs=more,
            row_gap=layout.row_gap, wire_pad=layout.wire_pad, label_nodes=labelled,
            min_label_width=self.min_label_width if full else 0,
            short_labels=layout.short, label_reserve=None if full else {
                k: r[2:4] if layout.short and len(r) >= 4 else r[:2]
                for k, r in self.label_reserve.items()}, **self.styles)
