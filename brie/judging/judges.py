"""The judge table: judge names, models and prices (judges.toml), and a client for a judge.

A judge is named `<kind>:<model>` for a kind in brie.judging.providers.PROVIDERS
(`anthropic:<model>`, `openai:<model>`, `openai-compatible:<model>@<base-url>` for a local server
such as `mlx_lm.server`, LM Studio or Ollama, `local:<model>` for an MLX model run in-process and read
from its token probabilities), or `human:<name>` (verdicts given in the UI).

Models and prices live in brie/judging/judges.toml (a workspace's own judges.toml beside brie.db
overrides entries). ANTHROPIC_API_KEY / OPENAI_API_KEY are read by the SDKs from the environment
and go only to their own provider's API or to ANTHROPIC_BASE_URL / OPENAI_BASE_URL; an
openai-compatible judge sends only the variable its entry names (`key_env`). Keys never reach the
store, logs or exports.
"""

from __future__ import annotations

import json
import math
import re
import sys
import tomllib
from pathlib import Path

from brie.errors import read_text
from brie.judging.base import JudgeError, JudgeSpec, Provider
from brie.judging.providers import PROVIDERS

TABLE_FILE = Path(__file__).with_name("judges.toml")
HUMAN = "human"  # verdicts given in the UI's blind session, not through an API


def load_table(ws=None) -> dict:
    table = read_table(TABLE_FILE)
    table["default_from"] = "brie/judging/judges.toml"  # named when a missing key stops the default judge
    if ws is not None and (ws.root / "judges.toml").exists():
        own = read_table(ws.root / "judges.toml")
        table["models"] = {**table.get("models", {}), **own.get("models", {})}
        table["providers"] = {**table.get("providers", {}), **own.get("providers", {})}
        if "default" in own:
            table["default"], table["default_from"] = own["default"], str(ws.root / "judges.toml")
    return table


NUMBERS = {"models": ("input", "output"), "providers": ("cache_read", "cache_write", "batch")}
TOML_AT = re.compile(r"^(.*) \(at line (\d+), column (\d+)\)$")


def read_table(path: Path) -> dict:
    """A judges.toml, parsed and its types checked; anything else is a JudgeError naming file and line.

    Only the fields brie reads are checked (`default`, the [models.…] and [providers.…] tables and
    their numbers); other keys are left to whoever reads them.
    """
    text = read_text(path, JudgeError)
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        found = TOML_AT.match(str(e))
        where = f" line {found[2]}" if found else ""
        what = f"{found[1]} at column {found[3]}" if found else str(e)
        raise JudgeError(f"{path}{where}: not valid TOML: {what}") from None
    except RecursionError:  # tomllib reads nested arrays and inline tables by recursion
        depth, line = 0, None
        for i, c in enumerate(text):  # a best guess at the line: brackets counted, strings not followed
            depth += (c in "[{") - (c in "]}")
            if depth > 100:
                line = text.count("\n", 0, i) + 1
                break
        raise JudgeError(f"{path}{f' line {line}' if line else ''}: not valid TOML: nested too deeply to read") from None
    except ValueError:  # an integer longer than Python reads from a string
        limit = sys.get_int_max_str_digits()
        long = re.search(r"\d{%d,}" % (limit + 1), text)
        where = f" line {text.count(chr(10), 0, long.start()) + 1}" if long else ""
        digits = f" with {len(long.group()):,} digits" if long else ""
        raise JudgeError(f"{path}{where}: a number{digits} is too long to read (Python reads at most {limit:,})") from None
    _check_types(table, path, text)
    return table


def _check_types(table: dict, path: Path, text: str) -> None:
    def wrong(keys: tuple[str, ...], what: str) -> JudgeError:
        line = _line_of(text, keys)
        dotted = ".".join(f'"{k}"' if not re.fullmatch(r"[\w-]+", k) else k for k in keys)
        return JudgeError(f"{path}{f' line {line}' if line else ''}: {dotted} {what}")

    if "default" in table and not isinstance(table["default"], str):
        raise wrong(("default",), "must be a judge name in quotes, e.g. \"anthropic:claude-sonnet-5-5\"")
    for section, numbers in NUMBERS.items():
        entries = table.get(section, {})
        if not isinstance(entries, dict):
            raise wrong((section,), f"must be tables ([{section}.\"<name>\"]), not a {_toml_type(entries)}")
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                raise wrong((section, name), f"must be a table of fields, not a {_toml_type(entry)}")
            for key in numbers:
                v = entry.get(key)
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                      or not math.isfinite(v) or v < 0):
                    raise wrong((section, name, key), f"must be a number ≥ 0, not {_toml_value(v)}")
            if section == "models" and not isinstance(entry.get("deprecated", ""), str):
                raise wrong((section, name, "deprecated"), "must be a text saying what to use instead")
            if section == "models" and not isinstance(entry.get("logprobs", False), bool):
                raise wrong((section, name, "logprobs"), f"must be true or false, not {_toml_value(entry['logprobs'])}")


