from collections import Counter

import pytest

from brie.judging.stats import combined, final_verdicts, kappa, wilson


def test_wilson_interval_known_values():
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson(7.5, 10)  # ties as half: 6 wins + 3 ties
    assert 0 < lo < 0.75 < hi < 1
    assert wilson(0, 0) == (None, None)


def test_cohens_kappa():
    assert kappa(Counter([("a", "a"), ("b", "b"), ("tie", "tie"), ("a", "a")])) == pytest.approx(1.0)
    # Textbook 2x2: 20 both a, 15 both b, 5 a/b, 10 b/a -> po = .7, pe = .5, kappa = .4
    pairs = [("a", "a")] * 20 + [("b", "b")] * 15 + [("a", "b")] * 5 + [("b", "a")] * 10
    assert kappa(Counter(pairs)) == pytest.approx(0.4)
    assert kappa(Counter([("a", "a")] * 5)) is None  # one category: undefined, not a number
    assert kappa(Counter()) is None


def _j(cid, p, attempt, verdict, shown="a"):
    return {"comparison_id": cid, "judge": "j", "pass": p, "attempt": attempt, "verdict": verdict, "shown_first": shown}


def test_final_and_combined_verdicts():
    finals = final_verdicts([_j(1, 0, 1, "invalid"), _j(1, 0, 2, "b"), _j(2, 0, 1, "invalid"),
                             _j(3, 0, 1, "a"), _j(3, 1, 1, "b", "b"), _j(4, 0, 1, "a"), _j(4, 1, 1, "a", "b")])
    assert finals[(1, "j", 0)]["verdict"] == "b" and finals[(2, "j", 0)]["verdict"] == "invalid"
    c = combined(finals)
    assert c[(1, "j")] == {"verdict": "b", "flip": False, "swapped": False}
    assert (2, "j") not in c  # invalid is not counted as any outcome
    assert c[(3, "j")] == {"verdict": "tie", "flip": True, "swapped": True}
    assert c[(4, "j")] == {"verdict": "a", "flip": False, "swapped": True}
