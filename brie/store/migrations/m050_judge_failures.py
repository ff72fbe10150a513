"""Judge requests that failed, with the reason (issue 18).

A failed request (an HTTP error after the SDK's retries, an unreachable server, a reply that could
not be read at all) stores no judgment, so a rerun asks again; until now its reason lived only on
the screen of the run that met it. Each failure is kept here, one row per request sent, so "12 failed"
can be explained later (`brie.store.judging.judge_failures`); the requests a run never sent, once it
found the server unreachable, are counted as failed but have no row.
"""


def up(db):
    db["judge_failures"].create(
        {
            "id": int,
            "comparison_id": int,
            "judge": str,
            "pass": int,  # 0, or 1 for the swapped order
            "shown_first": str,
            "error": str,  # brie's one-line message for the failure
            "failed_at": str,
        },
        pk="id",
        not_null={"comparison_id", "judge", "pass", "error"},
        foreign_keys=[("comparison_id", "comparisons", "id")],
    )
    db["judge_failures"].create_index(["judge", "comparison_id"])
