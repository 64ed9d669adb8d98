"""Configuration, validated once at the edge: typed run configs (run) against one JSON Schema
(config.schema.yaml, also the workflow's), and the paper's ablation grid as data (ablations)."""
from invdn.config.run import (ConfigError, DataConfig, RunConfig, TrainConfig, config_hash, load_yaml, run_config,
                              schema, validate_section, validate_workflow)

__all__ = ["ConfigError", "DataConfig", "RunConfig", "TrainConfig", "config_hash", "load_yaml", "run_config", "schema",
           "validate_section", "validate_workflow"]
