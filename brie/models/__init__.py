"""Models: the registry of base models (registry), the embedded GGUF's conversion (gguf), and
`base` / `run@step` specs resolved to a checkpoint identity (specs)."""
