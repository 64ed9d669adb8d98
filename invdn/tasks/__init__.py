"""Tasks: what the command line, the workflow's rules and the tests call.

A task takes typed settings (a run config, an ``InferenceConfig``, a ``TrackingConfig``), does its
work through the numerical core, writes its record atomically inside one tracked MLflow run
(:func:`invdn.tasks.common.record_run`) and returns the record. The ``invdn`` commands only parse
options into these settings and print what a task returns.
"""
