"""The generated contract files: the JSON Schemas in ``ingest/schemas/`` and
the tables of ``docs/topics.md``, both from the message classes of
``ingest.topics`` (their fields, types, constraints, descriptions, examples).

    python -m ingest.contracts --write   # regenerate after changing a message
    python -m ingest.contracts --check   # exit 1 naming the files that are stale

``tests/ingest/test_ingest_contracts.py`` runs the check. In docs/topics.md
only the blocks between ``<!-- BEGIN generated: NAME -->`` and
``<!-- END generated: NAME -->`` are written; the prose around them is not.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from ingest.topics import (
    MESSAGES,
    UTC_TIME_PATTERN,
    ContactEventMessage,
    ContactEventState,
    ContactVerdict,
    DatasetReadyMessage,
    FrameMeta,
    ResourceKind,
    ResourceStatus,
    VerdictSource,
)

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
#: The repository holding docs/topics.md (ingest/ is installed in place).
DEFAULT_ROOT = Path(__file__).resolve().parents[1]
DOC = Path("docs") / "topics.md"


# --- JSON Schemas --------------------------------------------------------------


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of message ``name`` (a key of ``MESSAGES``), as published."""
    cls = MESSAGES[name]
    generated = TypeAdapter(cls).json_schema(mode="serialization", by_alias=True)
    _drop_property_titles(generated)
    if cls is not FrameMeta:  # a Kafka record may carry more headers than ours
        for obj in _object_schemas(generated):
            obj["additionalProperties"] = False
    published = {
        "$schema": SCHEMA_DIALECT,
        "$id": cls.SCHEMA_ID,
        "title": cls.TITLE,
        "description": generated["description"],
        "type": "object",
        "required": [
            cls.SCHEMA_FIELD,
            *(f for f in generated["required"] if f not in getattr(cls, "OMITTED_WHEN_NULL", ())),
        ],
        "properties": {cls.SCHEMA_FIELD: {"const": cls.SCHEMA_ID}, **generated["properties"]},
    }
    if "additionalProperties" in generated:
        published["additionalProperties"] = generated["additionalProperties"]
    if "$defs" in generated:
        published["$defs"] = generated["$defs"]
    return published


