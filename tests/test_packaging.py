"""The wheel carries the templates inside the package and installs the tpo script."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (built,) = out.glob("tpo_tasks-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_wheel_carries_every_template_inside_the_package(
    wheel_names: list[str],
) -> None:
    shipped = sorted(
        path.name for path in (REPO_ROOT / "templates").iterdir() if path.is_file()
    )
    for name in shipped:
        assert f"tpo_tasks/templates/{name}" in wheel_names


def test_wheel_has_no_top_level_templates_folder(wheel_names: list[str]) -> None:
    assert not [name for name in wheel_names if name.startswith("templates/")]


def test_wheel_declares_the_tpo_script(wheel: Path, wheel_names: list[str]) -> None:
    (entry_points,) = [n for n in wheel_names if n.endswith("entry_points.txt")]
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(entry_points).decode()
    assert "tpo = tpo_tasks.program:main" in text
