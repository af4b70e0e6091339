"""The architecture as the folder shows it: the article's algorithm imports nothing of the engine,
and no module imports another that imports it back, directly or through others."""

from __future__ import annotations

import ast
import pathlib

import chainrule

ROOT = pathlib.Path(chainrule.__file__).parent

#: circles left (none: a lower module's convenience methods, such as ``Explanation.to_text`` or
#: ``Network.save``, call what the module above registers with it)
KNOWN_CIRCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(modules: dict[str, pathlib.Path]) -> dict[str, set[str]]:
    """Every chainrule module each module imports, at any depth of its code (lazy imports count)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
                elif node.module and node.module.startswith("chainrule"):
                    base = node.module
                else:
                    continue
                targets = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
                targets += [base] if node.module and base in modules else []
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name in modules]
            else:
                continue
            graph[name].update(t for t in targets if t != name and not name.startswith(t + "."))
    return graph


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_article_module_imports_nothing_of_the_engine():
    graph = _imports(_modules())
    below = _reaches(graph, "chainrule.article")
    assert not {m for m in below if m.startswith(("chainrule.engine", "chainrule.backprop", "chainrule._kernels"))}
    assert below <= {"chainrule.activations", "chainrule.losses", "chainrule.errors", "chainrule._validation"}


def test_no_import_circles_beyond_the_known_two():
    graph = _imports(_modules())
    circles = {frozenset({a, b}) for a in graph for b in graph[a] if a in graph[b]}
    assert circles == KNOWN_CIRCLES, circles ^ KNOWN_CIRCLES  # one removed: take it off the list
    assert frozenset({"chainrule.engine.backend", "chainrule.engine.kernels"}) not in circles
    # and no longer circles through three or more modules: whatever a module reaches does not reach it back,
    # except through the two known pairs
    for name in graph:
        pruned = {m: {t for t in ts if frozenset({m, t}) not in KNOWN_CIRCLES} for m, ts in graph.items()}
        assert name not in _reaches(pruned, name), name
