#!/usr/bin/env bash
# Analyse one finished sweep and copy its report, tables and PNG figures into experiments/<name>/.
#   experiments/collect.sh <name> [<sweep dir>]      (default sweep dir: outputs/sweeps/<name>)
#   experiments/collect.sh --rebuild <name>          (no sweep: summary/paired/nonfinite.csv from
#                                                     the committed values.csv + cross_run.csv)
#   experiments/collect.sh --figures <name>          (no sweep: figures/ redrawn from summary.csv)
# then `python -m xmsem.analysis.study experiments/` rewrites experiments/STUDY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--rebuild" ]; then
  python -m xmsem.analysis.values "experiments/$2"
  python -m xmsem.analysis.study experiments/ --preamble experiments/STUDY_notes.md
  exit 0
fi
if [ "${1:-}" = "--figures" ]; then
  exec python -m xmsem.analysis.redraw "experiments/$2"
fi
name=$1
sweep=${2:-outputs/sweeps/$name}
python -m xmsem.analyze "$sweep" --out "$sweep/analysis" -q
dest=experiments/$name
mkdir -p "$dest"
for f in report.md summary.csv paired.csv nonfinite.csv cross_run.csv values.csv; do
  cp "$sweep/analysis/$f" "$dest/"
done
rm -rf "$dest/figures"
mkdir -p "$dest/figures"
find "$sweep/analysis/figures" -name '*.png' -exec cp {} "$dest/figures/" \;
# every interval over <= 10 seeds at least as wide as the t-interval (exit 1 and the rows if not)
python -m xmsem.cli.check_intervals "$dest/summary.csv"
