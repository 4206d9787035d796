"""Provides the tables of allowed keys, types, defaults and ranges of every scenario table.

Each table maps a key to a `Field` (tuinn.scenario.fields, which also holds the checks
that apply them: `check_table`, `check_value`, `to_array`, ...; they are re-exported
here, so `schema.check_table(raw, schema.DATA, ...)` reads as one vocabulary).
"""

from __future__ import annotations

# the checks, re-exported: the loaders use them as S.check_table, S.show, S.suggest, ...
from tuinn.scenario.fields import (MAX_DIMS, MAX_INT, REQUIRED, Field, check_range,
                                   check_table, check_value, in_range, rule, show, suggest,
                                   to_array, type_name)

MAX_CLASSES = 1000           # data generators' classes


def _pos_int(default=REQUIRED) -> Field:
    return Field("int", default, lo=0, lo_open=True)


def _nonneg_int(default) -> Field:
    return Field("int", default, lo=0)


def _pos_float(default) -> Field:
    return Field("float", default, lo=0, lo_open=True)


def _unit(default) -> Field:
    """A fraction in [0, 1)."""
    return Field("float", default, lo=0, hi=1, hi_open=True)


def _choice(default, *choices: str) -> Field:
    return Field("str", default, choices=choices)


# ------------------------------------------------------------------ the tables
KINDS = ("graph", "network", "knn", "gan")
DTYPES = ("float64", "float32")
TOP_LEVEL = ("scenario", "graph", "data", "model", "params", "loss", "optimizer", "train",
             "debug", "knn", "gan", "generator", "discriminator")
#: the kinds each table is for (a string: one kind; a tuple: several)
ONLY_FOR = {"graph": "graph", "data": ("network", "knn", "gan"), "model": "network",
            "params": "network", "loss": "network", "optimizer": ("network", "gan"),
            "train": ("network", "gan"), "knn": "knn", "gan": "gan", "generator": "gan",
            "discriminator": "gan"}

#: kind = "gan": the duel's settings; [generator] and [discriminator] are model-like
GAN = {
    "latent": Field("int", 2, lo=1, hi=64),      # z ~ N(0, 1) of this size
    "d_steps": Field("int", 1, lo=1, hi=100),    # discriminator updates per generator update
}
GAN_NET = {
    "input": Field("ints"),
    "layers": Field("tables"),
    "optimizer": Field("table", None),           # its own; absent: the shared [optimizer]
}

SCENARIO = {
    "name": Field("str"),
    "kind": _choice(REQUIRED, *KINDS),
    "description": Field("str", ""),
    "seed": _nonneg_int(0),
    "dtype": _choice("float64", *DTYPES),
}

GRAPH = {
    "inputs": Field("table"),
    "expr": Field("str"),
    "output": Field("str", None),
}

GENERATORS = ("xor", "spiral", "moons", "circles", "blobs", "sine", "copy", "chars", "bars",
              "shapes")
GENERATOR_OPTIONS = ("samples", "classes", "noise", "delay")
DATA = {
    "generator": _choice(None, *GENERATORS),
    "samples": _pos_int(200),
    "classes": Field("int", 2, lo=2, hi=MAX_CLASSES),
    "noise": Field("float", 0.1, lo=0),
    "delay": Field("int", 3, lo=1),          # copy task
    "validation": _unit(0.0),
    "x": Field("array", None),
    "y": Field("array", None),
    "file": Field("str", None),
    "preprocess": Field("strs", (), choices=("center", "standardize", "pca", "whiten")),
}

#: kind = "knn": k nearest neighbours (the data comes from [data], as for networks)
KNN = {
    "k": _pos_int(5),
    "metric": _choice("l2", "l2", "l1", "cosine"),
    "weights": _choice("uniform", "uniform", "distance"),
    "queries": Field("array", None),         # points to classify; absent: the validation split
    "features": Field("int", 2, lo=1, hi=64),   # the dimensions of generated points
}

MODEL = {
    "input": Field("ints"),
    "layers": Field("tables"),
}

