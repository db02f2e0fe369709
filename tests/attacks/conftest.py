"""The attack suite: each test mounts one attack through the real HTTP API and records what
the service answered; the table of attacks and outcomes is printed at the end of the run.

The passive liveness model here is the transparent red/blue test model, which calls every
natural-looking face live: the suite assumes the passive model is FOOLED, and proves that the
other layers (challenge, replay and identity checks, single-use attempts, sessions) still
deny each attack on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class Outcome:
    attack: str
    expected: str
    observed: str
    denied: bool


OUTCOMES: list[Outcome] = []


@pytest.fixture
def record() -> object:
    def _record(attack: str, expected: str, observed: str, denied: bool) -> None:
        OUTCOMES.append(Outcome(attack, expected, observed, denied))

    return _record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not OUTCOMES:
        return
    tr = terminalreporter
    tr.section("attack suite: every attack and what the service answered")
    width = max(len(o.attack) for o in OUTCOMES)
    for o in OUTCOMES:
        verdict = "DENIED" if o.denied else "NOT DENIED"
        tr.write_line(f"{o.attack:<{width}}  {verdict:<10}  observed: {o.observed:<34} expected: {o.expected}")
