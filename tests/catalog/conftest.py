import pytest


@pytest.fixture
def publisher(official, reference_data):
    """The signed-in official's organization, with the reference data (themes, licences) loaded. (test_discovery.py
    has its own, which also restarts its publication days.)"""
    return official.active_organization
