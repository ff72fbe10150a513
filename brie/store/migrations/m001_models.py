"""Models the workspace knows, and the doctor's reports."""


def up(db):
    db["models"].create(
        {
            "name": str,  # what the user types: "smollm2-135m-instruct", "qwen-0.5b"
            "source": str,  # the HF id or the local path it was added from
            "path": str,  # local folder to load from; null for a hub id not yet downloaded
            "kind": str,  # embedded | local | hf
            "added_at": str,
        },
        pk="name",
    )
    db["doctor_reports"].create({"id": int, "at": str, "report_json": str}, pk="id")
