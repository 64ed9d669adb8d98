"""Content fingerprints of data: what every MLflow run records, so a number names the exact data.

``pairs_manifest`` lists each pair's files with their sha256 and hashes that list: two folders
with the same images under the same names give the same ``sha256`` wherever they lie. In-memory
pairs (SIDD .mat blocks) are hashed from their arrays.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Sequence

import numpy as np

from invdn.data.pairs import ArrayPair, ImagePair


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _array_sha256(array) -> str:
    a = np.ascontiguousarray(array)
    return hashlib.sha256(f"{a.dtype}{a.shape}".encode() + a.tobytes()).hexdigest()


def pair_entry(pair: ImagePair | ArrayPair) -> dict:
    """{"name", and per role (noisy, clean, lq): {"path", "sha256"}} of one pair (arrays: no path)."""
    if isinstance(pair, ArrayPair):
        return {"name": pair.name, "noisy": {"source": pair.source, "sha256": _array_sha256(pair.noisy_array)},
                "clean": {"source": pair.source, "sha256": _array_sha256(pair.clean_array)}}
    files = {"noisy": pair.noisy, "clean": pair.clean, **({"lq": pair.lq} if pair.lq else {})}
    return {"name": pair.name, **{k: {"path": str(p), "sha256": sha256_file(p)} for k, p in files.items()}}


def manifest_sha256(entries: Sequence[dict]) -> str:
    """One hash of the entries' names and file hashes (not their paths: a moved folder keeps it)."""
    content = [{k: (v["sha256"] if isinstance(v, dict) else v) for k, v in e.items()} for e in entries]
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def pairs_manifest(pairs: Sequence[ImagePair | ArrayPair]) -> tuple[list[dict], str]:
    """(one ``pair_entry`` per pair, ``manifest_sha256`` of them)."""
    entries = [pair_entry(p) for p in pairs]
    return entries, manifest_sha256(entries)
