"""Provides Evaluation: the part of NetworkProgram that evaluates the model outside
training steps (validation loss, predictions, decision regions), in eval mode (no
dropout; batchnorm's running statistics) on twin layers that copy the current
parameters, so a training step's caches are never touched.
"""

from __future__ import annotations

import numpy as np

from tuinn.engine.layers import Layer
from tuinn.engine.losses import Loss


class Evaluation:
    """Mixed into NetworkProgram (it provides layers, eval_layers, x, losses, ...)."""

    def validation_loss(self) -> float | None:
        """Validation loss at the current parameters (recorded for the loss curve)."""
        if not len(self.x_val):
            return None
        loss = self.evaluate(self.x_val, self.y_val)
        self.losses.record_val(self.iteration, loss)
        return loss

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> float:
        """Loss (with L2) on a data set, in eval mode (no dropout), on the twin layers."""
        if len(x) == 0:
            return float("nan")
        out = self.predict(x)
        loss = Loss(self.spec.network.loss)
        return float(loss.forward(out, y) + self.l2_value())

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The model's output in eval mode, from the twin layers (current parameters)."""
        self._twins()
        h = np.ascontiguousarray(x, dtype=self.dtype)
        for layer in self.eval_layers:
            h = layer.forward(h, False, None)
        return np.array(h, copy=True)

    def _twins(self) -> None:
        for a, b in zip(self._all_layers(), self._all(self.eval_layers)):
            for k in a.params:
                b.params[k][...] = a.params[k]
            for k in getattr(a, "running", {}):       # evaluation uses running statistics
                b.running[k][...] = a.running[k]

    @staticmethod
    def _all(layers: list[Layer]) -> list[Layer]:
        out = []
        for layer in layers:
            out.append(layer)
            out.extend(layer.sublayers())
        return out

    @property
    def takes_ids(self) -> bool:
        """True when the input is ids (a first embedding or skipgram layer): no decision
        regions or curves over it, since points between ids mean nothing."""
        return bool(self.layers) and self.layers[0].type in ("embedding", "skipgram")

    def decision_grid(self, gh: int, gw: int, margin: float = 0.1):
        """For 2-D inputs: the model's prediction over a (gh, gw) grid covering the data,
        row 0 at the top; returns (grid, extent=(x0, x1, y0, y1))."""
        pts = self.x.reshape(len(self.x), -1)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = (hi - lo) * margin + 1e-9
        x0, y0 = lo - pad
        x1, y1 = hi + pad
        xs = np.linspace(x0, x1, gw)
        ys = np.linspace(y1, y0, gh)
        gx, gy = np.meshgrid(xs, ys)
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(self.dtype)
        out = self.predict(grid)
        pred = self.loss.predict(out)
        pred = pred if pred.ndim == 1 else pred[:, 0]
        return pred.reshape(gh, gw), (float(x0), float(x1), float(y0), float(y1))
