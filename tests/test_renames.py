"""Names renamed in 0.1.0 still work where they were public, and say what they became."""

import warnings

import pytest

from simalloc.sim.runner import make_args
from simalloc.train import parse_arm


def test_set_eps_reads_as_advantage_eps_with_a_warning():
    import studies.hora_vs_grpo as study

    with pytest.warns(DeprecationWarning, match="eps: renamed advantage_eps"):
        args = make_args(study, quick=True, overrides={"eps": "0.001"})
    assert args.train.advantage_eps == 0.001
    # the new name: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_args(study, quick=True, overrides={"advantage_eps": "0.002"}).train.advantage_eps == 0.002


def test_advise_objectives_alias():
    import simalloc.advise as advise

    with pytest.warns(DeprecationWarning, match="ADVICE_OBJECTIVES"):
        assert advise.OBJECTIVES is advise.ADVICE_OBJECTIVES
    with pytest.raises(AttributeError):
        advise.NO_SUCH_NAME  # noqa: B018


def test_dapo_training_arm_says_what_it_means_now():
    with pytest.warns(FutureWarning, match="dapo_dynamic"):
        arm = parse_arm("dapo")
    assert arm.allocator == "dapo" and not arm.dynamic
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_arm("dapo_dynamic").dynamic
