"""The import structure of the project, read with ``ast`` (nothing is imported): layers and private names.

Every import counts, at module level or inside a function (the CLI imports its stages lazily, and a
lazy import is still a dependency). See issue #18 for the target layering.

Modules are named as they are imported: every package lives under the ``voc`` namespace, ``voc.flows`` in
the top-level folder ``flows/`` (pyproject.toml's package-dir) and ``voc`` itself (CLI, kernel, web) in
``voc/``. A module's package is the longest of ``PACKAGES`` its name starts with.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.conftest import REPO

PACKAGES = (
    "voc.config",
    "voc.delivery",
    "voc.flows",
    "voc.nlp",
    "voc.reports",
    "voc.sources",
    "voc.store",
    "voc.surges",
    "voc.app",
    "voc.web",
    "voc",
)
# the floor: imports nothing of the project above it (a ticket's fields are validated by voc.fields)
KERNEL = ("voc.errors", "voc.weeks", "voc.fields", "voc.ticket")
PURE = (
    "voc.nlp",
    "voc.surges",
    "voc.reports",
)  # rules over values: no database, HTTP or Prefect, no I/O layer
PURE_MODULES = ("voc.delivery.routing", "voc.delivery.lifecycle")  # the alert rules, pure in an I/O package
PURE_MUST_NOT = ("sqlalchemy", "httpx", "prefect", "voc.store", "voc.flows", "voc.sources", "voc.delivery")
# Sentences in one place (#18): surges/ returns numbers and flows/ are recipes; every zh/en sentence a
# reader sees is worded in reports/ (the catalogue reports/i18n.py, rendered by reports/explanations.py).
SENTENCE_FREE = ("voc.surges", "voc.flows")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")  # ideographs, CJK punctuation

# No cycles, package or module level (#18): voc/ holds only the floor (errors, weeks, fields, ticket,
# atomic writes, spreadsheets, the sample brand); the command line is voc.app, the workbench voc.web,
# both on top; the keyword and label term filters (nlp.label_terms) sit below nlp.topics and nlp.labels.


@dataclass(frozen=True)
class Import:
    module: str  # the importing project module, e.g. "voc.flows.alert_stage"
    target: str  # the imported module, e.g. "voc.delivery.lifecycle" or "sqlalchemy"
    name: str | None  # the name taken from it (``from target import name``), None for ``import target``
    line: int


def _folder(pkg: str) -> Path:
    """Where a package's files are: ``voc.flows`` in ``flows/``, ``voc`` in ``voc/``, ``voc.web`` in ``voc/web/``."""
    top = REPO / pkg.removeprefix("voc.")
    return top if pkg != "voc" and (top / "__init__.py").exists() else REPO / pkg.replace(".", "/")


def _modules() -> Iterator[tuple[str, Path]]:
    for pkg in PACKAGES:
        root = _folder(pkg)
        for path in sorted(root.rglob("*.py")):
            parts = (pkg, *path.relative_to(root).with_suffix("").parts)
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


@cache
def _modules_by_name() -> dict[str, Path]:
    return dict(_modules())


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def _imports() -> tuple[Import, ...]:
    out: list[Import] = []
    for module, path in _modules_by_name().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                out += [Import(module, a.name, None, node.lineno) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, path, node)
                for a in node.names:  # ``from pkg import mod`` imports the module pkg.mod
                    sub = f"{target}.{a.name}"
                    out.append(
                        Import(module, sub, None, node.lineno)
                        if sub in _modules_by_name()
                        else Import(module, target, a.name, node.lineno)
                    )
    return tuple(out)


_MAPPED = frozenset(p.removeprefix("voc.") for p in PACKAGES if p != "voc")  # folder names: flows, nlp...


def _package(name: str) -> str:
    """``voc.flows`` for ``voc.flows.weekly``, ``voc`` for ``voc.app.cli`` or ``voc.web.app``, ``sqlalchemy``
    for ``sqlalchemy.orm``."""
    return max(
        (p for p in PACKAGES if name == p or name.startswith(p + ".")), key=len, default=name.split(".")[0]
    )


def _is_project(name: str) -> bool:
    return _package(name) in PACKAGES


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _where(i: Import) -> str:
    return f"{i.module}:{i.line} imports {i.target}" + (f".{i.name}" if i.name else "")


