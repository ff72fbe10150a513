"""brie: a local-first fine-tuning workbench (core). The core never imports the UI."""

__version__ = "0.1.0"
