"""Model names of a run: a member is one model, or with ``ensemble=K > 1`` each of its copies is.

Copy ``first + k`` of member ``m`` is named ``m.<first + k>`` (``pgnn.3``): the index is the copy's
place in the run seed's sequence of copies (its initialisation and, with ``data_order=per_copy``,
its batch order), so copy 3 has one name whichever job trained it. A plain run (one copy) names
its members themselves. Training (lit) and analysis both read the names from here.
"""

from __future__ import annotations

__all__ = ["model_names", "split_model_name"]


def model_names(
    members: list[str], copies: int = 1, first: int = 0
) -> dict[str, tuple[str, int | None]]:
    """``{model name: (member, copy index or None)}`` in cohort order (every copy of the first
    member, then the next member's): ``<member>.<first + k>`` for ``k < copies`` when
    ``copies > 1``, else the member names."""
    if copies <= 1:
        return {m: (m, None) for m in members}
    return {f"{m}.{first + k}": (m, first + k) for m in members for k in range(copies)}


def split_model_name(name: str) -> tuple[str, int | None]:
    """``"pgnn.3" -> ("pgnn", 3)``; a plain member name ``"pgnn" -> ("pgnn", None)``."""
    member, dot, copy = name.rpartition(".")
    if dot and member and copy.isdigit():
        return member, int(copy)
    return name, None
