"""Named components of InvDN, resolved from config strings (``transform: haar``, ``subnet: resnet``).

Components are registered explicitly in ``invdn.models.__init__``; nothing is discovered at import
time. Looking up an unknown name raises a ValueError that lists the known ones.
"""
from __future__ import annotations

from typing import Callable, Generic, TypeVar

T = TypeVar("T", bound=Callable)


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._items))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)


TRANSFORMS: Registry = Registry("transform")
SUBNETS: Registry = Registry("subnet")
