import pytest


class CallCounter:
    """Wrap a real device's ``execute`` to count device calls and circuits (a spy, not a mock)."""

    def __init__(self, device):
        self.calls: list[int] = []
        orig = device.execute

        def execute(circuits, config):
            self.calls.append(sum(c.batch_size or 1 for c in circuits))
            return orig(circuits, config)

        device.execute = execute


@pytest.fixture
def spy():
    return CallCounter
