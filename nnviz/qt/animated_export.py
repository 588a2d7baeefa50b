"""Animated GIF and MP4 of the views, for slides (issue 11, item 6): writing them.

Two animations, both drawn offscreen frame by frame with no wall-clock waits
(:mod:`nnviz.qt.animated_render`):

* **progress**: training in chunks of steps through the core run loop; after
  each chunk the views are drawn from the latest snapshot and the history
  (``nnviz render ID --out F.gif --steps N``);
* **sweep**: one training step's forward and backward sweep at the teaching
  pace, the pass animator's clock stepped by hand (``--sweep``).

Frames are written with imageio (GIF through Pillow, MP4 through the ffmpeg
binary that ships with ``imageio-ffmpeg``) to a temporary file beside the
target and renamed into place, as :mod:`nnviz.qt.export` does for pictures.
The app's recorder (:mod:`nnviz.qt.recorder`) writes through here too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from nnviz.core.errors import NnvizError
from nnviz.qt import export
from nnviz.qt.export import _create_temporary, _error

ANIM_FORMATS = (".gif", ".mp4")
ANIM_VIEWS = ("network", "boundary", "loss", "all")
DEFAULT_FPS = 12  # a slide's pace; GIF stores centiseconds, so 8 cs a frame
DEFAULT_SIZE = (960, 540)
PROGRESS_FRAMES = 48  # the first before training, the last after step N
MAX_FRAMES = 120
SWEEP_PERIOD_S = 4.0  # the teaching pace: one step every 4 s
HOLD_LAST_S = 2.0  # a GIF of training rests on its last frame before it loops
GIF_COLOURS = 128  # one palette for all frames: the themes' few colours and their blends


def is_animation(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in ANIM_FORMATS


def check_target(path: str | os.PathLike) -> Path:
    """The target as a Path, or an NnvizError saying why a GIF or MP4 cannot be
    written there (checked before any training, so a bad name fails at once)."""
    return export.check_target(path, ANIM_FORMATS)


# --- writing ------------------------------------------------------------------------------------


def write_animation(
    frames: list[np.ndarray], path: str | os.PathLike, fps: float = DEFAULT_FPS, hold_last_s=0.0
) -> Path:
    """Write ``frames`` (same-sized RGB arrays) as a looping GIF or an MP4,
    atomically: a temporary name beside the target, renamed when whole."""
    path = check_target(path)
    if not frames:
        raise NnvizError(f"cannot write {path}: no frames were recorded")
    h, w = frames[0].shape[:2]
    frames = [f[: h // 2 * 2, : w // 2 * 2] for f in frames]
    tmp = _create_temporary(path)
    try:
        try:
            if path.suffix.lower() == ".gif":
                _write_gif(frames, tmp, fps, hold_last_s)
            else:
                _write_mp4(frames, tmp, fps)
        except OSError as exc:
            raise _error(path, exc) from None
        except (RuntimeError, ValueError, BrokenPipeError) as exc:
            raise NnvizError(f"cannot write {path}: the encoder failed ({exc}); try .gif") from None
        if os.path.getsize(tmp) == 0:
            raise NnvizError(f"cannot write {path}: nothing was written (disk full?)")
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _error(path, exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def _write_gif(frames, tmp: Path, fps: float, hold_last_s: float) -> None:
    """One palette for every frame (from up to 8 frames spread over it), no
    dithering: what does not move stays the same bytes, so Pillow stores only
    each frame's changed rectangle and a README-sized file comes out."""
    from PIL import Image

    ms = round(1000.0 / fps)
    durations = [ms] * len(frames)
    durations[-1] = max(ms, round(hold_last_s * 1000.0))
    picks = np.linspace(0, len(frames) - 1, min(len(frames), 8)).round().astype(int)
    sample = np.concatenate([frames[i][::2, ::2] for i in picks], axis=0)
    palette = Image.fromarray(sample).quantize(GIF_COLOURS, method=Image.Quantize.MEDIANCUT)
    images = [
        Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames
    ]
    images[0].save(
        tmp,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
    )


def _write_mp4(frames, tmp: Path, fps: float) -> None:
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(
        str(tmp),
        (w, h),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=2,
        quality=7,
        ffmpeg_log_level="error",
        output_params=["-movflags", "+faststart"],
    )
    writer.send(None)
    try:
        for f in frames:
            writer.send(np.ascontiguousarray(f))
    finally:
        writer.close()


__all__ = [
    "ANIM_FORMATS",
    "ANIM_VIEWS",
    "check_target",
    "is_animation",
    "write_animation",
]
