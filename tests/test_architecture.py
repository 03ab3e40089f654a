"""Imports flow one way: down the layers that docs/architecture.md lists in its ```layers block, every import
at any depth (in functions, methods, ``if TYPE_CHECKING``), with no cycle; and no module reads another module's
or object's underscored names."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "neuronet"
PAGE = ROOT / "docs" / "architecture.md"
ROOT_INIT = "__init__"  # the table's name for src/neuronet/__init__.py (the package ``neuronet`` itself)


def module_name(path: Path) -> str:
    """The table's name of a file: ``layers/base.py`` is ``layers.base``, a package's ``layers/__init__.py`` is
    the package, ``layers``; the root's ``__init__.py`` is ``__init__``."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def places(text: str) -> dict[str, int]:
    """Each module's layer in the page's ```layers block. A line is ``N | a, b, c``: layer N (1, 2, ... from
    the bottom, one line each) holds modules a, b and c; ``#`` starts a comment."""
    blocks = re.findall(r"^```layers[ \t]*\n(.*?)^```", text, re.S | re.M)
    if len(blocks) != 1:
        raise AssertionError(f"docs/architecture.md must hold one ```layers block; it holds {len(blocks)}")
    found: dict[str, int] = {}
    layer = 0
    for line in blocks[0].splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        label, bar, modules = line.partition("|")
        layer += 1
        if not bar or label.strip() != str(layer):
            raise AssertionError(f"docs/architecture.md, ```layers: {line!r} should read '{layer} | modules'")
        for name in (name.strip() for name in modules.split(",")):
            if not re.fullmatch(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*", name):
                raise AssertionError(f"docs/architecture.md, ```layers: {line!r} holds {name!r}, not a module")
            if name in found:
                raise AssertionError(f"docs/architecture.md, ```layers names {name} twice")
            found[name] = layer
    return found


def absolute(name: str) -> str:
    return "neuronet" if name == ROOT_INIT else f"neuronet.{name}"


def from_absolute(dotted: str) -> str:
    return ROOT_INIT if dotted == "neuronet" else dotted.removeprefix("neuronet.")


def target(dotted: str, imported: str | None) -> str:
    """The module ``from dotted import imported`` reads: ``dotted.imported`` where that is a module (a file or a
    package), else ``dotted`` itself (a name its file or its ``__init__`` defines)."""
    if imported is not None and from_absolute(f"{dotted}.{imported}") in MODULES:
        return from_absolute(f"{dotted}.{imported}")
    return from_absolute(dotted)


def is_neuronet(dotted: str) -> bool:
    return dotted == "neuronet" or dotted.startswith("neuronet.")


def imports_in(source: str, package: str) -> list[tuple[int, str]]:
    """(line, module) for each neuronet module that ``source`` imports, anywhere in it, relative (to
    ``package``, e.g. "neuronet.layers") or absolute; third-party imports are left out."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, from_absolute(a.name)) for a in node.names if is_neuronet(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                dotted = ".".join(base + (node.module.split(".") if node.module else []))
            elif node.module and is_neuronet(node.module):
                dotted = node.module
            else:
                continue
            found += [(node.lineno, target(dotted, None if a.name == "*" else a.name)) for a in node.names]
    return sorted(set(found))


def imports(name: str) -> list[tuple[int, str]]:
    """(line, module) for each neuronet module that module ``name`` imports."""
    path = MODULES[name]
    package = absolute(name) if path.name == "__init__.py" else absolute(name).rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), package)


def graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: the first line importing it}."""
    edges: dict[str, dict[str, int]] = {}
    for name in MODULES:
        edges[name] = {}
        for line, imported in imports(name):
            edges[name].setdefault(imported, line)
    return edges


def test_places_reads_the_layers_block():
    page = "text\n```layers\n# bottom\n1 | checks, memory  # the floor\n\n2 | layers.base\n```\nmore ```layers\n"
    assert places(page) == {"checks": 1, "memory": 1, "layers.base": 2}
    for wrong, message in [
        ("1 | a\n3 | b", "should read '2 | modules'"),
        ("1 | a, a", "names a twice"),
        ("1 | a,", "not a module"),
        ("a, b", "should read '1 | modules'"),
    ]:
        with pytest.raises(AssertionError, match=message):
            places(f"```layers\n{wrong}\n```\n")
    with pytest.raises(AssertionError, match="holds 0"):
        places("no block")


def test_imports_in_finds_every_import_at_any_depth():
    source = """
import numpy, neuronet.checks
from typing import TYPE_CHECKING
from . import base, Layer
from .dense import Dense
from .. import settings as S
from ..layers import Dense
from neuronet.data.csv import read_csv
if TYPE_CHECKING:
    from ..model import Sequential
def f():
    from neuronet import set_seed
    class A:
        def g(self):
            import neuronet.windows as w
"""
    assert {module for _, module in imports_in(source, "neuronet.layers")} == {
        "checks", "layers.base", "layers", "layers.dense", "settings", "data.csv", "model", ROOT_INIT, "windows",
    }  # fmt: skip
    assert imports_in("from . import checks\nfrom .onnx.graph import Graph\n", "neuronet") == [
        (1, "checks"), (2, "onnx.graph"),
    ]  # fmt: skip


def test_the_page_names_every_module_and_only_modules():
    named = places(PAGE.read_text(encoding="utf-8"))
    missing = sorted(set(MODULES) - set(named))
    unknown = sorted(set(named) - set(MODULES))
    block = "docs/architecture.md's ```layers block"
    wrong = [f"{block} does not name {', '.join(missing)}"] if missing else []
    wrong += [f"{block} names {', '.join(unknown)}, which do not exist"] if unknown else []
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_module_imports_only_modules_below_it(name):
    named = places(PAGE.read_text(encoding="utf-8"))
    if name not in named:
        pytest.fail(f"docs/architecture.md's ```layers block does not name {name}")
    where = MODULES[name].relative_to(SRC)
    wrong = []
    for line, imported in imports(name):
        if imported not in named:
            wrong.append(f"{where}:{line} imports {imported}, which the table does not name")
        elif named[imported] >= named[name]:
            relation = "level with" if named[imported] == named[name] else "above"
            wrong.append(f"{where}:{line} imports {imported}, {relation} {name} (layer {named[imported]} against "
                         f"{named[name]})")  # fmt: skip
    assert not wrong, "\n".join(wrong)


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The import cycles, each a path back to its start: the strongly connected groups of modules (Tarjan), and
    in each, the shortest cycle through each of its modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # (recursive: the graph is a few dozen modules deep at most)
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in edges.get(node, {}):
                groups.append(group)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    found = []
    for group in groups:  # through each module of a group, the shortest way back to it (breadth first)
        for start in sorted(group):
            paths, seen = [[start]], {start}
            while paths:
                path = paths.pop(0)
                nxt = [n for n in sorted(edges.get(path[-1], {})) if n in group]
                if start in nxt:
                    cycle = [*path, start]
                    turn = cycle.index(min(path))  # (a cycle once, whichever module it was found from)
                    cycle = [*cycle[turn:-1], *cycle[:turn], cycle[turn]]
                    if cycle not in found:
                        found.append(cycle)
                    break
                for n in nxt:
                    if n not in seen:
                        seen.add(n)
                        paths.append([*path, n])
    return sorted(found)


def test_cycles_finds_a_cycle_and_names_it():
    edges = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1, "d": 1, "f": 1}, "d": {}, "e": {"e": 1}, "f": {"c": 1}}
    assert cycles(edges) == [["a", "b", "c", "a"], ["c", "f", "c"], ["e", "e"]]
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {}}) == []


