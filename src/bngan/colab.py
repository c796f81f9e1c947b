"""The Colab set-up cell every chapter opens with, written from the one place the book's
repository address is kept: ``repository.url`` in ``_config.yml``.

A notebook opened on Colab has no ``_config.yml`` next to it, so the cell cannot read the
address at run time; instead ``python -m bngan.colab`` rewrites every chapter's cell from it
(after a fork or a move), and ``tests/test_book.py`` fails when a cell and the config disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CELL = '''import sys

if "google.colab" in sys.modules:
    %pip install --quiet "bngan @ git+{url}"'''


def repository_url(root: Path) -> str:
    """``repository.url`` of ``root/_config.yml`` (PyYAML comes with the ``book`` extra)."""
    import yaml

    path = Path(root) / "_config.yml"
    url = ((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("repository") or {}).get("url")
    if not url:
        raise ValueError(f"{path} has no repository.url")
    return str(url).rstrip("/")


def install_cell(url: str) -> str:
    """The set-up cell's source for a repository at ``url``: on Colab only, install bngan from
    it and keep Colab's torch (the requirements are lower bounds)."""
    return CELL.format(url=url)


def sync_install_cells(root: Path) -> list[Path]:
    """Rewrite the first code cell of every ``book/*.ipynb`` under ``root`` from
    ``_config.yml``; returns the notebooks that changed."""
    source = install_cell(repository_url(root))
    changed = []
    for path in sorted((Path(root) / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        first = next(c for c in nb["cells"] if c["cell_type"] == "code")
        if "".join(first["source"]) != source:
            first["source"] = source.splitlines(keepends=True)
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    for notebook in sync_install_cells(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(f"rewrote the set-up cell of {notebook}")
