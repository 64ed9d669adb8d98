"""Numbers over training seeds (invdn.reporting.seeds), checked against direct numpy computations."""
import numpy as np
import pytest

from invdn.reporting.seeds import SeedError, paired, summarise
from invdn.analysis.bootstrap import bootstrap_ci, paired_difference_ci

RNG = np.random.default_rng(3)
IMAGES = [f"im{i}" for i in range(12)]


def _runs(offsets):
    return {seed: {n: 30 + off + float(v) for n, v in zip(IMAGES, RNG.normal(0, 1, len(IMAGES)))}
            for seed, off in offsets.items()}


def test_one_seed_is_the_run_itself():
    runs = _runs({0: 0.0})
    s = summarise(runs)
    values = list(runs[0].values())
    assert s.mean == pytest.approx(np.mean(values), abs=1e-12) and s.sd is None and s.seeds == (0,)
    assert s.interval == bootstrap_ci([runs[0][n] for n in sorted(IMAGES)])
    assert s.text(2) == f"{np.mean(values):.2f}\n[{s.interval.low:.2f}, {s.interval.high:.2f}]"


def test_several_seeds_give_the_across_seed_spread_and_the_image_interval():
    runs = _runs({0: 0.0, 1: 0.5, 7: -0.2})
    s = summarise(runs)
    means = [np.mean(list(runs[k].values())) for k in (0, 1, 7)]
    assert s.mean == pytest.approx(np.mean(means), abs=1e-12)
    assert s.sd == pytest.approx(np.std(means, ddof=1), abs=1e-12)
    assert (s.low, s.high) == (pytest.approx(min(means)), pytest.approx(max(means)))
    averaged = [np.mean([runs[k][n] for k in (0, 1, 7)]) for n in sorted(IMAGES)]
    assert s.interval == bootstrap_ci(averaged)
    assert s.text().split("\n") == [f"{s.mean:.2f} ± {s.sd:.2f}", f"({s.low:.2f}–{s.high:.2f})",
                                     f"[{s.interval.low:.2f}, {s.interval.high:.2f}]"]


def test_differences_are_paired_by_seed_and_image():
    a, b = _runs({0: 1.0, 1: 1.0, 2: 1.0}), _runs({0: 0.0, 1: 0.0, 5: 0.0})
    d = paired(a, b)
    assert d.seeds == (0, 1)
    per_seed = [np.mean([a[k][n] - b[k][n] for n in IMAGES]) for k in (0, 1)]
    assert d.mean == pytest.approx(np.mean(per_seed)) and d.sd == pytest.approx(np.std(per_seed, ddof=1))
    names = sorted(IMAGES)
    assert d.interval == paired_difference_ci([np.mean([a[k][n] for k in (0, 1)]) for n in names],
                                              [np.mean([b[k][n] for k in (0, 1)]) for n in names])
    with pytest.raises(SeedError, match="no training seed in common"):
        paired(_runs({3: 0.0}), b)


def test_seeds_that_scored_other_images_are_refused():
    runs = _runs({0: 0.0, 1: 0.0})
    del runs[1]["im3"]
    with pytest.raises(SeedError, match="seed 1 scored other images"):
        summarise(runs, "InvDN")
