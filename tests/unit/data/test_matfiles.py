"""MATLAB benchmark files: SIDD blocks and DND images/boxes (reading), SIDD/DND submissions (writing).

Fixtures are written in the exact on-disk formats: v5 via scipy.io.savemat (as SIDD ships its
blocks), v7.3 via h5py with MATLAB's 512-byte text header and column-major (transposed) datasets,
and DND's info.mat as a struct array of object references (as the DND kit dereferences it).
"""
from __future__ import annotations

import zipfile

import h5py
import numpy as np
import pytest
import scipy.io

from invdn.data.io import read_rgb
from invdn.data.benchmarks.dnd import DND_IMAGE_KEY, dnd_crops, read_dnd_boxes, read_dnd_image
from invdn.data.benchmarks.matfiles import MatFileError, mat_version
from invdn.data.benchmarks.sidd_blocks import SIDD_VAL_GT_KEY, SIDD_VAL_NOISY_KEY, export_sidd_val, read_sidd_blocks
from invdn.data.pairs import find_pairs
from invdn.submission.files import (
    SubmissionError,
    bundle_dnd,
    dnd_crop_name,
    seconds_per_megapixel,
    write_dnd_crop,
    write_sidd_submission,
    zip_submission,
)

from helpers import GRID, blocks, write_dnd_info_v73, write_v73


# ---------------------------------------------------------------- fixtures in the real formats
def kit_boxes(path) -> list[np.ndarray]:
    """The DND kit's own reading (dnd_denoise.py): ``np.array(info[bb[0][i]]).T``."""
    with h5py.File(path, "r") as infos:
        info = infos["info"]
        bb = info["boundingboxes"]
        return [np.array(info[bb[0][i]]).T for i in range(bb.shape[1])]


def random_boxes(rng, n: int, height: int, width: int, size: int = 512) -> np.ndarray:
    r1 = rng.integers(1, height - size + 2, n)
    c1 = rng.integers(1, width - size + 2, n)
    r1[-1], c1[-1] = height - size + 1, width - size + 1  # one box touching the bottom-right corner
    return np.stack([r1, c1, r1 + size - 1, c1 + size - 1], axis=1)


# ---------------------------------------------------------------- SIDD blocks
def test_sidd_blocks_v5_round_trip(tmp_path):
    noisy = blocks(0)
    path = tmp_path / "ValidationNoisyBlocksSrgb.mat"
    scipy.io.savemat(path, {SIDD_VAL_NOISY_KEY: noisy})
    assert mat_version(path) == "v5"
    out = read_sidd_blocks(path, SIDD_VAL_NOISY_KEY)
    assert out.dtype == np.uint8 and out.shape == GRID + (256, 256, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, noisy)
    np.testing.assert_array_equal(read_sidd_blocks(path), noisy)  # the one SIDD key, found


def test_sidd_wrong_key_lists_present_keys(tmp_path):
    path = tmp_path / "blocks.mat"
    scipy.io.savemat(path, {"SomethingElse": blocks(1), "Other": np.zeros(3)})
    with pytest.raises(MatFileError) as e:
        read_sidd_blocks(path, SIDD_VAL_NOISY_KEY)
    msg = str(e.value)
    assert str(path) in msg and "SomethingElse" in msg and "Other" in msg and SIDD_VAL_NOISY_KEY in msg
    with pytest.raises(MatFileError, match="exactly one of the SIDD variables"):
        read_sidd_blocks(path)


@pytest.mark.parametrize(
    "array, found",
    [
        (np.zeros(GRID + (256, 256, 3), dtype=np.float64), "double"),
        (np.zeros(GRID + (128, 128, 3), dtype=np.uint8), "(2, 3, 128, 128, 3)"),
        (np.zeros((4, 256, 256, 3), dtype=np.uint8), "(4, 256, 256, 3)"),
    ],
)
def test_sidd_wrong_dtype_or_shape_named(tmp_path, array, found):
    path = tmp_path / "bad.mat"
    scipy.io.savemat(path, {SIDD_VAL_GT_KEY: array})
    with pytest.raises(MatFileError) as e:
        read_sidd_blocks(path, SIDD_VAL_GT_KEY)
    msg = str(e.value)
    assert str(path) in msg and found in msg and "(A, B, 256, 256, 3)" in msg and "uint8" in msg
    assert "(40, 32, 256, 256, 3)" in msg


