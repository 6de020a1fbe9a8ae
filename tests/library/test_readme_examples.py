"""The README's library examples run as written (code blocks of its section "In your own code")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## In your own code"


def examples() -> list[str]:
    text = README.read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


def test_the_section_has_the_three_examples() -> None:
    blocks = examples()
    assert len(blocks) == 3
    assert "compare_models" in blocks[0] and "AlignmentCallback" in blocks[1]
    assert "LinearCKA" in blocks[2]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["compare_models", "callback", "torchmetrics"])
def test_readme_example_runs(index: int, tmp_path, monkeypatch) -> None:
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    scope: dict = {"__name__": "readme_example"}
    exec(compile(examples()[index], f"README example {index}", "exec"), scope)  # noqa: S102
    plt.close("all")
    if index == 0:  # the result is what the text says it is
        assert scope["result"].matrix("linear_cka").shape == (3, 3)
    if index == 1:
        assert scope["align"].done == [0, 1, 2, 3]