def test_no_import_cycles():
    edges = graph()
    found = cycles(edges)

    def shown(cycle):
        steps = [f"{a} ({MODULES[a].relative_to(SRC)}:{edges[a][b]})" for a, b in zip(cycle, cycle[1:])]
        return " -> ".join([*steps, cycle[-1]])

    assert not found, "import cycles:\n" + "\n".join(shown(c) for c in found)


# Underscored names that are other code's public API: an attribute name (off any object) or one exact read
ALLOWED = {
    "_replace", "_fields", "_asdict",  # collections.namedtuple's methods (underscored to stay clear of fields)
    "os._exit",  # the standard library's exit without clean-up: an MPI rank that must stop at once
}  # fmt: skip


def private(attr: str) -> bool:
    return attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__")) and attr not in ALLOWED


def own(value: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``: an object's (or its class's) own members."""
    if isinstance(value, ast.Name):
        return value.id in ("self", "cls")
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super"


def private_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) for each underscored attribute read off anything but ``self``/``cls``/``super()``, and each
    underscored name imported from a neuronet module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and private(node.attr) and not own(node.value):
            read = f"{ast.unparse(node.value)}.{node.attr}"
            if read not in ALLOWED:
                found.append((node.lineno, read))
        elif isinstance(node, ast.ImportFrom) and (node.level or is_neuronet(node.module or "")):
            where = "." * node.level + (node.module or "")
            found += [(node.lineno, f"{a.name}, imported from {where}") for a in node.names if private(a.name)]
    return sorted(found)


def test_private_reads_finds_what_it_should_and_nothing_else():
    source = "from .x import _hidden, shown\nclass A:\n    def f(self, other):\n        self._a, cls._b\n"
    source += "        super()._c\n        other._d\n        self.child._e\n        row._replace(a=1).__dict__\n"
    source += "        os._exit(1), sys._exit(1)\n"
    found = [(1, "_hidden, imported from .x"), (6, "other._d"), (7, "self.child._e"), (9, "sys._exit")]
    assert private_reads(source) == found


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_reads_another_modules_underscored_names(name):
    path = MODULES[name]
    found = private_reads(path.read_text(encoding="utf-8"))
    assert not found, "\n".join(f"{path.relative_to(SRC)}:{line} reads {what}" for line, what in found)
