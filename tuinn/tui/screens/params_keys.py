"""Provides the network screen's parameter keys: S saves the parameters, T freezes or unfreezes a layer.

S asks where (.npz or .safetensors, the export dialog with its overwrite question) and
saves the current parameters under the names `[params] file` loads. T toggles the
trainable flag of the selected layer (or of the layer owning the selected parameter):
on the engine thread, replaying the current iteration up to where the cursor stands,
so that what is on screen follows the new flag at once; while run mode trains, from
its next iteration.
"""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding

from tuinn import fmt

PARAMS_KEYS = [
    Binding("S", "save_params", "Save parameters", show=False),
    Binding("T", "toggle_trainable", "Freeze/unfreeze layer", show=False),
]


def layer_of(prog, node: str | None):
    """The layer a selected node stands for: itself, the owner of a parameter, or the
    layer of a gate inside it ("dense1.matmul"); None for the input and the loss."""
    if not node:
        return None
    owner = prog.param_layers.get(node)
    if owner is not None:
        return owner[0]
    layers = {la.name: la for la in prog._all_layers()}
    return layers.get(node) or layers.get(node.rpartition(".")[0])


class ParamsKeys:
    """Mixed into NetworkScreen (session, controller, spec, message, status, frame)."""

    def action_toggle_trainable(self) -> None:
        prog = self.session.program
        layer = layer_of(prog, self.selected or self.node_for_tools())
        if layer is None:
            self.message = "T freezes or unfreezes a layer: select one first (↑/↓)"
            self.status()
            return
        name = layer.name
        shown = fmt.safe(name, 24)
        if not layer.params and not layer.sublayers():
            self.message = f"{shown} has no parameters to freeze"
            self.status()
            return
        if self.controller.running:                # the engine thread applies it
            prog.request_toggle(name)
            what = "unfrozen" if not layer.trainable else "frozen"
            self.message = f"{shown}: {what} from the next iteration"
            self.status()
            return

        def toggle(s) -> dict:
            p = s.program
            wanted = not layer.trainable
            keys = p.set_trainable(name, wanted)
            if layer.trainable != wanted:
                self.message = f"{shown} is inside a frozen block: T on the block unfreezes it"
            else:
                here = s.tick                       # replay: what is shown follows the flag
                s.restart()
                s.goto(here)
                what = "trains again" if wanted else "frozen (trainable = false)"
                self.message = f"{shown}: {what}; {len(keys)} parameters"
            return self.frame(s)
        self.controller.submit(toggle)

    def action_save_params(self) -> None:
        from tuinn.tui.screens.export import ExportDialog
        if self.controller.running:
            self.message = "pause first (p), then S saves the parameters"
            self.status()
            return
        stem = Path(self.spec.info.path).stem if self.spec.info.path else "params"

        def done(result) -> None:
            if result is None:
                return
            path = result[1]

            def save(s) -> dict:
                from tuinn.engine.run.training import save_params
                from tuinn.errors import TuinnError
                try:
                    save_params(s.program, path, key="path")
                except TuinnError as err:
                    self.message = f"not saved: {err.message}"
                else:
                    self.message = (f"saved {len(s.program.param_layers)} parameters to "
                                    f"{fmt.safe(path, 60)} ([params] file loads them)")
                return self.frame(s)
            self.controller.submit(save)
        self.app.push_screen(ExportDialog("Save the parameters (.npz or .safetensors)",
                                          f"{stem}-params.safetensors", ["parameters"],
                                          (".npz", ".safetensors")), done)
