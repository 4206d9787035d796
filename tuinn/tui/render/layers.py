"""Provides LayerDiagram: a Rich renderable drawing a network as a chain of layer boxes.

Plain data in (a LayerPicture), text out; no math. Conventions, which tests rely on:
- Left to right: the input, one box per layer (its name in the top border, its type and
  output shape, its parameter count), the loss. The edge leaving a box carries the
  summary of that box's output for the current phase (a value, or "∇‖..‖" backward).
- When the chain is wider than the panel it wraps into rows; the edge from a row's last
  box runs down and back left (┐ ... ┌┘ ... └▶), its label on that return line.
- It picks the most detailed of three levels that fits the width and the height it is
  given: boxes of 4 (5 with flow) rows, boxes of 3 rows, one-line chips `[name shape]`.
- The current step's layer has a heavy border (┏━┓; a chip: reverse), the selected one a
  double border (╔═╗; a chip: underlined), so both read without colour.
- A residual block is a dashed frame around its layers; its skip line leaves before the
  first inner layer (┴), runs above them and comes down into ⊕ after the last one.
- With `flow` ("grad" or "ratio") each box shows a log-scale meter and the number, in
  its band's colour (tuinn.tui.render.flow), edges are coloured by the gradient of the
  tensor they carry, and a two-line legend names the bands and their thresholds.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text

from tuinn.tui.present_layers import LayerItem, LayerPicture
from tuinn.tui.render.flow import SCALES, Scale, meter, short
from tuinn.tui.render.layer_blocks import DIM, Block, hjoin, residual_block

_BORDERS = {"light": "╭╮╰╯─│", "heavy": "┏┓┗┛━┃", "double": "╔╗╚╝═║", "dashed": "╭╮╰╯┄┆"}
FROZEN = " ❄"                  # after a frozen layer's name: its parameters do not train
VALUE_STYLE, GRAD_STYLE = Style(color="green"), Style(color="red")
LEVELS = (0, 1, 2, 3)        # boxes, small boxes, chips, chips with no edge labels
CRUMBS = 4                    # one line of names (only beside an expanded layer)


class LayerDiagram:
    """The network as layer boxes; `lines(width, height)` or render it in a panel."""

    def __init__(self, picture: LayerPicture, current: str | None = None,
                 selected: str | None = None, flow: str | None = None,
                 height: int | None = None, max_level: int = 0):
        """height: the rows there are (None: any); max_level: the most detailed level
        allowed (1 or 2 leave room for something below)."""
        self.picture, self.current, self.selected = picture, current, selected
        self.scale: Scale | None = SCALES.get(flow) if flow else None
        self.height, self.max_level = height, max_level
        self.level = max_level          # the level the last render chose

    # ---- public -----------------------------------------------------------------------
    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines(options.max_width, self.height):
            line.no_wrap, line.overflow, line.end = True, "crop", "\n"
            yield line

    def lines(self, width: int, height: int | None = None) -> list[Text]:
        """The drawing at the most detailed level that fits (else the most compact)."""
        legend = self.legend(width)
        chosen: list[Text] = []
        levels = LEVELS[self.max_level:] + (CRUMBS,)
        for level in levels:
            room = None if height is None else max(1, height - len(legend))
            rows = self.crumbs(width, room) if level == CRUMBS else self.layout(level, width)
            cut = len(rows) == 1 and (rows[0].plain.startswith("… ")
                                       or rows[0].plain.endswith(" …"))
            if level == CRUMBS and self.max_level == 0 and cut and chosen:
                break       # not even the names fit: the chips, scrolled, keep every box
            chosen, self.level = rows, level
            fits_w = all(r.cell_len <= width for r in rows)
            if fits_w and (height is None or len(rows) + len(legend) <= height):
                break
        out = chosen + legend
        for line in out:
            line.truncate(width)
        return out

    def legend(self, width: int) -> list[Text]:
        """Two lines naming the flow bands and their thresholds (none when flow is off)."""
        sc = self.scale
        if sc is None:
            return []
        head = Text("‖∇‖ " if sc.key == "grad" else "‖Δw‖/‖w‖ ", style="bold")
        for i, band in enumerate(sc.bands):
            if i:
                head.append(f" ‹{short(band.low)}› ", style=DIM)
            head.append("■", style=band.colour)
            head.append(band.name, style=Style(color=band.colour, bold=True))
        note = sc.note
        source = self.picture.ratio_note
        if sc.key == "ratio" and source and cell_len(note) + cell_len(source) + 3 <= width:
            note = f"{source} · {note}"
        return [head, Text(note, style=DIM)]

    def crumbs(self, width: int, height: int | None = 1) -> list[Text]:
        """"input ▸ dense1 ▸ relu1 ▸ ... ▸ loss": wrapped onto as many lines as `height`
        allows (None: any), else one line kept around the selected or current box."""
        parts: list[Text] = []

        def walk(items):
            for it in items:
                mark = Style(reverse=True, bold=True) if it.id == self.current else \
                    Style(underline=True, bold=True) if it.id == self.selected else Style()
                band = self.scale.band(self.flow_value(it)) if self.scale is not None else None
                if band is not None:
                    mark += Style(color=band.colour)
                parts.append(Text(it.name + ("[" if it.residual else ""), style=mark))
                walk(it.children)
                if it.residual:
                    parts.append(Text("]⊕x"))

        def joined(a: int, b: int) -> Text:
            line = Text("… " if a else "")
            for i in range(a, b):
                if i > a and not parts[i].plain.startswith("]") \
                        and not parts[i - 1].plain.endswith("["):
                    line.append(" ▸ ", style=DIM)
                line.append_text(parts[i])
            if b < len(parts):
                line.append(" …")
            return line

        walk(self.picture.items)
        wrapped = self.wrap_crumbs(parts, width)
        if len(wrapped) > 1 and (height is None or len(wrapped) <= height):
            return wrapped
        marked = [i for i, p in enumerate(parts)
                  if isinstance(p.style, Style) and (p.style.underline or p.style.reverse)]
        focus = marked[0] if marked else 0
        lo, hi = 0, len(parts)
        while joined(lo, hi).cell_len > width and hi - lo > 1:
            if focus - lo > hi - 1 - focus:
                lo += 1
            else:
                hi -= 1
        return [joined(lo, hi)]

    @staticmethod
    def wrap_crumbs(parts: list[Text], width: int) -> list[Text]:
        """The names joined by " ▸ ", broken between names (a name never splits)."""
        lines = [Text()]
        for i, part in enumerate(parts):
            sep = i > 0 and not part.plain.startswith("]") and \
                not parts[i - 1].plain.endswith("[")
            need = (3 if sep else 0) + part.cell_len
            if lines[-1].cell_len and lines[-1].cell_len + need > width:
                lines.append(Text("▸ ", style=DIM) if sep else Text())
            elif sep:
                lines[-1].append(" ▸ ", style=DIM)
            lines[-1].append_text(part)
        return lines

    # ---- layout -----------------------------------------------------------------------
    def layout(self, level: int, width: int) -> list[Text]:
        items = self.picture.items
        blocks = [self.block(it, level) for it in items]
        rows: list[list[int]] = [[0]]
        x = blocks[0].width
        for i in range(1, len(items)):
            ew = self.edge_width(items[i - 1], level)
            last = i == len(items) - 1
            if x + ew + blocks[i].width + (0 if last else 2) <= width:
                rows[-1].append(i)
                x += ew + blocks[i].width
            else:
                rows.append([i])
                x = 3 + blocks[i].width
        out: list[Text] = []
        for r, row in enumerate(rows):
            parts = [self.lead_in(blocks[row[0]], level)] if r else []
            for j, i in enumerate(row):
                if j:
                    parts.append(self.edge(items[i - 1], blocks[i - 1], level))
                parts.append(blocks[i])
            more = r < len(rows) - 1
            if more:
                parts.append(self.exit(items[row[-1]], blocks[row[-1]]))
            joined = hjoin([p for p in parts])
            out.extend(joined.lines)
            if more:
                out.append(self.return_line(items[row[-1]], joined.width, level))
        return out

    @staticmethod
    def edge_text(it: LayerItem, level: int) -> str:
        return it.out if it.id != "loss" and level < 3 else ""

    def edge_width(self, it: LayerItem, level: int) -> int:
        label = self.edge_text(it, level)
        return cell_len(label) + 4 if label else 3

    def edge_style(self, it: LayerItem) -> Style:
        if self.scale is not None and self.scale.key == "grad" and it.edge_norm is not None:
            return Style(color=self.scale.band(it.edge_norm).colour)
        return Style()

    def label_style(self, it: LayerItem) -> Style:
        if self.scale is not None and self.scale.key == "grad" and it.edge_norm is not None:
            return Style(color=self.scale.band(it.edge_norm).colour, bold=True)
        return GRAD_STYLE if self.picture.grads_shown else VALUE_STYLE

    def edge(self, it: LayerItem, src: Block, level: int) -> Block:
        """The edge after `it`: "─ label ─▶" on the port row."""
        st, label = self.edge_style(it), self.edge_text(it, level)
        line = Text("─", style=st)
        if label:
            line.append(" ")
            line.append(label, style=self.label_style(it))
            line.append(" ")
        line.append("─▶", style=st)
        return Block([line], 0)

    def exit(self, it: LayerItem, src: Block) -> Block:
        """The end of a wrapped row: "─┐" on the port row, "│" below it."""
        st = self.edge_style(it)
        lines = [Text("  ") for _ in range(src.port)]
        lines.append(Text("─┐", style=st))
        lines += [Text(" │", style=st) for _ in range(src.height - src.port - 1)]
        return Block(lines, src.port)

    def return_line(self, it: LayerItem, row_width: int, level: int) -> Text:
        """"┌── label ──┘" under a wrapped row, ending under its exit."""
        st, label = self.edge_style(it), self.edge_text(it, level)
        inner = row_width - 2
        line = Text("┌", style=st)
        if label and cell_len(label) + 2 <= inner:
            left = (inner - cell_len(label) - 2) // 2
            line.append("─" * left, style=st)
            line.append(f" {label} ", style=self.label_style(it))
            line.append("─" * (inner - left - cell_len(label) - 2), style=st)
        else:
            line.append("─" * inner, style=st)
        line.append("┘", style=st)
        return line

    def lead_in(self, first: Block, level: int) -> Block:
        """The start of a wrapped row: "│" down from the return line, then "└─▶"."""
        lines = [Text("│  ") for _ in range(first.port)]
        lines.append(Text("└─▶"))
        lines += [Text("   ") for _ in range(first.height - first.port - 1)]
        return Block(lines, first.port)

    # ---- boxes ------------------------------------------------------------------------
    def block(self, it: LayerItem, level: int) -> Block:
        if it.residual:
            return self.residual(it, level)
        if level >= 2:
            return Block([self.chip(it)], 0)
        return self.box(it, level)

    def flow_value(self, it: LayerItem) -> float | None:
        if self.scale is None:
            return None
        return it.grad_norm if self.scale.key == "grad" else it.ratio

    def flow_line(self, it: LayerItem) -> tuple[str, Style]:
        """The meter and the number for a box, in its band's colour."""
        sc = self.scale
        assert sc is not None
        if it.id in ("input", "loss"):
            return "", Style()
        if it.frozen:
            return "frozen", DIM
        if not it.params:
            return it.type, DIM
        value = self.flow_value(it)
        band = sc.band(value)
        if band is None:
            return meter(None, sc) + " —", DIM
        return f"{meter(value, sc)} {short(value)}", Style(color=band.colour, bold=True)

    def box_lines(self, it: LayerItem, level: int) -> list[tuple[str, Style]]:
        if it.id == "input":
            return [(it.shape, Style())]
        if it.id == "loss":
            lines = [(it.type, Style())]
            if level == 0 or it.out:
                lines = [(it.type, Style()), (it.out, Style(bold=True))] if level == 0 \
                    else [(it.out, Style(bold=True))]
            return lines
        main = (f"{it.type} {it.shape}", Style())
        params = f"{it.params:,} params" if it.params else ""
        if level == 0:
            lines = [main, (params, DIM)]
            if self.scale is not None:
                lines.append(self.flow_line(it))
            return lines
        return [self.flow_line(it)] if self.scale is not None else [main]

    def border(self, it: LayerItem, default: str = "light") -> tuple[str, Style, Style]:
        """(border chars, border style, title style) for the current/selected marks and
        the flow band."""
        kind = "heavy" if it.id == self.current else "double" if it.id == self.selected \
            else default
        style = Style()
        if self.scale is not None:
            band = self.scale.band(self.flow_value(it))
            style = Style(color=band.colour) if band is not None else DIM
        title = Style(bold=True, reverse=True) if it.id == self.current else \
            Style(bold=True, underline=True) if it.id == self.selected else Style(bold=True)
        return _BORDERS[kind], style, title

    def box(self, it: LayerItem, level: int) -> Block:
        content = self.box_lines(it, level)
        name = it.name + FROZEN if it.frozen else it.name
        inner = max([cell_len(name) + 2] + [cell_len(t) for t, _ in content])
        chars, bst, tst = self.border(it)
        tl, tr, bl, br, h, v = chars
        top = Text(tl + h, style=bst)
        top.append(f" {name} ", style=tst)
        top.append(h * (inner + 2 - cell_len(name) - 3) + tr, style=bst)
        lines = [top]
        for text, st in content:
            line = Text(v + " ", style=bst)
            line.append(text, style=st)
            line.append(" " * (inner - cell_len(text)) + " ")
            line.append(v, style=bst)
            lines.append(line)
        lines.append(Text(bl + h * (inner + 2) + br, style=bst))
        return Block(lines, 1)

    def chip(self, it: LayerItem) -> Text:
        """One line: "[dense1 (16)]", with flow "[dense1 █▌ 3.8e-4]"."""
        _, bst, tst = self.border(it)
        if it.id == "loss":
            rest = it.out or it.type
        elif self.scale is not None and it.id != "input":
            rest = self.flow_line(it)[0] if it.params else ""
        else:
            rest = it.shape
        mark = Style(reverse=True, bold=True) if it.id == self.current else \
            Style(underline=True, bold=True) if it.id == self.selected else Style()
        chip = Text("[", style=bst)
        chip.append(it.name, style=bst + mark if self.scale is not None else mark)
        if it.frozen:
            chip.append(FROZEN)
        if rest:
            chip.append(" " + rest, style=bst if self.scale is not None else Style())
        chip.append("]", style=bst)
        return chip

    # ---- residual blocks --------------------------------------------------------------
    def inner_chain(self, items: list[LayerItem], level: int) -> Block:
        parts: list[Block] = []
        for j, it in enumerate(items):
            blk = self.block(it, level)
            if j:
                parts.append(self.edge(items[j - 1], parts[-1], level))
            parts.append(blk)
        return hjoin(parts)

    def residual(self, it: LayerItem, level: int) -> Block:
        return residual_block(self, it, level)
