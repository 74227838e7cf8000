"""The docstring examples of qphys.nqs run (and pass) as tests."""

import doctest
import importlib
import pkgutil

import pytest

import qphys.nqs

MODULES = sorted(m.name for m in pkgutil.iter_modules(qphys.nqs.__path__, "qphys.nqs.")) + ["qphys.nqs"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
