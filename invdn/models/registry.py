"""Named components resolved from config strings (``transform: haar``, ``subnet: resnet``), and the
extension points other packages fill (baselines: classical denoisers, learned networks, noise models).

InvDN's own components are registered explicitly in ``invdn.models.__init__``; nothing is discovered
by scanning files. Extensions register themselves when their package is imported; a registry marked
``plugins`` imports the packages named by the ``invdn.plugins`` entry points (pyproject.toml) the first
time a name is missing, so invdn never imports them by name (the dependency points one way:
baselines -> invdn). Looking up an unknown name raises a ValueError that lists the known ones.
"""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Callable, Generic, TypeVar

T = TypeVar("T", bound=Callable)
PLUGIN_GROUP = "invdn.plugins"
_loaded = False


def load_plugins() -> None:
    """Import every package registered under the ``invdn.plugins`` entry point (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for ep in entry_points(group=PLUGIN_GROUP):
        ep.load()


class Registry(Generic[T]):
    def __init__(self, kind: str, plugins: bool = False):
        self.kind = kind
        self.plugins = plugins
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        if name not in self._items and self.plugins:
            load_plugins()
        try:
            return self._items[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._items)) or 'none'}"
            ) from None

    def names(self) -> list[str]:
        if self.plugins:
            load_plugins()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        if name not in self._items and self.plugins:
            load_plugins()
        return name in self._items


TRANSFORMS: Registry = Registry("transform")
SUBNETS: Registry = Registry("subnet")
# Filled by the baselines package: untrained denoisers (name -> class with denoise(noisy)), networks
# trained by invdn's loop (name -> their kind: run_config, training task, loader) and noise models
# (name -> make(samples, seed, device) -> (an ``invdn.inference.noise.Generator``, its label)).
DENOISERS: Registry = Registry("baseline denoiser", plugins=True)
NETWORKS: Registry = Registry("baseline network", plugins=True)
NOISE_MODELS: Registry = Registry("noise model", plugins=True)
