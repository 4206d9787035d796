"""Provides the pretrained body of the transfer-learning scenarios: trains it, saves it.

    python scenarios/data/make_transfer.py [--out scenarios/data/transfer-body.safetensors]

Trains the bundled scenario `transfer-pretrain` (2 -> 16 -> 16 -> 3: body1, tanh,
body2, tanh, then a softmax head, on the 3-arm spiral) for its epochs with tuinn's own
engine, in float64 from its fixed seed, as `tuinn train` would: the same tuinn on the
same machine writes the same numbers. Only
the body's parameters (body1.W, body1.b, body2.W, body2.b) are saved: the scenarios
`transfer-frozen` and `transfer-finetune` load them through `[params] file` and put a
new head on them for a new task.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "transfer-body.safetensors"
BODY = ("body1.W", "body1.b", "body2.W", "body2.b")

#: the bundled scenario that pretrains the body (the source task and the network)
PRETRAIN = HERE.parent / "transfer-pretrain.toml"


def pretrain():
    """The pretraining program after its epochs (tuinn's engine, float64)."""
    from tuinn.engine.network import NetworkProgram
    from tuinn.scenario.loader import load_scenario
    prog = NetworkProgram(load_scenario(PRETRAIN))
    for _ in range(prog.epochs * prog.per_epoch):
        prog.train_iteration()
    return prog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(OUT), help="an .npz or .safetensors file")
    args = parser.parse_args(argv)
    from tuinn.engine.run.training import accuracy
    from tuinn.scenario.params_io import write_params
    prog = pretrain()
    params = prog.params()
    write_params(args.out, {k: params[k] for k in BODY}, key="--out")
    print(f"pretrained on the spiral: loss {prog.losses[-1]:.4f}, accuracy "
          f"{100 * accuracy(prog, prog.x, prog.y):.1f}%; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
