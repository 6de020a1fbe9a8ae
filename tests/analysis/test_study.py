"""STUDY.md from pre-registered rules: the rule book, and verdict rows from hand-written tables."""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

import pytest

from xmsem.analysis import study
from xmsem.analysis import verdicts as V
from xmsem.analysis.aggregate import PAIRED_COLUMNS, SUMMARY_COLUMNS
from xmsem.analysis.rules import RulesError, load_rules

REPO_RULES = Path(__file__).resolve().parents[2] / "experiments" / "RULES.yaml"


def _write(path: Path, rows: list[dict], columns) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})


def _paired(metric, mean_a, mean_b, lo, hi, p, **kw) -> dict:
    row = dict(dataset="fmnist", arch_a="pgnn", arch_b="mlp", epoch="", layer="", metric=metric,
               source="final", n=5, mean_a=mean_a, mean_b=mean_b, mean_diff=mean_a - mean_b,
               sd_diff=0.004, ci_low=lo, ci_high=hi, p_value=p, method="paired-t")  # fmt: skip
    row.update(kw)
    return row


def _cell(arch, metric, mean, se, epoch=10, layer="h3", n=5, source="live") -> dict:
    return dict(dataset="fmnist", arch=arch, epoch=epoch, layer=layer, metric=metric, mean=mean,
                se=se, n=n, source=source)  # fmt: skip


RULES = """
alpha: 0.05
simulations: 200
invalid_tables:
  - file: stab/paired.csv
    sha256: {sha}
    reason: broken engine
    affects: pgnn
claims:
  - claim: slightly higher accuracy
    family: accuracy
    rules:
      - {{id: ACC, kind: paired, experiment: fm, outcome: test_acc, source: final, a: pgnn, b: mlp,
         direction: 1, margin: 0.002, planted: 0.005, controls: [same-seed MLP]}}
  - claim: noise
    family: noise
    rules:
      - {{id: NOISE, kind: paired, experiment: fm, outcome: noise_cka@0.2, source: live, layer: h3,
         epoch: 10, a: pgnn, b: mlp, direction: 1, margin: 0.002, planted: 0.005}}
  - claim: low frequency
    family: low_frequency
    rules:
      - {{id: LOWF, kind: band_gain, experiment: fm, arch: pgnn~mlp, outcome: spectral_graph_band,
         bands: 3, layer: h3, epoch: last, against: untrained, direction: 1, margin: 0.02,
         planted: 0.05}}
      - {{id: PERM, kind: permutation, experiment: fm, arch: pgnn~mlp,
         outcome: spectral_graph_p_band, bands: 3, layer: h3, epoch: last}}
  - claim: stability
    family: stability
    rules:
      - {{id: STAB, kind: paired, experiment: stab, outcome: seed_linear_cka, source: cross_run,
         layers: [h3, h1, h2], epoch: last, a: pgnn, b: mlp, direction: 1, margin: 0.002,
         magnitude: {{relative_to: instability_b, value: 0.20, layers: [h3]}},
         planted: relative 0.20}}
  - claim: never run
    family: other
    rules:
      - {{id: GONE, kind: paired, experiment: nowhere, outcome: test_acc, a: pgnn, b: mlp,
         direction: 1, margin: 0.0}}
"""


def _experiments(tmp_path: Path, invalid_sha: str = "0" * 64) -> Path:
    fm = tmp_path / "fm"
    _write(fm / "paired.csv", [
        _paired("test_acc", 0.8865, 0.8857, -0.007, 0.0086, 0.79),
        # the review's noise row: 0.0012 [0.0009, 0.0015], p 0.0003 -> inside the 0.002 margin
        _paired("noise_cka@0.2", 0.9971, 0.9959, 0.0009, 0.0015, 0.0003, source="live",
                layer="h3", epoch=10),
    ], PAIRED_COLUMNS)  # fmt: skip
    bands = []
    for k, (trained, untrained) in enumerate([(0.901, 0.845), (0.747, 0.439), (0.808, 0.445)]):
        bands += [_cell("pgnn~mlp", f"spectral_graph_band{k}", trained, 0.008),
                  _cell("pgnn~mlp", f"spectral_graph_band{k}", untrained, 0.008, epoch=0),
                  _cell("pgnn~mlp", f"spectral_graph_p_band{k}", 1 / 11, 0.0),
                  _cell("pgnn~mlp", f"spectral_graph_null_band{k}", 0.03, 0.001)]  # fmt: skip
    _write(fm / "summary.csv", bands, SUMMARY_COLUMNS)
    stab = tmp_path / "stab"
    _write(stab / "summary.csv", [_cell("pgnn", "seed_linear_cka", 0.95, 0.001)], SUMMARY_COLUMNS)
    rows = []
    for layer, (lo, hi, p) in {"h3": (0.03, 0.07, 0.001), "h1": (0.001, 0.02, 0.03),
                               "h2": (0.0, 0.03, 0.04)}.items():  # fmt: skip
        rows.append(_paired("seed_linear_cka", 0.95, 0.90, lo, hi, p, epoch=10, layer=layer,
                            source="cross_run", method="jackknife", n=20))  # fmt: skip
    _write(stab / "paired.csv", rows, PAIRED_COLUMNS)
    (tmp_path / "RULES.yaml").write_text(RULES.format(sha=invalid_sha))
    return tmp_path


