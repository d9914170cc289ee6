"""Group advantages against hand-computed groups, including size-1 and all-equal groups."""

import math

import numpy as np
import pytest

from simalloc.estimators.advantages import LOSS_CODES, binary_advantage_mass, group_advantages


def test_hand_computed_groups():
    rewards = [1, 0, 0, 1, 1, 7, 2, 2, 2, 0, 1, 0]
    sizes = [5, 1, 3, 3]
    # group 1: mean 0.6, Bessel std sqrt(0.3); size-1 group -> 0; all-equal -> 0; group 4: mean 1/3
    std1, std4 = math.sqrt(0.3), math.sqrt(1 / 3)
    grpo = group_advantages(rewards, sizes, "grpo", eps=1e-4)
    want = [(r - 0.6) / (std1 + 1e-4) for r in (1, 0, 0, 1, 1)] + [0.0, 0, 0, 0] + [
        (r - 1 / 3) / (std4 + 1e-4) for r in (0, 1, 0)]
    np.testing.assert_allclose(grpo, want, rtol=1e-13)
    dr = group_advantages(rewards, sizes, "dr_grpo")
    np.testing.assert_allclose(dr, [0.4, -0.6, -0.6, 0.4, 0.4, 0, 0, 0, 0, -1 / 3, 2 / 3, -1 / 3], rtol=1e-13)
    rloo = group_advantages(rewards, sizes, "rloo")
    np.testing.assert_allclose(rloo, [0.5, -0.75, -0.75, 0.5, 0.5, 0, 0, 0, 0, -0.5, 1.0, -0.5], rtol=1e-13)


def test_size_one_group_never_returns_the_raw_reward():
    for loss in LOSS_CODES:
        assert group_advantages([5.0], [1], loss).tolist() == [0.0]


@pytest.mark.parametrize("loss", list(LOSS_CODES))
def test_binary_mass_equals_sum_of_successful_advantages(loss):
    for n in range(1, 12):
        for s in range(0, n + 1):
            adv = group_advantages([1.0] * s + [0.0] * (n - s), [n], loss, eps=1e-4)
            mass = binary_advantage_mass(s, n, LOSS_CODES[loss], 1e-4)
            assert mass == pytest.approx(adv[:s].sum(), abs=1e-12)
            assert adv.sum() == pytest.approx(0.0, abs=1e-12)  # every loss's advantages sum to zero


@pytest.mark.parametrize(
    "args,word",
    [(([1.0, 2.0], [1]), "group_sizes"), (([1.0, np.nan], [2]), "rewards"), (([1.0], [0]), "group_sizes"),
     (([1.0], [1], "ppo"), "loss_type")],
)
def test_bad_input(args, word):
    with pytest.raises(ValueError, match=word):
        group_advantages(*args)
