"""The tutorials' library examples run as written (the ```python blocks of docs/tutorials/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[2] / "docs" / "tutorials"


def examples(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (TUTORIALS / page).read_text(), flags=re.S)


def test_the_tutorials_have_the_three_examples() -> None:
    (compare,) = examples("compare.md")
    callback, torchmetrics = examples("callback.md")
    assert "compare_models" in compare and "AlignmentCallback" in callback
    assert "LinearCKA" in torchmetrics


@pytest.mark.parametrize(
    "page,index",
    [("compare.md", 0), ("callback.md", 0), ("callback.md", 1)],
    ids=["compare_models", "callback", "torchmetrics"],
)
def test_tutorial_example_runs(page: str, index: int, tmp_path, monkeypatch) -> None:
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    scope: dict = {"__name__": "tutorial_example"}
    exec(compile(examples(page)[index], f"{page} example {index}", "exec"), scope)  # noqa: S102
    plt.close("all")
    if page == "compare.md":  # the result is what the text says it is
        assert scope["result"].matrix("linear_cka").shape == (3, 3)
    if page == "callback.md" and index == 0:
        assert scope["align"].done == [0, 1, 2, 3]
