def test_generate_batch_matches_one_at_a_time_greedy(tiny_model_dir):
    from mlx_lm import load

    from brie.generation.mlx_engine import generate_batch, stream_answer

    model, tok = load(str(tiny_model_dir))
    prompts = ["hello", "a longer prompt here", "x"]
    batched = generate_batch(model, tok, [[{"role": "user", "content": p}] for p in prompts], max_tokens=8)
    single = ["".join(stream_answer(model, tok, p, max_tokens=8)) for p in prompts]
    assert len(batched) == 3
    assert batched == single


def test_generation_stops_at_end_of_text_as_well_as_the_chat_end(tiny_model_dir):
    from brie.models.registry import load_model

    _, tok = load_model(None, str(tiny_model_dir))
    ids = {tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_end|>")}
    # the config names only <|im_end|>; a fine-tune that ends on <|endoftext|> must stop there too
    assert ids <= tok.eos_token_ids
    assert tok.convert_tokens_to_ids("<|im_start|>") not in tok.eos_token_ids
