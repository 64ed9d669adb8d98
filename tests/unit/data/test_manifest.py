import shutil

import numpy as np

from invdn.data import ArrayPair, find_pairs
from invdn.data.manifest import pairs_manifest, sha256_file


def test_manifest_hash_follows_content_not_location(tiny_data, tmp_path):
    entries, digest = pairs_manifest(find_pairs(tiny_data["val"]))
    assert entries[0]["noisy"]["sha256"] == sha256_file(entries[0]["noisy"]["path"])
    moved = shutil.copytree(tiny_data["val"], tmp_path / "elsewhere")
    assert pairs_manifest(find_pairs(moved))[1] == digest
    target = next((moved / "GT").iterdir())
    data = bytearray(target.read_bytes())
    data[-20] ^= 1  # one bit of one file (inside the PNG's trailing chunks: no decode needed)
    target.write_bytes(bytes(data))
    assert pairs_manifest(find_pairs(moved))[1] != digest


def test_array_pairs_are_hashed_from_their_arrays():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 1
    h = lambda x: pairs_manifest([ArrayPair("0_0", x, a, "blocks.mat[0, 0]")])[1]  # noqa: E731
    assert h(a) == h(a.copy()) and h(a) != h(b)
