"""nnviz: see a neural network learn, on real torch."""

__version__ = "0.1.0"


# --- nnviz.watch (issue 10): imported on first use, so `import nnviz` stays light (no torch) ---
def __getattr__(name: str):
    if name == "watch":
        from nnviz.watch import watch

        globals()["watch"] = watch  # (the import just set the attribute to the module)
        return watch
    raise AttributeError(f"module 'nnviz' has no attribute {name!r}")
