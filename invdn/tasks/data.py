"""Data tasks: check a folder of pairs into a manifest, create the MLflow store, and turn the official
SIDD validation .mat files into PNG pairs."""
from __future__ import annotations

import json
from pathlib import Path

from invdn.atomic import write_text_atomic
from invdn.data import find_pairs, load_pair
from invdn.data.benchmarks.sidd_blocks import export_sidd_val
from invdn.data.manifest import manifest_sha256, pair_entry
from invdn.tasks.common import TrackingConfig


def validate_data(data: Path, lq_scale: int | None, out: Path) -> dict:
    """Read every pair (and LQ image, given ``lq_scale``), check sizes, write a manifest with each
    file's sha256 to ``out``; returns it.

    Raises:
        DataLayoutError, ImageError: a missing folder, an unmatched name, an unreadable or mis-sized image.
    """
    entries = []
    for pair in find_pairs(data, require_lq=lq_scale is not None):
        noisy, _, _ = load_pair(pair, lq_scale)
        entries.append({**pair_entry(pair), "height": int(noisy.shape[0]), "width": int(noisy.shape[1])})
    manifest = {"root": str(data), "num_pairs": len(entries), "pairs": entries, "sha256": manifest_sha256(entries)}
    write_text_atomic(out, json.dumps(manifest, indent=1))
    return manifest


def init_tracking(tracking: TrackingConfig, experiments: list[str], out: Path | None) -> dict:
    """Create the MLflow store and experiments once, before parallel jobs (concurrent first-time
    creation of a sqlite store corrupts it); ``out`` marks it done."""
    from invdn.tracking import init_store

    uri = tracking.resolved_uri()
    record = {"tracking_uri": uri, "experiments": init_store(uri, experiments)}
    if out:
        write_text_atomic(out, json.dumps(record, indent=1))
    return record


def prepare_sidd_val(noisy: Path, gt: Path, out_dir: Path) -> int:
    """SIDD validation blocks (.mat, 40 x 32 x 256 x 256 x 3 uint8) -> PNG pairs ``ii_jj.PNG`` and
    ``prepare.json`` (written last); returns the number of pairs."""
    count = export_sidd_val(noisy, gt, out_dir)
    write_text_atomic(out_dir / "prepare.json", json.dumps(
        {"dataset": "sidd-val", "noisy": str(noisy), "gt": str(gt), "pairs": count}, indent=1))
    return count
