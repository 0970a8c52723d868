"""result: manifest.json ↔ records, both ways, key order kept; a wrong type names its key."""

from __future__ import annotations

import json

import pytest

from packager.result import ManifestInvalid, manifest_json, parse_manifest
from tests.test_outbox import _record


def test_records_round_trip_through_json_in_the_same_key_order() -> None:
    record = _record(mailed=True)
    text = json.dumps(manifest_json(record), ensure_ascii=False)
    assert parse_manifest(json.loads(text)) == record
    assert json.dumps(manifest_json(parse_manifest(json.loads(text))), ensure_ascii=False) == text
    assert list(json.loads(text))[:3] == ["packager_version", "profile", "built_on"]


def test_optional_sections_may_be_missing_but_not_wrong() -> None:
    minimal = parse_manifest({"outputs": [], "case": {"applicant": {"name": "A"}}})
    assert minimal.case.applicant.name == "A" and minimal.stamp is None and minimal.checklist is None
    with pytest.raises(ManifestInvalid, match=r"mailed\[0\]\.file"):
        parse_manifest({"mailed": [{"document": "x", "title": "t", "file": 3, "reason": ""}]})
    with pytest.raises(ManifestInvalid, match="built_on"):
        parse_manifest({"built_on": "yesterday"})
