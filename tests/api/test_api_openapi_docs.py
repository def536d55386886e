"""The OpenAPI description documents every operation (issue 15): each has
a summary and a description, and each JSON request body an example that is
valid against the body's own schema (so a client copying it gets no 422
for its shape)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from api.app import create_app
from groundstation.settings import Settings

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp: Path = tmp_path_factory.mktemp("openapi")
    app = create_app(Settings(database_url=f"sqlite:///{tmp / 'gs.db'}", data_dir=tmp / "var"))
    doc: dict[str, Any] = app.openapi()
    return doc


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The component a body schema names (directly, or as the non-null
    member of an optional body)."""
    if "$ref" in schema:
        found: dict[str, Any] = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
        return found
    for member in schema.get("anyOf", []):
        if member.get("type") != "null":
            return _resolve(spec, member)
    return schema


def _examples(spec: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    if "example" in media:
        return [media["example"]]
    if "examples" in media:
        return [e["value"] for e in media["examples"].values()]
    return list(_resolve(spec, media.get("schema", {})).get("examples", []))


def test_every_operation_has_a_summary_and_a_description(spec: dict[str, Any]) -> None:
    missing = [
        (name, field)
        for name, op in _operations(spec)
        for field in ("summary", "description")
        if not str(op.get(field, "")).strip()
    ]
    assert missing == []


def test_every_json_request_body_has_an_example_valid_against_its_schema(
    spec: dict[str, Any],
) -> None:
    bodies = 0
    problems: list[str] = []
    for name, op in _operations(spec):
        for content_type, media in op.get("requestBody", {}).get("content", {}).items():
            if "json" not in content_type:
                continue
            bodies += 1
            examples = _examples(spec, media)
            if not examples:
                problems.append(f"{name} ({content_type}): no example")
            for example in examples:
                schema = {**media.get("schema", {}), "components": spec["components"]}
                try:
                    jsonschema.validate(example, schema)
                except jsonschema.ValidationError as exc:
                    problems.append(f"{name} ({content_type}): {exc.message}")
    assert problems == []
    assert bodies >= 25  # every write operation with a JSON body was looked at


def test_the_check_would_catch_a_body_without_an_example(spec: dict[str, Any]) -> None:
    schema = {"$ref": "#/components/schemas/ContactCreate"}
    assert _examples(spec, {"schema": schema})
    bare = {**spec["components"]["schemas"]["ContactCreate"]}
    bare.pop("examples")
    assert _examples({"components": {"schemas": {"ContactCreate": bare}}}, {"schema": schema}) == []
    wrong = {"norad_id": "25544"}  # a string: the example would be refused
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, {**schema, "components": spec["components"]})