def test_the_scan_sees_the_project() -> None:
    assert {"voc.app.cli", "voc.flows.alert_stage", "voc.delivery.lifecycle", "voc.store.models"} <= set(
        _modules_by_name()
    )
    found = {(i.module, i.target, i.name) for i in _imports()}
    assert (
        "voc.flows.alert_stage",
        "voc.delivery.lifecycle",
        None,
    ) in found  # from voc.delivery import lifecycle
    assert ("voc.flows.alert_stage", "voc.delivery.routing", "Target") in found
    assert ("voc.app.cli", "voc.flows.alert_stage", None) in found  # imported inside a function
    assert {_package(m) for m in _modules_by_name()} == set(PACKAGES)
    assert (
        _package("voc.flows.weekly"),
        _package("voc.web.app"),
        _package("voc"),
        _package("sqlalchemy.orm"),
    ) == ("voc.flows", "voc.web", "voc", "sqlalchemy")


def test_every_project_import_goes_through_the_voc_namespace() -> None:
    """``import flows`` or ``from config.settings import ...`` (the folder's own name) works in a
    checkout's working directory only: installed, the package is ``voc.flows``, and a ``config/`` folder
    of the user's would be imported instead. Every tracked Python file (tests and bench too)."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--", "*.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    bad = []
    for rel in filter(None, tracked):
        for node in ast.walk(ast.parse((REPO / rel).read_text(encoding="utf-8"), rel)):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            bad += [f"{rel}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in _MAPPED]
    assert len(tracked) > 100 and not bad, "\n".join(bad)


def test_no_private_name_is_imported_from_another_module() -> None:
    """``from a.b import _helper`` (or ``a.b._helper`` through an imported module) across modules: a
    helper another module needs is part of its owner's interface and gets a public name."""
    bad = [
        _where(i)
        for i in _imports()
        if i.name is not None and _private(i.name) and _is_project(i.target) and i.target != i.module
    ]
    mods = _modules_by_name()
    for module, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        aliases: dict[str, str] = {}  # local name -> imported project module
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                aliases.update({(a.asname or a.name): a.name for a in node.names if a.name in mods})
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, path, node)
                aliases.update(
                    {
                        (a.asname or a.name): f"{target}.{a.name}"
                        for a in node.names
                        if f"{target}.{a.name}" in mods
                    }
                )
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                dotted = ast.unparse(node.value)
                target = aliases.get(dotted) or (dotted if dotted in mods else None)
                if target is not None and target != module:
                    bad.append(f"{module}:{node.lineno} uses {target}.{node.attr}")
    assert not bad, "\n".join(bad)


def _kernel_leaks(imports: tuple[Import, ...]) -> set[tuple[str, str]]:
    return {
        (i.module, i.target)
        for i in imports
        if i.module in KERNEL and _is_project(i.target) and i.target not in KERNEL
    }


def _impure(imports: tuple[Import, ...]) -> list[str]:
    return [
        _where(i)
        for i in imports
        if (_package(i.module) in PURE or i.module in PURE_MODULES)
        and _package(i.target) in PURE_MUST_NOT
        and i.target not in PURE_MODULES
    ]


def test_the_kernel_imports_nothing_of_the_project_above_it() -> None:
    leaks = _kernel_leaks(_imports())
    assert not leaks, f"the kernel imports the project above it: {sorted(leaks)}"


def _floor_leaks(imports: tuple[Import, ...]) -> list[str]:
    return [
        _where(i)
        for i in imports
        if _package(i.module) == "voc" and _is_project(i.target) and _package(i.target) != "voc"
    ]


def test_the_floor_package_imports_no_other_package() -> None:
    """voc/ (errors, weeks, fields, ticket, atomic writes, spreadsheets, the sample brand) is what every
    package stands on: it imports none of them (the entry points are voc.app and voc.web)."""
    bad = _floor_leaks(_imports())
    assert not bad, "\n".join(bad)


def _flow_sql(imports: tuple[Import, ...]) -> list[str]:
    return [
        _where(i)
        for i in imports
        if _package(i.module) == "voc.flows"
        and (
            (i.target.split(".")[0] == "sqlalchemy" and i.name not in ("Engine", "Connection"))
            or i.target == "voc.store.models"
        )
    ]


def test_flows_write_no_sql() -> None:
    """Flows are recipes (#18): they hold an Engine or a Connection and pass it to the store, whose
    functions write the queries; no flow builds one (select, insert, text...) or names a table."""
    bad = _flow_sql(_imports())
    assert not bad, "\n".join(bad)


def test_pure_packages_import_no_database_http_prefect_or_io_layer() -> None:
    bad = _impure(_imports())
    assert not bad, "\n".join(bad)


