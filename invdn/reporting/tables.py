"""The paper's tables, built from what MLflow holds: Table 2, the cost table, the MC self-ensemble
table, Table 5 (AKLD), PGap and the ablation studies (Tables 3, 4 and Fig. 5).

Each builder reads JSON files an ``invdn`` command wrote, checks every number against the MLflow run
the file names (:mod:`invdn.reporting.tracked`), groups the runs of one row (they differ in the
training seed only) and returns a :class:`~invdn.reporting.table.Table`. Paper numbers come from
``results/reference_numbers.yaml``.
"""
from invdn.reporting.ablations import ablation_table
from invdn.reporting.analyses import mc_table, pgap_table, table5
from invdn.reporting.cells import _INFERENCE, inference
from invdn.reporting.cost import cost_rows, cost_table
from invdn.reporting.table2 import table2

__all__ = ["_INFERENCE", "ablation_table", "cost_rows", "cost_table", "inference", "mc_table", "pgap_table", "table2",
           "table5"]
