import os

# Qt tests never need a display; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NNVIZ_SETTINGS_ORG", "nnviz-tests")
# Most Qt tests look into the trainer (weights, optimizer): they train in the
# window's process. tests/qt/test_session_process.py and tests/core/
# test_run_process.py cover the app's default, training in a child process.
os.environ.setdefault("NNVIZ_IN_PROCESS", "1")
os.environ.setdefault("NNVIZ_RECORD", "0")  # windows in tests do not record runs

import torch  # noqa: E402

# Two cores are shared by pytest and torch; one torch thread keeps runs steady.
torch.set_num_threads(1)
