"""The package's wings import each other in one direction, in the order of :data:`LAYERS`,
with no import circle, even through an import inside a function or one for annotations only."""

import ast
from pathlib import Path

import pytest

import bngan

PACKAGE = Path(bngan.__file__).parent

# Lowest first: a module may import its own layer and those before it, never one after it.
# The shared base and the user-facing entry points are the modules at the top of the package.
LAYERS = (
    ("base", {"choices", "config", "profiles", "data", "devices", "install", "files", "provenance"}),
    ("catalog", None),  # the experiments by name, as configs
    ("models", None),   # the networks a config describes
    ("measure", None),  # numbers from networks, samples and histories
    ("engine", None),   # one training iteration, in memory
    ("runs", None),     # configs and seeds trained into run folders, and read back
    ("evidence", None),  # what the runs say about the claims
    ("book", None),     # what the chapters call
    ("entry", {"__init__", "cli", "background", "colab"}),
)
WINGS = [name for name, top in LAYERS if top is None]
MAX_TOP_MODULES = 12


def module_name(path: Path) -> str:
    """``runs.train`` for ``runs/train.py``, ``runs`` for ``runs/__init__.py``, ``cli`` for ``cli.py``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1]) if parts[-1] == "__init__" and len(parts) > 1 else ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The bngan modules ``path`` imports, wherever in the file the import stands."""
    package = path.relative_to(PACKAGE).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package[:len(package) - node.level + 1])
            module = ".".join(base + ([node.module] if node.module else []))
            names = {f"{module}.{a.name}".lstrip(".") for a in node.names}
            # `from . import norms` imports the submodule; the package counts only for its own names
            candidates = names if node.module is None and names & known else {module} | names
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bngan."):
            module = node.module[len("bngan."):]
            candidates = {module} | {f"{module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            candidates = {a.name[len("bngan."):] for a in node.names if a.name.startswith("bngan.")}
        else:
            continue
        found |= {c for c in candidates if c in known}
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(path, set(found)) - {name} for name, path in found.items()}


def layer_of(module: str) -> int:
    head = module.split(".")[0]
    for k, (name, top) in enumerate(LAYERS):
        if (top is None and head == name) or (top is not None and module in top):
            return k
    raise AssertionError(f"bngan.{module} belongs to no layer of tests/test_architecture.py: add it to one")


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return path + [node, nxt]
            if nxt not in state and (cycle := visit(nxt, path + [node])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start, [])):
            return cycle
    return None


def against_the_order(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets if layer_of(b) > layer_of(a))


def test_the_cycle_finder_finds_a_circle_through_three_modules():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_order_check_finds_an_import_that_climbs():
    assert against_the_order({"models.norms": {"runs.train"}, "runs.train": {"models.norms", "config"}}) == \
        ["models.norms -> runs.train"]


def test_an_import_is_read_relative_to_the_importing_module(tmp_path):
    path = PACKAGE / "runs" / "train.py"
    found = imports_of(path, set(modules()))
    assert {"runs.folders", "engine.step", "config"} <= found


def test_no_module_of_the_package_imports_itself_back_through_others():
    assert find_cycle(graph()) is None


def test_every_import_runs_down_the_wings():
    assert against_the_order(graph()) == []


@pytest.mark.parametrize("wing", WINGS)
def test_each_wing_is_a_subpackage_that_says_what_it_may_import(wing):
    init = PACKAGE / wing / "__init__.py"
    assert init.is_file(), wing
    assert len(ast.get_docstring(ast.parse(init.read_text())) or "") > 100, f"{wing}/__init__.py needs its docstring"


def test_the_top_of_the_package_holds_only_the_shared_modules_and_the_entry_points():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert len(top) <= MAX_TOP_MODULES, sorted(top)
    named = set().union(*(t for _, t in LAYERS if t is not None))
    assert top == named, f"at the top but in no layer: {sorted(top - named)}; in a layer but gone: {sorted(named - top)}"
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(WINGS)


def test_the_engine_knows_no_run_folders_and_the_runs_no_readers():
    edges = graph()
    for module, targets in edges.items():
        if module.startswith(("engine", "models", "measure", "catalog")):
            assert not {t for t in targets if t.split(".")[0] in ("runs", "evidence", "book")}, module
        if module.startswith("runs"):
            assert not {t for t in targets if t.split(".")[0] in ("evidence", "book") or t == "cli"}, module
