"""Bootstrap confidence intervals for per-image scores (PSNR in dB, SSIM, ...) averaged over a test set.

A table that reports "32.80 dB" for a method on 1280 SIDD blocks hides how much of a 0.05 dB difference between
two methods is image sampling. The functions here put a percentile bootstrap interval around the mean over images
(Efron & Tibshirani (1993), *An Introduction to the Bootstrap*, Chapman & Hall, ch. 13, "the percentile
interval"), and around the mean paired difference between two methods scored on the same images.

Randomness goes through ``numpy.random.Generator(PCG64(seed))`` only, so an interval is a pure function of
(values, confidence, resamples, seed); the seed is recorded in the returned :class:`Interval`.
"""
from __future__ import annotations

import operator
from dataclasses import asdict, dataclass

import numpy as np

# Largest index block drawn at once (int64 indices + gathered float64 values: ~64 MiB at 2**22). Blocks are
# drawn one after the other from the same generator, and PCG64 hands out the same integer stream whatever the
# block sizes, so the result does not depend on this constant (tests/test_stats.py checks it).
_MAX_BLOCK_ELEMENTS = 2**22


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap confidence interval.

    Attributes:
        mean: the statistic on the original sample (mean over images, or mean paired difference), in the
            units of the scores (dB for PSNR).
        low, high: the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of the bootstrap means, same units.
            A percentile interval need not be centred on ``mean``.
        confidence: nominal coverage in (0, 1), e.g. 0.95.
        resamples: number of bootstrap resamples B.
        seed: seed of the ``PCG64`` generator that drew the resamples.
        n: number of images (pairs, for a paired interval).
        method: ``"percentile"`` (Efron & Tibshirani 1993, ch. 13).
    """

    mean: float
    low: float
    high: float
    confidence: float
    resamples: int
    seed: int
    n: int
    method: str = "percentile"

    def to_dict(self) -> dict:
        """All fields as plain Python numbers and strings (JSON-serialisable), keyed by field name."""
        return asdict(self)


def _scores(values, name: str) -> np.ndarray:
    """``values`` as a 1-D float64 array of finite numbers; ValueError naming what is wrong otherwise."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of per-image scores, got shape {x.shape}; "
                         "pass one score per image (flatten or average over other axes first)")
    if x.size == 0:
        raise ValueError(f"{name}: no scores (empty input); a confidence interval needs at least one image")
    nan = np.isnan(x)
    if nan.any():
        raise ValueError(f"{name}: {int(nan.sum())} of {x.size} scores are NaN (first at index "
                         f"{int(np.flatnonzero(nan)[0])}); drop or fix those images before bootstrapping")
    inf = np.isinf(x)
    if inf.any():
        raise ValueError(f"{name}: {int(inf.sum())} of {x.size} scores are infinite (first at index "
                         f"{int(np.flatnonzero(inf)[0])}), e.g. PSNR of an image identical to its reference; "
                         "the mean is not finite, so clip or drop those images explicitly")
    return x


def _check_settings(confidence: float, resamples: int, seed: int) -> tuple[float, int, int]:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1 (e.g. 0.95), got {confidence}")
    if isinstance(resamples, bool) or isinstance(seed, bool):
        raise ValueError("resamples and seed must be integers, not booleans")
    try:
        resamples, seed = operator.index(resamples), operator.index(seed)
    except TypeError as err:
        raise ValueError(f"resamples and seed must be integers, got {resamples!r} and {seed!r}") from err
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1 (10000 is usual for a 95% interval), got {resamples}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer (PCG64 seed), got {seed}")
    return confidence, resamples, seed


