"""Training runs: the run lifecycle (runner), config, and one module per engine (mlx_engine, torch_engine)."""
