"""Demo section: a hybrid classical + quantum classifier trained end to end on ``torch.qubit``."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

import qphys
from qphys.demo import DemoContext, Section
from qphys.plots import loss_and_decision_boundary
from qphys.templates import angle_embedding, hardware_efficient


class HybridClassifier(torch.nn.Module):
    """Small classical network -> 4-qubit variational circuit -> linear read-out."""

    def __init__(self, n_qubits=4, layers=3, hidden=16):
        super().__init__()
        self.pre = torch.nn.Sequential(
            torch.nn.Linear(2, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_qubits), torch.nn.Tanh()
        )
        self.n = n_qubits

        def circuit(x, weights):
            c = angle_embedding(qphys.Circuit(wires=n_qubits), torch.pi * x)
            hardware_efficient(c, weights)
            for q in range(n_qubits):
                c.expval(qphys.Z(q))
            return c

        self.quantum = qphys.nn.QuantumLayer(
            circuit, {"weights": (layers, n_qubits, 2)}, init=lambda w: torch.nn.init.normal_(w, 0, 0.3)
        )
        self.post = torch.nn.Linear(n_qubits, 2)

    def forward(self, x):
        return self.post(self.quantum(self.pre(x)))


def run(ctx: DemoContext) -> dict:
    from qphys._deps import require

    require("sklearn", extra="kernels", feature="the classifier demo's data set (make_moons)")
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split

    torch.manual_seed(ctx.seed)
    n = 200 if ctx.quick else 400
    X, y = make_moons(n_samples=n, noise=0.1, random_state=ctx.seed)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=ctx.seed)
    Xtr, Xte = torch.tensor(Xtr, dtype=torch.float32), torch.tensor(Xte, dtype=torch.float32)
    ytr, yte = torch.tensor(ytr), torch.tensor(yte)
    model = HybridClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    epochs = 15 if ctx.quick else 30
    losses = []
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(Xtr, ytr), batch_size=32, shuffle=True,
        generator=torch.Generator().manual_seed(ctx.seed),
    )
    for _ in tqdm(range(epochs), desc="hybrid classifier", disable=not ctx.progress):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        losses.append(total / len(Xtr))
    with torch.no_grad():
        train_acc = (model(Xtr).argmax(1) == ytr).float().mean().item()
        test_acc = (model(Xte).argmax(1) == yte).float().mean().item()
    fig = loss_and_decision_boundary(
        losses, lambda grid: model(grid).softmax(1)[:, 1], torch.cat([Xtr, Xte]), torch.cat([ytr, yte]),
        title="hybrid classifier on torch.qubit (moons)",
    )
    fig.axes[0].set_ylabel("cross-entropy")
    path = ctx.out_dir / "classifier_loss.png"
    fig.savefig(path, dpi=120)
    print(f"   train accuracy {train_acc:.3f}   test accuracy {test_acc:.3f}   "
          f"loss and decision boundary: {path}")
    return {"train_accuracy": train_acc, "test_accuracy": test_acc, "final_loss": losses[-1]}


SECTION = Section(10, "classifier", "Hybrid classical + quantum classifier (torch.qubit)", run)
