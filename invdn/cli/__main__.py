"""``python -m invdn.cli`` (what torchrun starts for multi-GPU training)."""
from invdn.cli import main

main()
