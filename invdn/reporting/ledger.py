"""The claims ledger: a verdict for every claim of the paper, from one preset's tables.

``results/claims.yaml`` lists the claims, each with the table rows that decide it and its decision
rule as data (the file's header explains the fields). The ledger reads the preset's table CSVs
(``results/<preset>/tables/<table>.csv``), checks every MLflow run a row names exists in the store and
takes the runs' scale, training length and seeds from it, then decides each claim:

* ``reproduced`` / ``not reproduced``: the rule decided on measurements that can decide it;
* ``inconclusive``: the measurement cannot decide it (a smoke-scale run for a claim about the trained
  model, too few seeds, an interval that straddles the threshold, a server-scored test set), with the
  reason.

Claimed values come from ``results/reference_numbers.yaml`` through the claim's ``ref`` path.
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.tracking import MlflowClient

from invdn.config import load_yaml
from invdn.reporting.table import Table
from invdn.reporting.tracked import TableError, load_reference

VERDICTS = ("reproduced", "not reproduced", "inconclusive")
RULES = ("exact", "relative", "within_interval", "all_below", "all_above", "not_above", "fraction", "lowest")


@dataclass
class Evidence:
    """The MLflow runs a claim's table rows name and the context they hold (``scale``, ``iterations``,
    ``seeds``)."""

    run_ids: list[str] = field(default_factory=list)
    scale: str | None = None
    iterations: int | None = None
    seeds: int = 0


@dataclass(frozen=True)
class Verdict:
    claim: dict
    claimed: str
    measured: str
    verdict: str
    reason: str
    run_ids: tuple[str, ...]


# ----------------------------------------------------------------------------------------- references
def resolve(ref: str, reference: dict):
    """The value at ``ref`` in the reference numbers: keys joined by ``.``, a list entry chosen by
    ``[key=value]`` (e.g. ``table2[key=invdn].sidd.psnr``).

    Raises:
        TableError: a key, or a list entry, that is not there.
    """
    node = reference
    for part in ref.split("."):
        m = re.fullmatch(r"(\w+)(?:\[(\w+)=([^\]]+)\])?", part)
        if m is None or not isinstance(node, dict) or m.group(1) not in node:
            raise TableError(f"claims: reference {ref!r}: no {part!r} in reference_numbers.yaml")
        node = node[m.group(1)]
        if m.group(2):
            found = [e for e in node if str(e.get(m.group(2))) == m.group(3)]
            if len(found) != 1:
                raise TableError(f"claims: reference {ref!r}: {len(found)} entries with {m.group(2)} = {m.group(3)}")
            node = found[0]
    return node


def _number(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _selects(row: dict, filters: dict, reference: dict) -> bool:
    for column, want in filters.items():
        if isinstance(want, dict) and "ref" in want:
            want = resolve(want["ref"], reference)
        have = row.get(column, "")
        if isinstance(want, dict):
            value = _number(have)
            if value is None:
                return False
            for op, bound in want.items():
                if (op == ">" and not value > float(bound)) or (op == "<" and not value < float(bound)):
                    return False
        elif isinstance(want, (int, float)) and not isinstance(want, bool):
            if _number(have) != float(want):
                return False
        elif str(have) != str(want):
            return False
    return True


def describe(filters: dict | list[dict], reference: dict) -> str:
    """Filters as text (``mc_samples = 16``), references resolved."""
    def one(f: dict) -> str:
        parts = []
        for column, want in f.items():
            if isinstance(want, dict) and "ref" in want:
                want = resolve(want["ref"], reference)
            parts.append(" and ".join(f"{column} {op} {v}" for op, v in want.items()) if isinstance(want, dict)
                         else f"{column} = {want}")
        return " and ".join(parts)
    return " or ".join(one(f) for f in (filters if isinstance(filters, list) else [filters]))


def select(rows: list[dict], filters: dict | list[dict], reference: dict) -> list[dict]:
    """The rows any of ``filters`` selects (see results/claims.yaml), in table order."""
    alternatives = filters if isinstance(filters, list) else [filters]
    return [r for r in rows if any(_selects(r, f, reference) for f in alternatives)]


# -------------------------------------------------------------------------------------------- rules
def _interval(row: dict, spec: dict) -> tuple[float, float, float]:
    value = _number(row.get(spec["value"]))
    low, high = _number(row.get(spec.get("low", ""))), _number(row.get(spec.get("high", "")))
    if value is None:
        raise TableError(f"claims: no value in column {spec['value']!r} of the selected row")
    return value, value if low is None else low, value if high is None else high


def wilson(share: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion ``share`` of ``n`` trials (E. B. Wilson, JASA 1927)."""
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def decide(rule: dict, claimed: float | None, digits: int | None, rows: list[dict], spec: dict,
           subject: list[dict] | None = None) -> tuple[str, str, str]:
    """(verdict, measured text, reason) of one rule on the selected rows.

    Raises:
        TableError: an unknown rule, or rows without the columns the rule reads.
    """
    kind = rule["kind"]
    scale = float(spec.get("scale", 1.0))
    if kind in ("exact", "relative"):
        value = _interval(rows[0], spec)[0] * scale
        shown = f"{value:.{digits + 2 if digits is not None else 4}f}"
        if kind == "exact":
            ok = round(value, digits) == round(claimed, digits)
            return ("reproduced" if ok else "not reproduced", shown,
                    f"{value:.{digits}f} rounded as printed ({digits} decimal{'s' if digits != 1 else ''}) "
                    f"{'equals' if ok else 'differs from'} {claimed}")
        off = abs(value - claimed) / abs(claimed)
        tol = float(rule["tolerance"])
        return ("reproduced" if off <= tol else "not reproduced", shown,
                f"{100 * off:.2f}% from the claim ({'within' if off <= tol else 'beyond'} {100 * tol:g}%)")
    if kind == "within_interval":
        value, low, high = _interval(rows[0], spec)
        half = 0.5 * 10 ** -digits if digits is not None else 0.0
        ok = claimed + half >= low and claimed - half <= high
        return ("reproduced" if ok else "not reproduced", f"{value:.{(digits or 2) + 1}f} [{low:.{(digits or 2) + 1}f}, "
                f"{high:.{(digits or 2) + 1}f}]", f"the claim lies {'in' if ok else 'outside'} the 95% interval")
    if kind == "fraction":
        share, n = _interval(rows[0], spec)[0], int(float(rows[0][spec["images"]]))
        low, high = wilson(share, n)
        ok = low <= claimed <= high
        return ("reproduced" if ok else "not reproduced", f"{100 * share:.1f}% [{100 * low:.1f}, {100 * high:.1f}] of {n}",
                f"the claimed share lies {'in' if ok else 'outside'} the Wilson 95% interval over {n} images")
    if kind in ("all_below", "all_above", "not_above"):
        return _ordering(kind, rule, rows, spec)
    if kind == "lowest":
        return _lowest(rows, spec, subject or [])
    raise TableError(f"claims: unknown rule {kind!r}; rules: {', '.join(RULES)}")


