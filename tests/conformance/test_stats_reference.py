"""brie's statistics against the references they name: the Wilson interval against statsmodels'
`proportion_confint(method="wilson")`, Cohen's kappa against scikit-learn's `cohen_kappa_score`,
McNemar's exact test against statsmodels' `mcnemar(exact=True)`, and the position-bias test against
scipy's `binomtest`. Fixtures are seeded random verdict lists plus edge cases; every expected value
comes from the reference at test time. Each brie function here is the one `brie results` itself
calls (not the plain definitions kept in tests/results_reference.py)."""

from __future__ import annotations

import math
import random
import warnings
from collections import Counter

import pytest

from brie.evals.forgetting import mcnemar_exact
from brie.judging.stats import first_shown_p, kappa, wilson

VERDICTS = ("a", "b", "tie")


def _random_pairs(seed: int) -> list[tuple[str, str]]:
    """Two judges' verdicts, agreeing more often than chance (so kappa spans more than ~0)."""
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    weights = [rng.random() for _ in VERDICTS]
    out = []
    for _ in range(n):
        x = rng.choices(VERDICTS, weights)[0]
        y = x if rng.random() < rng.random() else rng.choices(VERDICTS, weights)[0]
        out.append((x, y))
    return out


EDGE_PAIRS = {
    "all equal, one class": [("a", "a")] * 7,
    "one class each, different": [("a", "b")] * 5,
    "one rater one class": [("a", "a"), ("a", "b"), ("a", "tie")],
    "perfect agreement": [("a", "a"), ("b", "b"), ("tie", "tie")] * 3,
    "perfect disagreement": [("a", "b"), ("b", "a")] * 8,
    "single pair": [("tie", "a")],
    "ties only on one side": [("tie", "a"), ("tie", "b"), ("a", "a"), ("b", "b")],
}
CASES = {**{f"seed {s}": _random_pairs(s) for s in range(40)}, **EDGE_PAIRS}


def _sklearn_kappa(pairs: list[tuple[str, str]]) -> float:
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one class only: sklearn warns and returns nan
        return float(cohen_kappa_score([x for x, _ in pairs], [y for _, y in pairs], labels=list(VERDICTS)))


@pytest.mark.parametrize("name", list(CASES))
def test_kappa_equals_scikit_learn(name):
    pairs = CASES[name]
    expected = _sklearn_kappa(pairs)
    got = kappa(Counter(pairs))  # the 3x3 table, as `results` hands it over
    if math.isnan(expected):
        assert got is None  # undefined is shown as undefined, never as a number
    else:
        assert got == pytest.approx(expected, abs=1e-12)


def test_the_fixtures_cover_the_range_of_kappa():
    values = [_sklearn_kappa(p) for p in CASES.values()]
    defined = [v for v in values if not math.isnan(v)]
    assert any(math.isnan(v) for v in values) and min(defined) < 0 < max(defined) and 1.0 in defined


def _wilson_cases():
    rng = random.Random(7)
    cases = [(0, 1), (1, 1), (0, 10), (10, 10), (5, 10), (0.5, 1), (7.5, 10), (14.5, 29), (1, 1000)]
    for _ in range(40):
        n = rng.randint(1, 500)
        cases.append((rng.randint(0, 2 * n) / 2, n))  # ties count half: the count may end in .5
    return cases


@pytest.mark.parametrize("successes,n", _wilson_cases())
def test_wilson_equals_statsmodels(successes, n):
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(successes, n, alpha=0.05, method="wilson")
    assert wilson(successes, n) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))


def _paired_cases():
    rng = random.Random(11)
    cases = [([1] * 9, [1] * 9), ([0] * 5, [0] * 5), ([1, 0] * 4, [1, 0] * 4), ([1] * 12, [0] * 12),
             ([1, 1, 0], [0, 1, 1]), ([1], [0])]
    for _ in range(40):
        n = rng.randint(1, 200)
        p_base, p_other = rng.random(), rng.random()
        cases.append(([int(rng.random() < p_base) for _ in range(n)], [int(rng.random() < p_other) for _ in range(n)]))
    return cases


@pytest.mark.parametrize("case", range(len(_paired_cases())))
def test_mcnemar_equals_statsmodels(case):
    from statsmodels.stats.contingency_tables import mcnemar

    base, other = _paired_cases()[case]
    table = [[sum(x == 1 and y == 1 for x, y in zip(base, other)), sum(x == 1 and y == 0 for x, y in zip(base, other))],
             [sum(x == 0 and y == 1 for x, y in zip(base, other)), sum(x == 0 and y == 0 for x, y in zip(base, other))]]
    ref = mcnemar(table, exact=True)
    b, c, p = mcnemar_exact(base, other)
    assert (b, c) == (table[0][1], table[1][0])
    assert min(b, c) == ref.statistic  # statsmodels' exact statistic is the smaller discordant count
    assert p == pytest.approx(ref.pvalue, abs=1e-12)


@pytest.mark.parametrize("wins,n", [(0, 1), (1, 1), (0, 16), (15, 16), (8, 16), (3, 30), (40, 57), (0, 0)])
def test_position_bias_p_equals_scipy(wins, n):
    from scipy.stats import binomtest

    if n == 0:
        assert first_shown_p(0, 0) is None
    else:
        assert first_shown_p(wins, n) == pytest.approx(binomtest(wins, n, 0.5).pvalue, abs=1e-15)


def _binomial_cases():
    """Every count for n up to 120, then counts around n/2 (where p is not tiny) for n up to 60,000."""
    rng = random.Random(20)
    cases = [(k, n) for n in range(1, 121) for k in range(n + 1)]
    for _ in range(300):
        n = rng.choice([rng.randint(121, 3000), rng.randint(3000, 60_000)])
        k = int(n / 2 + rng.gauss(0, 1) * n ** 0.5 * rng.choice([0.3, 1, 2, 4, 10]))
        cases.append((min(n, max(0, k)), n))
    return cases


def test_position_bias_p_equals_scipy_over_many_counts():
    """brie's exact sum against scipy's binomtest on ~7,600 (wins, n). scipy's own value is good to
    about 1e-14 near p = 1 and 1e-12 relative at p ~ 1e-250; below the smallest normal double both
    are subnormals with few digits. For a few p below 1e-250 scipy's binom.cdf underflows to 0
    (e.g. 38 of 1,079): there brie keeps the exact value, which is below 1e-250 too."""
    from scipy.stats import binomtest

    underflowed = 0
    for k, n in _binomial_cases():
        expected = binomtest(k, n, 0.5).pvalue
        got = first_shown_p(k, n)
        if expected == 0.0:
            underflowed += 1
            assert got < 1e-250, (k, n)
        else:
            assert got == pytest.approx(expected, rel=1e-11, abs=1e-306), (k, n)
    assert underflowed <= 3


def test_the_wilson_critical_value_is_scipys():
    from scipy.stats import norm

    from brie.judging.stats import Z_975

    assert Z_975 == norm.isf(0.025)
