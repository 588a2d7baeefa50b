"""Before Qt starts: no display, an X server that does not answer, or missing
xcb libraries give one clear line instead of Qt aborting the process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from nnviz.qt import bootstrap
from nnviz.qt.bootstrap import _package_for, display_problem, x_display_reachable


def problem(env: dict, platform: str = "linux", missing=(), reachable=True) -> str | None:
    return display_problem(
        env, platform, missing_libraries=lambda: list(missing), reachable=lambda d: reachable
    )


def test_a_desktop_or_an_offscreen_platform_is_fine():
    assert problem({"DISPLAY": ":0"}) is None
    assert problem({"QT_QPA_PLATFORM": "offscreen"}) is None  # tests, render
    assert problem({"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert problem({"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"}) is None
    assert problem({}, platform="darwin") is None  # macOS and Windows always have a screen
    assert problem({}, platform="win32") is None


def test_no_display_says_what_to_do():
    msg = problem({})
    assert "$DISPLAY is not set" in msg
    assert "xvfb-run nnviz" in msg and "nnviz render" in msg
    assert "\n" not in msg
    # QT_QPA_PLATFORM=xcb does not help without a display
    assert problem({"QT_QPA_PLATFORM": "xcb"}) == msg
    assert problem({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}) == msg


def test_a_display_nobody_answers_on():
    msg = problem({"DISPLAY": ":42"}, reachable=False)
    assert "cannot connect to the display ':42'" in msg and "xvfb-run" in msg


def test_missing_xcb_libraries_are_named_with_the_command_that_installs_them():
    msg = problem({"DISPLAY": ":0"}, missing=["libxcb-cursor0", "libxcb-icccm4"])
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in msg
    assert "\n" not in msg


def test_missing_libraries_come_from_the_dynamic_linker(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    ldd_out = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibxcb-cursor.so.0 => not found\n"
        "\tlibxkbcommon-x11.so.0 => not found\n"
        "\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)\n"
        "\tlibfoo-bar.so.3 => not found\n"
    )
    monkeypatch.setattr(bootstrap, "_xcb_plugin", lambda: plugin)
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(
        bootstrap.subprocess, "run", lambda *a, **k: SimpleNamespace(stdout=ldd_out)
    )
    assert bootstrap.missing_xcb_libraries() == [
        "libfoo-bar3",
        "libxcb-cursor0",
        "libxkbcommon-x11-0",
    ]


def test_package_names():
    assert _package_for("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert _package_for("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert _package_for("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract unix sockets")
def test_x_display_reachable_tries_the_local_socket():
    n = 7000 + os.getpid() % 1000
    assert not x_display_reachable(f":{n}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(f"\0/tmp/.X11-unix/X{n}")  # abstract: touches no file
        server.listen(1)
        assert x_display_reachable(f":{n}") and x_display_reachable(f":{n}.0")
    assert x_display_reachable("remote-host:10.0")  # not ours to check


def run_nnviz(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The command as a user runs it, with no display (and ``env`` added)."""
    keep = ("DISPLAY", "QT_QPA_PLATFORM", "WAYLAND_DISPLAY")
    env = {**{k: v for k, v in os.environ.items() if k not in keep}, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nnviz", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 displays")
def test_the_command_without_a_display_prints_one_line_and_exits_2():
    r = run_nnviz()  # plain `nnviz`: the app on the default scenario
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("nnviz: error: no display") and "xvfb-run" in lines[0]
    assert "Traceback" not in r.stderr and r.stdout == ""

    r = run_nnviz("open", "no-such-scenario")  # a bad id fails first, the same way
    assert r.returncode == 2
    assert r.stderr.startswith("nnviz: error: unknown scenario 'no-such-scenario'")
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_it_fails_before_a_window_opens():
    r = run_nnviz("open", "xor", "--device", "cuda", env={"QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 2
    assert r.stderr.startswith("nnviz: error: CUDA was asked for but ")
    assert "--device cpu" in r.stderr and len(r.stderr.strip().splitlines()) == 1


_HOLES = """
import ctypes, sys
import numpy as np
if sys.argv[1] == "fixed":
    from nnviz.qt.bootstrap import return_large_blocks_to_os
    assert return_large_blocks_to_os()

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
a = np.ones(1 << 18)  # 2 MB
del a  # a mapped block freed: glibc would raise its threshold now
big, small = [], []
for _ in range(100):  # large arrays (snapshots) between small long-lived ones
    big.append(np.ones(1 << 17))  # 1 MB
    small.append(np.ones(2000))
del big
print(libc.mallinfo2().fordblks / 2**20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_window_process_gives_freed_large_arrays_back_to_the_os():
    """The endurance run's slow growth: large arrays freed between small
    long-lived ones left holes the heap kept (issue 13). In the window's
    process they are mapped from the OS, and a freed one is given back."""

    def held_mb(mode: str) -> float:
        out = subprocess.run([sys.executable, "-c", _HOLES, mode], capture_output=True,
                             text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return float(out.stdout.strip())

    assert held_mb("default") > 50  # glibc's default keeps the holes (about 100 MB)
    assert held_mb("fixed") < 5
