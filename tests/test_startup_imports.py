"""Instant commands (issue 20): `brie --help`, every command's `--help` and `brie runs list` load none
of the heavy packages; the commands that use them import them inside their functions.

Each check runs the CLI in a fresh interpreter (a subprocess) and reads its sys.modules at exit, so
an import made by anything on the way (brie, sqlite-utils, typer) is seen. The wall-time ratios are
measured by benchmarks/cli_startup.py, not here (a timed test would only measure the machine's load).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The packages a startup must not pay for (top-level names). pydantic is typer's, for checking
# option values: brie's root group lets plain values past it (see brie/cli/__init__.py).
HEAVY = ("mlx", "transformers", "datasets", "statsmodels", "scipy", "pandas", "numpy", "pyarrow",
         "lm_eval", "sklearn", "torch", "anthropic", "openai", "httpx", "matplotlib", "textual",
         "sacrebleu", "rouge_score", "safetensors", "huggingface_hub", "tokenizers", "pydantic")

# Runs the CLI in-process on argv, then prints the heavy top-level packages it loaded as JSON on the
# real stderr. `--every-help` walks the whole command tree and asks each command for its --help.
PROBE = """
import json, sys
prelude, argv = sys.argv[1], sys.argv[2:]
exec(prelude)
from brie.cli import app

def run(args):
    try:
        app(args, prog_name="brie")
    except SystemExit:
        pass

if argv == ["--every-help"]:
    import typer
    def commands(command, path):
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from commands(sub, [*path, name])
    paths = list(commands(typer.main.get_command(app), []))
    for path in paths:
        run([*path, "--help"])
    print(len(paths), file=sys.__stderr__)
else:
    run(argv)
heavy = set(HEAVY)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)), file=sys.__stderr__)
"""


def loaded(args: list[str], home: Path, prelude: str = "") -> tuple[list[str], str]:
    """The heavy packages a fresh interpreter holds after running `brie <args>`, and its stderr."""
    code = PROBE.replace("set(HEAVY)", repr(set(HEAVY)))
    out = subprocess.run([sys.executable, "-c", code, prelude, *args], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "BRIE_HOME": str(home)},
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stderr.strip().splitlines()[-1]), out.stderr


@pytest.fixture(scope="module")
def fresh_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("startup")
    subprocess.run([sys.executable, "-m", "brie", "--home", str(home), "init"], check=True,
                   capture_output=True, cwd=ROOT, timeout=120)
    return home


@pytest.mark.parametrize("args", [
    ["--help"],
    ["runs", "list"],
    ["runs", "list", "--json"],
    ["train", "--help"],
    ["data", "import", "--help"],
    ["models", "list"],
])
def test_a_light_command_loads_no_heavy_package(args, fresh_home):
    heavy, err = loaded(args, fresh_home)
    assert heavy == [], f"brie {' '.join(args)} loaded {heavy}"


def test_every_commands_help_loads_no_heavy_package(fresh_home):
    heavy, err = loaded(["--every-help"], fresh_home)
    assert int(err.strip().splitlines()[-2]) >= 30  # the walk reached the whole tree
    assert heavy == [], f"some --help loaded {heavy}"


def test_the_probe_sees_a_heavy_import(fresh_home):
    """The check can fail: a heavy package imported on the way is reported."""
    heavy, _ = loaded(["--help"], fresh_home, prelude="import numpy")
    assert heavy == ["numpy"]


def test_pandas_and_numpy_still_import_after_the_store():
    """sqlite-utils is imported with pandas and numpy hidden from it alone; the hiding ends there."""
    code = ("import sys; import brie.store.database, sqlite_utils.db as d; "
            "assert 'pandas' not in sys.modules and 'numpy' not in sys.modules; "
            "assert d.pd is None and d.np is None; "
            "assert not [f for f in sys.meta_path if 'Optional' in type(f).__name__], sys.meta_path; "
            "import pandas, numpy, statsmodels.stats.proportion; "
            "print(pandas.DataFrame({'a': [1, 2]})['a'].sum(), numpy.float64(1.5))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "1.5"]


def test_sqlite_utils_keeps_pandas_when_it_is_already_loaded():
    """A process that imported pandas first (a notebook, statsmodels) gets sqlite-utils as usual."""
    code = ("import pandas, numpy, brie.store.database, sqlite_utils.db as d; "
            "print(d.pd is pandas, d.np is numpy, d.COLUMN_TYPE_MAPPING[numpy.int64])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "INTEGER"]


def test_an_option_value_is_still_checked(fresh_home):
    """Values that are not plain strings or flags still go through typer's check (brie/cli/__init__)."""
    for value, message in (("abc", "valid integer"), ("0", "greater than or equal to 1")):
        out = subprocess.run([sys.executable, "-m", "brie", "--home", str(fresh_home), "eval", "--limit", value],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert out.returncode == 2 and message in out.stderr, out.stderr


@pytest.mark.parametrize("argv, reexec", [
    ([], True),  # the UI, which can train
    (["doctor"], True),
    (["train", "-c", "x.yaml"], True),
    (["--home", "runs", "train"], True),  # "runs" is --home's value here, not the command
    (["--help"], False),
    (["eval", "--help"], False),
    (["runs", "list"], False),
    (["--home", "/w", "--json", "results"], False),
])
def test_fast_blas_reexec_only_where_mlx_may_run(argv, reexec):
    from brie.__main__ import needs_mlx

    assert needs_mlx(argv) is reexec