def _ordering(kind: str, rule: dict, rows: list[dict], spec: dict) -> tuple[str, str, str]:
    intervals = [_interval(r, spec) for r in rows]
    shown = "; ".join(f"{v:+.3f} [{lo:+.3f}, {hi:+.3f}]" for v, lo, hi in intervals)
    if kind == "not_above":
        margin = float(rule["margin"])
        if any(lo > 0 for _, lo, _ in intervals):
            return "not reproduced", shown, "an interval lies above 0: the change helps"
        if all(hi <= margin for _, _, hi in intervals):
            return "reproduced", shown, f"every interval ends at or below +{margin:g}"
        return "inconclusive", shown, f"an interval reaches above +{margin:g} without lying above 0"
    t = float(rule.get("threshold", 0.0))
    side = (lambda lo, hi: hi < t) if kind == "all_below" else (lambda lo, hi: lo > t)
    other = (lambda lo, hi: lo > t) if kind == "all_below" else (lambda lo, hi: hi < t)
    word = "below" if kind == "all_below" else "above"
    if any(other(lo, hi) for _, lo, hi in intervals):
        return "not reproduced", shown, f"an interval lies entirely on the other side of {t:g}"
    if all(side(lo, hi) for _, lo, hi in intervals):
        return "reproduced", shown, f"every interval lies {word} {t:g}"
    return "inconclusive", shown, f"an interval contains {t:g}"


