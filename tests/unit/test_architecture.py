"""The package's shape: each layer imports only the layers below it, and nothing imports in a circle.

Read from the source with `ast` (every import, at any depth, including those inside functions), so
the layer table of docs/design.md §1 holds for code that has not run yet.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Folders of Python code that are not part of the installed package.
NOT_INSTALLED = {"tests", "bench", "docs"}


def installed_packages() -> set[str]:
    """The top-level packages pyproject.toml installs (what a worker outside the checkout imports)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return {pattern.rstrip("*") for pattern in patterns}


def code_folders() -> set[str]:
    """Every top-level folder of the checkout that holds Python code."""
    return {
        path.name
        for path in ROOT.iterdir()
        if path.is_dir() and not path.name.startswith(".") and any(path.rglob("*.py"))
    } - NOT_INSTALLED


PACKAGES = tuple(sorted(installed_packages()))
# Layer → the layers of ours it may import (besides itself). docs/design.md §1.
MAY_IMPORT: dict[str, set[str]] = {
    "settings": set(),
    "markets": {"settings"},
    "dealer": set(),
    "store": {"settings"},
    "providers": {"markets", "settings"},
    "charts": {"store", "settings", "dealer"},
    "tasks": {"providers", "store", "markets", "dealer", "settings"},
    "flows": {"tasks", "store", "markets", "settings", "charts"},
    "scripts": {"flows", "tasks", "store", "markets", "settings", "charts"},
    "kapman": {"store", "markets", "settings"},
}
# `python -m X` fronts (`flows/backfill/__main__.py`, `store/__main__.py`): command lines, not
# library code; they may also use the command-line layer and the parsing helpers of `markets`.
FRONT_MAY_IMPORT = {"scripts", "flows", "tasks", "store", "markets", "settings", "charts"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def imported_names(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(module named by the statement, the names it imports as dotted candidates) per import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    statements = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            statements += [(alias.name, [alias.name]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            statements.append((base, [f"{base}.{alias.name}" for alias in node.names] + [base]))
    return statements


def missing_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of ours that `name` imports but that do not exist (a stale or mistyped import)."""
    return {
        module for module, _ in imported_names(name, path) if module.split(".")[0] in PACKAGES and module not in known
    }


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports, resolved to the longest known module name."""
    found: set[str] = set()
    for _, targets in imported_names(name, path):
        for target in targets:
            parts = target.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()
            if parts:
                found.add(".".join(parts))
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imported_modules(name, path, known) for name, path in modules.items()}


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        layer = module.split(".")[0]
        allowed = FRONT_MAY_IMPORT if module.endswith("__main__") else MAY_IMPORT[layer] | {layer}
        for target in sorted(targets):
            if target.split(".")[0] not in allowed:
                problems.append(f"{module} imports {target}")
    return problems


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_every_folder_of_code_is_installed_and_has_a_layer():
    assert code_folders() == installed_packages() == set(MAY_IMPORT)


def test_every_import_of_ours_names_a_module_that_exists():
    modules = project_modules()
    known = set(modules)
    assert {name: missing for name, path in modules.items() if (missing := missing_modules(name, path, known))} == {}


def test_each_layer_imports_only_the_layers_below_it():
    assert layer_violations(import_graph()) == []


def test_no_module_imports_another_that_imports_it_back():
    assert import_cycles(import_graph()) == []


def test_a_flow_importing_the_command_line_is_caught():
    graph = import_graph()
    graph["flows.backfill"] = graph["flows.backfill"] | {"scripts.ingest_options"}
    assert "flows.backfill imports scripts.ingest_options" in layer_violations(graph)
    assert ["flows.backfill", "scripts.ingest_options"] in import_cycles(graph)


def test_the_retired_flows_cli_cannot_come_back_as_an_import(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("from flows.cli import main\n")
    assert missing_modules("flows.backfill", source, set(project_modules())) == {"flows.cli"}


def test_an_import_inside_a_function_counts(tmp_path):
    source = tmp_path / "flows" / "example.py"
    source.parent.mkdir()
    source.write_text("def main():\n    from scripts.ingest_options import main\n    return main()\n")
    imports = imported_modules("flows.example", source, {"scripts.ingest_options", "scripts"})
    assert imports == {"scripts.ingest_options"}


@pytest.mark.parametrize(
    ("module", "statement", "expected"),
    [
        ("flows.run", "from . import reporting", "flows.reporting"),
        ("flows.backfill", "from ..run import open_run", "flows.run"),
        ("tasks.request", "import providers.registry as registry", "providers.registry"),
    ],
)
def test_relative_and_aliased_imports_resolve(tmp_path, module, statement, expected):
    name = "__init__.py" if module == "flows.backfill" else "module.py"
    source = tmp_path / name
    source.write_text(statement + "\n")
    assert expected in imported_modules(module, source, set(project_modules()))
