"""The deploy history format: revisions newest first, capped, versioned."""

import json
import os

import pytest

from tpo_tasks.deploy.history import (
    FORMAT,
    History,
    Revision,
    build_configmap,
    parse_configmap,
)
from tpo_tasks.errors import ExternalError


def revision(number: int, result: str = "succeeded", **extra: object) -> Revision:
    values = dict(revision=number, time="2026-01-15T12:00:00Z", version="1.0.0",
                  git_sha="a" * 40, images={"web": "r/web@sha256:" + "1" * 64},
                  actor="ci", result=result, rollback_of=None,
                  manifest_sha256="f" * 64)
    values.update(extra)
    return Revision(**values)


def test_roundtrip_keeps_revisions_and_manifests() -> None:
    history = History()
    history.add(revision(1), "kind: A\n")
    history.add(revision(2), "kind: B\n")
    parsed = parse_configmap(build_configmap(history, "tally", limit=20))
    assert [r.revision for r in parsed.revisions] == [2, 1]
    assert parsed.manifests == {1: "kind: A\n", 2: "kind: B\n"}


def test_cap_drops_oldest_revisions_and_manifests() -> None:
    history = History()
    for number in range(1, 6):
        history.add(revision(number), f"n: {number}\n")
    configmap = build_configmap(history, "tally", limit=3)
    parsed = parse_configmap(configmap)
    assert [r.revision for r in parsed.revisions] == [5, 4, 3]
    assert sorted(configmap["binaryData"]) == [
        "manifest-3.yaml.gz", "manifest-4.yaml.gz", "manifest-5.yaml.gz"]


def test_stored_document_names_its_format() -> None:
    configmap = build_configmap(History([revision(1)]), "tally", limit=20)
    assert json.loads(configmap["data"]["history.json"])["format"] == FORMAT


def test_newer_format_is_rejected() -> None:
    configmap = {"data": {"history.json": json.dumps({"format": FORMAT + 1})}}
    with pytest.raises(ExternalError, match="upgrade tpo-tasks"):
        parse_configmap(configmap)


def test_missing_configmap_is_empty_history() -> None:
    assert parse_configmap(None).revisions == []


def test_last_successful_skips_failed_and_rolled_back() -> None:
    history = History()
    history.add(revision(1))
    history.add(revision(2, "rolled_back"))
    history.add(revision(3, "failed"))
    assert history.last_successful().revision == 1


def test_mark_changes_one_result() -> None:
    history = History([revision(2), revision(1)])
    history.mark(2, "rolled_back")
    assert [r.result for r in history.revisions] == ["rolled_back", "succeeded"]


def test_next_revision_follows_highest() -> None:
    assert History([revision(7), revision(3)]).next_revision() == 8


def test_oversized_history_drops_oldest_manifests() -> None:
    history = History()
    for number in range(1, 6):
        # random text barely compresses, so five of these exceed the limit
        history.add(revision(number), os.urandom(150 * 1024).hex())
    configmap = build_configmap(history, "tally", limit=20)
    kept = sorted(configmap["binaryData"])
    assert "manifest-5.yaml.gz" in kept
    assert "manifest-1.yaml.gz" not in kept


def test_oversized_history_keeps_every_record() -> None:
    history = History()
    for number in range(1, 6):
        history.add(revision(number), os.urandom(150 * 1024).hex())
    parsed = parse_configmap(build_configmap(history, "tally", limit=20))
    assert [r.revision for r in parsed.revisions] == [5, 4, 3, 2, 1]
