"""Wire names that are awkward in Python still give a strict-clean client that calls the right thing."""

from __future__ import annotations

import pytest

from codegen import codegen_main


def test_registry_module_that_fails_to_import_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert codegen_main(["tests.codegen.fixtures.broken:registry"]) == 2
    err = capsys.readouterr().err
    assert "cannot import 'tests.codegen.fixtures.broken': DefinitionError" in err
    assert "Traceback" not in err
