"""Code versions: the modules a stage imports, transitively, and nothing else."""
from __future__ import annotations

import shutil

from invdn.pipeline.codeversion import closure, code_version

from helpers import REPO


def _copy(tmp_path):
    for package in ("invdn", "baselines"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_closure_follows_imports_inside_functions_and_parent_packages():
    files = {str(p.relative_to(REPO)) for p in closure(("invdn.reporting.tables",), REPO)}
    assert "invdn/reporting/table2.py" in files and "invdn/reporting/__init__.py" in files
    assert "invdn/__init__.py" in files
    assert "invdn/engine/trainer.py" not in files  # tables never train


def test_editing_an_imported_module_changes_only_the_versions_that_import_it(tmp_path):
    root = _copy(tmp_path)
    stages = {"train": ("invdn.engine.trainer",), "tables": ("invdn.reporting.tables",),
              "sweep": ("invdn.analysis.mc_sweep",)}
    before = {k: code_version(v, str(root)) for k, v in stages.items()}
    with (root / "invdn" / "analysis" / "mc_sweep.py").open("a") as f:
        f.write("\n# an edit\n")
    code_version.cache_clear()
    after = {k: code_version(v, str(root)) for k, v in stages.items()}
    assert {k for k in stages if before[k] != after[k]} == {"sweep"}
