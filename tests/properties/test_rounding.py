import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simalloc.allocators.rounding import largest_remainder


@given(
    weights=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=20),
    total=st.integers(0, 500),
    data=st.data(),
)
def test_largest_remainder_conserves_and_respects_caps(weights, total, data):
    w = np.array(weights)
    use_cap = data.draw(st.booleans())
    cap = None
    if use_cap:
        cap = np.array(data.draw(st.lists(st.integers(0, total + 1), min_size=w.size, max_size=w.size)))
        if cap.sum() < total:
            cap[0] += total - cap.sum()
    out = largest_remainder(w, total, cap)
    assert out.dtype == np.int64 and out.sum() == total and out.min() >= 0
    if cap is not None:
        assert np.all(out <= cap)
    elif w.sum() > 0:
        quota = total * w / w.sum()
        assert np.all(np.abs(out - quota) < 1 + 1e-9)  # Hamilton's method: within one of the quota


def test_dora_fig2_example_conserves_the_budget():
    # plain rounding of 64 * (1/6, 1/6, 1/6, 1/2) gives 11 + 11 + 11 + 32 = 65
    assert largest_remainder([1 / 6, 1 / 6, 1 / 6, 1 / 2], 64).tolist() == [11, 11, 10, 32]
