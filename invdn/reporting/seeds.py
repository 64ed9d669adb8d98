"""Numbers over training seeds: a row trained with several seeds, and differences paired by seed.

A measured row is a set of runs that differ in the training seed only (``train.seeds``). Two
sources of spread are reported apart:

* the seed spread - the across-seed mean of the per-run means, their sample standard deviation
  (ddof 1) and range: how much another training run would move the number;
* the image spread - a percentile bootstrap interval over images of the per-image values averaged
  over seeds (:func:`invdn.analysis.bootstrap.bootstrap_ci`): how much other test images would move it.

With one seed the seed spread is absent and the interval is the single run's. Differences between
two rows (an ablation variant against the main architecture) are paired by seed: the difference of
each seed's run against the other row's run of the same seed, over the seeds both rows have.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Mapping

from invdn.analysis.bootstrap import Interval, bootstrap_ci, paired_difference_ci

PerImage = Mapping[str, float]


class SeedError(ValueError):
    """Runs of one row that cannot be combined (no common seeds, other images); the message says which."""


@dataclass(frozen=True)
class SeedSummary:
    """A number over training seeds.

    Attributes:
        mean: across-seed mean of the per-run means (units of the values: dB for PSNR).
        sd: across-seed sample standard deviation (ddof 1); None for one seed.
        low, high: smallest and largest per-run mean.
        seeds: the training seeds, sorted.
        interval: 95% percentile bootstrap over images of the seed-averaged per-image values (paired
            for a difference); None without per-image values.
    """

    mean: float
    sd: float | None
    low: float
    high: float
    seeds: tuple[int, ...]
    interval: Interval | None

    @property
    def n(self) -> int:
        return len(self.seeds)

    def text(self, digits: int = 2, signed: bool = False, spec: str = "f") -> str:
        """``mean ± sd``, ``(min–max)``, ``[low, high]`` on three lines (tables stack them in LaTeX and join
        them with spaces elsewhere); one seed: ``mean`` and ``[low, high]``. ``spec`` "g" gives
        significant digits (AKLD)."""
        f = f"{{:+.{digits}{spec}}}" if signed else f"{{:.{digits}{spec}}}"
        lines = [f.format(self.mean)]
        if self.sd is not None:
            lines = [f"{lines[0]} ± {self.sd:.{digits}{spec}}", f"({f.format(self.low)}–{f.format(self.high)})"]
        if self.interval is not None:
            lines.append(f"[{f.format(self.interval.low)}, {f.format(self.interval.high)}]")
        return "\n".join(lines)

    def to_dict(self, prefix: str = "") -> dict:
        return {f"{prefix}mean": self.mean, f"{prefix}seed_sd": self.sd, f"{prefix}seed_min": self.low,
                f"{prefix}seed_max": self.high, f"{prefix}seeds": " ".join(map(str, self.seeds)),
                f"{prefix}ci_low": self.interval.low if self.interval else None,
                f"{prefix}ci_high": self.interval.high if self.interval else None}


def _images(per_seed: Mapping[int, PerImage], what: str) -> list[str]:
    names = None
    for seed, values in per_seed.items():
        if names is None:
            names = sorted(values)
        elif sorted(values) != names:
            raise SeedError(f"{what}: seed {seed} scored other images than the other seeds")
    return names or []


def _spread(means: list[float]) -> tuple[float, float | None, float, float]:
    return (statistics.fmean(means), statistics.stdev(means) if len(means) > 1 else None, min(means), max(means))


def summarise(per_seed: Mapping[int, PerImage], what: str = "row", means: Mapping[int, float] | None = None,
              boot_seed: int = 0) -> SeedSummary:
    """The seed spread and image interval of one row: ``per_seed`` maps each training seed to its
    per-image values ({image: value}); ``means`` overrides the per-run means (a tracked metric).

    Raises:
        SeedError: no seeds, or seeds that scored different images.
    """
    if not per_seed:
        raise SeedError(f"{what}: no runs")
    seeds = tuple(sorted(per_seed))
    names = _images(per_seed, what)
    run_means = [means[s] if means else statistics.fmean(per_seed[s].values()) for s in seeds]
    mean, sd, low, high = _spread(run_means)
    interval = None
    if len(names) >= 2:
        averaged = [statistics.fmean(per_seed[s][n] for s in seeds) for n in names]
        interval = bootstrap_ci(averaged, seed=boot_seed)
    return SeedSummary(mean, sd, low, high, seeds, interval)


def paired(a: Mapping[int, PerImage], b: Mapping[int, PerImage], what: str = "difference",
           boot_seed: int = 0) -> SeedSummary:
    """Row ``a`` minus row ``b``, paired by seed (the seeds both have) and by image.

    Raises:
        SeedError: no common seed, or runs that scored different images.
    """
    seeds = tuple(sorted(set(a) & set(b)))
    if not seeds:
        raise SeedError(f"{what}: no training seed in common ({sorted(a)} vs {sorted(b)})")
    names = _images({**{s: a[s] for s in seeds}, **{-1 - s: b[s] for s in seeds}}, what)
    diffs = [statistics.fmean(a[s][n] - b[s][n] for n in names) for s in seeds]
    mean, sd, low, high = _spread(diffs)
    interval = None
    if len(names) >= 2:
        interval = paired_difference_ci([statistics.fmean(a[s][n] for s in seeds) for n in names],
                                        [statistics.fmean(b[s][n] for s in seeds) for n in names], seed=boot_seed)
    return SeedSummary(mean, sd, low, high, seeds, interval)


def legend(n_seeds: int) -> str:
    """How a caption explains the cells."""
    interval = "[95% percentile-bootstrap interval over images]"
    if n_seeds > 1:
        return (f"Cells: mean over {n_seeds} training seeds ± their standard deviation (min–max over seeds) "
                f"{interval}, the images' values averaged over seeds.")
    return f"Cells: mean over images {interval}; one training seed."
