"""What is workflow code: one pass that finds actors, workflow scopes and their entries.

The analyzer never imports user code. It parses the module with libcst, resolves names with
``QualifiedNameProvider``, finds every method decorated ``@rivet_dsl.workflow`` and walks it. Functions
the workflow passes to ``ctx.loop`` or as ``ctx.join``/``ctx.race`` branches become scopes of their
own (with their own context parameter); functions and lambdas passed to ``ctx.step`` (and its
``rollback=``) are step code and are skipped. Nested helpers, and ``self.<method>``/module
functions called with a context, are walked as part of the scope that calls them.

Rules see workflow-code nodes through ``visit_<Node>`` hooks (dispatched by :class:`_Walker`) and
the collected :class:`EntryCall` list in ``finish``.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import tokenize
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, TypeVar

import libcst as cst
from libcst._metadata_dependent import LazyValue
from libcst.metadata import CodeRange, PositionProvider, QualifiedName, QualifiedNameProvider

from ._banned import BANNED

__all__ = [
    "ENTRY_TYPES",
    "ActorClass",
    "EntryCall",
    "ModuleModel",
    "Path",
    "Scope",
    "Site",
    "context_method",
    "exclusive",
    "is_first_path",
    "literal_string",
    "split_index",
]

# context method -> entry type recorded in history (and in the lock file)
ENTRY_TYPES: Mapping[str, str] = {
    "step": "step",
    "loop": "loop",
    "sleep": "sleep",
    "sleep_until": "sleep",
    "queue.next": "message",
    "queue.next_batch": "message",
    "join": "join",
    "race": "race",
    "rollback_checkpoint": "rollback_checkpoint",
    "removed": "removed",
    "get_version": "version_check",
}
_DIRECT = frozenset(m for m in ENTRY_TYPES if "." not in m)
_QUEUE = frozenset({"next", "next_batch"})

ScopeKind = Literal["workflow", "loop", "branch", "helper"]
Dispatch = Mapping[type[cst.CSTNode], Sequence[Callable[[cst.CSTNode], None]]]
AnyFunction = cst.FunctionDef | cst.Lambda
ScopeHook = Callable[["Scope", list[cst.CSTNode]], None]
Loop = cst.For | cst.While | cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp
Args = Sequence[tuple[int, cst.Arg]]  # arguments of a call, with their positions
Arms = tuple[tuple[int, int], ...]  # (id of an if/elif/else or match chain, arm index) around a node


def literal_string(node: cst.BaseExpression | None) -> str | None:
    """The value of a plain string literal (implicit concatenation allowed), else ``None``."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    if isinstance(node, cst.ConcatenatedString):
        left = literal_string(node.left)
        right = literal_string(node.right)
        return None if left is None or right is None else left + right
    return None


def context_method(call: cst.Call, contexts: frozenset[str]) -> tuple[str, cst.Name] | None:
    """``("step", <Name ctx>)`` when ``call`` is ``ctx.step(...)``/``ctx.queue.next(...)``... on a context."""
    func = call.func
    if not isinstance(func, cst.Attribute):
        return None
    value = func.value
    attr = func.attr.value
    if isinstance(value, cst.Name):
        if attr in _DIRECT and value.value in contexts:
            return attr, value
        return None
    if (
        attr in _QUEUE
        and isinstance(value, cst.Attribute)
        and value.attr.value == "queue"
        and isinstance(value.value, cst.Name)
        and value.value.value in contexts
    ):
        return f"queue.{attr}", value.value
    return None


def _params(func: AnyFunction) -> list[cst.Param]:
    p = func.params
    return [*p.posonly_params, *p.params]


def _is_async(func: AnyFunction) -> bool:
    return isinstance(func, cst.FunctionDef) and func.asynchronous is not None


def _annotated_contexts(func: AnyFunction) -> set[str]:
    names: set[str] = set()
    for param in [*_params(func), *func.params.kwonly_params]:
        ann = param.annotation
        if ann is None:
            continue
        node = ann.annotation
        text = node.value if isinstance(node, cst.Name) else node.attr.value if isinstance(node, cst.Attribute) else ""
        if text.endswith("WorkflowContext") or text == "LoopContext":
            names.add(param.name.value)
    return names


@dataclasses.dataclass(eq=False)
class ActorClass:
    """A class of the module, or one of the project it derives from; an actor when it is a class of
    the linted module with at least one ``@workflow`` method.

    Its members include those it inherits from the classes it derives from that are known: of the
    same module, or imported from another module of the project (see ``_inherit``).
    """

    node: cst.ClassDef
    name: str
    methods: dict[str, cst.FunctionDef]
    plain_methods: set[str]  # may be helpers: no rivet_dsl decorator (@action, @event, ...); static ones too
    events: set[str]
    queues: set[str]
    workflows: list[cst.FunctionDef]
    # the class and its known ancestors in method resolution order: `Base.helper(self, ctx)` is a method call too
    lineage: list[ActorClass] = dataclasses.field(default_factory=list)
    # each base that can define methods (not a keyword, not a generic `Actor[S]`): the class it names, or
    # `None` when it is not known (imported from outside the project, not found, a call...)
    bases: list[ActorClass | None] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        # the members the class body defines, before `_inherit` adds the inherited ones
        self.own_methods: dict[str, cst.FunctionDef] = dict(self.methods)
        self.own_plain: set[str] = set(self.plain_methods)
        self.own_events: set[str] = set(self.events)
        self.own_queues: set[str] = set(self.queues)


@dataclasses.dataclass(frozen=True, eq=False)
class Site:
    """Where a call is made in one function: the arms around it, the chains it leaves, its order.

    ``conditional``: the call may be skipped when the function runs (it sits in an ``if``/``match``
    arm, a loop body, an ``except`` handler or ``else``, a ``try`` body after its first statement, the
    right side of ``and``/``or``, a comprehension, or after a ``return``/``raise`` that only some runs
    take). ``node`` is the helper call, for a helper's site.
    """

    scope: Scope
    arms: Arms
    exits: frozenset[int]
    seq: int
    conditional: bool = False
    node: cst.Call | None = None
    loop: Loop | None = None  # a Python loop or comprehension that may make this call again


Path = tuple[Site, ...]  # outermost function first, ending at the entry itself
_MAX_PATHS = 64


@dataclasses.dataclass(eq=False)
class Scope:
    """One function body of workflow code: the workflow, a loop body, a branch, or a helper."""

    kind: ScopeKind
    func: AnyFunction
    actor: ActorClass
    contexts: frozenset[str]
    outer_contexts: frozenset[str]
    self_name: str | None
    owner: Scope | None = None
    label: str | None = None
    root: cst.FunctionDef | None = None
    entries: list[EntryCall] = dataclasses.field(default_factory=list)
    messages: set[str] = dataclasses.field(default_factory=set)
    # for a helper: the calls that run it in its owner's history, first call first (its placement)
    sites: list[Site] = dataclasses.field(default_factory=list)
    self_aliases: set[str] = dataclasses.field(default_factory=set)  # `s = self` in this function
    # parameters some call binds to the actor (`await bump(self, ctx)` -> `actor` of `bump(actor, ctx)`)
    actor_params: frozenset[str] = frozenset()
    parent: Scope | None = None  # the function a nested scope is defined in

    @property
    def visible(self) -> frozenset[str]:
        return self.contexts | self.outer_contexts

    def is_self(self, node: cst.BaseExpression | None) -> bool:
        """``node`` is the actor: its ``self`` parameter, a parameter a caller passed ``self`` to,
        or a local name assigned from one of them."""
        if not isinstance(node, cst.Name):
            return False
        return node.value == self.self_name or node.value in self.self_aliases or node.value in self.actor_params

    @property
    def site(self) -> Site | None:
        """The first call that runs this helper: where its entries are placed."""
        return self.sites[0] if self.sites else None

    @property
    def entry_owner(self) -> Scope:
        """The scope whose history this function's entries land in (helpers share their caller's)."""
        scope = self
        while scope.owner is not None:
            scope = scope.owner
        return scope

    @property
    def is_async(self) -> bool:
        return _is_async(self.func)


