"""SIDD-Medium discovery, crop plan and resumable patch preparation, on a tiny fake of the official layout."""
import csv
import hashlib
import json
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import invdn.data.benchmarks.sidd as sidd
from invdn.data.io import ImageError
from invdn.data.pairs import DataLayoutError, find_pairs
from invdn.data.resize import make_lq
from invdn.data.benchmarks.sidd import prepare_sidd_medium
from invdn.data.benchmarks.sidd_manifest import COLUMNS
from invdn.data.benchmarks.sidd_plan import find_sidd_medium, image_seed, image_sizes, plan_crops

from helpers import REPO

PATCH, PER_IMAGE = 64, 3
# (instance folder, scene prefix, (height, width)); created out of order to test the sorting
INSTANCES = [
    ("0003_001_S6_00100_00060_3200_L", "0003", (260, 300)),
    ("0001_001_S6_00100_00060_3200_L", "0001", (260, 300)),
    ("0002_001_GP_00800_00350_5500_N", "0002", (300, 260)),
]


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(out) -> dict:
    """Relative path -> bytes of every output file (not the lock file)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != ".prepare.lock"}


def stats(out) -> dict:
    return {p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for sub in ("Noisy", "GT", "LQ") for p in sorted((out / sub).iterdir())}


@pytest.fixture
def medium(tmp_path):
    """SIDD_Medium_Srgb/Data with 3 instances x 2 pairs of random 8-bit RGB, upper-case .PNG."""
    root = tmp_path / "SIDD_Medium_Srgb" / "Data"
    rng = np.random.default_rng(7)
    for folder, scene, (h, w) in INSTANCES:
        (root / folder).mkdir(parents=True)
        for index in ("010", "011"):
            clean = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            noisy = np.clip(clean + rng.normal(0, 10, clean.shape), 0, 255).astype(np.uint8)
            Image.fromarray(clean).save(root / folder / f"{scene}_GT_SRGB_{index}.PNG")
            Image.fromarray(noisy).save(root / folder / f"{scene}_NOISY_SRGB_{index}.PNG")
    return root


def run(root, out, **kw):
    kw = {"patch": PATCH, "per_image": PER_IMAGE, "workers": 1, "progress": False, **kw}
    return prepare_sidd_medium(root, out, **kw)


# ---------------------------------------------------------------------------------- discovery

def test_discovery_sorted_and_paired(medium):
    folder = medium / INSTANCES[0][0]  # lower-case extension is accepted too
    for p in folder.glob("*_011.PNG"):
        p.rename(p.with_suffix(".png"))
    (folder / "notes.txt").write_text("ignored")
    images = find_sidd_medium(medium)
    assert [i.name for i in images] == [f"{f}_{x}" for f, _, _ in sorted(INSTANCES) for x in ("010", "011")]
    for image in images:
        scene = image.instance[:4]
        assert image.noisy == medium / image.instance / image.noisy.name
        assert image.noisy.name.upper() == f"{scene}_NOISY_SRGB_{image.index}.PNG"
        assert image.clean.name.upper() == f"{scene}_GT_SRGB_{image.index}.PNG"
        assert image.noisy.is_file() and image.clean.is_file()
    assert images[-1].noisy.suffix == ".png"
    h, w = INSTANCES[2][2]
    assert image_sizes(images)[f"{INSTANCES[2][0]}_010"] == (h, w)


def test_layout_errors_name_the_folder_or_file(medium, tmp_path):
    with pytest.raises(DataLayoutError, match="nowhere"):
        find_sidd_medium(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(DataLayoutError, match="no scene-instance folders") as e:
        find_sidd_medium(empty)
    assert str(empty) in str(e.value)

    a, b, c = (medium / f for f, _, _ in sorted(INSTANCES))
    (a / "0001_GT_SRGB_011.PNG").unlink()  # NOISY without GT
    (b / "0002_NOISY_SRGB_010.PNG").unlink()  # GT without NOISY
    for p in c.iterdir():  # no pairs at all
        p.unlink()
    (c / "0003_METADATA_RAW_010.MAT").write_bytes(b"")
    with pytest.raises(DataLayoutError) as e:
        find_sidd_medium(medium)
    msg = str(e.value)
    assert f"{a / '0001_NOISY_SRGB_011.PNG'} has no partner" in msg and "_GT_SRGB_011" in msg
    assert f"{b / '0002_GT_SRGB_010.PNG'} has no partner" in msg
    assert f"{c}: no sRGB image pairs" in msg
    assert "0001_NOISY_SRGB_010.PNG" in msg.splitlines()[-1]  # the expected layout, by example


def test_root_one_level_too_high_gets_a_hint(medium):
    with pytest.raises(DataLayoutError, match="one level too high"):
        find_sidd_medium(medium.parent)


def test_size_mismatch_and_small_image_errors(medium):
    images = find_sidd_medium(medium)
    gt = images[0].clean
    Image.fromarray(np.zeros((100, 80, 3), np.uint8)).save(gt)
    with pytest.raises(DataLayoutError, match=str(gt)):
        image_sizes(images)
    with pytest.raises(DataLayoutError, match=str(images[1].noisy)):
        plan_crops(images[1:], image_sizes(images[1:]), patch=280)


# ---------------------------------------------------------------------------------- crop plan

def test_random_plan_deterministic_in_bounds_and_seeded(medium):
    images = find_sidd_medium(medium)
    sizes = image_sizes(images)
    plan = plan_crops(images, sizes, patch=PATCH, per_image=5, seed=3)
    assert plan == plan_crops(images, sizes, patch=PATCH, per_image=5, seed=3)
    assert len(plan) == 5 * len(images) and len({c.name for c in plan}) == len(plan)
    assert plan[0].name == f"{images[0].name}_000" and plan[4].name == f"{images[0].name}_004"
    for crop in plan:
        h, w = sizes[crop.image.name]
        top, left, ph, pw = crop.box
        assert (ph, pw) == (PATCH, PATCH) and 0 <= top <= h - PATCH and 0 <= left <= w - PATCH
    boxes = {c.box for c in plan}
    assert len(boxes) > len(plan) // 2  # actually random, not one corner repeated
    other = plan_crops(images, sizes, patch=PATCH, per_image=5, seed=4)
    assert [c.box for c in other] != [c.box for c in plan]
    # the documented recipe, reproduced independently
    rng = np.random.Generator(np.random.PCG64(image_seed(3, images[2].name)))
    h, w = sizes[images[2].name]
    tops, lefts = rng.integers(0, h - PATCH + 1, 5), rng.integers(0, w - PATCH + 1, 5)
    assert [c.box[:2] for c in plan[10:15]] == list(zip(tops.tolist(), lefts.tolist()))


def test_random_plan_of_an_image_ignores_the_other_images(medium):
    images = find_sidd_medium(medium)
    sizes = image_sizes(images)
    full = plan_crops(images, sizes, patch=PATCH, per_image=4, seed=0)
    kept = [i for i in images if i.instance != sorted(INSTANCES)[0][0]]  # the first instance removed
    part = plan_crops(kept, sizes, patch=PATCH, per_image=4, seed=0)
    assert len(part) == 4 * len(kept)
    assert part == [c for c in full if c.image in kept]


@pytest.mark.parametrize("stride", [64, 50, 100, 300])
def test_grid_plan_count_and_coverage(medium, stride):
    images = find_sidd_medium(medium)
    sizes = image_sizes(images)
    plan = plan_crops(images, sizes, patch=PATCH, stride=stride)
    for image in images:
        h, w = sizes[image.name]
        crops = [c for c in plan if c.image == image]
        n = (math.ceil((h - PATCH) / stride) + 1) * (math.ceil((w - PATCH) / stride) + 1)
        assert len(crops) == n
        covered = np.zeros((h, w), bool)
        for c in crops:
            top, left, ph, pw = c.box
            assert 0 <= top and top + ph <= h and 0 <= left and left + pw <= w
            covered[top:top + ph, left:left + pw] = True
        assert covered.all() == (stride <= PATCH)  # a stride > patch leaves gaps, by design
        assert covered[:, -1].any() and covered[-1, :].any()  # the flush last row/column
        assert crops[0].box[:2] == (0, 0) and crops[-1].box[:2] == (h - PATCH, w - PATCH)


# -------------------------------------------------------------------------------- preparation

def test_prepare_outputs_manifest_and_pairs(medium, tmp_path):
    out = tmp_path / "out"
    result = run(medium, out, seed=5)
    images = find_sidd_medium(medium)
    plan = plan_crops(images, image_sizes(images), patch=PATCH, per_image=PER_IMAGE, seed=5)
    assert (result.n_images, result.n_patches, result.n_written, result.n_skipped) == (6, 18, 18, 0)
    sources = {i.name: (np.asarray(Image.open(i.noisy)), np.asarray(Image.open(i.clean))) for i in images}
    with open(out / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS and [r["name"] for r in rows] == [c.name for c in plan]
    for crop, row in zip(plan, rows):
        top, left, h, w = crop.box
        noisy_src, clean_src = sources[crop.image.name]
        files = {sub: out / sub / f"{crop.name}.PNG" for sub in ("Noisy", "GT", "LQ")}
        noisy, clean, lq = (np.asarray(Image.open(p)) for p in files.values())
        assert np.array_equal(clean, clean_src[top:top + h, left:left + w])
        assert np.array_equal(noisy, noisy_src[top:top + h, left:left + w])
        assert lq.shape == (PATCH // 4, PATCH // 4, 3) and np.array_equal(lq, make_lq(clean))
        assert row["source_noisy"] == f"{crop.image.instance}/{crop.image.noisy.name}"
        assert row["source_gt"] == f"{crop.image.instance}/{crop.image.clean.name}"
        assert (int(row["top"]), int(row["left"]), int(row["height"]), int(row["width"])) == crop.box
        assert [row["sha256_noisy"], row["sha256_gt"], row["sha256_lq"]] == [sha(p) for p in files.values()]
    digest = sha(out / "manifest.csv")
    assert result.manifest_sha256 == digest
    assert (out / "manifest.sha256").read_text() == f"{digest}  manifest.csv\n"
    assert not (out / "manifest.partial.csv").exists()
    settings = json.loads((out / "prepare.json").read_text())
    assert settings["patch"] == PATCH and settings["per_image"] == PER_IMAGE and settings["seed"] == 5
    assert settings["stride"] is None and settings["source_root"] == str(medium.resolve())
    pairs = find_pairs(out, require_lq=True)
    assert [p.name for p in pairs] == sorted(c.name for c in plan)


def test_rerun_verifies_and_redoes_only_damaged_files(medium, tmp_path):
    clean_run = run(medium, tmp_path / "a")
    out = tmp_path / "b"
    run(medium, out)
    names = sorted(p.stem for p in (out / "GT").iterdir())
    deleted, corrupted = out / "GT" / f"{names[4]}.PNG", out / "LQ" / f"{names[11]}.PNG"
    deleted.unlink()
    data = bytearray(corrupted.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte different
    corrupted.write_bytes(bytes(data))
    before = stats(out)
    result = run(medium, out)
    after = stats(out)
    changed = sorted(k for k in after if before.get(k) != after[k])
    assert changed == sorted([f"GT/{names[4]}.PNG", f"LQ/{names[11]}.PNG"])
    assert (result.n_written, result.n_skipped, result.n_changed) == (2, 16, 0)
    assert snapshot(out) == snapshot(tmp_path / "a")
    assert result.manifest_sha256 == clean_run.manifest_sha256


def test_killed_run_keeps_finished_images_and_resumes_to_the_same_result(medium, tmp_path, monkeypatch):
    reference = snapshot(tmp_path / "ref") if run(medium, tmp_path / "ref") else None
    out = tmp_path / "out"
    calls = []

    def dying_make_lq(clean):
        calls.append(1)
        if len(calls) == PER_IMAGE + 2:  # in the second image
            raise KeyboardInterrupt
        return make_lq(clean)

    monkeypatch.setattr(sidd, "make_lq", dying_make_lq)
    with pytest.raises(KeyboardInterrupt):
        run(medium, out)
    monkeypatch.setattr(sidd, "make_lq", make_lq)
    assert not (out / "manifest.csv").exists()
    with open(out / "manifest.partial.csv", "a") as f:
        f.write("0001_001_S6_00100_00060_3200_L_011_000,0001_001")  # a torn line, as a kill mid-write leaves
    first = find_sidd_medium(medium)[0].name
    before = stats(out)
    assert sum(k.startswith(f"GT/{first}") for k in before) == PER_IMAGE
    result = run(medium, out)
    after = stats(out)
    assert all(after[k] == before[k] for k in before if first in k)  # the journaled image is kept
    assert all(after[k] != before.get(k) for k in after if first not in k)
    assert (result.n_written, result.n_skipped) == (15, 3)
    assert snapshot(out) == reference


def test_other_settings_or_foreign_folders_are_refused(medium, tmp_path):
    out = tmp_path / "out"
    run(medium, out)
    for kw, key in [({"per_image": 4}, "per_image"), ({"seed": 1}, "seed"), ({"stride": 64}, "stride"),
                    ({"patch": 32}, "patch")]:
        with pytest.raises(DataLayoutError, match=f"other settings.*{key}: "):
            run(medium, out, **kw)
    copy = tmp_path / "copy"
    medium.rename(copy)
    with pytest.raises(DataLayoutError, match="source_root"):
        run(copy, out)
    copy.rename(medium)
    foreign = tmp_path / "foreign"
    (foreign / "GT").mkdir(parents=True)
    with pytest.raises(DataLayoutError, match="holds no prepare.json"):
        run(medium, foreign)
    # an image removed from the source: its patches would be silently mixed in; refused
    for p in (medium / sorted(INSTANCES)[0][0]).glob("*_011.PNG"):
        p.unlink()
    with pytest.raises(DataLayoutError, match="not in the current plan"):
        run(medium, out)


def test_two_workers_give_byte_identical_output(medium, tmp_path):
    one = run(medium, tmp_path / "one", workers=1)
    two = run(medium, tmp_path / "two", workers=2)
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    assert one.manifest_sha256 == two.manifest_sha256


def test_workers_run_after_the_parent_used_torch_threads(medium, tmp_path):
    # make_lq runs torch ops; a forked worker hangs in its first OpenMP region once the parent has
    # run one, unless the workers are single-threaded. A subprocess, so that a hang fails the test.
    script = (
        "import sys, torch\n"
        "from invdn.data.benchmarks.sidd import prepare_sidd_medium\n"
        "torch.set_num_threads(2)\n"
        "torch.rand(10**6).sum()  # an OpenMP parallel region in the parent\n"
        "r = prepare_sidd_medium(sys.argv[1], sys.argv[2], patch=256, per_image=1, workers=2, progress=False)\n"
        "print(r.n_written)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(medium), str(tmp_path / "out")], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the hung workers too
        proc.communicate()
        pytest.fail("prepare_sidd_medium with 2 workers hung after the parent ran a parallel torch op")
    assert proc.returncode == 0 and out.split()[-1] == "6", err[-2000:]


def test_truncated_source_names_the_file_and_keeps_the_rest(medium, tmp_path):
    images = find_sidd_medium(medium)
    bad = images[3].noisy
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # the header survives: sizes are read, decoding fails
    out = tmp_path / "out"
    with pytest.raises(ImageError, match=f"(?s)1 of 6 .*{bad}: .*truncated"):
        run(medium, out, workers=2)
    bad.write_bytes(data)
    result = run(medium, out, workers=2)
    assert (result.n_written, result.n_skipped) == (3, 15)
    assert snapshot(out) == (snapshot(tmp_path / "ref") if run(medium, tmp_path / "ref") else None)
