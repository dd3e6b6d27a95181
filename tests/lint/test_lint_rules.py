"""Every rule's VALID/INVALID snippets, run as tests (Fixit's test-cases-as-data)."""

from __future__ import annotations

import re

import pytest

from rivet_dsl.lint import ALL_RULES, Invalid, LintRule, Valid, fix_source, lint_source

VALID_CASES = [
    pytest.param(rule, case, id=f"{rule.name}-VALID-{index}")
    for rule in ALL_RULES
    for index, case in enumerate(rule.VALID)
]
INVALID_CASES = [
    pytest.param(rule, case, id=f"{rule.name}-INVALID-{index}")
    for rule in ALL_RULES
    for index, case in enumerate(rule.INVALID)
]


@pytest.mark.parametrize(("rule", "case"), VALID_CASES)
def test_valid(rule: type[LintRule], case: Valid) -> None:
    found = lint_source(case.source(), rules=[rule])
    assert found == [], f"{rule.name} reported a VALID case: {found}"


@pytest.mark.parametrize(("rule", "case"), VALID_CASES)
def test_valid_is_clean_for_every_rule(rule: type[LintRule], case: Valid) -> None:
    # a VALID snippet documents good code, so no other rule may object to it either
    assert lint_source(case.source()) == []


@pytest.mark.parametrize(("rule", "case"), INVALID_CASES)
def test_invalid(rule: type[LintRule], case: Invalid) -> None:
    found = [v for v in lint_source(case.source(), rules=[rule]) if v.code == rule.CODE]
    assert found, "Expected a report for this INVALID case but the rule did not report"
    first = found[0]
    assert first.name == rule.name
    if case.line is not None:
        assert first.line == case.line, f"reported at line {first.line}: {first.message}"
    if case.col is not None:
        assert first.col == case.col, f"reported at column {first.col}: {first.message}"
    if case.expected_message is not None:
        assert case.expected_message in first.message
    if case.expected_replacement is not None:
        assert first.fixable, "the case states a replacement but the report carries no fix"


FIX_CASES = [
    pytest.param(rule, case, id=f"{rule.name}-INVALID-{index}")
    for rule in ALL_RULES
    for index, case in enumerate(rule.INVALID)
    if case.expected_replacement is not None
]


@pytest.mark.parametrize(("rule", "case"), FIX_CASES)
def test_invalid_fix(rule: type[LintRule], case: Invalid) -> None:
    fixed = fix_source(case.source(), rules=[rule])
    assert fixed == case.replacement()
    assert [v for v in lint_source(fixed, rules=[rule]) if v.fixable] == []


def test_every_rule_has_cases_and_a_unique_code() -> None:
    codes = [rule.CODE for rule in ALL_RULES]
    assert len(set(codes)) == len(codes)
    names = [rule.name for rule in ALL_RULES]
    assert len(set(names)) == len(names)
    for rule in ALL_RULES:
        assert re.fullmatch(r"RVT\d{3}", rule.CODE), rule
        assert not rule.name.endswith("Rule"), rule
        assert rule.VALID, f"{rule.name} has no VALID case"
        assert rule.INVALID, f"{rule.name} has no INVALID case"
        assert rule.MESSAGE and rule.__doc__, rule
        assert rule.__module__.endswith(re.sub(r"(?<!^)(?=[A-Z])", "_", rule.name).lower().replace("_i_o", "_io"))


def test_autofix_flag_matches_cases() -> None:
    fixers = {rule.name for rule in ALL_RULES if rule.AUTOFIX}
    assert fixers == {"AwaitContextCall", "UseOwnContext"}


def test_docs_list_every_rule_and_banned_name() -> None:
    from pathlib import Path

    from rivet_dsl.lint import BANNED

    docs = (Path(__file__).resolve().parents[2] / "docs" / "lint.md").read_text(encoding="utf-8")
    for rule in ALL_RULES:
        assert f"| {rule.CODE} | `{rule.name}` |" in docs, rule.name
    for extra in ("RVT000", "RVT101", "RVT102", "RVT900"):
        assert f"| {extra} |" in docs
    missing = [name for name in BANNED if f"`{name}`" not in docs]
    assert missing == []
