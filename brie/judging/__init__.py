"""Blind A/B judging and single-answer grading."""
