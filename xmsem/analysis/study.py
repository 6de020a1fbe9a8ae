"""The study's verdicts: each claim of arXiv 2508.03649 judged by its pre-registered rules.

``python -m xmsem.analysis.study experiments/`` reads the rule book ``experiments/RULES.yaml``
(see ``experiments/RULES.md``) and the committed analyses ``experiments/<name>/summary.csv``,
``paired.csv`` and ``cross_run.csv`` (written by ``python -m xmsem.analyze``), and writes
``experiments/STUDY.md``. Nothing is computed here that the tables do not hold: every number is a
mean, interval or test of a committed table, so the page regenerates from the committed results.

Every row names its rule, the controls, n, the minimum detectable effect (80% power, two-sided 5%),
p and the Holm-adjusted p within the rule's family, and the power of the rule against its planted
effect. The decision procedure (margin before direction) is :func:`xmsem.analysis.verdicts.decide`.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from xmsem.analysis import verdicts as V
from xmsem.analysis.aggregate import paired_comparisons
from xmsem.analysis.rules import Rule, RuleBook, RulesError, load_rules
from xmsem.analysis.stats import (
    Paired,
    combine_cells,
    holm,
    jackknife_difference,
    mde,
    paired_difference,
    se_from_interval,
)
from xmsem.analysis.values import VALUES_FILE, read_values
from xmsem.runs.atomic import atomic_write_text

RULES_FILE = "RULES.yaml"
CLOSING = "<!-- closing -->"  # in a --preamble file: what follows goes below the tables


# --------------------------------------------------------------------------- reading
def read_table(path: Path) -> list[dict]:
    """Rows of a CSV file as dicts; numeric-looking cells stay strings (see :func:`num`)."""
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def num(value: object) -> float:
    """A table cell as a float (empty or missing -> NaN)."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