def _object_schemas(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield schema
    for sub in schema.get("$defs", {}).values():
        if sub.get("type") == "object":
            yield sub


def _drop_property_titles(schema: dict[str, Any]) -> None:
    """Pydantic titles every property after its name; the name says it already."""
    for obj in _object_schemas(schema):
        for prop in obj.get("properties", {}).values():
            prop.pop("title", None)


def schema_text(name: str) -> str:
    return json.dumps(json_schema(name), indent=2) + "\n"


# --- docs/topics.md -----------------------------------------------------------


def example(cls: type[Any]) -> Any:
    """An instance of a message class built from its fields' examples (a
    tuple of messages without examples gets one example message)."""
    values: dict[str, Any] = {}
    for name, info in cls.__pydantic_fields__.items():
        if info.examples:
            values[name] = info.examples[0]
        else:
            (item, _) = typing.get_args(info.annotation)
            values[name] = (example(item),)
    return cls(**values)


#: How the tables name each enum of the contracts.
_ENUM_NAMES = {
    "ContactEventState": "contact state",
    "ContactVerdict": "verdict",
    "VerdictSource": "verdict source",
    "ResourceKind": "resource kind",
    "ResourceStatus": "resource status",
}


def _type_text(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A property's type for people."""
    if "anyOf" in prop:
        kinds = [_type_text(p, defs) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(kinds) + " or null"
    if "$ref" in prop:
        target = defs[prop["$ref"].rsplit("/", 1)[1]]
        if "enum" in target:
            return _ENUM_NAMES.get(target.get("title", ""), "enum")
        return target.get("title", "object")
    if prop.get("pattern") == UTC_TIME_PATTERN:
        return "UTC time"
    if prop.get("type") == "array":
        return f"list of {_type_text(prop['items'], defs)}"
    if "minimum" in prop:
        return f"{prop['type']} >= {prop['minimum']}"
    if "pattern" in prop:
        return f"{prop['type']} `{prop['pattern']}`"
    return str(prop.get("type", "value"))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def frame_headers_table() -> str:
    schema = json_schema("frame-headers")
    wire = dict(example(FrameMeta).headers())
    rows = ["| header | example | meaning |", "|---|---|---|"]
    for header, prop in schema["properties"].items():
        if "const" in prop:
            shown, meaning = f"`{prop['const']}`", "contract version"
        elif "enum" in prop:
            shown = " / ".join(f"`{v}`" for v in prop["enum"])
            meaning = prop.get("description", "")
        else:
            shown, meaning = f"`{wire[header].decode()}`", prop.get("description", "")
        rows.append(f"| `{header}` | {shown} | {_cell(meaning)} |")
    return "\n".join(rows)


def _fields_table(schema: dict[str, Any], obj: dict[str, Any], sample: dict[str, Any]) -> str:
    rows = ["| field | type | example | meaning |", "|---|---|---|---|"]
    defs = schema.get("$defs", {})
    required = set(obj.get("required", []))
    for name, prop in obj["properties"].items():
        if "const" in prop:
            rows.append(f"| `{name}` | `{prop['const']}` | | contract version |")
            continue
        kind = _type_text(prop, defs) + ("" if name in required else ", optional")
        value = sample.get(name)
        shown = "" if isinstance(value, list) else f"`{json.dumps(value)}`"
        rows.append(
            f"| `{name}` | {_cell(kind)} | {shown} | {_cell(prop.get('description', ''))} |"
        )
    return "\n".join(rows)


def _message_block(name: str, extra: Callable[[dict[str, Any]], list[str]]) -> str:
    cls = MESSAGES[name]
    schema = json_schema(name)
    sample = example(cls).to_json()
    lines = [_fields_table(schema, schema, sample), *extra(schema)]
    lines += ["", "```json", json.dumps(sample, indent=2), "```"]
    return "\n".join(lines)


def contact_event_block() -> str:
    def states(_: dict[str, Any]) -> list[str]:
        names = ", ".join(f"`{s.value}`" for s in ContactEventState)
        verdicts = ", ".join(f"`{v.value}`" for v in ContactVerdict)
        sources = ", ".join(f"`{v.value}`" for v in VerdictSource)
        verdict_event = dataclasses.replace(
            example(ContactEventMessage),
            old_state=ContactEventState.COMPLETED,
            new_state=ContactEventState.COMPLETED,
            reason="verdict bad (manual by key ops): image lost to interference",
            verdict=ContactVerdict.BAD,
            verdict_source=VerdictSource.MANUAL,
        )
        return [
            "",
            f"Contact states: {names}.",
            "",
            f"Verdicts: {verdicts}; verdict sources: {sources}. `verdict` and "
            "`verdict_source` are on a verdict event only, e.g. an operator's:",
            "",
            "```json",
            json.dumps(verdict_event.to_json(), indent=2),
            "```",
            "",
            "Any other event:",
        ]

    return _message_block("contact-event", states)


def resource_event_block() -> str:
    def enums(_: dict[str, Any]) -> list[str]:
        kinds = ", ".join(f"`{k.value}`" for k in ResourceKind)
        statuses = ", ".join(f"`{s.value}`" for s in ResourceStatus)
        return ["", f"Resource kinds: {kinds}. Statuses: {statuses}."]

    return _message_block("resource-event", enums)


def dataset_ready_block() -> str:
    def files(schema: dict[str, Any]) -> list[str]:
        item = schema["$defs"]["DatasetFileInfo"]
        sample = example(DatasetReadyMessage).to_json()["files"][0]
        return ["", "Each entry of `files`:", "", _fields_table(schema, item, sample)]

    return _message_block("dataset-ready", files)


DOC_BLOCKS: dict[str, Callable[[], str]] = {
    "frame-headers": frame_headers_table,
    "contact-event": contact_event_block,
    "resource-event": resource_event_block,
    "dataset-ready": dataset_ready_block,
}


def _block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- BEGIN generated: {re.escape(name)} [^\n]*-->\n).*?(<!-- END generated: "
        rf"{re.escape(name)} -->)",
        re.DOTALL,
    )


def doc_text(current: str) -> str:
    """``current`` (docs/topics.md) with every generated block rewritten."""
    for name, render in DOC_BLOCKS.items():
        found = _block_pattern(name).search(current)
        if found is None:
            raise ValueError(f"{DOC} has no block 'BEGIN generated: {name}'")
        start, end = found.end(1), found.start(2)
        current = current[:start] + render() + "\n" + current[end:]
    return current


# --- files --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GeneratedFile:
    path: Path
    text: str

    def is_current(self) -> bool:
        return self.path.is_file() and self.path.read_text() == self.text


def generated_files(root: Path = DEFAULT_ROOT) -> list[GeneratedFile]:
    """Every generated file with the text it should have."""
    files = [GeneratedFile(SCHEMA_DIR / f"{n}.schema.json", schema_text(n)) for n in MESSAGES]
    doc = root / DOC
    files.append(GeneratedFile(doc, doc_text(doc.read_text())))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.contracts", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite the generated files")
    action.add_argument("--check", action="store_true", help="exit 1 if any is stale")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="repository root")
    args = parser.parse_args(argv)
    stale = [f for f in generated_files(args.root) if not f.is_current()]
    if args.write:
        for f in stale:
            f.path.write_text(f.text)
            print(f"wrote {f.path}")
        return 0
    for f in stale:
        print(f"{f.path} is stale: run python -m ingest.contracts --write", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
