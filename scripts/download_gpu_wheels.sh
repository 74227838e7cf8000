#!/usr/bin/env bash
# Download, here, the wheels the GPU machine needs beyond its image (issue 16), for scripts/gpu_check.sh.
#
#   scripts/download_gpu_wheels.sh [DIR]      # default .whl/ (git-ignored); about 12 MB
#
# The GPU machine has Python 3.12 with its own CUDA torch, JAX, numpy, scipy, networkx, sympy, numba,
# opt_einsum, matplotlib, pandas, scikit-learn, hypothesis, pytest(-xdist, -timeout), rich, tqdm, pyyaml,
# cloudpickle, fsspec, toolz (see the device notes), and no network. So only what qphys's tests and
# benchmarks import beyond that travels, as cp312 manylinux (or pure-Python) wheels, without their
# dependencies (each one needed is listed), pinned as in constraints.txt. Everything that travels with the
# working tree must stay under 64 MiB: the script prints the total.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-.whl}"
PIP="${PIP:-python3 -m pip}"
mkdir -p "$DEST"

pin() {  # the version constraints.txt pins (case-insensitive, - and _ alike)
    local name=$1
    local pattern
    pattern="^$(echo "$name" | sed 's/[-_]/[-_]/g')=="
    grep -i -m1 "$pattern" constraints.txt | sed 's/.*==//' || { echo "no pin for $name in constraints.txt" >&2; exit 1; }
}

# qphys core (platformdirs), rl extra (gymnasium, stable-baselines3, stim, pymatching), lattice extra (zuko),
# the TensorCircuit-NG peer (+ tensornetwork-ng, graphviz), thewalrus (tests/sim/test_linear_optics.py's
# permanent reference; + dask, partd, locket)
PACKAGES=(platformdirs gymnasium Farama-Notifications stable_baselines3 stim PyMatching zuko
          tensorcircuit-ng tensornetwork-ng graphviz thewalrus dask partd locket)
SPECS=()
for p in "${PACKAGES[@]}"; do SPECS+=("$p==$(pin "$p")"); done

$PIP download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 --abi abi3 \
    --abi none --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d "$DEST" "${SPECS[@]}"

ls -1 "$DEST"
echo "total: $(du -sh "$DEST" | cut -f1) in $DEST (the working tree that travels must stay under 64 MiB)"
