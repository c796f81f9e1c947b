"""What produced a notebook's outputs: profile, dataset, device and library versions."""

from __future__ import annotations

from .devices import default_device, device_name, versions
from .profiles import Profile, dataset_name, get_profile


def provenance(profile: str | Profile | None = None, *, show: bool = True) -> dict[str, str]:
    """Collect (and print, one ``key: value`` per line) the settings and versions that a
    chapter's outputs depend on, so a reader can tell a ``quick`` result from a ``full`` one."""
    p = get_profile(profile)
    info = {
        "profile": p.name,
        "dataset": f"{dataset_name(p)} at {p.image_size}px, {p.steps} steps per image run",
        "seeds": ", ".join(map(str, p.seeds)),
        "toy seeds": ", ".join(map(str, p.toy_seeds)),
        "device": device_name(default_device()),
        **versions(),
    }
    if show:
        print("\n".join(f"{key}: {value}" for key, value in info.items()))
    return info
