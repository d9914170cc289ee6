"""The Planner's multi-round rules (``simalloc.planner.rounds``) run inside a trainer's step, shared by the TRL and
verl adapters: a rule asks for rounds of rollouts, the adapter draws them, and at the end each trained prompt keeps
the rollouts the rule keeps (its first positives and first negatives, in the order drawn).

Rules by name (``TRAINER_RULES``): "reinforce_ada" (Reinforce-Ada, "balanced" retirement), "reinforce_ada_pos"
(Reinforce-Ada with ``choice="positive_focused"``, the simulator's credited arm ``reinforce_ada_pos``), and
"speed_rl" (SPEED-RL's screen-then-extend; ``target`` defaults to every prompt of the step). Options are the
rules' own parameters (``ReinforceAdaRounds``, ``SpeedRLRounds``).
"""

from __future__ import annotations

import numpy as np

from ..planner import make_rounds
from ..validation import check_choice

__all__ = ["TRAINER_RULES", "step_rounds", "run_rounds"]

#: rule name -> (the planner's rule, preset options)
TRAINER_RULES = {"reinforce_ada": ("reinforce_ada", {}),
                 "reinforce_ada_pos": ("reinforce_ada", {"choice": "positive_focused"}),
                 "speed_rl": ("speed_rl", {})}


def step_rounds(rule: str, n_prompts: int, budget: int, options=None):
    """The rule's ``Rounds`` over the step's prompts, identified by their position 0..n_prompts-1 (a prompt drawn
    twice in one batch is two groups).

    Parameters
    ----------
    rule : {"reinforce_ada", "reinforce_ada_pos", "speed_rl"}
        The rule.
    n_prompts : int
        Prompts in the step.
    budget : int
        Rollouts the step may spend (screening and discarded rollouts included).
    options : dict, optional
        The rule's parameters (they override the preset).

    Returns
    -------
    simalloc.planner.Rounds
    """
    check_choice(rule, "rule", TRAINER_RULES)
    base, preset = TRAINER_RULES[rule]
    opts = {**preset, **(options or {})}
    if base == "speed_rl":
        opts.setdefault("target", n_prompts)
    return make_rounds(base, np.arange(n_prompts), budget, **opts)


def run_rounds(rounds, draw):
    """Run ``rounds`` to the end with ``draw`` and return the trained groups and their kept rollouts.

    Parameters
    ----------
    rounds : simalloc.planner.Rounds
        From ``step_rounds``.
    draw : callable
        ``draw(prompts, counts) -> list of list of (item, success)``: counts[j] new rollouts of prompt
        prompts[j] (positions), each an opaque item and whether it succeeded.

    Returns
    -------
    groups : simalloc.planner.Groups
        The rule's trained groups (``ids`` are positions) and what the step spent.
    kept : list of list
        Per trained group, its kept items: the first ``kept_successes`` successes then the first
        ``kept_sizes - kept_successes`` failures, in the order drawn.
    """
    drawn: dict = {}
    while (request := rounds.next_round()) is not None:
        ids, n = request
        got = draw(ids.tolist(), n.tolist())
        rounds.report(ids, [sum(bool(ok) for _, ok in rows) for rows in got], n)
        for j, rows in zip(ids.tolist(), got):
            drawn.setdefault(j, []).extend(rows)
    groups = rounds.groups()
    kept = []
    for j, ks, kn in zip(groups.ids.tolist(), groups.kept_successes.tolist(), groups.kept_sizes.tolist()):
        rows = drawn.get(j, [])
        kept.append([x for x, ok in rows if ok][:ks] + [x for x, ok in rows if not ok][:kn - ks])
    return groups, kept
