"""Every registered operation is mapped by every plugin of its family, or listed there as
decomposed: adding a gate to :mod:`qphys.ops` without teaching the plugins fails here."""

from __future__ import annotations

import pytest
import qphys_pennylane.convert as pl_convert
import qphys_perceval.convert as perceval_convert
import qphys_qiskit.convert as qiskit_convert
import qphys_strawberryfields.convert as sf_convert

from qphys.ops import OpSpec, registered_names
from qphys.ops import spec as spec_module

PLUGINS = {
    "qiskit": ("qubit", lambda: set(qiskit_convert.GATE_METHODS) | {"unitary", "state_prep"}, qiskit_convert.DECOMPOSED),
    "pennylane": ("qubit", lambda: set(pl_convert.QPHYS_TO_PL), pl_convert.DECOMPOSED),
    "strawberryfields": ("cv", lambda: set(sf_convert.GATES), sf_convert.DECOMPOSED),
    "perceval": ("linear_optics", lambda: set(perceval_convert.GATES), perceval_convert.DECOMPOSED),
}


def unmapped(plugin: str) -> list[str]:
    family, mapped, decomposed = PLUGINS[plugin]
    return sorted(set(registered_names(family)) - mapped() - set(decomposed))


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_every_registered_operation_is_mapped_or_decomposed(plugin):
    assert unmapped(plugin) == [], f"{plugin} has no mapping for these registered operations"


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_decomposed_lists_only_registered_unmapped_names(plugin):
    family, mapped, decomposed = PLUGINS[plugin]
    assert set(decomposed) <= set(registered_names(family))
    assert not set(decomposed) & mapped()


def test_a_new_gate_without_mappings_is_reported(monkeypatch):
    for family, name in (("qubit", "fancy_gate"), ("cv", "fancy_cv_gate"), ("linear_optics", "fancy_lo_gate")):
        monkeypatch.setitem(spec_module._REGISTRY, name, OpSpec(name, family, 1, 0, wire_names=("wire",)))
    assert unmapped("qiskit") == ["fancy_gate"] and unmapped("pennylane") == ["fancy_gate"]
    assert unmapped("strawberryfields") == ["fancy_cv_gate"]
    assert unmapped("perceval") == ["fancy_lo_gate"]


def test_plugin_capabilities_follow_the_registry():
    assert qiskit_convert.SUPPORTED_OPS == set(registered_names("qubit"))
