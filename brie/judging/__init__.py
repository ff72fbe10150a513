"""Judging: blind A/B comparisons and single-answer grading by LLM judges, and human verdicts.

Modules (importing this package imports none of them, and no SDK):
  base          the contract: JudgeSpec, Reply, the Provider base class, brie's judge errors
  providers/    one Provider per kind of judge name (anthropic, openai, openai-compatible, and local:
                an MLX model in-process, read from its token probabilities) and the PROVIDERS
                registry; each wraps its SDK and translates the SDK's exceptions
  judges        the judge table: judges.toml loading, parse_judge, local_judge, missing_key, connect
  prompts       the system templates (named, versioned) and the prompt builders
  verdicts      verdict and rating parsing, the position→model mapping (to_verdict)
  tasks         one pairwise judgment to ask: pending ones, prompt, expected cost, storing the answer
  loop          the concurrent judging loop
  batch         the Message Batches loop, and the stored batches: list_batches, cancel_batch
  workflows     compare, grade, make_comparisons, judge_comparisons, api_judges
  human         the blind session's side: pending_for_human, record_/undo_human_verdict
  stats         win rates with intervals, position bias, swap consistency, judge agreement
  ranking       Bradley–Terry fit and clustered bootstrap, length-controlled win rate, the betting
                confidence sequence behind --until-clear (pure statistics)
  rank          `brie rank` (schedule, judge through workflows, fit) and `runs recommend --by judged`
  local_server  mlx_lm.server as a local OpenAI-compatible judge
"""
