"""Verdict probabilities for judgments and scores (issue 15).

A judge that exposes token probabilities (a `local:` MLX judge, an API judge asked for logprobs)
stores them beside its discrete answer, as JSON text: for a pairwise judgment the probabilities of
the next token being each shown position, {"A": pa, "B": pb, "C": pc} normalised over the three
(positions as shown, mapped to models through `shown_first` like every verdict); for a score,
{"1": p1, …, "10": p10}. NULL for judges that return text only.
"""


def up(db):
    for table in ("judgments", "scores"):
        db[table].add_column("probabilities", str)
