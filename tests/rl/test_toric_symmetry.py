"""The lattice symmetries: they map errors to errors with the mapped syndrome, episodes to episodes with the
same rewards, and a symmetrised decoder's Q-values are invariant."""

import numpy as np
import pytest
import torch

from qphys.errors import ConfigError
from qphys.rl.codes import ToricCode
from qphys.rl.decoding import DeepQDecoder, PerspectiveQNetwork
from qphys.rl.defect_actions import BatchedToricEpisodes, DefectActions
from qphys.rl.toric_symmetry import ToricSymmetries


@pytest.mark.parametrize("noise", ["bitflip", "depolarizing"])
@pytest.mark.parametrize("d", [3, 5])
def test_symmetries_map_syndromes_and_form_the_group_d4(noise, d):
    code = ToricCode(d)
    sym = ToricSymmetries(DefectActions(code, noise))
    errors = code.sample_errors(noise, 0.2, shots=40, seed=d)
    for g in range(sym.n):
        assert sorted(sym.qubit_src[g]) == list(range(code.n_qubits))
        assert sorted(sym.action_map[g]) == list(range(sym.actions.n_actions))
        np.testing.assert_array_equal(code.syndrome(errors[:, sym.qubit_src[g]]),
                                      code.syndrome(errors)[:, sym.stabilizer_src[g]])
        # a closed loop stays trivial or non-trivial
        loops = code.logical_x.astype(np.uint8)  # X_0 and X_1: logical operators
        assert code.logical_class(loops[:, sym.qubit_src[g]]).any(axis=1).all()
    # 8 distinct permutations, closed under composition
    perms = {tuple(p) for p in sym.qubit_src}
    assert len(perms) == 8
    for a in sym.qubit_src:
        for b in sym.qubit_src:
            assert tuple(a[b]) in perms


@pytest.mark.parametrize("noise", ["bitflip", "depolarizing"])
def test_mapped_episodes_have_the_same_rewards(noise):
    """Random valid actions on 60 errors, and the same actions mapped by a random symmetry on the mapped
    errors: mapped syndromes, equal rewards, terminations and successes at every step."""
    code = ToricCode(5)
    acts = DefectActions(code, noise)
    sym = ToricSymmetries(acts)
    errors = code.sample_errors(noise, 0.03, shots=60, seed=2)
    gen = torch.Generator().manual_seed(0)
    g = torch.randint(0, 8, (60,), generator=gen)
    src = torch.as_tensor(sym.qubit_src)[g]
    ep, mapped = (BatchedToricEpisodes(acts, 60, clear_reward=3.0, max_steps=40) for _ in range(2))
    ep.x[:] = torch.as_tensor(code.x_part(errors), dtype=torch.bool)
    ep.z[:] = torch.as_tensor(code.z_part(errors), dtype=torch.bool)
    ep.syndrome = torch.as_tensor(code.syndrome_image(errors), dtype=torch.float32)
    mapped.x[:], mapped.z[:] = ep.x.gather(1, src), ep.z.gather(1, src)
    mapped.syndrome = sym.images(ep.syndrome, g)
    successes = 0
    for _ in range(40):
        valid = ep.valid()
        a = torch.multinomial(valid.float() + 1e-12, 1, generator=gen).squeeze(1)
        a_mapped = sym.global_actions(a, g)
        assert torch.equal(mapped.valid()[torch.arange(60), a_mapped], valid[torch.arange(60), a])
        out, out_mapped = ep.step(a), mapped.step(a_mapped)
        for x, y in zip(out, out_mapped):
            assert torch.equal(x, y)
        assert torch.equal(sym.images(ep.syndrome, g), mapped.syndrome)
        successes += int(out[3].sum())
    assert successes > 0


def test_symmetrized_decoder_is_invariant():
    torch.manual_seed(0)
    code = ToricCode(5)
    dec = DeepQDecoder(PerspectiveQNetwork(5, 4, channels=8, layers=2, hidden=16), code, "bitflip", symmetrize=True)
    sym = ToricSymmetries(dec.actions)
    syn, _ = code.sample("bitflip", 0.1, shots=20, seed=1)
    img = torch.as_tensor(code.syndrome_to_image(syn), dtype=torch.float32)
    q = dec.q_values(img)
    for g in range(8):
        gi = torch.full((20,), g)
        qg = dec.q_values(sym.images(img, gi))
        torch.testing.assert_close(qg[:, torch.as_tensor(sym.action_map[g])], q, rtol=1e-5, atol=1e-5)
    dec.symmetrize = False
    assert not torch.allclose(dec.q_values(sym.images(img, torch.full((20,), 1)))[:, torch.as_tensor(sym.action_map[1])],
                              dec.q_values(img), atol=1e-3)
    with pytest.raises(ConfigError, match="needs a qphys.rl.defect_actions.DefectActions"):
        ToricSymmetries(code)


def test_best_of_orientations_keeps_the_shortest_valid_episode(tmp_path):
    """With ``orientations`` the agent keeps, per shot, the fewest-flip episode of its 8 orientation
    episodes: every kept correction reproduces the syndrome, none is longer than any single orientation's
    episode (e.g. the plain greedy one), and the setting survives save/load."""
    dec = DeepQDecoder.load_shipped(5, "bitflip")
    dec.symmetrize = dec.orientations = False  # one plain greedy episode per orientation
    code, sym = dec.code, ToricSymmetries(dec.actions)
    syn, _ = code.sample("bitflip", 0.1, shots=300, seed=3)
    episodes = []
    for g in range(8):
        c_g, ok = dec.correction(syn[:, sym.stabilizer_src[g]])
        c = np.empty_like(c_g)
        c[:, sym.qubit_src[g]] = c_g
        np.testing.assert_array_equal(code.syndrome(c[ok]), syn[ok])
        episodes.append(np.where(ok, (c != 0).sum(1), 10**9))
    dec.orientations = True
    corr, solved = dec.correction(syn)
    assert solved.all()
    np.testing.assert_array_equal(code.syndrome(corr), syn)
    np.testing.assert_array_equal((corr != 0).sum(1), np.min(episodes, axis=0))
    assert ((corr != 0).sum(1) < episodes[0]).any()  # the ensemble shortens some plain greedy episodes
    back = DeepQDecoder.load(dec.save(tmp_path / "q.pt"))
    assert back.orientations and not back.symmetrize
    np.testing.assert_array_equal(back.predict(syn), dec.predict(syn))
