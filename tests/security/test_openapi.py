"""The OpenAPI document describes exactly the JSON API's routes (issue 11, item 7)."""

from __future__ import annotations

import re

from flask import Flask

from webapp.web.api.docs import openapi_document

_METHODS = {"get", "post", "put", "patch", "delete"}


def _routes(app: Flask) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        out |= {(path, m.lower()) for m in (rule.methods or set()) if m.lower() in _METHODS}
    return out


def test_the_document_matches_the_url_map(app: Flask) -> None:
    doc = openapi_document()
    documented = {(path, m) for path, ops in doc["paths"].items() for m in ops if m in _METHODS}
    assert documented == _routes(app)
    for path, ops in doc["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for op in ops.values():
            assert {p["name"] for p in op.get("parameters", []) if p["in"] == "path"} == names, path
            assert op["responses"], path


def test_it_is_served(app: Flask) -> None:
    r = app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.get_json()["openapi"].startswith("3.")
    assert r.get_json() == openapi_document()


def test_it_is_a_valid_openapi_3_document() -> None:
    import schemathesis
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_dict(openapi_document())
    operations = list(schema.get_all_operations())
    assert all(isinstance(op, Ok) for op in operations), [op for op in operations if not isinstance(op, Ok)]
    assert len(operations) == sum(len(v) for v in openapi_document()["paths"].values())
