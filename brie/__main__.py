"""Entry point: `brie` and `python -m brie`."""

import sys


def main() -> None:
    from brie.blas import ensure_fast_blas

    # Before anything imports MLX: re-exec with a fast BLAS on Linux (see brie/blas.py).
    ensure_fast_blas(["-m", "brie", *sys.argv[1:]])
    from brie.cli import app

    app(prog_name="brie")


if __name__ == "__main__":
    main()
