"""The examples in the physics docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["nvsense.physics", "nvsense.physics.hamiltonian", "nvsense.physics.inversion",
           "nvsense.physics.temperature", "nvsense.physics.sensitivity"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
