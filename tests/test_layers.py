"""The packages are layers (attribution_pipeline/__init__.py): each module imports only
the layers its package may import, and no two modules import each other, directly
or round a loop. Imports inside functions count too: a local import hides a
back-edge from the reader, not from this test."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Each layer and the project layers it may import (besides itself).
ALLOWED = {
    "attribution_pipeline": set(),  # the package docstring only
    "models": set(),
    "attribution_pipeline.contract": {"models"},
    "attribution_pipeline.sources": {"models", "attribution_pipeline.contract"},
    "attribution_pipeline.warehouse": {"models", "attribution_pipeline.contract"},
    "attribution_pipeline.sample_data": {"models", "attribution_pipeline.contract"},
    "attribution_pipeline.report": {"models", "attribution_pipeline.contract", "attribution_pipeline.warehouse"},
    "attribution_pipeline.orchestration": {
        "models",
        "attribution_pipeline.contract",
        "attribution_pipeline.sources",
        "attribution_pipeline.warehouse",
        "attribution_pipeline.report",
    },
    "assets": {
        "models",
        "attribution_pipeline.contract",
        "attribution_pipeline.sources",
        "attribution_pipeline.warehouse",
        "attribution_pipeline.report",
        "attribution_pipeline.orchestration",
    },
    "attribution_pipeline.definitions": {
        "models",
        "attribution_pipeline.contract",
        "attribution_pipeline.sources",
        "attribution_pipeline.warehouse",
        "attribution_pipeline.orchestration",
        "assets",
    },
    "attribution_pipeline.app": {
        "models",
        "attribution_pipeline.contract",
        "attribution_pipeline.sources",
        "attribution_pipeline.warehouse",
        "attribution_pipeline.sample_data",
        "attribution_pipeline.report",
        "attribution_pipeline.orchestration",
        "attribution_pipeline.definitions",
    },
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for top in ("models", "assets", "attribution_pipeline") for path in (ROOT / top).rglob("*.py")}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a file imports, resolved to module names (``from a import b``
    is module ``a.b`` when that is a module, else ``a``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module for alias in node.names}
    return {name for name in found if name in modules}


def layer_of(module: str) -> str:
    return max((layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")), key=len)


def test_every_project_module_is_in_a_layer():
    modules = project_modules()
    assert all(layer_of(module) for module in modules)
    assert {module for module in modules if module.startswith("attribution_pipeline.") and module.count(".") == 1} <= set(ALLOWED)


def test_imports_point_one_way():
    modules = project_modules()
    back_edges = [
        f"{module} imports {imported}"
        for module, path in sorted(modules.items())
        for imported in sorted(imports_of(path, modules))
        if layer_of(imported) != layer_of(module) and layer_of(imported) not in ALLOWED[layer_of(module)]
    ]
    assert back_edges == []


def test_no_module_imports_itself_round_a_loop():
    modules = project_modules()
    graph = {module: imports_of(path, modules) - {module} for module, path in modules.items()}
    cycles, state = [], {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append(" -> ".join(trail[trail.index(imported) :] + [imported]))
            elif imported not in state:
                visit(imported, trail + [imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # A package's __init__ importing its own modules is not a loop worth naming.
    assert [cycle for cycle in cycles if "." in cycle] == []


def test_each_package_says_what_it_holds_and_may_import():
    for init in [ROOT / "models" / "__init__.py", ROOT / "assets" / "__init__.py", *(ROOT / "attribution_pipeline").glob("*/__init__.py")]:
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert doc, f"{init.relative_to(ROOT)} has no docstring"
        if init.parent.parent.name == "attribution_pipeline":
            assert "May import:" in doc, f"{init.relative_to(ROOT)} does not say what it may import"