@dataclasses.dataclass(eq=False)
class EntryCall:
    """A call on a workflow context: ``ctx.step(...)``, ``loop.queue.next(...)``..."""

    node: cst.Call
    method: str
    receiver: cst.Name
    scope: Scope
    awaited: bool
    seq: int
    arms: Arms
    exits: frozenset[int]
    children: list[Scope] = dataclasses.field(default_factory=list)
    conditional: bool = False
    loop: Loop | None = None

    @functools.cached_property
    def leaf(self) -> Site:
        """This call as the last site of its paths."""
        return Site(self.scope, self.arms, self.exits, self.seq, self.conditional, None, self.loop)

    @property
    def sites(self) -> list[Site]:
        """This call, and the first helper calls that lead to it, outermost function first."""
        sites = [self.leaf]
        seen = {id(self.scope)}
        scope = self.scope
        while scope.site is not None and id(scope.site.scope) not in seen:
            sites.append(scope.site)
            scope = scope.site.scope
            seen.add(id(scope))
        return sites[::-1]

    def paths(self) -> list[Path]:
        """Every chain of helper calls that runs this call, outermost function first (at most 64).

        A helper called twice in its owner's history has two paths; a recursive call is not followed.
        """
        found: list[Path] = []

        def up(scope: Scope, tail: Path, seen: frozenset[int]) -> None:
            options = [s for s in scope.sites if id(s.scope) not in seen]
            if not options:
                found.append(tail)
            for site in options:
                if len(found) >= _MAX_PATHS:
                    return
                up(site.scope, (site, *tail), seen | {id(site.scope)})

        up(self.scope, (self.leaf,), frozenset({id(self.scope)}))
        return found

    @property
    def entry_type(self) -> str:
        return ENTRY_TYPES[self.method]

    @property
    def name_node(self) -> cst.BaseExpression | None:
        for arg in self.node.args:
            if arg.keyword is None and arg.star == "":
                return arg.value
            if arg.keyword is not None and arg.keyword.value == "name":
                return arg.value
        return None

    @property
    def name(self) -> str | None:
        return literal_string(self.name_node)

    def arg(self, index: int, keyword: str) -> cst.BaseExpression | None:
        positional = [a for a in self.node.args if a.keyword is None and a.star == ""]
        if index < len(positional):
            return positional[index].value
        for a in self.node.args:
            if a.keyword is not None and a.keyword.value == keyword:
                return a.value
        return None

    def exclusive_with(self, other: EntryCall) -> bool:
        """True when the two calls, placed at their first helper calls, cannot both run in one execution."""
        return exclusive(tuple(self.sites), tuple(other.sites))


def is_first_path(path: Path) -> bool:
    """Every helper call on ``path`` is the first call of its helper (where its entries are placed)."""
    return all(inner.scope.site is outer for outer, inner in itertools.pairwise(path))


def split_index(a: Path, b: Path) -> int | None:
    """The index of the function where two paths part (``None``: no common outermost function)."""
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x.scope is not y.scope:
            return None
        if x.seq != y.seq:
            return index
    return None


def exclusive(a: Path, b: Path) -> bool:
    """True when the calls at the ends of the two paths cannot both run in one execution.

    Helper calls count by the arms around them, and so does a ``return`` that leaves the caller,
    but a ``return`` inside a helper only ends the helper.
    """
    mine = _arm_of_chain(a)
    for chain, arm in _arm_of_chain(b).items():
        if chain in mine and mine[chain] != arm:
            return True
    index = split_index(a, b)
    if index is None:
        return False  # a helper without a known call site: only its arms say anything
    x, y = a[index], b[index]
    first, second = (x, y) if x.seq < y.seq else (y, x)
    theirs = {chain for chain, _ in second.arms}
    return any(chain not in theirs for chain in first.exits)


def _arm_of_chain(sites: Sequence[Site]) -> dict[int, int]:
    return {chain: arm for site in sites for chain, arm in site.arms}


@dataclasses.dataclass(eq=False)
class _Mark:
    kind: ScopeKind | Literal["step"]
    scope: Scope | None = None


Binding = tuple[int, str, str | None]  # an imported name: (relative level, module, name in it or None)


@dataclasses.dataclass(eq=False)
class _Parsed:
    """One parsed module file, shared by every model of a lint run (libcst nodes are immutable)."""

    file: str
    source: str
    module: cst.Module
    imports: list[cst.SimpleStatementLine]
    imported: dict[str, str]
    module_defs: dict[str, cst.FunctionDef]
    bindings: dict[str, Binding]
    partials: dict[str, cst.Call]
    classes: dict[str, cst.ClassDef] = dataclasses.field(default_factory=dict)
    positions: Mapping[cst.CSTNode, CodeRange] | None = None

    @classmethod
    def of(cls, file: str, source: str, module: cst.Module) -> _Parsed:
        imports = _import_lines(module.body)
        imported = _bound_names(imports)
        defs = {stmt.name.value: stmt for stmt in module.body if isinstance(stmt, cst.FunctionDef)}
        bindings: dict[str, Binding] = {}
        for line in imports:
            for small in line.body:
                bindings.update(_import_bindings(small))
        classes = {stmt.name.value: stmt for stmt in module.body if isinstance(stmt, cst.ClassDef)}
        partials = _module_partials(module.body, imported)
        return cls(file, source, module, imports, imported, defs, bindings, partials, classes)


_PARSED: dict[str, tuple[tuple[int, int], _Parsed | None]] = {}


def clear_module_cache() -> None:
    """Forget the modules parsed for cross-module helpers (``lint_paths`` starts every run with it)."""
    _PARSED.clear()


def _parse_file(file: str) -> _Parsed | None:
    """The module at ``file`` parsed with libcst (never imported), cached by modification time and
    size; ``None`` when it cannot be read or parsed (linting it reports that)."""
    try:
        stat = os.stat(file)
    except OSError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _PARSED.get(file)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    parsed: _Parsed | None
    try:
        with tokenize.open(file) as handle:
            source = handle.read()
        parsed = _Parsed.of(file, source, cst.parse_module(source))
    except (OSError, UnicodeDecodeError, SyntaxError, cst.ParserSyntaxError):
        parsed = None
    _PARSED[file] = (stamp, parsed)
    return parsed


@dataclasses.dataclass(eq=False)
class SourceUnit:
    """A module whose functions the model walks: the linted one, or one a helper was imported from.

    ``path`` is how findings name it (for an imported module, in the style of the linted path).
    ``imported`` is this model's own copy: a function-level import adds to it.
    """

    path: str
    parsed: _Parsed
    imported: dict[str, str]

    @property
    def module(self) -> cst.Module:
        return self.parsed.module

    @property
    def module_defs(self) -> dict[str, cst.FunctionDef]:
        return self.parsed.module_defs

    @property
    def partials(self) -> dict[str, cst.Call]:
        return self.parsed.partials

    def positions(self) -> Mapping[cst.CSTNode, CodeRange]:
        if self.parsed.positions is None:
            self.parsed.positions = cst.MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        return self.parsed.positions


_SKIPPED_PACKAGES = frozenset({"rivet_dsl"})  # the library itself: its functions are not user helpers
_Def = TypeVar("_Def", cst.FunctionDef, cst.ClassDef)


def _module_function(parsed: _Parsed, name: str) -> cst.FunctionDef | None:
    return parsed.module_defs.get(name)


def _module_class(parsed: _Parsed, name: str) -> cst.ClassDef | None:
    return parsed.classes.get(name)