def _sccs(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """Each strongly connected group of more than one node (a cycle or several), as its sorted names."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: list[str] = []
            while not group or group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                out.add(tuple(sorted(group)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _package_graph(imports: tuple[Import, ...]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for i in imports:
        if _is_project(i.target) and _package(i.target) != _package(i.module):
            graph[_package(i.module)].add(_package(i.target))
    return graph


def _edges_on_cycles(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    groups = _sccs(graph)
    return {(a, b) for g in groups for a in g for b in graph[a] if b in g}


def test_sccs_find_cycles_and_only_cycles() -> None:
    assert _sccs({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {("a", "b", "c")}
    assert _sccs({"a": {"b"}, "b": set()}) == set()


def test_the_rules_catch_a_lower_layer_importing_a_higher_one() -> None:
    """The checks above, on the real imports plus one made-up import each: each one is caught."""
    real = _imports()
    assert _kernel_leaks(real + (Import("voc.weeks", "voc.flows.weekly", None, 1),)) - _kernel_leaks(
        real
    ) == {("voc.weeks", "voc.flows.weekly")}
    assert _impure(real + (Import("voc.nlp.topics", "voc.store.db", "make_engine", 1),)) == [
        *_impure(real),
        "voc.nlp.topics:1 imports voc.store.db.make_engine",
    ]
    assert _impure(real + (Import("voc.surges.cells", "prefect", None, 1),)) != _impure(real)
    # a new package cycle: the pure statistics importing the stages that import them
    edges = _edges_on_cycles(
        _package_graph(real + (Import("voc.surges.cells", "voc.flows.weekly", None, 1),))
    )
    assert ("voc.surges", "voc.flows") in edges
    assert _flow_sql(real + (Import("voc.flows.demo", "sqlalchemy", "select", 1),)) == [
        "voc.flows.demo:1 imports sqlalchemy.select"
    ]
    assert _floor_leaks(real + (Import("voc.sample", "voc.store.db", None, 1),)) == [
        "voc.sample:1 imports voc.store.db"
    ]


def test_no_package_cycles() -> None:
    """No package imports one that imports it back, directly or through others (#18): voc/ is the
    floor only, the entry points (voc.app, voc.web) sit on top."""
    graph = _package_graph(_imports())
    assert _edges_on_cycles(graph) == set(), f"package cycles through: {sorted(_edges_on_cycles(graph))}"


def test_no_module_cycles() -> None:
    mods = _modules_by_name()
    graph: dict[str, set[str]] = {}
    for i in _imports():
        if i.target in mods and i.target != i.module:
            graph.setdefault(i.module, set()).add(i.target)
    assert _sccs(graph) == set(), f"module cycles: {sorted(_sccs(graph))}"


def test_nothing_imports_the_web_workbench_but_the_cli() -> None:
    """``voc/web`` sits on top (it may use store, reports, flows); only the CLI starts it."""
    bad = [
        _where(i)
        for i in _imports()
        if (i.target == "voc.web" or i.target.startswith("voc.web."))
        and not i.module.startswith("voc.web")
        and i.module != "voc.app.cli"
    ]
    assert not bad, "\n".join(bad)
    assert any(i.module == "voc.app.cli" and i.target.startswith("voc.web") for i in _imports())


def test_the_web_workbench_words_nothing_itself() -> None:
    """Every sentence of the workbench's pages comes from the catalogue (reports/i18n.py, ``web.*``):
    no Chinese in its code or its templates."""
    web = REPO / "voc" / "web"
    bad = [f"{p.relative_to(REPO)}:{line}" for p in sorted(web.rglob("*.py")) for line in _cjk_literals(p)]
    bad += [
        str(p.relative_to(REPO))
        for p in sorted(web.rglob("*.j2"))
        if CJK.search(p.read_text(encoding="utf-8"))
    ]
    assert (web / "templates").is_dir() and not bad, "\n".join(bad)


def _cjk_literals(path: Path) -> list[int]:
    """Lines of the string constants in ``path`` (docstrings and f-string parts too) holding CJK text."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return sorted(
        {
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and CJK.search(n.value)
        }
    )


def test_no_chinese_sentence_outside_reports() -> None:
    """A Chinese string literal in ``surges/`` or ``flows/`` is a sentence worded outside the catalogue
    (a third language could not translate it); comments are free to quote one."""
    assert _cjk_literals(REPO / "reports" / "i18n.py")  # the scan sees the catalogue's sentences
    bad = [
        f"{module}:{line}"
        for module, path in _modules_by_name().items()
        if _package(module) in SENTENCE_FREE
        for line in _cjk_literals(path)
    ]
    assert not bad, "\n".join(bad)
