"""The dependency rule of the design, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from twin.plugins import Plugin, load_plugins, ordered

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ("layers", "addressing", "routing", "change_detection")


def test_import_contracts_hold() -> None:
    """import-linter: the kernel imports no domain package; domain packages form no cycle."""
    exe = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 2 kept, 0 broken" in proc.stdout


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, []) for a in node.names)
    return out


def test_domain_packages_use_each_other_only_through_public_names() -> None:
    """``from routing import RoadGraph`` is fine; ``from routing.graph import x`` is not,
    nor is importing a name that is missing from the other package's ``__all__``."""
    problems = []
    for pkg in DOMAIN:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for line, module, names in _imports(path):
                top = module.split(".")[0]
                if top not in DOMAIN or top == pkg:
                    continue
                where = f"{path.relative_to(ROOT)}:{line}"
                if module != top:
                    problems.append(f"{where} imports {module}, not {top}'s public names")
                    continue
                public = __import__(top).__all__
                problems.extend(
                    f"{where} imports {top}.{n}, which is not in {top}.__all__"
                    for n in names
                    if n not in public
                )
    assert problems == []


def test_plugins_are_discovered_in_dependency_order() -> None:
    names = [p.name for p in load_plugins()]
    assert set(DOMAIN) <= set(names)
    for p in load_plugins():
        for dep in p.requires:
            assert names.index(dep) < names.index(p.name)


def test_plugin_cycle_is_reported() -> None:
    a = Plugin(name="a", requires=("b",))
    b = Plugin(name="b", requires=("a",))
    with pytest.raises(ValueError, match="dependency cycle"):
        ordered([a, b])