def _bootstrap_means(x: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Means of ``resamples`` resamples of ``x`` drawn with replacement, shape (resamples,), float64.

    Resample r uses row r of one (resamples, n) array of indices drawn by
    ``Generator(PCG64(seed)).integers(0, n, size=(resamples, n))``; it is drawn in blocks of rows to bound
    memory, which yields the same indices.
    """
    n = x.size
    rng = np.random.Generator(np.random.PCG64(seed))
    rows = max(1, _MAX_BLOCK_ELEMENTS // n)
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, rows):
        stop = min(start + rows, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    return means


def _percentile_interval(x: np.ndarray, confidence: float, resamples: int, seed: int) -> Interval:
    means = _bootstrap_means(x, resamples, seed)
    alpha = 1.0 - confidence
    # Linear interpolation between order statistics (numpy's default quantile definition).
    low, high = np.quantile(means, [alpha / 2, 1.0 - alpha / 2])
    return Interval(mean=float(x.mean()), low=float(low), high=float(high), confidence=confidence,
                    resamples=resamples, seed=seed, n=int(x.size))


def bootstrap_ci(values, confidence: float = 0.95, resamples: int = 10000, seed: int = 0) -> Interval:
    """Percentile bootstrap confidence interval of the mean of per-image scores.

    Images are resampled with replacement (each resample has n images), the mean of each resample is taken, and
    the interval is the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of those B means
    (Efron & Tibshirani (1993), An Introduction to the Bootstrap, ch. 13, percentile interval). The
    randomness is one (resamples, n) draw of indices from ``numpy.random.Generator(PCG64(seed))`` (drawn in
    blocks for large n, with identical indices), so the same arguments always give the same interval.

    For n == 1 every resample is the single image, and the interval is degenerate: low == high == mean.
    In general the interval need not be symmetric about the mean; for small n it tends to be a little narrow
    (coverage below nominal), as percentile intervals are.

    Args:
        values: 1-D array-like of n per-image scores, float (e.g. PSNR in dB); all finite.
        confidence: nominal coverage, strictly between 0 and 1.
        resamples: number of bootstrap resamples B >= 1; memory is bounded by blocking, time is O(B * n).
        seed: non-negative integer seed of the PCG64 generator; recorded in the result.

    Returns:
        :class:`Interval` with mean, low, high in the units of ``values`` and ``method == "percentile"``.

    Raises:
        ValueError: ``values`` is empty, not 1-D, or contains NaN or infinite scores (the message gives the
            count and the first index); ``confidence``, ``resamples`` or ``seed`` is out of range.
    """
    confidence, resamples, seed = _check_settings(confidence, resamples, seed)
    return _percentile_interval(_scores(values, "bootstrap_ci"), confidence, resamples, seed)


def _pair(a, b, name: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = _scores(a, f"{name} (a)"), _scores(b, f"{name} (b)")
    if a.shape != b.shape:
        raise ValueError(f"{name}: a has {a.size} scores and b has {b.size}; a paired comparison needs one "
                         "score per image from each method, on the same images in the same order")
    return a, b


def paired_difference_ci(a, b, confidence: float = 0.95, resamples: int = 10000, seed: int = 0) -> Interval:
    """Percentile bootstrap confidence interval of the mean paired difference mean(a - b) over images.

    ``a[i]`` and ``b[i]`` are two methods' scores on image i. Image indices are resampled with replacement and
    both scores of a drawn image move together, i.e. this is :func:`bootstrap_ci` of the per-image differences
    ``a - b`` (Efron & Tibshirani (1993), An Introduction to the Bootstrap, ch. 13, percentile interval).
    Because the image-to-image spread shared by both methods cancels, this interval is usually far narrower than
    the two separate intervals of a and b suggest; comparing methods by overlap of separate intervals is wrong.
    An interval that excludes 0 says a beats b (or the reverse) beyond image sampling, on these images.

    Args:
        a, b: 1-D array-likes of n per-image scores each (same images, same order), float, all finite,
            e.g. PSNR in dB of the method and of a baseline.
        confidence, resamples, seed: as in :func:`bootstrap_ci`; the same seed draws the same image indices.

    Returns:
        :class:`Interval` of mean(a - b) in the units of the scores (dB for PSNR), ``n`` = number of pairs.

    Raises:
        ValueError: a and b differ in length; either is empty, not 1-D, or has NaN or infinite scores;
            ``confidence``, ``resamples`` or ``seed`` is out of range.
    """
    confidence, resamples, seed = _check_settings(confidence, resamples, seed)
    a, b = _pair(a, b, "paired_difference_ci")
    return _percentile_interval(a - b, confidence, resamples, seed)


def fraction_improved(a, b) -> float:
    """Share of images on which a scores strictly higher than b, in [0, 1].

    Ties (a[i] == b[i]) count as not improved. For "lower is better" scores, swap the arguments.

    Args:
        a, b: 1-D array-likes of n per-image scores each (same images, same order), float, all finite.

    Returns:
        (number of i with a[i] > b[i]) / n as a Python float.

    Raises:
        ValueError: a and b differ in length; either is empty, not 1-D, or has NaN or infinite scores.
    """
    a, b = _pair(a, b, "fraction_improved")
    return float(np.count_nonzero(a > b)) / a.size


def _fmt(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    # Rounding a tiny negative value gives "-0.00", which reads as a sign that is not there.
    return text.lstrip("-") if float(text) == 0.0 else text


def _check_digits(digits: int) -> int:
    if isinstance(digits, bool):
        raise ValueError(f"digits must be a non-negative integer, got {digits!r}")
    try:
        digits = operator.index(digits)
    except TypeError as err:
        raise ValueError(f"digits must be a non-negative integer, got {digits!r}") from err
    if digits < 0:
        raise ValueError(f"digits must be a non-negative integer, got {digits}")
    return digits


def format_ci(interval: Interval, digits: int = 2) -> str:
    """Plain-text form ``"mean [low, high]"``, e.g. ``"32.80 [32.41, 33.17]"``.

    Args:
        interval: an :class:`Interval`.
        digits: decimal places for all three numbers (2 for PSNR in dB, 4 for SSIM).

    Returns:
        The string; a value that rounds to zero is written without a minus sign.

    Raises:
        ValueError: ``digits`` is not a non-negative integer.
    """
    digits = _check_digits(digits)
    m, lo, hi = (_fmt(v, digits) for v in (interval.mean, interval.low, interval.high))
    return f"{m} [{lo}, {hi}]"


def latex_ci(interval: Interval, digits: int = 2) -> str:
    r"""LaTeX form for a text-mode table cell: the mean, a thin space, then the interval in small type.

    ``32.80\,{\scriptsize[32.41, 33.17]}``: the mean keeps the cell's size so columns of means still line up,
    and the bracket is ``\scriptsize`` so a table stays as narrow as one without intervals. Negative numbers
    are written with a math-mode minus, ``$-$0.12``, so the cell must be in text mode (as in ``tabular``);
    no package beyond LaTeX itself is needed.

    Args:
        interval: an :class:`Interval`.
        digits: decimal places for all three numbers.

    Returns:
        The LaTeX fragment (no surrounding math mode).

    Raises:
        ValueError: ``digits`` is not a non-negative integer.
    """
    digits = _check_digits(digits)

    def tex(value: float) -> str:
        text = _fmt(value, digits)
        return "$-$" + text[1:] if text.startswith("-") else text

    m, lo, hi = (tex(v) for v in (interval.mean, interval.low, interval.high))
    return m + r"\," + r"{\scriptsize[" + f"{lo}, {hi}" + "]}"


__all__ = ["Interval", "bootstrap_ci", "paired_difference_ci", "fraction_improved", "format_ci", "latex_ci"]
