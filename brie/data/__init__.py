"""Training data and prompt suites.

Modules:
  read          readers for JSONL, JSON, CSV/TSV, Parquet and hub datasets, with line-exact errors
  normalize     rows of any supported shape into mlx-lm's chat, completions or text format, or
                preference pairs (prompt/chosen/rejected) for DPO/ORPO
  datasets      import_dataset (validate, normalize, dedupe, split, sample, report),
                import_from_judgments (preference pairs from the stored verdicts) and look-ups
  suites        prompt suites for generation and judging (brie's JSONL, MT-Bench's format)
"""
