"""tuinn: a terminal explorer and step-through debugger for neural networks."""

__version__ = "0.1.0"