def _toml_value(v) -> str:
    return json.dumps(v, ensure_ascii=False, default=str)  # true, "text", NaN: close to how TOML wrote it


def _toml_type(v) -> str:
    return {str: "string", bool: "boolean", int: "integer", float: "float", list: "array",
            dict: "table"}.get(type(v), type(v).__name__)


def _line_of(text: str, keys: tuple[str, ...]) -> int | None:
    """The line where the last of `keys` is set, found by looking for each key in turn (a best guess:
    TOML parsers do not keep positions)."""
    line, found = 0, None
    lines = text.split("\n")
    for key in keys:
        pattern = re.compile(r'(^|[\[.\s{,])("|\'|)%s\2\s*([.\]=]|$)' % re.escape(key))
        for n in range(line, len(lines)):
            if pattern.search(lines[n]):
                line, found = n, n + 1
                break
        else:
            return found
    return found


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
    # An entry under the judge's whole name (an openai-compatible one's URL included) comes first.
    prices = table.get("models", {}).get(name) or table.get("models", {}).get(provider.price_key(name))
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
                     batch=float(mult.get("batch", 1)), deprecated=prices.get("deprecated"),
                     key_env=key_env_of(name, kind, prices, table.get("models", {}).get(name) is prices),
                     logprobs=logprobs_of(name, kind, prices),
                     prefilled=getattr(provider, "in_process", False))
    if spec.deprecated and warn:
        warn(f"judge {name} is deprecated: {spec.deprecated}")
    return spec


def key_env_of(name: str, kind: str, entry: dict, whole_name: bool) -> str | None:
    """The `key_env` of a judges.toml entry: the variable whose value an openai-compatible judge sends
    as its key (the key itself never goes in the file). Only an entry named with the judge's URL may
    name one, so the file says where the key goes. Other kinds take their own provider's key only."""
    key_env = entry.get("key_env")
    if key_env is None:
        return None
    if kind != "openai-compatible":
        raise JudgeError(f"judge {name!r}: key_env is only for openai-compatible judges "
                         "(anthropic and openai judges use their own provider's key)")
    if not whole_name:
        raise JudgeError(f"judge {name!r}: key_env must be in an entry named with the server's URL, "
                         f"[models.\"{name}\"], so that the key goes only there")
    if not isinstance(key_env, str) or not key_env.replace("_", "a").isalnum() or key_env[0].isdigit():
        raise JudgeError(f"judge {name!r}: key_env must name an environment variable, e.g. \"MY_SERVER_KEY\"")
    from brie.judging.providers import PROVIDERS

    # a provider's own key goes only to that provider, whatever a (possibly shared) judges.toml says
    own = {v for p in PROVIDERS.values() for v in (p.key_env, *p.key_env_alternatives) if v}
    if key_env in own:
        raise JudgeError(f"judge {name!r}: key_env {key_env} is a provider's own key, which brie sends only to "
                         "that provider; put this server's key in a variable of its own")
    return key_env


def logprobs_of(name: str, kind: str, entry: dict) -> bool:
    """A judges.toml entry's `logprobs = true`: ask the judge for the verdict token's log-probabilities
    (docs/judging.md). Only openai and openai-compatible judges can be asked."""
    if not entry.get("logprobs", False):
        return False
    if kind not in ("openai", "openai-compatible"):
        raise JudgeError(f"judge {name!r}: logprobs is only for openai and openai-compatible judges "
                         f"({kind} judges return no token probabilities)")
    return True


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
    return provider.missing_key(spec) if provider else None


def not_an_api_judge(spec: JudgeSpec) -> JudgeError:
    return JudgeError(f"judge {spec.name}: human verdicts are given in the UI (`brie`, then the blind session), "
                      "not through an API")


def connect(spec: JudgeSpec, max_retries: int = 4, timeout: float = 120.0, max_tokens: int = 1024,
            ws=None) -> Provider:
    """A client for an API judge: its provider's class, holding one SDK client (a `local:` judge:
    its model, loaded; `ws` resolves registered models and checkpoints)."""
    provider = PROVIDERS.get(spec.provider)
    if provider is None:
        raise not_an_api_judge(spec)
    extra = {"ws": ws} if getattr(provider, "in_process", False) else {}
    return provider(spec, max_retries=max_retries, timeout=timeout, max_tokens=max_tokens, **extra)