class Tables:
    """The committed analysis of one experiment: ``summary.csv``, ``paired.csv`` and the
    per-pair seed-vs-seed values of ``cross_run.csv``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.summary = read_table(folder / "summary.csv")
        self.paired = read_table(folder / "paired.csv")
        self.cross = read_table(folder / "cross_run.csv")
        self.values: list[dict] = []  # the raw per-copy values, where committed
        if (folder / VALUES_FILE).is_file():
            self.values = read_values(folder / VALUES_FILE)[0]

    @property
    def present(self) -> bool:
        return bool(self.summary)

    @property
    def name(self) -> str:
        return self.folder.name

    def archs(self) -> list[str]:
        return list(dict.fromkeys(r["arch"] for r in self.summary))

    def cell(self, arch: str, metric: str, layer: str | None, epoch, source: str = "live"):
        for r in self.summary:
            if (r["arch"] == arch and r["metric"] == metric and r["source"] == source
                    and _same(r["layer"], layer) and _same(r["epoch"], epoch)):  # fmt: skip
                return r
        return None

    def last_epoch(self, metric: str, source: str, table: str = "summary") -> int | None:
        rows = self.summary if table == "summary" else self.paired
        epochs = [int(num(r["epoch"])) for r in rows if r["metric"] == metric
                  and r["source"] == source and r["epoch"] not in ("", None)]  # fmt: skip
        return max(epochs) if epochs else None

    def pair(self, a: str, b: str, metric: str, source: str, layer, epoch) -> dict | None:
        """The paired row ``a - b`` from paired.csv, or (seed-vs-seed outcomes of architectures
        paired.csv does not compare) the jackknife difference of the cross_run.csv values."""
        for r in self.paired:
            if (r["arch_a"] == a and r["arch_b"] == b and r["metric"] == metric
                    and r["source"] == source and _same(r["layer"], layer)
                    and _same(r["epoch"], epoch)):  # fmt: skip
                return r
        if source != "cross_run" and self.values:  # a comparison paired.csv does not make
            rows = [r for r in self.values if r["metric"] == metric and r["source"] == source
                    and r["arch"] in (a, b) and r["layer"] == layer and r["epoch"] == epoch]  # fmt: skip
            found = paired_comparisons(rows, [(a, b)])
            return found[0] if found else None
        if source != "cross_run" or not self.cross:
            return None
        va, vb = (
            self.seed_values(a, metric, layer, epoch),
            self.seed_values(b, metric, layer, epoch),
        )
        if not va or not vb:
            return None
        res = jackknife_difference(va, vb)
        return _paired_row(res, "jackknife")

    def unit_values(self, arch: str, metric: str, layer, epoch) -> dict:
        """seed unit -> value of a live metric of one model or one same-copy pair (from
        values.csv; empty when not committed)."""
        out = {}
        for r in self.values:
            if (r["arch"] == arch and r["metric"] == metric and r["source"] == "live"
                    and r["layer"] == layer and r["epoch"] == epoch and len(r["units"]) == 1):  # fmt: skip
                out[r["units"][0]] = r["value"]
        return out

    def seed_values(self, arch: str, metric: str, layer, epoch) -> list[tuple[float, tuple]]:
        """(value, its two seed units) of every seed-vs-seed pair of ``arch``."""
        out = []
        for r in self.cross:
            if (r["arch"] == arch and r["metric"] == metric and _same(r["layer"], layer)
                    and _same(r["epoch"], epoch)):  # fmt: skip
                units = ((r["seed_a"], r["copy_a"] or "0"), (r["seed_b"], r["copy_b"] or "0"))
                out.append((num(r["value"]), units))
        return out


def _same(cell: object, wanted: object) -> bool:
    if wanted is None:
        return cell in ("", None)
    if isinstance(wanted, int):
        return cell not in ("", None) and int(num(cell)) == wanted
    return str(cell) == str(wanted)


def _paired_row(res: Paired, method: str) -> dict:
    return {"n": res.n, "mean_a": res.mean_a, "mean_b": res.mean_b, "mean_diff": res.mean_diff,
            "sd_diff": res.sd_diff, "ci_low": res.ci_low, "ci_high": res.ci_high,
            "p_value": res.p_value, "method": method}  # fmt: skip


# --------------------------------------------------------------------------- rows
@dataclass
class Row:
    """One verdict row: the estimate of one contrast of one rule."""

    rule: Rule
    what: str
    experiment: str
    n: int = 0
    mean_a: float = math.nan
    mean_b: float = math.nan
    diff: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    p: float = math.nan
    se: float = math.nan
    method: str = ""
    extra: str = ""
    controls: str = ""
    problem: str | None = None
    status: str = ""  # NOT_RUN / INVALID: <why>; empty when judged
    planted: float = math.nan
    cells: int = 2
    relative: tuple[float, float, float] | None = None  # (rel, lo, hi) for the magnitude check
    min_n: int = 3
    p_holm: float = math.nan
    verdict: str = ""
    magnitude: str = ""
    mde: float = math.nan
    power: float = math.nan
    source: str = ""

    @property
    def tested(self) -> bool:
        return not self.status and math.isfinite(self.p)

    def set_estimate(self, res: Mapping, method: str | None = None) -> None:
        self.n = int(num(res["n"])) if math.isfinite(num(res["n"])) else 0
        self.mean_a, self.mean_b = num(res["mean_a"]), num(res["mean_b"])
        self.diff, self.ci_low, self.ci_high = (num(res["mean_diff"]), num(res["ci_low"]),
                                                num(res["ci_high"]))  # fmt: skip
        self.p = num(res["p_value"])
        self.method = method or str(res.get("method", ""))
        if self.method == "paired-t":
            self.se = num(res["sd_diff"]) / math.sqrt(self.n) if self.n else math.nan
        else:
            self.se = se_from_interval(self.ci_low, self.ci_high, self.n - 1)


def _est_map(res: Paired) -> dict:
    return _paired_row(res, res.note or "cells")


def fmt(x: float, digits: int = 3) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


def _digits(x: float) -> int:
    """Enough decimals for a number of this size (3 at least, 4 significant below 0.01)."""
    if not math.isfinite(x) or x == 0 or abs(x) >= 0.01:
        return 3 if not math.isfinite(x) or abs(x) < 10 else 0
    return min(6, 3 - int(math.floor(math.log10(abs(x)))))


class Judge:
    """Evaluates every rule of a :class:`RuleBook` on the tables under ``root``."""

    def __init__(self, root: Path, book: RuleBook) -> None:
        self.root, self.book = root, book
        self._tables: dict[str, Tables] = {}

    def tables(self, name: str) -> Tables:
        if name not in self._tables:
            self._tables[name] = Tables(self.root / name)
        return self._tables[name]

    # -- one rule -> rows
    def rows(self, rule: Rule) -> list[Row]:
        t = self.tables(rule.get("experiment"))
        if not t.present:
            return [Row(rule, "-", t.name, status=V.NOT_RUN,
                        source=f"experiments/{t.name}/ (no results)")]  # fmt: skip
        rows = getattr(self, f"_{rule.kind}")(rule, t)
        for row in rows:
            row.min_n = int(rule.get("min_n", self.book.min_units))
            row.controls = row.controls or ", ".join(rule.controls)
        return rows or [Row(rule, "no matching rows", t.name, status=V.NOT_RUN,
                            source=f"experiments/{t.name}/")]  # fmt: skip

    def _epoch(
        self, rule: Rule, t: Tables, metric: str, source: str, table="summary"
    ) -> int | None:
        epoch = rule.get("epoch")
        if epoch in (None, "last"):
            return t.last_epoch(metric, source, table) if epoch == "last" else None
        return int(epoch)

    def _invalid(self, t: Tables, file: str, *archs: str) -> str | None:
        reason = self.book.invalid_reason(self.root, f"{t.name}/{file}", archs)
        return f"{V.INVALID}: {reason}" if reason else None

    def _paired(self, rule: Rule, t: Tables) -> list[Row]:
        source = rule.get("source", "final")
        bs = rule.get("b") if isinstance(rule.get("b"), list) else [rule.get("b")]
        out = []
        for a in self._expand(rule.get("a"), t, exclude=bs):
            for b in bs:
                for metric in self._levels(rule, t):
                    for layer in rule.layers:
                        out.append(self._paired_one(rule, t, a, b, metric, source, layer))
        return out

    def _paired_one(self, rule: Rule, t: Tables, a, b, metric, source, layer) -> Row:
        epoch = self._epoch(rule, t, metric, source, "paired")
        if source == "cross_run" and epoch is None and rule.get("epoch") == "last":
            epoch = t.last_epoch(metric, source, "summary")
        where = "" if layer is None else f", {layer}"
        where += "" if epoch is None else f", epoch {epoch}"
        row = Row(rule, f"{a} - {b}: {metric}{where}", t.name)
        file = "cross_run.csv" if source == "cross_run" else "paired.csv"
        row.source = f"experiments/{t.name}/{file}"
        found = t.pair(a, b, metric, source, layer, epoch)
        if found is None:
            row.status = V.NOT_RUN
            return row
        row.status = self._invalid(t, file, a, b) or self._invalid(t, "paired.csv", a, b) or ""
        row.set_estimate(found)
        instab_b = 1.0 - row.mean_b
        planted = rule.get("planted")
        row.planted = V.planted_effect(planted, instab_b) if planted is not None else math.nan
        mag = rule.get("magnitude")
        if mag and layer in mag.get("layers", [layer]):
            base = instab_b if mag.get("relative_to") == "instability_b" else abs(row.mean_b)
            row.relative = (row.diff / base, row.ci_low / base, row.ci_high / base)
            row.extra += (f"; instability 1 - CKA {fmt(1 - row.mean_a)} vs {fmt(instab_b)}: "
                          f"{fmt(100 * row.relative[0], 1)}% lower [{fmt(100 * row.relative[1], 1)}, "
                          f"{fmt(100 * row.relative[2], 1)}] (stated {100 * mag['value']:.0f}%)")  # fmt: skip
        if rule.get("per_epoch"):
            row.extra += "; by epoch " + self._by_epoch(t, a, b, metric, source, layer)
        if rule.get("curve"):
            row.extra += "; curve " + self._curve(t, a, b, metric, source, layer)
        if source == "cross_run":
            at0 = t.pair(a, b, metric, source, layer, 0)
            if at0 is not None:
                row.controls = (f"{', '.join(rule.controls)}: {b} {fmt(row.mean_b)}; untrained "
                                f"{a} {fmt(num(at0['mean_a']))} vs {b} {fmt(num(at0['mean_b']))}")  # fmt: skip
        requires = rule.get("requires") or {}
        if "mlp_accuracy_drop" in requires:
            row.problem = self._noise_too_weak(t, a, b, metric, requires["mlp_accuracy_drop"])
        return row

    def _by_epoch(self, t: Tables, a, b, metric, source, layer) -> str:
        parts = []
        for r in t.paired:
            if (r["arch_a"] == a and r["arch_b"] == b and r["metric"] == metric
                    and r["source"] == source and _same(r["layer"], layer)):  # fmt: skip
                base = 1.0 - num(r["mean_b"])
                parts.append(f"{r['epoch']}: {fmt(100 * num(r['mean_diff']) / base, 0)}%")
        return "(relative, epoch: %) " + ", ".join(parts)

    def _curve(self, t: Tables, a, b, metric, source, layer) -> str:
        parts = [f"{r['epoch']}: {num(r['mean_diff']):+.4f} (n {r['n']})" for r in t.paired
                 if r["arch_a"] == a and r["arch_b"] == b and r["metric"] == metric
                 and r["source"] == source and _same(r["layer"], layer)]  # fmt: skip
        return "(a - b by epoch) " + ", ".join(parts)

    def _noise_too_weak(self, t: Tables, a, b, metric, needed: float) -> str | None:
        level = metric.split("@", 1)[1] if "@" in metric else None
        if level is None:
            return None

        def acc(lv: str) -> float:  # noqa: E306
            r = t.pair(a, b, f"noise_acc@{lv}", "live", "output", t.last_epoch(
                f"noise_acc@{lv}", "live", "paired"))  # fmt: skip
            return num(r["mean_b"]) if r else math.nan

        drop = acc("0") - acc(level)
        if math.isfinite(drop) and drop >= needed:
            return None
        return (f"noise too weak (MLP accuracy falls {fmt(100 * drop, 1)} points at sigma {level}; "
                f"the rule needs >= {100 * needed:.0f})")  # fmt: skip

    def _levels(self, rule: Rule, t: Tables) -> list[str]:
        outcome = rule.get("outcome")
        if "{level}" not in outcome:
            return [outcome]
        stem = outcome.split("{level}")[0]
        levels = sorted({r["metric"][len(stem):] for r in t.paired
                         if r["metric"].startswith(stem)}, key=num)  # fmt: skip
        levels = [lv for lv in levels if num(lv) > 0]
        if rule.get("levels") == "strongest2":
            levels = levels[-2:]
        return [outcome.replace("{level}", lv) for lv in levels]

    def _expand(self, pattern: str, t: Tables, exclude: Sequence[str] = ()) -> list[str]:
        """The architectures a pattern names: ``[*]`` is any one variant label (the same label
        wherever it appears twice, as in ``pgnn[*]~mlp[*]``)."""
        if "[*]" not in pattern:
            return [pattern]
        regex = re.escape(pattern).replace(re.escape("[*]"), r"\[(?P<v>[^\]~]*)\]", 1)
        regex = regex.replace(re.escape("[*]"), r"\[(?P=v)\]")
        return [a for a in t.archs() if re.fullmatch(regex, a) and a not in exclude]

    def _cell_or_untrained(self, t: Tables, arch: str, against: str, metric: str, layer, epoch):
        if against == "untrained":
            return t.cell(arch, metric, layer, 0)
        return t.cell(against, metric, layer, epoch)

    def _contrast(
        self, t: Tables, terms: list[tuple[int, str, str, object, object]], const: float = 0.0
    ) -> tuple[Paired | None, str]:
        """``sum sign * cell - const`` over terms ``(sign, arch, metric, layer, epoch)``: paired
        by seed unit when the raw values are committed (paired t of the per-unit contrasts),
        else from the summary cells taken as independent (``cells``)."""
        per_unit = [t.unit_values(a, m, la, ep) for _, a, m, la, ep in terms]
        common = set.intersection(*(set(d) for d in per_unit)) if per_unit else set()
        if len(common) >= 3:
            units = sorted(common, key=repr)
            d = {u: sum(sg * pu[u] for (sg, *_), pu in zip(terms, per_unit, strict=True)) - const
                 for u in units}  # fmt: skip
            return paired_difference(d, dict.fromkeys(units, 0.0)), "paired-t"
        cells = [t.cell(a, m, la, ep) for _, a, m, la, ep in terms]
        if any(c is None for c in cells):
            return None, ""
        found = [_cell(c) for c in cells]
        signs = [sg for sg, *_ in terms]
        if const:
            found.append((const, 0.0, found[0][2]))
            signs.append(-1)
        return combine_cells(found, signs), "cells"

    def _beyond(self, rule: Rule, t: Tables) -> list[Row]:
        out = []
        against = rule.get("against")
        for arch in self._expand(rule.get("arch"), t, exclude=[against]):
            for layer in rule.layers:
                metric = rule.get("outcome")
                epoch = self._epoch(rule, t, metric, "live")
                row = Row(rule, f"{arch} - {against}: {metric}, {layer}, epoch {epoch}", t.name,
                          source=f"experiments/{t.name}/summary.csv")  # fmt: skip
                ca = t.cell(arch, metric, layer, epoch)
                cb = self._cell_or_untrained(t, arch, against, metric, layer, epoch)
                if ca is None or cb is None:
                    row.status = V.NOT_RUN
                    out.append(row)
                    continue
                base = against.split("~")[0] if against != "untrained" else arch
                row.status = self._invalid(t, "summary.csv", arch, base) or ""
                b_arch, b_epoch = (arch, 0) if against == "untrained" else (against, epoch)
                res, method = self._contrast(t, [(1, arch, metric, layer, epoch),
                                                 (-1, b_arch, metric, layer, b_epoch)])  # fmt: skip
                row.set_estimate(_est_map(res), method)
                row.mean_a, row.mean_b = num(ca["mean"]), num(cb["mean"])
                row.planted = num(rule.get("planted"))
                row.controls = f"{', '.join(rule.controls)} {fmt(row.mean_b)}"
                out.append(row)
        return out

    def _level(self, rule: Rule, t: Tables) -> list[Row]:
        out = []
        ref = float(rule.get("reference"))
        metric = rule.get("outcome")
        for layer in rule.layers:
            epoch = self._epoch(rule, t, metric, "live")
            arch = rule.get("arch")
            row = Row(rule, f"{arch}: {metric} - {ref:g}, {layer}, epoch {epoch}", t.name,
                      source=f"experiments/{t.name}/summary.csv", cells=1)  # fmt: skip
            c = t.cell(arch, metric, layer, epoch)
            if c is None:
                row.status = V.NOT_RUN
                out.append(row)
                continue
            res, method = self._contrast(t, [(1, arch, metric, layer, epoch)], const=ref)
            row.set_estimate(_est_map(res), method)
            row.mean_a, row.mean_b = num(c["mean"]), ref
            row.planted = num(rule.get("planted"))
            row.controls = f"{', '.join(rule.controls)}: untrained {fmt(num(c.get('untrained')))}"
            if metric == "stitch_penalty":
                st = t.cell(arch, "stitch_acc", layer, epoch)
                row.extra = f"; stitched accuracy {fmt(num(st['mean']))}" if st else ""
            out.append(row)
        return out

    def _band_gain(self, rule: Rule, t: Tables) -> list[Row]:
        arch, against, stem = rule.get("arch"), rule.get("against"), rule.get("outcome")
        layer = rule.get("layer")
        epoch = self._epoch(rule, t, f"{stem}0", "live")
        trained = [t.cell(arch, f"{stem}{k}", layer, epoch) for k in range(rule.get("bands"))]
        control = [self._cell_or_untrained(t, arch, against, f"{stem}{k}", layer, epoch)
                   for k in range(rule.get("bands"))]  # fmt: skip
        src = f"experiments/{t.name}/summary.csv"
        if any(c is None for c in trained + control):
            return [Row(rule, f"{arch}: {stem}*", t.name, status=V.NOT_RUN, source=src)]
        gains = [num(a["mean"]) - num(c["mean"]) for a, c in zip(trained, control, strict=True)]
        text = (f"; trained {'/'.join(fmt(num(a['mean'])) for a in trained)}, {against} "
                f"{'/'.join(fmt(num(c['mean'])) for c in control)}, gain "
                f"{'/'.join(f'{g:+.3f}' for g in gains)}")  # fmt: skip
        out = []
        for k in range(1, len(trained)):
            row = Row(rule, f"{arch}: gain over {against}, band0 - band{k}, {layer}, epoch {epoch}",
                      t.name, source=src, cells=4)  # fmt: skip
            b_arch, b_epoch = (arch, 0) if against == "untrained" else (against, epoch)
            terms = [(1, arch, f"{stem}0", layer, epoch), (-1, b_arch, f"{stem}0", layer, b_epoch),
                     (-1, arch, f"{stem}{k}", layer, epoch),
                     (1, b_arch, f"{stem}{k}", layer, b_epoch)]  # fmt: skip
            res, method = self._contrast(t, terms)
            row.set_estimate(_est_map(res), method)
            row.mean_a, row.mean_b = gains[0], gains[k]
            row.planted = num(rule.get("planted"))
            row.extra = text
            out.append(row)
        return out

    def _permutation(self, rule: Rule, t: Tables) -> list[Row]:
        arch, stem, layer = rule.get("arch"), rule.get("outcome"), rule.get("layer")
        epoch = self._epoch(rule, t, f"{stem}0", "live")
        all_p = [num(r["mean"]) for r in t.summary if r["metric"].startswith(stem)]
        floor = min((p for p in all_p if p > 0), default=math.nan)
        perms = round(1.0 / floor) - 1 if math.isfinite(floor) else 0
        out = []
        for k in range(rule.get("bands")):
            row = Row(rule, f"{arch}: band{k} beyond its permutation null, {layer}, epoch {epoch}",
                      t.name, source=f"experiments/{t.name}/summary.csv")  # fmt: skip
            c = t.cell(arch, f"{stem}{k}", layer, epoch)
            if c is None:
                row.status = V.NOT_RUN
                out.append(row)
                continue
            row.n, row.p, row.method = int(num(c["n"])), num(c["mean"]), "permutation"
            band = t.cell(arch, stem.replace("_p_band", "_band") + str(k), layer, epoch)
            null = t.cell(arch, stem.replace("_p_band", "_null_band") + str(k), layer, epoch)
            row.mean_a = num(band["mean"]) if band else math.nan
            row.mean_b = num(null["mean"]) if null else math.nan
            row.extra = f"; mean p over seeds, {perms} permutations (p >= {fmt(floor, 4)})"
            if perms < self.book.min_permutations:
                row.problem = (f"null too coarse ({perms} permutations: p >= {fmt(floor, 3)}; the "
                               f"rule needs >= {self.book.min_permutations})")  # fmt: skip
            out.append(row)
        return out

    def _aa(self, rule: Rule, t: Tables) -> list[Row]:
        arch, metric = rule.get("arch"), rule.get("outcome")
        out = []
        for layer in rule.layers:
            epoch = self._epoch(rule, t, metric, rule.get("source", "cross_run"))
            row = Row(rule, f"{arch} copies: second half - first half: {metric}, {layer}, "
                      f"epoch {epoch}", t.name, source=f"experiments/{t.name}/cross_run.csv")  # fmt: skip
            values = t.seed_values(arch, metric, layer, epoch)
            if not values:
                row.status = V.NOT_RUN
                out.append(row)
                continue
            _, half_a, _ = V.split_halves(values)
            base = 1.0 - sum(v for v, _ in half_a) / len(half_a)
            plant = V.planted_effect(rule.get("plant"), base) if rule.get("plant") else 0.0
            res, _, _ = V.split_halves(values, plant)
            row.status = self._invalid(t, "cross_run.csv", arch) or ""
            row.set_estimate(_est_map(res), "jackknife")
            row.planted = plant if plant else V.planted_effect("relative 0.20", base)
            row.extra = f"; planted {plant:+.4f}" if plant else ""
            out.append(row)
        return out

    # -- all rules
    def judge(self) -> list[Row]:
        rows = [row for rule in self.book.rules for row in self.rows(rule)]
        families: dict[str, list[Row]] = {}
        for row in rows:
            families.setdefault(row.rule.family, []).append(row)
        for family in families.values():
            tested = [r for r in family if r.tested]
            for r, adj in zip(tested, holm([r.p for r in tested]), strict=True):
                r.p_holm = adj
            for r in family:
                self._finish(r, len(tested))
        return rows

    def _finish(self, r: Row, family_size: int) -> None:
        book, rule = self.book, r.rule
        if r.status == V.NOT_RUN:
            r.verdict = r.status
            return
        r.mde = mde(r.se, r.n - 1, book.alpha, book.power)
        direction = int(rule.get("direction", 1))
        margin = float(rule.get("margin", 0.0))
        method = {"paired-t": "paired-t", "jackknife": "jackknife"}.get(r.method, "cells")
        seed = zlib.crc32(f"{rule.id}|{r.what}".encode())
        if rule.kind != "permutation":  # the design's power, also where the numbers are invalid
            r.power = V.power(method, r.planted, r.se, r.n, direction, margin, book.alpha,
                              max(family_size, 1), book.simulations, seed, r.cells)  # fmt: skip
        if r.status:  # invalid: the numbers are shown, never judged
            r.verdict = r.status
            if r.n < r.min_n:
                r.verdict += f"; and {V.NOT_ENOUGH} (n = {r.n} < {r.min_n})"
            return
        if rule.kind == "permutation":
            if r.problem:
                r.verdict = f"{V.INCONCLUSIVE}: {r.problem}"
            else:
                r.verdict = V.SUPPORTED if r.p_holm < book.alpha else V.INCONCLUSIVE
            return
        r.verdict = V.decide(r.ci_low, r.ci_high, r.p_holm, r.n, direction, margin, book.alpha,
                             r.min_n, r.problem)  # fmt: skip
        if r.problem and r.n >= r.min_n:  # what the margin and direction alone would say
            alone = V.decide(r.ci_low, r.ci_high, r.p_holm, r.n, direction, margin, book.alpha)
            r.verdict += f"; by margin and direction alone: {alone}"
        if rule.get("equivalence"):
            r.verdict = V.equivalence(r.verdict)
        if r.relative is not None and r.verdict == V.SUPPORTED:
            r.magnitude = V.magnitude(r.relative[1], r.relative[2], rule.get("magnitude")["value"])
        expect = rule.get("expect")
        if expect == "no difference":
            if r.verdict == V.NO_DIFFERENCE:
                r.magnitude = "A/A, expected no difference: pass"
            elif V.passes_aa(r.verdict):
                r.magnitude = (f"A/A, expected no difference: pass (no significant difference; "
                               f"the MDE {fmt(r.mde, _digits(r.mde))} is too large to show it "
                               f"within the margin)")  # fmt: skip
            else:
                r.magnitude = "A/A, expected no difference: FAIL"
        elif expect is not None:
            r.magnitude = f"expected {expect}: {'pass' if r.verdict == expect else 'FAIL'}"


def _cell(row: Mapping) -> tuple[float, float, int]:
    n = int(num(row["n"])) if math.isfinite(num(row["n"])) else 0
    return num(row["mean"]), num(row["se"]), n


# --------------------------------------------------------------------------- the page
def claim_verdict(rows: Sequence[Row]) -> str:
    """One word per claim: supported when every judged row is; not supported when a row finds
    the opposite direction or no meaningful difference (mixed when others support it)."""
    controls = [r for r in rows if r.rule.get("expect") is not None and not r.status]
    if controls and len(controls) == sum(not r.status for r in rows):
        failed = [r.rule.id for r in controls if r.magnitude.endswith("FAIL")]
        return f"control failed: {', '.join(failed)}" if failed else "controls pass"
    judged = [r.verdict for r in rows if not r.status and r.rule.get("expect") is None]
    if not judged:
        if all(r.status == V.NOT_RUN for r in rows):
            return V.NOT_RUN
        return V.INVALID if any(r.status.startswith(V.INVALID) for r in rows) else V.NOT_RUN
    against = sum(v in (V.OPPOSITE, V.NO_DIFFERENCE) or v.startswith("not supported")
                  for v in judged)  # fmt: skip
    support = sum(v.startswith(V.SUPPORTED) for v in judged)
    if support == len(judged):
        return V.SUPPORTED
    if against:
        return "mixed" if support else "not supported"
    return V.INCONCLUSIVE


def _number(r: Row) -> str:
    if r.status == V.NOT_RUN and r.n == 0:
        return "-"
    if r.rule.kind == "permutation":
        return f"band CKA {fmt(r.mean_a)} vs null {fmt(r.mean_b)}; p {fmt(r.p, 4)}{r.extra}"
    d = _digits(max(abs(r.ci_low), abs(r.ci_high), abs(r.diff))) if math.isfinite(r.diff) else 3
    return (f"{fmt(r.mean_a, d)} vs {fmt(r.mean_b, d)}; diff {fmt(r.diff, d)} "
            f"[{fmt(r.ci_low, d)}, {fmt(r.ci_high, d)}] ({r.method}){r.extra}")  # fmt: skip


def _cells(r: Row, target: float) -> str:
    d = _digits(r.mde)
    power = "-" if not math.isfinite(r.power) else f"{r.power:.2f} at {r.planted:+.3g}"
    if math.isfinite(r.power) and r.power < target:
        power += " (underpowered)"
    p = "-" if not math.isfinite(r.p) else f"{fmt(r.p, 4)} / {fmt(r.p_holm, 4)}"
    verdict = f"**{r.verdict}**" + (f"; {r.magnitude}" if r.magnitude else "")
    return (f"| {r.rule.id} | {r.what} | {_number(r)} | {r.controls or '-'} | {r.n or '-'} | "
            f"{fmt(r.mde, d)} | {p} | {power} | {verdict} | {r.source} |")  # fmt: skip


HEADER = ("| rule | contrast | our number (mean [95% CI]) | controls | n | MDE (80%) | "
          "p / Holm p | power at planted effect | verdict | from |")  # fmt: skip


def render(rows: Sequence[Row], book: RuleBook, preamble: str = "", closing: str = "") -> str:
    """STUDY.md: the claims' verdicts, then one table per claim with every rule's rows."""
    lines = [
        "# The study: each claim of arXiv 2508.03649 against our measurements",
        "",
        "Generated by `python -m xmsem.analysis.study experiments/` from the pre-registered rules "
        "(`experiments/RULES.yaml`, explained in `experiments/RULES.md`) and the committed "
        "`experiments/<name>/summary.csv`, `paired.csv` and `cross_run.csv`; do not edit by hand.",
        "",
    ]
    if preamble:
        lines += [preamble.strip(), ""]
    by_claim: dict[str, list[Row]] = {}
    for r in rows:
        by_claim.setdefault(r.rule.claim, []).append(r)
    lines += ["| claim | family | verdict | rows |", "|---|---|---|---|"]
    for claim, family in book.claims:
        found = by_claim.get(claim, [])
        counts: dict[str, int] = {}
        for r in found:
            key = r.verdict.split(":")[0]
            counts[key] = counts.get(key, 0) + 1
        summary = ", ".join(f"{k} {v}" for k, v in counts.items())
        lines.append(f"| {claim} | {family} | **{claim_verdict(found)}** | {summary} |")
    for claim, family in book.claims:
        found = by_claim.get(claim, [])
        m = sum(r.tested for r in found)
        lines += ["", f"## {claim}", "", f"Family `{family}`: Holm over {m} tested rows.", "",
                  HEADER, "|" + "---|" * 10]  # fmt: skip
        lines += [_cells(r, book.power) for r in found]
    steps = V.__doc__.split("procedure lives:")[1].split("Controls of a rule")[0]
    lines += ["", "Decision rule (`xmsem.analysis.verdicts.decide`): " + " ".join(steps.split())]
    if closing:
        lines += ["", closing.strip()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xmsem.analysis.study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("root", type=Path, help="folder of the experiments (experiments/)")
    parser.add_argument("--rules", type=Path, help="rule book (default: <root>/RULES.yaml)")
    parser.add_argument("--out", type=Path, help="output file (default: <root>/STUDY.md)")
    parser.add_argument("--preamble", type=Path, help="Markdown inserted above the tables")
    parser.add_argument("--closing", type=Path, help="Markdown appended below the tables")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"xmsem: error: {args.root} is not a folder of experiments", file=sys.stderr)
        return 2
    try:
        book = load_rules(args.rules or args.root / RULES_FILE)
    except RulesError as err:
        print(f"xmsem: error: {err}", file=sys.stderr)
        return 2
    preamble = args.preamble.read_text() if args.preamble else ""
    # a preamble may carry its closing note after a CLOSING marker line
    preamble, _, closing = preamble.partition(CLOSING)
    closing = args.closing.read_text() if args.closing else closing
    out = args.out or args.root / "STUDY.md"
    rows = Judge(args.root, book).judge()
    atomic_write_text(out, render(rows, book, preamble, closing))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
