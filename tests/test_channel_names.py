"""The channel names are written out once, in ``broadcaster.settings.CHANNEL_NAMES``; everything else uses
that tuple (the registries, keyed by name, are held to it in tests/channels/test_renderers.py)."""

from __future__ import annotations

import ast
import re

from broadcaster.models import ContactKind
from broadcaster.rendering import Renderer
from broadcaster.settings import CHANNEL_NAMES, Settings
from channels import build_renderers
from tests.paths import ROOT
from tests.test_layers import modules

HOME = "broadcaster.settings"
# a literal tuple, list or set of two or more quoted names in a template: ("email", "line")
TEMPLATE_LIST = re.compile(r"[(\[{]\s*(?:[\"'][a-z]+[\"']\s*,\s*)+[\"'][a-z]+[\"']\s*,?\s*[)\]}]")


def listed_names(node: ast.Tuple | ast.List | ast.Set) -> list[str]:
    """The channel names a tuple, list or set literal writes out."""
    return [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in CHANNEL_NAMES]


def test_no_module_but_settings_writes_out_a_list_of_channel_names() -> None:
    found = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Tuple | ast.List | ast.Set):
                continue
            names = listed_names(node)
            if len(names) >= 2 and name != HOME:
                found.append(f"{name}:{node.lineno}: {names}")
    assert found == []


def test_no_template_writes_out_a_list_of_channel_names() -> None:
    found = []
    for path in sorted((ROOT / "templates").rglob("*.j2")):
        for match in TEMPLATE_LIST.finditer(path.read_text(encoding="utf-8")):
            names = [n for n in re.findall(r"[\"']([a-z]+)[\"']", match.group(0)) if n in CHANNEL_NAMES]
            if len(names) >= 2:
                found.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert found == []


def test_the_channels_that_reach_people_are_channels_and_say_so_in_their_renderers(settings: Settings) -> None:
    assert {str(kind) for kind in ContactKind} <= set(CHANNEL_NAMES)
    renderers = build_renderers(settings, Renderer(settings))
    assert tuple(renderers) == CHANNEL_NAMES
    assert {name for name, r in renderers.items() if r.reaches_people} == {str(kind) for kind in ContactKind}
