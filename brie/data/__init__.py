"""Training data and prompt suites: read files of any supported format (read), turn rows into mlx-lm's
formats (normalize), import them as versioned datasets (datasets), and prompt suites for judging (suites)."""