def _lowest(rows: list[dict], spec: dict, subject: list[dict]) -> tuple[str, str, str]:
    if len(subject) != 1:
        raise TableError(f"claims: the lowest rule needs one subject row, found {len(subject)}")
    _, s_low, s_high = _interval(subject[0], spec)
    others = [_interval(r, spec) for r in rows if r is not subject[0]]
    shown = f"{_interval(subject[0], spec)[0]:.4g} vs " + ", ".join(f"{v:.4g}" for v, _, _ in others)
    if not others:
        return "inconclusive", shown, "no other generator measured"
    if any(high < s_low for _, _, high in others):
        return "not reproduced", shown, "another generator's interval lies entirely below"
    if all(s_high < low for _, low, _ in others):
        return "reproduced", shown, "its interval lies below every other generator's"
    return "inconclusive", shown, "the intervals overlap"


# ------------------------------------------------------------------------------------------ evidence
def read_table(tables: Path, name: str) -> list[dict] | None:
    """The rows of ``tables/<name>.csv`` (None when the preset wrote no such table)."""
    path = tables / f"{name}.csv"
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def run_context(run_ids: list[str], client: MlflowClient) -> Evidence:
    """The scale, training iterations and training seeds the runs hold (tags ``scale``, params
    ``train.iterations`` and ``train.seed``).

    Raises:
        TableError: a run the tables name that the store does not hold.
    """
    scales, iterations, seeds = set(), set(), set()
    for run_id in run_ids:
        try:
            run = client.get_run(run_id)
        except Exception as e:
            raise TableError(f"ledger: MLflow run {run_id}, named by a table, is not in the store ({e})") from None
        if "scale" in run.data.tags:
            scales.add(run.data.tags["scale"])
        if "train.iterations" in run.data.params:
            iterations.add(int(run.data.params["train.iterations"]))
        if "train.seed" in run.data.params:
            seeds.add(run.data.params["train.seed"])
    return Evidence(run_ids, "/".join(sorted(scales)) or None, min(iterations) if iterations else None, len(seeds))


def _run_ids(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(i for r in rows for i in (r.get("run_ids") or "").split() if i))


def _gate(claim: dict, ev: Evidence, paper_iterations: int | None) -> str | None:
    """Why measurements of this scale and seed count cannot decide the claim (None: they can); a
    claim about the code (``decided_at: any``) is decided at any scale."""
    if claim.get("decided_at", "paper") == "any":
        return None
    reasons = []
    if ev.scale != "paper":
        length = f"{ev.iterations} iterations" if ev.iterations else "an unknown training length"
        about = f"{paper_iterations} iterations" if paper_iterations else "paper-scale training"
        reasons.append(f"{ev.scale or 'unknown'} scale: {length}, the claim is about {about}")
    if ev.seeds < int(claim.get("min_seeds", 1)):
        reasons.append(f"{ev.seeds} seed{'s' if ev.seeds != 1 else ''}, {claim['min_seeds']} needed")
    return "; ".join(reasons) or None


def judge(claim: dict, reference: dict, tables: Path, client: MlflowClient, main: Evidence,
          paper_iterations: int | None) -> Verdict:
    """The verdict of one claim (see the module docstring).

    Raises:
        TableError: a claim that refers to a missing reference, an unknown rule, or a run not in the store.
    """
    c = claim.get("claimed", {})
    claimed = resolve(c["ref"], reference) if "ref" in c else None
    digits = c.get("digits")
    claimed_text = (f"{c['what'].replace('k', str(claimed))}" if "what" in c else
                    f"{claimed:.{digits}f}" if isinstance(claimed, float) and digits is not None else
                    str(claimed) if claimed is not None else c.get("text", ""))
    spec = claim["evidence"]
    if spec["table"] == "none":
        return Verdict(claim, claimed_text, "--", "inconclusive", spec["reason"], ())
    rows = read_table(tables, spec["table"])
    if rows is None:
        return Verdict(claim, claimed_text, "--", "inconclusive", f"this preset writes no {spec['table']} table", ())
    chosen = select(rows, spec.get("rows", {}), reference)
    subject = select(rows, spec["subject"], reference) if "subject" in spec else None
    if not chosen:
        return Verdict(claim, claimed_text, "--", "inconclusive",
                       f"no row of {spec['table']} with {describe(spec.get('rows', {}), reference)}", ())
    run_ids = _run_ids(chosen)
    ev = run_context(run_ids, client) if run_ids else Evidence()
    if ev.scale is None:  # rows of the code (cost) or of runs without a scale (analyses) describe the main model
        ev = Evidence(run_ids, main.scale, main.iterations, max(ev.seeds, main.seeds))
    verdict, measured, reason = decide(claim["rule"], claimed if isinstance(claimed, (int, float)) else None,
                                       digits, chosen, spec, subject)
    gate = _gate(claim, ev, paper_iterations)
    if gate:
        verdict, reason = "inconclusive", f"{gate} (measured here: {verdict}, {reason})"
    return Verdict(claim, claimed_text, measured, verdict, reason, tuple(ev.run_ids))


