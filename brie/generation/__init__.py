"""Answers from base models and checkpoints over prompt suites."""
