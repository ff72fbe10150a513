"""On what evidence a run's checkpoint is recommended (issue 16).

`runs.recommended_by` says who chose (auto: follows the lowest validation loss; user: `brie runs
recommend RUN STEP`; judged: `brie runs recommend RUN --by judged`); `recommended_evidence` holds,
as JSON text, what the choice rested on when it was not the validation loss: for `judged`, the suite,
judge, Bradley–Terry score and interval, rank and win rate against the base. NULL otherwise.
"""


def up(db):
    db["runs"].add_column("recommended_evidence", str)
