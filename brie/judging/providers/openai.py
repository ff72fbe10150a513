"""OpenAI judges (`openai:<model>`) and OpenAI-compatible local servers
(`openai-compatible:<model>@<base-url>`: mlx_lm.server, LM Studio, Ollama), both through the openai SDK.

Keys stay home. For `openai:` judges the SDK reads OPENAI_API_KEY and OPENAI_BASE_URL from the
environment itself, so the key goes only to OpenAI's API or to the OPENAI_BASE_URL the user set. An
`openai-compatible:` judge names its own server, so it never gets OPENAI_API_KEY: it sends the value
of the variable its judges.toml entry names (`key_env`), or no key at all. The SDK is imported only
when a judge of these kinds is used.

Log-probabilities: a judge whose judges.toml entry says `logprobs = true` asks for `logprobs=True,
top_logprobs=20`, finds the verdict token (the letter of the one [[A]]/[[B]]/[[C]] in the answer)
and stores {"A", "B", "C"} from that position's top log-probabilities, normalised over the three
(a letter not in the top list counts 0). A server that ignores the option (no logprobs in its
answer) leaves the text verdict alone, and the run says so once (`Provider.notices`).
"""

from __future__ import annotations

import math
import os
import threading

from brie.judging.base import JudgeError, JudgeRequestError, Provider, Reply


class OpenAIJudge(Provider):
    kind = "openai"
    name_form = "openai:<model>"
    key_env = "OPENAI_API_KEY"
    temperature: float | None = None  # OpenAI's current models accept only their default temperature

    def __init__(self, spec, max_retries: int = 4, timeout: float = 120.0, max_tokens: int = 1024):
        super().__init__(spec, max_retries=max_retries, timeout=timeout, max_tokens=max_tokens)
        import openai

        self.client = openai.OpenAI(max_retries=max_retries, timeout=timeout, **self.client_options())

    def client_options(self) -> dict:
        """Where the SDK sends and with which key: for `openai:`, what it reads from the environment."""
        return {}

    def send(self, system: str, user: str) -> Reply:
        extra = {"temperature": self.temperature} if self.temperature is not None else {}
        if self.spec.logprobs:
            extra |= {"logprobs": True, "top_logprobs": TOP_LOGPROBS}
        resp = self.client.chat.completions.create(
            model=self.spec.model, max_completion_tokens=self.max_tokens, **extra,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}])
        with self.reading():
            if not resp.choices:
                return Reply(text="", **usage_of(resp))
            message = resp.choices[0].message
            refusal = getattr(message, "refusal", None)
            reply = Reply(text=message.content or refusal or "", refused=bool(refusal), **usage_of(resp))
            if self.spec.logprobs and not refusal:
                logprobs = getattr(resp.choices[0], "logprobs", None)
                tokens = getattr(logprobs, "content", None) if logprobs is not None else None
                if not tokens:
                    self.logprobs_ignored()
                else:
                    reply.probabilities = verdict_probabilities(tokens)
            return reply

    _notice_lock = threading.Lock()

    def logprobs_ignored(self) -> None:
        """Say once per client (one run of one judge) that the server sent no logprobs."""
        with self._notice_lock:
            if not getattr(self, "_said_ignored", False):
                self._said_ignored = True
                self.notices.append(f"judge {self.spec.name} at {self.url}: the server ignored logprobs "
                                    "(none in its answers), so its verdicts are the text verdicts, without "
                                    "probabilities")

    def translate(self, e: Exception) -> JudgeRequestError | None:
        import openai

        return self.translate_sdk(e, openai)


