"""Run a torch function of flat parameters as an autograd primitive, to any derivative order.

Why this exists: the ``qphys.torch`` PennyLane device simulates in torch, so ``backprop`` is
native for PennyLane's torch interface. PennyLane's autograd interface (the default for
``pennylane.numpy`` parameters) passes autograd-traced arrays to a ``backprop`` device; the
device has to hand autograd a gradient. autograd has no torch interop, so this module wraps a
torch function ``f: R^n -> R^m`` as an ``autograd.extend.primitive`` whose vector-Jacobian
product is torch's reverse mode, itself wrapped the same way (``create_graph=True``), which
makes Hessians (``qml.jacobian(qml.grad(f))``) work too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from autograd.extend import defvjp, primitive


def torch_primitive(fn: Callable[..., torch.Tensor]):
    """Wrap ``fn(*tensors) -> 1-D real tensor`` as an autograd primitive of numpy arrays.

    Every argument is a 1-D float64 array; the output is a 1-D float64 array.

    Examples:
        >>> import autograd, autograd.numpy as anp, torch
        >>> f = torch_primitive(lambda x: torch.sin(x) * x[:1])
        >>> autograd.jacobian(f)(anp.array([0.5, 1.0])).shape
        (2, 2)
    """

    @primitive
    def prim(*arrays):
        with torch.no_grad():
            out = fn(*[torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in arrays])
        return out.detach().cpu().numpy()

    def vjp_fn(*args):
        *xs, g = args
        xs = [x if x.requires_grad else x.detach().requires_grad_(True) for x in xs]
        with torch.enable_grad():
            y = fn(*xs)
            if not y.requires_grad:
                return torch.cat([torch.zeros_like(x) for x in xs])
            grads = torch.autograd.grad(y, xs, g.to(y.dtype), create_graph=True, allow_unused=True)
        return torch.cat([torch.zeros_like(x) if gr is None else gr for x, gr in zip(xs, grads)])

    vjp_prim = None

    def maker(i):
        def make(ans, *arrays):
            def vjp(g):
                nonlocal vjp_prim
                if vjp_prim is None:
                    vjp_prim = torch_primitive(vjp_fn)
                full = vjp_prim(*arrays, g)
                start = sum(int(np.size(a)) for a in arrays[:i])
                return full[start : start + int(np.size(arrays[i]))]

            return vjp

        return make

    # one vjp maker per possible argument position (enough for every nesting level we use)
    defvjp(prim, *[maker(i) for i in range(16)])
    return prim
