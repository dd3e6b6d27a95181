"""Running the rules on source text: analysis, suppressions, fixes."""

from __future__ import annotations

import ast
import dataclasses
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar, cast

import libcst as cst

from ._lock import Tree, check_lock, workflow_trees
from ._model import ModuleModel, Scope
from ._types import Violation
from .rule import LintRule, Report
from .rules import ALL_RULES

__all__ = [
    "BAD_SUPPRESSION",
    "PARSE_ERROR",
    "FileResult",
    "fix_source",
    "lint_file",
    "lint_source",
]

PARSE_ERROR = ("RVT000", "ParseError")
BAD_SUPPRESSION = ("RVT900", "InvalidSuppression")

_SUPPRESSION = re.compile(r"#\s*rivet:\s*allow\b(?P<bracket>\[(?P<codes>[^\]]*)\])?(?P<rest>.*)$")
_REASON = re.compile(r"^\s*--\s*\S")

CSTNodeT = TypeVar("CSTNodeT", bound=cst.CSTNode)

_DISPATCH_CACHE: dict[type[LintRule], tuple[tuple[type[cst.CSTNode], str], ...]] = {}


def _hooks(rule: type[LintRule]) -> tuple[tuple[type[cst.CSTNode], str], ...]:
    cached = _DISPATCH_CACHE.get(rule)
    if cached is None:
        found: list[tuple[type[cst.CSTNode], str]] = []
        for attr in dir(rule):
            if attr.startswith("visit_"):
                node_type = getattr(cst, attr[len("visit_") :], None)
                if isinstance(node_type, type) and issubclass(node_type, cst.CSTNode):
                    found.append((node_type, attr))
        cached = _DISPATCH_CACHE[rule] = tuple(found)
    return cached


@dataclasses.dataclass
class FileResult:
    """What linting one module produced: findings, fixes by node, and the workflow trees."""

    violations: list[Violation]
    module: cst.Module | None = None
    fixes: list[tuple[Violation, cst.CSTNode, cst.CSTNode]] = dataclasses.field(default_factory=list)
    trees: dict[str, Tree] = dataclasses.field(default_factory=dict)
    parse_error: bool = False


def _analyze(
    source: str, path: str, rules: Sequence[type[LintRule]], locked: Mapping[str, Tree] | None, roots: Sequence[str] = ()
) -> tuple[cst.Module, ModuleModel | None, list[Report]]:
    module = cst.parse_module(source)
    if "rivet_dsl" not in source:  # no workflow decorator can resolve without the import
        return module, None, []
    model = ModuleModel(module, path, source=source, roots=roots)
    if not model.actors:
        return module, model, []
    instances = [rule(model) for rule in rules]
    dispatch: dict[type[cst.CSTNode], list[Callable[[cst.CSTNode], None]]] = {}
    for instance in instances:
        for node_type, attr in _hooks(type(instance)):
            dispatch.setdefault(node_type, []).append(getattr(instance, attr))

    def on_scope(scope: Scope, stack: list[cst.CSTNode]) -> None:
        for instance in instances:
            instance.enter_scope(scope, stack)

    model.analyze(dispatch, on_scope)
    reports: list[Report] = []
    for instance in instances:
        instance.finish()
        reports.extend(instance.reports)
    if locked:
        reports.extend(check_lock(model, locked))
    return module, model, reports


