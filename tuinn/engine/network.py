"""Provides NetworkProgram: one training iteration of a layered network as Steps.

Steps of an iteration: forward layer by layer, the loss, backward layer by layer
(the loss's gradient first), then one update step per parameter. `train_iteration`
is the fast path for run mode: the same arithmetic with no per-step recording.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tuinn.engine.run import iteration as runmode
from tuinn.engine.run.fastpath import ChainPlans
from tuinn.engine.evaluation import Evaluation
from tuinn.engine.frozen import Freezing
from tuinn.engine.history import History, snapshot_nbytes
from tuinn.engine.kernels.optim import all_finite
from tuinn.engine.kernels.shuffle import permutation
from tuinn.engine.layers import Layer, build_layer
from tuinn.engine.layers.embed import check_data_ids
from tuinn.engine.losses import Loss, l2_penalty
from tuinn.engine.lossseries import KEEP, LossSeries
from tuinn.engine.optim import Optimizer
from tuinn.engine.params_given import set_given_params
from tuinn.engine.run.packed import PackedParams
from tuinn.engine.program import Step
from tuinn.engine.tape import Tape
from tuinn.errors import TuinnError
from tuinn.scenario.data import load_data, split
from tuinn.scenario.spec import Spec

INPUT = "input"
LOSS = "loss"
#: layer types whose forward never draws from the iteration's rng (run mode then makes
#: none); any other type (dropout, or one added later) gets it
RNG_FREE = frozenset({"dense", "relu", "leaky_relu", "sigmoid", "tanh", "flatten", "conv2d",
                      "maxpool", "avgpool", "rnn", "lstm", "gru", "residual", "gelu",
                      "embedding", "position", "layernorm", "batchnorm", "seq_pool",
                      "skipgram", "attention"})


@dataclass
class Snapshot:
    """Everything an iteration starts from: parameters and optimizer state."""
    iteration: int
    params: Mapping[str, np.ndarray]          # a dict, or a ParamsView of one flat copy
    optim: object
    buffers: Mapping[str, np.ndarray] | None = None   # batchnorm's running statistics
    nbytes: int | None = None        # its size when known up front (History reads it)


class NetworkProgram(Freezing, Evaluation):
    kind = "network"

    def __init__(self, spec: Spec):
        self.spec = spec
        net = spec.network
        self.file = spec.info.path or None
        self.dtype = np.dtype(spec.info.dtype)
        self.seed = int(spec.info.seed)
        rng = np.random.default_rng(self.seed)
        self.input_shape = tuple(net.input)
        x, y = load_data(net.data, self.input_shape, rng, self.dtype)
        if tuple(x.shape[1:]) != self.input_shape:
            raise TuinnError(f"the data's samples have shape {list(x.shape[1:])}, but "
                             f"[model] input is {list(self.input_shape)}", file=self.file,
                             line=spec.lines.get("model.input"), key="model.input")
        check_data_ids(spec, x)                      # a first embedding's ids: in [0, vocab)
        self.x, self.y, self.x_val, self.y_val = split(x, y, net.data.validation, rng)
        self.raw_x, self.prep = self.x, None            # [data] preprocess: fitted on train
        if net.data.preprocess:
            from tuinn.scenario.preprocess import fit
            try:
                self.prep = fit(self.x, net.data.preprocess)
            except TuinnError as err:                   # pca of too many features
                err.file, err.line = self.file, spec.lines.get("data.preprocess")
                raise
            self.x, self.x_val = self.prep.apply(self.x), self.prep.apply(self.x_val)
        self.layers: list[Layer] = []
        shape = self.input_shape
        for ls in net.layers:
            try:
                layer = build_layer(ls, shape, rng, self.dtype)
            except TuinnError as err:
                err.file = err.file or self.file
                err.line = err.line or ls.line
                raise
            self.layers.append(layer)
            shape = tuple(layer.out_shape)
        self.out_shape = shape
        self.param_layers = {}                       # "dense1.W" -> (layer, "W")
        self.buffer_layers = {}                      # "bn1.running_mean" -> (layer, key)
        for layer in self._all_layers():
            for key in layer.params:
                self.param_layers[f"{layer.name}.{key}"] = (layer, key)
            for key in getattr(layer, "running", {}):
                self.buffer_layers[f"{layer.name}.{key}"] = (layer, key)
        set_given_params(self, net)
        # run mode's fast path: parameters and gradients packed in two flat buffers
        self.packed = (PackedParams(self.param_layers, self.dtype)
                       if PackedParams.packable(self.param_layers, self.dtype) else None)
        # a twin of the layers for evaluation (validation loss, the data panel), so that
        # evaluating mid-iteration never disturbs the caches the backward pass needs
        self.eval_layers = copy.deepcopy(self.layers)
        self.loss = Loss(net.loss)
        try:
            self.y = self.loss.check_targets(self.y, (len(self.y),) + self.out_shape)
            if len(self.y_val):
                self.y_val = self.loss.check_targets(self.y_val, (len(self.y_val),) + self.out_shape)
        except TuinnError as err:
            err.file, err.key = self.file, err.key or "loss.type"
            err.line = err.line or spec.lines.get("loss.type")
            raise
        self.optimizer = Optimizer(net.optimizer)
        if self.packed is not None:
            self.optimizer.pack(self.packed.layout, self.packed.bounds, self.dtype)
        self.batch_size = net.train.batch_size or len(self.x)
        self.batch_size = min(self.batch_size, len(self.x))
        self.per_epoch = -(-len(self.x) // self.batch_size)
        self.epochs = net.train.epochs
        self.iteration = 0
        # training loss by iteration (and validation loss where measured), bounded
        self.losses = LossSeries(keep=max(KEEP, spec.debug.history + 2))
        self.history = History(spec.debug.history)   # snapshots, memory counted as they come
        self._order: tuple[tuple, np.ndarray] | None = None    # ((epoch, n), its order)
        self._needs_rng = any(layer.type not in RNG_FREE for layer in self._all_layers())
        self._l2_layers = [[layer] + layer.sublayers() for layer in self.layers]
        first = self.layers[0] if self.layers else None
        # a first dense or recurrent layer's dx goes unused in run mode and nothing keeps
        # it: skip it (conv2d keeps its dx in cache["dx"] for the views, so it computes it)
        self._first_dx = (first if first is not None
                          and first.type in ("dense", "rnn", "lstm", "gru") else None)
        # the fused path's plans by batch size, for chains of dense/elementwise layers
        self._plans = None if self._needs_rng else ChainPlans.build(self.layers, self.loss,
                                                                     self.packed)
        self.steps = self._make_steps()
        self.init_frozen()                           # trainable = false (tuinn/engine/frozen.py)
        self.start = self._snapshot()

    # ------------------------------------------------------------------ building
    def _all_layers(self) -> list[Layer]:
        """Every layer, those inside residual blocks included."""
        return self._all(self.layers)

    def _make_steps(self) -> list[Step]:
        steps: list[Step] = []

        def add(phase, node, op, run, layer="", substeps=1):
            steps.append(Step(len(steps), phase, node, op, run, substeps=substeps, layer=layer))

        prev = INPUT
        for layer in self.layers:
            add("forward", layer.name, layer.type, self._fwd(layer, prev), layer.name, layer.substeps())
            prev = layer.name
        add("forward", LOSS, self.loss.spec.type if hasattr(self.loss, "spec") else "loss", self._loss_fwd(prev))
        add("backward", LOSS, self.loss.type, self._loss_bwd(prev))
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            below = self.layers[i - 1].name if i else INPUT
            add("backward", layer.name, layer.type, self._bwd(layer, below), layer.name, layer.substeps())
        for key, (layer, k) in self.param_layers.items():
            add("update", key, self.optimizer.spec.type if hasattr(self.optimizer, "spec") else "update",
                self._update(key, layer, k), layer.name)
        return steps

    # ------------------------------------------------------------------ steps
    def _fwd(self, layer: Layer, prev: str):
        def run(tape: Tape) -> None:
            y = layer.forward(tape.values[prev], True, tape.extra["rng"])
            tape.values[layer.name] = np.array(y, copy=True)
            if layer.type == "dense":          # the matmul gate's output, before + b
                tape.values[layer.name + ".matmul"] = tape.values[layer.name] - layer.params["b"]
        return run

    def _loss_fwd(self, prev: str):
        def run(tape: Tape) -> None:
            data = self.loss.forward(tape.values[prev], tape.extra["y"])
            reg = self.l2_value()
            tape.extra["data_loss"] = data
            tape.extra["l2_loss"] = reg
            tape.values[LOSS] = np.asarray(data + reg, dtype=np.float64)
            self.record_loss(self.iteration, data + reg)
        return run

    def _loss_bwd(self, prev: str):
        def run(tape: Tape) -> None:
            tape.grads[LOSS] = np.ones((), dtype=self.dtype)
            tape.grads[prev] = np.array(self.loss.backward(), copy=True)
        return run

    def _bwd(self, layer: Layer, below: str):
        def run(tape: Tape) -> None:
            dx = layer.backward(tape.grads[layer.name])
            self._add_l2_grads(layer)
            for sub in layer.sublayers():
                self._add_l2_grads(sub)
            if dx is not None:
                tape.grads[below] = np.array(dx, copy=True)
            inside = [layer, *layer.sublayers()]
            for key, (owner, k) in self.param_layers.items():
                if any(owner is o for o in inside):
                    if owner.trainable:
                        tape.grads[key] = owner.grads[k].copy()
                    else:                             # frozen: no gradient
                        owner.grads[k][...] = 0
        return run

    def _update(self, key: str, layer: Layer, k: str):
        def run(tape: Tape) -> None:
            tape.extra.setdefault("before", {})[key] = layer.params[k].copy()
            if layer.trainable:                       # frozen: kept as it is
                self.optimizer.step(key, layer.params[k], layer.grads[k])
            tape.values[key] = layer.params[k].copy()
        return run

    def _add_l2_grads(self, layer: Layer) -> None:
        l2 = self.spec.network.loss.l2
        if l2 and layer.trainable:
            for k in layer.l2_params():
                layer.grads[k] += 2.0 * l2 * layer.params[k]

    def l2_value(self) -> float:
        """L2 over the trainable weights (a frozen layer adds nothing)."""
        l2 = self.spec.network.loss.l2
        if not l2:
            return 0.0
        weights = [layer.params[k] for layer in self._all_layers() if layer.trainable
                   for k in layer.l2_params()]
        return float(l2_penalty(l2, weights))

    # ------------------------------------------------------------------ iterations
    def epoch_of(self, iteration: int) -> int:
        return iteration // self.per_epoch

    def batch(self, iteration: int) -> tuple[np.ndarray, np.ndarray]:
        """The batch of an iteration: deterministic in (seed, epoch), so replays agree."""
        idx = self.batch_rows(iteration)
        return self.x.take(idx, axis=0), self.y.take(idx, axis=0)   # = x[idx], y[idx], faster

    def batch_rows(self, iteration: int) -> np.ndarray:
        """The rows of self.x and self.y that make an iteration's batch."""
        epoch, b = divmod(iteration, self.per_epoch)
        n = len(self.x)
        if self._order is None or self._order[0] != (epoch, n):     # drawn once an epoch
            if self.spec.network.train.shuffle:
                order = permutation([self.seed, 1, epoch], n)   # default_rng's, faster
            else:
                order = np.arange(n)
            self._order = ((epoch, n), order)
        return self._order[1][b * self.batch_size:(b + 1) * self.batch_size]

    def iteration_rng(self, iteration: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 2, iteration])

    def params(self) -> dict[str, np.ndarray]:
        return {key: layer.params[k] for key, (layer, k) in self.param_layers.items()}

    def buffers(self) -> dict[str, np.ndarray]:
        """Copies of the buffers (batchnorm's running statistics) as they are now:
        "bn1.running_mean" -> array; empty for a network without any."""
        return {key: layer.running[k].copy() for key, (layer, k) in self.buffer_layers.items()}

    def _snapshot(self, intact: bool = False) -> Snapshot:
        """The current parameters and optimizer state (`intact`: the caller has just
        made sure the packed views are in place)."""
        packed = self.packed
        if packed is not None:
            if not (intact or packed.intact()):
                packed.repack()
            snap = Snapshot(self.iteration, packed.snapshot(), self.optimizer.snapshot_packed(),
                            self.buffers())
            # run mode takes one per iteration, all alike: measure the first of a kind
            # only (walking the optimizer's state each time cost ~5% of a small MLP's)
            optim = snap.optim
            kind = (id(packed.layout), type(optim), len(getattr(optim, "started", optim)),
                    len(snap.buffers))
            known = self.__dict__.get("_snapshot_size")
            if known is None or known[0] != kind:
                known = self._snapshot_size = (kind, snapshot_nbytes(snap))
            snap.nbytes = known[1]
            return snap
        return Snapshot(self.iteration, {k: v.copy() for k, v in self.params().items()},
                        self.optimizer.snapshot(), self.buffers())

    def restore(self, snap: Snapshot) -> None:
        if not len(snap.params) and self.param_layers:
            # run mode with history = 0 keeps no copy: the parameters in place are this
            # iteration's start; take the snapshot now
            self.iteration = snap.iteration
            self.start = self._snapshot()
            return
        packed = self.packed
        if packed is not None and packed.owns(snap.params):
            if not packed.intact():
                packed.repack()
            packed.w[...] = snap.params.flat
        else:
            for key, value in snap.params.items():
                layer, k = self.param_layers[key]
                layer.params[k][...] = value
        self.optimizer.restore(snap.optim)
        for key, value in (snap.buffers or {}).items():
            layer, k = self.buffer_layers[key]
            layer.running[k][...] = value
        self.iteration = snap.iteration
        self.start = snap

    def reset(self, tape: Tape) -> None:
        """Back to the start of the current iteration (parameters as they were then)."""
        self.restore(self.start)
        tape.clear()
        xb, yb = self.batch(self.iteration)
        tape.values[INPUT] = xb
        tape.extra["y"] = yb
        tape.extra["rng"] = self.iteration_rng(self.iteration)

    def advance(self, run_mode: bool = False) -> None:
        """Make the current parameters the start of the next iteration. From run mode
        (which has just checked the packed views): no snapshot at all when history = 0."""
        self.history.append(self.start)
        self.iteration += 1
        if run_mode and self.history.maxlen <= 1:
            self.start = Snapshot(self.iteration, {}, None, nbytes=0)   # holds nothing
        else:
            self.start = self._snapshot(intact=run_mode)

    def train_iteration(self) -> float:
        """One iteration at full speed, no recording; returns the loss (before the
        update). The same arithmetic as the steps; see tuinn/engine/run/iteration.py."""
        return runmode.train_iteration(self)

    def history_bytes(self) -> int:
        """Memory held by the kept snapshots (parameters and optimizer state), in O(1)."""
        return self.history.nbytes

    def params_finite(self) -> bool:
        if self.packed is not None and self.packed.intact():
            return bool(all_finite(self.packed.w))          # one pass over every parameter
        return all(np.isfinite(p).all() for p in self.params().values())

    def record_loss(self, iteration: int, loss: float) -> None:
        self.losses.record(iteration, float(loss))

    # ------------------------------------------------------------------ records
    def step_record(self, tape: Tape, step: Step) -> dict:
        if step.phase == "forward":
            return {"value": tape.values[step.node]}
        if step.phase == "backward":
            return {"grad": tape.grads[step.node]}
        if step.node not in tape.grads:               # a frozen parameter: no gradient
            return {"value": tape.values[step.node], "frozen": True}
        return {"value": tape.values[step.node], "grad": tape.grads[step.node]}

    def param_record(self, tape: Tape, key: str) -> dict:
        """A parameter in a trace's iteration event: its value at the start of the
        iteration and its full gradient; a frozen one `"frozen": true` and no grad."""
        if key in self.frozen or key not in tape.grads:
            return {"value": self.start.params[key], "frozen": True}
        return {"value": self.start.params[key], "grad": tape.grads[key]}

    def layer_table(self) -> list[dict]:
        rows = [{"name": INPUT, "type": "input", "shape": list(self.input_shape), "params": 0}]
        for layer in self.layers:
            rows.append({"name": layer.name, "type": layer.type, "shape": list(layer.out_shape),
                         "params": layer.param_count(), "note": getattr(layer, "note", lambda: "")(),
                         "frozen": not layer.trainable})
        return rows

