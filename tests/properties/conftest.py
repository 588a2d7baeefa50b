"""Hypothesis settings for the property tests: no example database written
into the tree, no per-example deadline (two shared cores make timings noisy);
each test sets its own max_examples so the folder stays under a minute."""

from hypothesis import settings

settings.register_profile("nnviz", database=None, deadline=None, print_blob=True)
settings.load_profile("nnviz")
