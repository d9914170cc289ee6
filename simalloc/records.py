"""Named results: the base of the dataclasses public functions return when they return several values.

A ``Record`` reads as a dataclass (``res.votes``) and, for code written against the older dictionaries, as a
read-only mapping (``res["votes"]``, ``"tokens" in res``, ``res.keys()``); fields left as None are absent from the
mapping. Its repr shows scalars and summarises arrays (shape and mean) so that a result prints readably.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

__all__ = ["Record"]


class Record:
    """Mixin for result dataclasses: mapping-style reads and a readable repr (module docstring).

    Notes
    -----
    Subclass it together with ``@dataclass``; ``RuleRun``, ``VoteRead``, ``PolicyValue``,
    ``StoppingSolution`` and ``TailFit`` are built on it.
    """

    def keys(self) -> list[str]:
        """The names of the fields that are set (not None)."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def __getitem__(self, key: str):
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key) -> bool:
        return key in self.keys()

    def __repr__(self) -> str:
        parts = []
        for name in self.keys():
            v = getattr(self, name)
            if isinstance(v, np.ndarray) and v.size > 1:
                mean = f", mean {v.mean():.4g}" if v.dtype.kind in "biuf" else ""
                parts.append(f"{name}=<array {v.shape}{mean}>")
            elif isinstance(v, (float, np.floating)):
                parts.append(f"{name}={float(v):.6g}")
            else:
                parts.append(f"{name}={v!r}")
        return f"{type(self).__name__}({', '.join(parts)})"
