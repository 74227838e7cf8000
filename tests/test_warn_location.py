"""Warnings from deep inside qphys point at the caller's line."""

import warnings

import qphys
from qphys.sim.fock import TruncationWarning


def test_truncation_warning_points_at_the_callers_line():
    c = qphys.Circuit(modes=1).displacement(2.5, 0.0, 0).expval(qphys.cv.N(0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        qphys.execute(c, qphys.device("torch.fock", cutoff=4))
    (w,) = [x for x in caught if issubclass(x.category, TruncationWarning)]
    assert w.filename == __file__
    assert "leaked past cutoff 4" in str(w.message)
