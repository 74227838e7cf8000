"""Demo section: decoding the toric code — MWPM (PyMatching), a neural decoder and a DQN agent.

Uses the shipped weights in ``qphys/rl/weights`` (no training here), so it runs in seconds.
"""

from __future__ import annotations

from qphys.demo import DemoContext, Section


def run(ctx: DemoContext) -> dict:
    import torch

    from qphys.rl.codes import ToricCode, surface_code_memory_circuit
    from qphys.rl.decoding import (
        MWPMDecoder,
        NeuralDecoder,
        RLDecoder,
        evaluate,
        threshold_plot,
        weights_path,
    )

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is fastest
    try:
        shots = 2000 if ctx.quick else 10_000
        metrics: dict = {}
        code5 = ToricCode(5)
        mwpm5 = MWPMDecoder(code5)
        nn5 = NeuralDecoder.load(weights_path("decoder_cnn_d5_depolarizing.pt"))
        r_mw = evaluate(mwpm5, code5, "depolarizing", 0.10, shots, seed=ctx.seed)
        r_nn = evaluate(nn5, code5, "depolarizing", 0.10, shots, seed=ctx.seed)  # same syndromes
        print(f"   d=5 toric code, depolarizing p=0.10, {shots} syndromes:")
        print(f"     MWPM (X, Z matched separately) {100 * r_mw.failure_rate:5.2f}% "
              f"[{100 * r_mw.ci_low:.2f}, {100 * r_mw.ci_high:.2f}]  {r_mw.throughput:,.0f} syndromes/s")
        print(f"     NeuralDecoder (CNN, MWPM hint) {100 * r_nn.failure_rate:5.2f}% "
              f"[{100 * r_nn.ci_low:.2f}, {100 * r_nn.ci_high:.2f}]  {r_nn.throughput:,.0f} syndromes/s")
        metrics.update(mwpm_d5_depol=r_mw.failure_rate, neural_d5_depol=r_nn.failure_rate)

        code3 = ToricCode(3)
        rl_shots = 300 if ctx.quick else 1500
        agent = RLDecoder.load(weights_path("decoder_dqn_d3_bitflip.pt"))
        r_rl = evaluate(agent, code3, "bitflip", 0.10, rl_shots, seed=ctx.seed)
        r_mw3 = evaluate(MWPMDecoder(code3), code3, "bitflip", 0.10, rl_shots, seed=ctx.seed)
        print(f"   d=3 toric code, bit-flip p=0.10, {rl_shots} syndromes: DQN agent "
              f"{100 * r_rl.failure_rate:.1f}% vs MWPM {100 * r_mw3.failure_rate:.1f}%")
        metrics.update(dqn_d3_bitflip=r_rl.failure_rate, mwpm_d3_bitflip=r_mw3.failure_rate)

        circ = surface_code_memory_circuit(3, p=0.003)
        r_c = evaluate(MWPMDecoder(circ), circ, shots=shots, seed=ctx.seed)
        print(f"   Stim rotated surface code d=3, 3 rounds, circuit noise 0.3%: MWPM logical failure "
              f"{100 * r_c.failure_rate:.2f}%")
        metrics["stim_d3_failure"] = r_c.failure_rate

        path = ctx.out_dir / "toric_threshold.png"
        threshold_plot([3, 5, 7], [0.06, 0.08, 0.10, 0.12, 0.14], noise="bitflip",
                       shots=1000 if ctx.quick else 4000, path=path, seed=ctx.seed,
                       title="Toric code, bit-flip noise, MWPM")
        print(f"   threshold plot (MWPM, d = 3, 5, 7): {path}")
        return metrics
    finally:
        torch.set_num_threads(threads)


SECTION = Section(60, "rl_decoding", "Decoding the toric code: MWPM, neural decoder, DQN agent", run)
