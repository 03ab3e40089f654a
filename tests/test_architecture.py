"""Imports flow one way, in the order docs/architecture.md gives the modules."""

import ast
import os
import re
from pathlib import Path

import pytest

SRC = os.path.join(os.path.dirname(__file__), "..", "src", "neuronet")
MAP = Path(os.path.dirname(__file__), "..", "docs", "architecture.md").read_text(encoding="utf-8")


def documented_order() -> list[str]:
    """Module names in the order the map names them (layers/ and data/ as packages)."""
    names = []
    for found in re.findall(r"`([a-z_/]+?)(?:\.py|/)`", MAP):
        name = found.strip("/").replace("/", ".")
        if name not in names:
            names.append(name)
    return names


def top_level_imports(path: str, package: str) -> set[str]:
    """The neuronet modules a file imports at its top level (imports inside functions are run-time only)."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            targets = [f"{module}.{a.name}" for a in node.names] if not node.module else [module]
            found.update(t.removeprefix("neuronet.") for t in targets)
    return found


def rank(name: str, order: list[str]) -> int:
    """The place of a module in the map: its own, or its package's (layers.dense -> layers)."""
    while name not in order and "." in name:
        name = name.rsplit(".", 1)[0]
    return order.index(name) if name in order else -1


FILES = sorted(
    os.path.relpath(os.path.join(folder, f), SRC)
    for folder, _, files in os.walk(SRC)
    for f in files
    if f.endswith(".py") and f != "__init__.py" and "datasets" not in folder
)


@pytest.mark.parametrize("relative", FILES)
def test_a_module_imports_only_what_the_map_puts_above_it(relative):
    order = documented_order()
    module = relative[:-3].replace(os.sep, ".")
    package = "neuronet." + module.rsplit(".", 1)[0] if "." in module else "neuronet"
    assert rank(module, order) >= 0, f"docs/architecture.md does not name {relative}"
    for imported in top_level_imports(os.path.join(SRC, relative), package):
        same_package = "." in module and imported.startswith(module.rsplit(".", 1)[0] + ".")
        assert rank(imported, order) < rank(module, order) or same_package, f"{module} imports {imported}"
