import numpy as np
import pytest
from PIL import Image

from invdn.data import DataLayoutError, ImageError, TrainPatches, find_pairs, load_pair, read_rgb

from helpers import BUNDLED


def test_bundled_layout_is_found():
    train = find_pairs(BUNDLED / "train_mini", require_lq=True)
    val = find_pairs(BUNDLED / "val_mini")
    assert len(train) == 10 and len(val) == 10
    noisy, clean, lq = load_pair(train[0], lq_scale=4)
    assert noisy.shape == clean.shape == (512, 512, 3) and lq.shape == (128, 128, 3)


def test_missing_partner_names_both_files(tiny_data):
    (tiny_data["val"] / "GT" / "0_1.PNG").unlink()
    with pytest.raises(DataLayoutError, match=r"Noisy/0_1.PNG has no partner .*GT/0_1"):
        find_pairs(tiny_data["val"])


def test_missing_or_empty_folders(tmp_path, tiny_data):
    with pytest.raises(DataLayoutError, match="data folder not found"):
        find_pairs(tmp_path / "nope")
    with pytest.raises(DataLayoutError, match="LQ: folder not found"):
        find_pairs(tiny_data["val"], require_lq=True)
    (tmp_path / "empty" / "Noisy").mkdir(parents=True)
    (tmp_path / "empty" / "GT").mkdir()
    with pytest.raises(DataLayoutError, match="no images found"):
        find_pairs(tmp_path / "empty")


def test_truncated_png_names_the_file(tiny_data):
    path = tiny_data["val"] / "Noisy" / "0_0.PNG"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageError, match=r"Noisy/0_0.PNG.*truncated or corrupt"):
        read_rgb(path)


def test_not_an_image_and_wrong_mode(tmp_path):
    text = tmp_path / "a.png"
    text.write_text("hello")
    with pytest.raises(ImageError, match="a.png: not a readable image"):
        read_rgb(text)
    gray = tmp_path / "g.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(gray)
    with pytest.raises(ImageError, match=r"g.png: expected an 8-bit RGB image, found mode 'L'"):
        read_rgb(gray)
    rgba = tmp_path / "r.png"
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    Image.fromarray(pixels).save(rgba)
    with pytest.warns(UserWarning, match="r.png: RGBA with a fully opaque alpha channel; its RGB channels are used"):
        assert np.array_equal(read_rgb(rgba), pixels[..., :3])
    pixels[2, 3, 3] = 40
    Image.fromarray(pixels).save(rgba)
    with pytest.raises(ImageError, match=r"r.png: an RGBA image with transparent pixels \(1 with alpha < 255, lowest 40\)"):
        read_rgb(rgba)


def test_mismatched_sizes_are_refused(tiny_data):
    gt = tiny_data["val"] / "GT" / "0_0.PNG"
    Image.fromarray(np.zeros((32, 30, 3), np.uint8)).save(gt)
    pair = find_pairs(tiny_data["val"])[0]
    with pytest.raises(ImageError, match=r"is 32x32 but its clean partner .*GT/0_0.PNG is 30x32"):
        load_pair(pair)


def test_wrong_lq_size_is_refused(tiny_data):
    pair = find_pairs(tiny_data["train"], require_lq=True)[0]
    with pytest.raises(ImageError, match="downscaled by 2"):
        load_pair(pair, lq_scale=2)


def _blocky_folder(root, n=2, size=32, scale=4):
    """Clean images constant on scale x scale blocks with LQ = the block values: any aligned,
    jointly augmented crop then satisfies lq == clean[::scale, ::scale]."""
    rng = np.random.default_rng(0)
    for sub in ("Noisy", "GT", "LQ"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        lq = rng.integers(0, 256, (size // scale, size // scale, 3), dtype=np.uint8)
        clean = lq.repeat(scale, 0).repeat(scale, 1)
        Image.fromarray(lq).save(root / "LQ" / f"{i}.png")
        Image.fromarray(clean).save(root / "GT" / f"{i}.png")
        Image.fromarray(255 - clean).save(root / "Noisy" / f"{i}.png")
    return find_pairs(root, require_lq=True)


def test_patches_are_aligned_jointly_augmented_and_deterministic(tmp_path):
    pairs = _blocky_folder(tmp_path)
    ds = TrainPatches(pairs, patch_size=16, lq_scale=4, seed=3)
    for k in range(40):
        item = ds[k]
        assert item["clean"].shape == (3, 16, 16) and item["lq"].shape == (3, 4, 4)
        assert np.array_equal(item["clean"][:, ::4, ::4].numpy(), item["lq"].numpy())
        assert np.allclose(item["noisy"].numpy(), 1 - item["clean"].numpy())
    again = TrainPatches(pairs, patch_size=16, lq_scale=4, seed=3)
    assert all(np.array_equal(ds[k]["noisy"].numpy(), again[k]["noisy"].numpy()) for k in range(10))
    other = TrainPatches(pairs, patch_size=16, lq_scale=4, seed=4)
    assert not all(np.array_equal(ds[k]["noisy"].numpy(), other[k]["noisy"].numpy()) for k in range(10))


def test_noise_gain_scales_the_real_residual_by_one_gain_per_patch(tmp_path):
    pairs = _blocky_folder(tmp_path)
    plain = TrainPatches(pairs, patch_size=16, lq_scale=4, seed=3)
    gained = TrainPatches(pairs, patch_size=16, lq_scale=4, seed=3, noise_gain_max=3.0)
    gains = []
    for k in range(20):
        a, b = plain[k], gained[k]
        assert np.array_equal(a["clean"].numpy(), b["clean"].numpy()) and np.array_equal(a["lq"].numpy(), b["lq"].numpy())
        res, res_g = (a["noisy"] - a["clean"]).numpy(), (b["noisy"] - b["clean"]).numpy()
        unclamped = (b["noisy"].numpy() > 0) & (b["noisy"].numpy() < 1) & (np.abs(res) > 0.05)
        ratios = res_g[unclamped] / res[unclamped]
        assert ratios.size and np.allclose(ratios, ratios[0], atol=1e-4)
        gains.append(ratios[0])
    assert min(gains) >= 1 - 1e-4 and max(gains) <= 3 + 1e-4 and max(gains) - min(gains) > 0.5
    with pytest.raises(ValueError, match="noise_gain_max must be >= 1"):
        TrainPatches(pairs, patch_size=16, lq_scale=4, seed=3, noise_gain_max=0.5)


def test_lq_targets_for_another_scale_are_made_from_the_clean_image():
    """Table 3's down_blocks 1 and 3 train on x2 and x8 targets from the x4 LQ/ folder's pairs."""
    from invdn.data import TrainPatches, find_pairs
    from invdn.data.io import read_rgb
    from invdn.data.resize import make_lq

    from helpers import BUNDLED

    pairs = find_pairs(BUNDLED / "train_mini", require_lq=True)[:1]
    clean = read_rgb(pairs[0].clean)
    for scale in (2, 4, 8):
        noisy, full, lq = TrainPatches(pairs, 64, scale, 0)._with_lq(pairs[0])
        expected = read_rgb(pairs[0].lq) if scale == 4 else make_lq(clean, scale)  # x4: the file itself
        assert lq.shape == (512 // scale, 512 // scale, 3) and np.array_equal(lq, expected)
