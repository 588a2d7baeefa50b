"""Which device to train on: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnviz.core.errors import NnvizError


@dataclass(frozen=True)
class DeviceChoice:
    id: str  # "cpu", "cuda:0", ...
    label: str  # what the device menu shows
    available: bool
    reason: str = ""  # why it is unavailable (tooltip of a greyed entry)


def cuda_unavailable_reason() -> str:
    if not torch.backends.cuda.is_built():
        return "this torch is a CPU-only build (install a CUDA build of torch to train on a GPU)"
    if torch.cuda.device_count() == 0:
        return "no CUDA device was found (no NVIDIA GPU or driver visible to torch)"
    return ""


def list_devices() -> list[DeviceChoice]:
    """The CPU and every CUDA device; CUDA greyed with the reason when absent."""
    out = [DeviceChoice("cpu", "CPU", True)]
    reason = cuda_unavailable_reason()
    if reason:
        out.append(DeviceChoice("cuda", "CUDA", False, reason))
    else:
        for i in range(torch.cuda.device_count()):
            out.append(
                DeviceChoice(f"cuda:{i}", f"CUDA {i}: {torch.cuda.get_device_name(i)}", True)
            )
    return out


def resolve_device(name: str | None) -> torch.device:
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if not cuda_unavailable_reason() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        reason = cuda_unavailable_reason()
        if reason:
            raise NnvizError(f"CUDA was asked for but {reason}; use --device cpu or auto")
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise NnvizError(f"bad device name {name!r}; use cpu, cuda or cuda:N") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise NnvizError(
                f"there is no {name}: torch sees {torch.cuda.device_count()} CUDA device(s)"
            )
        return dev
    raise NnvizError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")


def lower_thread_priority(niceness: int = 10) -> bool:
    """Make the calling thread yield the CPU to the rest of the process.

    Meant for the training thread: on a 2-core machine the GUI thread then
    wins when it needs a core, and training still gets every idle cycle
    (DESIGN.md, "Sharing 2 cores"). On Linux ``setpriority`` on a thread id
    applies to that thread alone; torch's own intra-op threads are started
    by the first op run on the thread, and inherit its niceness when they
    start after this call. Raising niceness needs no privileges; lowering it
    back does, so this is one-way. Returns False where not supported.
    """
    import os
    import sys
    import threading

    if not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return False
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, max(current, min(19, current + int(niceness))))
    except OSError:
        return False
    return True


OUT_OF_MEMORY_ADVICE = (
    "the device ran out of memory; lower the batch size (Settings → Batch, or --batch-size), "
    "use a smaller model, or train on the CPU (--device cpu)"
)


def explain_failure(message: str) -> str:
    """A training failure's message with what to do, where we know it: an
    out-of-memory error (CUDA's, or the CPU allocator's) says how to fit."""
    text = message.lower()
    if "outofmemoryerror" in text or "out of memory" in text or "memoryerror" in text:
        if message.startswith("Training stopped"):  # "Training stopped at step N: ..."
            return f"{message.split(':', 1)[0]}: {OUT_OF_MEMORY_ADVICE}"
        return OUT_OF_MEMORY_ADVICE[0].upper() + OUT_OF_MEMORY_ADVICE[1:]
    return message
