"""Random number handling: every stochastic call takes ``rng=`` (SciPy SPEC 7)."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_generator", "as_seed_sequence"]


def as_generator(rng=None) -> np.random.Generator:
    """Normalize ``rng`` (None | int | SeedSequence | BitGenerator | Generator) to a ``numpy.random.Generator``.

    A Generator is returned as is (draws advance it), a BitGenerator is wrapped (its state advances); anything
    else seeds a fresh PCG64 (SPEC 7).

    Parameters
    ----------
    rng : None, int, SeedSequence, BitGenerator or Generator
        The random state (SciPy SPEC 7); an int must be >= 0.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    ValueError, TypeError
        "rng: ..." for a negative seed or a type that is not a random state.

    References
    ----------
    SciPy SPEC 7, "Seeding pseudo-random number generation", https://scientific-python.org/specs/spec-0007/
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.BitGenerator):
        return np.random.Generator(rng)
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng: an integer seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng: expected None, a non-negative int, a numpy SeedSequence, BitGenerator or Generator, "
        f"got {type(rng).__name__}"
    )


def as_seed_sequence(rng=None) -> np.random.SeedSequence:
    """Normalize ``rng`` to a ``SeedSequence`` for code that splits it into independent streams (SPEC 7 inputs).

    An int seeds ``SeedSequence(int)`` and a SeedSequence is used as is, so the same value gives the same streams
    (common random numbers across arms); a Generator or BitGenerator yields a fresh child of its own seed
    sequence (each call a new one); None gives fresh OS entropy.

    Parameters
    ----------
    rng : None, int, SeedSequence, BitGenerator or Generator
        The random state (SciPy SPEC 7); an int must be >= 0.

    Returns
    -------
    numpy.random.SeedSequence

    Raises
    ------
    ValueError, TypeError
        "rng: ..." for a negative seed or a type that is not a random state.
    """
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        rng = rng.bit_generator
    if isinstance(rng, np.random.BitGenerator):
        return rng.seed_seq.spawn(1)[0]
    if rng is None:
        return np.random.SeedSequence()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng: an integer seed must be >= 0, got {rng}")
        return np.random.SeedSequence(int(rng))
    raise TypeError(
        f"rng: expected None, a non-negative int, a numpy SeedSequence, BitGenerator or Generator, "
        f"got {type(rng).__name__}"
    )
