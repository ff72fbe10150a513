def test_generate_batch_matches_one_at_a_time_greedy(tiny_model_dir):
    from mlx_lm import load

    from brie.generate import generate_batch, stream_answer

    model, tok = load(str(tiny_model_dir))
    prompts = ["hello", "a longer prompt here", "x"]
    batched = generate_batch(model, tok, [[{"role": "user", "content": p}] for p in prompts], max_tokens=8)
    single = ["".join(stream_answer(model, tok, p, max_tokens=8)) for p in prompts]
    assert len(batched) == 3
    assert batched == single
