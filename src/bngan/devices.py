"""The device a run uses: checked before anything is loaded, and described for its record."""

from __future__ import annotations

import platform

import torch

from . import OMP_WAIT_POLICY, __version__


def default_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(device: torch.device) -> str:
    """The device as a run record and a chapter's provenance name it."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def versions() -> dict[str, str]:
    """The library and framework versions a run record keeps."""
    import torchvision

    return {"bngan": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "python": platform.python_version(), "omp_wait_policy": OMP_WAIT_POLICY}


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device that this machine can use, or a one-line ValueError
    (before any data is loaded or any network built)."""
    try:
        found = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be cpu, cuda, cuda:N or mps; got {device!r}") from err
    if found.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} needs a CUDA GPU and none is available here; use --device cpu")
    if found.type == "cuda" and found.index is not None and found.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if found.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} needs Apple's MPS and it is not available here; use --device cpu")
    if found.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be cpu, cuda, cuda:N or mps; got {device!r}")
    return found

