"""Shared helpers of the qphys-qiskit tests."""


import qphys


def random_circuit(n, depth, rng):
    c = qphys.Circuit(wires=n)
    one = ["h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "i"]
    rot = ["rx", "ry", "rz", "p"]
    two = ["cx", "cy", "cz", "swap", "iswap"]
    two_rot = ["crx", "cry", "crz", "cp", "rxx", "ryy", "rzz"]
    for _ in range(depth):
        kind = rng.integers(6)
        w = [int(x) for x in rng.permutation(n)[:3]]
        if kind == 0:
            getattr(c, one[rng.integers(len(one))])(w[0])
        elif kind == 1:
            getattr(c, rot[rng.integers(len(rot))])(float(rng.uniform(-4, 4)), w[0])
        elif kind == 2:
            getattr(c, two[rng.integers(len(two))])(w[0], w[1])
        elif kind == 3:
            getattr(c, two_rot[rng.integers(len(two_rot))])(float(rng.uniform(-4, 4)), w[0], w[1])
        elif kind == 4:
            c.u(*[float(x) for x in rng.uniform(-3, 3, 3)], w[0])
        else:
            (c.ccx if rng.integers(2) else c.cswap)(w[0], w[1], w[2])
    return c
