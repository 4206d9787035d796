"""Provides `load_gan`: the tables of a kind = "gan" scenario -> GanSpec.

[data] holds the real samples (a generator, inline x and y, or a file; only x is
used); [gan] latent and d_steps; [generator] and [discriminator] are [model]-like
(input, layers) with an optional optimizer of their own; [optimizer] and [train] as
for networks. The generator's input must be [latent] and its output the data's
shape; the discriminator's input the data's shape and its output one logit.
"""

from __future__ import annotations

from pathlib import Path

from tuinn.scenario import schema as S
from tuinn.scenario.data_load import load_data
from tuinn.scenario.locate import Where
from tuinn.scenario.network_load import load_layers
from tuinn.scenario.spec import (GanNetSpec, GanSpec, LossSpec, NetworkSpec, OptimizerSpec,
                                 TrainSpec)

NETS = ("generator", "discriminator")


def load_gan(raw: dict, where: Where, dtype: str, base: Path) -> GanSpec:
    from tuinn.scenario.memory import check_network
    vals = S.check_table(raw.get("gan", {}), S.GAN, "gan", where)
    for table in ("data", *NETS):
        if table not in raw:
            what = {"data": "the real samples", "generator": "input = [latent], layers",
                    "discriminator": "input = the data's shape, layers"}[table]
            raise where.missing(table, f"kind = 'gan' needs a [{table}] table ({what})")
    optimizer = OptimizerSpec(**S.check_table(raw.get("optimizer", {}), S.OPTIMIZER,
                                              "optimizer", where))
    train = TrainSpec(**S.check_table(raw.get("train", {}), S.TRAIN, "train", where))
    nets = {}
    for name in NETS:
        t = S.check_table(raw[name], S.GAN_NET, name, where)
        own = t["optimizer"]
        opt = (OptimizerSpec(**S.check_table(own, S.OPTIMIZER, f"{name}.optimizer", where))
               if own is not None else None)
        nets[name] = GanNetSpec(input=tuple(t["input"]),     # layer names counted per network
                                layers=load_layers(t["layers"], f"{name}.layers", where, {}, {}),
                                optimizer=opt)
        if not nets[name].layers:
            raise where.error(f"[{name}] needs at least one layer", f"{name}.layers")
    gen, disc = nets["generator"], nets["discriminator"]
    if gen.input != (vals["latent"],):
        raise where.error(f"the generator's input is {list(gen.input)}, but [gan] latent = "
                          f"{vals['latent']}", "generator.input",
                          f"input = [{vals['latent']}]")
    table = raw["data"]
    if isinstance(table, dict) and isinstance(table.get("x"), list) and "y" not in table:
        table = {**table, "y": [0] * len(table["x"])}    # real samples only: no targets
    data, samples, data_key = load_data(table, where, dtype, base, disc.input)
    spec = GanSpec(data=data, generator=gen, discriminator=disc, optimizer=optimizer,
                   train=train, latent=vals["latent"], d_steps=vals["d_steps"])
    for name, net in nets.items():     # the memory estimate, per network
        probe = NetworkSpec(input=net.input, layers=net.layers, data=data, loss=LossSpec("bce"),
                            optimizer=net.optimizer or optimizer, train=train)
        check_network(_Probe(dtype, raw), probe, where, samples, data_key, f"{name}.layers")
    return spec


class _Probe:
    """What check_network reads of a Spec: the dtype and [debug] history."""

    def __init__(self, dtype: str, raw: dict):
        self.info = type("Info", (), {"dtype": dtype})()
        debug = raw.get("debug") if isinstance(raw.get("debug"), dict) else {}
        history = debug.get("history", 200)           # already checked by the loader
        self.debug = type("Debug", (), {"history": history if isinstance(history, int) else 200})()
