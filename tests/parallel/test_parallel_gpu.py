"""One worker per GPU, on real GPUs (``gpu``: skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch

import qphys
from qphys.kernels import QuantumKernel
from qphys.templates import zz_feature_map


def _worker_gpu():
    import os

    return os.environ["CUDA_VISIBLE_DEVICES"], torch.cuda.device_count(), torch.cuda.current_device()


@pytest.mark.gpu
def test_each_gpu_worker_sees_one_gpu_and_sharded_cuda_runs_equal_the_cpu_run():
    gpus = qphys.parallel.gpu.visible_gpus()
    with qphys.parallel.cuda(gpus[:2]) as ex:
        seen = ex.client.run(_worker_gpu)
        assert sorted(v[0] for v in seen.values()) == sorted(gpus[:2])
        assert all(v[1] == 1 and v[2] == 0 for v in seen.values())
        cuda = qphys.device("torch.qubit", device="cuda", dtype="complex128")
        cpu = qphys.device("torch.qubit", dtype="complex128")
        x = torch.rand(12, 3, dtype=torch.float64, requires_grad=True)

        def run(dev, executor):
            x.grad = None
            c = qphys.Circuit(wires=3).ry(x[:, 0], 0).ry(x[:, 1], 1).ry(x[:, 2], 2).cx(0, 1).cx(1, 2)
            r = qphys.execute(c.expval(qphys.Z(2)), dev, executor=executor)
            r.values[0].sum().backward()
            return r.values[0].detach().cpu(), x.grad.clone()

        for a, b in zip(run(cuda, ex), run(cpu, None)):
            torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
        X = torch.rand(30, 4, dtype=torch.float64)
        K = QuantumKernel(zz_feature_map, cuda, executor=ex, tile_size=8).matrix(X)
        torch.testing.assert_close(K, QuantumKernel(zz_feature_map, cpu).matrix(X), atol=1e-10, rtol=0)
