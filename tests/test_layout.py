"""The package's architecture as its docstrings describe it: every module on its subpackage's map, every
subpackage on the package's map in layer order, each importing only the subpackages its docstring's
"May import:" line names (all of them below it), no import circle between modules (imports inside
functions included), and nothing on the evaluation side importing training."""
import ast
import re
import subprocess
import sys

from emolib.core import env

PACKAGE = env.REPO / "emolib"
#: The subpackages, from the ground up (emolib/__init__.py's order).
SUBPACKAGES = [m.group(1) for m in re.finditer(r"^- ``(\w+)``", (PACKAGE / "__init__.py").read_text(), re.M)]


def module_name(path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "__main__.py"}


def imports() -> dict[str, set[str]]:
    """Module -> the emolib modules it imports (``from .x import y``, ``from .. import x``, ``from ..x import
    y``, and the absolute ``import emolib.x`` / ``from emolib.x import y``: a ``y`` that is a module counts as
    that module), anywhere in it."""
    graph = {}
    for name, path in MODULES.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):  # import emolib.x.y
                deps |= {a.name for a in node.names if a.name.split(".")[0] == "emolib"}
                continue
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 0:  # from emolib.x import y
                if not (node.module or "").startswith("emolib"):
                    continue
                target = node.module
            else:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + (node.module.split(".") if node.module else []))
            for alias in node.names:
                deps.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
        graph[name] = {d for d in deps if d in MODULES and d != name}
    return graph


def subpackage(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def may_import(sub: str) -> set[str]:
    """The subpackages ``sub``'s docstring allows it to import (its "May import:" line)."""
    doc = ast.get_docstring(ast.parse((PACKAGE / sub / "__init__.py").read_text()))
    line = re.search(r"May import:(.*?)(?:\.\s|\.$|$)", doc.replace("\n", " "), re.S)
    assert line, f"emolib/{sub}/__init__.py says nothing of what it may import"
    return set(re.findall(r"``(\w+)``", line.group(1))) & set(SUBPACKAGES) - {sub}


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


def test_every_subpackage_and_module_is_on_its_map():
    on_disk = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert sorted(SUBPACKAGES) == on_disk
    assert not [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")], \
        "a module outside the subpackages"
    for sub in SUBPACKAGES:
        doc = (PACKAGE / sub / "__init__.py").read_text()
        assert [p.stem for p in (PACKAGE / sub).glob("*.py") if p.stem != "__init__" and f"``{p.stem}``" not in doc] == []


def test_each_subpackage_imports_only_what_its_docstring_allows_all_of_it_below():
    graph = imports()
    for sub in SUBPACKAGES:
        allowed = may_import(sub)
        assert all(SUBPACKAGES.index(a) < SUBPACKAGES.index(sub) for a in allowed), (sub, allowed)
        used = {subpackage(d) for m, deps in graph.items() if subpackage(m) == sub for d in deps} - {sub, ""}
        assert used <= allowed, f"emolib.{sub} imports {sorted(used - allowed)} beyond its 'May import:'"


def test_no_import_circle_and_the_search_finds_one():
    assert cycle(imports()) is None
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_the_evaluation_side_imports_nothing_from_training():
    graph = imports()
    training = {"emolib.ssl.pretrain", "emolib.ssl.moco", "emolib.ssl.inputs"}
    reach, todo = set(), [m for m in MODULES if m.startswith("emolib.evaluation.")]
    todo += ["emolib.ssl.encoders", "emolib.ssl.pretrain_config", "emolib.ssl.standardize"]
    while todo:
        m = todo.pop()
        if m not in reach:
            reach.add(m)
            todo += graph[m]
    assert reach.isdisjoint(training | {m for m in MODULES if m.startswith("emolib.studies")}), reach & training
    code = ("import sys, emolib.ssl.encoders, emolib.evaluation.probes, emolib.evaluation.finetune, "
            "emolib.ssl.pretrain_config, emolib.evaluation.results, emolib.evaluation.tables; "
            "print(sorted(m for m in sys.modules if m in ('emolib.ssl.pretrain', 'emolib.ssl.moco', "
            "'emolib.studies.ablation')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
