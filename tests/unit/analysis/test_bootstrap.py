"""Bootstrap intervals: determinism, a reference draw, the normal-theory limit, coverage, pairing, errors."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from invdn.analysis import bootstrap as stats
from invdn.analysis.bootstrap import Interval, bootstrap_ci, format_ci, fraction_improved, latex_ci, paired_difference_ci


def _normal(seed: int, n: int, loc: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return np.random.Generator(np.random.PCG64(seed)).normal(loc, scale, size=n)


def test_same_seed_same_interval_other_seed_other_endpoints():
    x = _normal(1, 40, 32.0, 2.0)
    first = bootstrap_ci(x, resamples=2000, seed=7)
    assert bootstrap_ci(x, resamples=2000, seed=7) == first
    assert bootstrap_ci(list(x), resamples=2000, seed=7) == first  # array-like input, same result
    other = bootstrap_ci(x, resamples=2000, seed=8)
    assert other.mean == first.mean
    assert other.low != first.low and other.high != first.high
    assert (first.seed, other.seed, first.resamples, first.n, first.method) == (7, 8, 2000, 40, "percentile")


def test_matches_one_full_index_draw_whatever_the_block_size(monkeypatch):
    # The documented protocol, written out independently: one (B, n) index draw, row means, linear quantiles.
    x, b, seed = _normal(2, 37, 30.0, 1.5), 3001, 11
    idx = np.random.Generator(np.random.PCG64(seed)).integers(0, x.size, size=(b, x.size))
    ref_low, ref_high = np.quantile(x[idx].mean(axis=1), [0.05, 0.95])
    whole = bootstrap_ci(x, confidence=0.90, resamples=b, seed=seed)
    monkeypatch.setattr(stats, "_MAX_BLOCK_ELEMENTS", 5 * x.size + 3)  # blocks of 5 rows, last one partial
    blocked = bootstrap_ci(x, confidence=0.90, resamples=b, seed=seed)
    assert blocked == whole
    assert (whole.low, whole.high) == (ref_low, ref_high)
    assert whole.mean == x.mean()


def test_contains_mean_and_shrinks_with_n():
    small = bootstrap_ci(_normal(3, 10, 30.0, 2.0), resamples=4000, seed=0)
    large = bootstrap_ci(_normal(3, 1000, 30.0, 2.0), resamples=4000, seed=0)
    for ci in (small, large):
        assert ci.low < ci.mean < ci.high
    # Width scales as 1/sqrt(n): expected ratio ~10 (a bit less, as the n=10 interval is narrow); 5 is safe.
    assert (large.high - large.low) < (small.high - small.low) / 5


def test_single_image_is_degenerate():
    ci = bootstrap_ci([31.25], resamples=100, seed=3)
    assert ci.low == ci.high == ci.mean == 31.25 and ci.n == 1


def test_large_normal_sample_matches_normal_theory_interval():
    # For n = 2000 normal scores the bootstrap distribution of the mean is normal with sd s*sqrt((n-1)/n)
    # (a 0.03% difference), so the 95% endpoints approach mean -/+ 1.96 s / sqrt(n). Monte Carlo error of a
    # 2.5% quantile from B = 20000 resamples: sqrt(.025 * .975 / B) / phi(1.96) = 0.019 standard errors, i.e.
    # 0.5% of the 3.92-SE width. A 2% tolerance is 4 such errors, yet a 90% interval used by mistake would
    # move each endpoint by (1.96 - 1.645) / 3.92 = 8% of the width and fail.
    x = _normal(4, 2000, 32.0, 2.0)
    ci = bootstrap_ci(x, confidence=0.95, resamples=20000, seed=5)
    half = 1.959963984540054 * x.std(ddof=1) / math.sqrt(x.size)
    width = 2 * half
    assert abs(ci.low - (x.mean() - half)) < 0.02 * width
    assert abs(ci.high - (x.mean() + half)) < 0.02 * width


def test_coverage_of_true_mean_is_near_nominal():
    # Percentile intervals for n = 30 normal data cover ~93.5%; with 400 datasets the binomial sd is 1.2
    # points, so [90%, 99%] holds with margin, and a wrong confidence level (or a per-dataset interval that
    # ignores the data) falls outside it.
    datasets = 400
    covered = sum(
        (ci := bootstrap_ci(_normal(100 + k, 30), resamples=2000, seed=k)).low <= 0.0 <= ci.high
        for k in range(datasets)
    )
    assert 0.90 <= covered / datasets <= 0.99


def test_paired_interval_sees_a_constant_shift_the_separate_intervals_hide():
    a = _normal(6, 50, 30.0, 2.0)
    b = a - 0.1
    diff = paired_difference_ci(a, b, resamples=5000, seed=0)
    assert diff.mean == pytest.approx(0.1, abs=1e-12)
    assert diff.low == pytest.approx(0.1, abs=1e-12) and diff.high == pytest.approx(0.1, abs=1e-12)
    assert diff.n == 50
    # Separate intervals: each ~1.1 dB wide, shifted by 0.1 dB, so they overlap by over 80% of their width.
    ci_a, ci_b = bootstrap_ci(a, resamples=5000, seed=0), bootstrap_ci(b, resamples=5000, seed=0)
    overlap = min(ci_a.high, ci_b.high) - max(ci_a.low, ci_b.low)
    assert overlap > 0.8 * (ci_a.high - ci_a.low)
    assert fraction_improved(a, b) == 1.0
    assert fraction_improved(b, a) == 0.0


def test_paired_interval_is_bootstrap_of_differences_with_same_indices():
    a, b = _normal(7, 25, 30.0, 2.0), _normal(8, 25, 29.8, 2.0)
    assert paired_difference_ci(a, b, resamples=1500, seed=9) == bootstrap_ci(a - b, resamples=1500, seed=9)


def test_fraction_improved_counts_strictly():
    assert fraction_improved([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 4.0, 3.5]) == 0.5  # tie, win, loss, win
    assert fraction_improved([2.0, 2.0], [2.0, 2.0]) == 0.0


def test_formatting():
    ci = Interval(mean=32.8, low=32.4149, high=33.1749, confidence=0.95, resamples=10000, seed=0, n=1280)
    assert format_ci(ci) == "32.80 [32.41, 33.17]"
    assert format_ci(ci, digits=1) == "32.8 [32.4, 33.2]"
    assert latex_ci(ci) == r"32.80\,{\scriptsize[32.41, 33.17]}"
    neg = Interval(mean=-0.004, low=-0.12, high=0.11, confidence=0.95, resamples=10, seed=0, n=3)
    assert format_ci(neg) == "0.00 [-0.12, 0.11]"
    assert latex_ci(neg) == r"0.00\,{\scriptsize[$-$0.12, 0.11]}"
    d = bootstrap_ci([30.0, 31.0, 33.0], resamples=50, seed=1).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert set(d) == {"mean", "low", "high", "confidence", "resamples", "seed", "n", "method"}
    assert type(d["low"]) is float and type(d["n"]) is int
    with pytest.raises(ValueError, match="digits"):
        format_ci(ci, digits=-1)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match=r"1 of 3 scores are NaN \(first at index 1\)"):
        bootstrap_ci([30.0, float("nan"), 31.0])
    with pytest.raises(ValueError, match="infinite"):
        bootstrap_ci([30.0, math.inf])
    with pytest.raises(ValueError, match="1-D"):
        bootstrap_ci(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="a has 3 scores and b has 2"):
        paired_difference_ci([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="a has 1 scores and b has 2"):
        fraction_improved([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(b\).*NaN"):
        paired_difference_ci([1.0, 2.0], [1.0, float("nan")])
    with pytest.raises(ValueError, match="empty"):
        fraction_improved([], [])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_ci([1.0, 2.0], resamples=0)
    with pytest.raises(ValueError, match="seed"):
        bootstrap_ci([1.0, 2.0], seed=-1)
