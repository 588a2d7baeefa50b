"""nnviz: see a neural network learn, on real torch."""

__version__ = "0.1.0"
