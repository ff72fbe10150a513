"""Run lifecycle details the training process needs: why it stopped, where it ran, what data it got."""


def up(db):
    runs = db["runs"]
    runs.add_column("stop_reason", str)  # e.g. "early stopping: no better val loss in 3 evaluations"
    runs.add_column("host", str)  # the machine whose pid this is: only that machine may reap the run
    runs.add_column("data", str)  # the --data as given (a dataset name, or a folder path)
    runs.add_column("recommended_by", str)  # auto (follows best) | user (`brie runs recommend`)
    runs.add_column("warnings", str)  # JSON list of warnings raised during training (forgetting guard)
