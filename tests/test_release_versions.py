"""Version parsing, ordering and the next-version rules under PEP 440 and SemVer."""

import pytest

from tpo_tasks.errors import UsageError
from tpo_tasks.release.versions import next_version, parse, parse_pep440, parse_semver


def bump(current: str, scheme: str = "semver", **flags: object) -> str | None:
    parsed = parse(current, scheme)
    assert parsed is not None
    return next_version(parsed, scheme, **flags).version  # type: ignore[arg-type]


NEXT_CASES = [
    # (current, scheme, flags, expected)
    ("0.4.2", "semver", {"breaking": True, "types": {"feat"}}, "0.5.0"),
    ("0.4.2", "semver", {"breaking": True, "part": "major"}, "1.0.0"),
    ("0.37.10", "semver", {"types": {"fix"}}, "0.37.11"),
    ("1.2.3", "semver", {"breaking": True, "types": {"fix"}}, "2.0.0"),
    ("1.2.3", "semver", {"types": {"feat", "fix"}}, "1.3.0"),
    ("1.2.3", "semver", {"types": {"perf"}}, "1.2.4"),
    ("1.2.3", "semver", {"types": {"docs", "chore"}}, None),
    ("0.0.2b0", "pep440", {"types": {"build"}}, None),
    ("0.0.2b0", "pep440", {"types": {"fix"}, "pre": "beta"}, "0.0.2b1"),
    ("0.0.2b0", "pep440", {"finalize": True}, "0.0.2"),
    ("0.0.2b0", "pep440", {"types": {"fix"}}, "0.0.2"),
    ("0.0.2b1", "pep440", {"types": {"fix"}, "pre": "rc"}, "0.0.2rc0"),
    ("1.2.3", "pep440", {"types": {"feat"}, "pre": "rc"}, "1.3.0rc0"),
    ("1.2.3", "semver", {"types": {"feat"}, "pre": "rc"}, "1.3.0-rc.0"),
    ("1.3.0-rc.0", "semver", {"types": {"fix"}, "pre": "rc"}, "1.3.0-rc.1"),
    ("1.3.0-rc.1", "semver", {"finalize": True}, "1.3.0"),
    ("1.0.1rc0", "pep440", {"types": {"feat"}, "pre": "rc"}, "1.1.0rc0"),
    ("2.0.0a3", "pep440", {"breaking": True, "pre": "alpha"}, "2.0.0a4"),
    ("1.2.3", "semver", {"part": "patch"}, "1.2.4"),
]


@pytest.mark.parametrize(
    ("current", "scheme", "flags", "expected"), NEXT_CASES,
    ids=[f"{case[0]}-{'-'.join(f'{k}={v}' for k, v in case[2].items())}"
         for case in NEXT_CASES],
)
def test_next_version(current: str, scheme: str, flags: dict, expected: str | None
                      ) -> None:
    assert bump(current, scheme, **flags) == expected


def test_zero_x_breaking_rule_names_the_major_flag() -> None:
    parsed = parse("0.4.2", "semver")
    assert parsed is not None
    result = next_version(parsed, "semver", breaking=True, types={"feat"})
    assert "only --major gives 1.0.0" in result.rule


def test_nothing_releasable_explains_why() -> None:
    parsed = parse("0.0.2b0", "pep440")
    assert parsed is not None
    result = next_version(parsed, "pep440", types={"build"})
    assert result.version is None
    assert "no feat, fix, perf or breaking change" in result.rule


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"finalize": True}, "is final"),
        ({"finalize": True, "pre": "rc"}, "cannot be combined"),
        ({"pre": "gamma", "types": {"fix"}}, "invalid --pre"),
        ({"part": "huge"}, "invalid part"),
    ],
    ids=["finalize-final", "finalize-with-pre", "unknown-pre-kind", "unknown-part"],
)
def test_meaningless_flags_raise_usage_error(flags: dict, message: str) -> None:
    parsed = parse("1.2.3", "semver")
    assert parsed is not None
    with pytest.raises(UsageError, match=message):
        next_version(parsed, "semver", **flags)


def test_pre_release_cannot_go_back_a_kind() -> None:
    parsed = parse("1.3.0rc1", "pep440")
    assert parsed is not None
    with pytest.raises(UsageError, match="would go back"):
        next_version(parsed, "pep440", pre="alpha", types={"fix"})


def test_semver_tag_with_word_pre_release_parses() -> None:
    version = parse("0.7.1-release", "pep440")
    assert version is not None
    assert version.release == (0, 7, 1)
    assert version.pre == ("release",)


def test_semver_pre_release_sorts_below_its_release() -> None:
    versions = [parse(text, "semver") for text in ("0.7.1", "0.7.1-release", "0.7.0")]
    ordered = sorted(versions)  # type: ignore[type-var]
    assert [item.text for item in ordered] == ["0.7.0", "0.7.1-release", "0.7.1"]


def test_pep440_order_follows_pep440() -> None:
    texts = ["1.0.0", "1.0.0rc1", "1.0.0.dev1", "1.0.0a1", "1.0.0.post1", "1.0.0b2"]
    ordered = sorted(parse_pep440(text) for text in texts)  # type: ignore[type-var]
    assert [item.text for item in ordered] == [
        "1.0.0.dev1", "1.0.0a1", "1.0.0b2", "1.0.0rc1", "1.0.0", "1.0.0.post1"]


def test_semver_numeric_identifiers_sort_numerically() -> None:
    low, high = parse_semver("1.0.0-rc.2"), parse_semver("1.0.0-rc.10")
    assert low is not None and high is not None
    assert low < high


@pytest.mark.parametrize("text", ["banana", "1.2.3.4.5", "01.2.3-", ""],
                         ids=["word", "five-parts", "leading-zero-dash", "empty"])
def test_non_versions_parse_as_none(text: str) -> None:
    assert parse(text, "semver") is None
