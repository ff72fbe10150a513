"""What leaves the workspace, under exports/.

Modules:
  judged        judged JSONL, the results table as CSV, DPO pairs from the judges' consensus
  model         a checkpoint fused into a standalone model (mlx-lm's fuse)
  report        exports/<run>/report.md: what a run learned and what it forgot, with caveats
  experiments   one row per run and evaluation (brie experiments)
  plots         loss curves and eval sweeps as PNG
"""
