"""The bounded fuzz run in CI: a few hundred schemathesis requests on a live server, 0 5xx,
database intact (tests/fuzz/driver.py; `make fuzz` runs the long version)."""

from __future__ import annotations

import pytest

from tests.conftest import AppFactory
from tests.fuzz.driver import FUZZ_CONFIG, check_counts, fuzz

# Slow: an image that happens to decode would reach the dlib face models.
pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 24  # x 17 operations: about 400 requests


def test_fuzzing_the_api_finds_no_server_error(app_factory: AppFactory, capsys: pytest.CaptureFixture[str]) -> None:
    app = app_factory(**FUZZ_CONFIG)
    report = fuzz(app, EXAMPLES_PER_OPERATION)
    with capsys.disabled():
        print("\n" + report.line())
    assert report.requests >= 200
    assert report.server_errors == []
    check_counts(report)
