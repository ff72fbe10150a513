"""Several processes training one run (`accelerate launch`, `mlx.launch`): who is the main process,
and how the others get what it decided."""

from __future__ import annotations

import os

from brie.errors import BrieError


def launch_rank() -> tuple[int, int]:
    """(rank, number of processes) of this process: `accelerate launch` and torchrun set RANK and
    WORLD_SIZE, `mlx.launch` sets MLX_RANK (its size is the group's); (0, 1) when run alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return int(os.environ.get("RANK", "0")), int(os.environ["WORLD_SIZE"])
    if "MLX_RANK" in os.environ:
        import mlx.core as mx

        group = mx.distributed.init()
        return group.rank(), group.size()
    return 0, 1


def share(backend: str, value):
    """The main process's `value`, on every process of a launch (the others pass None)."""
    if backend == "torch":
        import torch
        from accelerate import PartialState
        from accelerate.utils import broadcast_object_list

        # joins the process group the launcher set up (gloo without CUDA, as the torch engine's Accelerator)
        PartialState(cpu=not torch.cuda.is_available())
        box = [value]
        broadcast_object_list(box, from_process=0)
        return box[0]
    import pickle

    import mlx.core as mx
    import numpy as np

    # mx.distributed has no broadcast: every rank adds its bytes, and only rank 0's are not zeros.
    group = mx.distributed.init()
    data = np.frombuffer(pickle.dumps(value), np.uint8) if group.rank() == 0 else np.zeros(0, np.uint8)
    n = int(mx.distributed.all_sum(mx.array([data.size], mx.int32), stream=mx.cpu).item())
    buf = np.zeros(n, np.int32)
    buf[:data.size] = data
    total = mx.distributed.all_sum(mx.array(buf), stream=mx.cpu)
    return pickle.loads(np.array(total).astype(np.uint8).tobytes())


def launcher_backend() -> str:
    """The backend of the launcher that started this process: torch under `accelerate launch` (or
    torchrun), else mlx (`mlx.launch`, or no launcher)."""
    return "torch" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "mlx"


def check_launcher(backend: str) -> None:
    """A run of `backend` under the other backend's launcher is refused."""
    if launch_rank()[1] > 1 and backend != launcher_backend():
        launcher = "accelerate launch" if launcher_backend() == "torch" else "mlx.launch"
        raise BrieError(f"--backend {backend} under {launcher}: use `accelerate launch` with --backend torch, "
                        "or `mlx.launch` with --backend mlx")


def on_main(backend: str, make):
    """make() on the main process only, its result (or its error) on every process: so under a
    multi-process launch one process creates or updates the run in the store and the rest follow."""
    rank, size = launch_rank()
    if size == 1:
        return make()
    # Every process sees the same environment, so each raises this itself: nobody waits on another.
    check_launcher(backend)
    if rank == 0:
        try:
            result = make()
        except BaseException as e:  # Ctrl-C too: the others must not wait on the broadcast for ever
            share(backend, (None, str(e) or type(e).__name__))
            raise
        share(backend, (result, None))
        return result
    result, error = share(backend, None)
    if error is not None:
        raise BrieError(error)
    return result
