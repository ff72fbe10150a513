"""Judge providers: one class per kind of judge name, each in its own module, each wrapping one SDK.

Adding a provider: a module here with a `brie.judging.base.Provider` subclass (its kind, key
variable, client, `send` and `translate`), one entry in PROVIDERS below, and its models and
prices in brie/judging/judges.toml. `local` runs an MLX model in-process and reads its verdict from
the next token's probabilities. Importing this package imports no SDK and no MLX: each provider
imports its own when a client is made.
"""

from __future__ import annotations

from brie.judging.base import Provider
from brie.judging.providers.anthropic import AnthropicJudge
from brie.judging.providers.local import LocalJudge
from brie.judging.providers.openai import OpenAICompatibleJudge, OpenAIJudge

PROVIDERS: dict[str, type[Provider]] = {cls.kind: cls for cls in (AnthropicJudge, OpenAIJudge, OpenAICompatibleJudge,
                                                                    LocalJudge)}


def key_vars() -> tuple[str, ...]:
    """The API key variables the providers read, in registry order (what `brie doctor` reports)."""
    return tuple(dict.fromkeys(cls.key_env for cls in PROVIDERS.values() if cls.key_env))
