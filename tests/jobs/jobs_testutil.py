"""Helpers of the job tests: small deterministic transports (imported as a module)."""

from __future__ import annotations

import numpy as np

from qphys.errors import TransientJobError
from qphys.jobs import Transport


class Flaky(Transport):
    """Refuses the first ``fail`` submissions with ``exc``; results echo the payload."""

    name = "flaky"

    def __init__(self, fail=0, exc=None):
        self.fail, self.exc, self.submitted = fail, exc or TransientJobError("503"), 0
        self.keys = []

    def submit(self, payload, idempotency_key):
        if self.fail:
            self.fail -= 1
            raise self.exc
        self.submitted += 1
        self.keys.append(idempotency_key)
        self.last = payload
        return f"j{self.submitted}"

    def result(self, job_id, timeout=None):
        return {"x": np.asarray(self.last)}

