"""Example model files: `nnviz open examples/cnn_digits.py` (installed: `nnviz.examples`)."""
