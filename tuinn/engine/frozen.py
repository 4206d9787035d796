"""Provides frozen layers (`trainable = false`): which parameters are frozen, and the switch.

A frozen layer's parameters keep their values, get no gradient (their gradient arrays
hold zeros and the tape none), add nothing to L2 and are skipped by the optimizer and
by gradcheck; gradients still flow through the layer to earlier ones. A residual block
that is frozen freezes every layer inside it. `Freezing` is the part of NetworkProgram
that keeps `frozen` (the keys of the frozen parameters) in step with the layers' flags.
"""

from __future__ import annotations

from tuinn.engine.layers import Layer
from tuinn.errors import TuinnError


def freeze_blocks(layers: list[Layer], frozen: bool = False) -> None:
    """trainable = false on a residual block freezes every layer inside it."""
    for layer in layers:
        if frozen:
            layer.trainable = False
        freeze_blocks(layer.children(), frozen or not layer.trainable)


class Freezing:
    """Mixed into NetworkProgram, which provides `param_layers` and `_all_layers()`."""

    #: the keys ("dense2.W") of the frozen parameters
    frozen: frozenset[str] = frozenset()
    _frozen_owners: tuple = ()
    _requests: list[str]                 # toggles asked for while run mode trains

    def init_frozen(self) -> None:
        """At construction: a frozen block freezes its layers; nothing requested yet."""
        freeze_blocks(self.layers)
        self._requests = []
        self.refresh_frozen()

    def refresh_frozen(self) -> None:
        """Recompute which parameters are frozen from the layers' `trainable` flags."""
        owners = [(key, layer, k) for key, (layer, k) in self.param_layers.items()
                  if not layer.trainable]
        self.frozen = frozenset(key for key, _, _ in owners)
        self._frozen_owners = tuple((layer, k) for _, layer, k in owners)

    def zero_frozen_grads(self) -> None:
        """Frozen parameters get no gradient: their gradient arrays hold zeros (the
        fused path and the layers compute one; it is dropped here)."""
        for layer, k in self._frozen_owners:
            layer.grads[k][...] = 0

    def request_toggle(self, name: str) -> None:
        """From another thread while run mode trains: toggle the layer's trainable flag
        at the start of the next iteration (`apply_requests`, on the engine thread)."""
        self._requests.append(name)

    def apply_requests(self) -> None:
        """Apply the toggles requested so far, in order (on the engine thread)."""
        requests = self._requests
        while requests:
            name = requests.pop(0)
            layer = next((la for la in self._all_layers() if la.name == name), None)
            if layer is not None:
                self.set_trainable(name, not layer.trainable)

    def set_trainable(self, name: str, trainable: bool) -> list[str]:
        """Freeze (False) or unfreeze the layer called `name`, a residual block with every
        layer inside it; returns the parameter keys it owns. Steps run from now on see
        the change (replay the current iteration to see it at once). A layer inside a
        frozen block stays frozen while the block is."""
        layer = next((la for la in self._all_layers() if la.name == name), None)
        if layer is None:
            raise TuinnError(f"no layer named {name!r}")
        inside = [layer, *layer.sublayers()]
        for la in inside:
            la.trainable = bool(trainable)
        freeze_blocks(self.layers)
        self.refresh_frozen()
        return [key for key, (owner, _) in self.param_layers.items()
                if any(owner is o for o in inside)]
