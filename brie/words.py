"""Words in messages: counts that read right ("1 prompt", "2 prompts")."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 prompt', '2 prompts', '0 prompts'; `many` for irregular plurals ('1 reply', '2 replies')."""
    if n == 1:
        return f"{n} {word}"
    if many is None:
        many = word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"
    return f"{n} {many}"
