#!/usr/bin/env bash
# The one prepared GPU run of qphys (issue 16): every `gpu`-marked test, then the GPU benchmarks.
#
#   scripts/gpu_check.sh                 # on the GPU machine: results under $OUT (else out/gpu_check)
#   scripts/gpu_check.sh --cpu           # the dry run here: same steps on the CPU, tiny benchmark sizes
#   scripts/gpu_check.sh --cpu --quick   # its fast form (tests/test_gpu_check.py): one gpu test file, no
#                                        # TensorCircuit-NG (its jit compile takes seconds), no version list
#   PYTHON=py3.12 scripts/gpu_check.sh --cpu --install   # the install step too (default on the GPU),
#                                        # e.g. in a Python 3.12 venv that mimics the GPU image
#   make gpu-check / make gpu-check-cpu  # the same two
#
# Steps, each with its own timeout; a failed or timed-out step is logged and the next one runs:
#   1. install the carried wheels (.whl/, from scripts/download_gpu_wheels.sh) and qphys itself into
#      a scratch folder on PYTHONPATH (GPU run only; the image brings torch, JAX, numpy, scipy...)
#   2. pytest -m gpu on the test files that hold gpu-marked tests
#   3. benchmarks/gpu.py: bandwidth + variational (torch.qubit) + TensorCircuit-NG in one process,
#      then the other parts in a second process
#   4. the Markdown block for BENCHMARKS.md (benchmarks/gpu.py --report)
# Outputs (at most 8 files, as the device tool brings back): gpu_check.log (the step summary),
# gpu_tests.log, gpu_bench.log, gpu_bench.json, gpu_bench.md, env.txt.
# Worst case (every step to its timeout) about 8 minutes; the exit status is the number of failed steps.
set -u -o pipefail

CPU=0
QUICK=0
INSTALL=
OUT_DIR="${OUT:-out/gpu_check}"
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu) CPU=1 ;;
        --quick) QUICK=1 ;;
        --install) INSTALL=1 ;;
        --out) OUT_DIR="$2"; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $1 (use --cpu, --quick, --install, --out DIR)" >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ "$CPU" = 1 ] && [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
WHEELS="${WHEELS:-.whl}"
SITE="${QPHYS_GPU_SITE:-/tmp/qphys-gpu-site}"
# timeouts (seconds): tests, then the two benchmark processes; their parts stop themselves earlier
# (PART_SECONDS in benchmarks/gpu.py), the timeout is the backstop
T_INSTALL=60 T_TESTS=120 T_BENCH_A=200 T_BENCH_B=170 T_REPORT=20
# the whole run (issue 16: at most 8 minutes); each step's timeout is cut to what is left
TOTAL_SECONDS="${GPU_CHECK_SECONDS:-470}"
if [ "$CPU" = 1 ]; then
    BENCH_FLAGS=(--cpu --tiny)
    COMMAND="scripts/gpu_check.sh --cpu"
else
    BENCH_FLAGS=(--require-cuda)
    COMMAND="scripts/gpu_check.sh"
fi
SUMMARY="$OUT_DIR/gpu_check.log"
for f in gpu_check.log gpu_tests.log gpu_bench.log gpu_bench.md env.txt; do : >"$OUT_DIR/$f"; done
FAILED=0

note() { echo "[gpu_check $(date -u +%H:%M:%S)] $*" | tee -a "$SUMMARY"; }

# step NAME TIMEOUT LOG COMMAND...: run with a timeout (cut to what is left of TOTAL_SECONDS, less the
# report's reserve), log its output, record its status, never abort
step() {
    local name=$1 limit=$2 log=$3
    shift 3
    local reserve=$T_REPORT
    [ "$name" = report ] && reserve=0
    local left=$((TOTAL_SECONDS - SECONDS - reserve))
    [ "$limit" -gt "$left" ] && limit=$left
    if [ "$limit" -lt 10 ]; then
        note "$name: NOT RUN (${left}s left of ${TOTAL_SECONDS}s)"
        FAILED=$((FAILED + 1))
        return 0
    fi
    note "$name: start (timeout ${limit}s): $*"
    local t0=$SECONDS
    timeout -k 10 "$limit" "$@" >>"$log" 2>&1
    local rc=$?
    local took=$((SECONDS - t0))
    if [ $rc -eq 0 ]; then
        note "$name: ok in ${took}s"
    else
        if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
            note "$name: TIMED OUT after ${took}s"
        else
            note "$name: FAILED (exit $rc) after ${took}s"
        fi
        FAILED=$((FAILED + 1))
    fi
    return 0
}

note "mode: $([ "$CPU" = 1 ] && echo 'CPU dry run' || echo GPU); python: $PYTHON; out: $OUT_DIR"

