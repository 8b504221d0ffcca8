"""Fixtures shared by the test files."""

import pytest

import coord_env
from coord_env import registry


@pytest.fixture
def clean_registry():
    """Whatever a test registers is gone afterwards."""
    registered = coord_env.registered_policies()
    before = dict(registered)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)
