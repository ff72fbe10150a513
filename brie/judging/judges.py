"""Judges: who answers the judging prompts, what they cost, and how to call them.

A judge is named `anthropic:<model>` (the anthropic SDK), `openai:<model>` (the openai SDK),
`openai-compatible:<model>@<base-url>` (the openai SDK against a local server such as
`mlx_lm.server`, LM Studio or Ollama) or `human:<name>` (verdicts given in the UI).

Models and prices live in brie/judging/judges.toml (a workspace's own judges.toml beside brie.db
overrides entries). API keys are read by the SDKs from the environment and never pass through
brie's own code, so they cannot reach the store, logs or exports. The SDKs' own
ANTHROPIC_BASE_URL / OPENAI_BASE_URL are honored.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from brie.errors import BrieError

PROVIDERS = ("anthropic", "openai", "openai-compatible", "human")
TABLE_FILE = Path(__file__).with_name("judges.toml")


class JudgeError(BrieError):
    """A judge that cannot be used as named (unknown model, no key, bad URL)."""


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


@dataclass(frozen=True)
class JudgeSpec:
    name: str  # as typed, and as stored in every judgment: "anthropic:claude-sonnet-5-5"
    provider: str
    model: str
    base_url: str | None = None
    input_price: float = 0.0  # USD per million tokens
    output_price: float = 0.0
    cache_read: float = 1.0  # multipliers on the input price
    cache_write: float = 1.0
    batch: float = 1.0
    deprecated: str | None = None

    def cost(self, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0,
             cache_write_tokens: int = 0, batched: bool = False) -> float:
        usd = (input_tokens * self.input_price + output_tokens * self.output_price
               + cache_read_tokens * self.input_price * self.cache_read
               + cache_write_tokens * self.input_price * self.cache_write) / 1e6
        return round(usd * (self.batch if batched else 1.0), 8)


def parse_judge(name: str, ws=None, warn=None) -> JudgeSpec:
    """A JudgeSpec for a name, or a JudgeError saying what is wrong and what is known."""
    name = name.strip()
    provider, sep, rest = name.partition(":")
    if not sep or provider not in PROVIDERS or not rest:
        raise JudgeError(f"judge {name!r}: write anthropic:<model>, openai:<model>, "
                         "openai-compatible:<model>@<base-url> or human:<name>")
    if provider == "human":
        return JudgeSpec(name=name, provider="human", model=rest)
    table = load_table(ws)
    prices = table.get("models", {}).get(name.split("@")[0] if provider == "openai-compatible" else name)
    mult = table.get("providers", {}).get("openai" if provider == "openai-compatible" else provider, {})
    base_url = None
    model = rest
    if provider == "openai-compatible":
        model, at, base_url = rest.partition("@")
        if not at or not model or not base_url.startswith(("http://", "https://")):
            raise JudgeError(f"judge {name!r}: write openai-compatible:<model>@<base-url>, "
                             "e.g. openai-compatible:default_model@http://127.0.0.1:8080/v1")
        prices = prices or {"input": 0.0, "output": 0.0}  # a local server costs nothing per token
    elif prices is None:
        known = ", ".join(k for k in table.get("models", {}) if k.startswith(provider + ":"))
        raise JudgeError(f"judge {name!r}: unknown model (known: {known}); add it with its prices "
                         f"to {ws.root / 'judges.toml' if ws else TABLE_FILE}")
    spec = JudgeSpec(name=name, provider=provider, model=model, base_url=base_url,
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

    Checked up front (see `brie.judge.api_judges`) so that a missing key stops a comparison before
    minutes of generation, not after. A local openai-compatible server needs no key.
    """
    if spec.provider == "anthropic":
        # The SDK also takes a bearer token in place of a key.
        if not os.environ.get("ANTHROPIC_API_KEY") and not os.environ.get("ANTHROPIC_AUTH_TOKEN"):
            return "ANTHROPIC_API_KEY"
    elif spec.provider == "openai" and not os.environ.get("OPENAI_API_KEY"):
        return "OPENAI_API_KEY"
    return None


@dataclass
class Reply:
    text: str  # the judge's whole answer ("" when it gave none)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    refused: bool = False


class JudgeClient:
    """One SDK client per judge; thread-safe (the SDKs' HTTP clients are)."""

    def __init__(self, spec: JudgeSpec, max_retries: int = 4, timeout: float = 120.0, max_tokens: int = 1024):
        self.spec = spec
        self.max_tokens = max_tokens
        missing = missing_key(spec)
        if missing:
            raise JudgeError(f"judge {spec.name}: {missing} is not set")
        if spec.provider == "anthropic":
            import anthropic

            self.client = anthropic.Anthropic(max_retries=max_retries, timeout=timeout)
        elif spec.provider in ("openai", "openai-compatible"):
            import openai

            kwargs = {"max_retries": max_retries, "timeout": timeout}
            if spec.base_url:
                # Local servers ignore the key, but the SDK insists on one.
                kwargs.update(base_url=spec.base_url, api_key=os.environ.get("OPENAI_API_KEY") or "local")
            self.client = openai.OpenAI(**kwargs)
        else:
            raise JudgeError(f"judge {spec.name}: humans judge in the UI (`brie`, then the blind session), not through an API")

    @property
    def url(self) -> str:
        """The base URL the SDK sends to, without any user:password part."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(str(getattr(self.client, "base_url", "") or ""))
        return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")
                                         if parts.hostname else parts.netloc)).rstrip("/")

    def anthropic_params(self, system: str, user: str) -> dict:
        # The fixed instructions are marked for prompt caching: every comparison reuses them. The API
        # caches only prefixes above a model's minimum (about 1k tokens and up), which brie's short
        # instructions fall under, so usually nothing is cached; costs use the cache tokens the API
        # reports, so none is ever assumed.
        # No temperature: current Claude models take none (the SDK no longer offers it).
        return {"model": self.spec.model, "max_tokens": self.max_tokens,
                "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                "messages": [{"role": "user", "content": user}]}

    def ask(self, system: str, user: str) -> Reply:
        if self.spec.provider == "anthropic":
            msg = self.client.messages.create(**self.anthropic_params(system, user))
            return anthropic_reply(msg)
        # Greedy on local servers; OpenAI's current models accept only their default temperature.
        extra = {"temperature": 0.0} if self.spec.provider == "openai-compatible" else {}
        resp = self.client.chat.completions.create(
            model=self.spec.model, max_completion_tokens=self.max_tokens, **extra,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}])
        if not resp.choices:
            return Reply(text="", **_openai_usage(resp))
        message = resp.choices[0].message
        refusal = getattr(message, "refusal", None)
        return Reply(text=message.content or refusal or "", refused=bool(refusal), **_openai_usage(resp))


def anthropic_reply(msg) -> Reply:
    text = "".join(getattr(b, "text", "") for b in (msg.content or []) if getattr(b, "type", None) == "text")
    u = msg.usage
    return Reply(text=text, input_tokens=u.input_tokens or 0, output_tokens=u.output_tokens or 0,
                 cache_read_tokens=u.cache_read_input_tokens or 0,
                 cache_write_tokens=u.cache_creation_input_tokens or 0,
                 refused=msg.stop_reason == "refusal")


def _openai_usage(resp) -> dict:
    u = getattr(resp, "usage", None)
    if u is None:
        return {}
    details = getattr(u, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", 0) or 0) if details else 0
    # OpenAI counts cached tokens inside prompt_tokens; brie prices them apart.
    return {"input_tokens": (u.prompt_tokens or 0) - cached, "output_tokens": u.completion_tokens or 0,
            "cache_read_tokens": cached}
