"""Datasets: import (validate, normalize, dedupe, split, sample), report, and look-up.

`import_dataset` streams the source three times through files on disk, so memory stays flat however
big the file is:

1. read → validate → normalize → drop exact duplicates (a disk-backed set) → staged rows on disk;
   rejected lines go to rejected.jsonl as they come;
2. split (unless the source came split) and sample the training rows, both by sequential selection
   with the seed, so the counts are exact — `--sample-ratio 0.25` of 1,000 training rows is 250 —
   and the split does not depend on the ratio (the same seed gives the same valid/test rows);
3. drop from valid/test the rows that also appear in train after whitespace/case normalization.

The result is `data/<name>/` (later versions: `data/<name>/v<N>/`) with train/valid/test.jsonl that
`mlx_lm.lora --data` loads, report.json, and rejected.jsonl when lines were skipped. A dataset is
registered with the sha256 of its split files: the same content again is a no-op; other content
under the same name needs `replace=True`, which adds a version and keeps the old one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from brie.models.specs import sha256_file
from brie.data.normalize import INPUT_FORMATS, Fields, Normalizer, RowError
from brie.data.read import SURROGATE, DataError, Notes, Record, open_source
from brie.store import datasets as dataset_rows
from brie.store.scratch import DiskSet
from brie.words import plural
from brie.workspace import Workspace

SPLITS = ("train", "valid", "test")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SHOW_FIRST = 10  # how many examples of each problem a message or report lists

__all__ = ["DataError", "ImportOptions", "ImportResult", "import_dataset", "import_from_judgments", "get_dataset",
           "list_datasets"]


@dataclass
class ImportOptions:
    format: str = field(default="auto", metadata={"help": "auto, chat, completions, text, alpaca or sharegpt."})
    fields: Fields = field(default_factory=Fields, metadata={"help": "Which source field holds what."})
    valid_fraction: float = field(default=0.1, metadata={"help": "Share of rows held out for validation."})
    test_fraction: float = field(default=0.1, metadata={"help": "Share of rows held out for testing."})
    seed: int = field(default=0, metadata={"help": "Seed for the split and the sample."})
    sample_ratio: float = field(default=1.0, metadata={"help": "Share of the training rows kept (0 < r ≤ 1)."})
    max_seq_length: int | None = field(default=None, metadata={"help": "Count rows longer than this many tokens."})
    model: str | None = field(default=None, metadata={"help": "Model whose tokenizer and chat template count tokens."})
    on_error: str = field(default="fail", metadata={"help": "fail: write nothing; skip: keep good rows, log the rest."})
    replace: bool = field(default=False, metadata={"help": "Add a new version when the name holds other content."})
    max_line_bytes: int = field(default=1 << 20, metadata={"help": "Longest accepted JSONL line, in bytes."})

    def check(self) -> None:
        if self.format != "auto" and self.format not in INPUT_FORMATS:
            raise DataError(f"--format {self.format!r}: expected auto, {', '.join(INPUT_FORMATS)}")
        if self.on_error not in ("fail", "skip"):
            raise DataError(f"--on-error {self.on_error!r}: expected fail or skip")
        for label, v in (("--valid-fraction", self.valid_fraction), ("--test-fraction", self.test_fraction)):
            if not 0 <= v < 1:
                raise DataError(f"{label} {v}: expected a number from 0 up to (not including) 1")
        if self.valid_fraction + self.test_fraction >= 1:
            raise DataError(f"--valid-fraction {self.valid_fraction} + --test-fraction {self.test_fraction} "
                            "leave no training rows")
        if not 0 < self.sample_ratio <= 1:
            raise DataError(f"--sample-ratio {self.sample_ratio}: expected 0 < ratio ≤ 1")
        if self.max_seq_length is not None and self.model is None:
            raise DataError("--max-seq-length needs --model: tokens are counted with that model's tokenizer")


@dataclass
class ImportResult:
    dataset: dict  # the store row (latest, or the identical one already there)
    created: bool  # False when identical content was already imported
    message: str
    report: dict


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _leak_key(texts: list[str]) -> str:
    """Whitespace- and case-insensitive identity of a row, for leakage between splits."""
    return _digest("\x1f".join(" ".join(t.split()).casefold() for t in texts)).hex()


class _Rejects:
    """Rejected lines: counted by reason, the first few kept for messages, all written unchanged."""

    def __init__(self, path: Path):
        self.file = path.open("w", encoding="utf-8")
        self.count = 0
        self.by_reason: dict[str, int] = {}
        self.first: list[str] = []

    def add(self, rec: Record, kind: str, reason: str) -> None:
        self.count += 1
        self.by_reason[kind] = self.by_reason.get(kind, 0) + 1
        if len(self.first) < SHOW_FIRST:
            self.first.append(f"{rec.where}: {reason}")
        out = {"where": rec.where, "file": rec.file, "line": rec.line, "reason": reason}
        if rec.raw is not None:
            # The line exactly as read (without its "\n"); bytes that are not UTF-8 go as base64.
            try:
                out["raw"] = rec.raw.decode("utf-8")
            except UnicodeDecodeError:
                out["raw_base64"] = base64.b64encode(rec.raw).decode("ascii")
        if rec.value is not None and (rec.raw is None or rec.cells):
            out["record"] = rec.value  # a JSONL line's raw already is its record; CSV cells add the column names
        line = json.dumps(out, ensure_ascii=False, default=str)
        if SURROGATE.search(line):  # text UTF-8 cannot hold: written as \u escapes, as JSON sources spell it
            line = json.dumps(out, default=str)
        self.file.write(line + "\n")

    def close(self) -> None:
        self.file.close()


class _Lengths:
    """Exact min/median/p95/max from a histogram of lengths (bounded by the longest row, not the count)."""

    def __init__(self):
        self.hist: dict[int, int] = {}

    def add(self, n: int) -> None:
        self.hist[n] = self.hist.get(n, 0) + 1

    def summary(self) -> dict:
        total = sum(self.hist.values())
        if not total:
            return {"rows": 0}
        keys = sorted(self.hist)

        def quantile(q: float) -> int:
            rank, seen = max(1, math.ceil(q * total)), 0  # nearest-rank
            for k in keys:
                seen += self.hist[k]
                if seen >= rank:
                    return k
            return keys[-1]

        return {"rows": total, "min": keys[0], "median": quantile(0.5), "p95": quantile(0.95), "max": keys[-1]}

    def over(self, limit: int) -> int:
        return sum(c for k, c in self.hist.items() if k > limit)


def _token_counter(ws: Workspace, model: str, fmt: str) -> Callable[[dict], int]:
    """Tokens of a normalized row as mlx-lm's tuner makes them: the chat template for chat and completions."""
    from transformers import AutoTokenizer

    from brie.errors import ModelError
    from brie.models.registry import resolve_model

    target = resolve_model(ws if ws.exists else None, model)
    try:
        tok = AutoTokenizer.from_pretrained(target)
    except Exception as e:  # transformers raises many kinds; the user needs the one line
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ModelError(f"cannot load the tokenizer of {model!r}: {first}") from None
    if fmt == "text":
        def count(row: dict) -> int:
            ids = tok.encode(row["text"])
            return len(ids) + (not ids or ids[-1] != tok.eos_token_id)
        return count
    if not getattr(tok, "chat_template", None):
        raise DataError(f"{model}: its tokenizer has no chat template, so {fmt} rows cannot be counted")

    def count(row: dict) -> int:
        if "chosen" in row:  # a preference pair: its longer side, as the trainer sees it
            return max(len(tok.apply_chat_template([{"role": "user", "content": row["prompt"]},
                                                    {"role": "assistant", "content": row[k]}],
                                                   tokenize=True, return_dict=False)) for k in ("chosen", "rejected"))
        messages = row.get("messages") or [{"role": "user", "content": row["prompt"]},
                                           {"role": "assistant", "content": row["completion"]}]
        return len(tok.apply_chat_template(messages, tokenize=True, return_dict=False))
    return count