# ---- 1. environment and the carried wheels ----------------------------------------------------------
[ -n "$INSTALL" ] || INSTALL=$((1 - CPU))
if [ "$INSTALL" = 1 ]; then
    shopt -s nullglob
    wheels=("$WHEELS"/*.whl)
    shopt -u nullglob
    if [ ${#wheels[@]} -eq 0 ]; then
        note "install: no wheels in $WHEELS (run scripts/download_gpu_wheels.sh here and carry .whl): rl, lattice, TensorCircuit tests will fail or skip"
    else
        step install-wheels $T_INSTALL "$OUT_DIR/env.txt" "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
            --no-cache-dir --upgrade --target "$SITE" "${wheels[@]}"
    fi
    # qphys itself (its entry points register the devices and the pytest plugin); the code is imported
    # from this checkout, which comes first on PYTHONPATH
    step install-qphys $T_INSTALL "$OUT_DIR/env.txt" "$PYTHON" -m pip install -q --no-index --no-deps \
        --no-build-isolation --no-compile --no-cache-dir --upgrade --target "$SITE" .
    export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
# JAX must not preallocate 75% of the GPU: torch shares the process in the benchmarks
export XLA_PYTHON_CLIENT_PREALLOCATE=false
{
    echo "## nvidia-smi"; (nvidia-smi 2>&1 || echo "nvidia-smi: not available") | head -20
    echo "## python"
    [ "$QUICK" = 1 ] || "$PYTHON" - <<'EOF' 2>&1
import importlib, platform
print("python", platform.python_version())
for name in ("torch", "numpy", "scipy", "jax", "tensorcircuit", "qphys", "gymnasium", "stable_baselines3",
             "stim", "pymatching", "zuko", "thewalrus", "platformdirs"):
    try:
        m = importlib.import_module(name)
        print(name, getattr(m, "__version__", "?"), getattr(m, "__file__", ""))
    except Exception as exc:  # noqa: BLE001
        print(name, "NOT IMPORTABLE:", type(exc).__name__, exc)
import torch
print("cuda available", torch.cuda.is_available(), "torch cuda", torch.version.cuda,
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
EOF
} >>"$OUT_DIR/env.txt" 2>&1

# ---- 2. the gpu-marked tests ------------------------------------------------------------------------
mapfile -t GPU_FILES < <(grep -rlE 'mark\.gpu' tests --include='test_*.py' | sort)
note "tests: ${#GPU_FILES[@]} files hold gpu-marked tests"
[ "$QUICK" = 1 ] && GPU_FILES=("${GPU_FILES[@]:0:1}") && note "tests: --quick: ${GPU_FILES[*]} only"
TIMEOUT_FLAG=()
"$PYTHON" -c "import pytest_timeout" 2>/dev/null && TIMEOUT_FLAG=(--timeout=90)
step gpu-tests $T_TESTS "$OUT_DIR/gpu_tests.log" "$PYTHON" -m pytest -m gpu -q -rfEs -p no:cacheprovider \
    --continue-on-collection-errors "${TIMEOUT_FLAG[@]}" "${GPU_FILES[@]}"
tail -n 3 "$OUT_DIR/gpu_tests.log" | tee -a "$SUMMARY"

# ---- 3. the benchmarks --------------------------------------------------------------------------------
JSON="$OUT_DIR/gpu_bench.json"
rm -f "$JSON"
PARTS_A=bandwidth,variational,tensorcircuit
[ "$QUICK" = 1 ] && PARTS_A=bandwidth,variational
# soft deadline of a benchmark process: 15 s inside its hard timeout (as cut by step), so it winds down itself
soft() { local left=$((TOTAL_SECONDS - SECONDS - T_REPORT)); [ "$1" -lt "$left" ] && left=$1; echo $((left - 15)); }
step bench-variational $T_BENCH_A "$OUT_DIR/gpu_bench.log" "$PYTHON" benchmarks/gpu.py "${BENCH_FLAGS[@]}" \
    --parts "$PARTS_A" --out "$JSON" --deadline "$(soft $T_BENCH_A)"
step bench-others $T_BENCH_B "$OUT_DIR/gpu_bench.log" "$PYTHON" benchmarks/gpu.py "${BENCH_FLAGS[@]}" \
    --parts born,fock,decoder,linear_optics,nqs,flows,gram --out "$JSON" --deadline "$(soft $T_BENCH_B)"

# ---- 4. the Markdown block ----------------------------------------------------------------------------
if [ -f "$JSON" ]; then
    step report $T_REPORT "$OUT_DIR/gpu_bench.md" "$PYTHON" benchmarks/gpu.py --report "$JSON" --command "$COMMAND"
else
    note "report: no $JSON"
    FAILED=$((FAILED + 1))
fi
note "done: $FAILED failed step(s)"
exit $FAILED
