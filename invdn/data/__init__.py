"""Data: image I/O, pair discovery, datasets."""
from invdn.data.datasets import PairImages, SampleRange, TrainPatches, load_pair
from invdn.data.io import ImageError, float_to_uint8, read_rgb, uint8_to_float, write_rgb
from invdn.data.pairs import ArrayPair, DataLayoutError, ImagePair, find_pairs


def eval_pairs(path) -> list:
    """Evaluation pairs from a folder (``Noisy/`` and ``GT/`` PNGs, :func:`find_pairs`) or from a
    SIDD noisy-blocks ``.mat`` file whose ``...GtBlocksSrgb.mat`` partner lies beside it
    (``sidd_blocks.sidd_block_pairs``: blocks named ``ii_jj``, as ``prepare sidd-val`` names the PNGs)."""
    from pathlib import Path

    if Path(path).suffix.lower() == ".mat":
        from invdn.data.benchmarks.sidd_blocks import sidd_block_pairs

        return sidd_block_pairs(path)
    return find_pairs(path)

__all__ = [
    "ArrayPair", "DataLayoutError", "ImageError", "ImagePair", "eval_pairs", "PairImages", "SampleRange", "TrainPatches",
    "find_pairs", "float_to_uint8", "load_pair", "read_rgb", "uint8_to_float", "write_rgb",
]
