"""``qphys.execute``: run circuits on a device with PyTorch gradients.

Four differentiation methods, chosen by ``diff_method``:

- ``"backprop"``: the device computes in torch; autograd differentiates through it.
- ``"adjoint"``: one forward pass, gradients by un-applying gates (the device's
  ``execute_and_vjp``).
- ``"parameter-shift"``: generic; on backward every shifted circuit of the whole batch goes
  to the device in ONE ``execute`` call (one job on hardware).
- ``"finite-diff"``: central differences, the last resort (also one ``execute`` call).

``"best"`` picks the first that applies, in that order.
"""

from qphys.diff.execute import DEVICE_DEFAULT, METHODS, execute, resolve_method

__all__ = ["execute", "resolve_method", "METHODS", "DEVICE_DEFAULT"]
