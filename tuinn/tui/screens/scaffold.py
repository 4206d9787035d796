"""Provides ScaffoldKeys: the keys every debugger screen shares around its panels:
`/` find by name, `L` the step list, `-` and `+` run mode's speed."""

from __future__ import annotations

from textual.binding import Binding

SCAFFOLD_KEYS = [
    Binding("slash", "find", "Find", tooltip="Find a node, layer, parameter or tensor by name"),
    Binding("L", "toggle_steps", "Steps", tooltip="Show or hide the step list"),
    Binding("minus", "slower", "Speed", key_display="-/+",
            tooltip="Run mode slower (down to 1 iteration a second)"),
    Binding("plus,equals_sign", "faster", "Faster", show=False,
            tooltip="Run mode faster (up to full speed)"),
]
#: actions that do nothing while run mode trains (the footer hides them meanwhile)
IDLE_ONLY = frozenset({"run", "step", "back", "step_over", "finish", "next_iteration",
                       "next_epoch"})
#: run mode's speeds in iterations a second; None: as fast as the engine goes
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, None)


def speed_text(speed: float | None) -> str:
    return "full speed" if speed is None else f"{speed:g} it/s"


class ScaffoldKeys:
    """Mixed into DebuggerScreen (which provides session, controller, status, message)."""

    def check_action(self, action: str, parameters) -> bool | None:
        """False hides a key from the footer (and it does nothing then anyway): the
        speed keys in graphs, pause unless running, run and stepping while running."""
        if action in ("slower", "faster"):           # run mode's speed: networks only
            return bool(self.session.iterative)
        if action == "pause":
            return self.controller.running
        if action in IDLE_ONLY:
            return not self.controller.running
        return True

    def action_slower(self) -> None:
        self.set_speed(-1)

    def action_faster(self) -> None:
        self.set_speed(1)

    def set_speed(self, direction: int) -> None:
        """One step along SPEEDS (from a scenario's speed that is between two, the next
        one that way); the engine thread reads the new speed at its next iteration."""
        now = self.controller.speed
        rank = [float("inf") if v is None else v for v in SPEEDS]
        here = float("inf") if now is None else now
        if direction > 0:
            nxt = next((v for v, r in zip(SPEEDS, rank) if r > here), SPEEDS[-1])
        else:
            nxt = next((v for v, r in zip(reversed(SPEEDS), reversed(rank)) if r < here), SPEEDS[0])
        self.controller.speed = nxt
        self.message = f"run speed {speed_text(nxt)} (- slower, + faster)"
        self.status()

    def action_toggle_steps(self) -> None:
        """L: show or hide the step list (it is hidden by default below 100 columns)."""
        shown = self.query_one("#left").display and self.query_one("#steps").display
        self.set_class(not shown, "-show-steps")
        self.set_class(shown, "-hide-steps")
        steps = self.query_one("#steps")
        if not shown:
            self.call_after_refresh(steps.focus)
        elif self.focused is steps or self.focused is None:    # back to the main panel
            panel = next((w for w in self.query("#right *") if w.focusable), None)
            if panel is not None:
                panel.focus()

    def action_find(self) -> None:
        from tuinn.tui.screens.finder import Finder, find_items

        def done(name: str | None) -> None:
            if name is not None:
                self.select(name)
        self.app.push_screen(Finder(find_items(self.session)), done)

    def select(self, name: str) -> None:
        """Show `name` (a node, layer, parameter or tensor) in the panels, as if picked
        in the graph panel; screens with their own selection override this."""
        self.selected = name
        self.refresh_frame()
