"""The one install fault that breaks bngan far from its cause: torch and torchvision from two
different builds (torchvision's compiled operators then fail to register, and the first image
transform crashes with ``operator torchvision::nms does not exist``). Checked on import."""

from __future__ import annotations

FIX = ("python -m pip install --force-reinstall torch torchvision --index-url "
       "https://download.pytorch.org/whl/cpu   (or, with a GPU, the same without --index-url)")


class TorchPairError(ImportError):
    """torch and torchvision do not belong together."""


def check_torch_pair() -> None:
    """Import torchvision and call one of its compiled operators; raise :class:`TorchPairError`
    with a one-line message naming both versions and the command that fixes it."""
    import torch

    try:
        import torchvision
        from torchvision.ops import nms

        nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
    except (RuntimeError, ImportError, AttributeError) as err:
        found = _installed_version("torchvision")
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TorchPairError(f"torch {torch.__version__} and torchvision {found} do not work together ({reason}); "
                             f"install them as a pair from one index: {FIX}") from None
    del torchvision


def _installed_version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "(not installed)"
