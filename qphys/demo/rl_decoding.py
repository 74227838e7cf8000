"""Demo section: decoding the toric code — matching (PyMatching), neural decoders and a deep-Q agent.

Uses the shipped weights in ``qphys/rl/weights`` (no training here), so it runs in seconds.
"""

from __future__ import annotations

from qphys.demo import DemoContext, Section


def run(ctx: DemoContext) -> dict:
    import torch

    from qphys.rl.codes import ToricCode, surface_code_memory_circuit
    from qphys.rl.decoding import (
        CorrelatedMWPMDecoder,
        MWPMDecoder,
        evaluate,
        load_decoder,
        paired_difference,
        threshold_plot,
    )

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is fastest
    try:
        shots = 2000 if ctx.quick else 10_000
        metrics: dict = {}
        code5 = ToricCode(5)
        syn, true = code5.sample("depolarizing", 0.10, shots=shots, seed=ctx.seed)  # one sample for all
        mwpm5 = MWPMDecoder(code5)
        print(f"   d=5 toric code, depolarizing p=0.10, {shots} syndromes (failure rate; paired difference "
              "vs X/Z-separate matching, 95% interval):")
        for label, dec in (("correlated matching", CorrelatedMWPMDecoder(code5, p=0.10)),
                           ("translation-invariant net", load_decoder("equivariant_d5_depolarizing")),
                           ("deep-Q agent", load_decoder("deepq_d5_depolarizing"))):
            r = paired_difference(dec, mwpm5, syn, true)
            print(f"     {label:26s} {100 * r.rate_a:5.2f}%  (MWPM {100 * r.rate_b:5.2f}%)  "
                  f"{100 * r.diff:+.2f} [{100 * r.ci_low:+.2f}, {100 * r.ci_high:+.2f}] points")
            metrics[label.replace(" ", "_").replace("-", "") + "_d5_depol"] = r.rate_a
        metrics["mwpm_d5_depol"] = r.rate_b

        agent = load_decoder("deepq_d5_bitflip")
        r = paired_difference(agent, mwpm5, *code5.sample("bitflip", 0.10, shots=shots, seed=ctx.seed))
        print(f"   d=5 toric code, bit-flip p=0.10: deep-Q agent {100 * r.rate_a:.2f}% vs MWPM "
              f"{100 * r.rate_b:.2f}% (paired {100 * r.diff:+.2f} [{100 * r.ci_low:+.2f}, {100 * r.ci_high:+.2f}])")
        metrics.update(deepq_d5_bitflip=r.rate_a, mwpm_d5_bitflip=r.rate_b)

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


SECTION = Section(60, "rl_decoding", "Decoding the toric code: matching, neural decoders, deep-Q agent", run)
