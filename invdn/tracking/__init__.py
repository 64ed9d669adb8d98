"""Tracking: the Logger protocol the training loop and tasks write to (``logger``: no MLflow import, so
the numerical core depends on it alone), and the MLflow store behind it (``store``: the one place that
opens a tracked run, the logger, repair of dead runs), imported only when one of its names is used."""
from invdn.tracking.logger import Logger, NullLogger, Terminated

_STORE = ("DEFAULT_TRACKING_URI", "MlflowLogger", "environment_tags", "flatten", "git_commit", "init_store",
          "repair_runs", "tracked_run", "tracking_uri")


def __getattr__(name: str):
    if name in _STORE:
        from invdn.tracking import store

        return getattr(store, name)
    raise AttributeError(f"module 'invdn.tracking' has no attribute {name!r}")


__all__ = ["Logger", "NullLogger", "Terminated", *_STORE]
