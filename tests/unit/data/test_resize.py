"""MATLAB-bicubic imresize: make_lq bit-exact against the official recipe (golden file) and the
bundled LQ files, plus hand-checkable cases."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from invdn.data.resize import imresize_bicubic, make_lq

from helpers import BUNDLED, REPO

TRAIN = BUNDLED / "train_mini"
NAMES = sorted(p.stem for p in (TRAIN / "GT").glob("*.PNG"))
GOLDEN = REPO / "tests" / "data" / "golden" / "lq_official_dihedral.npz"


def read(sub: str, name: str) -> np.ndarray:
    return np.asarray(Image.open(TRAIN / sub / f"{name}.PNG"))


def test_make_lq_reproduces_bundled_lq_files_exactly():
    assert len(NAMES) == 10
    worst = {}
    for name in NAMES:
        lq = make_lq(read("GT", name))
        expected = read("LQ", name)
        assert lq.shape == expected.shape == (128, 128, 3) and lq.dtype == np.uint8
        worst[name] = int(np.abs(lq.astype(int) - expected.astype(int)).max())
    assert all(v == 0 for v in worst.values()), f"max |difference| per file: {worst}"


def test_make_lq_equals_the_official_recipe_on_every_dihedral_variant():
    # Golden values: the official imresize_np recipe (BGR, float32 torch) on each bundled clean image
    # in its 8 dihedral variants, computed once with the official code (tests/data/golden/README.md).
    golden = np.load(GOLDEN)
    differing, values, keys = {}, 0, set()
    for split in ("train_mini", "val_mini"):
        for path in sorted((BUNDLED / split / "GT").glob("*.PNG")):
            clean = np.asarray(Image.open(path).convert("RGB"))
            for k in range(8):
                key = f"{split}_{path.stem}_d{k}"
                lq = make_lq(np.rot90(clean[:, ::-1] if k >= 4 else clean, k % 4))
                expected = golden[key]
                assert lq.shape == expected.shape and lq.dtype == np.uint8, key
                differing[key] = int((lq != expected).sum())
                values += expected.size
                keys.add(key)
    assert keys == set(golden.files) and values == 4_915_200
    total = sum(differing.values())
    worst = sorted(differing.items(), key=lambda kv: -kv[1])[:5]
    assert total == 0, f"make_lq differs from the official recipe at {total} of {values} values; most in {worst}"


def test_make_lq_resizes_each_channel_on_its_own():
    # The official code works on BGR; per-channel resizing makes the channel order irrelevant.
    clean = np.random.default_rng(3).integers(0, 256, (40, 24, 3), dtype=np.uint8)
    np.testing.assert_array_equal(make_lq(clean[:, :, ::-1]), make_lq(clean)[:, :, ::-1])
    np.testing.assert_array_equal(make_lq(clean[:, :, [1, 2, 0]], 2), make_lq(clean, 2)[:, :, [1, 2, 0]])


def test_float64_resize_is_within_one_grey_level_of_the_files():
    # The files were made in float32; float64 flips only a handful of near-.5 roundings.
    for name in NAMES[:3]:
        small = imresize_bicubic(read("GT", name) / 255.0, 0.25)
        diff = np.abs(np.rint(small * 255).astype(int) - read("LQ", name).astype(int))
        assert diff.max() <= 1 and (diff > 0).sum() <= 2, name


@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.5, 1.0, 2.0, 2.5])
def test_constant_image_stays_constant(scale):
    value = np.float32(0.3)  # float32 input is accepted and promoted
    out = imresize_bicubic(np.full((12, 9, 3), value), scale)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, float(value), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "shape, scale, expected",
    [
        ((10, 7, 3), 0.5, (5, 4, 3)), ((10, 10), 1 / 3, (4, 4)), ((3, 5), 2.5, (8, 13)),
        ((8, 8, 1), 0.25, (2, 2, 1)),
    ],
)
def test_output_shape_is_ceil_of_scaled_size(shape, scale, expected):
    assert imresize_bicubic(np.zeros(shape), scale).shape == expected


def test_grey_and_colour_images_agree_channel_by_channel():
    rng = np.random.default_rng(0)
    img = rng.random((16, 12, 3))
    colour = imresize_bicubic(img, 0.5)
    for c in range(3):
        np.testing.assert_array_equal(imresize_bicubic(img[..., c], 0.5), colour[..., c])


@pytest.mark.parametrize("scale", [0, -0.5, float("nan")])
def test_non_positive_scale_is_refused(scale):
    with pytest.raises(ValueError, match="scale must be positive"):
        imresize_bicubic(np.zeros((4, 4)), scale)


@pytest.mark.parametrize("shape", [(4,), (1, 4, 4, 3)])
def test_wrong_ndim_is_refused(shape):
    with pytest.raises(ValueError, match="must be"):
        imresize_bicubic(np.zeros(shape), 0.5)


def test_make_lq_refuses_sizes_not_divisible_and_non_rgb():
    with pytest.raises(ValueError, match="not divisible by scale 4"):
        make_lq(np.zeros((510, 512, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        make_lq(np.zeros((8, 8), np.uint8))


def test_scale_one_is_the_identity():
    img = np.random.default_rng(1).random((7, 5, 3))
    np.testing.assert_array_equal(imresize_bicubic(img, 1.0), img)


def test_downscaled_ramp_gives_block_centres():
    # The stretched kernel is symmetric about each output's source position u, so a linear ramp
    # maps to its value at u: for 1/4, output o samples the centre 4o + 1.5 of its 4-pixel block.
    # Mirror padding bends the ramp near the borders, so only the interior is checked.
    ramp = np.tile(np.arange(64, dtype=np.float64), (8, 1))
    out = imresize_bicubic(ramp, 0.25)
    centres = 4 * np.arange(16) + 1.5
    np.testing.assert_allclose(out[:, 2:-2], np.tile(centres[2:-2], (2, 1)), atol=1e-12)


def test_upscaled_ramp_stays_linear():
    # Keys' cubic (a = -0.5) reproduces linear functions; for x2, output o samples o / 2 - 0.25.
    ramp = np.arange(20, dtype=np.float64)[None, :]
    out = imresize_bicubic(ramp, 2.0)
    np.testing.assert_allclose(out[0, 4:-4], np.arange(4, 36) / 2 - 0.25, atol=1e-12)


def test_upscaled_impulse_gives_hand_computed_cubic_weights():
    # x2 samples at offsets 0.25 / 0.75 / 1.25 / 1.75 from a pixel; with a = -0.5,
    # W(0.25) = 1.5/64 - 2.5/16 + 1, W(0.75) = 1.5*27/64 - 2.5*9/16 + 1,
    # W(1.25) = -0.5*125/64 + 2.5*25/16 - 5 + 2, W(1.75) = -0.5*343/64 + 2.5*49/16 - 7 + 2.
    row = np.zeros((1, 12))
    row[0, 5] = 1.0
    out = imresize_bicubic(row, 2.0)
    assert out.shape == (2, 24)
    expected = np.zeros(24)
    half = [-0.0234375, -0.0703125, 0.2265625, 0.8671875]  # W(1.75), W(1.25), W(0.75), W(0.25)
    expected[7:15] = half + half[::-1]
    np.testing.assert_allclose(out, np.tile(expected, (2, 1)), atol=1e-15)


def test_make_lq_matches_float64_resize_up_to_near_ties():
    clean = np.random.default_rng(2).integers(0, 256, (32, 24, 3), dtype=np.uint8)
    lq = make_lq(clean)
    assert lq.shape == (8, 6, 3) and lq.dtype == np.uint8
    ref = imresize_bicubic(clean / 255.0, 0.25) * 255
    assert np.abs(lq - np.clip(ref, 0, 255)).max() <= 0.5 + 1e-4