def _rows(root: Path) -> dict[str, list[study.Row]]:
    out: dict[str, list[study.Row]] = {}
    for row in study.Judge(root, load_rules(root / "RULES.yaml")).judge():
        out.setdefault(row.rule.id, []).append(row)
    return out


def test_rows_follow_the_rules(tmp_path: Path) -> None:
    rows = _rows(_experiments(tmp_path))
    (acc,) = rows["ACC"]
    assert acc.verdict == V.INCONCLUSIVE and acc.n == 5
    # MDE from the row's own se: sd_diff 0.004 / sqrt(5), df 4
    assert acc.mde == pytest.approx((2.7764451 + 0.9409646) * 0.004 / 5**0.5)
    assert acc.p_holm == pytest.approx(0.79) and 0.0 <= acc.power <= 1.0
    (noise,) = rows["NOISE"]
    assert noise.verdict == V.NO_DIFFERENCE  # margin before direction
    # what training adds: +0.056 / +0.308 / +0.363 -> the low band gains LEAST
    gains = rows["LOWF"]
    assert [r.verdict for r in gains] == [V.OPPOSITE, V.OPPOSITE]
    assert gains[0].diff == pytest.approx((0.901 - 0.845) - (0.747 - 0.439))
    assert gains[0].se == pytest.approx(math.sqrt(4 * 0.008**2))
    nulls = rows["PERM"]
    assert all(
        r.verdict.startswith("inconclusive: null too coarse (10 permutations") for r in nulls
    )
    # Holm within the family: the two gain rows and three permutation rows (m = 5)
    assert gains[1].p_holm == pytest.approx(min(1.0, 5 * min(r.p for r in gains)))
    stab = rows["STAB"]
    assert [r.what.split(",")[1].strip() for r in stab] == ["h3", "h1", "h2"]
    # Holm over the 3 layers: 0.001*3, 0.03*2 = 0.06, max(0.06, 0.04) = 0.06
    assert [r.p_holm for r in stab] == pytest.approx([0.003, 0.06, 0.06])
    assert stab[0].verdict == V.SUPPORTED and stab[1].verdict == V.INCONCLUSIVE
    # magnitude at h3 only: instability 0.05 vs 0.10 = 50% lower [30, 70]: larger than 20%
    assert stab[0].magnitude == V.MAGNITUDE_LARGER and stab[1].magnitude == ""
    assert rows["GONE"][0].verdict == V.NOT_RUN


def test_invalid_tables_are_shown_not_judged_until_they_change(tmp_path: Path) -> None:
    root = _experiments(tmp_path)
    sha = hashlib.sha256((root / "stab" / "paired.csv").read_bytes()).hexdigest()
    (root / "RULES.yaml").write_text(RULES.format(sha=sha))
    stab = _rows(root)["STAB"]
    assert all(r.verdict == "invalid: broken engine" for r in stab)
    assert all(math.isnan(r.p_holm) for r in stab)  # not part of the Holm family
    with (root / "stab" / "paired.csv").open("a") as fh:  # a re-run: new content
        fh.write("\n")
    assert _rows(root)["STAB"][0].verdict == V.SUPPORTED


