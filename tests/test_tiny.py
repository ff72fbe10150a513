def test_tiny_model_loads_and_generates(tiny_model_dir):
    from mlx_lm import generate, load

    model, tok = load(str(tiny_model_dir))
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert tok.encode("héllo") and tok.decode(tok.encode("héllo")) == "héllo"
    out = generate(model, tok, prompt, max_tokens=5)
    assert isinstance(out, str)