def _content_sha(folder: Path) -> tuple[str, dict[str, str]]:
    """sha256 over the split files in a fixed order (name, then that file's sha256); absent = empty split."""
    files = {f"{s}.jsonl": sha256_file(folder / f"{s}.jsonl") for s in SPLITS if (folder / f"{s}.jsonl").exists()}
    h = hashlib.sha256()
    for name, sha in files.items():
        h.update(f"{name} {sha}\n".encode())
    return h.hexdigest(), files


def import_dataset(ws: Workspace, source: str, name: str, options: ImportOptions | None = None,
                   progress: Callable[[str], None] | None = None, label: str | None = None,
                   extra: dict | None = None) -> ImportResult:
    """Import `source` as dataset `name`; see the module docstring. Raises DataError on bad input.

    `label` names the source in messages and the record instead of its path (a file brie wrote
    itself); `extra` is added to the report."""
    opts = options or ImportOptions()
    opts.check()
    say = progress or (lambda _msg: None)
    if not NAME.match(name):
        raise DataError(f"dataset name {name!r}: use letters, digits, '.', '_' or '-' (not starting with them)")
    kind, parts = open_source(source, opts.max_line_bytes)
    ws.data_dir.mkdir(parents=True, exist_ok=True)
    staging = ws.data_dir / f".import-{name}-{random.randrange(1 << 32):08x}"
    staging.mkdir()
    try:
        return _import(ws, label or source, name, opts, kind, parts, staging, say, extra or {})
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def import_from_judgments(ws: Workspace, name: str, options: ImportOptions | None = None,
                          suite: str | None = None, judge: str | None = None,
                          progress: Callable[[str], None] | None = None) -> ImportResult:
    """A preference dataset (prompt/chosen/rejected) from the verdicts in the store.

    The pairs are `brie export dpo`'s (the same consensus rules: ties, disagreements and multi-turn
    prompts skipped and counted), each with its judges, comparisons and the checkpoint identity of
    both answers; then the usual import (split, leakage, versions). The report's `verdicts` says how
    many pairs were kept and why the others were skipped."""
    from brie.export.judged import dpo_pairs

    opts = options or ImportOptions()
    opts.format = "preference"
    pairs, counts = dpo_pairs(ws, suite, judge, nothing="no preference pairs to import")
    # A file of its own name in a folder of its own: messages then say "judgments.jsonl line 3".
    folder = ws.data_dir / f".judgments-{name}-{random.randrange(1 << 32):08x}"
    folder.mkdir(parents=True)
    tmp = folder / "judgments.jsonl"
    try:
        tmp.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
        label = "judgments" + "".join(f" {k}={v}" for k, v in (("suite", suite), ("judge", judge)) if v)
        return import_dataset(ws, str(tmp), name, opts, progress, label=label,
                              extra={"verdicts": {**counts, "suite": suite, "judge": judge,
                                                  "rule": "export dpo's consensus: one pair per prompt and pair of "
                                                          "answers when every judge picked the same answer"}})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _import(ws, source, name, opts, kind, parts, staging: Path, say, extra: dict) -> ImportResult:
    presplit = parts[0].split is not None
    notes = Notes()
    norm = Normalizer(opts.format, opts.fields, notes)
    out = staging / "out"
    out.mkdir()
    rejects = _Rejects(out / "rejected.jsonl")
    seen = DiskSet(staging / "seen.db")
    duplicates, dup_first, read = 0, [], 0
    unique = {s: 0 for s in SPLITS} if presplit else {"": 0}

    # Pass 1: read, validate, normalize, drop exact duplicates (within a split when the source is split).
    with (staging / "staged.tsv").open("w", encoding="utf-8") as staged:
        for part in parts:
            say(f"Reading {part.name}…")
            tag = part.split or ""
            for rec in part.records(notes):
                read += 1
                if rec.error is not None:
                    rejects.add(rec, rec.kind or "invalid", rec.error)
                    continue
                try:
                    row, texts = norm.normalize(rec.value, rec.where)
                except RowError as e:
                    rejects.add(rec, e.kind, str(e))
                    continue
                line = json.dumps(row, ensure_ascii=False)
                first = seen.add(_digest(tag + "\x00" + line), rec.where)
                if first is not None:
                    duplicates += 1
                    if len(dup_first) < SHOW_FIRST:
                        dup_first.append(f"{rec.where} repeats {first}")
                    continue
                unique[tag] += 1
                chars = sum(len(t) for t in texts)
                staged.write(f"{tag}\t{_leak_key(texts)}\t{chars}\t{rec.where.replace(chr(9), ' ')}\t{line}\n")
    seen.close()
    rejects.close()

    if rejects.count and opts.on_error == "fail":
        shown = "\n  ".join(rejects.first)
        more = rejects.count - len(rejects.first)
        raise DataError(
            f"{source}: {rejects.count} of {plural(read, 'row')} rejected; nothing was written "
            f"(--on-error skip imports the good rows and keeps the rejected lines in rejected.jsonl):\n  {shown}"
            + (f"\n  … and {more} more" if more > 0 else "")
        )
    total_unique = sum(unique.values())
    if total_unique == 0:
        why = "".join(f"\n  {line}" for line in rejects.first)
        raise DataError(f"{source}: no usable rows ({read} read, {rejects.count} rejected, "
                        f"{plural(duplicates, 'duplicate')})"
                        + (f"; nothing was written. First rejects:{why}" if why else ""))

    # How many rows go where: exact counts, drawn by sequential selection (each row is picked with
    # probability needed/remaining), so no count drifts and memory holds only counters.
    if presplit:
        quota = dict(unique)
    else:
        n = unique[""]
        n_test = round(n * opts.test_fraction)
        n_valid = round(n * opts.valid_fraction)
        if opts.valid_fraction > 0 and n_valid == 0 and n - n_test >= 2:
            n_valid = 1  # mlx_lm.lora needs at least one validation row to train
        quota = {"train": n - n_valid - n_test, "valid": n_valid, "test": n_test}
    train_total = quota["train"]
    train_keep = round(train_total * opts.sample_ratio)
    if train_total and train_keep == 0:
        train_keep = 1
    split_rng = random.Random(f"brie-split-{opts.seed}")
    sample_rng = random.Random(f"brie-sample-{opts.seed}")

    # Pass 2: split, sample the training rows, and remember every training row's leakage key.
    say("Splitting and sampling…")
    lengths = {s: _Lengths() for s in SPLITS}
    counter = _token_counter(ws, opts.model, norm.output_format) if opts.model else None
    tokens = {s: _Lengths() for s in SPLITS}
    train_keys = DiskSet(staging / "train_keys.db")
    need = dict(quota)
    train_left, keep_left = train_total, train_keep
    written = {s: 0 for s in SPLITS}
    files = {s: (out / f"{s}.jsonl").open("w", encoding="utf-8") for s in ("train",)}
    held = {s: (staging / f"{s}.held").open("w", encoding="utf-8") for s in ("valid", "test")}
    with (staging / "staged.tsv").open("r", encoding="utf-8") as staged:
        for line in staged:
            tag, key, chars, where, row = line.rstrip("\n").split("\t", 4)
            if tag:
                split = tag
            else:
                left = need["train"] + need["valid"] + need["test"]
                u = split_rng.random() * left
                split = "test" if u < need["test"] else "valid" if u < need["test"] + need["valid"] else "train"
                need[split] -= 1
            if split != "train":
                held[split].write(f"{key}\t{chars}\t{where}\t{row}\n")
                continue
            train_keys.add(bytes.fromhex(key), where)
            keep = sample_rng.random() * train_left < keep_left
            train_left -= 1
            if keep:
                keep_left -= 1
                files["train"].write(row + "\n")
                written["train"] += 1
                lengths["train"].add(int(chars))
                if counter:
                    tokens["train"].add(counter(json.loads(row)))
    files["train"].close()
    for f in held.values():
        f.close()

    # Pass 3: valid/test rows that repeat a training row (whitespace/case aside) are leakage: removed.
    leaked = {"valid": 0, "test": 0}
    leak_first: list[str] = []
    for split in ("valid", "test"):
        with (staging / f"{split}.held").open("r", encoding="utf-8") as src, \
                (out / f"{split}.jsonl").open("w", encoding="utf-8") as dst:
            for line in src:
                key, chars, where, row = line.rstrip("\n").split("\t", 3)
                first = train_keys.get(bytes.fromhex(key))
                if first is not None:
                    leaked[split] += 1
                    if len(leak_first) < SHOW_FIRST:
                        leak_first.append(f"{where} ({split}) matches train row {first}")
                    continue
                dst.write(row + "\n")
                written[split] += 1
                lengths[split].add(int(chars))
                if counter:
                    tokens[split].add(counter(json.loads(row)))
    train_keys.close()

    # mlx-lm reads a split file that exists but is empty as an error; an absent one is an empty split.
    for s in SPLITS:
        if written[s] == 0:
            (out / f"{s}.jsonl").unlink()
    sha, file_shas = _content_sha(out)
    existing = dataset_rows.find_by_sha(ws.store, name, sha)
    if existing is not None:
        return ImportResult(located(ws, existing), False, f"Dataset {name} v{existing['version']} already holds identical "
                                             f"content (sha256 {sha[:12]}); nothing imported.",
                            json.loads(existing["report_json"] or "{}"))
    latest = dataset_rows.get_dataset(ws.store, name)
    if latest is not None and not opts.replace:
        was = {"source": latest["source"], "sample ratio": latest["sample_ratio"], "seed": latest["seed"]}
        now = {"source": source, "sample ratio": opts.sample_ratio, "seed": opts.seed}
        changed = [f"{k} {was[k]} → {now[k]}" for k in was if str(was[k]) != str(now[k])]
        why = ", ".join(changed) if changed else "the same source and settings, but the file's rows changed"
        raise DataError(f"dataset {name!r} already exists as v{latest['version']} and this import gives other rows "
                        f"({why}); pass --replace to add it as v{latest['version'] + 1} (v{latest['version']} stays)")
    version = dataset_rows.next_version(ws.store, name)
    final = ws.data_dir / name if version == 1 else ws.data_dir / name / f"v{version}"
    if final.exists() and any(p.name.endswith(".jsonl") for p in final.iterdir()):
        raise DataError(f"{final} already holds files that no dataset in brie.db owns; move them away first")

    all_lengths = _Lengths()
    all_tokens = _Lengths()
    for s in SPLITS:
        for k, c in lengths[s].hist.items():
            all_lengths.hist[k] = all_lengths.hist.get(k, 0) + c
        for k, c in tokens[s].hist.items():
            all_tokens.hist[k] = all_tokens.hist.get(k, 0) + c
    token_report = None
    if counter:
        token_report = {"model": opts.model, **all_tokens.summary(), "max_seq_length": opts.max_seq_length}
        if opts.max_seq_length:
            token_report["over_max_seq_length"] = {s: tokens[s].over(opts.max_seq_length) for s in SPLITS}
    warnings = []
    if written["valid"] == 0:
        warnings.append("valid.jsonl is empty: brie train will run without validation loss (best checkpoint = "
                        "the last one, no early stopping); plain mlx_lm.lora refuses to train without it")
    if written["train"] < 4:
        warnings.append(f"only {plural(written['train'], 'training row')}")
    report = {
        "name": name, "version": version, "source": source, "source_kind": kind,
        "input_format": norm.fmt, "format": norm.output_format, "sha256": sha, "files": file_shas,
        "rows": {"read": read, "rejected": rejects.count, "duplicates": duplicates,
                 "leaked": leaked["valid"] + leaked["test"], "unique": total_unique, **written},
        "split": {"given_by_source": presplit, "valid_fraction": None if presplit else opts.valid_fraction,
                  "test_fraction": None if presplit else opts.test_fraction, "seed": opts.seed},
        "sample": {"ratio": opts.sample_ratio, "seed": opts.seed, "applies_to": "train",
                   "train_rows_before": train_total, "train_rows_after": written["train"]},
        "normalizations": notes.items,
        "extra_fields_dropped": norm.extra_fields,
        "rejected": {"count": rejects.count, "by_reason": rejects.by_reason, "first": rejects.first,
                     "file": "rejected.jsonl" if rejects.count else None},
        "duplicates": {"count": duplicates, "first": dup_first},
        "leakage": {"count": leaked["valid"] + leaked["test"], "removed_from": leaked, "first": leak_first,
                    "rule": "valid/test rows equal to a train row after whitespace and case normalization"},
        "lengths_chars": all_lengths.summary(),
        "lengths_tokens": token_report,
        "warnings": warnings,
        "path": str(final),
        **extra,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if not rejects.count:
        (out / "rejected.jsonl").unlink()
    final.mkdir(parents=True, exist_ok=True)
    moved = []
    for f in out.iterdir():
        f.replace(final / f.name)
        moved.append(final / f.name)
    try:
        row = dataset_rows.insert_dataset(ws.store, {
            "name": name, "version": version, "sha256": sha, "format": norm.output_format, "source": source,
            "path": ws.stored_path(final), "sample_ratio": opts.sample_ratio, "seed": opts.seed,
            "rows_train": written["train"], "rows_valid": written["valid"], "rows_test": written["test"],
            "report_json": json.dumps(report, ensure_ascii=False),
        })
    except sqlite3.IntegrityError:
        # Another import registered this name and version meanwhile: leave its files, drop ours.
        for f in moved:
            f.unlink(missing_ok=True)
        raise DataError(f"dataset {name!r} v{version} was registered by another import meanwhile; "
                        "run the import again") from None
    return ImportResult(located(ws, row), True, f"Imported dataset {name} v{version}: {describe_counts(row)}.", report)


def describe_counts(row: dict) -> str:
    """The one line shown wherever a dataset is shown: splits, sample ratio and seed, never apart."""
    ratio = row.get("sample_ratio")
    sample = "all training rows" if ratio in (None, 1, 1.0) else f"sample {ratio:g} of training rows"
    return (f"{row['rows_train']} train / {row['rows_valid']} valid / {row['rows_test']} test "
            f"({sample}, seed {row['seed']})")


def get_dataset(ws: Workspace, name: str, version: int | None = None) -> dict:
    """The dataset row (latest version by default), with its report parsed under "report"."""
    row = dataset_rows.get_dataset(ws.store, name, version)
    if row is None:
        which = f"{name!r} version {version}" if version is not None else repr(name)
        raise DataError(f"no dataset {which} (see `brie data list`)")
    return {**located(ws, row), "report": json.loads(row["report_json"] or "{}")}


def list_datasets(ws: Workspace, all_versions: bool = False) -> list[dict]:
    return [located(ws, row) for row in dataset_rows.list_datasets(ws.store, all_versions)]


def located(ws: Workspace, row: dict) -> dict:
    """The row with its folder as a full path here (the store keeps it relative to the workspace)."""
    return {**row, "path": str(ws.path_of(row["path"]))}
