"""Datasets of image pairs: whole images for evaluation, seeded random patches for training."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from invdn.data.io import ImageError, read_rgb, uint8_to_float
from invdn.data.pairs import ArrayPair, ImagePair
from invdn.data.resize import make_lq


def load_pair(pair: ImagePair | ArrayPair, lq_scale: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read a pair as (H, W, 3) uint8 arrays (noisy, clean, lq or None), checking their sizes.

    The LQ image is read and checked only when ``lq_scale`` is given (else lq is None). An
    ``ArrayPair`` (in memory, e.g. a SIDD .mat block) is returned as it is, without LQ.

    Raises:
        ImageError: an unreadable file, noisy and clean of different sizes, or an LQ image that
            is not the clean size divided by ``lq_scale``.
    """
    if isinstance(pair, ArrayPair):
        return pair.noisy_array, pair.clean_array, None
    noisy, clean = read_rgb(pair.noisy), read_rgb(pair.clean)
    if noisy.shape != clean.shape:
        raise ImageError(
            f"{pair.noisy} is {noisy.shape[1]}x{noisy.shape[0]} but its clean partner {pair.clean} "
            f"is {clean.shape[1]}x{clean.shape[0]}: a pair must have the same size"
        )
    lq = None
    if pair.lq is not None and lq_scale is not None:
        lq = read_rgb(pair.lq)
        h, w = clean.shape[:2]
        if (h % lq_scale or w % lq_scale) or lq.shape[:2] != (h // lq_scale, w // lq_scale):
            raise ImageError(
                f"{pair.lq} is {lq.shape[1]}x{lq.shape[0]}; expected the clean image {pair.clean} "
                f"({w}x{h}) downscaled by {lq_scale}"
            )
    return noisy, clean, lq


class PairImages(Dataset):
    """Whole evaluation pairs: item i -> dict(name, noisy, clean), images (3, H, W) float32 in [0, 1]."""

    def __init__(self, pairs: Sequence[ImagePair]):
        self.pairs = list(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        noisy, clean, _ = load_pair(self.pairs[i])
        return {"name": self.pairs[i].name, "noisy": uint8_to_float(noisy), "clean": uint8_to_float(clean)}


class TrainPatches(Dataset):
    """Random aligned patches with flips and 90-degree rotations, a pure function of (seed, k).

    Sample ``k`` (the k-th sample drawn in the whole run, k = step * batch_size + i) picks an image,
    a crop aligned to the LQ grid and one of 8 dihedral augmentations (horizontal flip, vertical
    flip, transpose: three coin flips, as the official code) from a generator seeded with
    (seed, k). Batches therefore do not depend on worker count or on where a run was resumed.

    Items: dict(noisy, clean of (3, P, P), lq of (3, P/s, P/s), float32 in [0, 1]; index of the
    source pair). ``patch_size`` must be divisible by ``lq_scale``.

    LQ targets come from the pair's LQ/ file when it is the clean image downscaled by ``lq_scale``.
    When the file holds another power-of-two downscale (SIDD's prepared LQ/ is x4; Table 3's
    down_blocks 1 and 3 need x2 and x8), the target is computed from the clean image with
    ``make_lq`` (the function that reproduces the x4 files exactly); any other LQ size is an error.

    ``noise_gain_max`` > 1 turns on an augmentation that is *not* in the paper: the real residual
    (noisy - clean) is scaled by a gain drawn uniformly from [1, noise_gain_max] and the result
    clamped to [0, 1]. It exists for training sets much less noisy than the evaluation data
    (the bundled patches: about 31 dB vs 23 dB); 1 (the default) reproduces the paper's recipe.
    ``channel_shuffle`` (also not in the paper, off by default) applies one random permutation of
    the RGB channels to noisy, clean and LQ alike, so that a training set of one scene cannot
    teach the network that scene's colour relations.
    """

    def __init__(
        self,
        pairs: Sequence[ImagePair],
        patch_size: int,
        lq_scale: int,
        seed: int,
        cache: bool = True,
        noise_gain_max: float = 1.0,
        channel_shuffle: bool = False,
    ):
        if noise_gain_max < 1:
            raise ValueError(f"noise_gain_max must be >= 1, got {noise_gain_max}")
        self.noise_gain_max = noise_gain_max
        self.channel_shuffle = channel_shuffle
        if patch_size % lq_scale:
            raise ValueError(f"patch_size {patch_size} must be divisible by the LQ scale {lq_scale}")
        self.pairs = list(pairs)
        self.patch_size = patch_size
        self.lq_scale = lq_scale
        self.seed = seed
        self.cache = cache
        self._cache: dict[int, tuple] = {}

    def __len__(self) -> int:
        return len(self.pairs)

    def _images(self, i: int):
        if i in self._cache:
            return self._cache[i]
        imgs = self._with_lq(self.pairs[i])
        h, w = imgs[1].shape[:2]
        if min(h, w) < self.patch_size:
            raise ImageError(f"{self.pairs[i].clean} is {w}x{h}, smaller than patch_size {self.patch_size}")
        if self.cache:
            self._cache[i] = imgs
        return imgs

    def _with_lq(self, pair: ImagePair) -> tuple:
        """(noisy, clean, lq) uint8 with lq at ``lq_scale``: the LQ/ file, or made from clean when the
        file is a power-of-two downscale for another scale."""
        s = self.lq_scale
        noisy, clean, _ = load_pair(pair)
        h, w = clean.shape[:2]
        lq = read_rgb(pair.lq) if pair.lq is not None else None
        if lq is not None and not (h % s or w % s):
            if lq.shape[:2] == (h // s, w // s):
                return noisy, clean, lq
            if any(lq.shape[:2] == (h // k, w // k) for k in (2, 4, 8, 16) if not (h % k or w % k)):
                return noisy, clean, make_lq(clean, s)
        return load_pair(pair, s)  # an LQ of no usable size: the error naming the file and the size expected

    def __getitem__(self, k: int) -> dict:
        rng = np.random.default_rng([self.seed, k])
        i = int(rng.integers(len(self.pairs)))
        noisy, clean, lq = self._images(i)
        lp = self.patch_size // self.lq_scale
        top = int(rng.integers(lq.shape[0] - lp + 1))
        left = int(rng.integers(lq.shape[1] - lp + 1))
        s, p = self.lq_scale, self.patch_size
        crops = [
            noisy[top * s : top * s + p, left * s : left * s + p],
            clean[top * s : top * s + p, left * s : left * s + p],
            lq[top : top + lp, left : left + lp],
        ]
        hflip, vflip, transpose = rng.random(3) < 0.5
        out = []
        for img in crops:
            if hflip:
                img = img[:, ::-1]
            if vflip:
                img = img[::-1]
            if transpose:
                img = img.transpose(1, 0, 2)
            out.append(uint8_to_float(img))
        noisy, clean, lq = out
        if self.channel_shuffle:
            perm = torch.from_numpy(rng.permutation(3))
            noisy, clean, lq = noisy[perm], clean[perm], lq[perm]
        if self.noise_gain_max > 1:
            gain = float(rng.uniform(1.0, self.noise_gain_max))
            noisy = (clean + gain * (noisy - clean)).clamp_(0, 1)
        return {"noisy": noisy, "clean": clean, "lq": lq, "index": i}


class SampleRange(Sampler[int]):
    """Yields the global sample indices [start, stop): the data order of a (resumed) run."""

    def __init__(self, start: int, stop: int):
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self) -> int:
        return self.stop - self.start
