"""Fuzz the JSON API from its OpenAPI document against a live server (schemathesis).

Every operation of ``webapp/web/api/openapi.json`` gets ``examples`` generated requests, valid
("positive") and invalid ("negative") ones, sent over HTTP to a real werkzeug server in a thread
(as the admin where the operation needs it). The one check: no answer is a 5xx. Before and
after, the database must pass SQLite's integrity and foreign-key checks, the seeded admin, token
and templates must still be there, and the audit trail may only grow.

``tests/fuzz/test_fuzz_api.py`` runs it bounded (CI); ``make fuzz`` runs the long version:
``python -m tests.fuzz.driver --examples 700``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from werkzeug.serving import make_server

# Throttling would answer most requests 429 and hide the code behind it.
FUZZ_CONFIG: dict[str, Any] = {"RATE_LIMIT_ATTEMPTS": 0, "RATE_LIMIT_FRAMES": "", "RATE_LIMIT_ADMIN_LOGIN": "", "ACCOUNT_SLOWDOWN_AFTER": 0}
PROTECTED_TABLES = ("api_tokens",)  # no API operation writes these


@dataclass
class FuzzReport:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items()))
        return f"fuzz: {self.requests} requests in {self.seconds:.1f} s, {len(self.server_errors)} 5xx; statuses {statuses}"


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one log line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def db_file(app: Flask) -> Path:
    return Path(str(app.config["SQLALCHEMY_DATABASE_URI"]).removeprefix("sqlite:///"))


def check_database(path: Path) -> dict[str, int]:
    """SQLite's own integrity and foreign-key checks, and each table's row count."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


def seed(app: Flask) -> str:
    """An admin with a token, and a user with sealed templates (no dlib needed)."""
    import numpy as np

    from webapp.accounts.templates import Owner, pack_encoding
    from webapp.db.extensions import db
    from webapp.db.models import FaceTemplate

    runner = app.test_cli_runner()
    assert runner.invoke(args=["admin", "create", "root", "--password-stdin"], input="correct horse battery staple\n").exit_code == 0
    token = runner.invoke(args=["admin", "token", "root"]).output.strip()
    with app.app_context():
        from webapp.accounts.users import create_user

        user = create_user("victim", "Victim")
        for i in range(2):
            enc = np.random.default_rng(i).normal(0, 0.09, 128)
            db.session.add(
                FaceTemplate(
                    user_id=user.id,
                    encoding=pack_encoding(enc, Owner.of(user)),
                    encoding_model="fuzz",
                    source="cli",
                    quality=1.0,
                    quality_detail={},
                    liveness_refs={},
                )
            )
        db.session.commit()
    return token


def fuzz(app: Flask, examples: int, seed_value: int = 0) -> FuzzReport:
    """Run the fuzzer against ``app`` (already migrated); returns the report (asserts nothing
    about statuses: the caller does, so a long run can report every 5xx it saw)."""
    import schemathesis
    from schemathesis import GenerationMode

    from webapp.web.api.docs import openapi_document

    token = seed(app)
    report = FuzzReport(before=check_database(db_file(app)))
    schema = schemathesis.openapi.from_dict(openapi_document())
    started = time.perf_counter()
    with live_server(app) as base, requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            # Admin operations as the admin (deeper code); negative cases may still break the header.
            headers = {"Authorization": f"Bearer {token}"} if operation.path.startswith("/api/v1/admin") else {}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (no parameters, no body)
                    _runner(operation, mode, examples, base, session, headers, report)()
    report.seconds = time.perf_counter() - started
    report.after = check_database(db_file(app))
    return report


def _runner(
    operation: Any, mode: Any, examples: int, base: str, session: requests.Session, headers: dict[str, str], report: FuzzReport
) -> Any:
    """One hypothesis test over ``operation``'s generated cases, recording every answer."""

    @settings(
        max_examples=max(1, examples // 2),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=base, session=session, headers=headers, timeout=30)
        report.requests += 1
        report.statuses[response.status_code] += 1
        if response.status_code >= 500:
            report.server_errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

    return run


def check_counts(report: FuzzReport) -> None:
    """Rows the API cannot write are unchanged, the seeded rows remain, audit only grows."""
    for table in PROTECTED_TABLES:
        assert report.after[table] == report.before[table], table
    assert report.after["audit_events"] >= report.before["audit_events"]
    assert report.after["users"] >= 1  # the admin cannot delete itself


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=700, help="generated requests per operation (half valid, half not)")
    args = parser.parse_args()
    from tests.conftest import dispose_app, make_app
    from tests.support import models as test_models

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = test_models.build_model_dir(Path(tmp) / "models")
        (Path(tmp) / "app").mkdir()
        app = make_app(Path(tmp) / "app", model_dir, **FUZZ_CONFIG)
        try:
            report = fuzz(app, args.examples)
        finally:
            dispose_app(app)
    print(report.line())
    print("rows before:", json.dumps(report.before, sort_keys=True))
    print("rows after: ", json.dumps(report.after, sort_keys=True))
    for error in report.server_errors[:20]:
        print("5xx:", error)
    check_counts(report)
    raise SystemExit(1 if report.server_errors else 0)


if __name__ == "__main__":
    main()
