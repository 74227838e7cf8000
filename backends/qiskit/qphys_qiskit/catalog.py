"""Names of the ``ibm.*`` family without importing Qiskit (entry point ``qphys.device_names``).

``qphys devices`` lists devices from metadata only; importing ``qiskit_ibm_runtime`` to enumerate
its fake backends costs seconds. The fake backends ship one ``conf_<name>.json`` per backend in
``qiskit_ibm_runtime/fake_provider/backends/<name>/``, which the distribution's file list names
without importing anything. ``tests/backends/qiskit/test_ibm.py`` checks that these names are
those of :meth:`qphys_qiskit.ibm.IBMFamily.available_names` (the classes themselves).

Examples:
    >>> "ibm.fake_manila" in ibm_device_names()
    True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, files

_BACKENDS = ("qiskit_ibm_runtime", "fake_provider", "backends")


def ibm_device_names() -> list[str]:
    """``ibm.fake_<name>`` for every fake backend installed with qiskit-ibm-runtime (none if absent)."""
    try:
        paths = files("qiskit-ibm-runtime") or []
    except PackageNotFoundError:
        return []
    names = {
        f"ibm.fake_{p.parts[3]}"
        for p in paths
        if len(p.parts) == 5 and p.parts[:3] == _BACKENDS and p.name == f"conf_{p.parts[3]}.json"
    }
    return sorted(names)
