"""Issue 17, breaks 7-8: each case is one line (or a working run), never a traceback or a stray
folder. At 701789c: a quoted ``hydra.run.dir`` made a folder named with the quotes; 300-character
``name=`` gave ENAMETOOLONG in 4 tracebacks; ``optim.lr=nan`` failed in training (38 lines);
``optim.lr=abc`` suggested "did you mean 'lr'?"; ``data.val_size=100000`` was 19 lines; an
``nn.LSTM`` layer failed with "'tuple' object has no attribute 'flatten'"; compare ``--out`` on a
file or a symlink loop was 17-52 lines; a spec error found after the lock left ``.hydra`` and
``.lock`` behind; ``logger=wandb`` left staging files in the user's home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.conftest import CONF_DIR, compose_cfg
from tests.reliability._runs import FAST, train
from xmsem.cli.overrides import check_key_overrides
from xmsem.config import ConfigError, validate


class SeqNet(nn.Module):
    """An LSTM member: the layer's output is a tuple (output, (h, c))."""

    def __init__(self, input_dim: int = 16, num_classes: int = 4) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 8, batch_first=True)
        self.head = nn.Linear(8 * (input_dim // 4), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x.view(x.shape[0], -1, 4))
        return self.head(out.flatten(1))


def test_quoted_path_with_spaces_passes_and_creates_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "sp ace" / "ünï" / "run"
    assert check_key_overrides([f'hydra.run.dir="{target}"'], CONF_DIR) is None
    assert sorted(os.listdir(tmp_path)) == []  # no folder named with quotes, nothing created
    problem = check_key_overrides([f"hydra.run.dir={tmp_path}/sp", "ace/ünï/run"], CONF_DIR)
    assert "a path with spaces must be quoted" in problem and "\n" not in problem


def test_long_name_is_one_line_before_any_folder() -> None:
    problem = check_key_overrides(["name=" + "x" * 300], CONF_DIR)
    assert "at most 100 bytes" in problem and "\n" not in problem


@pytest.mark.parametrize(
    ("override", "expected", "absent"),
    [
        ("optim.lr=nan", "optim.lr=nan is invalid: must be a positive float (finite", ""),
        ("optim.lr=abc", "optim.lr: Value 'abc' of type 'str' could not be converted", "did you"),
        ("optim.weight_decay=inf", "optim.weight_decay=inf is invalid", ""),
        ("name=" + "y" * 120, "at most 100 bytes", ""),
    ],
)
def test_bad_values_are_one_line(tmp_path: Path, override, expected, absent) -> None:
    cfg = compose_cfg([*FAST, override], tmp_path)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    message = str(err.value)
    assert expected in message and "\n" not in message
    assert not absent or absent not in message


def test_val_size_beyond_the_data_is_one_line(tmp_path: Path) -> None:
    from xmsem.train import DataProblem, _one_line_failure

    with pytest.raises(DataProblem) as err:
        train(tmp_path / "run", ["data.val_size=100000"])
    assert (
        _one_line_failure(err.value) == "data.val_size=100000 must be in [1, 600) for this dataset"
    )


def test_spec_error_after_the_lock_leaves_no_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    spec = "+model.seq={_target_: tests.reliability.test_one_line_cases.SeqNet, layers: [nope]}"
    with pytest.raises(ConfigError, match="nope"):
        train(run_dir, [spec])
    assert not run_dir.exists()  # no .hydra, no .lock, no folder


def test_lstm_layer_takes_the_first_tensor_of_its_tuple() -> None:
    from xmsem.models import build_model

    net = build_model({"_target_": "tests.reliability.test_one_line_cases.SeqNet",
                       "layers": ["lstm"]}, 16, 4)  # fmt: skip
    x = torch.randn(5, 16)
    logits, hidden = net(x, return_hidden=True)
    reference, _ = net.net.lstm(x.view(5, -1, 4))  # the LSTM's output sequence
    assert logits.shape == (5, 4)
    torch.testing.assert_close(hidden["lstm"], reference.flatten(1))


@pytest.mark.parametrize("kind", ["file", "loop", "readonly"])
def test_compare_out_problems_are_one_line(tmp_path: Path, capsys, kind) -> None:
    from xmsem.compare import main

    out = tmp_path / "out"
    if kind == "file":
        out.write_text("not a folder")
    elif kind == "loop":
        out.symlink_to(tmp_path / "out")
    else:
        locked = tmp_path / "ro"
        locked.mkdir()
        locked.chmod(0o500)
        out = locked / "out"
    code = main(["a", "b", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    if kind == "readonly" and os.geteuid() == 0 and os.access(out.parent, os.W_OK):
        assert "no such file" in err  # root writes anywhere: the next problem is reported
    else:
        assert "--out" in err or "output folder" in err
    assert code == 2 and "\n" not in err and "Traceback" not in err


def test_wandb_files_stay_in_the_run_folder(tmp_path: Path, monkeypatch) -> None:
    from xmsem.lit import loggers

    monkeypatch.setattr(loggers, "_USER_WANDB_DIRS", set())
    monkeypatch.delenv("WANDB_DATA_DIR", raising=False)
    monkeypatch.delenv("WANDB_CACHE_DIR", raising=False)
    loggers.keep_wandb_files_in(tmp_path)
    assert os.environ["WANDB_DATA_DIR"] == str(tmp_path.resolve() / "wandb" / "data")
    assert os.environ["WANDB_CACHE_DIR"] == str(tmp_path.resolve() / "wandb" / "cache")
