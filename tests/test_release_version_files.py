"""Version files: only the version value's bytes change, in every supported format."""

from pathlib import Path

import pytest

from tpo_tasks.config import VersionFile, load_settings
from tpo_tasks.defaults import defaults
from tpo_tasks.errors import RefusedError
from tpo_tasks.release import version_files
from tpo_tasks.release.version_files import VersionFileError, edit_bytes


def release_settings(version_file_list: list | None = None, **extra: object):
    config = defaults()
    config["release"]["version_files"] = version_file_list or []
    config["release"].update(extra)
    return load_settings({"tpo": config}).release


EDIT_CASES = [
    # (path, key or pattern, before, after)
    (
        "pyproject.toml", None,
        '[project]\nname = "x"\nversion = "3.0.1"\n'
        'dependencies = ["other-lib>=3.0.1"]\n\n[tool.x]\nversion = "3.0.1"\n',
        '[project]\nname = "x"\nversion = "3.0.2"\n'
        'dependencies = ["other-lib>=3.0.1"]\n\n[tool.x]\nversion = "3.0.1"\n',
    ),
    (
        "pyproject.toml", None,
        "# build config\r\n[tool.poetry]\r\nversion = '3.0.1'  # keep\r\n",
        "# build config\r\n[tool.poetry]\r\nversion = '3.0.2'  # keep\r\n",
    ),
    (
        "package.json", None,
        '{\n  "name": "pkg",\n  "dependencies": {"sibling-pkg": "3.0.1", '
        '"version": "3.0.1"},\n  "version": "3.0.1"\n}\n',
        '{\n  "name": "pkg",\n  "dependencies": {"sibling-pkg": "3.0.1", '
        '"version": "3.0.1"},\n  "version": "3.0.2"\n}\n',
    ),
    (
        "src/App/App.csproj", None,
        '<Project Sdk="Microsoft.NET.Sdk">\n  <!-- <Version>0.0.1</Version> -->\n'
        '  <PropertyGroup>\n    <Version>3.0.1</Version>\n  </PropertyGroup>\n'
        '  <ItemGroup><PackageReference Include="Lib" Version="3.0.1" /></ItemGroup>\n'
        "</Project>\n",
        '<Project Sdk="Microsoft.NET.Sdk">\n  <!-- <Version>0.0.1</Version> -->\n'
        '  <PropertyGroup>\n    <Version>3.0.2</Version>\n  </PropertyGroup>\n'
        '  <ItemGroup><PackageReference Include="Lib" Version="3.0.1" /></ItemGroup>\n'
        "</Project>\n",
    ),
    (
        "Directory.Build.props", None,
        "<Project>\n  <PropertyGroup>\n    <Version> 3.0.1 </Version>\n"
        "  </PropertyGroup>\n</Project>\n",
        "<Project>\n  <PropertyGroup>\n    <Version> 3.0.2 </Version>\n"
        "  </PropertyGroup>\n</Project>\n",
    ),
    (
        "charts/app/Chart.yaml", "version",
        'apiVersion: v2\nname: app\n# chart version\nversion: 3.0.1\n'
        'appVersion: "3.0.1"\n',
        'apiVersion: v2\nname: app\n# chart version\nversion: 3.0.2\n'
        'appVersion: "3.0.1"\n',
    ),
    (
        "charts/app/Chart.yaml", "appVersion",
        'apiVersion: v2\nversion: 3.0.1\nappVersion: "3.0.1" # image tag\n',
        'apiVersion: v2\nversion: 3.0.1\nappVersion: "3.0.2" # image tag\n',
    ),
    ("VERSION", None, "3.0.1\n", "3.0.2\n"),
    (
        "src/widget/__init__.py", r'^__version__ = "([^"]+)"',
        '"""Widget."""\n\n__version__ = "3.0.1"\nOTHER = "3.0.1"\n',
        '"""Widget."""\n\n__version__ = "3.0.2"\nOTHER = "3.0.1"\n',
    ),
]


