"""Break 10: every bad command line is one line (exit 2, nothing trained), with a did-you-mean
for key typos and the GPU / probe-size checks before any data is loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONF_DIR, ROOT, compose_cfg
from xmsem.cli.overrides import check_key_overrides
from xmsem.config import ConfigError, validate


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("trainer.max_epoch=3", "trainer.max_epoch is not a config key"),
        ("optim.lrr=1e-3", "did you mean optim.lr?"),
        ("seed==3", "cannot parse the override 'seed==3'"),
        ("hydra.run.dir=/proc/no/such", "cannot create or write the output folder /proc/no/such"),
    ],
)
def test_command_line_problems_are_one_line(arg: str, expected: str) -> None:
    problem = check_key_overrides(["debug=tiny", arg], CONF_DIR)
    assert problem is not None and expected in problem and "\n" not in problem


def test_valid_command_lines_pass() -> None:
    assert check_key_overrides(["optim.lr=1e-2", "trainer.max_epochs=3", "-m"], CONF_DIR) is None
    assert check_key_overrides(["model=mlp", "model.mlp.hidden=[8]"], CONF_DIR) is None
    assert check_key_overrides(["+trainer.max_epoch=3", "seed=1,2"], CONF_DIR) is None
    # a key added on the command line may be set further by later overrides
    added = ["+model.extra={arch: mlp, hidden: [4]}", "model.extra.hidden=[8]"]
    assert check_key_overrides(added, CONF_DIR) is None
    assert "model.extra.hiden" in check_key_overrides(
        [*added[:1], "model.extra.hiden=[8]"], CONF_DIR
    )
    # keys of an experiment chosen on the command line exist
    assert (
        check_key_overrides(["+experiment=noise_robustness", "callbacks.noise.seed=3"], CONF_DIR)
        is None
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["+trainer.max_epoch=3"], "trainer.max_epoch is not a Trainer argument (did you mean 'max_epochs'?)"),
        (["seed=-1"], "seed=-1 is invalid"),
        (["callbacks.representations.probe_size=100000"], "exceeds the synthetic test split (240"),
        (["trainer=gpu"], "no CUDA GPU is visible"),
        (["on_divergence=maybe"], "on_divergence='maybe' is not known"),
    ],
)  # fmt: skip
def test_validation_is_one_line(tmp_path: Path, overrides, expected, monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = compose_cfg(["debug=tiny", *overrides], tmp_path)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_cli_exit_2_one_line_and_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for arg in ("optim.lrr=1e-3", "seed=-1"):
        proc = subprocess.run(
            [sys.executable, "-m", "xmsem.train", "debug=tiny", f"paths.output_dir={out}", arg],
            capture_output=True, text=True, cwd=ROOT, timeout=300,
        )  # fmt: skip
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("xmsem:"), (
            proc.stderr
        )
    # the config error's folder is gone (analysis would list it as an incomplete run)
    assert not list(out.rglob("status.json")) and not list(out.rglob(".hydra"))
