"""The package's architecture as emolib/__init__.py describes it: every module listed there, no
import circle (imports inside functions included), and no arrow from evaluation back into training."""
import ast
import subprocess
import sys

from emolib import config

PACKAGE = config.REPO / "emolib"
#: the modules, and the subpackages (plots/) counted as one module each
MODULES = sorted([p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("__")]
                 + [p.parent.name for p in PACKAGE.glob("*/__init__.py")])


def sources(name: str) -> list[tuple[str, int]]:
    """A module's source files with the import level that reaches emolib's modules from them: 1 in
    ``emolib/<name>.py``, 2 in the files of a subpackage ``emolib/<name>/`` (whose level-1 imports
    stay inside it)."""
    if (PACKAGE / name).is_dir():
        return [(p.read_text(), 2) for p in sorted((PACKAGE / name).glob("*.py"))]
    return [((PACKAGE / f"{name}.py").read_text(), 1)]


def imports() -> dict[str, set[str]]:
    """Module -> the emolib modules it imports (``from .x import``, ``from . import x``), anywhere in it."""
    graph = {}
    for name in MODULES:
        deps = set()
        for text, level in sources(name):
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.ImportFrom) and node.level == level:
                    deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        graph[name] = deps & set(MODULES)
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, or None (depth-first search with colours)."""
    state, path = {}, []

    def visit(u):
        state[u] = "open"
        path.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == "open":
                return path[path.index(v):] + [v]
            if v not in state and (found := visit(v)):
                return found
        state[u] = "done"
        path.pop()
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_every_module_is_on_the_map():
    text = (PACKAGE / "__init__.py").read_text()
    assert [m for m in MODULES if f"``{m}``" not in text] == []


def test_no_import_circle_and_the_search_finds_one():
    assert cycle(imports()) is None
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_the_evaluation_side_imports_nothing_from_training():
    graph = imports()
    reach = set()
    todo = ["encoders", "probes", "finetune", "pretrain_config", "results", "evaluation"]
    while todo:
        m = todo.pop()
        if m not in reach:
            reach.add(m)
            todo += graph[m]
    assert reach.isdisjoint({"pretrain", "moco", "ablation", "studies"}), reach
    code = ("import sys, emolib.encoders, emolib.probes, emolib.finetune, emolib.pretrain_config, emolib.results; "
            "print(sorted(m for m in sys.modules if m in ('emolib.pretrain', 'emolib.moco', 'emolib.ablation')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