def ledger(claims_file: str | Path, reference_file: str | Path, tables: str | Path, tracking_uri: str) -> Table:
    """The claims ledger of one preset: a row per claim of ``claims_file`` decided on the tables in
    ``tables`` (results/<preset>/tables) and the MLflow runs they name.

    Raises:
        TableError: an unreadable claims file, or a claim that cannot be evaluated (see :func:`judge`).
    """
    claims = load_yaml(claims_file)
    reference = load_reference(reference_file)
    tables, client = Path(tables), MlflowClient(tracking_uri=tracking_uri)
    main_rows = select(read_table(tables, "table2") or [], {"method": "InvDN (reproduced here, single draw)"}, reference)
    main = run_context(_run_ids(main_rows), client)
    paper_iterations = reference.get("recipes", {}).get("paper", {}).get("settings", {}).get("train.iterations", {})
    verdicts = [judge(c, reference, tables, client, main, paper_iterations.get("value"))
                for c in claims.get("claims", [])]
    rows, csv_rows = [], []
    for v in verdicts:
        rows.append([v.claim["id"].replace("_", " "), v.claim["where"], v.claimed, v.measured, v.verdict, v.reason])
        csv_rows.append({"id": v.claim["id"], "claim": v.claim["claim"], "where": v.claim["where"], "claimed": v.claimed,
                         "measured": v.measured, "verdict": v.verdict, "reason": v.reason, "rule": v.claim["rule"]["kind"],
                         "metric": v.claim.get("metric", ""), "run_ids": " ".join(v.run_ids)})
    source = reference["sources"][claims.get("source", "invdn2021")]["citation"].strip().rstrip(".")
    caption = (f"{summary(verdicts, main.scale)}. Claims of {source}, each decided by the rule results/claims.yaml "
               "gives it on this preset's tables and the MLflow runs they name; measured values are the mean with "
               "its 95% interval (per-image bootstrap, seed-averaged; Wilson for a share).")
    return Table(["Claim", "Where", "Claimed", "Measured", "Verdict", "Reason"], rows, caption, "tab:invdn-ledger",
                 f"`invdn table ledger` from {tables}", csv_rows, align="p{2.0cm}p{1.7cm}p{2.0cm}p{2.8cm}p{1.8cm}p{6.0cm}", wide=True)


def summary(verdicts: list[Verdict] | list[str], scale: str | None = None) -> str:
    """``"18 claims: 2 reproduced, 1 not reproduced, 15 inconclusive at smoke scale"``."""
    names = [v.verdict if isinstance(v, Verdict) else v for v in verdicts]
    counts = ", ".join(f"{names.count(k)} {k}" for k in VERDICTS)
    return f"{len(names)} claims: {counts}" + (f" at {scale} scale" if scale else "")


def compare(ledgers: dict[str, str | Path]) -> Table:
    """Claims whose verdicts differ between presets, from their ledger CSVs ({preset: path}).

    Raises:
        TableError: a ledger file that is missing.
    """
    by_preset = {}
    for preset, path in ledgers.items():
        path = Path(path)
        if not path.is_file():
            raise TableError(f"{path}: no ledger of preset {preset}; run its `ledger` rule first")
        with path.open(newline="") as f:
            by_preset[preset] = {r["id"]: r for r in csv.DictReader(f)}
    ids = list(dict.fromkeys(i for rows in by_preset.values() for i in rows))
    rows = []
    for claim_id in ids:
        verdicts = [by_preset[p].get(claim_id, {}).get("verdict", "--") for p in by_preset]
        if len(set(verdicts)) > 1:
            rows.append([claim_id] + verdicts)
    caption = (f"Claims whose verdict differs between the presets {', '.join(by_preset)} "
               f"({len(rows)} of {len(ids)}); " + "; ".join(f"{p}: {summary([r['verdict'] for r in rs.values()])}"
                                                           for p, rs in by_preset.items()) + ".")
    return Table(["Claim", *by_preset], rows, caption, "tab:invdn-ledger-compare",
                 f"`invdn table ledger-compare` from {', '.join(map(str, ledgers.values()))}")
