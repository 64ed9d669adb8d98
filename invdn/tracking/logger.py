"""What the training loop and the tasks write to: metrics at a step, files, tags. No MLflow import
here, so the numerical core depends on this protocol only (invdn.tracking.store implements it)."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM (inside ``tracked_run``)."""


class Logger(Protocol):
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None: ...

    def set_tags(self, tags: dict[str, str]) -> None: ...


class NullLogger:
    """Tracking switched off (library use, tests of the training loop)."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        pass

    def set_tags(self, tags: dict[str, str]) -> None:
        pass
