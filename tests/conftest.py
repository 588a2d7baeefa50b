import os

# Qt tests never need a display; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NNVIZ_SETTINGS_ORG", "nnviz-tests")

import torch  # noqa: E402

# Two cores are shared by pytest and torch; one torch thread keeps runs steady.
torch.set_num_threads(1)