def test_sidd_v73_file_is_read_with_h5py(tmp_path):
    gt = blocks(2)
    path = tmp_path / "ValidationGtBlocksSrgb.mat"
    write_v73(path, {SIDD_VAL_GT_KEY: gt})
    # The fixture is what MATLAB writes: scipy refuses it, the HDF5 dataset is reversed.
    with pytest.raises(NotImplementedError):
        scipy.io.loadmat(path)
    with h5py.File(path, "r") as f:
        assert f[SIDD_VAL_GT_KEY].shape == (3, 256, 256, 3, 2)
    assert mat_version(path) == "v7.3"
    np.testing.assert_array_equal(read_sidd_blocks(path, SIDD_VAL_GT_KEY), gt)
    with pytest.raises(MatFileError, match=SIDD_VAL_GT_KEY):
        read_sidd_blocks(path, SIDD_VAL_NOISY_KEY)


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_truncated_file_names_the_file(tmp_path, version):
    path = tmp_path / "ValidationNoisyBlocksSrgb.mat"
    if version == "v5":
        scipy.io.savemat(path, {SIDD_VAL_NOISY_KEY: blocks(3)})
    else:
        write_v73(path, {SIDD_VAL_NOISY_KEY: blocks(3)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MatFileError) as e:
        read_sidd_blocks(path, SIDD_VAL_NOISY_KEY)
    assert str(path) in str(e.value) and "truncated" in str(e.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(MatFileError, match="file not found"):
        read_sidd_blocks(tmp_path / "nope.mat", SIDD_VAL_NOISY_KEY)
    empty = tmp_path / "empty.mat"
    empty.write_bytes(b"")
    with pytest.raises(MatFileError, match="empty.mat"):
        read_dnd_image(empty)


def test_export_sidd_val_names_and_pixels(tmp_path):
    noisy, gt = blocks(4), blocks(5)
    scipy.io.savemat(tmp_path / "n.mat", {SIDD_VAL_NOISY_KEY: noisy})
    scipy.io.savemat(tmp_path / "g.mat", {SIDD_VAL_GT_KEY: gt})
    out = tmp_path / "val"
    assert export_sidd_val(tmp_path / "n.mat", tmp_path / "g.mat", out) == 6
    pairs = find_pairs(out)
    assert [p.name for p in pairs] == ["00_00", "00_01", "00_02", "01_00", "01_01", "01_02"]
    assert all(p.noisy.name == p.name + ".PNG" for p in pairs)
    for p in pairs:
        i, j = map(int, p.name.split("_"))
        np.testing.assert_array_equal(read_rgb(p.noisy), noisy[i, j])
        np.testing.assert_array_equal(read_rgb(p.clean), gt[i, j])


def test_export_sidd_val_refuses_mismatched_grids(tmp_path):
    scipy.io.savemat(tmp_path / "n.mat", {SIDD_VAL_NOISY_KEY: blocks(4)})
    scipy.io.savemat(tmp_path / "g.mat", {SIDD_VAL_GT_KEY: blocks(5, grid=(2, 2))})
    with pytest.raises(MatFileError, match="same SIDD split"):
        export_sidd_val(tmp_path / "n.mat", tmp_path / "g.mat", tmp_path / "val")
    assert not (tmp_path / "val").exists()


# ---------------------------------------------------------------- DND images and boxes
def test_dnd_image_v73_transposed_back(tmp_path):
    image = np.random.default_rng(6).random((37, 53, 3), dtype=np.float32)  # H != W catches a swap
    path = tmp_path / "0001.mat"
    write_v73(path, {DND_IMAGE_KEY: image})
    with h5py.File(path, "r") as f:
        assert f[DND_IMAGE_KEY].shape == (3, 53, 37)  # (3, W, H), as the kit sees it
    out = read_dnd_image(path)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, image)
    v5 = tmp_path / "0001_v5.mat"
    scipy.io.savemat(v5, {DND_IMAGE_KEY: image})
    np.testing.assert_array_equal(read_dnd_image(v5), image)


def test_dnd_image_wrong_key_and_dtype(tmp_path):
    path = tmp_path / "0001.mat"
    write_v73(path, {"Inoisy": np.zeros((8, 8), np.float32)})
    with pytest.raises(MatFileError) as e:
        read_dnd_image(path)
    assert str(path) in str(e.value) and "Inoisy" in str(e.value) and DND_IMAGE_KEY in str(e.value)
    write_v73(path, {DND_IMAGE_KEY: np.zeros((8, 8, 3), np.uint8)})
    with pytest.raises(MatFileError, match="uint8 of MATLAB shape \\(8, 8, 3\\)"):
        read_dnd_image(path)


def test_dnd_box_convention_rows_first_one_based_inclusive(tmp_path):
    image = np.zeros((600, 700, 3), np.float32)
    image[9, 19] = 1.0  # MATLAB pixel (row 10, column 20)
    image[9 + 511, 19 + 511] = 0.5  # MATLAB (521, 531): the last pixel of the box, inclusive
    path = tmp_path / "info.mat"
    write_dnd_info_v73(path, [np.array([[10, 20, 521, 531]])])
    boxes = read_dnd_boxes(path)
    assert boxes.shape == (1, 1, 4) and boxes.dtype == np.int64
    assert boxes[0, 0].tolist() == [10, 20, 521, 531]
    (crop,) = dnd_crops(image, boxes[0])
    assert crop.shape == (512, 512, 3)
    assert crop[0, 0, 0] == 1.0 and crop[-1, -1, 0] == 0.5 and crop.sum() == 4.5


def test_dnd_boxes_match_the_kit_and_crop_slices(tmp_path):
    rng = np.random.default_rng(7)
    height, width = 600, 700
    matrices = [random_boxes(rng, 20, height, width) for _ in range(3)]
    path = tmp_path / "info.mat"
    write_dnd_info_v73(path, matrices)
    boxes = read_dnd_boxes(path)
    assert boxes.shape == (3, 20, 4)
    for i, kit in enumerate(kit_boxes(path)):
        np.testing.assert_array_equal(boxes[i], kit)
        np.testing.assert_array_equal(boxes[i], matrices[i])
    image = rng.random((height, width, 3), dtype=np.float32)
    crops = dnd_crops(image, boxes[1])
    kit = kit_boxes(path)[1]
    for k, crop in enumerate(crops):
        idx = [int(kit[k, 0] - 1), int(kit[k, 2]), int(kit[k, 1] - 1), int(kit[k, 3])]  # the kit's indexing
        np.testing.assert_array_equal(crop, image[idx[0] : idx[1], idx[2] : idx[3], :])
        assert crop.shape == (512, 512, 3)
    # a v5 re-save of info.mat (a struct array) gives the same boxes
    info = np.empty((3, 1), dtype=[("boundingboxes", object)])
    for i, m in enumerate(matrices):
        info[i, 0]["boundingboxes"] = m.astype(np.float64)
    scipy.io.savemat(tmp_path / "info_v5.mat", {"info": info})
    np.testing.assert_array_equal(read_dnd_boxes(tmp_path / "info_v5.mat"), boxes)


def test_dnd_boxes_errors(tmp_path):
    path = tmp_path / "info.mat"
    write_v73(path, {"notinfo": np.zeros(3)})
    with pytest.raises(MatFileError, match="notinfo"):
        read_dnd_boxes(path)
    write_dnd_info_v73(path, [np.zeros((4, 20)) + 1])  # 4 x 20: the transposed layout
    with pytest.raises(MatFileError, match="MATLAB shape \\(4, 20\\)"):
        read_dnd_boxes(path)
    write_dnd_info_v73(path, [np.array([[0, 1, 512, 512]])])
    with pytest.raises(MatFileError, match="1-based"):
        read_dnd_boxes(path)
    image = np.zeros((600, 700, 3), np.float32)
    with pytest.raises(ValueError, match="leaves the 600 x 700 image"):
        dnd_crops(image, np.array([[100, 190, 611, 701]]))
    with pytest.raises(ValueError, match="expected 512 x 512"):
        dnd_crops(image, np.array([[1, 1, 256, 256]]))


# ---------------------------------------------------------------- SIDD submission
def test_sidd_submission_cell_round_trip(tmp_path):
    denoised = blocks(8)
    path = tmp_path / "SubmitSrgb.mat"
    optional = {"MethodName": "InvDN", "Authors": "A and B", "PaperTitle": "P", "Venue": "V", "MachineSpecs": "H100"}
    write_sidd_submission(path, denoised, 0.25, optional, expected_grid=GRID)
    assert dict((n, c) for n, _, c in scipy.io.whosmat(path)) == {
        "DenoisedBlocksSrgb": "cell", "TimeMPSrgb": "double", "OptionalData": "struct"}
    m = scipy.io.loadmat(path)
    cells = m["DenoisedBlocksSrgb"]
    assert cells.dtype == object and cells.shape == GRID
    for i in range(2):
        for b in range(3):
            assert cells[i, b].dtype == np.uint8
            np.testing.assert_array_equal(cells[i, b], denoised[i, b])
    assert m["TimeMPSrgb"].item() == 0.25
    opt = m["OptionalData"][0, 0]
    assert {k: str(opt[k][0]) for k in opt.dtype.names} == optional
    assert [p.name for p in tmp_path.iterdir()] == ["SubmitSrgb.mat"]  # no temporary left


def test_sidd_submission_numeric_array(tmp_path):
    denoised = blocks(9)
    path = tmp_path / "SubmitSrgb.mat"
    write_sidd_submission(path, denoised, 0.0, numeric_array=True, expected_grid=GRID)
    out = scipy.io.loadmat(path)["DenoisedBlocksSrgb"]
    assert out.dtype == np.uint8 and out.shape == GRID + (256, 256, 3)
    np.testing.assert_array_equal(out, denoised)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(denoised=blocks(10).astype(np.float32)), "float32"),
        (dict(denoised=np.zeros(GRID + (128, 128, 3), np.uint8)), "\\(2, 3, 128, 128, 3\\)"),
        (dict(expected_grid=(40, 32)), "\\(40, 32\\)"),
        (dict(seconds_per_mp=-1.0), "seconds_per_mp"),
        (dict(seconds_per_mp=float("nan")), "seconds_per_mp"),
        (dict(optional={"Method Name": "x"}), "MATLAB field name"),
        (dict(optional={"MethodName": None}), "str or a number"),
    ],
)
def test_sidd_submission_validates_before_writing(tmp_path, kwargs, match):
    args = dict(path=tmp_path / "SubmitSrgb.mat", denoised=blocks(10), seconds_per_mp=0.1, expected_grid=GRID)
    args.update(kwargs)
    with pytest.raises(SubmissionError, match=match):
        write_sidd_submission(**args)
    assert list(tmp_path.iterdir()) == []


