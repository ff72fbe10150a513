"""What every judge provider provides to the judging loops: specs, replies, errors, the Provider class.

A provider (brie/judging/providers/) wraps one SDK. The loops see only this module's types: they
call `ask` and get a `Reply`, or catch a `JudgeRequestError` — never an SDK's own exception, which
each provider translates (`Provider.translate`). The SDKs keep their own retries and backoff.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar, Iterator

from brie.errors import BrieError


class JudgeError(BrieError):
    """A judge that cannot be used as named (unknown model, no key, bad URL)."""


class JudgeRequestError(JudgeError):
    """A request that failed after the SDK's own retries, or an answer that could not be read.

    The message names the judge and the URL it tried (never the API key): "judge <name> at <url>: <what>".
    Nothing is stored for it, so a rerun asks again.
    """


class JudgeAccessError(JudgeRequestError):
    """The key was rejected, is not allowed this model, or the model does not exist: asking again is futile."""


class JudgeNotFound(JudgeAccessError):
    """The server does not know what was asked for (HTTP 404): the model, or a stored Message Batch."""


class JudgeBadAnswer(JudgeRequestError):
    """The server answered, but not with a readable reply (a body that is not JSON, an HTML page, a
    reply of the wrong shape). It counts as an answer that did not parse (`--max-attempts`), not as a
    failed request: the SDK does not retry it."""


class JudgeUnreachable(JudgeRequestError):
    """The judge's server refused the connection or could not be found (not a timeout)."""


class JudgeTimeout(JudgeRequestError):
    """No answer in time, after the SDK's retries."""


@dataclass(frozen=True)
class JudgeSpec:
    name: str  # as typed, and as stored in every judgment: "anthropic:claude-sonnet-5-5"
    provider: str  # a kind in brie.judging.providers.PROVIDERS, or "human"
    model: str
    base_url: str | None = None
    input_price: float = 0.0  # USD per million tokens
    output_price: float = 0.0
    cache_read: float = 1.0  # multipliers on the input price
    cache_write: float = 1.0
    batch: float = 1.0
    deprecated: str | None = None
    # openai-compatible only: the environment variable whose value is sent as the key (judges.toml's
    # `key_env`); the variable's name, never the key. None: no key is sent.
    key_env: str | None = None
    # openai and openai-compatible only (judges.toml's `logprobs = true`): ask for the verdict token's
    # top log-probabilities and store {"A", "B", "C"} probabilities beside the text verdict
    logprobs: bool = False
    # local only: the judge's answer is prefilled up to the verdict and read from the next token's
    # probabilities (prompts.VERDICT_PREFILL / RATING_PREFILL, part of its prompts' identity)
    prefilled: bool = False

    def cost(self, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0,
             cache_write_tokens: int = 0, batched: bool = False) -> float:
        usd = (input_tokens * self.input_price + output_tokens * self.output_price
               + cache_read_tokens * self.input_price * self.cache_read
               + cache_write_tokens * self.input_price * self.cache_write) / 1e6
        return round(usd * (self.batch if batched else 1.0), 8)


@dataclass
class Reply:
    text: str  # the judge's whole answer ("" when it gave none)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    refused: bool = False
    # the next token's probabilities at the verdict, when the judge exposes them: {"A": pa, "B": pb,
    # "C": pc} over the shown positions, or {"1": p1, …, "10": p10} for a rating (migration 033)
    probabilities: dict[str, float] | None = None