def test_page_names_rule_controls_n_mde_and_holm_p(tmp_path: Path) -> None:
    root = _experiments(tmp_path)
    assert study.main([str(root)]) == 0
    page = (root / "STUDY.md").read_text()
    assert "| claim | family | verdict | rows |" in page
    assert "| low frequency | low_frequency | **not supported** |" in page
    row = next(line for line in page.splitlines() if line.startswith("| ACC |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "ACC" and cells[3] == "same-seed MLP" and cells[4] == "5"
    assert cells[5] == "0.006650" and cells[6] == "0.7900 / 0.7900"
    assert "Decision rule" in page and "margin" in page
    # regenerated byte for byte
    first = page
    assert study.main([str(root)]) == 0
    assert (root / "STUDY.md").read_text() == first


def test_committed_rule_book_loads() -> None:
    book = load_rules(REPO_RULES)
    ids = [r.id for r in book.rules]
    assert len(ids) == len(set(ids))
    assert {"STAB-h3", "LOWF-gain-untrained", "NOISE-cka", "AA-stability", "POS-stability"} <= set(
        ids
    )
    assert book.min_permutations >= 199 and book.min_ablation_copies >= 10
    stab = next(r for r in book.rules if r.id == "STAB-h3")
    assert stab.layers[0] == "h3" and stab.get("magnitude")["value"] == 0.20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("claims: [{claim: c, family: f, rules: [{id: X, kind: paired}]}]", "rule X (paired) lacks"),
        ("claims: [{claim: c, family: f, rules: [{id: X, kind: magic}]}]", "kind 'magic' is not"),
        ("claims: [{claim: c, family: f, rules: [{id: X, kind: permutation, experiment: e, "
         "arch: a, outcome: o, bands: 3, colour: red}]}]", "unknown key(s) colour"),
        ("claims: [{claim: c, family: f, rules: [{id: X, kind: paired, experiment: e, outcome: o, "
         "a: a, b: b, direction: 2, margin: 0}]}]", "direction must be 1 or -1"),
        ("claims: []", "no rules"),
    ],
)  # fmt: skip
def test_malformed_rules_stop_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "RULES.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as err:
        load_rules(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_cli_errors(tmp_path: Path) -> None:
    assert study.main([str(tmp_path / "missing")]) == 2
    assert study.main([str(tmp_path)]) == 2  # no RULES.yaml


def test_preamble_and_closing_note(tmp_path: Path) -> None:
    root = _experiments(tmp_path)
    notes = tmp_path / "notes.md"
    notes.write_text("Above the tables.\n<!-- closing -->\nWhat changed: everything.\n")
    assert study.main([str(root), "--preamble", str(notes)]) == 0
    page = (root / "STUDY.md").read_text()
    assert page.index("Above the tables.") < page.index("| claim |")
    assert page.rstrip().endswith("What changed: everything.") and "<!-- closing" not in page


AA_RULES = """
claims:
  - claim: controls
    family: controls
    rules:
      - {id: AA, kind: aa, experiment: ens, arch: mlp, outcome: seed_linear_cka,
         source: cross_run, layers: [h3], epoch: last, margin: 0.002, expect: no difference}
      - {id: POS, kind: aa, experiment: ens, arch: mlp, outcome: seed_linear_cka,
         source: cross_run, layers: [h3], epoch: last, margin: 0.002, plant: relative 0.20,
         expect: supported}
"""


def test_aa_and_positive_control_rules_on_a_table(tmp_path: Path) -> None:
    import numpy as np

    from xmsem.analysis.pipeline import CROSS_COLUMNS

    a = np.random.default_rng(0).normal(0.0, 0.0005, size=40)  # seed effects of 40 copies
    rows = [dict(dataset="d", arch="mlp", epoch=10, layer="h3", metric="seed_linear_cka",
                 value=0.9 + a[i] + a[j], run_a="seed=0", seed_a=0, copy_a=i, run_b="seed=0",
                 seed_b=0, copy_b=j) for i in range(40) for j in range(i + 1, 40)]  # fmt: skip
    _write(tmp_path / "ens" / "cross_run.csv", rows, CROSS_COLUMNS)
    _write(tmp_path / "ens" / "summary.csv", [_cell("mlp", "seed_linear_cka", 0.9, 0.001,
                                                           source="cross_run")], SUMMARY_COLUMNS)  # fmt: skip
    (tmp_path / "RULES.yaml").write_text(AA_RULES)
    rows = _rows(tmp_path)
    (aa,), (pos,) = rows["AA"], rows["POS"]
    assert aa.n == 40 and aa.verdict == V.NO_DIFFERENCE and aa.magnitude.endswith(": pass")
    # 20% of the first half's instability (~0.1) planted into the second half: found
    assert pos.diff == pytest.approx(0.02, abs=0.002)
    assert pos.verdict == V.SUPPORTED and pos.magnitude == "expected supported: pass"
    assert study.claim_verdict(rows["AA"] + rows["POS"]) == "controls pass"
