"""Hybrid classical-photonic classifier in the style of Killoran et al.'s fraud detection.

A classical ELU network maps 10 transaction-like features to the 2 input displacements of a
2-mode CV QNN (``qphys.nn.PhotonicLayer``, Kerr layers, torch.fock). The class is read from
which mode holds the photon: the probabilities of ``|1, 0>`` ("genuine") and ``|0, 1>``
("fraudulent"), normalised, feed a cross-entropy loss. The data is synthetic: two overlapping
Gaussian clouds with a 4:1 class imbalance (the real credit-card data set cannot be shipped).
The whole network trains end to end with one torch optimiser.

Run::

    python examples/photonic_hybrid_fraud.py          # 30 epochs
    python examples/photonic_hybrid_fraud.py --quick  # 5 epochs
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from tqdm import trange

from qphys.nn import PhotonicLayer


def make_data(n: int = 500, features: int = 10, seed: int = 0):
    """Synthetic imbalanced two-class data (class 1 = 'fraud', 20 %)."""
    gen = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=gen) < 0.2).long()
    shift = torch.linspace(-1, 1, features, dtype=torch.float64)
    x = torch.randn(n, features, generator=gen, dtype=torch.float64) + 1.2 * y[:, None] * shift
    return x, y


class HybridFraudNet(nn.Module):
    """Classical ELU net -> 2 displacements -> 2-mode CV QNN -> photon-position probabilities."""

    def __init__(self, features: int = 10, *, layers: int = 2, cutoff: int = 5, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.classical = nn.Sequential(
            nn.Linear(features, 10), nn.ELU(), nn.Linear(10, 10), nn.ELU(), nn.Linear(10, 2), nn.Tanh()
        ).double()
        self.photonic = PhotonicLayer(2, num_layers=layers, cutoff=cutoff, encoding="displacement",
                                      output="fock_probs", init_std=0.1, seed=seed)
        self.cutoff = cutoff

    def forward(self, x):
        probs = self.photonic(self.classical(x))  # (B, cutoff**2), index n0 * cutoff + n1
        p10, p01 = probs[:, self.cutoff], probs[:, 1]
        two = torch.stack([p10, p01], dim=-1) + 1e-9
        return two / two.sum(-1, keepdim=True)


def train(epochs: int = 30, *, seed: int = 0, progress: bool = True) -> dict:
    x, y = make_data(seed=seed)
    split = int(0.8 * len(x))
    model = HybridFraudNet(seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    t0 = time.perf_counter()
    weights = torch.tensor([1.0, 4.0], dtype=torch.float64)  # counter the imbalance
    for _ in trange(epochs, disable=not progress, desc="hybrid fraud"):
        perm = torch.randperm(split, generator=torch.Generator().manual_seed(seed + _))
        for i in range(0, split, 50):
            idx = perm[i:i + 50]
            opt.zero_grad()
            p = model(x[idx])
            loss = nn.functional.nll_loss(torch.log(p), y[idx], weight=weights)
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = model(x[split:]).argmax(-1)
    yt = y[split:]
    tp = int(((pred == 1) & (yt == 1)).sum())
    return {
        "test_accuracy": float((pred == yt).double().mean()),
        "fraud_recall": tp / max(1, int((yt == 1).sum())),
        "fraud_precision": tp / max(1, int((pred == 1).sum())),
        "epochs": epochs,
        "seconds": time.perf_counter() - t0,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 epochs instead of 30")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    epochs = args.epochs or (5 if args.quick else 30)
    m = train(epochs, seed=args.seed, progress=not args.no_progress)
    print(f"test accuracy {m['test_accuracy']:.3f}, fraud recall {m['fraud_recall']:.3f}, precision "
          f"{m['fraud_precision']:.3f} after {epochs} epochs ({m['seconds']:.1f} s)")
    return m


if __name__ == "__main__":
    main()