class Provider:
    """One kind of judge (`kind:<model>`), one SDK client per judge; thread-safe (the SDKs' HTTP clients are).

    A subclass sets the class attributes, builds its SDK client in `__init__`, sends in `send` and
    maps its SDK's exceptions in `translate`. It is registered in brie.judging.providers.PROVIDERS,
    and its models and prices are rows of brie/judging/judges.toml.
    """

    kind: ClassVar[str]  # the prefix of judge names: "anthropic"
    name_form: ClassVar[str]  # how a judge of this kind is written, for error messages
    key_env: ClassVar[str | None] = None  # the API key's environment variable (brie doctor reports it)
    key_env_alternatives: ClassVar[tuple[str, ...]] = ()  # other variables the SDK accepts instead
    prices_row: ClassVar[str | None] = None  # its [providers.X] row in judges.toml; None: `kind`
    free_when_unlisted: ClassVar[bool] = False  # a model not in judges.toml costs nothing (local servers)
    supports_batch: ClassVar[bool] = False  # submit_batch / batch_ended / batch_results work

    # --- names and keys (class level: checked before any client exists) ---

    @classmethod
    def parse_name(cls, name: str, rest: str) -> tuple[str, str | None]:
        """(model, base URL) from what follows `kind:`; a JudgeError when it is malformed."""
        return rest, None

    @classmethod
    def price_key(cls, name: str) -> str:
        """The judge's entry in judges.toml's [models."…"] table."""
        return name

    @classmethod
    def missing_key(cls, spec: JudgeSpec | None = None) -> str | None:
        """The environment variable this kind (or this judge, `spec`) needs and does not have, else None."""
        if cls.key_env and not any(os.environ.get(v) for v in (cls.key_env, *cls.key_env_alternatives)):
            return cls.key_env
        return None

    # --- a client ---

    def __init__(self, spec: JudgeSpec, max_retries: int = 4, timeout: float = 120.0, max_tokens: int = 1024):
        self.spec = spec
        self.max_tokens = max_tokens
        self.max_retries = max_retries
        self.timeout = timeout
        missing = self.missing_key(spec)
        if missing:
            raise JudgeError(f"judge {spec.name}: {missing} is not set")
        self.client = None  # the SDK client, set by the subclass
        # What the run should say once about this judge (not per judgment), e.g. a server that ignored
        # the logprobs option; the judging workflow passes them to its `warn` after the judge's run.
        self.notices: list[str] = []

    def send(self, system: str, user: str) -> Reply:
        """One judgment request through the SDK; SDK exceptions are left to `ask` to translate."""
        raise NotImplementedError

    def translate(self, e: Exception) -> JudgeRequestError | None:
        """brie's error for an exception from the SDK (or from reading its answer); None: not the SDK's."""
        raise NotImplementedError

    def ask(self, system: str, user: str) -> Reply:
        """The judge's answer; raises only JudgeRequestError (and its subclasses) for a failed request."""
        with self.sdk_errors():
            return self.send(system, user)

    @contextmanager
    def sdk_errors(self, endpoint: str | None = None) -> Iterator[None]:
        """Raise what `translate` makes of an SDK exception inside the block; `endpoint`: the URL the
        block asks (a Message Batch's), named in the message instead of the base URL."""
        try:
            yield
        except Exception as e:
            # brie's own (from `reading` inside the block) only gets the endpoint named.
            error = e if isinstance(e, JudgeRequestError) else self.translate(e)
            if error is None:
                raise
            if endpoint:
                error = type(error)(str(error).replace(f" at {self.url}: ", f" at {endpoint}: ", 1))
            if error is e:
                raise
            raise error from e

    @contextmanager
    def reading(self, what: str = "answer") -> Iterator[None]:
        """A reply the SDK handed back but that is not of the shape asked for (a server answering an
        HTML page with status 200 gives a str): brie's JudgeBadAnswer, not an AttributeError."""
        try:
            yield
        except (AttributeError, TypeError, KeyError, IndexError) as e:
            raise self.error(JudgeBadAnswer, f"the {what} was not of the expected shape "
                                              f"({type(e).__name__}: {str(e)[:80]})") from e

    @property
    def url(self) -> str:
        """The base URL the SDK sends to, without any user:password part."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(str(getattr(self.client, "base_url", "") or ""))
        return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")
                                         if parts.hostname else parts.netloc)).rstrip("/")

    # --- messages for `translate` ---

    def error(self, kind: type[JudgeRequestError], what: str) -> JudgeRequestError:
        """One line naming the judge, the URL it tried and what went wrong (the SDKs' own "Connection
        error." says neither). The URL is the SDK's base URL: it never holds the API key."""
        return kind(f"judge {self.spec.name} at {self.url}: {what}")

    def timed_out(self) -> JudgeRequestError:
        return self.error(JudgeTimeout, "timed out (after the SDK's retries)")

    def unreachable(self, e: Exception) -> JudgeRequestError:
        cause = e.__cause__ or e.__context__
        return self.error(JudgeUnreachable, "could not connect"
                          + (f" ({str(cause).splitlines()[0][:120]})" if cause and str(cause) else ""))

    def failed(self, e: Exception, kind: type[JudgeRequestError] = JudgeRequestError) -> JudgeRequestError:
        msg = getattr(e, "message", None) or str(e)
        return self.error(kind, f"{type(e).__name__}: {msg.splitlines()[0] if msg else ''}"[:200])

    def translate_sdk(self, e: Exception, sdk) -> JudgeRequestError | None:
        """`translate` for the anthropic and openai SDKs, which share their exception classes' names."""
        if isinstance(e, sdk.APITimeoutError):
            return self.timed_out()
        if isinstance(e, sdk.APIConnectionError):
            return self.unreachable(e)
        if isinstance(e, sdk.NotFoundError):
            return self.failed(e, JudgeNotFound)
        if isinstance(e, (sdk.AuthenticationError, sdk.PermissionDeniedError)):
            return self.failed(e, JudgeAccessError)
        if isinstance(e, (sdk.APIResponseValidationError, ValueError)):  # ValueError: a body that is not JSON
            return self.failed(e, JudgeBadAnswer)
        if isinstance(e, sdk.APIError):
            return self.failed(e)
        return None

    # --- message batches (only where supports_batch) ---

    def submit_batch(self, requests: list[tuple[str, str, str]]) -> str:
        """Send (custom id, system, user) requests as one batch; its id."""
        raise JudgeError(f"judge {self.spec.name}: {self.kind} judges have no batch API")

    def batch_ended(self, batch_id: str) -> bool:
        raise JudgeError(f"judge {self.spec.name}: {self.kind} judges have no batch API")

    def batch_results(self, batch_id: str) -> Iterator[tuple[str, Reply | None]]:
        """(custom id, reply) for each item of an ended batch; None for an item that errored or expired."""
        raise JudgeError(f"judge {self.spec.name}: {self.kind} judges have no batch API")

    def cancel_batch(self, batch_id: str) -> None:
        """Ask the provider to stop processing a batch (what it already answered is still billed)."""
        raise JudgeError(f"judge {self.spec.name}: {self.kind} judges have no batch API")

    def batch_url(self, batch_id: str | None = None) -> str:
        """The batch endpoint's URL (of one batch), for messages."""
        return self.url
