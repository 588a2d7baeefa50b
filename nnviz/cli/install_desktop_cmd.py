"""``nnviz install-desktop [--uninstall]``: nnviz in the application menu (Linux).

Copies the desktop entry, the AppStream metainfo and the icons shipped in the
package (``nnviz/resources``) into the user's XDG data directory
(``$XDG_DATA_HOME``, by default ``~/.local/share``), with ``Exec=`` pointing at
the ``nnviz`` this command was run from, so the menu starts the same
installation. ``--uninstall`` removes exactly those files. Headless: no Qt.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from nnviz.core.errors import NnvizError

APP_ID = "io.github.nnviz.nnviz"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def register(sub) -> None:
    p = sub.add_parser(
        "install-desktop",
        help="add nnviz to the desktop's application menu (Linux, this user only)",
    )
    p.add_argument("--uninstall", action="store_true", help="remove what install-desktop added")
    p.add_argument(
        "--prefix",
        type=Path,
        default=None,
        metavar="DIR",
        help="data directory to install into (default: $XDG_DATA_HOME or ~/.local/share)",
    )
    p.set_defaults(func=run)


def data_home(prefix: Path | None = None) -> Path:
    if prefix is not None:
        return prefix.expanduser()
    env = os.environ.get("XDG_DATA_HOME", "")
    return Path(env) if env and Path(env).is_absolute() else Path.home() / ".local" / "share"


def planned_files(base: Path) -> dict[Path, str]:
    """Destination → resource name (relative to ``nnviz/resources``)."""
    files = {
        base / "applications" / f"{APP_ID}.desktop": f"{APP_ID}.desktop",
        base / "metainfo" / f"{APP_ID}.metainfo.xml": f"{APP_ID}.metainfo.xml",
        base / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg": "nnviz.svg",
    }
    for s in ICON_SIZES:
        dest = base / "icons" / "hicolor" / f"{s}x{s}" / "apps" / f"{APP_ID}.png"
        files[dest] = f"icons/nnviz-{s}.png"
    return files


def nnviz_command() -> str:
    """The command line that starts this installation of nnviz."""
    exe = shutil.which("nnviz")
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "nnviz" and argv0.exists():
        exe = str(argv0.resolve())
    if exe:
        return shlex.quote(str(Path(exe).resolve()))
    return f"{shlex.quote(sys.executable)} -m nnviz"


def desktop_entry(text: str, command: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("Exec="):
            line = f"Exec={command} open %f"
        elif line.startswith("TryExec="):
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def _write(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, dest)


def _refresh_caches(base: Path) -> None:
    """Best effort: desktops that cache the menu and icons pick the change up."""
    for cmd in (
        ["update-desktop-database", "-q", str(base / "applications")],
        ["gtk-update-icon-cache", "-q", "-t", str(base / "icons" / "hicolor")],
    ):
        if shutil.which(cmd[0]):
            subprocess.run(cmd, check=False, capture_output=True, timeout=30)


def install(base: Path) -> list[Path]:
    root = resources.files("nnviz") / "resources"
    command = nnviz_command()
    written = []
    try:
        for dest, name in planned_files(base).items():
            data = (root / name).read_bytes()
            if name.endswith(".desktop"):
                data = desktop_entry(data.decode("utf-8"), command).encode("utf-8")
            _write(dest, data)
            written.append(dest)
    except OSError as exc:
        raise NnvizError(f"could not install into {base}: {exc.strerror or exc}") from None
    _refresh_caches(base)
    return written


def uninstall(base: Path) -> list[Path]:
    removed = []
    for dest in planned_files(base):
        try:
            dest.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise NnvizError(f"could not remove {dest}: {exc.strerror or exc}") from None
        removed.append(dest)
    _refresh_caches(base)
    return removed


def run(args: argparse.Namespace) -> int:
    base = data_home(args.prefix)
    if args.uninstall:
        removed = uninstall(base)
        print(f"removed {len(removed)} files from {base}")
    else:
        written = install(base)
        print(f"installed {len(written)} files into {base}; nnviz is in the application menu")
    return 0
