"""The judge table: judge names, models and prices (judges.toml), and a client for a judge.

A judge is named `<kind>:<model>` for a kind in brie.judging.providers.PROVIDERS
(`anthropic:<model>`, `openai:<model>`, `openai-compatible:<model>@<base-url>` for a local server
such as `mlx_lm.server`, LM Studio or Ollama), or `human:<name>` (verdicts given in the UI).

Models and prices live in brie/judging/judges.toml (a workspace's own judges.toml beside brie.db
overrides entries). API keys are read by the SDKs from the environment and never pass through
brie's own code, so they cannot reach the store, logs or exports. The SDKs' own
ANTHROPIC_BASE_URL / OPENAI_BASE_URL are honored.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from brie.judging.base import JudgeError, JudgeSpec, Provider
from brie.judging.providers import PROVIDERS

TABLE_FILE = Path(__file__).with_name("judges.toml")
HUMAN = "human"  # verdicts given in the UI's blind session, not through an API


def load_table(ws=None) -> dict:
    table = tomllib.loads(TABLE_FILE.read_text())
    table["default_from"] = "brie/judging/judges.toml"  # named when a missing key stops the default judge
    if ws is not None and (ws.root / "judges.toml").exists():
        own = tomllib.loads((ws.root / "judges.toml").read_text())
        table["models"] = {**table.get("models", {}), **own.get("models", {})}
        table["providers"] = {**table.get("providers", {}), **own.get("providers", {})}
        if "default" in own:
            table["default"], table["default_from"] = own["default"], str(ws.root / "judges.toml")
    return table


def parse_judge(name: str, ws=None, warn=None) -> JudgeSpec:
    """A JudgeSpec for a name, or a JudgeError saying what is wrong and what is known."""
    name = name.strip()
    kind, sep, rest = name.partition(":")
    if not sep or kind not in (*PROVIDERS, HUMAN) or not rest:
        forms = ", ".join(cls.name_form for cls in PROVIDERS.values())
        raise JudgeError(f"judge {name!r}: write {forms} or {HUMAN}:<name>")
    if kind == HUMAN:
        return JudgeSpec(name=name, provider=HUMAN, model=rest)
    provider = PROVIDERS[kind]
    table = load_table(ws)
    prices = table.get("models", {}).get(provider.price_key(name))
    mult = table.get("providers", {}).get(provider.prices_row or kind, {})
    model, base_url = provider.parse_name(name, rest)
    if prices is None and provider.free_when_unlisted:
        prices = {"input": 0.0, "output": 0.0}  # a local server costs nothing per token
    elif prices is None:
        known = ", ".join(k for k in table.get("models", {}) if k.startswith(kind + ":"))
        raise JudgeError(f"judge {name!r}: unknown model (known: {known}); add it with its prices "
                         f"to {ws.root / 'judges.toml' if ws else TABLE_FILE}")
    spec = JudgeSpec(name=name, provider=kind, model=model, base_url=base_url,
                     input_price=float(prices.get("input", 0)), output_price=float(prices.get("output", 0)),
                     cache_read=float(mult.get("cache_read", 1)), cache_write=float(mult.get("cache_write", 1)),
                     batch=float(mult.get("batch", 1)), deprecated=prices.get("deprecated"))
    if spec.deprecated and warn:
        warn(f"judge {name} is deprecated: {spec.deprecated}")
    return spec


def local_judge(name: str, base_url: str, model: str = "default_model") -> JudgeSpec:
    """An OpenAI-compatible judge on a local server whose URL changes from run to run (a port picked
    when the server starts), under a name that does not: judgments are stored under the judge's name,
    so with the URL in it every restart would be a new judge and nothing stored would be reused.
    `model` is what the server is asked for (`mlx_lm.server` serves its --model as "default_model")."""
    if not name.startswith("openai-compatible:") or "@" in name:
        raise JudgeError(f"judge {name!r}: a local judge's stable name is openai-compatible:<name>, without @<url>")
    return JudgeSpec(name=name, provider="openai-compatible", model=model, base_url=base_url)


def missing_key(spec: JudgeSpec) -> str | None:
    """The environment variable this judge's SDK needs and does not have, else None.

    Checked up front (see `brie.judging.workflows.api_judges`) so that a missing key stops a
    comparison before minutes of generation, not after. A local openai-compatible server needs no key.
    """
    provider = PROVIDERS.get(spec.provider)
    return provider.missing_key() if provider else None


def not_an_api_judge(spec: JudgeSpec) -> JudgeError:
    return JudgeError(f"judge {spec.name}: human verdicts are given in the UI (`brie`, then the blind session), "
                      "not through an API")


def connect(spec: JudgeSpec, max_retries: int = 4, timeout: float = 120.0, max_tokens: int = 1024) -> Provider:
    """A client for an API judge: its provider's class, holding one SDK client."""
    provider = PROVIDERS.get(spec.provider)
    if provider is None:
        raise not_an_api_judge(spec)
    return provider(spec, max_retries=max_retries, timeout=timeout, max_tokens=max_tokens)
