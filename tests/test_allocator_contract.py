"""Every registered allocator against the contract suite (simalloc.testing.contract)."""

import pytest

from simalloc import ALLOCATORS, allocate
from simalloc.testing.contract import CONTRACT


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", sorted(ALLOCATORS))
def test_contract(name, check):
    check(name)


def test_unknown_allocator_lists_valid_names():
    with pytest.raises(ValueError, match="unknown value 'hroa'.*hard_first.*hora.*uniform"):
        allocate("hroa", [0, 1], 8, 4)


def test_registry_has_the_issue_allocators():
    assert {"uniform", "hora", "plugin", "hard_first", "informative", "optimal"} <= set(ALLOCATORS)
