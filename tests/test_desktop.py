"""Desktop integration: the shipped entry and metainfo validate, and
``nnviz install-desktop`` writes (and ``--uninstall`` removes) exactly its files."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from importlib import resources

import pytest

from nnviz.cli import main
from nnviz.cli.install_desktop_cmd import APP_ID, ICON_SIZES, planned_files

RES = resources.files("nnviz") / "resources"


def _validator(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed (apt-get install desktop-file-utils appstream)")
    return exe


def test_shipped_desktop_entry_validates():
    exe = _validator("desktop-file-validate")
    proc = subprocess.run([exe, str(RES / f"{APP_ID}.desktop")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in (proc.stdout + proc.stderr).lower()


def test_shipped_metainfo_validates():
    exe = _validator("appstreamcli")
    path = str(RES / f"{APP_ID}.metainfo.xml")
    proc = subprocess.run([exe, "validate", "--no-net", path], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_icons_at_the_usual_sizes_are_square_pngs():
    from PIL import Image

    for s in ICON_SIZES:
        with Image.open(RES / "icons" / f"nnviz-{s}.png") as im:
            assert im.size == (s, s)
            assert im.mode == "RGBA"  # transparent corners


def test_install_and_uninstall_write_and_remove_exactly_their_files(tmp_path, capsys):
    base = tmp_path / "share"
    assert main(["install-desktop", "--prefix", str(base)]) == 0
    expected = set(planned_files(base))
    written = {p for p in base.rglob("*") if p.is_file() and not p.name.endswith(".cache")}
    assert written == expected
    entry = (base / "applications" / f"{APP_ID}.desktop").read_text()
    exec_line = next(line for line in entry.splitlines() if line.startswith("Exec="))
    program = shlex.split(exec_line[len("Exec=") :])[0]
    assert os.access(program, os.X_OK), exec_line  # the menu starts a real executable
    if shutil.which("desktop-file-validate"):
        path = base / "applications" / f"{APP_ID}.desktop"
        assert subprocess.run(["desktop-file-validate", str(path)]).returncode == 0
    assert main(["install-desktop", "--uninstall", "--prefix", str(base)]) == 0
    left = {p for p in base.rglob("*") if p.is_file() and not p.name.endswith(".cache")}
    assert left == set()
    assert "removed 11 files" in capsys.readouterr().out


def test_install_follows_xdg_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert main(["install-desktop"]) == 0
    assert (tmp_path / "xdg" / "applications" / f"{APP_ID}.desktop").is_file()


def test_install_into_unwritable_place_is_one_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["install-desktop", "--prefix", str(blocker)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nnviz: error: could not install")


def test_module_runs_as_a_program():
    proc = subprocess.run(
        [sys.executable, "-m", "nnviz", "install-desktop", "--help"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "--uninstall" in proc.stdout
