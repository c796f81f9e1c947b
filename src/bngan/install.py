"""The one install fault that breaks bngan far from its cause: torch and torchvision from two
different builds (torchvision's compiled operators then fail to register, and the first image
transform crashes with ``operator torchvision::nms does not exist``). Checked once per process,
before anything runs: on the first use of a name of ``bngan`` and when :mod:`bngan.data` loads
(:func:`ensure_torch_pair`); ``python -m bngan.install`` checks it alone."""

from __future__ import annotations

import sys

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


_checked = False


def ensure_torch_pair() -> None:
    """:func:`check_torch_pair`, once per process (an import of torchvision costs seconds)."""
    global _checked
    if not _checked:
        check_torch_pair()
        _checked = True


def main() -> int:
    """``python -m bngan.install``: check the pair and say so in one line (exit code 1 if broken)."""
    try:
        check_torch_pair()
    except TorchPairError as err:
        print(f"bngan: error: {err}", file=sys.stderr)
        return 1
    import torch
    import torchvision

    print(f"torch {torch.__version__} and torchvision {torchvision.__version__} work together")
    return 0


def _installed_version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "(not installed)"


if __name__ == "__main__":
    sys.exit(main())
