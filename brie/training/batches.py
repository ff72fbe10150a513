"""Batches for both engines: mlx-lm's datasets and batch order, resumable at a saved data position."""

from __future__ import annotations

import json
import types
from pathlib import Path

from brie.errors import BrieError
from brie.words import plural


def iterate_batches(dataset, batch_size, max_seq_length, loop=False, seed=0, start=0, comm_group=None,
                    as_numpy=False):
    """mlx-lm's iterate_batches with the same order for the same seed, able to start at batch `start`.

    mlx-lm seeds numpy's global generator and draws one permutation per epoch; a private
    RandomState with the same seed gives the same permutations, and the batches before `start`
    are skipped without being tokenized — that is the saved data position.
    """
    import mlx.core as mx
    import numpy as np
    from mlx_lm.tuner.datasets import CacheDataset

    if isinstance(dataset, CacheDataset):
        len_fn = dataset.itemlen
    else:
        len_fn = lambda i: len(dataset[i][0])  # noqa: E731
    idx = sorted(range(len(dataset)), key=len_fn)
    if len(dataset) < batch_size:
        raise BrieError(f"the dataset has {plural(len(dataset), 'example')}, fewer than batch_size={batch_size}")
    offset, step = (comm_group.rank(), comm_group.size()) if comm_group is not None else (0, 1)
    batch_idx = [idx[i + offset: i + offset + batch_size: step] for i in range(0, len(idx) - batch_size + 1, batch_size)]
    rng = np.random.RandomState(seed)
    position = 0
    while True:
        for i in rng.permutation(len(batch_idx)):
            position += 1
            if position <= start:
                continue
            batch = [dataset[j] for j in batch_idx[i]]
            if len(batch[0]) == 2:
                batch, offsets = zip(*batch)
            else:
                offsets = [0] * len(batch)
            lengths = [len(x) for x in batch]
            pad_to = 32
            width = min(1 + pad_to * ((max(lengths) + pad_to - 1) // pad_to), max_seq_length)
            arr = np.zeros((batch_size // step, width), np.int32)
            for j in range(batch_size // step):
                n = min(lengths[j], max_seq_length)
                arr[j, :n] = batch[j][:n]
                lengths[j] = n
            bounds = np.array(list(zip(offsets, lengths)), np.int32)
            yield (arr, bounds) if as_numpy else (mx.array(arr), mx.array(bounds))
        if not loop:
            break


def load_splits(folder: Path, tokenizer, cfg):
    """(train, valid or None) as mlx-lm's datasets. Like mlx-lm's load_local_dataset, but an empty
    or missing valid.jsonl means "no validation" (mlx-lm fails on an empty file) and blank lines
    are skipped."""
    from mlx_lm.tuner.datasets import CacheDataset, create_dataset

    def load(name: str):
        path = Path(folder) / f"{name}.jsonl"
        if not path.exists():
            return None
        try:
            rows = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
            return CacheDataset(create_dataset(rows, tokenizer, types.SimpleNamespace(mask_prompt=cfg.mask_prompt))) \
                if rows else None
        except (ValueError, KeyError) as e:  # json.JSONDecodeError is a ValueError
            raise BrieError(f"{path}: cannot read the training data ({e})") from None

    train = load("train")
    if train is None:
        raise BrieError(f"{folder}/train.jsonl: no examples")
    return train, load("valid")


def load_guard(path: Path, tokenizer):
    from mlx_lm.tuner.datasets import CacheDataset, create_dataset

    rows = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
    if not rows:
        raise BrieError(f"{path}: the forgetting-guard set is empty")
    return CacheDataset(create_dataset(rows, tokenizer, types.SimpleNamespace(mask_prompt=False)))