class ModuleModel:
    """Everything the rules need to know about one module."""

    def __init__(self, module: cst.Module, path: str = "<string>", *, source: str = "", roots: Sequence[str] = ()) -> None:
        self.module = module
        self.path = path
        file = os.path.abspath(path) if path != "<string>" and os.path.isfile(path) else ""
        self.file = file
        self.unit = SourceUnit(path, _Parsed.of(file, source, module), {})
        self.units: dict[str, SourceUnit] = {}  # imported modules by file, once resolved
        self._unit_roots: dict[int, SourceUnit] = {}  # imported function -> its module
        self._search = _search_dirs(file, roots) if file else []
        self.actors: list[ActorClass] = []
        self.scopes: list[Scope] = []
        self.roots: list[tuple[ActorClass, cst.FunctionDef, Scope]] = []
        self.entries: list[EntryCall] = []
        self.module_defs: dict[str, cst.FunctionDef] = {}
        self._marks: dict[int, _Mark] = {}
        self._lambda_scopes: dict[int, Scope] = {}
        self._step_code: set[int] = set()
        self._referenced: set[int] = set()  # nested functions named in workflow code
        self._method_scopes: dict[tuple[int, str], Scope] = {}
        self._pending_methods: list[tuple[Scope, cst.FunctionDef]] = []
        self._seq = 0
        self._imports = self.unit.parsed.imports
        self.imported: dict[str, str] = self.unit.imported
        self.imported.update(self.unit.parsed.imported)
        self._current_unit = self.unit
        self._names: dict[tuple[int, int], Mapping[cst.CSTNode, object]] = {}
        self._current: cst.FunctionDef | None = None
        self._classes: dict[str, ActorClass] = {}  # the top-level classes of the linted module
        self._class_nodes: dict[int, ActorClass] = {}  # every class known, by its node
        self._class_units: dict[int, SourceUnit] = {}  # ... and its module
        self._find_actors()

    def position(self, node: cst.CSTNode) -> CodeRange:
        """Source range of a node (positions are computed on first use: clean modules skip it),
        in the module it belongs to (see :meth:`unit_of_node`)."""
        return self.unit_of_node(node).positions()[node]

    def unit_of_node(self, node: cst.CSTNode) -> SourceUnit:
        """The module a node of workflow code belongs to: the linted one or an imported one."""
        if self.units and node not in self.unit.positions():
            for unit in self.units.values():
                if node in unit.positions():
                    return unit
        return self.unit

    def unit_of(self, scope: Scope) -> SourceUnit:
        """The module whose source a scope's function is in."""
        return self._unit_roots.get(id(scope.root), self.unit)

    def where(self, node: cst.CSTNode, seen_from: cst.CSTNode | None = None) -> str:
        """``line 12`` of a node, naming its file when it is not the file of ``seen_from`` (by
        default the linted file): ``line 3 of pkg/helpers.py``."""
        unit = self.unit_of_node(node)
        line = f"line {unit.positions()[node].start.line}"
        other = self.unit if seen_from is None else self.unit_of_node(seen_from)
        return line if unit is other else f"{line} of {unit.path}"

    def call_site(self, node: cst.CSTNode) -> cst.Call | None:
        """For a node of an imported module: the call in the linted module that runs the helper
        it is in (through other helpers, loop bodies or branches of that module)."""
        unit = self.unit_of_node(node)
        if unit is self.unit:
            return None
        span = unit.positions()[node]
        best: Scope | None = None
        best_start = (-1, -1)
        for candidate in self.scopes:
            if self.unit_of(candidate) is not unit:
                continue
            outer = unit.positions()[candidate.func]
            start, end = (outer.start.line, outer.start.column), (outer.end.line, outer.end.column)
            if start <= (span.start.line, span.start.column) and (span.end.line, span.end.column) <= end and start > best_start:
                best, best_start = candidate, start
        seen: set[int] = set()
        scope = best
        call: cst.Call | None = None
        while scope is not None and self.unit_of(scope) is not self.unit and id(scope) not in seen:
            seen.add(id(scope))
            site = scope.site
            if site is not None:
                call, scope = site.node, site.scope
            else:
                scope = scope.parent
        return call if scope is not None and self.unit_of(scope) is self.unit else None

    # -- imported helpers and bases ----------------------------------------------------------
    def imported_function(self, unit: SourceUnit, dotted: str) -> cst.FunctionDef | None:
        """The function an imported name (``charge`` after ``from .helpers import charge``) or a
        module attribute (``helpers.charge`` after ``from . import helpers``) names, when its module
        is a file of the project (found next to the module that imports it, in its package, or
        under the lint roots). Parsed, never imported; re-exports are followed."""
        found = self._imported(unit, dotted, _module_function)
        if found is None or found[1] is None:
            return None  # not found, or the linted module itself, imported under its own name
        self._unit_roots[id(found[0])] = found[1]
        return found[0]

    def imported_class(self, unit: SourceUnit, dotted: str) -> tuple[cst.ClassDef, SourceUnit] | None:
        """The class (and its module) an imported name or module attribute names, found like
        :meth:`imported_function` (``Checkout`` after ``from .mixins import Checkout``, ``m.Checkout``
        after ``import app.mixins as m``). A class of the linted module imported under its own name
        is the linted module's class."""
        found = self._imported(unit, dotted, _module_class)
        if found is None:
            return None
        if found[1] is None:
            own = self._classes.get(found[0].name.value)
            return None if own is None else (own.node, self.unit)
        return found[0], found[1]

    def _imported(self, unit: SourceUnit, dotted: str, pick: Callable[[_Parsed, str], _Def | None]) -> tuple[_Def, SourceUnit | None] | None:
        if not unit.parsed.file or not self._search:
            return None
        head, *middle = dotted.split(".")
        binding = unit.parsed.bindings.get(head)
        if binding is None:
            return None
        level, module, name = binding
        if middle:  # an attribute of an imported module: the last part is the definition
            base = ".".join(p for p in (module, name) if p) if name is not None else module
            parts = [p for p in (base, *middle[:-1]) if p]
            return self._defined_in(unit.parsed.file, level, ".".join(parts), middle[-1], set(), pick)
        if name is None:
            return None  # `import helpers` then `helpers(ctx)`: not a function
        return self._defined_in(unit.parsed.file, level, module, name, set(), pick)

    def _defined_in(
        self, origin: str, level: int, module: str, name: str, seen: set[tuple[str, str]], pick: Callable[[_Parsed, str], _Def | None]
    ) -> tuple[_Def, SourceUnit | None] | None:
        """The definition ``pick`` finds for ``name`` in a module of the project, with its module
        (``None`` for the linted module itself)."""
        if not level and module.split(".", 1)[0] in _SKIPPED_PACKAGES:
            return None
        file = self._module_file(origin, level, module)
        if file is None or (file, name) in seen or len(seen) > 16:
            return None  # unknown, an import cycle, or a chain of re-exports too long to matter
        seen.add((file, name))
        parsed = _parse_file(file)
        if parsed is None:
            return None
        found = pick(parsed, name)
        if found is None:
            binding = parsed.bindings.get(name)  # re-exported: `from ._impl import charge`
            if binding is None or binding[2] is None:
                return None
            return self._defined_in(file, binding[0], binding[1], binding[2], seen, pick)
        if file == self.file:
            return found, None
        unit = self.units.get(file)
        if unit is None:
            unit = self.units[file] = SourceUnit(self._display(file), parsed, dict(parsed.imported))
        return found, unit

    def _module_file(self, origin: str, level: int, module: str) -> str | None:
        parts = [p for p in module.split(".") if p]
        if level:
            base = os.path.dirname(origin)
            for _ in range(level - 1):
                base = os.path.dirname(base)
            dirs = [base]
        else:
            dirs = [*_search_dirs(origin, ()), *self._search]
        for directory in dict.fromkeys(dirs):
            stem = os.path.join(directory, *parts)
            for candidate in (f"{stem}.py", os.path.join(stem, "__init__.py")):
                if parts or candidate.endswith("__init__.py"):
                    if os.path.isfile(candidate):
                        return candidate
        return None

    def _display(self, file: str) -> str:
        """``file`` as findings name it: relative to the linted file's directory, joined to the
        directory part of the path it was linted as (``examples/shop.py`` -> ``examples/helpers.py``)."""
        here = os.path.dirname(self.path)
        try:
            relative = os.path.relpath(file, os.path.dirname(self.file))
        except ValueError:  # another drive
            return file
        if os.path.isabs(self.path):
            return os.path.normpath(os.path.join(os.path.dirname(self.file), relative))
        return os.path.normpath(os.path.join(here, relative))

    # -- names -------------------------------------------------------------------------------
    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        """Qualified names of a ``Name``/``Attribute`` by libcst's ``QualifiedNameProvider``.

        Only names rooted in an import or in a builtin the rules care about are resolved (anything
        else cannot be a banned or ``rivet_dsl`` name). Resolution runs lazily on a small module made
        of the imports and the one top-level function being walked (same node objects), so clean
        code never pays for a whole-module scope analysis.
        """
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if not isinstance(root, cst.Name):
            return set()
        unit = self._current_unit
        target = unit.imported.get(root.value)
        if target is None:
            if root.value not in _BUILTINS:
                return set()
        elif target.split(".", 1)[0] not in (_DECORATOR_MODULES if self._current is None else _BANNED_MODULES):
            return set()
        key = (id(unit), id(self._current))
        names = self._names.get(key)
        if names is None:
            body: list[cst.SimpleStatementLine | cst.BaseCompoundStatement] = list(unit.parsed.imports)
            if self._current is not None:
                body.append(self._current)
            else:  # the decorators of the module's methods, on stubs (the same decorator nodes)
                stub = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Pass()])])
                body.extend(f.with_changes(body=stub) for f in _decorated_methods(unit.module.body))
            wrapper = cst.MetadataWrapper(cst.Module(body=body), unsafe_skip_copy=True)
            names = self._names[key] = wrapper.resolve(QualifiedNameProvider)
        found: object = names.get(node)
        if isinstance(found, LazyValue):  # libcst computes qualified names on first access
            found = found()
        if not isinstance(found, set | frozenset):
            return set()
        return {q.name for q in found if isinstance(q, QualifiedName)}

    def _decorator_kinds(self, func: cst.FunctionDef) -> set[str]:
        kinds: set[str] = set()
        for dec in func.decorators:
            expr = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
            for name in self.qualified_names(expr):
                if name.startswith("rivet_dsl."):
                    kinds.add(name.rsplit(".", 1)[1])
        return kinds

    def _find_actors(self) -> None:
        for stmt in self.module.body:
            if isinstance(stmt, cst.FunctionDef):
                self.module_defs[stmt.name.value] = stmt
        for stmt in self.module.body:
            if isinstance(stmt, cst.ClassDef):
                self._classes[stmt.name.value] = self._class(stmt, self.unit)
        # the bases of the actors, and theirs: of this module, or imported from a module of the project
        pending = list(self.actors)
        resolved: dict[int, ActorClass] = {}
        while pending:
            cls = pending.pop()
            if id(cls) in resolved:
                continue
            resolved[id(cls)] = cls
            unit = self._class_units[id(cls.node)]
            for base in cls.node.bases:
                if base.keyword is None and not isinstance(base.value, cst.Subscript):  # `Actor[S]`: no helper
                    cls.bases.append(self._base_class(unit, base.value))
            pending.extend(b for b in cls.bases if b is not None)
        for cls in resolved.values():
            _inherit(cls)  # every class: `Base.f(self)` may name a method `Base` inherits

    def class_ref(self, unit: SourceUnit, node: cst.BaseExpression) -> tuple[cst.ClassDef, SourceUnit] | None:
        """The class a name (``Base``, ``Checkout`` after ``from .mixins import Checkout``) or a module
        attribute (``mixins.Checkout``) names in ``unit``, when it is a class of the project."""
        if isinstance(node, cst.Name):
            own = unit.parsed.classes.get(node.value)
            if own is not None:
                return own, unit
        dotted = _dotted(node)
        return self.imported_class(unit, dotted) if dotted else None

    def _base_class(self, unit: SourceUnit, node: cst.BaseExpression) -> ActorClass | None:
        found = self.class_ref(unit, node)
        if found is None:
            return None
        cls = self._class_nodes.get(id(found[0]))
        return cls if cls is not None else self._class(*found)

    def _class(self, node: cst.ClassDef, unit: SourceUnit) -> ActorClass:
        """The members of a class, of the linted module or (a base of an actor) of another one."""
        linted = unit is self.unit
        methods: dict[str, cst.FunctionDef] = {}
        plain: set[str] = set()
        events: set[str] = set()
        queues: set[str] = set()
        workflows: list[cst.FunctionDef] = []
        previous, self._current_unit = self._current_unit, unit  # decorators resolve by that module's imports
        for stmt in node.body.body:
            if isinstance(stmt, cst.ClassDef) and linted:
                self._class(stmt, unit)
            if not isinstance(stmt, cst.FunctionDef):
                continue
            methods[stmt.name.value] = stmt
            if not linted:
                self._unit_roots[id(stmt)] = unit  # its methods are walked in their own module
            kinds = self._decorator_kinds(stmt)
            if "workflow" in kinds:
                workflows.append(stmt)
            if "event" in kinds:
                events.add(stmt.name.value)
            if "queue" in kinds:
                queues.add(stmt.name.value)
            if not kinds:
                plain.add(stmt.name.value)  # other decorators (tracing, retries...) keep the body
        self._current_unit = previous
        found = ActorClass(node, node.name.value, methods, plain, events, queues, workflows)
        self._class_nodes[id(node)] = found
        self._class_units[id(node)] = unit
        if workflows and linted:
            self.actors.append(found)
        return found

    # -- walking -----------------------------------------------------------------------------
    def analyze(self, dispatch: Dispatch, on_scope: ScopeHook) -> None:
        for actor in self.actors:
            for func in actor.workflows:
                params = _params(func)
                self_name = params[0].name.value if params else None
                contexts = {params[1].name.value} if len(params) > 1 else set()
                scope = Scope(
                    "workflow",
                    func,
                    actor,
                    frozenset(contexts | _annotated_contexts(func)),
                    frozenset(),
                    self_name,
                    root=func,
                )
                self.roots.append((actor, func, scope))
                self._walk(scope, dispatch, on_scope, None)
                while self._pending_methods:
                    pending, _ = self._pending_methods.pop(0)
                    self._walk(pending, dispatch, on_scope, None)

    def _walk(self, scope: Scope, dispatch: Dispatch, on_scope: ScopeHook, parent: _Walker | None) -> None:
        self.scopes.append(scope)
        walker = _Walker(self, scope, dispatch, parent)
        self._current = scope.root
        self._current_unit = self.unit_of(scope)
        on_scope(scope, walker.stack)
        walker.walk(scope.func.body)
        # nested functions: scopes and called helpers first (they may mark siblings), then lambda
        # scopes, then the other nested functions that workflow code refers to (`branches = {...}`),
        # walked as helpers; a function used only by step code (or not at all) is skipped
        pending = list(walker.deferred)
        lambdas = list(walker.lambdas)
        while pending or lambdas:
            ready = [d for d in pending if (m := self._marks.get(id(d))) is not None and m.scope is not None]
            if ready:
                for d in ready:
                    pending.remove(d)
                    mark = self._marks[id(d)]
                    assert mark.scope is not None
                    self._walk(mark.scope, dispatch, on_scope, walker)
                continue
            if lambdas:
                self._walk(self._lambda_scopes[id(lambdas.pop(0))], dispatch, on_scope, walker)
                continue
            helpers = [d for d in pending if id(d) not in self._marks and id(d) in self._referenced]
            if not helpers:
                break
            self._marks[id(helpers[0])] = _Mark("helper", self._nested_scope("helper", helpers[0], scope, None))

    def _nested_scope(self, kind: ScopeKind, func: AnyFunction, parent: Scope, label: str | None) -> Scope:
        annotated = _annotated_contexts(func)
        if kind == "helper":
            own: frozenset[str] = parent.contexts | annotated
            outer = parent.outer_contexts - own
            owner: Scope | None = parent
        else:
            params = _params(func)
            own = frozenset({params[0].name.value} if params else ()) | annotated
            outer = parent.visible - own
            owner = None
        scope = Scope(kind, func, parent.actor, frozenset(own), frozenset(outer), parent.self_name, owner, label, parent.root)
        scope.parent = parent
        scope.self_aliases = parent.self_aliases  # a closure sees the aliases of its enclosing function
        scope.actor_params = parent.actor_params  # ... and the actor parameters
        return scope

    def _method_scope(
        self, kind: ScopeKind, actor: ActorClass, func: cst.FunctionDef | None, caller: Scope, contexts: set[str], label: str | None
    ) -> Scope | None:
        if func is None:
            return None
        key = (id(func), f"{kind}:{id(caller.entry_owner) if kind == 'helper' else ''}:{label}")
        existing = self._method_scopes.get(key)
        if existing is not None:
            existing.contexts = existing.contexts | contexts  # `self.f()`, then `self.f(ctx)`
            return existing
        params = _params(func)
        self_name = params[0].name.value if params and _is_instance_method(func) else None
        if kind != "helper":
            first = 0 if _is_static(func) else 1  # the context parameter of a loop body or branch
            contexts = {params[first].name.value} if len(params) > first else set()
        owner = caller if kind == "helper" else None
        scope = Scope(kind, func, actor, frozenset(contexts | _annotated_contexts(func)), frozenset(), self_name, owner, label, func)
        self._method_scopes[key] = scope
        self._pending_methods.append((scope, func))
        return scope

    def _module_helper(self, func: cst.FunctionDef, caller: Scope, contexts: set[str]) -> Scope | None:
        """The scope of a module-level function called with a context, one per history it lands in."""
        mark = self._marks.get(id(func))
        if mark is not None and mark.kind != "helper":
            return None  # a loop body, a branch or step code
        key = (id(func), f"module-helper:{id(caller.entry_owner)}")
        existing = self._method_scopes.get(key)
        if existing is not None:
            return existing
        scope = Scope("helper", func, caller.actor, frozenset(contexts), frozenset(), None, caller, None, func)
        self._marks.setdefault(id(func), _Mark("helper", scope))
        self._method_scopes[key] = scope
        self._pending_methods.append((scope, func))
        return scope

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq


def _inherit(actor: ActorClass) -> None:
    """Give ``actor`` the members of its known ancestors (of the same module, or of modules of the
    project it imports them from), as Python's method resolution order finds them: its own first,
    then the bases left to right (a shared base after every class that derives from it). A base
    that is not known (from outside the project, or not found) is skipped: its methods are unknown,
    and so are the methods of the classes it derives from."""
    order = _ancestors(actor, ())
    actor.lineage = order
    for cls in order[1:]:
        for name, func in cls.own_methods.items():
            if name in actor.methods:
                continue  # overridden by a class earlier in the order
            actor.methods[name] = func
            for own, inherited in ((actor.plain_methods, cls.own_plain), (actor.events, cls.own_events), (actor.queues, cls.own_queues)):
                if name in inherited:
                    own.add(name)


def _bases_known(cls: ActorClass) -> bool:
    """Every base of ``cls`` is a known class (a generic like ``Actor[S]`` defines no helper)."""
    return all(base is not None for base in cls.bases)


def _ancestors(cls: ActorClass, path: tuple[ActorClass, ...]) -> list[ActorClass]:
    """``cls`` and its known ancestors, in method resolution order (a depth-first walk keeping the
    last visit of a class shared by two bases, as C3 does for consistent hierarchies). A cycle
    (``class A(A)``, a rebound name, modules importing each other's classes) ends the walk."""
    if cls in path:
        return []
    walk = [cls]
    for base in cls.bases:
        if base is not None:
            walk.extend(_ancestors(base, (*path, cls)))
    return [c for i, c in enumerate(walk) if c not in walk[i + 1 :]]


