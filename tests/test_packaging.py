"""The built wheel holds every data file the code reads: an editable install hides a missing one."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_contains_every_non_python_file_of_the_packages(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("brie", "tui"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, src / name)
    # a copy, so the build leaves no build/ or egg-info in the checkout
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True)
    wheel, = (tmp_path / "dist").glob("brie-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    data_files = {p.relative_to(src).as_posix() for name in ("brie", "tui") for p in (src / name).rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc")}
    assert data_files, "the search below found nothing: it could not fail"
    assert data_files <= packaged, f"left out of the wheel: {sorted(data_files - packaged)}"
