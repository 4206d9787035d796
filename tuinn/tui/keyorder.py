"""Provides KeysInOrder: the app keeps a burst of typed keys in the order they were typed.

Textual runs a priority binding (`n`, `b`, the arrows) the moment its key arrives, while
the keys typed before it may still be on their way through the focused widget; a key
that opens a dialog (`J`, `/`, `e`) acts only when it has come back up. So in a burst,
`/d2b` stepped back instead of typing `b` into the finder, and `J3100` lost its digits.
KeysInOrder holds a priority key back behind the keys still on their way, and hands a
key typed on a screen that a dialog has since covered to that dialog's Input (see
TypeAhead in tuinn/tui/screens/ask.py).
"""

from __future__ import annotations

import time

from textual import events

IN_FLIGHT_S = 1.0      # a key not back by then was dropped on the way: stop waiting for it


class KeysInOrder:
    """Mixed into the App, before textual.app.App."""

    _in_flight: list | None = None       # (key event, when it was forwarded)

    async def on_event(self, event) -> None:
        if not isinstance(event, events.Key):
            await super().on_event(event)
            return
        if self._in_flight is None:
            self._in_flight = []
        now = time.monotonic()
        self._in_flight = [(e, t) for e, t in self._in_flight
                           if e is not event and not e._stop_propagation and now - t < IN_FLIGHT_S]
        if not event.is_forwarded:
            if self._in_flight:                  # behind earlier keys: no jumping the queue
                event.held_back = True
                (self.focused or self.screen)._forward_event(event)
            else:
                await super().on_event(event)
            if event.is_forwarded:
                self._in_flight.append((event, now))
            return
        if self._to_dialog(event):
            return
        if getattr(event, "held_back", False) and await self._check_bindings(event.key,
                                                                             priority=True):
            return
        await super().on_event(event)

    def _to_dialog(self, event: events.Key) -> bool:
        """A key typed on a screen that a dialog has since covered goes to the dialog."""
        from tuinn.tui.screens.ask import TypeAhead
        typed_on, top = getattr(event, "typed_on", None), self.screen
        return (typed_on is not None and typed_on is not top and isinstance(top, TypeAhead)
                and top.type_ahead(event))
