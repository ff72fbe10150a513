"""One row of any accepted format, validated and normalized to one of mlx-lm's three formats.

Input formats: chat (`messages`), completions (`prompt`/`completion`), text (`text`), alpaca
(`instruction`/`input`/`output` → completions), sharegpt (`conversations` of `from`/`value` → chat)
and preference (`prompt`/`chosen`/`rejected`, TRL's and mlx-lm-lora's DPO/ORPO format, optional
`system`; what `brie train --method dpo|orpo` trains on).

Stated rules for mixed value types (each application is counted in the report, never silent):
- An answer (completion, assistant message, alpaca output) holding a JSON object — a real one, or a
  string that parses as one — becomes plain text: an object with one field becomes that field's value;
  an object with more fields becomes one `key: value` line per field.
- A number or true/false anywhere becomes its JSON text; an object or list outside an answer becomes
  its JSON text; a content list of `{"type": "text", "text": …}` parts becomes their joined text.
- CR LF and lone CR inside values become LF.
A missing, null or empty (whitespace-only) field is an error, as are unknown roles and a wrong order;
except that a preference pair's answer may be empty (counted as `empty_answer_kept`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from brie.data.read import Notes

INPUT_FORMATS = ("chat", "completions", "text", "alpaca", "sharegpt", "preference")
OUTPUT_FORMAT = {"chat": "chat", "sharegpt": "chat", "completions": "completions", "alpaca": "completions",
                 "text": "text", "preference": "preference"}
# Where a preference pair came from (`brie data import --from-judgments` writes them): kept as they
# are, beside prompt/chosen/rejected, which is all the trainers read.
PREFERENCE_META = ("judges", "comparison_ids", "chosen_from", "rejected_from")
ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant",
                  "assistant": "assistant", "chatgpt": "assistant", "bing": "assistant", "bard": "assistant"}


class RowError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class Fields:
    """Which field holds what; the --*-field options of `brie data import` change them (one each)."""

    prompt: str = "prompt"
    completion: str = "completion"
    text: str = "text"
    messages: str = "messages"
    instruction: str = "instruction"
    input: str = "input"
    output: str = "output"
    conversations: str = "conversations"
    chosen: str = "chosen"
    rejected: str = "rejected"

    def used(self, fmt: str) -> tuple[str, ...]:
        return {"chat": (self.messages,), "completions": (self.prompt, self.completion), "text": (self.text,),
                "alpaca": (self.instruction, self.input, self.output),
                "sharegpt": (self.conversations,),
                "preference": (self.prompt, self.chosen, self.rejected, "system") + PREFERENCE_META}[fmt]


def detect_format(obj: dict, fields: Fields) -> str | None:
    if fields.messages in obj:
        return "chat"
    if fields.conversations in obj:
        return "sharegpt"
    if fields.chosen in obj and fields.rejected in obj:
        return "preference"
    if fields.prompt in obj and fields.completion in obj:
        return "completions"
    if fields.instruction in obj and fields.output in obj:
        return "alpaca"
    if fields.text in obj:
        return "text"
    return None


class Normalizer:
    """Turns parsed rows into normalized rows of one output format, counting what it changed."""

    def __init__(self, fmt: str, fields: Fields, notes: Notes):
        self.fmt = fmt  # "auto" until the first row that fits a format decides it
        self.fields = fields
        self.notes = notes
        self.extra_fields: dict[str, int] = {}

    @property
    def output_format(self) -> str | None:
        return OUTPUT_FORMAT.get(self.fmt)

    def normalize(self, obj, where: str) -> tuple[dict, list[str]]:
        """(normalized row, its texts in order) or RowError."""
        if not isinstance(obj, dict):
            raise RowError("not_object", f"not a JSON object (got {type(obj).__name__ if obj is not None else 'null'})")
        if self.fmt == "auto":
            found = detect_format(obj, self.fields)
            if found is None:
                keys = ", ".join(list(obj)[:8]) or "none"
                raise RowError("unknown_format", f"fits no format (fields: {keys}); name them with --format and "
                                                 "the --*-field options (brie data import --help)")
            self.fmt = found
        self.where = where
        handler = {"chat": self._chat, "sharegpt": self._sharegpt, "completions": self._completions,
                   "alpaca": self._alpaca, "text": self._text_row, "preference": self._preference}[self.fmt]
        result = handler(obj)
        self._count_extra(obj)  # only for rows kept: these fields were in the source, not in the output
        return result

    def _count_extra(self, obj: dict) -> None:
        used = self.fields.used(self.fmt)
        for key in obj:
            if key not in used and (key in self.extra_fields or len(self.extra_fields) < 50):
                self.extra_fields[key] = self.extra_fields.get(key, 0) + 1

    # formats -------------------------------------------------------------------------------

    def _chat(self, obj: dict) -> tuple[dict, list[str]]:
        f = self.fields.messages
        messages = self._required(obj, f)
        if isinstance(messages, str) and messages.lstrip().startswith("["):
            # the same export habit as stringified answers: a JSON list written as a string
            try:
                decoded = json.loads(messages)
            except ValueError:
                decoded = None
            if isinstance(decoded, list):
                messages = decoded
                self.notes.add("json_string_messages_decoded", self.where)
        if not isinstance(messages, list):
            raise RowError("wrong_type", f"field {f!r} is not a list of messages")
        out = []
        for i, m in enumerate(messages, 1):
            if not isinstance(m, dict):
                raise RowError("wrong_type", f"message {i} is not an object")
            role = m.get("role")
            if role is None:
                raise RowError("missing_field", f"message {i} has no 'role'")
            if role not in ROLES:
                raise RowError("unknown_role", f"unknown role {role!r} in message {i} (expected system, user or assistant)")
            if "content" not in m:
                raise RowError("missing_field", f"message {i} has no 'content'")
            out.append({"role": role, "content": self._as_text(m["content"], f"message {i} content", role == "assistant")})
        return self._checked_chat(out)

    def _sharegpt(self, obj: dict) -> tuple[dict, list[str]]:
        f = self.fields.conversations
        turns = self._required(obj, f)
        if not isinstance(turns, list):
            raise RowError("wrong_type", f"field {f!r} is not a list of turns")
        out = []
        for i, t in enumerate(turns, 1):
            if not isinstance(t, dict):
                raise RowError("wrong_type", f"turn {i} is not an object")
            who = t.get("from")
            if who is None:
                raise RowError("missing_field", f"turn {i} has no 'from'")
            role = SHAREGPT_ROLES.get(str(who).lower())
            if role is None:
                raise RowError("unknown_role", f"unknown role {who!r} in turn {i} (expected system, human or gpt)")
            if "value" not in t:
                raise RowError("missing_field", f"turn {i} has no 'value'")
            out.append({"role": role, "content": self._as_text(t["value"], f"turn {i} value", role == "assistant")})
        return self._checked_chat(out)

    def _checked_chat(self, messages: list[dict]) -> tuple[dict, list[str]]:
        if not messages:
            raise RowError("empty_field", "no messages")
        prev = None
        for i, m in enumerate(messages, 1):
            role = m["role"]
            if role == "system":
                if i != 1:
                    raise RowError("role_order", f"wrong role order: message {i} is 'system' (only the first message may be)")
                continue
            expected = "user" if prev in (None, "assistant") else "assistant"
            if role != expected:
                after = f"after {prev!r}" if prev else "first"
                raise RowError("role_order", f"wrong role order: message {i} is {role!r} {after} (expected {expected!r})")
            prev = role
        if prev != "assistant":
            raise RowError("role_order", f"wrong role order: the last message is {messages[-1]['role']!r} "
                                         "(a training row ends with the assistant)")
        return {"messages": messages}, [m["content"] for m in messages]

    def _completions(self, obj: dict) -> tuple[dict, list[str]]:
        pf, cf = self.fields.prompt, self.fields.completion
        prompt = self._as_text(self._required(obj, pf), pf, False)
        completion = self._as_text(self._required(obj, cf), cf, True)
        return {"prompt": prompt, "completion": completion}, [prompt, completion]

    def _alpaca(self, obj: dict) -> tuple[dict, list[str]]:
        f = self.fields
        instruction = self._as_text(self._required(obj, f.instruction), f.instruction, False)
        extra = obj.get(f.input)
        if extra is not None and not (isinstance(extra, str) and not extra.strip()):
            instruction += "\n\n" + self._as_text(extra, f.input, False)
        output = self._as_text(self._required(obj, f.output), f.output, True)
        return {"prompt": instruction, "completion": output}, [instruction, output]

    def _preference(self, obj: dict) -> tuple[dict, list[str]]:
        f = self.fields
        prompt = self._as_text(self._required(obj, f.prompt), f.prompt, False)
        chosen, rejected = (self._answer(self._required(obj, k), k) for k in (f.chosen, f.rejected))
        if chosen == rejected:
            raise RowError("same_answers", "chosen and rejected are the same text: nothing to prefer")
        row = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        texts = [prompt, chosen, rejected]
        if obj.get("system") is not None:
            row = {"system": self._as_text(obj["system"], "system", False), **row}
            texts.insert(0, row["system"])
        for key in PREFERENCE_META:
            if key in obj:
                row[key] = obj[key]
        return row, texts

    def _answer(self, value, field: str) -> str:
        """A preference answer. Unlike elsewhere, an empty one is kept (and counted): a model can answer
        nothing, a judge can rank that below (or above) the other answer, and that is what DPO learns."""
        if isinstance(value, str) and not value.strip():
            self.notes.add("empty_answer_kept", self.where)
            return value
        return self._as_text(value, field, True)

    def _text_row(self, obj: dict) -> tuple[dict, list[str]]:
        tf = self.fields.text
        text = self._as_text(self._required(obj, tf), tf, False)
        return {"text": text}, [text]

    # values --------------------------------------------------------------------------------

    def _required(self, obj: dict, field: str):
        if field not in obj:
            raise RowError("missing_field", f"missing field {field!r}")
        if obj[field] is None:
            raise RowError("missing_field", f"field {field!r} is null")
        return obj[field]

    def _as_text(self, value, field: str, answer: bool) -> str:
        note = self.notes.add
        if value is None:
            raise RowError("missing_field", f"{field} is null")
        if isinstance(value, str):
            if answer and value.lstrip().startswith("{"):
                try:
                    parsed = json.loads(value)
                except ValueError:
                    parsed = None
                if isinstance(parsed, dict) and parsed:
                    value = render_object(parsed)
                    note("json_string_answer_rendered", self.where)
        elif isinstance(value, (bool, int, float)):
            value = json.dumps(value)
            note("number_to_text", self.where)
        elif isinstance(value, dict):
            if answer and value:
                value = render_object(value)
                note("json_object_answer_rendered", self.where)
            else:
                value = json.dumps(value, ensure_ascii=False)
                note("object_to_json_text", self.where)
        elif isinstance(value, list):
            if value and all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                             for p in value):
                value = "".join(p["text"] for p in value)
                note("content_parts_joined", self.where)
            else:
                value = json.dumps(value, ensure_ascii=False)
                note("object_to_json_text", self.where)
        else:
            raise RowError("wrong_type", f"{field} has an unsupported value type {type(value).__name__}")
        if "\r" in value:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
            note("crlf_in_values", self.where)
        if not value.strip():
            raise RowError("empty_field", f"empty {field}" if " " in field else f"empty field {field!r}")
        return value


def render_object(obj: dict) -> str:
    """The stated rule: one field → its value; more → one `key: value` line each."""

    def plain(v) -> str:
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)

    if len(obj) == 1:
        return plain(next(iter(obj.values())))
    return "\n".join(f"{k}: {plain(v)}" for k, v in obj.items())
