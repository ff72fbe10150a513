"""Answers from base models and checkpoints.

Modules:
  chat          the one chat prompt both engines build, and the tokens that end an answer
  mlx_engine    load(ws, spec), stream_answer, generate_batch through mlx-lm
  torch_engine  load(ws, spec), generate_batch through transformers + peft (torch runs on CUDA)
  runner        generate_suite: every prompt of a suite by every model, each answer stored as made
"""
