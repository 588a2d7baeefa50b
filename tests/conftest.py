import os

# Qt tests never need a display; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NNVIZ_SETTINGS_ORG", "nnviz-tests")
# Most Qt tests look into the trainer (weights, optimizer): they train in the
# window's process. tests/qt/test_session_process.py and tests/core/
# test_run_process.py cover the app's default, training in a child process.
os.environ.setdefault("NNVIZ_IN_PROCESS", "1")
os.environ.setdefault("NNVIZ_RECORD", "0")  # windows in tests do not record runs

import pytest  # noqa: E402
import torch  # noqa: E402

# Two cores are shared by pytest and torch; one torch thread keeps runs steady.
torch.set_num_threads(1)


# --- process exit -------------------------------------------------------------------------
# Interpreter shutdown destroys the Qt widgets that one-shot render tests keep (and
# pyqtgraph's registries) in an arbitrary order; that crashed the process *after*
# every test had run and been reported. When Qt was used, the session ends here with
# its own exit status instead (`nnviz render` itself exits cleanly: a CLI test checks).
# NNVIZ_TEST_NATURAL_EXIT=1 lets Python tear down as usual, to look for the crash:
# test_render + test_main_window + test_animated_export, test_views + test_loss_view +
# test_health_views, test_export + test_graph_view + test_bootstrap + test_network_view
# and test_session + test_worker all exited cleanly that way (issue 13); it was seen
# only at the end of the whole suite.


def pytest_sessionfinish(session, exitstatus):
    session.config._nnviz_exitstatus = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    import sys

    status = getattr(config, "_nnviz_exitstatus", None)
    if os.environ.get("NNVIZ_TEST_NATURAL_EXIT"):  # (diagnosis: exit as Python does)
        return
    if status is not None and "PySide6.QtWidgets" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
