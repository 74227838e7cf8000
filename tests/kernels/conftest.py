import pytest

import qphys


class CallCounter:
    """Wrap a real device's ``execute`` to count device calls and circuits (a spy, not a mock)."""

    def __init__(self, device):
        self.device = device
        self.calls: list[int] = []
        self._orig = device.execute

        def execute(circuits, config):
            self.calls.append(sum(c.batch_size or 1 for c in circuits))
            return self._orig(circuits, config)

        device.execute = execute


@pytest.fixture
def dev128():
    return qphys.device("torch.qubit", dtype="complex128")


@pytest.fixture
def spy():
    """``spy(device)`` -> a :class:`CallCounter` on that device."""
    return CallCounter
