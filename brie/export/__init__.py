"""What leaves the workspace: judged JSONL, CSV and DPO pairs (judged), fused models (model), reports,
the experiments table and plots."""
