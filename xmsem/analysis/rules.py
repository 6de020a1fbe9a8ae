"""The study's rule book, ``experiments/RULES.yaml``: read and checked before any verdict.

A rule (one entry under a claim) fixes what :mod:`xmsem.analysis.study` reads and how it judges it
(see ``experiments/RULES.md``). Kinds:

* ``paired``: ``a - b`` paired by seed unit (``paired.csv``, or computed from ``cross_run.csv``
  for seed-vs-seed outcomes);
* ``beyond``: one summary cell minus a control cell (``against``: ``untrained`` = the same cell at
  epoch 0, or another arch such as ``mlp~mlp_shuffled``);
* ``level``: one summary cell minus a fixed ``reference`` (transfer ratio vs 1);
* ``band_gain``: what training adds in band 0 minus what it adds in each higher band;
* ``permutation``: permutation p-values, judged only with >= ``min_permutations`` permutations;
* ``aa``: A/A control (``plant``: positive control) on halves of one architecture's copies.

A malformed rule stops with one line naming the rule and the key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = {
    "paired": ("experiment", "outcome", "a", "b", "direction", "margin"),
    "beyond": ("experiment", "arch", "outcome", "against", "direction", "margin"),
    "level": ("experiment", "arch", "outcome", "reference", "direction", "margin"),
    "band_gain": ("experiment", "arch", "outcome", "bands", "against", "direction", "margin"),
    "permutation": ("experiment", "arch", "outcome", "bands"),
    "aa": ("experiment", "arch", "outcome", "margin", "expect"),
}
OPTIONAL = {"id", "kind", "source", "layer", "layers", "epoch", "planted", "plant", "controls",
            "magnitude", "requires", "min_n", "levels", "curve", "per_epoch", "expect", "equivalence"}  # fmt: skip
SETTINGS = ("alpha", "power", "min_units", "min_permutations", "min_ablation_copies", "simulations")


class RulesError(ValueError):
    """A malformed rule book (one line naming the rule and key)."""


@dataclass(frozen=True)
class Rule:
    """One pre-registered rule: ``spec`` holds its keys exactly as written in RULES.yaml."""

    id: str
    kind: str
    claim: str
    family: str
    spec: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.spec.get(key, default)

    @property
    def layers(self) -> list[str | None]:
        if "layers" in self.spec:
            return list(self.spec["layers"])
        return [self.spec.get("layer")]

    @property
    def controls(self) -> list[str]:
        return list(self.spec.get("controls", []))


@dataclass(frozen=True)
class InvalidTable:
    file: str
    sha256: str
    reason: str
    affects: str = ""


@dataclass
class RuleBook:
    """The settings (alpha, power, ...), the rules in order, and the tables known to be wrong."""

    alpha: float = 0.05
    power: float = 0.80
    min_units: int = 3
    min_permutations: int = 199
    min_ablation_copies: int = 10
    simulations: int = 2000
    rules: list[Rule] = field(default_factory=list)
    invalid: list[InvalidTable] = field(default_factory=list)
    claims: list[tuple[str, str]] = field(default_factory=list)  # (claim, family) in order

    def invalid_reason(self, root: Path, file: str, archs: tuple[str, ...]) -> str | None:
        """Why rows read from ``root/file`` that involve ``archs`` are invalid (None: valid)."""
        path = root / file
        for entry in self.invalid:
            if entry.file != file or not path.is_file():
                continue
            if entry.affects and not any(a.startswith(entry.affects) for a in archs):
                continue
            if hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256:
                return entry.reason
        return None


def load_rules(path: str | Path) -> RuleBook:
    """Read and check RULES.yaml; raises :class:`RulesError` with one line on a bad entry."""
    path = Path(path)
    if not path.is_file():
        raise RulesError(f"{path}: no rule book (experiments/RULES.yaml is the study's)")
    data = yaml.safe_load(path.read_text()) or {}
    book = RuleBook()
    for key in SETTINGS:
        if key in data:
            setattr(book, key, type(getattr(book, key))(data[key]))
    for i, entry in enumerate(data.get("invalid_tables", []) or []):
        missing = [k for k in ("file", "sha256", "reason") if k not in entry]
        if missing:
            raise RulesError(f"{path}: invalid_tables[{i}] lacks {', '.join(missing)}")
        book.invalid.append(InvalidTable(entry["file"], entry["sha256"], entry["reason"],
                                         entry.get("affects", "")))  # fmt: skip
    seen: set[str] = set()
    for claim in data.get("claims", []) or []:
        name, family = claim.get("claim"), claim.get("family")
        if not name or not family:
            raise RulesError(f"{path}: every claim needs 'claim' and 'family' (got {claim!r:.80})")
        book.claims.append((name, family))
        for spec in claim.get("rules", []) or []:
            book.rules.append(_rule(path, name, family, spec, seen))
    if not book.rules:
        raise RulesError(f"{path}: no rules under 'claims'")
    return book


def _rule(path: Path, claim: str, family: str, spec: dict, seen: set[str]) -> Rule:
    rid = spec.get("id")
    if not rid or rid in seen:
        raise RulesError(f"{path}: rule of claim {claim!r} needs a unique 'id' (got {rid!r})")
    seen.add(rid)
    kind = spec.get("kind")
    if kind not in KINDS:
        raise RulesError(
            f"{path}: rule {rid}: kind {kind!r} is not known; valid: {', '.join(KINDS)}"
        )
    missing = [k for k in KINDS[kind] if k not in spec]
    if missing:
        raise RulesError(f"{path}: rule {rid} ({kind}) lacks {', '.join(missing)}")
    unknown = sorted(set(spec) - set(KINDS[kind]) - OPTIONAL)
    if unknown:
        raise RulesError(f"{path}: rule {rid}: unknown key(s) {', '.join(unknown)}")
    if "direction" in spec and spec["direction"] not in (1, -1):
        raise RulesError(
            f"{path}: rule {rid}: direction must be 1 or -1, got {spec['direction']!r}"
        )
    if "margin" in spec and not (isinstance(spec["margin"], (int, float)) and spec["margin"] >= 0):
        raise RulesError(
            f"{path}: rule {rid}: margin must be a number >= 0, got {spec['margin']!r}"
        )
    return Rule(rid, kind, claim, family, dict(spec))
