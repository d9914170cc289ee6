"""Live-mode tasks and verifiers (no model needed), and TRL's advantage formula."""

import json

import numpy as np
import pytest

from simalloc.live.tasks import answers_equivalent, arithmetic_tasks, extract_answer, load_jsonl, verify

TRICKY = [
    ("The answer is 12.", "12", True),
    ("So the result is \\boxed{\\frac{1}{2}}.", "0.5", True),
    ("Answer: 1,234", "1234", True),
    ("Answer: 50%", "0.5", True),
    ("Answer: 2(x+1)", "2x+2", True),
    ("Answer: $3.50", "3.5", True),
    ("7 + 5 is 12.", "12", True),
    ("\\boxed{\\dfrac{3}{4}}", "3/4", True),
    ("Answer: -7", "-7", True),
    ("Answer: 11", "12", False),
    ("I think it's 12 or 13. Answer: 13", "12", False),
    ("no number here", "12", False),
    ("\\boxed{x^2 - 1}", "(x-1)(x+1)", True),
    ("Answer: 0.333", "1/3", False),
]


@pytest.mark.parametrize("completion,reference,ok", TRICKY)
def test_verifier_on_tricky_answers(completion, reference, ok):
    assert verify(completion, reference) == float(ok)


def test_extraction_order_and_equivalence():
    assert extract_answer("first 3, then \\boxed{5}, finally 7") == "5"
    assert extract_answer("Answer: 4\nAnswer: 9") == "9"
    assert answers_equivalent(None, "1") is False


def test_arithmetic_tasks_are_graded_and_correct():
    tasks = arithmetic_tasks(50, 1)
    assert {t.difficulty for t in tasks} == {0, 1, 2, 3, 4}
    for t in tasks:
        if t.difficulty <= 3:
            expr = t.question.replace("What is ", "").replace("?", "").replace("times", "*")
            assert eval(expr) == int(t.answer)  # noqa: S307 - our own generated arithmetic
        assert "Answer:" in t.prompt()


def test_jsonl_loader(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join([json.dumps({"question": "2+2?", "answer": "work #### 4"}),
                               json.dumps({"problem": "half?", "solution": "so \\boxed{\\frac12}"})]))
    tasks = load_jsonl(path)
    assert [t.answer for t in tasks] == ["4", "\\frac12"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "no answer"}) + "\n")
    with pytest.raises(ValueError, match="line 1: no answer"):
        load_jsonl(bad)
    with pytest.raises(ValueError, match="no such JSONL"):
        load_jsonl(tmp_path / "missing.jsonl")
    bad.write_text("{not json\n")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_jsonl(bad)


def test_advantages_equal_trl_formula_under_uniform_groups():
    torch = pytest.importorskip("torch")  # noqa: F841
    from simalloc.live.grpo import grpo_advantages, trl_advantages

    rng = np.random.default_rng(0)
    rewards = rng.integers(0, 2, size=(6, 8)).astype(float)
    rewards[0] = 1.0  # a group with no spread: TRL gives 0 / (0 + 1e-4) = 0 as well
    ours = np.concatenate(grpo_advantages(rewards.tolist(), "grpo", "group"))
    np.testing.assert_allclose(ours, trl_advantages(rewards.ravel(), 8, True), atol=1e-12)
    ours = np.concatenate(grpo_advantages(rewards.tolist(), "grpo", "none"))
    np.testing.assert_allclose(ours, trl_advantages(rewards.ravel(), 8, False), atol=1e-12)
    cont = rng.normal(size=(4, 5))
    np.testing.assert_allclose(np.concatenate(grpo_advantages(cont.tolist(), "grpo")), trl_advantages(cont.ravel(), 5),
                               atol=1e-12)
    # TRL decouples scaling from the loss type: dr_grpo with the default "group" scaling is std-normalised too
    for loss in ("grpo", "dr_grpo"):
        for scale in ("group", "batch", "none"):
            ours = np.concatenate(grpo_advantages(cont.tolist(), loss, scale))
            np.testing.assert_allclose(ours, trl_advantages(cont.ravel(), 5, scale), atol=1e-12)
    with pytest.raises(ValueError, match="scale_rewards: unknown 'std'"):
        grpo_advantages(cont.tolist(), "grpo", "std")


def test_aggregation_weights():
    """rollout: every completion 1/N; prompt: 1/(n_prompts G_i); equal when the groups are equal."""
    from simalloc.live.grpo import GRPOConfig, completion_weights

    assert GRPOConfig().aggregation == "rollout" and GRPOConfig().scale_rewards == "group"
    np.testing.assert_allclose(completion_weights([1, 3], "rollout"), [0.25] * 4)
    np.testing.assert_allclose(completion_weights([1, 3], "prompt"), [0.5, 1 / 6, 1 / 6, 1 / 6])
    np.testing.assert_allclose(completion_weights([2, 2], "prompt"), completion_weights([2, 2], "rollout"))
    assert sum(completion_weights([0, 5, 2], "prompt")) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="aggregation: unknown 'token'"):
        GRPOConfig(aggregation="token").validate()


def test_variable_groups_and_size_one():
    from simalloc.live.grpo import grpo_advantages

    adv = grpo_advantages([[1.0], [1.0, 0.0, 0.0], []], "dr_grpo", "none")
    assert adv[0].tolist() == [0.0] and np.allclose(adv[1], [2 / 3, -1 / 3, -1 / 3]) and adv[2].size == 0


def test_normal_answers_still_verified():
    assert verify("so \\boxed{\\frac{3}{4}}", "0.75") == 1.0
    assert verify("Natalia sold 48 clips... #### 72\nAnswer: 72", "72") == 1.0
    assert verify("Answer: 2(x + 1)", "2x+2") == 1.0
    assert verify("Answer: x^2 - 1", "(x+1)(x-1)") == 1.0
    assert verify("Answer: x^2 + 1", "(x+1)(x-1)") == 0.0
    assert verify("Answer: \\sqrt{8}", "2\\sqrt{2}") == 1.0