INITS = ("zeros", "normal", "xavier", "he")
_INIT_STD = _pos_float(0.01)                 # std of init = "normal"
_RECURRENT = {"hidden": _pos_int(), "return_sequences": Field("bool", False),
              "bidirectional": Field("bool", False),     # a second set of params, suffix _r
              "init": _choice("xavier", *INITS), "init_std": _INIT_STD}
_POOL = {"size": _pos_int(), "stride": _pos_int(None)}   # stride None -> size
LAYER_COMMON = {"type": Field("str"), "name": Field("str", None),
                "trainable": Field("bool", True)}       # false: frozen parameters
LAYERS: dict[str, dict[str, Field]] = {
    "dense": {"units": _pos_int(), "init": _choice("xavier", *INITS), "init_std": _INIT_STD},
    "relu": {},
    "leaky_relu": {"slope": Field("float", 0.01, lo=0)},
    "sigmoid": {},
    "tanh": {},
    "dropout": {"p": _unit(0.5)},
    "conv2d": {"filters": _pos_int(), "kernel": _pos_int(), "stride": _pos_int(1),
               "padding": _nonneg_int(0), "init": _choice("he", *INITS), "init_std": _INIT_STD},
    "maxpool": dict(_POOL),
    "avgpool": dict(_POOL),
    "flatten": {},
    "rnn": dict(_RECURRENT),
    "lstm": dict(_RECURRENT),
    "gru": dict(_RECURRENT),
    "residual": {"layers": Field("tables")},
    "gelu": {},
    "embedding": {"vocab": _pos_int(), "dim": _pos_int(), "init": _choice("normal", *INITS),
                  "init_std": _pos_float(1.0)},
    "position": {"init": _choice("normal", *INITS), "init_std": _pos_float(0.02)},
    "layernorm": {"eps": _pos_float(1e-5)},
    "batchnorm": {"eps": _pos_float(1e-5), "momentum": Field("float", 0.1, lo=0, hi=1)},
    "seq_pool": {"mode": _choice("mean", "mean", "max", "last")},
    "skipgram": {"vocab": _pos_int(), "dim": _pos_int(), "init": _choice("normal", *INITS),
                 "init_std": _pos_float(0.1)},
    "attention": {"heads": _pos_int(1), "causal": Field("bool", False),
                  "init": _choice("xavier", *INITS), "init_std": _INIT_STD},
}
#: the parameters each layer type owns (the names of [params] keys after the dot)
LAYER_PARAMS = {"dense": ("W", "b"), "conv2d": ("W", "b"), "rnn": ("Wx", "Wh", "b"),
                "lstm": ("Wx", "Wh", "b"), "gru": ("Wx", "Wh", "bx", "bh"),
                "embedding": ("W",), "position": ("P",), "layernorm": ("gamma", "beta"),
                "batchnorm": ("gamma", "beta"), "skipgram": ("W_in", "W_out"),
                "attention": ("Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo")}
# a bidirectional recurrent layer's second direction: the same names with the suffix _r
for _cell in ("rnn", "lstm", "gru"):
    LAYER_PARAMS[_cell] += tuple(k + "_r" for k in LAYER_PARAMS[_cell])
#: options that size a layer, guarded against absurd values
WIDTH_OPTIONS = ("units", "hidden", "filters")

LOSS = {
    "type": _choice("softmax_ce", "softmax_ce", "hinge", "mse", "bce"),
    "margin": Field("float", 1.0, lo=0),     # hinge only
    "l2": Field("float", 0.0, lo=0),
}
OPTIMIZER = {
    "type": _choice("sgd", "sgd", "momentum", "rmsprop", "adam"),
    "lr": _pos_float(0.1),
    "momentum": _unit(0.9),
    "alpha": _unit(0.99),
    "beta1": _unit(0.9),
    "beta2": _unit(0.999),
    "eps": _pos_float(1e-8),
}
TRAIN = {
    "epochs": _pos_int(100),
    "batch_size": _nonneg_int(0),            # 0: full batch
    "shuffle": Field("bool", True),
}
DEBUG = {
    "breakpoints": Field("strs", ()),
    "watch": Field("strs", ()),
    "history": _nonneg_int(200),
    "speed": Field("int", 0, lo=0, hi=100_000),   # run mode's iterations a second; 0: full
}
