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
    """The library and framework versions a run record keeps, and what decides whether a seed
    repeats bit for bit (:func:`repeatability`)."""
    import torchvision

    return {"bngan": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "python": platform.python_version(), "omp_wait_policy": OMP_WAIT_POLICY, **repeatability()}


def repeatability() -> dict[str, str]:
    """What decides whether a seed's run repeats bit for bit on CPU, besides the library and
    the config: the processor, the vector instructions torch's kernels dispatch to
    (``cpu_capability``: DEFAULT, AVX2, AVX512, ...), the exact torch build and the thread
    count (a reduction split over other threads rounds differently). On another machine the
    same seed is another draw from the same distribution of runs."""
    return {"cpu": _cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_build": torch.version.git_version[:12], "threads": str(torch.get_num_threads())}


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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