_BANNED_MODULES = frozenset(key.split(".", 1)[0] for key in BANNED)
_DECORATOR_MODULES = frozenset({"rivet_dsl"})
_BUILTINS = frozenset(
    {key.split(".", 1)[1] for key in BANNED if key.startswith("builtins.")}
    | {"set", "frozenset", "list", "tuple", "enumerate", "iter", "zip"}
)


def _import_lines(body: Sequence[cst.CSTNode]) -> list[cst.SimpleStatementLine]:
    """Top-level import statements, also those under a top-level ``if``/``try``."""
    found: list[cst.SimpleStatementLine] = []
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            if any(isinstance(small, cst.Import | cst.ImportFrom) for small in stmt.body):
                found.append(stmt)
        elif isinstance(stmt, cst.If | cst.Try | cst.Else | cst.ExceptHandler | cst.Finally):
            children: list[cst.CSTNode] = list(stmt.body.body) if isinstance(stmt.body, cst.IndentedBlock) else []
            if isinstance(stmt, cst.If | cst.Try) and stmt.orelse is not None:
                children.append(stmt.orelse)
            if isinstance(stmt, cst.Try):
                children.extend(stmt.handlers)
                if stmt.finalbody is not None:
                    children.append(stmt.finalbody)
            found.extend(_import_lines(children))
    return found


def _bound_names(lines: Sequence[cst.SimpleStatementLine]) -> dict[str, str]:
    names: dict[str, str] = {}
    for line in lines:
        for small in line.body:
            names.update(_import_binds(small))
    return names


def _module_partials(body: Sequence[cst.CSTNode], imported: Mapping[str, str]) -> dict[str, cst.Call]:
    """``name = functools.partial(fn, ...)`` at module level, for a name bound only there (a
    function, class or second assignment of the same name forgets it)."""
    found: dict[str, cst.Call] = {}
    bound: set[str] = set()
    for stmt in body:
        if isinstance(stmt, cst.FunctionDef | cst.ClassDef):
            bound.add(stmt.name.value)
            continue
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if not isinstance(small, cst.Assign | cst.AnnAssign):
                continue
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            value = small.value
            for target in targets:
                if not isinstance(target, cst.Name):
                    continue
                if target.value in bound:
                    found.pop(target.value, None)
                    continue
                bound.add(target.value)
                if len(targets) == 1 and isinstance(value, cst.Call) and _is_partial_call(value, imported):
                    found[target.value] = value
    return found


def _is_partial_call(call: cst.Call, imported: Mapping[str, str]) -> bool:
    """``functools.partial(fn, ...)`` (by its import) with the function as a plain first argument."""
    dotted = _dotted(call.func)
    root, _, rest = dotted.partition(".")
    target = imported.get(root)
    if target is None or (f"{target}.{rest}" if rest else target) != "functools.partial" or not call.args:
        return False
    return call.args[0].keyword is None and call.args[0].star == ""


