"""The worker plugin that sets torch's threads (imported only where ``distributed`` is installed)."""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin


class TorchThreads(WorkerPlugin):
    """Sets ``torch.set_num_threads(n)`` in every worker, present and future.

    Dask's nanny exports ``OMP_NUM_THREADS=1`` to its workers, and an inherited environment may say
    anything else: the plugin makes workers × torch threads = cores explicit.
    """

    name = "qphys-torch-threads"

    def __init__(self, threads: int):
        self.threads = int(threads)

    def setup(self, worker) -> None:
        import torch

        torch.set_num_threads(self.threads)