class OpenAICompatibleJudge(OpenAIJudge):
    """A server speaking OpenAI's chat completions at a URL of its own; needs no key, costs nothing
    per token unless judges.toml prices it, and uses OpenAI's price multipliers."""

    kind = "openai-compatible"
    name_form = "openai-compatible:<model>@<base-url>"
    key_env = None  # none by default; a judges.toml entry may name one (`key_env`), see client_options
    prices_row = "openai"
    free_when_unlisted = True
    temperature = 0.0  # greedy on local servers

    @classmethod
    def parse_name(cls, name: str, rest: str) -> tuple[str, str | None]:
        model, at, base_url = rest.partition("@")
        if not at or not model or not base_url.startswith(("http://", "https://")):
            raise JudgeError(f"judge {name!r}: write openai-compatible:<model>@<base-url>, "
                             "e.g. openai-compatible:default_model@http://127.0.0.1:8080/v1")
        return model, base_url

    @classmethod
    def price_key(cls, name: str) -> str:
        return name.split("@")[0]

    @classmethod
    def missing_key(cls, spec=None) -> str | None:
        if spec is not None and spec.key_env and not os.environ.get(spec.key_env):
            return spec.key_env
        return None

    def client_options(self) -> dict:
        # The URL is the judge's own, so OPENAI_API_KEY (meant for OpenAI) must not go there: the SDK
        # would read it from the environment when api_key is None, so one is always passed, and also
        # set as the Authorization header, which keeps an Authorization line in OPENAI_CUSTOM_HEADERS
        # from replacing it. Servers without keys ignore the placeholder. The SDK also sends the
        # OpenAI account's OPENAI_ORG_ID / OPENAI_PROJECT_ID as headers; Omit drops them.
        import openai

        key = os.environ.get(self.spec.key_env, "") if self.spec.key_env else ""
        key = key or NO_KEY
        return {"base_url": self.spec.base_url, "api_key": key,
                "default_headers": {"Authorization": f"Bearer {key}", "OpenAI-Organization": openai.Omit(),
                                    "OpenAI-Project": openai.Omit()}}


TOP_LOGPROBS = 20  # the most alternatives OpenAI's chat completions return per token


def verdict_probabilities(tokens) -> dict[str, float] | None:
    """{"A", "B", "C"} normalised over the three, at the verdict letter of the answer's one
    [[A]]/[[B]]/[[C]], from that token's top log-probabilities (and its own); None when the answer
    has no single verdict or no letter appears among the alternatives.

    `tokens`: the chat completion's `logprobs.content` (token, logprob, top_logprobs). The letter may
    begin a token ("A", "A]]") or sit inside one ("[[A"): an alternative counts for a letter when it
    has the same text before the letter's offset and nothing but "]…" after it."""
    from brie.judging.verdicts import VERDICT

    texts = [t.token or "" for t in tokens]
    text = "".join(texts)
    found = VERDICT.findall(text)
    if len(found) != 1:
        return None
    at = VERDICT.search(text).start(1)  # the letter's character offset
    start = 0
    for t, token_text in zip(tokens, texts):
        if start <= at < start + len(token_text):
            break
        start += len(token_text)
    offset = at - start
    prefix = token_text[:offset]
    probs = {"A": 0.0, "B": 0.0, "C": 0.0}
    alternatives = {a.token: a.logprob for a in (t.top_logprobs or [])}
    alternatives.setdefault(t.token, t.logprob)
    for alt, logprob in alternatives.items():
        if alt is None or logprob is None or len(alt) <= offset or not alt.startswith(prefix):
            continue
        letter, rest = alt[offset], alt[offset + 1:]
        if letter in probs and (not rest or rest.startswith("]")):
            probs[letter] += math.exp(logprob)
    total = sum(probs.values())
    return {k: v / total for k, v in probs.items()} if total > 0 else None


NO_KEY = "not-needed"  # what an openai-compatible judge without `key_env` sends (the SDK requires a key)


def usage_of(resp) -> dict:
    """Reply token counts from a chat completion's usage."""
    u = getattr(resp, "usage", None)
    if u is None:
        return {}
    details = getattr(u, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", 0) or 0) if details else 0
    # OpenAI counts cached tokens inside prompt_tokens; brie prices them apart.
    return {"input_tokens": (u.prompt_tokens or 0) - cached, "output_tokens": u.completion_tokens or 0,
            "cache_read_tokens": cached}
