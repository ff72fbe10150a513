from brie import blas


def test_pytest_runs_with_fast_blas_on_linux():
    import sys

    if not sys.platform.startswith("linux") or blas.find_openblas() is None:
        import pytest

        pytest.skip("no system OpenBLAS on this machine")
    assert blas.loaded_blas().split("/")[-1].startswith("libopenblas")
