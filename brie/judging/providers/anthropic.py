"""Anthropic judges (`anthropic:<model>`): Claude through the anthropic SDK, with Message Batches.

The SDK reads ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) and ANTHROPIC_BASE_URL from the
environment itself: the key never passes through brie's code, and goes only to Anthropic's API or
to the ANTHROPIC_BASE_URL the user set. The SDK is imported only when a
judge of this kind is used.
"""

from __future__ import annotations

from typing import Iterator

from brie.judging.base import JudgeRequestError, Provider, Reply


class AnthropicJudge(Provider):
    kind = "anthropic"
    name_form = "anthropic:<model>"
    key_env = "ANTHROPIC_API_KEY"
    key_env_alternatives = ("ANTHROPIC_AUTH_TOKEN",)  # the SDK also takes a bearer token in place of a key
    supports_batch = True

    def __init__(self, spec, max_retries: int = 4, timeout: float = 120.0, max_tokens: int = 1024):
        super().__init__(spec, max_retries=max_retries, timeout=timeout, max_tokens=max_tokens)
        import anthropic

        self.client = anthropic.Anthropic(max_retries=max_retries, timeout=timeout)

    def params(self, system: str, user: str) -> dict:
        # The fixed instructions are marked for prompt caching: every comparison reuses them. The API
        # caches only prefixes above a model's minimum (about 1k tokens and up), which brie's short
        # instructions fall under, so usually nothing is cached; costs use the cache tokens the API
        # reports, so none is ever assumed.
        # No temperature: current Claude models take none (the SDK no longer offers it).
        return {"model": self.spec.model, "max_tokens": self.max_tokens,
                "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                "messages": [{"role": "user", "content": user}]}

    def send(self, system: str, user: str) -> Reply:
        msg = self.client.messages.create(**self.params(system, user))
        with self.reading():
            return reply_of(msg)

    def translate(self, e: Exception) -> JudgeRequestError | None:
        import anthropic

        return self.translate_sdk(e, anthropic)

    def batch_url(self, batch_id: str | None = None) -> str:
        return f"{self.url}/v1/messages/batches" + (f"/{batch_id}" if batch_id else "")

    def submit_batch(self, requests: list[tuple[str, str, str]]) -> str:
        with self.sdk_errors(self.batch_url()):
            created = self.client.messages.batches.create(requests=[
                {"custom_id": custom_id, "params": self.params(system, user)} for custom_id, system, user in requests])
            with self.reading("batch endpoint's answer"):
                batch_id = created.id
                if not isinstance(batch_id, str) or not batch_id:
                    raise TypeError("no batch id in it")
        return batch_id

    def batch_ended(self, batch_id: str) -> bool:
        with self.sdk_errors(self.batch_url(batch_id)):
            batch = self.client.messages.batches.retrieve(batch_id)
            with self.reading("batch endpoint's answer"):
                return batch.processing_status == "ended"

    def batch_results(self, batch_id: str) -> Iterator[tuple[str, Reply | None]]:
        with self.sdk_errors(self.batch_url(batch_id)):
            for item in self.client.messages.batches.results(batch_id):
                with self.reading("batch endpoint's answer"):
                    succeeded = item.result.type == "succeeded"
                    yield item.custom_id, reply_of(item.result.message) if succeeded else None

    def cancel_batch(self, batch_id: str) -> None:
        with self.sdk_errors(self.batch_url(batch_id)):
            self.client.messages.batches.cancel(batch_id)


def reply_of(msg) -> Reply:
    """A Reply from an anthropic Message."""
    text = "".join(getattr(b, "text", "") for b in (msg.content or []) if getattr(b, "type", None) == "text")
    u = msg.usage
    return Reply(text=text, input_tokens=u.input_tokens or 0, output_tokens=u.output_tokens or 0,
                 cache_read_tokens=u.cache_read_input_tokens or 0,
                 cache_write_tokens=u.cache_creation_input_tokens or 0,
                 refused=msg.stop_reason == "refusal")
