"""The Bradley–Terry fit of `brie rank` against statsmodels: a logistic regression without intercept
on the ±1 design matrix (one row per outcome: +1 for the model scored, −1 for its opponent, the
anchor's column dropped) is the same likelihood, so the same β. A tie counts half a win: each outcome
becomes two rows (a win twice, a loss twice, a tie once each), which doubles the likelihood and keeps
its maximum. Both of brie's fits are checked: scipy.optimize (the point estimate) and the batched
Newton fit the bootstrap uses. Expected values come from statsmodels at test time."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

from brie.judging.ranking import ELO, fit_bt, fit_bt_many, pair_arrays, rank_models


def _outcomes(seed: int) -> tuple[list[tuple], list[str]]:
    rng = random.Random(seed)
    k = rng.randint(2, 6)
    models = [f"m{i}" for i in range(k)]
    strength = [0.0] + [rng.gauss(0, 1) for _ in range(k - 1)]
    pairs = [(0, i) for i in range(1, k)] + [(i, i + 1) for i in range(1, k - 1)]
    out = []
    for p in range(rng.randint(15, 60)):
        for a, b in pairs:
            if rng.random() < 0.8:
                pb = 1 / (1 + np.exp(strength[a] - strength[b]))
                y = 0.5 if rng.random() < 0.1 else float(rng.random() < pb)
                out.append((p, models[a], models[b], y))
    return out, models


def _statsmodels_beta(outcomes, models, anchor=0):
    import statsmodels.api as sm

    X, y = [], []
    for _, a, b, s in outcomes:
        row = np.zeros(len(models))
        row[models.index(b)] += 1
        row[models.index(a)] -= 1
        for win in (1.0, 0.0):  # two rows per outcome: 2·s wins out of 2
            X.append(row)
            y.append(win)
        if s in (0.0, 1.0):
            y[-2:] = [s, s]
    X = np.delete(np.array(X), anchor, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.Logit(np.array(y), X).fit(disp=0, method="newton", tol=1e-12, maxiter=200)
    return np.insert(fit.params, anchor, 0.0)


@pytest.mark.parametrize("seed", range(12))
def test_bt_fit_equals_statsmodels_logit(seed):
    outcomes, models = _outcomes(seed)
    _, i, j, W, N = pair_arrays(outcomes, models)
    expected = _statsmodels_beta(outcomes, models)
    if np.abs(expected).max() > 8:  # a separated data set: no finite reference to compare with
        pytest.skip("separated")
    got = fit_bt(i, j, W.sum(0), N.sum(0), len(models))
    assert got == pytest.approx(expected, abs=1e-4)
    assert fit_bt_many(i, j, W.sum(0), N.sum(0), len(models))[0] == pytest.approx(expected, abs=1e-4)
    # rank_models reports the same β on the Elo scale, base at 1000
    ranked = {m["label"]: m for m in rank_models(outcomes, models, "m0", rounds=50)["models"]}
    for k, label in enumerate(models):
        assert ranked[label]["score"] == pytest.approx(1000 + ELO * expected[k], abs=0.05)


def test_another_anchor_shifts_every_score_alike():
    outcomes, models = _outcomes(3)
    _, i, j, W, N = pair_arrays(outcomes, models)
    a0 = fit_bt(i, j, W.sum(0), N.sum(0), len(models), anchor=0)
    a1 = fit_bt(i, j, W.sum(0), N.sum(0), len(models), anchor=1)
    assert a1 == pytest.approx(a0 - a0[1], abs=1e-5)
    assert a1 == pytest.approx(_statsmodels_beta(outcomes, models, anchor=1), abs=1e-4)
