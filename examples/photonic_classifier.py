"""A photonic classifier: trained on the torch SLOS simulator, then evaluated and fine-tuned on
(the offline fake of) a Quandela QPU.

Two interleaved half-moons (2 features, 2 classes). The model is a
:class:`qphys.nn.LinearOpticsLayer`: single photons ``(1, 1, 0)`` through a trainable Clements
mesh, the two features encoded as phases on modes 0 and 1, a second trainable mesh, output the
probabilities of the 6 photon-number patterns; a linear layer maps them to the 2 class logits.

1. **Train** on ``torch.linear_optics`` (exact probabilities, backprop) with Adam.
2. **Evaluate** on ``quandela.fake:ascella`` (:class:`qphys_perceval.FakeQuandelaCloud`: Quandela
   Cloud's side of Perceval's remote protocol, offline): the probabilities are now estimated from
   ``--shots`` sampled photon patterns per input, every test input one row of ONE job.
3. **Fine-tune** on the fake QPU: the photonic parameter-shift rule (Facelli et al.,
   arXiv:2409.16369) gives the gradient of every mesh angle from shifted circuits, all of them
   for the whole mini-batch in ONE job per step (plus one for the forward pass); the linear
   head's gradient is classical. ``--indistinguishability 0.9`` makes the fake QPU's photons
   partly distinguishable (Perceval's ``NoiseModel``), a hardware imperfection the simulator did
   not train for (the noisy fake is about 15x slower to simulate).

Every job goes through the ``qphys.jobs`` ledger (here a temporary folder), so an interrupted
fine-tuning re-attaches to its jobs instead of paying twice.

Run::

    python examples/photonic_classifier.py            # 300 Adam steps, 4 fine-tuning steps
    python examples/photonic_classifier.py --quick    # 60 steps, 1 fine-tuning step
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

import torch
from torch import nn
from tqdm import trange

import qphys
from qphys.nn import LinearOpticsLayer


def make_moons(n: int, *, noise: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of two interleaved half-moons, scaled to ``[0, pi]^2``, and their labels."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    t = math.pi * torch.rand(n, generator=gen, dtype=torch.float64)
    x = torch.where(labels == 0, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(labels == 0, torch.sin(t), 0.5 - torch.sin(t))
    pts = torch.stack([x, y], 1) + noise * torch.randn(n, 2, generator=gen, dtype=torch.float64)
    lo, hi = torch.tensor([-1.5, -1.0], dtype=torch.float64), torch.tensor([2.5, 1.5], dtype=torch.float64)
    return math.pi * (pts - lo) / (hi - lo), labels


class PhotonicClassifier(nn.Module):
    """``LinearOpticsLayer((1, 1, 0))`` -> pattern probabilities -> linear layer -> 2 logits."""

    def __init__(self, seed: int = 0):
        super().__init__()
        self.optics = LinearOpticsLayer((1, 1, 0), num_features=2, output="probs", seed=seed)
        torch.manual_seed(seed)
        self.head = nn.Linear(self.optics.output_size, 2, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.optics(x))


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def train_simulator(model: nn.Module, x, y, steps: int, lr: float = 0.05, progress: bool = True) -> list[float]:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in trange(steps, disable=not progress, desc="torch.linear_optics"):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def fine_tune(model: nn.Module, x, y, steps: int, batch: int, lr: float = 0.005, seed: int = 0) -> list[float]:
    """Mini-batch SGD on the current device of ``model.optics`` (parameter shift off-simulator)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        idx = torch.randperm(len(x), generator=gen)[:batch]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def run(*, steps: int = 300, tune_steps: int = 4, tune_batch: int = 16, shots: int = 1000,
        train_size: int = 200, test_size: int = 100, indistinguishability: float = 1.0, seed: int = 0,
        progress: bool = True) -> dict:
    from qphys_perceval import FakeQuandelaCloud

    x_train, y_train = make_moons(train_size, seed=seed)
    x_test, y_test = make_moons(test_size, seed=seed + 1)
    model = PhotonicClassifier(seed)
    t0 = time.perf_counter()
    losses = train_simulator(model, x_train, y_train, steps, progress=progress)
    out = {"sim_seconds": time.perf_counter() - t0, "sim_loss": (losses[0], losses[-1]),
           "acc_sim": accuracy(model, x_test, y_test)}
    noise = None
    if indistinguishability < 1:
        import perceval as pcvl

        noise = pcvl.NoiseModel(indistinguishability=indistinguishability)
    with tempfile.TemporaryDirectory() as folder:
        cloud = FakeQuandelaCloud(f"{folder}/cloud", noise=noise, seed=seed)
        dev = qphys.device("quandela.fake:ascella", cloud=cloud, shots=shots, seed=seed,
                           ledger=f"{folder}/ledger.sqlite", poll_interval=0)
        with dev:
            model.optics.set_device(dev)
            out["acc_qpu"] = accuracy(model, x_test, y_test)
            t0 = time.perf_counter()
            out["tune_loss"] = fine_tune(model, x_train, y_train, tune_steps, tune_batch, seed=seed)
            out["tune_seconds"] = time.perf_counter() - t0
            out["acc_qpu_tuned"] = accuracy(model, x_test, y_test)
            out["jobs"] = len(cloud.submissions())
            out["circuits"] = sum(r.num_circuits for r in dev.runner.ledger.records())
        model.optics.set_device("torch.linear_optics")
        out["acc_sim_tuned"] = accuracy(model, x_test, y_test)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 Adam steps, 1 fine-tuning step of 8 inputs")
    parser.add_argument("--steps", type=int, default=None, help="Adam steps on the simulator")
    parser.add_argument("--tune-steps", type=int, default=None, help="fine-tuning steps on the fake QPU")
    parser.add_argument("--tune-batch", type=int, default=None)
    parser.add_argument("--shots", type=int, default=None)
    parser.add_argument("--indistinguishability", type=float, default=1.0,
                        help="of the fake QPU's photons (1: ideal, the default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    steps = args.steps or (60 if args.quick else 300)
    tune_steps = args.tune_steps if args.tune_steps is not None else (1 if args.quick else 4)
    tune_batch = args.tune_batch or (8 if args.quick else 16)
    shots = args.shots or (300 if args.quick else 1000)
    out = run(steps=steps, tune_steps=tune_steps, tune_batch=tune_batch, shots=shots,
              test_size=40 if args.quick else 100, indistinguishability=args.indistinguishability,
              seed=args.seed, progress=not args.no_progress)
    print(f"simulator (torch.linear_optics, backprop): loss {out['sim_loss'][0]:.3f} -> {out['sim_loss'][1]:.3f} "
          f"in {steps} Adam steps ({out['sim_seconds']:.1f} s); test accuracy {out['acc_sim']:.3f}")
    print(f"fake QPU quandela.fake:ascella ({shots} shots per input, indistinguishability "
          f"{args.indistinguishability}): test accuracy {out['acc_qpu']:.3f}")
    print(f"fine-tuned on the fake QPU by parameter shift: {tune_steps} step(s) of {tune_batch} inputs, "
          f"loss {' -> '.join(f'{v:.3f}' for v in out['tune_loss'])} ({out['tune_seconds']:.1f} s); "
          f"test accuracy on the fake QPU {out['acc_qpu_tuned']:.3f}, on the simulator {out['acc_sim_tuned']:.3f}")
    print(f"{out['jobs']} jobs submitted in all ({out['circuits']} circuits): one per test evaluation, "
          "two per fine-tuning step")
    return out


if __name__ == "__main__":
    main()
