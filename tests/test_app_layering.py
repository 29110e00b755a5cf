"""Apps depend one way (docs/architecture.md): an app imports only apps below it, wherever the import sits, and
no import inside a function hides a cycle (a function-level import that, moved to the top of its module, would
close an import cycle). Read from the source with the standard library's AST; nothing is imported."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# From the bottom. An app may import itself and the apps before it in this list.
LAYERS = ["common", "accounts", "organizations", "notices", "webhooks", "seats", "usage", "extra_usage", "spending",
          "monitoring", "machine_api", "invoicing", "admin_api", "identity", "console", "ops", "demo"]
# Function-level imports that hide a cycle: none may exist (issue 13 §4); services enqueue tasks by name
# through apps.common.tasks.enqueue_on_commit, or import their tasks module at module level.
KNOWN_HIDDEN_CYCLES: set[str] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "apps").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of an apps.* module."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    tree = ast.parse(path.read_text(), filename=str(path))
    nested = {id(node) for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
              for node in ast.walk(fn) if isinstance(node, ast.Import | ast.ImportFrom)}
    result = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            # `from apps.x import y` may name a module (apps.x.y) or a name in apps.x: count the module if it is one.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in _MODULES else base for alias in node.names]
        else:
            continue
        result += [(t, node.lineno, id(node) in nested) for t in targets if t.split(".")[0] == "apps"]
    return result


_MODULES = _modules()


def _app(module: str) -> str:
    return module.split(".")[1]


def test_every_app_is_in_a_layer():
    apps = {_app(m) for m in _MODULES if m.count(".") >= 1}
    assert apps <= set(LAYERS), f"add {sorted(apps - set(LAYERS))} to LAYERS (and to docs/architecture.md)"


def test_apps_import_only_apps_below_them():
    upward = []
    for module, path in _MODULES.items():
        if module == "apps":
            continue
        rank = LAYERS.index(_app(module))
        for target, line, _ in _imports(module, path):
            if target != "apps" and LAYERS.index(_app(target)) > rank:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert upward == [], "imports against the layering:\n" + "\n".join(upward)


def test_no_function_level_import_hides_an_import_cycle():
    edges: dict[str, set[str]] = defaultdict(set)
    in_functions: list[tuple[str, str, Path, int]] = []
    for module, path in _MODULES.items():
        for target, line, nested in _imports(module, path):
            target = target if target in _MODULES else target.rsplit(".", 1)[0]
            edges[module].add(target)
            if nested and path.name != "apps.py":  # AppConfig.ready() imports once the apps are loaded: Django's way
                in_functions.append((module, target, path, line))

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                # Importing a module runs its package's __init__ too.
                stack += edges[current] | {current.rsplit(".", 1)[0]} - {"apps"}
        return False

    hidden = {f"{path.relative_to(ROOT)}:{target}" for module, target, path, _ in in_functions
              if reaches(target, module)}
    assert hidden <= KNOWN_HIDDEN_CYCLES, "function-level imports hiding a cycle (the first imports the second, "\
        "which leads back to it):\n" + "\n".join(sorted(hidden - KNOWN_HIDDEN_CYCLES))
    assert hidden >= KNOWN_HIDDEN_CYCLES, f"fixed, remove from KNOWN_HIDDEN_CYCLES: {KNOWN_HIDDEN_CYCLES - hidden}"
