"""Entry point: `brie` and `python -m brie`."""

import sys

# Commands that never run MLX: they skip the fast-BLAS re-execution, which would start a second
# interpreter (~30 ms) for nothing. So does any `--help`. (A command missing here only costs that.)
NO_MLX = {"init", "runs", "results", "experiments", "batches", "suites"}


def needs_mlx(args: list[str]) -> bool:
    """Whether this command line may run MLX (so is worth the fast-BLAS re-execution)."""
    if "--help" in args:
        return False
    words = iter(args)
    for word in words:
        if word == "--home":
            next(words, None)  # its value, not the command
        elif not word.startswith("-"):
            return word not in NO_MLX
    return True  # no command: the UI, which can train and generate


def main() -> None:
    if needs_mlx(sys.argv[1:]):
        from brie.blas import ensure_fast_blas

        # Before anything imports MLX: re-exec with a fast BLAS on Linux (see brie/blas.py).
        ensure_fast_blas(["-m", "brie", *sys.argv[1:]])
    from brie.cli import app

    app(prog_name="brie")


if __name__ == "__main__":
    main()