def _syntax_error(source: str, path: str, error: cst.ParserSyntaxError) -> tuple[int, int, str]:
    """Line, 1-based column and message of a syntax error, as Python itself reports them.

    libcst's ``raw_line``/``raw_column`` point past the error (often to the next line), so the
    source is parsed once more by CPython (parsed only, never compiled or run). Should CPython
    accept what libcst rejects, libcst's own message and position are the best there is.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for an invalid escape sequence
            ast.parse(source, path)
    except SyntaxError as found:
        return found.lineno or 1, found.offset or 1, found.msg
    except ValueError:  # null bytes: libcst's message says where
        pass
    return error.raw_line, error.raw_column + 1, error.message


def _suppressions(source: str, known: Mapping[str, str]) -> tuple[dict[int, set[str]], list[tuple[int, int, str]]]:
    """Line -> suppressed codes (a comment covers its line and the next), and malformed comments."""
    allowed: dict[int, set[str]] = {}
    problems: list[tuple[int, int, str]] = []
    if "rivet:" not in source:
        return allowed, problems
    for number, text in enumerate(source.splitlines(), start=1):
        if "rivet:" not in text:
            continue
        match = _SUPPRESSION.search(text)
        if match is None:
            continue
        col = match.start() + 1
        raw = [c.strip() for c in (match.group("codes") or "").split(",") if c.strip()]
        if not raw:
            problems.append((number, col, "suppression names no rule; write `# rivet: allow[RVT003] -- reason`"))
            continue
        unknown = [c for c in raw if c not in known]
        if unknown:
            problems.append((number, col, f"suppression names unknown rule {', '.join(unknown)}; use a rule code like RVT003"))
            continue
        if not _REASON.match(match.group("rest")):
            problems.append((number, col, "suppression gives no reason; append `-- why this is safe`"))
            continue
        codes = {known[c] for c in raw}
        allowed.setdefault(number, set()).update(codes)
        allowed.setdefault(number + 1, set()).update(codes)
    return allowed, problems


def _known(rules: Iterable[type[LintRule]]) -> dict[str, str]:
    known: dict[str, str] = {}
    extra = [PARSE_ERROR, BAD_SUPPRESSION, ("RVT101", "RemovedEntry"), ("RVT102", "VersionGate")]
    for code, name in [*((r.CODE, r.name) for r in rules), *extra]:
        known[code] = code
        known[name] = code
    return known


def lint_file(
    source: str,
    path: str = "<string>",
    *,
    rules: Sequence[type[LintRule]] = ALL_RULES,
    disable: Iterable[str] = (),
    locked: Mapping[str, Tree] | None = None,
    roots: Sequence[str] = (),
) -> FileResult:
    """Lint one module; a syntax error becomes one ``RVT000`` finding with ``parse_error`` set.

    Helpers imported from other modules of the project are followed when their files are found
    (next to ``path``, in its package, or under ``roots``); findings in them name their own file
    and line, and the call in ``path`` that runs them.
    """
    disabled = set(disable)
    active = [r for r in rules if r.CODE not in disabled and r.name not in disabled]
    try:
        module, model, reports = _analyze(source, path, active, locked, roots)
    except cst.ParserSyntaxError as error:
        line, col, reason = _syntax_error(source, path, error)
        violation = Violation(path, line, col, *PARSE_ERROR, f"could not parse: {reason}")
        return FileResult([violation], parse_error=True)
    known = _known(ALL_RULES)
    allowed, problems = _suppressions(source, known)
    result = FileResult([], module)
    elsewhere: dict[str, dict[int, set[str]]] = {}  # suppressions of imported modules
    seen: set[tuple[int, str]] = set()
    for report in reports:
        if report.code in disabled or report.name in disabled:
            continue
        assert model is not None
        unit = model.unit_of_node(report.node)
        start = unit.positions()[report.node].start
        if unit is model.unit:
            if report.code in allowed.get(start.line, ()):
                continue
            violation = Violation(
                path, start.line, start.column + 1, report.code, report.name, report.message, report.replacement is not None
            )
            result.violations.append(violation)
            if report.replacement is not None:
                result.fixes.append((violation, report.node, report.replacement))
            continue
        # in a helper imported from another module: reported there once (at its first call), not fixed
        if (id(report.node), report.code) in seen:
            continue
        seen.add((id(report.node), report.code))
        if unit.path not in elsewhere:
            elsewhere[unit.path] = _suppressions(unit.parsed.source, known)[0]
        if report.code in elsewhere[unit.path].get(start.line, ()):
            continue
        message = report.message
        call = model.call_site(report.node)
        if call is not None:
            at = model.position(call).start
            message += f" (in a helper called from {path}:{at.line}:{at.column + 1})"
        result.violations.append(Violation(unit.path, start.line, start.column + 1, report.code, report.name, message))
    if BAD_SUPPRESSION[0] not in disabled:
        result.violations.extend(Violation(path, line, col, *BAD_SUPPRESSION, msg) for line, col, msg in problems)
    result.violations = sorted(set(result.violations))
    if model is not None:
        result.trees = workflow_trees(model)
    return result


def lint_source(
    source: str,
    path: str = "<string>",
    *,
    rules: Sequence[type[LintRule]] = ALL_RULES,
    disable: Iterable[str] = (),
) -> list[Violation]:
    """Findings for one module's source text, sorted by position. The code is never imported."""
    return lint_file(source, path, rules=rules, disable=disable).violations


class _Replace(cst.CSTTransformer):
    def __init__(self, replacements: Mapping[int, cst.CSTNode]) -> None:
        super().__init__()
        self.replacements = replacements

    def on_leave(
        self, original_node: CSTNodeT, updated_node: CSTNodeT
    ) -> CSTNodeT | cst.RemovalSentinel | cst.FlattenSentinel[CSTNodeT]:
        replacement = self.replacements.get(id(original_node))
        return updated_node if replacement is None else cast(CSTNodeT, replacement)


def fix_source(
    source: str,
    path: str = "<string>",
    *,
    rules: Sequence[type[LintRule]] = ALL_RULES,
    disable: Iterable[str] = (),
) -> str:
    """Apply every safe autofix (repeatedly, until none is left) and return the new source."""
    for _ in range(10):
        result = lint_file(source, path, rules=rules, disable=disable)
        if not result.fixes or result.module is None:
            return source
        chosen: dict[int, cst.CSTNode] = {}
        taken: list[tuple[tuple[int, int], tuple[int, int]]] = []
        assert result.module is not None
        spans = _spans(result.module, [node for _, node, _ in result.fixes])
        for (_, node, replacement), span in zip(result.fixes, spans, strict=True):
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            taken.append(span)
            chosen[id(node)] = replacement
        updated = result.module.visit(_Replace(chosen))
        assert isinstance(updated, cst.Module)
        new_source = updated.code
        if new_source == source:
            return source
        source = new_source
    return source


def _spans(module: cst.Module, nodes: Sequence[cst.CSTNode]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    from libcst.metadata import PositionProvider

    wrapper = cst.MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    spans = []
    for node in nodes:
        code_range = positions[node]
        spans.append(((code_range.start.line, code_range.start.column), (code_range.end.line, code_range.end.column)))
    return spans
