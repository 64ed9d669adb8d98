"""Compile generated LaTeX tables the way a paper would include them (a two-column article with
booktabs), to check that they compile and fit: a ``table`` within its column, a ``table*`` within
the text width. Tests skip with a message where pdflatex is not installed."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PREAMBLE = r"""\documentclass[10pt,twocolumn,letterpaper]{article}
\usepackage[margin=0.75in,columnsep=0.33in]{geometry}
\usepackage{booktabs}
\begin{document}
"""


def require_pdflatex() -> str:
    exe = shutil.which("pdflatex")
    if exe is None:
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
    return exe


def compile_tables(tables: list[Path], workdir: Path) -> str:
    """Compile ``tables`` (.tex files of one table each) in one document; returns the log.

    Fails the test on a LaTeX error or an overfull box (a table wider than its column or page)."""
    exe = require_pdflatex()
    workdir.mkdir(parents=True, exist_ok=True)
    body = "\n".join(rf"\input{{{t.resolve()}}}" + "\n\\clearpage" for t in tables)
    doc = workdir / "tables.tex"
    doc.write_text(PREAMBLE + body + "\n\\end{document}\n")
    result = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=workdir,
                            capture_output=True, text=True, timeout=120)
    log = (workdir / "tables.log").read_text(errors="replace") if (workdir / "tables.log").exists() else result.stdout
    assert result.returncode == 0, f"pdflatex failed on {[t.name for t in tables]}:\n{result.stdout[-3000:]}"
    overfull = re.findall(r"Overfull \\hbox \((\d+\.\d+)pt too wide\)[^\n]*\n", log)
    assert not overfull, f"tables wider than their column: {overfull} pt; log:\n{log[-3000:]}"
    return log
