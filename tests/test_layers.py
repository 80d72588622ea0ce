"""The layers hold: the core imports no channel, source, page or command; channels and feeds import
only the core; nothing imports in a cycle. Read from the source (AST), so imports inside functions
and under ``if TYPE_CHECKING`` count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.paths import ROOT

PACKAGES = ("broadcaster", "channels", "feeds")


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _targets(name: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:  # relative: resolve against this module's package
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    for alias in node.names:  # `from pkg import module` imports the module, not only the package
        yield f"{base}.{alias.name}"
        yield base


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project's modules it imports, wherever in the module the import is written."""
    known = modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(name, path, node):
                while target and target not in known:  # `from a.b import name`: the module is a.b
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def layer(module: str) -> str:
    """core, web, cli, channels or feeds."""
    if module == "broadcaster.web" or module.startswith("broadcaster.web."):
        return "web"
    if module == "broadcaster.cli" or module.startswith("broadcaster.cli."):
        return "cli"
    top = module.split(".")[0]
    return "core" if top == "broadcaster" else top


ALLOWED = {  # layer -> the layers it may import
    "core": {"core"},
    "channels": {"core", "channels"},
    "feeds": {"core", "feeds"},
    "web": {"core", "channels", "feeds", "web", "cli"},
    "cli": {"core", "channels", "feeds", "web", "cli"},
}


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import against the layer rules, as 'a -> b (layer a may not import layer b)'."""
    out = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if layer(target) not in ALLOWED[layer(module)]:
                out.append(f"{module} -> {target} ({layer(module)} may not import {layer(target)})")
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_breaks_the_layers() -> None:
    bad = violations(import_graph())
    assert not bad, "imports against the layers (see docs/architecture.md):\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The checker itself: imports in functions, relative imports and `from pkg import module` all count."""
    (tmp_path / "broadcaster" / "web").mkdir(parents=True)
    (tmp_path / "channels").mkdir()
    (tmp_path / "feeds").mkdir()
    for init in ("broadcaster", "broadcaster/web", "channels", "feeds"):
        (tmp_path / init / "__init__.py").write_text("")
    (tmp_path / "broadcaster" / "core.py").write_text("def f():\n    from channels import sms\n")
    (tmp_path / "broadcaster" / "web" / "page.py").write_text("from .. import core\n")
    (tmp_path / "channels" / "sms.py").write_text("from broadcaster.web.page import x\n")
    (tmp_path / "feeds" / "a.py").write_text("import feeds.b\n")
    (tmp_path / "feeds" / "b.py").write_text("from feeds import a\n")
    graph = import_graph(tmp_path)
    assert graph["broadcaster.core"] == {"channels", "channels.sms"}
    assert graph["broadcaster.web.page"] == {"broadcaster", "broadcaster.core"}
    assert violations(graph) == [
        "broadcaster.core -> channels (core may not import channels)",
        "broadcaster.core -> channels.sms (core may not import channels)",
        "channels.sms -> broadcaster.web.page (channels may not import web)",
    ]
    found = cycles(graph)
    assert ["feeds.a", "feeds.b"] in found
    assert ["broadcaster.core", "broadcaster.web.page", "channels.sms"] in found


@pytest.mark.parametrize("module", ["broadcaster.web.console.app", "broadcaster.cli.main", "channels.line"])
def test_the_layers_are_where_the_docs_say(module: str) -> None:
    assert module in modules(), f"{module} moved: update docs/architecture.md and this test"
