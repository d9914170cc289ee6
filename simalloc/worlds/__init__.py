"""Synthetic truth: difficulty worlds (pass rates); more families (votes, tails, directions) join here."""

from .difficulty import (
    WORLD_KINDS,
    BetaMixtureWorld,
    BetaWorld,
    DifficultyWorld,
    EmpiricalWorld,
    LogitNormalWorld,
    fit_beta_binomial,
    make_world,
)

__all__ = [
    "WORLD_KINDS",
    "BetaMixtureWorld",
    "BetaWorld",
    "DifficultyWorld",
    "EmpiricalWorld",
    "LogitNormalWorld",
    "fit_beta_binomial",
    "make_world",
]