def test_zip_submission(tmp_path):
    path = tmp_path / "SubmitSrgb.mat"
    write_sidd_submission(path, blocks(11), 0.5, expected_grid=GRID)
    z = zip_submission([path], tmp_path / "out" / "submission.zip")
    with zipfile.ZipFile(z) as zf:
        assert zf.namelist() == ["SubmitSrgb.mat"]
        assert zf.read("SubmitSrgb.mat") == path.read_bytes()
    with pytest.raises(SubmissionError, match="not found"):
        zip_submission([tmp_path / "missing.mat"], tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_seconds_per_megapixel_as_the_sidd_kit():
    # 80 s for SIDD's 1280 blocks of 256 x 256 = 80 MiP -> 1 s per (2^20-pixel) megapixel
    assert seconds_per_megapixel(80.0, 40 * 32 * 256 * 256) == pytest.approx(1.0)


# ---------------------------------------------------------------- DND submission
def test_dnd_crop_and_bundle(tmp_path):
    rng = np.random.default_rng(12)
    crops_dir = tmp_path / "Submit"
    crops = {}
    for i in (1, 2):
        for k in range(1, 21):
            crops[i, k] = rng.random((8, 8, 3), dtype=np.float32)
            write_dnd_crop(crops_dir / dnd_crop_name(i, k), crops[i, k], crop_size=8)
    assert dnd_crop_name(1, 20) == "0001_20.mat"
    # the kit's crop reading: sio.loadmat(f)["Idenoised_crop"]
    np.testing.assert_array_equal(scipy.io.loadmat(crops_dir / "0002_07.mat")["Idenoised_crop"], crops[2, 7])
    written = bundle_dnd(crops_dir, crops_dir / "bundled", n_images=2, crop_size=8)
    assert [p.name for p in written] == ["0001.mat", "0002.mat"]
    for i, path in enumerate(written, start=1):
        assert dict((n, c) for n, _, c in scipy.io.whosmat(path)) == {
            "Idenoised": "cell", "israw": "logical", "eval_version": "char"}
        m = scipy.io.loadmat(path)
        bundle = m["Idenoised"]
        assert bundle.dtype == object and bundle.shape == (1, 20)
        for k in range(20):
            assert bundle[0, k].dtype == np.float32
            np.testing.assert_array_equal(bundle[0, k], crops[i, k + 1])
        assert not m["israw"].item()
        assert m["eval_version"].tolist() == ["1.0"]
    z = zip_submission(written, tmp_path / "dnd.zip")
    assert zipfile.ZipFile(z).namelist() == ["0001.mat", "0002.mat"]


def test_dnd_bundle_checks_all_crops_before_writing(tmp_path):
    for k in range(1, 21):
        if k != 13:
            write_dnd_crop(tmp_path / dnd_crop_name(1, k), np.zeros((8, 8, 3), np.float32), crop_size=8)
    with pytest.raises(SubmissionError, match="1 of 20 crop files missing.*0001_13.mat"):
        bundle_dnd(tmp_path, tmp_path / "bundled", n_images=1, crop_size=8)
    assert not (tmp_path / "bundled").exists()


def test_dnd_crop_validation(tmp_path):
    path = tmp_path / "0001_01.mat"
    with pytest.raises(SubmissionError, match="\\[0, 1\\]"):
        write_dnd_crop(path, np.full((512, 512, 3), 1.5, np.float32))
    with pytest.raises(SubmissionError, match="512 x 512 x 3"):
        write_dnd_crop(path, np.zeros((256, 256, 3), np.float32))
    with pytest.raises(SubmissionError, match="uint8"):
        write_dnd_crop(path, np.zeros((512, 512, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
    crop = np.random.default_rng(13).random((512, 512, 3))  # float64 is cast, as the kit's np.float32
    write_dnd_crop(path, crop)
    out = scipy.io.loadmat(path)["Idenoised_crop"]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, crop.astype(np.float32))
