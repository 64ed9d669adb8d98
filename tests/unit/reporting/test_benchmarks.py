"""Snakemake's benchmark files as a table (invdn.reporting.benchmarks), read from files Snakemake's own
writer makes, including one whose job ended before the first memory sample (NA)."""
import csv

import pytest
from click.testing import CliRunner
from snakemake.benchmark import BenchmarkRecord, write_benchmark_records

from invdn.cli import main
from invdn.reporting.benchmarks import benchmark_labels, benchmark_table, read_benchmark
from invdn.reporting.tracked import TableError


def _record(seconds, rss=None, cpu=None):
    r = BenchmarkRecord(running_time=seconds, max_rss=rss, cpu_time=cpu)
    r.data_collected = rss is not None  # what Snakemake sets once it has sampled the process
    return r


def _write(path, *records):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_benchmark_records(list(records), str(path), False)
    return path


def test_one_run_and_repeats_are_read_as_snakemake_writes_them(tmp_path):
    one = read_benchmark(_write(tmp_path / "a.tsv", _record(12.5, 812.3, 20.0)))
    assert one == {"seconds": 12.5, "max_rss_mb": 812.3, "cpu_seconds": 20.0}
    two = read_benchmark(_write(tmp_path / "b.tsv", _record(10.0, 500.0, 8.0), _record(14.0, 700.0, 12.0)))
    assert two == {"seconds": 12.0, "max_rss_mb": 700.0, "cpu_seconds": 10.0}  # mean time, largest RSS
    short = read_benchmark(_write(tmp_path / "c.tsv", _record(0.4)))
    assert short == {"seconds": 0.4, "max_rss_mb": None, "cpu_seconds": None}


def test_the_table_names_each_job_by_its_path_below_the_root(tmp_path):
    root = tmp_path / "benchmarks"
    files = [_write(root / "train/invdn/seed0/model.tsv", _record(30.0, 900.0, 45.0)),
             _write(root / "eval/invdn/seed0/single.tsv", _record(0.5))]
    labels = benchmark_labels(files, root)
    assert labels == {"train/invdn/seed0/model": files[0], "eval/invdn/seed0/single": files[1]}
    table = benchmark_table(labels)
    assert [[str(c) for c in row] for row in table.rows] == [
        ["eval / invdn / seed0 / single", "0.5", "–", "–", "–"], ["train / invdn / seed0 / model", "30.0", "900", "45.0", "1.50"]]
    assert table.csv_rows[1]["max_rss_mb"] == 900.0 and table.csv_rows[0]["max_rss_mb"] is None
    with pytest.raises(TableError, match="not under --root"):
        benchmark_labels([tmp_path / "elsewhere.tsv"], root)


def test_a_file_that_is_not_a_benchmark_is_refused_by_name(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("psnr\tssim\n30\t0.9\n")
    with pytest.raises(TableError, match=f"{bad}: not a Snakemake benchmark file"):
        read_benchmark(bad)


def test_the_command_writes_the_three_formats_and_refuses_a_missing_file(tmp_path):
    root = tmp_path / "benchmarks"
    f = _write(root / "train/invdn/seed0/model.tsv", _record(3.0, 100.0, 3.0))
    done = CliRunner().invoke(main, ["table", "benchmarks", "--benchmark", str(f), "--root", str(root), "--out-stem",
                                     str(tmp_path / "t")])
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert rows[0]["job"] == "train/invdn/seed0/model" and float(rows[0]["seconds"]) == 3.0
    assert (tmp_path / "t.tex").read_text().count("train / invdn / seed0 / model") == 1
    missing = CliRunner().invoke(main, ["table", "benchmarks", "--benchmark", str(root / "nope.tsv"), "--root",
                                        str(root), "--out-stem", str(tmp_path / "u")])
    assert missing.exit_code == 1 and "nope.tsv" in missing.output and missing.exception.__class__ is SystemExit
