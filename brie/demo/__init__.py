"""`brie demo`: the whole loop on the embedded model, offline.

Modules:
  steps         the demo's steps, each a function of (workspace, say)
  data          the demo's training rows and prompt suites (the .jsonl files beside it)
"""
