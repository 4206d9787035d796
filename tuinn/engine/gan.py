"""Provides GanProgram: one GAN iteration (discriminator steps, then a generator step) as Steps.

An iteration: `d_steps` times, G(z) on a fresh batch of noise (G held fixed), D on a
batch of real samples and on G(z), the loss bce(D(real), 1) + bce(D(G(z)), 0), its
backward pass through both branches of D, and D's update; then one generator step:
G(z) on fresh noise, D(G(z)), the non-saturating loss bce(D(G(z)), 1), its backward
pass through D (D held fixed) into G, and G's update. The layers, losses and
optimizers are the network engine's; D runs twice per step, so a twin of its layers
(sharing the parameter arrays and batchnorm's running statistics) keeps the second
branch's caches for the backward pass; snapshots carry the running statistics too.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from tuinn.engine.history import History
from tuinn.engine.layers import Layer, build_layer
from tuinn.engine.losses import Loss
from tuinn.engine.lossseries import KEEP, LossSeries
from tuinn.engine.network import Snapshot
from tuinn.engine.optim import Optimizer
from tuinn.engine.program import Step
from tuinn.engine.tape import Tape
from tuinn.errors import TuinnError
from tuinn.scenario.data import load_data
from tuinn.scenario.spec import Spec

NETS = ("generator", "discriminator")


def flat_layers(layers: list[Layer]) -> list[Layer]:
    """Every layer, those inside residual blocks included, in order."""
    return [x for la in layers for x in (la, *la.sublayers())]


def spread(points: np.ndarray, real: np.ndarray) -> float:
    """How spread out `points` are, relative to the real samples: the root of the mean
    per-coordinate variance of the points over that of the real data (1: as spread as
    the data; near 0: every point in one place, mode collapse)."""
    ref = float(np.mean(np.var(real.reshape(len(real), -1), axis=0)))
    own = float(np.mean(np.var(points.reshape(len(points), -1), axis=0)))
    return math.sqrt(own / ref) if ref > 0 else float("nan")


class GanNet:
    """One of the two networks: its layers (and twins that share their parameters)."""

    def __init__(self, name: str, net, rng, dtype, file):
        self.name = name
        self.layers: list[Layer] = []
        shape = tuple(net.input)
        for ls in net.layers:
            try:
                layer = build_layer(ls, shape, rng, dtype)
            except TuinnError as err:
                err.file = err.file or file
                err.line = err.line or ls.line
                raise
            self.layers.append(layer)
            shape = tuple(layer.out_shape)
        self.in_shape, self.out_shape = tuple(net.input), shape
        self.params = {f"{name}.{la.name}.{k}": (la, k)
                       for la in flat_layers(self.layers) for k in la.params}
        self.buffers = {f"{name}.{la.name}.{k}": (la, k)       # batchnorm's running stats
                        for la in flat_layers(self.layers) for k in getattr(la, "running", {})}

    def twin(self) -> list[Layer]:
        """A copy of the layers with their own caches and gradients, sharing parameters
        and buffers (so D's running statistics see the real and the generated batches,
        in order, as one PyTorch module called on both would)."""
        twin = copy.deepcopy(self.layers)
        for a, b in zip(flat_layers(self.layers), flat_layers(twin)):
            b.params = a.params
            if hasattr(a, "running"):
                b.running = a.running
        return twin


def run_layers(layers: list[Layer], x: np.ndarray, train: bool, rng) -> np.ndarray:
    h = x
    for layer in layers:
        h = layer.forward(h, train, rng)
    return np.array(h, copy=True)


def back_layers(layers: list[Layer], dy: np.ndarray) -> np.ndarray | None:
    d = dy
    for layer in reversed(layers):
        d = layer.backward(d)
        if d is None:
            return None
        d = np.array(d, copy=True)
    return d


class GanProgram:
    kind = "gan"

    def __init__(self, spec: Spec):
        self.spec = gan = spec.gan
        self.info = spec.info
        self.file = spec.info.path or None
        self.dtype = np.dtype(spec.info.dtype)
        self.seed = int(spec.info.seed)
        self.latent, self.d_steps = int(gan.latent), int(gan.d_steps)
        rng = np.random.default_rng(self.seed)
        try:
            x, _ = load_data(gan.data, tuple(gan.discriminator.input), rng, self.dtype)
        except TuinnError as err:
            if err.key == "model.input":      # the data's shape is D's input here
                err.key, err.line = "discriminator.input", spec.lines.get("discriminator.input")
                err.message = err.message.replace("[model] input", "[discriminator] input")
            raise
        self.x = x
        self.G = GanNet("generator", gan.generator, rng, self.dtype, self.file)
        self.D = GanNet("discriminator", gan.discriminator, rng, self.dtype, self.file)
        lines = spec.lines
        if self.G.out_shape != tuple(x.shape[1:]):
            raise TuinnError(f"the generator makes samples of shape {list(self.G.out_shape)}, "
                             f"but the real samples have shape {list(x.shape[1:])}",
                             file=self.file, line=lines.get("generator.layers"),
                             key="generator.layers",
                             hint=f"end the generator with a dense layer of {x.shape[-1]} units")
        if self.D.out_shape != (1,):
            raise TuinnError(f"the discriminator must output one logit, not "
                             f"{list(self.D.out_shape)}", file=self.file,
                             line=lines.get("discriminator.layers"), key="discriminator.layers",
                             hint="end it with a dense layer of 1 unit (no sigmoid: bce "
                                  "takes logits)")
        self.param_layers = {**self.G.params, **self.D.params}
        self.d_twin = self.D.twin()                 # D on G(z): its own caches
        self.eval_d, self.eval_g = self.D.twin(), self.G.twin()   # the views' evaluations
        self.optim = {"generator": Optimizer(gan.generator.optimizer or gan.optimizer),
                      "discriminator": Optimizer(gan.discriminator.optimizer or gan.optimizer)}
        self.bce = {k: Loss(type="bce") for k in ("real", "fake", "gen")}
        n = len(x)
        self.batch_size = min(gan.train.batch_size or n, n)
        self.batches = -(-n // self.batch_size)                 # real batches an epoch
        self.per_epoch = max(1, -(-self.batches // self.d_steps))   # iterations an epoch
        self.epochs = gan.train.epochs
        self.iteration = 0
        self.losses = LossSeries(keep=max(KEEP, spec.debug.history + 2))     # d_loss
        self.g_losses = LossSeries(keep=max(KEEP, spec.debug.history + 2))   # g_loss
        self.spreads = LossSeries(keep=max(KEEP, spec.debug.history + 2))    # spread of G(z)
        self.history = History(spec.debug.history)
        self.frozen = {k for k, (la, _) in self.param_layers.items() if not la.trainable}
        self._order: tuple[int, np.ndarray] | None = None
        self.last: dict[str, np.ndarray] = {}       # run mode: the last iteration's values
        self.steps = self._make_steps()
        self.start = self._snapshot()

    # ------------------------------------------------------------------ names
    def prefix(self, k: int) -> str:
        """Node names of discriminator step k: "D_real", or "d2.D_real" when d_steps > 1."""
        return "" if self.d_steps == 1 else f"d{k + 1}."

    @property
    def gen_node(self) -> str:
        return "gen"

    # ------------------------------------------------------------------ steps
    def _make_steps(self) -> list[Step]:
        steps: list[Step] = []

        def add(phase, node, op, run, layer="", **info):
            steps.append(Step(len(steps), phase, node, op, run, layer=layer, info=info))

        d_opt, g_opt = (self.optim[n].spec.type for n in ("discriminator", "generator"))
        for k in range(self.d_steps):
            p = self.prefix(k)
            add("forward", p + "fake", "G(z)", self._fake(k), "generator", net="D", k=k)
            add("forward", p + "D_real", "D(x)", self._d_real(k), "discriminator", net="D", k=k)
            add("forward", p + "D_fake", "D(G(z))", self._d_fake(k), "discriminator",
                net="D", k=k)
            add("forward", p + "d_loss", "bce", self._d_loss(k), net="D", k=k)
            add("backward", p + "D_fake", "D(G(z))", self._d_back(k, "fake"), "discriminator",
                net="D", k=k)
            add("backward", p + "D_real", "D(x)", self._d_back(k, "real"), "discriminator",
                net="D", k=k)
            for key, (layer, name) in self.D.params.items():
                add("update", key, d_opt, self._update("discriminator", key, layer, name),
                    "discriminator", net="D", k=k)
        add("forward", "gen", "G(z)", self._gen, "generator", net="G")
        add("forward", "D_gen", "D(G(z))", self._d_gen, "discriminator", net="G")
        add("forward", "g_loss", "bce", self._g_loss, net="G")
        add("backward", "D_gen", "D(G(z))", self._g_back_d, "discriminator", net="G")
        add("backward", "gen", "G(z)", self._g_back_g, "generator", net="G")
        for key, (layer, name) in self.G.params.items():
            add("update", key, g_opt, self._update("generator", key, layer, name),
                "generator", net="G")
        return steps

    def _fake(self, k: int):
        def run(tape: Tape) -> None:
            z = tape.extra["noise_d"][k]
            tape.values[self.prefix(k) + "fake"] = run_layers(self.G.layers, z, True,
                                                              tape.extra["rng"])
        return run

    def _d_real(self, k: int):
        def run(tape: Tape) -> None:
            xb = self.real_batch(self.iteration * self.d_steps + k)
            tape.extra.setdefault("real", {})[k] = xb
            tape.values[self.prefix(k) + "D_real"] = run_layers(self.D.layers, xb, True,
                                                                tape.extra["rng"])
        return run

    def _d_fake(self, k: int):
        def run(tape: Tape) -> None:
            p = self.prefix(k)
            tape.values[p + "D_fake"] = run_layers(self.d_twin, tape.values[p + "fake"], True,
                                                   tape.extra["rng"])
        return run

    def _d_loss(self, k: int):
        def run(tape: Tape) -> None:
            p = self.prefix(k)
            real, fake = tape.values[p + "D_real"], tape.values[p + "D_fake"]
            lr = self.bce["real"].forward(real, np.ones_like(real))
            lf = self.bce["fake"].forward(fake, np.zeros_like(fake))
            tape.values[p + "d_loss"] = np.asarray(lr + lf, dtype=np.float64)
            tape.extra["d_loss"] = lr + lf
            self.losses.record(self.iteration, lr + lf)
        return run

    def _d_back(self, k: int, branch: str):
        def run(tape: Tape) -> None:
            p = self.prefix(k)
            node = p + ("D_real" if branch == "real" else "D_fake")
            tape.grads[node] = np.array(self.bce[branch].backward(), copy=True)
            layers = self.D.layers if branch == "real" else self.d_twin
            dy = tape.grads[node]
            for layer in reversed(layers):        # D's parameter gradients (dx unused)
                dy = layer.backward(dy)
                if dy is None:
                    break
            for a, b in zip(flat_layers(self.D.layers), flat_layers(layers)):
                for name, g in b.grads.items():
                    key = f"discriminator.{a.name}.{name}"
                    if branch == "fake":          # the first of the two branches
                        tape.grads[key] = g.copy()
                    else:
                        tape.grads[key] = tape.grads[key] + g
        return run

    def _gen(self, tape: Tape) -> None:
        tape.values["gen"] = run_layers(self.G.layers, tape.extra["noise_g"], True,
                                        tape.extra["rng"])

    def _d_gen(self, tape: Tape) -> None:
        tape.values["D_gen"] = run_layers(self.d_twin, tape.values["gen"], True,
                                          tape.extra["rng"])

    def _g_loss(self, tape: Tape) -> None:
        out = tape.values["D_gen"]
        loss = self.bce["gen"].forward(out, np.ones_like(out))
        tape.values["g_loss"] = np.asarray(loss, dtype=np.float64)
        tape.extra["g_loss"] = loss
        self.g_losses.record(self.iteration, loss)
        self.spreads.record(self.iteration, spread(tape.values["gen"], self.x))

    def _g_back_d(self, tape: Tape) -> None:
        tape.grads["D_gen"] = np.array(self.bce["gen"].backward(), copy=True)
        tape.grads["gen"] = back_layers(self.d_twin, tape.grads["D_gen"])   # D's grads unused

    def _g_back_g(self, tape: Tape) -> None:
        back_layers(self.G.layers, tape.grads["gen"])
        for key, (layer, name) in self.G.params.items():
            tape.grads[key] = layer.grads[name].copy()

    def _update(self, net: str, key: str, layer: Layer, name: str):
        def run(tape: Tape) -> None:
            if layer.trainable:                    # frozen: kept as it is
                self.optim[net].step(key, layer.params[name], tape.grads[key])
            tape.values[key] = layer.params[name].copy()
        return run

    # ------------------------------------------------------------------ data and noise
    def real_batch(self, j: int) -> np.ndarray:
        """Real batch number j (counted over the whole run): deterministic in (seed, epoch)."""
        epoch, b = divmod(j, self.batches)
        n = len(self.x)
        if self._order is None or self._order[0] != epoch:
            order = (np.random.default_rng([self.seed, 1, epoch]).permutation(n)
                     if self.spec.train.shuffle else np.arange(n))
            self._order = (epoch, order)
        return self.x[self._order[1][b * self.batch_size:(b + 1) * self.batch_size]]

    def noise(self, iteration: int) -> tuple[np.ndarray, np.ndarray]:
        """The iteration's z: (d_steps, B, latent) for D's steps, (B, latent) for G's."""
        rng = np.random.default_rng([self.seed, 3, iteration])
        zd = rng.standard_normal((self.d_steps, self.batch_size, self.latent))
        zg = rng.standard_normal((self.batch_size, self.latent))
        return zd.astype(self.dtype), zg.astype(self.dtype)

    def epoch_of(self, iteration: int) -> int:
        return iteration * self.d_steps // self.batches

    # ------------------------------------------------------------------ iterations
    def params(self) -> dict[str, np.ndarray]:
        return {key: layer.params[k] for key, (layer, k) in self.param_layers.items()}

    def buffers(self) -> dict[str, np.ndarray]:
        """Copies of both networks' buffers (batchnorm's running statistics) as they are
        now: "discriminator.batchnorm1.running_mean" -> array; empty without any."""
        return {key: layer.running[k].copy()
                for key, (layer, k) in {**self.G.buffers, **self.D.buffers}.items()}

    def _snapshot(self) -> Snapshot:
        return Snapshot(self.iteration, {k: v.copy() for k, v in self.params().items()},
                        {n: o.snapshot() for n, o in self.optim.items()}, self.buffers())

    def restore(self, snap: Snapshot) -> None:
        for key, value in snap.params.items():
            layer, k = self.param_layers[key]
            layer.params[k][...] = value
        for n, o in self.optim.items():
            o.restore(snap.optim[n])
        owners = {**self.G.buffers, **self.D.buffers}
        for key, value in (snap.buffers or {}).items():
            layer, k = owners[key]
            layer.running[k][...] = value
        self.iteration = snap.iteration
        self.start = snap

    def reset(self, tape: Tape) -> None:
        """Back to the start of the current iteration."""
        self.restore(self.start)
        tape.clear()
        tape.extra["noise_d"], tape.extra["noise_g"] = self.noise(self.iteration)
        tape.extra["rng"] = np.random.default_rng([self.seed, 2, self.iteration])

    def advance(self, run_mode: bool = False) -> None:
        self.history.append(self.start)
        self.iteration += 1
        self.start = self._snapshot()

    def train_iteration(self) -> float:
        """One iteration at full speed (the same steps, nothing kept but the last values);
        returns the discriminator's loss."""
        tape = Tape()
        self.reset(tape)
        for step in self.steps:
            step.run(tape)
        self.last = tape.values
        self.advance(run_mode=True)
        return float(tape.extra["d_loss"])

    def history_bytes(self) -> int:
        return self.history.nbytes

    def params_finite(self) -> bool:
        return all(np.isfinite(p).all() for p in self.params().values())

    def validation_loss(self) -> None:
        return None

    # ------------------------------------------------------------------ views
    def discriminate(self, points: np.ndarray) -> np.ndarray:
        """D's probability that each point is real (current parameters, eval mode)."""
        logits = run_layers(self.eval_d, np.asarray(points, dtype=self.dtype), False, None)
        return 0.5 * (1.0 + np.tanh(0.5 * logits[:, 0]))

    def generate(self, z: np.ndarray) -> np.ndarray:
        return run_layers(self.eval_g, np.asarray(z, dtype=self.dtype), False, None)

    # ------------------------------------------------------------------ records
    def step_record(self, tape: Tape, step: Step) -> dict:
        if step.phase == "forward":
            return {"value": tape.values[step.node]}
        if step.phase == "backward":
            return {"grad": tape.grads[step.node]}
        if step.node in self.frozen:
            return {"value": tape.values[step.node], "frozen": True}
        return {"value": tape.values[step.node], "grad": tape.grads[step.node]}

    def param_record(self, tape: Tape, key: str) -> dict:
        """A parameter at the start of the iteration and its gradient (D's: from its
        last step)."""
        if key in self.frozen:
            return {"value": self.start.params[key], "frozen": True}
        return {"value": self.start.params[key], "grad": tape.grads[key]}

    def layer_table(self) -> list[dict]:
        rows = []
        for net in (self.G, self.D):
            rows.append({"name": f"{net.name}.input", "type": "input",
                         "shape": list(net.in_shape), "params": 0})
            for layer in net.layers:
                rows.append({"name": f"{net.name}.{layer.name}", "type": layer.type,
                             "shape": list(layer.out_shape), "params": layer.param_count(),
                             "frozen": not layer.trainable})
        return rows
