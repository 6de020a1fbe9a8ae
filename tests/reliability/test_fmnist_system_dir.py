"""Break 11: the Fashion-MNIST system copy can be pointed elsewhere (XMSEM_FMNIST_DIR or
data.system_dir); at 8f0184a only /usr/share/datasets/fashion-mnist was looked at."""

from __future__ import annotations

from pathlib import Path

import pytest

from xmsem.data import fmnist


def _fake_copy(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in fmnist.IDX_FILES:
        (folder / f"{name}.gz").write_bytes(b"")
    return folder


def test_env_var_and_config_key_choose_the_system_copy(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(fmnist, "SYSTEM_FMNIST_DIR", tmp_path / "absent")
    env_copy, key_copy = _fake_copy(tmp_path / "env"), _fake_copy(tmp_path / "key")
    assert fmnist.find_fmnist_files(None) is None
    monkeypatch.setenv(fmnist.SYSTEM_DIR_ENV, str(env_copy))
    files = fmnist.find_fmnist_files(None)
    assert files is not None and {p.parent for p in files.values()} == {env_copy}
    files = fmnist.find_fmnist_files(None, key_copy)  # the config key wins over the env var
    assert {p.parent for p in files.values()} == {key_copy}


def test_missing_system_copy_error_names_the_chosen_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(fmnist.SYSTEM_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as err:
        fmnist.load_fmnist(None)
    message = str(err.value)
    assert f"no system copy in {tmp_path / 'nowhere'}" in message and "XMSEM_FMNIST_DIR" in message
    assert "\n" not in message
