"""Pure-torch simulation kernels (no device classes): ``statevector``, ``fock``, ``gaussian``,
``linear_optics``."""
