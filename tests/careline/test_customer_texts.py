"""One home for every sentence a customer reads: the `responses:` of domain.yml (ARCHITECTURE.md, rule 5).

Rasa utters `utter_*` responses itself; Python renders them by name (`careline.shared.render`,
`button`). Checked on the source of careline/, actions/, channels/ and components/:

1. Every response name in the code exists in domain.yml, and every `render("utter_x", ...)` (or
   `utter_message(response="utter_x", ...)`) passes exactly the placeholders of that response; a
   name the code keeps in a table or variable is rendered without values, so it has none.
2. No customer-facing sentence is written in the code. A string of three or more words is allowed
   only where nobody in a chat reads it: docstrings, log lines, exceptions, regular expressions and
   the places in ALLOWED below, each with its reason. Any `text=` argument or `"text":` entry
   written as a literal is refused wherever it is.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

from careline.shared import PROJECT_ROOT, Catalogue

FOLDERS = ("careline", "actions", "channels", "components")
NAME = re.compile(r"utter_[a-z0-9_]+(/[a-z0-9_]+)?")
WORD = re.compile(r"[A-Za-z]+")
REGEX_HINT = re.compile(r"\\[bdwsDWS]|\(\?|\|")
LOG_CALLS = {"debug", "info", "warning", "error", "exception", "critical", "log", "basicConfig"}
REGEX_CALLS = {"compile", "search", "match", "fullmatch", "sub", "findall", "finditer", "split"}
UTTER_MESSAGE_ARGS = {"text", "image", "json_message", "template", "response", "attachment", "buttons", "elements"}
# Strings shaped like response names that are not: Rasa's own keys and the retrieval intent's parent.
NOT_RESPONSES = {"utter_message", "utter_action", "utter_faq"}
RENDERER = "careline/shared/catalogue.py"

# Where a sentence in the code is not chat text: (file or folder, scope, reason). The scope is a
# function's qualified name, a module-level name, or "*" for the whole file or folder.
ALLOWED: List[Tuple[str, str, str]] = [
    ("careline/desk", "*", "the agent desk: pages and errors for agents, never sent into a chat"),
    ("careline/db", "*", "SQL, constraints and the demo shop's data"),
    ("careline/nlu/datacheck.py", "*", "`make validate` messages for trainers"),
    ("careline/nlu/review.py", "*", "the review files trainers label"),
    ("careline/handoff/ticket.py", "REQUEST_LABELS", "the ticket summary agents read"),
    ("careline/handoff/ticket.py", "REASON_LABELS", "the ticket summary agents read"),
    ("careline/handoff/ticket.py", "summarize", "the ticket summary agents read"),
    ("careline/handoff/ticket.py", "OFFER_WORDS", "the ticket summary agents read"),
    ("careline/handoff/ticket.py", "DECIDED_WORDS", "the ticket summary agents read"),
    ("careline/money/rules.py", "*", "the policy's rule codes in the words agents read (desk, ticket summary)"),
    ("careline/nlu/frustration_model.py", "conversation", "why a conversation scored high: diagnostics, not said"),
    ("careline/money/policy.py", "_decide_goodwill:This customer has had",
     "said to the agent or supervisor deciding in the desk (an authority without frequency rules)"),
    ("careline/money/policy.py", "cap_totals", "only agents' and supervisors' limits are totals: said in the desk"),
    ("careline/feedback/csat.py", "NO_COMMENT_WORDS", "what a customer may type to skip the comment: input"),
    ("careline/access/channel_metadata.py", "metadata_problem", "the JSON error an integration (API client) reads"),
    ("careline/access/integration_auth.py", "*", "the JSON error an integration (API client) reads"),
    ("channels/guard.py", "sender_problem", "the JSON error an integration (API client) reads"),
    ("channels/rest.py", "RestInput.blueprint.messages", "`detail` of the JSON errors an integration reads"),
    ("channels/rest.py", "RestInput.blueprint.receive", "`detail` of the JSON errors an integration reads"),
    ("channels/rest.py", "RestInput.blueprint.answer", "`detail` of the JSON errors an integration reads"),
    ("channels/rest.py", "_unavailable", "`detail` of the JSON error an integration reads (503)"),
    ("careline/shared/unavailable.py", "*", "which shared part failed: the 503's `detail` and the log line"),
    ("careline/shared/ratelimit.py", "RateLimitUnavailable", "which shared part failed: the 503's `detail`"),
    ("careline/shared/redis_limits.py", "*", "Lua scripts run in Redis and log lines for operators"),
    ("channels/guard.py", "report_unavailable", "the log line for operators"),
    ("channels/messenger.py", "MessengerInput._handle", "what was refused, in the log line for operators"),
    ("channels/webchat.py", "WebChatInput.blueprint.session_request", "what was refused, in the log line"),
    ("channels/webchat.py", "WebChatInput.blueprint.seen", "what was refused, in the log line"),
    ("components/runtime", "*", "the Rasa server's plug-ins: SQL, log lines and errors for operators; their one "
                                "customer sentence is rendered from domain.yml"),
    ("components/frustration_scorer.py", "FrustrationScorer.load", "a dummy message that warms the model up"),
    ("components/sentence_encoder.py", "CarelineSentenceEncoder.load", "a dummy message that warms the model up"),
]


def _files() -> Iterator[Path]:
    for folder in FOLDERS:
        yield from sorted((PROJECT_ROOT / folder).rglob("*.py"))


def _rel(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def _literal(node: ast.AST) -> Optional[str]:
    """The text of a string literal (an f-string's values become {}), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _called(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _is_docstring(parent: ast.AST, field: str, index: int, node: ast.AST) -> bool:
    return (isinstance(parent, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and field == "body"
            and index == 0 and isinstance(node, ast.Expr) and _literal(node.value) is not None)


def _not_chat(call: ast.Call) -> bool:
    """Calls whose strings nobody in a chat reads: logging, print, regexes, `"a b c".split()`."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "print"
    if not isinstance(func, ast.Attribute):
        return False
    base = func.value.id if isinstance(func.value, ast.Name) else ""
    return ((func.attr in LOG_CALLS and base in ("logger", "logging", "log"))
            or (func.attr in REGEX_CALLS and base == "re")
            or (func.attr == "split" and _literal(func.value) is not None))


class _Strings(ast.NodeVisitor):
    """Sentence-like literals of one file, each with its scope; and the literal `text=` / "text": values."""

    def __init__(self) -> None:
        self.scope: List[str] = []
        self.found: List[Tuple[int, str, str]] = []
        self.literal_texts: List[Tuple[int, str]] = []

    def generic_visit(self, node: ast.AST) -> None:
        for field, value in ast.iter_fields(node):
            for index, item in enumerate(value if isinstance(value, list) else [value]):
                if isinstance(item, ast.AST) and not _is_docstring(node, field, index, item):
                    self.visit(item)

    def _scoped(self, name: str, node: ast.AST) -> None:
        self.scope.append(name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node.name, node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node.name, node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._scoped(node.name, node)

    def visit_Assign(self, node: ast.Assign) -> None:
        target = node.targets[0]
        if not self.scope and isinstance(target, ast.Name):
            self._scoped(target.id, node)
        else:
            self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if not self.scope and isinstance(node.target, ast.Name):
            self._scoped(node.target.id, node)
        else:
            self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        return  # exceptions are for developers and logs

    def visit_Call(self, node: ast.Call) -> None:
        for keyword in node.keywords:
            text = _literal(keyword.value)
            if keyword.arg == "text" and text and WORD.search(text):
                self.literal_texts.append((node.lineno, text))
        if not _not_chat(node):
            self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values):
            text = _literal(value)
            if key is not None and _literal(key) == "text" and text and WORD.search(text):
                self.literal_texts.append((node.lineno, text))
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self._string(node, _literal(node) or "")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self._string(node, node.value)

    def _string(self, node: ast.AST, text: str) -> None:
        sentence = len(WORD.findall(text)) >= 3 and " " in text.strip() and re.search(r"[a-z]{2}", text)
        if sentence and not REGEX_HINT.search(text):
            self.found.append((getattr(node, "lineno", 0), ".".join(self.scope), text))


def _matches(entry: Tuple[str, str, str], path: str, scope: str, text: str) -> bool:
    where, allowed_scope, _reason = entry
    if path != where and not path.startswith(where + "/"):
        return False
    name, _, start = allowed_scope.partition(":")
    return (name == "*" or scope == name or scope.startswith(name + ".")) and text.startswith(start)


def _sentences() -> Iterator[Tuple[str, _Strings]]:
    for path in _files():
        strings = _Strings()
        strings.visit(ast.parse(path.read_text(encoding="utf-8")))
        yield _rel(path), strings


def test_no_customer_sentence_is_written_in_the_code() -> None:
    wrong = []
    for path, strings in _sentences():
        wrong += [f"{path}:{line} [{scope or 'module'}] {text[:70]!r}" for line, scope, text in strings.found
                  if not any(_matches(entry, path, scope, text) for entry in ALLOWED)]
        wrong += [f"{path}:{line} literal text {text[:70]!r}" for line, text in strings.literal_texts]
    assert not wrong, ("customer sentences belong in domain.yml `responses:` (render them by name); "
                       "if one is not chat text, add its place to ALLOWED with the reason:\n" + "\n".join(wrong))


def test_every_allowed_place_still_has_a_sentence() -> None:
    """An entry of ALLOWED that matches nothing any more goes, so the list stays short and true."""
    used = {entry for path, strings in _sentences() for _line, scope, text in strings.found
            for entry in ALLOWED if _matches(entry, path, scope, text)}
    assert [entry[:2] for entry in ALLOWED if entry not in used] == []


# --- 1. names and placeholders ------------------------------------------------------------------


class _Names(ast.NodeVisitor):
    """Response names in the code: those rendered with values (and which), and all the others."""

    def __init__(self) -> None:
        self.with_values: List[Tuple[int, str, Set[str]]] = []
        self.bare: List[Tuple[int, str]] = []
        self.problems: List[str] = []
        self._at_call: Set[int] = set()

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return  # a name built at run time (f"utter_ask_{slot}") is no name in the code

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "render":  # careline.shared.render, not a template's
            self._render(node, node.args[0] if node.args else None,
                         {k.arg for k in node.keywords if k.arg != "variation"}, node.keywords)
        elif _called(node) == "utter_message":
            response = next((k.value for k in node.keywords if k.arg in ("response", "template")), None)
            if response is not None:
                self._render(node, response, {k.arg for k in node.keywords if k.arg not in UTTER_MESSAGE_ARGS},
                             node.keywords)
        self.generic_visit(node)

    def _render(self, node: ast.Call, name_node: Optional[ast.AST], values: Set[Optional[str]],
                keywords: List[ast.keyword]) -> None:
        if any(k.arg is None for k in keywords):
            self.problems.append(f"line {node.lineno}: values passed as **mapping cannot be checked")
        name = _literal(name_node) if isinstance(name_node, ast.Constant) else None
        if name is not None:
            self._at_call.add(id(name_node))
            self.with_values.append((node.lineno, name, {v for v in values if v}))
        elif values:
            self.problems.append(f"line {node.lineno}: a response rendered with values must be named literally")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and NAME.fullmatch(node.value) and node.value not in NOT_RESPONSES \
                and id(node) not in self._at_call:
            self.bare.append((node.lineno, node.value))


def _names() -> Dict[str, _Names]:
    found = {}
    for path in _files():
        if _rel(path) == RENDERER:
            continue
        names = _Names()
        names.visit(ast.parse(path.read_text(encoding="utf-8")))
        found[_rel(path)] = names
    return found


def test_every_response_the_code_names_exists_with_the_placeholders_it_is_given() -> None:
    texts = Catalogue.from_file()
    known = set(texts.names())
    wrong = []
    for path, names in _names().items():
        wrong += [f"{path}: {problem}" for problem in names.problems]
        for line, name, values in names.with_values:
            if name not in known:
                wrong.append(f"{path}:{line}: domain.yml has no response {name}")
            elif values != texts.response(name).placeholders:
                wrong.append(f"{path}:{line}: {name} has placeholders {sorted(texts.response(name).placeholders)}, "
                             f"the code passes {sorted(values)}")
        for line, name in names.bare:
            if name not in known:
                wrong.append(f"{path}:{line}: domain.yml has no response {name}")
            elif texts.response(name).placeholders:
                wrong.append(f"{path}:{line}: {name} is rendered without values but has placeholders "
                             f"{sorted(texts.response(name).placeholders)}")
    assert not wrong, "\n".join(wrong)


def test_the_catalogue_fills_placeholders_as_rasa_does() -> None:
    """A response Rasa utters and one Python renders read the same (rasa.core.nlg.interpolator)."""
    from rasa.core.nlg.interpolator import interpolate_text

    texts = Catalogue.from_file()
    for name in texts.names():
        response = texts.response(name)
        values = {placeholder: f"<{placeholder}>" for placeholder in response.placeholders}
        for index, text in enumerate(response.texts):
            assert texts.render(name, variation=index, **values) == interpolate_text(text, values), name
