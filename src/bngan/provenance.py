"""What produced a notebook's outputs: profile, dataset, device and library versions."""

from __future__ import annotations

import platform

import torch

from . import __version__
from .profiles import Profile, dataset_name, get_profile


def provenance(profile: str | Profile | None = None, *, show: bool = True) -> dict[str, str]:
    """Collect (and print, one ``key: value`` per line) the settings and versions that a
    chapter's outputs depend on, so a reader can tell a ``quick`` result from a ``full`` one."""
    import torchvision

    p = get_profile(profile)
    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    else:
        device = f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"
    info = {
        "profile": p.name,
        "dataset": f"{dataset_name(p)} at {p.image_size}px, {p.steps} steps per image run",
        "seeds": ", ".join(map(str, p.seeds)),
        "device": device,
        "bngan": __version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
    }
    if show:
        print("\n".join(f"{key}: {value}" for key, value in info.items()))
    return info
