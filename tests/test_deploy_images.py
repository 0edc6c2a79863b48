"""Image tags, OCI labels, pinned references and the builds record."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import git

from tpo_tasks.deploy.images import (
    BUILDS_FILE,
    image_tag,
    oci_labels,
    pinned,
    public_source,
    read_builds,
    record_builds,
    source_state,
)
from tpo_tasks.errors import ExternalError, UsageError

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(("version", "dirty", "expected"), [
    ("1.2.3", False, "1.2.3-0123456"),
    ("1.2.3+build.5", False, "1.2.3_build.5-0123456"),
    ("1.2.3-rc.1", True, "1.2.3-rc.1-0123456-dirty"),
    ("2.0.0a1", False, "2.0.0a1-0123456"),
], ids=["plain", "semver-build-part", "dirty", "pep440-pre"])
def test_image_tag(version: str, dirty: bool, expected: str) -> None:
    assert image_tag(version, SHA, dirty) == expected


def test_image_tag_rejects_invalid_characters() -> None:
    with pytest.raises(UsageError, match="invalid image tag"):
        image_tag("1.0/evil", SHA, False)


def test_oci_labels_name_version_revision_source_created() -> None:
    labels = oci_labels("1.2.3", SHA, "https://example.test/team/app",
                        datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    assert labels == {
        "org.opencontainers.image.version": "1.2.3",
        "org.opencontainers.image.revision": SHA,
        "org.opencontainers.image.source": "https://example.test/team/app",
        "org.opencontainers.image.created": "2026-01-15T12:00:00Z",
    }


@pytest.mark.parametrize(("remote", "expected"), [
    ("git@github.com:team/app.git", "https://github.com/team/app"),
    ("https://user:token@github.com/team/app.git", "https://github.com/team/app"),
    ("https://github.com/team/app", "https://github.com/team/app"),
], ids=["ssh", "credentials-dropped", "https"])
def test_public_source(remote: str, expected: str) -> None:
    assert public_source(remote) == expected


def test_pinned_reference_needs_a_digest() -> None:
    with pytest.raises(ExternalError):
        pinned("127.0.0.1:5000/team", "web", "latest")


def test_pinned_reference_joins_registry_image_digest() -> None:
    digest = "sha256:" + "a" * 64
    assert pinned("127.0.0.1:5000/team/", "web", digest) == (
        f"127.0.0.1:5000/team/web@{digest}")


def test_builds_record_merges_services(tmp_path: Path) -> None:
    record_builds(tmp_path, {"web": {"digest": "sha256:1"}})
    record_builds(tmp_path, {"api": {"digest": "sha256:2"}})
    assert sorted(read_builds(tmp_path)["builds"]) == ["api", "web"]


def test_builds_record_is_json_with_format(tmp_path: Path) -> None:
    record_builds(tmp_path, {"web": {"digest": "sha256:1"}})
    data = json.loads((tmp_path / BUILDS_FILE).read_text())
    assert data["format"] == 1


def test_builds_record_leaves_no_temporary_file(tmp_path: Path) -> None:
    record_builds(tmp_path, {"web": {"digest": "sha256:1"}})
    assert [p.name for p in (tmp_path / ".tpo").iterdir()] == ["builds.json"]


def test_source_state_ignores_builds_record(git_repo: Path) -> None:
    record_builds(git_repo, {"web": {"digest": "sha256:1"}})
    assert source_state(git_repo).dirty is False


def test_source_state_sees_uncommitted_change(git_repo: Path) -> None:
    (git_repo / "README.md").write_text("changed\n")
    assert source_state(git_repo).dirty is True


def test_source_state_reads_head(git_repo: Path) -> None:
    head = git(git_repo, "rev-parse", "HEAD").strip()
    assert source_state(git_repo).sha == head
