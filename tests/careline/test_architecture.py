"""The rules of the house that a newcomer must not break, checked on the source (see ARCHITECTURE.md).

- The core (`careline/`) imports no Rasa, and nothing from the adapters (`actions/`, `components/`,
  `channels/`) or from `ops/`.
- Contexts depend on each other only in the allowed directions (ALLOWED below, the picture in README).
- A context uses another context only through its package (`from careline.money import ClaimService`),
  never through the other's modules (`careline.money.claims`): those are its internals.
- Adapters import no private name (`_name`) from the core, and actions never decide money: the
  decision is `careline.money`'s (policy.decide through ClaimService), never an action's.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

from careline.shared import PROJECT_ROOT

CORE = PROJECT_ROOT / "careline"
ADAPTERS = ("actions", "components", "channels")
CONTEXTS = ("shared", "db", "money", "handoff", "nlu", "dialogue", "feedback", "access", "desk",
            "notify", "fulfilment", "followup")

# context -> the contexts it may import (through their packages). Change it only with the picture in README.
ALLOWED: Dict[str, Set[str]] = {
    "shared": set(),
    "db": {"shared"},
    "money": {"db", "shared"},
    "handoff": {"db", "shared"},
    "nlu": {"shared"},
    "dialogue": {"db", "shared"},
    "feedback": {"db", "shared"},
    "access": {"db", "shared"},
    "desk": {"db", "shared", "money", "handoff", "feedback", "fulfilment", "notify"},
    "notify": {"db", "shared"},
    "fulfilment": {"db", "shared", "notify"},
    "followup": {"db", "shared"},
}
# Composition roots: entry points that wire contexts together (like cosmicpython's bootstrap.py).
ROOTS = {"careline/demo.py", "careline/worker.py"}
NEVER_IN_CORE = ("rasa", "rasa_sdk", "actions", "components", "channels", "ops", "bench", "tests")
# What only the money context may do: decide (policy) and write money records.
MONEY_DECISIONS = {"decide", "cap_totals", "parse_policy", "Policy", "Limits"}
MONEY_RECORDS = {"Refund", "Waiver", "DecisionRecord", "Charge"}


def _python_files(folder: Path) -> Iterator[Path]:
    yield from sorted(path for path in folder.rglob("*.py") if ".venv" not in path.parts)


def _imports(path: Path) -> Iterator[Tuple[int, str, List[str]]]:
    """(line, module, imported names) of every import in a file; `import a.b` gives (line, "a.b", [])."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, [alias.name for alias in node.names]


def _context(path: Path) -> str:
    parts = path.relative_to(CORE).parts
    return parts[0] if len(parts) > 1 else ""


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(PROJECT_ROOT)}:{line}"


def test_every_folder_of_the_core_is_a_known_context() -> None:
    folders = {path.name for path in CORE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert folders == set(CONTEXTS), "a new context needs a place in ALLOWED, the README picture and ARCHITECTURE.md"


def test_the_core_imports_no_rasa_no_adapter_and_no_ops() -> None:
    wrong = [f"{_where(path, line)} imports {module}"
             for path in _python_files(CORE) for line, module, _ in _imports(path)
             if module.split(".")[0] in NEVER_IN_CORE]
    assert not wrong, "\n".join(wrong)


def test_contexts_depend_only_in_the_allowed_directions_and_only_on_packages() -> None:
    wrong = []
    for path in _python_files(CORE):
        rel = str(path.relative_to(PROJECT_ROOT))
        mine = _context(path)
        if rel in ROOTS or not mine:
            continue
        for line, module, names in _imports(path):
            parts = module.split(".")
            if parts[0] != "careline":
                continue
            if len(parts) == 1:
                wrong.append(f"{_where(path, line)}: `from careline import {', '.join(names)}`: import a context")
                continue
            theirs = parts[1]
            if theirs == mine:
                continue
            if theirs not in ALLOWED[mine]:
                wrong.append(f"{_where(path, line)}: {mine} may not depend on {theirs} ({module})")
            elif len(parts) > 2:
                wrong.append(f"{_where(path, line)}: {module} is internal to {theirs}; import from careline.{theirs}")
    assert not wrong, "\n".join(wrong)


def test_the_allowed_directions_have_no_cycle() -> None:
    def reaches(start: str, goal: str, seen: Set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in ALLOWED[start])

    assert not [context for context in ALLOWED if reaches(context, context, set())]


def test_each_package_exports_what_it_imports() -> None:
    """Every name in a context's __all__ exists (a broken public API fails here, not at run time)."""
    import importlib

    for context in CONTEXTS:
        package = importlib.import_module(f"careline.{context}")
        missing = [name for name in getattr(package, "__all__", []) if not hasattr(package, name)]
        assert not missing, f"careline.{context}.__all__ names what it does not have: {missing}"


def test_adapters_use_no_private_names_of_the_core() -> None:
    wrong = [f"{_where(path, line)}: {module}.{name}"
             for folder in ADAPTERS for path in _python_files(PROJECT_ROOT / folder)
             for line, module, names in _imports(path) if module.startswith("careline")
             for name in names if name.startswith("_")]
    assert not wrong, "\n".join(wrong)


def test_actions_never_decide_money() -> None:
    """Actions ask (a Request) and relay (an Outcome); only careline.money decides and writes payouts."""
    wrong = [f"{_where(path, line)}: {name} from {module}"
             for path in _python_files(PROJECT_ROOT / "actions")
             for line, module, names in _imports(path) if module.startswith("careline")
             for name in names if name in MONEY_DECISIONS | MONEY_RECORDS]
    assert not wrong, "\n".join(wrong)
