"""Device discovery through the ``qphys.devices`` entry-point group.

An entry point named exactly (``torch.qubit``) maps to a Device class; one named with a
trailing ``*`` (``ibm.*``, ``pennylane.*``) maps to a :class:`DeviceFamily`: a factory that
serves a whole family of names.

Listing (:func:`device_listing`, ``qphys devices``) reads entry-point metadata only: it imports no
plugin module, so no plugin framework (Qiskit, PennyLane, Strawberry Fields, Perceval) is loaded to
print names. A family may name its devices cheaply through a second entry point of the same name in
the group ``qphys.device_names`` (a function returning the names without importing its framework);
otherwise the listing shows the family's pattern (``ibm.*``). :func:`devices` loads every device
and reads its capabilities.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from qphys.devices.base import Capabilities, Device
from qphys.errors import DeviceNotFoundError, DeviceOptionError

GROUP = "qphys.devices"
#: Entry-point group of cheap name listings for families: same name as the family (``ibm.*``), an
#: object that returns the family's device names without importing the family's framework.
NAMES_GROUP = "qphys.device_names"
#: The distribution whose devices' capabilities the listing reads (its modules are qphys itself).
CORE_DISTRIBUTION = "qphys"

#: Which distribution provides a family of names, for helpful errors.
PROVIDERS = {
    "aer.": "qphys-qiskit (pip install -e backends/qiskit)",
    "ibm.": "qphys-qiskit (pip install -e backends/qiskit)",
    "sf.": "qphys-strawberryfields (pip install -e backends/strawberryfields)",
    "pennylane.": "qphys-pennylane (pip install -e backends/pennylane)",
    "perceval.": "qphys-perceval (pip install -e backends/perceval)",
    "quandela.": "qphys-perceval (pip install -e backends/perceval)",
    "scaleway.": "qphys-perceval (pip install -e backends/perceval)",
}


@runtime_checkable
class DeviceFamily(Protocol):
    """What a ``*`` entry point (``ibm.*``, ``pennylane.*``) provides: usually a class whose
    methods are classmethods.

    Examples:
        >>> import qphys
        >>> class ToyFamily:
        ...     @classmethod
        ...     def available_names(cls):
        ...         return ["toy.qubit"]
        ...     @classmethod
        ...     def capabilities_for(cls, name):
        ...         return qphys.Capabilities()
        ...     @classmethod
        ...     def create(cls, name, **options):
        ...         return qphys.device("torch.qubit", **options)
        >>> isinstance(ToyFamily, DeviceFamily)
        True
    """

    def available_names(self) -> list[str]:
        """Concrete device names of the family installed here (``qphys devices`` lists them)."""

    def capabilities_for(self, name: str) -> Capabilities:
        """The capabilities of device ``name``, without building it."""

    def create(self, name: str, **options) -> Device:
        """Build device ``name`` with keyword ``options``.

        Raises:
            DeviceNotFoundError: the family has no such device.
            DeviceOptionError: an option the device does not have.
        """


@lru_cache(maxsize=1)
def _entry_points():
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@lru_cache(maxsize=1)
def _name_listers():
    return {ep.name: ep for ep in entry_points(group=NAMES_GROUP)}


def refresh() -> None:
    """Forget cached entry points (after installing a plugin in a running process)."""
    _entry_points.cache_clear()
    _name_listers.cache_clear()


def _load(name):
    eps = _entry_points()
    if name in eps:
        return eps[name].load(), False
    best = None
    for ep_name, ep in eps.items():
        if ep_name.endswith("*") and name.startswith(ep_name[:-1]):
            if best is None or len(ep_name) > len(best.name):
                best = ep
    if best is not None:
        family = best.load()
        if not isinstance(family, DeviceFamily):
            missing = [m for m in ("available_names", "capabilities_for", "create") if not hasattr(family, m)]
            raise DeviceNotFoundError(
                f"entry point {best.name!r} ({best.value}) of group {GROUP!r} is not a device family: it "
                f"lacks {', '.join(missing)} (see qphys.devices.registry.DeviceFamily); fix or uninstall "
                "that plugin"
            )
        return family, True
    return None, False


def device_names(*, expand: bool = True) -> list[str]:
    """Names of installed devices; families (``ibm.*``) expanded into concrete names."""
    out = []
    for ep_name, ep in sorted(_entry_points().items()):
        if ep_name.endswith("*") and expand:
            try:
                out.extend(ep.load().available_names())
            except Exception:  # a broken plugin must not hide the others
                out.append(ep_name)
        else:
            out.append(ep_name)
    return out


def _check_options(cls, name, options):
    sig = inspect.signature(cls.__init__)
    params = sig.parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    allowed = [p for p, v in params.items() if p != "self" and v.kind in (v.KEYWORD_ONLY, v.POSITIONAL_OR_KEYWORD)]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise DeviceOptionError(
            f"device {name!r} got unknown option(s) {', '.join(unknown)}; its options are: "
            f"{', '.join(allowed) or '(none)'}; remove the unknown option(s) or use one of those"
        )


def device(name: str, **options):
    """Build the device registered as ``name`` with keyword ``options``.

    Examples:
        >>> import qphys
        >>> qphys.device("torch.qubit", dtype="complex128").name
        'torch.qubit'

    Raises:
        DeviceNotFoundError: no installed device has that name (the message lists them and
            which plugin provides the family).
        DeviceOptionError: an option the device does not have.
    """
    if not isinstance(name, str):
        raise DeviceNotFoundError(
            f"device name must be a string such as 'torch.qubit', got {type(name).__name__}; pass a name or a "
            "Device instance (qphys devices lists the names)"
        )
    obj, is_family = _load(name)
    if obj is None:
        hint = next((f" Names {p}* come from {d}." for p, d in PROVIDERS.items() if name.startswith(p)), "")
        raise DeviceNotFoundError(
            f"no device named {name!r}. Installed: {', '.join(device_names(expand=False))}.{hint} Use one of "
            "these names (qphys devices lists them), or install the plugin that provides the device"
        )
    if is_family:
        return obj.create(name, **options)
    _check_options(obj, name, options)
    return obj(**options)


def devices() -> list[dict]:
    """One record per installed device: name, class and capabilities (where loadable)."""
    out = []
    for name in device_names():
        record = {"name": name, "installed": True}
        try:
            obj, fam = _load(name)
            caps = obj.capabilities_for(name) if fam else obj.capabilities
            record["capabilities"] = caps
        except Exception as exc:  # report, never crash the listing
            record["installed"] = False
            record["error"] = f"{type(exc).__name__}: {exc}"
        out.append(record)
    return out


def _provider(ep) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "?"


def _is_core(ep) -> bool:
    dist = getattr(ep, "dist", None)
    return dist is not None and dist.name == CORE_DISTRIBUTION


def device_listing() -> list[dict]:
    """Installed device names from entry-point metadata, without importing any plugin.

    One record per name: ``name``, ``provider`` (the distribution and version that registers it)
    and, for names of a family, ``family`` (its pattern, e.g. ``"ibm.*"``). Families are expanded
    where the plugin registers a cheap name lister (group ``qphys.device_names``), otherwise the
    record's name is the pattern itself. Devices of qphys itself also carry ``capabilities`` (their
    modules are part of qphys); a plugin's capabilities need :func:`devices`, which imports it.

    Examples:
        >>> rows = {r["name"]: r for r in device_listing()}
        >>> rows["torch.qubit"]["capabilities"].families
        frozenset({'qubit'})
        >>> rows["torch.qubit"]["provider"].split()[0]
        'qphys'
    """
    listers = _name_listers()
    out = []
    for ep_name, ep in sorted(_entry_points().items()):
        record = {"name": ep_name, "provider": _provider(ep)}
        if ep_name.endswith("*"):
            lister = listers.get(ep_name)
            if lister is None:
                out.append({**record, "family": ep_name})
                continue
            try:
                names = sorted(lister.load()())
            except Exception as exc:  # a broken lister must not hide the other devices
                out.append({**record, "family": ep_name, "error": f"{type(exc).__name__}: {exc}"})
                continue
            out.extend({**record, "name": n, "family": ep_name} for n in names)
            continue
        if _is_core(ep):
            try:
                record["capabilities"] = ep.load().capabilities
            except Exception as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
        out.append(record)
    return out
