"""Each topic message is defined once (ingest.topics); its JSON Schema and its
tables in docs/topics.md are generated from it (ingest.contracts)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from ingest.contracts import example, generated_files, json_schema, main
from ingest.errors import ContractError
from ingest.topics import MESSAGES, ContactEventMessage, FrameMeta, load_schema

REPO = Path(__file__).resolve().parents[2]


def test_the_committed_schemas_and_doc_tables_are_generated_from_the_messages() -> None:
    stale = [str(f.path.relative_to(REPO)) for f in generated_files(REPO) if not f.is_current()]
    assert stale == [], "stale: run python -m ingest.contracts --write"


def test_the_check_names_a_stale_doc_and_write_brings_it_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "topics.md"
    shutil.copy(REPO / "docs" / "topics.md", doc)
    doc.write_text(doc.read_text().replace('"old_state": "PREPASS"', '"old_state": "scheduled"'))
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert "topics.md is stale" in capsys.readouterr().err
    assert main(["--write", "--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0
    assert '"old_state": "PREPASS"' in doc.read_text()


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_the_example_of_each_message_follows_its_published_schema(name: str) -> None:
    message = example(MESSAGES[name])
    wire = (
        {n: v.decode() for n, v in message.headers()}
        if isinstance(message, FrameMeta)
        else json.loads(message.encode())
    )
    assert json_schema(name) == load_schema(name)
    jsonschema.validate(wire, load_schema(name))


def test_the_doc_shows_only_states_a_contact_can_be_in() -> None:
    doc = (REPO / "docs" / "topics.md").read_text()
    assert '"scheduled"' not in doc and '"tracking"' not in doc
    states = load_schema("contact-event")["$defs"]["ContactEventState"]["enum"]
    assert "PASS" in states and "tracking" not in states


def test_a_contact_event_naming_a_state_that_does_not_exist_is_refused_with_its_value() -> None:
    good = json.loads(example(ContactEventMessage).encode())
    bad = json.dumps({**good, "new_state": "tracking"}).encode()
    with pytest.raises(ContractError, match="'new_state' is 'tracking'"):
        ContactEventMessage.decode(bad)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(bad), load_schema("contact-event"))


def test_a_contact_event_with_a_field_of_the_wrong_type_is_a_contract_error() -> None:
    good = json.loads(example(ContactEventMessage).encode())
    with pytest.raises(ContractError, match="'norad_id' is 'ISS'"):
        ContactEventMessage.decode(json.dumps({**good, "norad_id": "ISS"}).encode())
