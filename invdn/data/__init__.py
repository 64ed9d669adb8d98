"""Data: image I/O, pair discovery, datasets."""
from .datasets import PairImages, SampleRange, TrainPatches, load_pair
from .io import ImageError, float_to_uint8, read_rgb, uint8_to_float, write_rgb
from .pairs import DataLayoutError, ImagePair, find_pairs

__all__ = [
    "DataLayoutError", "ImageError", "ImagePair", "PairImages", "SampleRange", "TrainPatches",
    "find_pairs", "float_to_uint8", "load_pair", "read_rgb", "uint8_to_float", "write_rgb",
]
