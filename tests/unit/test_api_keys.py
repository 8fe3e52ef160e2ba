"""Client API keys on plain data: made from random bytes, kept as hashes, taken from either
header, refused when unknown, wrong, revoked, expired or out of scope."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlops.core.api_keys import (
    KeyEntry,
    digest,
    new_key,
    offered_key,
    parse_entries,
    verdict,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
KEY_ID, KEY = new_key(bytes(range(36)))


def entry(**changes: object) -> KeyEntry:
    fields: dict[str, object] = {
        "id": KEY_ID, "client": "dashboard", "digest": digest(KEY), "models": ("cancer",),
        "environments": ("production",), "created": datetime(2026, 1, 1, tzinfo=UTC),
    }  # fmt: skip
    return KeyEntry(**(fields | changes))  # type: ignore[arg-type]


def test_a_key_names_its_id_and_only_its_hash_is_kept() -> None:
    assert KEY_ID == "00010203" and KEY.startswith("mlk_00010203_") and len(KEY) == 56
    assert digest(KEY).startswith("sha256:") and KEY.split("_", 2)[2] not in digest(KEY)
    with pytest.raises(ValueError, match="taken"):
        new_key(bytes(range(36)), taken=["00010203"])


def test_the_key_comes_from_either_header() -> None:
    assert offered_key("Bearer abc", None) == "abc"
    assert offered_key("bearer abc", None) == "abc"
    assert offered_key(None, "abc") == "abc"
    assert offered_key("Basic abc", None) is None
    assert offered_key(None, "  ") is None


def test_a_key_in_scope_may_call_and_says_who_it_is() -> None:
    keys = {KEY_ID: entry()}
    assert verdict(keys, KEY, "cancer", "production", NOW).key_id == KEY_ID
    assert verdict(keys, KEY, "cancer", "production", NOW).allowed
    everything = {KEY_ID: entry(models=("*",), environments=("*",))}
    assert verdict(everything, KEY, "fuel", "staging", NOW).allowed


@pytest.mark.parametrize(
    ("keys", "offered", "status", "said"),
    [
        ({}, None, 401, "an API key is required"),
        ({}, KEY, 401, "the API key is not valid"),
        ({KEY_ID: entry()}, "not-a-key", 401, "the API key is not valid"),
        ({KEY_ID: entry()}, KEY[:-1] + ("A" if KEY[-1] != "A" else "B"), 401, "not valid"),
        ({KEY_ID: entry(revoked=datetime(2026, 5, 1, tzinfo=UTC))}, KEY, 401, "was revoked"),
        ({KEY_ID: entry(expires=datetime(2026, 5, 1, tzinfo=UTC))}, KEY, 401,
         "expired at 2026-05-01T00:00:00Z"),
        ({KEY_ID: entry(environments=("staging",))}, KEY, 403,
         "may not call cancer in production"),
        ({KEY_ID: entry(models=("fuel",))}, KEY, 403, "may not call cancer in production"),
    ],
)  # fmt: skip
def test_unknown_wrong_revoked_expired_and_out_of_scope_keys_are_refused(
    keys: dict[str, KeyEntry], offered: str | None, status: int, said: str
) -> None:
    refused = verdict(keys, offered, "cancer", "production", NOW)
    assert (refused.status, refused.allowed) == (status, False)
    assert said in refused.error


def test_a_revocation_or_expiry_in_the_future_has_not_happened_yet() -> None:
    later = datetime(2026, 7, 1, tzinfo=UTC)
    keys = {KEY_ID: entry(revoked=later, expires=later)}
    assert verdict(keys, KEY, "cancer", "production", NOW).allowed


def test_a_keys_document_round_trips_and_names_each_unusable_entry() -> None:
    good = entry(expires=datetime(2026, 9, 1, tzinfo=UTC)).to_dict()
    entries, problems = parse_entries({"keys": [good]})
    assert entries == [entry(expires=datetime(2026, 9, 1, tzinfo=UTC))] and problems == []
    bad = [good, good, {**good, "id": "XYZ"}, {**good, "id": "0000000f", "sha256": "no"},
           {**good, "id": "000000ff", "models": []}, {**good, "id": "00000fff", "created": "2026-01-01T00:00"},
           "not an entry"]  # fmt: skip
    entries, problems = parse_entries({"keys": bad})
    assert [e.id for e in entries] == [KEY_ID]
    assert [(path, text.split(" ")[0]) for path, text in problems] == [
        (("keys", 1, "id"), "key"), (("keys", 2), "id"), (("keys", 3), "sha256"),
        (("keys", 4), "models"), (("keys", 5), "time"), (("keys", 6), "expected"),
    ]  # fmt: skip
    assert parse_entries([]) == ([], [((), "expected an object with a list of keys under `keys`")])
