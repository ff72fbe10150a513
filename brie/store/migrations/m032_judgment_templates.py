"""Template identity for judgments and single-answer scores (issue 13).

Each answer records the template set it was asked with (`template_sha256`, see
brie.judging.prompts.template_sha256) and the sha256 of the exact prompt text sent (`prompt_sha256`,
prompts.prompt_sha256). A stored answer is reused only for the same exact prompt, so a changed
template asks again, and a new prompt starts again at attempt 1: the unique index takes the prompt
hash in. Rows stored before this migration keep NULL in both (their prompt is unknown; results show
them as "<template>@unknown"); a row with no template name gets "unknown".
"""


def up(db):
    for table in ("judgments", "scores"):
        db[table].add_column("template_sha256", str)
        db[table].add_column("prompt_sha256", str)
        db.execute(f"update {table} set template = 'unknown' where template is null")
    # coalesce: rows without a prompt hash (human verdicts, older rows) stay unique as before
    db.execute("drop index if exists idx_judgments_comparison_id_judge_pass_attempt")
    db.execute("create unique index idx_judgments_identity on judgments "
               "(comparison_id, judge, pass, coalesce(prompt_sha256, ''), attempt)")
    db.execute("drop index if exists idx_scores_generation_id_judge_attempt")
    db.execute("create unique index idx_scores_identity on scores "
               "(generation_id, judge, coalesce(prompt_sha256, ''), attempt)")
