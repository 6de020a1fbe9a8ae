"""Issue 17, break 5: at 701789c an unterminated ``2,pgnn,mlp,h2,h2,linear_cka,0.0`` appended to
one run's ``metrics/alignment.csv`` was averaged in (the live mean moved from 0.381 to 0.286)
without a word. Tables are now read strictly: one line naming the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from xmsem.analysis.synthetic import write_sweep
from xmsem.analyze import main
from xmsem.snapshots.table import TableError, alignment_csv, read_rows, write_rows

ROW = {"epoch": 2, "member_a": "pgnn", "member_b": "mlp", "layer_a": "h2", "layer_b": "h2",
       "metric": "linear_cka", "value": 0.5}  # fmt: skip


@pytest.mark.parametrize(
    ("appended", "expected"),
    [
        ("2,pgnn,mlp,h2,h2,linear_cka,0.0", ":5: the last line is not terminated"),
        ("2,pgnn,mlp,h2,linear_cka,0.0\n", ":5: 6 fields where the header has 7"),
        ("2,pgnn,mlp,h2,h2,linear_cka,0.9,1\n", ":5: 8 fields where the header has 7"),
        ("2,pgnn,mlp,h2,h2,linear_cka,0.9\n", ":5: repeats the key of line 2 (epoch=2, "),
    ],
)
def test_bad_rows_are_one_line_naming_file_and_line(tmp_path: Path, appended, expected) -> None:
    write_rows(tmp_path, [ROW, dict(ROW, metric="rbf_cka"), dict(ROW, epoch=1)])
    assert len(read_rows(tmp_path)) == 3
    with alignment_csv(tmp_path).open("a") as handle:
        handle.write(appended)
    with pytest.raises(TableError) as err:
        read_rows(tmp_path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(alignment_csv(tmp_path)) + ":")
    assert expected in message


def test_analyze_refuses_a_torn_row_in_one_line(tmp_path: Path, capsys) -> None:
    sweep = write_sweep(tmp_path / "sweep", range(2))
    path = alignment_csv(sweep / "seed=1")
    with path.open("a") as handle:
        handle.write("2,pgnn,mlp,h2,h2,linear_cka,0.0")
    code = main([str(sweep), "--no-figures", "--bootstrap", "20", "--subspace-k", "4", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert f"{path}:" in err and "not terminated" in err