def _dotted(node: cst.BaseExpression | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _import_binds(small: cst.CSTNode) -> dict[str, str]:
    """Local name -> imported module or object, for one import statement."""
    names: dict[str, str] = {}
    if isinstance(small, cst.Import):
        for alias in small.names:
            target = _dotted(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                names[alias.asname.name.value] = target
            else:
                names[target.split(".", 1)[0]] = target.split(".", 1)[0]
    elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar) and not small.relative:
        module = _dotted(small.module)
        for alias in small.names:
            bound = alias.asname.name if alias.asname is not None else alias.name
            if isinstance(bound, cst.Name):
                names[bound.value] = f"{module}.{_dotted(alias.name)}"
    return names


def _import_bindings(small: cst.CSTNode) -> dict[str, Binding]:
    """Local name -> where it comes from, for one import statement (relative imports included):
    ``from .helpers import charge`` binds ``charge`` to ``(1, "helpers", "charge")``, ``import
    pkg.helpers as h`` binds ``h`` to ``(0, "pkg.helpers", None)``, ``import pkg.helpers`` binds
    ``pkg`` to ``(0, "pkg", None)``."""
    found: dict[str, Binding] = {}
    if isinstance(small, cst.Import):
        for alias in small.names:
            target = _dotted(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                found[alias.asname.name.value] = (0, target, None)
            else:
                head = target.split(".", 1)[0]
                found[head] = (0, head, None)
    elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
        module = _dotted(small.module) if small.module is not None else ""
        for alias in small.names:
            bound = alias.asname.name if alias.asname is not None else alias.name
            if isinstance(bound, cst.Name):
                found[bound.value] = (len(small.relative), module, _dotted(alias.name))
    return found


def _search_dirs(file: str, roots: Sequence[str]) -> list[str]:
    """Where an absolute import (``from pkg.helpers import charge``) is looked for: the directory
    above the package of ``file`` (the top directory with an ``__init__.py``), the directory of
    ``file``, and the same for each lint root (with ``src/`` under a root directory too)."""
    found: list[str] = []

    def above_package(directory: str) -> str:
        while os.path.isfile(os.path.join(directory, "__init__.py")):
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        return directory

    for start in [os.path.dirname(file)] if file else []:
        found.extend([above_package(start), start])
    for root in roots:
        directory = os.path.abspath(root)
        if not os.path.isdir(directory):
            directory = os.path.dirname(directory)
        found.extend([above_package(directory), directory, os.path.join(directory, "src")])
    return list(dict.fromkeys(d for d in found if os.path.isdir(d)))


def _decorated_methods(body: Sequence[cst.CSTNode]) -> list[cst.FunctionDef]:
    found: list[cst.FunctionDef] = []
    for stmt in body:
        if isinstance(stmt, cst.ClassDef):
            for inner in stmt.body.body:
                if isinstance(inner, cst.FunctionDef) and inner.decorators:
                    found.append(inner)
            found.extend(_decorated_methods([s for s in stmt.body.body if isinstance(s, cst.ClassDef)]))
    return found


def _decorated_with(func: cst.FunctionDef, name: str) -> bool:
    return any(isinstance(d.decorator, cst.Name) and d.decorator.value == name for d in func.decorators)


def _is_static(func: cst.FunctionDef) -> bool:
    """``@staticmethod``: ``self.f(ctx)`` passes ``ctx`` as its first parameter."""
    return _decorated_with(func, "staticmethod")


def _is_instance_method(func: cst.FunctionDef) -> bool:
    """Its first parameter is the actor (not ``cls``, not an argument of a ``@staticmethod``)."""
    return not _is_static(func) and not _decorated_with(func, "classmethod")


def _first_bound(func: cst.FunctionDef, on_instance: bool) -> int:
    """The parameter the first argument of ``self.f(...)`` (or ``Actor.f(...)``) binds."""
    if _is_static(func):
        return 0
    return 1 if on_instance or not _is_instance_method(func) else 0


def _surely_leaves(body: cst.BaseSuite) -> bool:
    """A loop body whose own statements end with a ``break``, ``return`` or ``raise``."""
    statements = body.body if isinstance(body, cst.IndentedBlock) else [body]
    for line in statements:
        smalls = line.body if isinstance(line, cst.SimpleStatementLine | cst.SimpleStatementSuite) else []
        if any(isinstance(small, cst.Break | cst.Return | cst.Raise) for small in smalls):
            return True
    return False


def _at_most_one_pass(node: cst.BaseExpression) -> bool:
    """``[x]``, ``()``, ``range(1)``: a loop over it cannot repeat."""
    if isinstance(node, cst.List | cst.Tuple):
        return len(node.elements) <= 1 and not any(isinstance(e, cst.StarredElement) for e in node.elements)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "range" and len(node.args) == 1:
        value = node.args[0].value
        return isinstance(value, cst.Integer) and value.evaluated_value <= 1
    return False


_BRANCHING = (cst.If, cst.For, cst.While, cst.Try, cst.TryStar, cst.Match, cst.IfExp)


def _terminates(block: cst.BaseSuite) -> bool:
    if not isinstance(block, cst.IndentedBlock) or not block.body:
        return False
    last = block.body[-1]
    return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Return | cst.Raise)


_SKIPPED_FIELDS = frozenset(
    {"lpar", "rpar", "comma", "leading_lines", "lines_after_decorators", "header", "footer", "semicolon"}
    | {"trailing_whitespace", "newline", "equal", "colon", "dot", "asynchronous", "operator", "decorators"}
)
_FIELDS: dict[type[cst.CSTNode], tuple[str, ...]] = {}
_NODE_TYPES: dict[type, bool] = {}


def _child_fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    fields = [f.name for f in dataclasses.fields(kind)]
    return tuple(n for n in fields if n not in _SKIPPED_FIELDS and not n.startswith("whitespace"))


def _is_node(kind: type) -> bool:
    flag = _NODE_TYPES.get(kind)
    if flag is None:
        flag = _NODE_TYPES[kind] = issubclass(kind, cst.CSTNode)
    return flag


class _Walker:
    """Walks one scope's workflow code, dispatching rule hooks and classifying functions."""

    def __init__(self, model: ModuleModel, scope: Scope, dispatch: Dispatch, parent: _Walker | None) -> None:
        self.model = model
        self.scope = scope
        self.unit = model.unit_of(scope)  # the module this function is in
        self.dispatch = dispatch
        self.parent = parent
        self.stack: list[cst.CSTNode] = []
        self.deferred: list[AnyFunction] = []
        self.lambdas: list[cst.Lambda] = []
        self.local_defs: dict[str, AnyFunction] = {}
        self.partials: dict[str, cst.Call] = {}  # `p = functools.partial(bump, self)` in this function
        self.rebound: set[str] = set()  # names this function binds to something else (`p = print`)
        self.awaited: set[int] = set()
        self.exited = False  # a `return`/`raise` that only some runs take was seen: the rest may be skipped

    def lookup(self, name: str) -> AnyFunction | None:
        found = self._local(name)
        return found if found is not None else self._top_level(name)

    def _top_level(self, name: str, imported: bool = True) -> cst.FunctionDef | None:
        """A module-level function of this function's module, or (``imported``) one imported from
        another module of the project (``from .helpers import charge``)."""
        found = self.unit.module_defs.get(name)
        if found is None and imported and name in self.unit.parsed.bindings:
            found = self.model.imported_function(self.unit, name)
        return found

    def walk(self, node: cst.CSTNode) -> None:
        """Depth-first, in source order, without rebuilding nodes (libcst's ``visit`` does)."""
        if not self.on_visit(node):
            return
        fields = _FIELDS.get(type(node))
        if fields is None:
            fields = _FIELDS[type(node)] = _child_fields(type(node))
        for name in fields:
            value = getattr(node, name)
            kind = type(value)
            if kind is list or kind is tuple:
                for item in value:
                    if _is_node(type(item)):
                        self.walk(item)
            elif _is_node(kind):
                self.walk(value)
        self.stack.pop()

    def on_visit(self, node: cst.CSTNode) -> bool:
        kind = type(node)
        if kind is cst.FunctionDef:
            assert isinstance(node, cst.FunctionDef)
            self.local_defs[node.name.value] = node
            self.deferred.append(node)
            return False
        if kind is cst.ClassDef or kind is cst.Annotation or id(node) in self.model._step_code:
            return False  # (a local variable's annotation is never evaluated; a parameter's is a type)
        if kind is cst.Import or kind is cst.ImportFrom:
            self.unit.imported.update(_import_binds(node))
        elif kind is cst.Lambda and id(node) in self.model._lambda_scopes:
            assert isinstance(node, cst.Lambda)
            self.lambdas.append(node)
            return False
        elif kind is cst.Lambda and self._returned(node):
            return False  # a function factory's product runs where its caller runs it (often a step)
        elif kind is cst.Lambda and (bound := self._bound_name(node)) is not None:
            # `fn = lambda: ...` is a nested function by another name: it may be passed to a step
            # or a loop later on, so it is classified and walked after the body, like a `def`
            assert isinstance(node, cst.Lambda)
            self.local_defs[bound] = node
            self.deferred.append(node)
            return False
        if (kind is cst.Return or kind is cst.Raise) and not self.exited:
            self.exited = any(isinstance(above, _BRANCHING) for above in self.stack)
        if kind is cst.Name:
            assert isinstance(node, cst.Name)
            self._reference(node)
        self.stack.append(node)
        if kind is cst.Await:
            assert isinstance(node, cst.Await)
            self.awaited.add(id(node.expression))
        elif kind is cst.Call:
            assert isinstance(node, cst.Call)
            self._call(node)
        elif kind is cst.Assign or kind is cst.AnnAssign or kind is cst.For:
            assert isinstance(node, cst.Assign | cst.AnnAssign | cst.For)
            self._message_target(node)
            self._self_alias(node)
            self._partial_binding(node)
        hooks = self.dispatch.get(kind)
        if hooks:
            for hook in hooks:
                hook(node)
        return True

    # -- helpers -----------------------------------------------------------------------------
    def _returned(self, node: cst.CSTNode) -> bool:
        """``node`` is the whole value of a ``return``."""
        parent = self.stack[-1] if self.stack else None
        return isinstance(parent, cst.Return) and parent.value is node

    def _bound_name(self, node: cst.CSTNode) -> str | None:
        """``fn`` when ``node`` is the whole value of ``fn = <node>`` (or ``fn: T = <node>``)."""
        assign = self.stack[-1] if self.stack else None
        if isinstance(assign, cst.Assign) and assign.value is node and len(assign.targets) == 1:
            target = assign.targets[0].target
        elif isinstance(assign, cst.AnnAssign) and assign.value is node:
            target = assign.target
        else:
            return None
        return target.value if isinstance(target, cst.Name) else None

    def _self_alias(self, node: cst.Assign | cst.AnnAssign | cst.For) -> None:
        """``s = self``: later ``s.state`` is ``self.state`` (only this plain form is followed)."""
        if not isinstance(node, cst.Assign) or not self.scope.is_self(node.value):
            return
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.scope.self_aliases.add(target.target.value)

    def _partial_binding(self, node: cst.Assign | cst.AnnAssign | cst.For) -> None:
        """``p = functools.partial(fn, ...)``: a later ``p(...)`` calls ``fn`` (see ``_unwrap_partial``).
        Assigning anything else to ``p`` forgets it."""
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        value = None if isinstance(node, cst.For) else node.value  # a loop target is an element
        partial = value if isinstance(value, cst.Call) and self._is_partial(value) else None
        for target in targets:
            if isinstance(target, cst.Name):
                key = target.value
            elif isinstance(target, cst.Attribute) and self._is_self(target.value):
                key = f".{target.attr.value}"  # `self._charge = partial(charge, ctx)`
            else:
                continue
            if partial is not None and len(targets) == 1:
                self.partials[key] = partial
            else:
                self.partials.pop(key, None)
                self.rebound.add(key)

    def _is_partial(self, call: cst.Call) -> bool:
        """``functools.partial(fn, ...)`` with the function as a plain first argument."""
        if self._resolve(call.func) != "functools.partial" or not call.args:
            return False
        first = call.args[0]
        return first.keyword is None and first.star == ""

    def _partial_of(self, name: str) -> cst.Call | None:
        walker: _Walker | None = self
        while walker is not None:
            if name in walker.local_defs:
                return None  # a nested `def p` hides an outer `p = partial(...)`
            found = walker.partials.get(name)
            if found is not None:
                return found
            if name in walker.rebound:
                return None
            walker = walker.parent
        return self.unit.partials.get(name)  # `p = partial(...)` at module level

    def _unwrap_partial(self, call: cst.Call) -> tuple[cst.BaseExpression, Sequence[cst.Arg]]:
        """The function a call runs and the arguments it gets: ``p(ctx)`` after
        ``p = partial(bump, self)``, or ``partial(bump, self)(ctx)``, runs ``bump(self, ctx)``."""
        func = call.func
        partial = None
        if isinstance(func, cst.Name):
            partial = self._partial_of(func.value)
        elif isinstance(func, cst.Attribute) and self._is_self(func.value):
            partial = self._partial_of(f".{func.attr.value}")
        if partial is None and isinstance(func, cst.Call) and self._is_partial(func):
            partial = func
        if partial is None:
            return func, call.args
        bound, given = partial.args[1:], call.args
        positional = [a for a in [*bound, *given] if a.keyword is None]
        keywords = [a for a in [*bound, *given] if a.keyword is not None]
        return partial.args[0].value, [*positional, *keywords]

    def _message_target(self, node: cst.Assign | cst.AnnAssign | cst.For) -> None:
        value = node.iter if isinstance(node, cst.For) else node.value
        if not isinstance(value, cst.Await) or not isinstance(value.expression, cst.Call):
            return
        found = context_method(value.expression, self.scope.visible)
        if found is None or not found[0].startswith("queue."):
            return
        targets: list[cst.BaseExpression]
        if isinstance(node, cst.Assign):
            targets = [t.target for t in node.targets]
        else:
            targets = [node.target]
        for target in targets:
            if isinstance(target, cst.Name):
                self.scope.messages.add(target.value)
            elif isinstance(target, cst.Tuple | cst.List):
                self.scope.messages.update(e.value.value for e in target.elements if isinstance(e.value, cst.Name))

    def _arms(self) -> tuple[tuple[tuple[int, int], ...], frozenset[int]]:
        stack = self.stack
        arms: list[tuple[int, int]] = []
        exits: set[int] = set()
        for i in range(len(stack) - 1):
            node, child = stack[i], stack[i + 1]
            if isinstance(node, cst.If):
                depth, j = 0, i
                while j > 0:
                    above = stack[j - 1]
                    if not isinstance(above, cst.If) or above.orelse is not stack[j]:
                        break
                    j -= 1
                    depth += 1
                chain = id(stack[j])
                if child is node.body:
                    arms.append((chain, depth))
                    if _terminates(node.body):
                        exits.add(chain)
                elif isinstance(child, cst.Else):
                    arms.append((chain, depth + 1))
                    if _terminates(child.body):
                        exits.add(chain)
            elif isinstance(node, cst.IfExp):
                arms.append((id(node), 0 if child is node.body else 1))
            elif isinstance(node, cst.Match) and isinstance(child, cst.MatchCase):
                arms.append((id(node), node.cases.index(child)))
                if _terminates(child.body):
                    exits.add(id(node))
        return tuple(arms), frozenset(exits)

    def _reference(self, node: cst.Name) -> None:
        """Note a nested function named in workflow code (not as an attribute or keyword name)."""
        parent = self.stack[-1] if self.stack else None
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            return
        if isinstance(parent, cst.Arg) and parent.keyword is node:
            return
        if self._returned(node):  # `return apply`: see `on_visit` on a returned lambda
            return
        local = self._local(node.value)
        if local is not None:
            self.model._referenced.add(id(local))

    def _conditional(self) -> bool:
        """The node being visited may be skipped when this function runs (see :class:`Site`)."""
        return self.exited or any(self._skippable(i) for i in range(len(self.stack) - 1))

    def _skippable(self, i: int) -> bool:
        """``stack[i + 1]`` may be skipped when ``stack[i]`` runs."""
        stack = self.stack
        node, child = stack[i], stack[i + 1]
        if isinstance(node, cst.If | cst.IfExp | cst.While):
            return child is not node.test
        if isinstance(node, cst.For):
            return child is not node.iter
        if isinstance(node, cst.Try | cst.TryStar):
            if child is node.body:  # an earlier statement of the body may raise into a handler
                return i + 2 < len(stack) and bool(node.body.body) and stack[i + 2] is not node.body.body[0]
            return child is not node.finalbody
        if isinstance(node, cst.BooleanOperation):
            return child is node.right
        if isinstance(node, cst.Match):
            return child is not node.subject
        return isinstance(node, cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp)

    def _repeated_by(self) -> Loop | None:
        """The Python loop (or comprehension) that may run the node being visited again.

        A ``for``/``while`` body repeats it unless a ``break`` of that loop, a ``return`` or a
        ``raise`` surely follows it in the same pass (not inside a ``try`` body that a failing
        call could leave); a ``while`` test repeats unless the body surely leaves; a ``for`` over
        ``[x]`` or ``range(1)`` cannot repeat.
        """
        stack = self.stack
        for i in range(len(stack) - 2, -1, -1):
            node, child = stack[i], stack[i + 1]
            if isinstance(node, cst.For) and child is node.body:
                if not _at_most_one_pass(node.iter) and not self._leaves_after(i):
                    return node
            elif isinstance(node, cst.While) and child is node.body:
                if not self._leaves_after(i):
                    return node
            elif isinstance(node, cst.While) and child is node.test:
                if not _surely_leaves(node.body):
                    return node
            elif isinstance(node, cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp):
                if child is not node.for_in:
                    return node
            elif isinstance(node, cst.CompFor) and (child is not node.iter or isinstance(stack[i - 1], cst.CompFor)):
                for above in reversed(stack[:i]):  # past the first iterable: once per element
                    if isinstance(above, cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp):
                        return above
        return None

    def _leaves_after(self, loop_index: int) -> bool:
        """After the node being visited, this pass of the loop at ``stack[loop_index]`` surely ends it."""
        stack = self.stack
        for j in range(len(stack) - 1, loop_index + 1, -1):
            block, stmt = stack[j - 1], stack[j]
            if isinstance(block, cst.IndentedBlock):
                owner = stack[j - 2]
                if isinstance(owner, cst.Try | cst.TryStar) and owner.body is block:
                    continue  # a call that raises skips the rest of the try body
                statements: Sequence[cst.CSTNode] = block.body
            elif isinstance(block, cst.SimpleStatementLine | cst.SimpleStatementSuite):
                statements = block.body
            else:
                continue
            index = next((k for k, item in enumerate(statements) if item is stmt), None)
            if index is None:
                continue
            own_loop = any(
                isinstance(stack[k], cst.For | cst.While) and stack[k + 1] is getattr(stack[k], "body", None)
                for k in range(loop_index + 1, j - 1)
            )
            for later in statements[index + 1 :]:
                smalls = later.body if isinstance(later, cst.SimpleStatementLine) else [later]
                for small in smalls:
                    if isinstance(small, cst.Return | cst.Raise) or (isinstance(small, cst.Break) and not own_loop):
                        return True
        return False

    def _site(self, node: cst.Call | None = None) -> Site:
        arms, exits = self._arms()
        return Site(self.scope, arms, exits, self.model.next_seq(), self._conditional(), node, self._repeated_by())

    def _call(self, node: cst.Call) -> None:
        scope = self.scope
        found = context_method(node, scope.visible)
        if found is None:
            self._helper_call(node)
            return
        method, receiver = found
        parent = self.stack[-2] if len(self.stack) > 1 else None
        awaited = id(node) in self.awaited or (isinstance(parent, cst.Await) and parent.expression is node)
        arms, exits = self._arms()
        entry = EntryCall(node, method, receiver, scope, awaited, self.model.next_seq(), arms, exits)
        entry.conditional = self._conditional()
        entry.loop = self._repeated_by()
        self.model.entries.append(entry)
        scope.entry_owner.entries.append(entry)
        if method == "step":
            for fn in (entry.arg(1, "fn"), entry.arg(99, "rollback")):
                self._mark(fn, "step", entry, None)
        elif method == "loop":
            self._mark(entry.arg(1, "fn"), "loop", entry, None)
        elif method in ("join", "race"):
            branches = entry.arg(1, "branches")
            if isinstance(branches, cst.Dict):
                for element in branches.elements:
                    if isinstance(element, cst.DictElement):
                        self._mark(element.value, "branch", entry, literal_string(element.key))

    def _mark(self, fn: cst.BaseExpression | None, kind: Literal["step", "loop", "branch"], entry: EntryCall, label: str | None) -> None:
        if fn is None:
            return
        scope = self.scope
        if kind == "step" and isinstance(fn, cst.Call) and self._resolve(fn.func) == "functools.partial":
            if fn.args and fn.args[0].keyword is None and fn.args[0].star == "":
                self._mark(fn.args[0].value, kind, entry, label)  # its other arguments are evaluated here
            return
        if isinstance(fn, cst.Lambda):
            if kind == "step":
                self.model._step_code.add(id(fn))
            else:
                child = self.model._nested_scope(kind, fn, scope, label)
                self.model._lambda_scopes[id(fn)] = child
                entry.children.append(child)
        elif isinstance(fn, cst.Name):
            if kind == "step":
                self.model._step_code.add(id(fn))  # a function passed by reference is not called here
            func = self._local(fn.value) or self._top_level(fn.value, imported=kind != "step")
            if func is None:
                return
            if kind == "step":
                self.model._marks.setdefault(id(func), _Mark("step"))
            elif id(func) not in self.model._marks:
                child = self.model._nested_scope(kind, func, scope, label)
                self.model._marks[id(func)] = _Mark(kind, child)
                entry.children.append(child)
                if self._top_level(fn.value) is func:  # not nested: walk it on its own
                    child.outer_contexts, child.self_name, child.root = frozenset(), None, func
                    child.self_aliases, child.actor_params = set(), frozenset()
                    self.model._pending_methods.append((child, func))
        elif kind == "step":
            if isinstance(fn, cst.Attribute):
                self.model._step_code.add(id(fn))
        elif self._is_self(fn.value if isinstance(fn, cst.Attribute) else None):
            assert isinstance(fn, cst.Attribute)
            child_scope = self.model._method_scope(kind, scope.actor, scope.actor.methods.get(fn.attr.value), scope, set(), label)
            if child_scope is not None:
                entry.children.append(child_scope)

    def _resolve(self, node: cst.BaseExpression) -> str | None:
        """The imported dotted name of ``node`` (``partial`` after ``from functools import partial``)."""
        dotted = _dotted(node)
        root, _, rest = dotted.partition(".")
        target = self.unit.imported.get(root)
        if not dotted or target is None or self._local(root) is not None:
            return None
        return f"{target}.{rest}" if rest else target

    def _is_self(self, node: cst.BaseExpression | None) -> bool:
        return self.scope.is_self(node)

    def _helper_call(self, node: cst.Call) -> None:
        """``self.helper(ctx)`` / ``helper(ctx)`` / ``helper(self)``: the callee is workflow code.

        A function called with a context runs with that context; one called with the actor
        (``bump(self)``, ``bump(actor=self)``) sees it as ``self`` in the parameter it binds. A nested
        function is a helper when called with neither too: it may use the enclosing context
        (``await charge()``). Every call of a helper in one history is recorded as one of its sites.
        """
        visible = self.scope.visible
        func, args = self._unwrap_partial(node)
        passed = [(i, a) for i, a in enumerate(args) if a.star == "" and isinstance(a.value, cst.Name) and a.value.value in visible]
        actors = [(i, a) for i, a in enumerate(args) if a.star == "" and self._is_self(a.value)]
        target: AnyFunction | None = None
        if isinstance(func, cst.Attribute):
            target = self._module_attribute(func) if passed or actors else None
            if target is None:
                self._method_call(node, func, passed, actors)
                return
        elif not passed and not actors:
            self._follow_local(node, func)
            return
        else:
            target = self.lookup(func.value) if isinstance(func, cst.Name) else None
        if target is None:
            return
        contexts = _bound_params(target, passed, 0)
        actor_params = _bound_params(target, actors, 0)
        if not contexts and not actor_params:
            if not passed:  # `inner(self)` with `def inner(*args)`: still a nested function called here
                self._follow_local(node, func)
            return
        helper: Scope | None = None
        if isinstance(func, cst.Attribute) or (isinstance(func, cst.Name) and self._top_level(func.value) is target):
            assert isinstance(target, cst.FunctionDef)
            helper = self.model._module_helper(target, self.scope, contexts)
        else:
            helper = self._nested_helper(target, contexts)
        self._follow(node, helper, actor_params)

    def _module_attribute(self, func: cst.Attribute) -> cst.FunctionDef | None:
        """``helpers.charge`` after ``from . import helpers`` (or ``import pkg.helpers as helpers``):
        the function of the project module it names."""
        dotted = _dotted(func)
        head = dotted.split(".", 1)[0]
        if not dotted or self._local(head) is not None or head not in self.unit.parsed.bindings:
            return None
        return self.model.imported_function(self.unit, dotted)

    def _method_call(self, node: cst.Call, func: cst.Attribute, passed: Args, actors: Args) -> None:
        """``self.f(...)`` or ``Actor.f(self, ...)`` of a method without a ``rivet_dsl`` decorator (also a
        static or class method) runs in workflow code, with or without a context. The method may be
        inherited from a class of the same module, and ``Base.f(self, ...)`` runs the base's own."""
        name = func.attr.value
        on_instance = self._is_self(func.value)
        if isinstance(func.value, cst.Call) and self._is_super(func.value):
            cls, on_instance = self._after_in_mro(func.value, name), True
            target = None if cls is None else cls.methods.get(name)
        else:
            cls = self.scope.actor if on_instance else self._class_named(func.value)
            target = None if cls is None else cls.methods.get(name)
        if cls is None or target is None or name not in cls.plain_methods:
            return
        first = _first_bound(target, on_instance)
        contexts = _bound_params(target, passed, first)
        helper = self.model._method_scope("helper", self.scope.actor, target, self.scope, contexts, None)
        self._follow(node, helper, _bound_params(target, actors, first))

    def _is_super(self, call: cst.Call) -> bool:
        """``super()``, or ``super(Cls, self)`` with the actor, in a method of the actor's lineage."""
        if not isinstance(call.func, cst.Name) or call.func.value != "super" or self.lookup(call.func.value) is not None:
            return False
        if not call.args:
            return self.scope.self_name is not None
        return len(call.args) == 2 and isinstance(call.args[0].value, cst.Name) and self._is_self(call.args[1].value)

    def _after_in_mro(self, call: cst.Call, name: str) -> ActorClass | None:
        """The class whose own method ``name`` a ``super()`` call in this method runs: the first one
        defining it after the class of the method (or the one ``super(Cls, self)`` names) in the
        actor's method resolution order. ``None`` when that order reaches a class it does not know."""
        order = self.scope.actor.lineage
        if call.args:
            named = self._class_named(call.args[0].value)
            start = next((i for i, c in enumerate(order) if c is named), None)
        else:
            method = self.scope.root
            start = next((i for i, c in enumerate(order) if any(s is method for s in c.node.body.body)), None)
        if start is None:
            return None
        for index, cls in enumerate(order[start:]):
            if index and name in cls.own_methods:
                return cls
            if not _bases_known(cls):
                return None  # a base from outside the project comes next: it may define the method
        return None

    def _class_named(self, node: cst.BaseExpression) -> ActorClass | None:
        """The actor class, or one of its known ancestors, that ``node`` names (not a local): a class
        of this function's module, or one it imports from a module of the project."""
        head = _dotted(node).split(".", 1)[0]
        if not head or self._local(head) is not None:
            return None
        actor = self.scope.actor
        if isinstance(node, cst.Name) and node.value == actor.name and self.unit is self.model.unit:
            return actor
        found = self.model.class_ref(self.unit, node)
        if found is None:
            return None
        return next((cls for cls in actor.lineage if cls.node is found[0]), None)

    def _follow_local(self, node: cst.Call, func: cst.BaseExpression) -> None:
        if isinstance(func, cst.Name):
            local = self._local(func.value)
            if local is not None:
                self._follow(node, self._nested_helper(local, set()), set())

    def _follow(self, node: cst.Call, helper: Scope | None, actor_params: set[str]) -> None:
        """``node`` runs ``helper``: its entries land in this scope's history, as if made here."""
        if helper is None:
            return
        helper.sites.append(self._site(node))
        helper.actor_params = helper.actor_params | actor_params

    def _local(self, name: str) -> AnyFunction | None:
        walker: _Walker | None = self
        while walker is not None:
            found = walker.local_defs.get(name)
            if found is not None:
                return found
            walker = walker.parent
        return None

    def _nested_helper(self, target: AnyFunction, contexts: set[str]) -> Scope | None:
        mark = self.model._marks.get(id(target))
        if mark is None:
            helper = self.model._nested_scope("helper", target, self.scope, None)
            helper.contexts = helper.contexts | frozenset(contexts)
            self.model._marks[id(target)] = _Mark("helper", helper)
            return helper
        if mark.kind == "helper" and mark.scope is not None and mark.scope.entry_owner is self.scope.entry_owner:
            return mark.scope
        return None


def _bound_params(target: AnyFunction, args: Args, first: int) -> set[str]:
    """The parameters of ``target`` that the arguments at these positions (or keywords) bind, the
    first positional argument binding parameter ``first`` (1 for ``self.f(...)``)."""
    params = _params(target)
    positional = params[first:]
    keywords = {p.name.value for p in [*params, *target.params.kwonly_params]}
    bound: set[str] = set()
    for index, arg in args:
        if arg.keyword is not None:
            if arg.keyword.value in keywords:
                bound.add(arg.keyword.value)
        elif index < len(positional):
            bound.add(positional[index].name.value)
    return bound