def spec_for(path: str, selector: str | None) -> VersionFile:
    if selector and selector.startswith("^"):
        return VersionFile(path=path, pattern=selector)
    return VersionFile(path=path, key=selector)


@pytest.mark.parametrize(
    ("path", "selector", "before", "after"), EDIT_CASES,
    ids=["pyproject-with-dependency", "poetry-crlf-single-quotes",
         "package-json-with-sibling", "csproj-with-comment-and-reference",
         "directory-build-props", "chart-version", "chart-app-version",
         "plain-version-file", "python-pattern"],
)
def test_edit_changes_only_the_version(path: str, selector: str | None, before: str,
                                       after: str) -> None:
    spec = spec_for(path, selector)
    assert edit_bytes(spec, before.encode(), "3.0.2") == after.encode()


def test_edit_keeps_utf8_bom_and_crlf() -> None:
    before = (b'\xef\xbb\xbf{\r\n  "version": "1.0.0",\r\n'
              b'  "name": "caf\xc3\xa9"\r\n}\r\n')
    after = edit_bytes(VersionFile(path="package.json"), before, "1.1.0")
    assert after == before.replace(b"1.0.0", b"1.1.0")


def test_read_versions_lists_label_and_value(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "1.2.3"\n')
    (tmp_path / "Chart.yaml").write_text("version: 1.2.3\nappVersion: '1.2.3'\n")
    settings = release_settings([{"path": "Chart.yaml", "key": "appVersion"}])
    assert version_files.read_versions(tmp_path, settings) == [
        ("pyproject.toml", "1.2.3"), ("Chart.yaml (appVersion)", "1.2.3")]


def test_dynamic_pyproject_version_is_not_a_version_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\ndynamic = ["version"]\n')
    assert version_files.read_versions(tmp_path, release_settings()) == []


def test_scheme_defaults_to_pep440_with_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "1.2.3"\n')
    assert version_files.default_scheme(tmp_path, release_settings()) == "pep440"


def test_scheme_defaults_to_semver_without_pyproject(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"version": "1.2.3"}\n')
    settings = release_settings(["package.json"])
    assert version_files.default_scheme(tmp_path, settings) == "semver"


def test_disagreeing_files_are_named_with_values(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "1.2.3"\n')
    (tmp_path / "package.json").write_text('{"version": "1.2.4"}\n')
    found = version_files.read_all(tmp_path, release_settings(["package.json"]))
    with pytest.raises(RefusedError) as raised:
        version_files.check_agree(found)
    assert "pyproject.toml = 1.2.3, package.json = 1.2.4" in raised.value.message


def test_pep440_pre_release_refused_for_package_json(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "1.2.3"\n')
    (tmp_path / "package.json").write_text('{"version": "1.2.3"}\n')
    found = version_files.read_all(tmp_path, release_settings(["package.json"]))
    with pytest.raises(RefusedError, match="package.json needs a SemVer version"):
        version_files.check_representable(found, "1.3.0rc0")


def test_semver_pre_release_accepted_by_package_json(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"version": "1.2.3"}\n')
    found = version_files.read_all(tmp_path, release_settings(["package.json"]))
    version_files.check_representable(found, "1.3.0-rc.0")


def test_missing_version_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(VersionFileError, match="version file VERSION not found"):
        version_files.read_all(tmp_path, release_settings(["VERSION"]))


def test_missing_key_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "x"}\n')
    with pytest.raises(VersionFileError, match="package.json: no version found at key"):
        version_files.read_all(tmp_path, release_settings(["package.json"]))


def test_yaml_value_that_would_read_back_differently_is_refused() -> None:
    spec = VersionFile(path="Chart.yaml", key="appVersion")
    with pytest.raises(VersionFileError, match="quote the value"):
        edit_bytes(spec, b"appVersion: abc\n", "1.10")
