"""Task specs: the one string (``LabConfig.task``, ``--set task=...``) that names the lab's task and its regimes.

Grammar (whitespace around tokens is ignored)::

    spec    := "turn3" | mixture
    mixture := term ("+" term)*
    term    := family [":" share]
    family  := "taught" | "narrowing" | "expanding" | "unreachable"
    share   := a number in (0, 1]

``turn3`` is the turn-3 task (``ChainTask``: one answer digit, levels taught / noisy / misconception), the default.
A mixture is the v2 task (``simalloc.lab.regimes.RegimeTask``: 3-digit answers) whose training pool and main eval
set hold the named prompt families in the stated shares: either every term has a share and the shares sum to 1,
or no term has one and the families are equally likely. A family may appear once. Examples: ``narrowing``,
``taught:0.5+expanding:0.5``, ``narrowing:0.5+expanding:0.3+unreachable:0.2``.

Anything else is refused with a one-line ValueError that names the offending token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["TaskSpec", "parse_task", "FAMILIES", "TURN3"]

#: the v2 task's prompt families, in column order (``simalloc.lab.regimes``)
FAMILIES = ("taught", "narrowing", "expanding", "unreachable")
#: the name of the turn-3 task
TURN3 = "turn3"


@dataclass(frozen=True)
class TaskSpec:
    """A parsed task spec.

    Attributes
    ----------
    name : str
        "turn3" or "v2".
    shares : tuple of float, shape (len(FAMILIES),)
        The v2 families' shares (summing to 1); () for turn3.
    text : str
        The canonical spelling (``str(spec)``): "turn3", or the families with their shares in ``FAMILIES`` order.
    """

    name: str
    shares: tuple = ()

    @property
    def text(self) -> str:
        """The canonical spelling (the cache keys and tables use it)."""
        if self.name == TURN3:
            return TURN3
        return "+".join(f"{f}:{s:.6g}" for f, s in zip(FAMILIES, self.shares) if s > 0)

    def __str__(self) -> str:
        return self.text


def _bad(spec: str, token: str, why: str) -> ValueError:
    return ValueError(f"task: {why} {token!r} in {spec!r}; grammar: 'turn3' or family[:share]+... with family in "
                      f"{', '.join(FAMILIES)} and shares in (0, 1] summing to 1 (or none)")


def parse_task(spec) -> TaskSpec:
    """Parse a task spec (module docstring).

    Parameters
    ----------
    spec : str or TaskSpec
        The spec.

    Returns
    -------
    TaskSpec

    Raises
    ------
    ValueError
        One line naming the offending token.

    Examples
    --------
    >>> parse_task("narrowing:0.5+expanding:0.3+unreachable:0.2").shares
    (0.0, 0.5, 0.3, 0.2)
    >>> parse_task("taught+expanding").text
    'taught:0.5+expanding:0.5'
    """
    if isinstance(spec, TaskSpec):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"task: a non-empty spec string ('turn3' or family[:share]+...), got {spec!r}")
    text = spec.strip()
    if text == TURN3:
        return TaskSpec(TURN3)
    shares: dict[str, float | None] = {}
    for term in text.split("+"):
        family, colon, share = (t.strip() for t in term.partition(":"))
        if family not in FAMILIES:
            raise _bad(text, family or term, "unknown family")
        if family in shares:
            raise _bad(text, family, "repeated family")
        if colon:
            try:
                value = float(share)
            except ValueError:
                raise _bad(text, share, "unreadable share") from None
            if not (math.isfinite(value) and 0 < value <= 1):
                raise _bad(text, share, "share outside (0, 1]")
            shares[family] = value
        else:
            shares[family] = None
    given = [v for v in shares.values() if v is not None]
    if given and len(given) != len(shares):
        missing = next(f for f, v in shares.items() if v is None)
        raise _bad(text, missing, "share missing for")
    if given and abs(sum(given) - 1.0) > 1e-9:  # shares are written with a few digits: 1e-9 is exact enough
        raise _bad(text, f"{sum(given):g}", "shares must sum to 1, got")
    equal = 1.0 / len(shares)
    return TaskSpec("v2", tuple(float(shares[f] if shares[f] is not None else equal) if f in shares else 0.0
                                for f in FAMILIES))
