"""The one chat prompt both generation engines build, and the tokens that end an answer."""

from __future__ import annotations


def chat_prompt(tokenizer, messages: list[dict]) -> str:
    """The model's own chat template; a plain fallback for base models that have none."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "\n\n".join(m["content"] for m in messages) + "\n\n"


# Special tokens that end a document in pretraining and never belong inside an answer.
END_OF_TEXT = ("<|endoftext|>", "<|end_of_text|>", "<|eot_id|>", "<|end|>", "</s>")


def end_of_text_tokens(tokenizer) -> list[str]:
    """The END_OF_TEXT tokens this tokenizer has as special tokens (mlx-lm's wrapper or Hugging Face's)."""
    special = set(getattr(tokenizer, "all_special_tokens", []))
    vocab = tokenizer.get_vocab()
    return [t for t in END_OF_TEXT if t in special and t in vocab]
