"""TD-VAE (vidgen_lib.models.tdvae, its measurements in vidgen_lib.evaluation.tdvae): the loss, time
sampling, causality, gradients, overfitting, rollouts, training, bad input, the card's numbers, checks."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.distributions import Bernoulli, Normal

import vidgen_lib
from vidgen_lib import evaluation, models
from vidgen_lib.checkpoints import read_card
from vidgen_lib.datasets.shifting import ShiftingDigits, fit_sinusoid, oscillator_batch, roll_frames
from vidgen_lib.evaluation import tdvae as tdvae_eval
from vidgen_lib.exercises import ExerciseError, load_all
from vidgen_lib.models import tdvae

EXERCISES = load_all()


def small_config(**kw) -> tdvae.Config:
    base = dict(frame_size=8, num_frames=6, pre_hidden=16, belief_size=12, z_dim=3, hidden=10,
                decoder_hidden=16, max_jump=3, batch_size=4,
                analytic_kl=False, pairs_per_sequence=1)  # Eq. 6 as written: sampled KL terms, one pair
    return tdvae.Config(**{**base, **kw})


def test_registered_with_the_uniform_api() -> None:
    assert models.get("tdvae") is tdvae and evaluation.for_model("tdvae") is tdvae_eval
    assert tdvae.Config.preset("tutorial").steps > 0
    with pytest.raises(ValueError, match="Unknown preset"):
        tdvae.Config.preset("huge")


def test_loss_equals_a_hand_computed_value() -> None:
    """All weights zero, output biases set: every distribution is a known constant Gaussian; noise = 0."""
    config = small_config(num_layers=1, jump_input=False)
    model = tdvae.build(config)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.belief.heads[0].mu.bias.fill_(0.5)  # p_B = N(0.5, 1)
        model.smoothing.heads[0].mu.bias.fill_(-0.3)  # q_S = N(-0.3, 0.25)
        model.smoothing.heads[0].logvar.bias.fill_(torch.log(torch.tensor(0.25)).item())
        model.transition.heads[0].mu.bias.fill_(1.0)  # p_T = N(1, 4)
        model.transition.heads[0].logvar.bias.fill_(torch.log(torch.tensor(4.0)).item())
        model.decoder[-1].bias.fill_(0.2)  # p_D = Bernoulli(logit 0.2) per pixel
    x = (torch.rand(2, 6, 64, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    t1, t2 = torch.tensor([0, 2]), torch.tensor([2, 5])
    zeros = torch.zeros(2, 3)
    out = tdvae.tdvae_loss(model, x, t1, t2, noise=(zeros, zeros))
    z2, z1 = torch.full((3,), 0.5), torch.full((3,), -0.3)  # noise 0: each sample is its mean
    recon = -Bernoulli(logits=torch.full((64,), 0.2)).log_prob(x[torch.arange(2), t2]).sum(-1)  # (2,)
    log_q = Normal(-0.3, 0.5).log_prob(z1).sum()
    log_pb1 = Normal(0.5, 1.0).log_prob(z1).sum()
    log_pt = Normal(1.0, 2.0).log_prob(z2).sum()
    log_pb2 = Normal(0.5, 1.0).log_prob(z2).sum()
    want = (recon - log_pb1 - log_pt + log_pb2 + log_q).mean()
    assert torch.allclose(out["loss"], want, atol=1e-4)
    assert torch.allclose(out["kl_smoothing"], log_q - log_pb1, atol=1e-5)
    assert torch.allclose(out["kl_transition"], log_pb2 - log_pt, atol=1e-5)
    assert torch.allclose(out["recon_nll"], recon.mean(), atol=1e-4)


@pytest.mark.parametrize("T, D", [(20, 4), (5, 4), (12, 1)])
def test_time_pairs_stay_in_range(T: int, D: int) -> None:
    t1, t2 = tdvae.sample_time_pairs(5000, T, D, generator=torch.Generator().manual_seed(0))
    dt = t2 - t1
    assert dt.min() == 1 and dt.max() == D
    assert t1.min() == 0 and t2.max() == T - 1 and (t2 <= T - 1).all()


def test_long_jumps_reach_their_range() -> None:
    t1, t2 = tdvae.sample_time_pairs(5000, 80, 10, long_jump_prob=0.2, long_max_jump=40,
                                     generator=torch.Generator().manual_seed(0))
    dt = t2 - t1
    assert dt.min() >= 1 and dt.max() == 40 and (t2 <= 79).all()
    assert 0.05 < (dt > 10).float().mean() < 0.2


def test_belief_at_t_depends_only_on_frames_up_to_t() -> None:
    torch.manual_seed(0)
    model = tdvae.build(small_config()).eval()
    x = torch.rand(2, 6, 64)
    changed = x.clone()
    changed[:, 4] = torch.rand(2, 64)
    before, after = model.beliefs(x), model.beliefs(changed)
    assert torch.allclose(before[:, :4], after[:, :4])
    assert not torch.allclose(before[:, 4:], after[:, 4:])


def test_belief_rnn_runs_only_to_the_last_t2() -> None:
    torch.manual_seed(0)
    model = tdvae.build(small_config())
    seen = []
    model.belief_rnn.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape[1]))
    tdvae.tdvae_loss(model, torch.rand(2, 6, 64), torch.tensor([0, 1]), torch.tensor([2, 3]))
    assert seen == [4]


@pytest.mark.parametrize("num_layers", [1, 2])
def test_gradients_reach_every_parameter(num_layers: int) -> None:
    torch.manual_seed(0)
    model = tdvae.build(small_config(num_layers=num_layers))
    x = (torch.rand(4, 6, 64) > 0.5).float()
    tdvae.tdvae_loss(model, x, torch.tensor([0, 1, 2, 0]), torch.tensor([1, 3, 5, 3]))["loss"].backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


def test_overfits_a_tiny_batch() -> None:
    torch.manual_seed(0)
    model = tdvae.build(small_config())
    sprites = torch.zeros(2, 8, 8)
    sprites[0, :, :3] = 1  # a vertical bar (moves right) ...
    sprites[1, :4, :] = 1  # ... and a horizontal band (moves left: looks static)
    x = tdvae.flatten_video(roll_frames(sprites, torch.tensor([1, -1]), 6))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    t1, t2 = torch.tensor([0, 2]), torch.tensor([3, 4])
    losses = []
    for _ in range(100):
        loss = tdvae.tdvae_loss(model, x, t1, t2)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.4 * losses[0]


def test_pairs_per_sequence_average_the_single_pair_losses() -> None:
    """K pairs per sequence (one belief run) give the mean of the K single-pair losses, draw for draw."""
    torch.manual_seed(0)
    model = tdvae.build(small_config())
    x = (torch.rand(2, 6, 64) > 0.5).float()
    t1, t2 = torch.tensor([[0, 2, 1], [3, 0, 1]]), torch.tensor([[1, 5, 4], [5, 3, 2]])
    noise = (torch.randn(6, 6), torch.randn(6, 6))  # rows ordered (sequence, pair)
    both = tdvae.tdvae_loss(model, x, t1, t2, noise=noise)
    singles = [tdvae.tdvae_loss(model, x, t1[:, k], t2[:, k], noise=(noise[0][k::3], noise[1][k::3]))
               for k in range(3)]
    for name in ("loss", "recon_nll", "kl_smoothing", "kl_transition"):
        assert torch.allclose(both[name], torch.stack([s[name] for s in singles]).mean(), atol=1e-5)


def test_analytic_kl_has_the_sampled_terms_expectation() -> None:
    """Closed-form KL terms equal the single-sample estimates averaged over many draws, with less spread."""
    torch.manual_seed(0)
    sampled = tdvae.build(small_config())
    analytic = tdvae.build(small_config(analytic_kl=True))
    analytic.load_state_dict(sampled.state_dict())
    x = (torch.rand(1, 6, 64) > 0.5).float().expand(20_000, -1, -1)
    t1, t2 = torch.full((20_000,), 1), torch.full((20_000,), 4)
    with torch.no_grad():
        torch.manual_seed(1)
        a = tdvae.tdvae_loss(analytic, x, t1, t2)
        torch.manual_seed(1)
        s = tdvae.tdvae_loss(sampled, x, t1, t2)
    for name in ("kl_smoothing", "kl_transition", "loss"):
        assert abs(float(a[name] - s[name])) < 0.05, name
    assert torch.equal(a["recon_nll"], s["recon_nll"])  # the same draws of z_t2


def test_residual_transition_predicts_a_change_of_state() -> None:
    config = small_config(residual_transition=True)
    model = tdvae.build(config)
    with torch.no_grad():
        for p in model.transition.parameters():
            p.zero_()
    z = torch.randn(4, config.latent_size)
    cond = torch.cat([z, *model.jump_code(torch.tensor([1, 2, 3, 1]))], -1)
    _, mu, logvar = model.transition.sample(cond)
    assert torch.allclose(mu, z) and torch.equal(logvar, torch.zeros_like(logvar))  # head output 0: no change
    plain = tdvae.build(small_config())
    with torch.no_grad():
        for p in plain.transition.parameters():
            p.zero_()
    assert torch.equal(plain.transition.sample(cond)[1], torch.zeros_like(z))


def test_jump_codes() -> None:
    dt = torch.tensor([1, 3, 5])
    assert torch.allclose(tdvae.build(small_config(max_jump=5)).jump_code(dt)[0][:, 0], dt / 5)
    code = tdvae.build(small_config(jump_one_hot=6)).jump_code(dt)[0]
    assert code.shape == (3, 6) and torch.equal(code.argmax(-1), dt - 1)
    assert torch.equal(code.sum(-1), torch.ones(3))
    assert tdvae.build(small_config(jump_input=False)).jump_code(dt) == []
    with pytest.raises(ValueError, match="jumps of 1..6"):
        tdvae.build(small_config(jump_one_hot=6)).jump_code(torch.tensor([7]))


def test_predict_shapes_range_and_seed() -> None:
    torch.manual_seed(0)
    model = tdvae.build(small_config()).eval()
    context = torch.rand(3, 1, 4, 8, 8)
    out = tdvae.predict(model, context, 5, jump=2, seed=1)
    assert out.shape == (3, 1, 5, 8, 8)
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, tdvae.predict(model, context, 5, jump=2, seed=1))
    assert not torch.equal(out, tdvae.predict(model, context, 5, jump=2, seed=2))


def test_a_seeded_rollout_leaves_the_global_generator_alone() -> None:
    torch.manual_seed(0)
    model = tdvae.build(small_config()).train()
    x = torch.rand(2, 4, 64)
    state = torch.get_rng_state()
    out = tdvae.rollout(model, x, [1, 2], seed=5)
    assert torch.equal(torch.get_rng_state(), state) and model.training  # its mode is restored too
    torch.manual_seed(5)  # the same draws as the global generator seeded alike, in the same order
    assert torch.equal(out, tdvae.rollout(model, x, [1, 2]))
    with pytest.raises(ValueError, match="jumps"):
        tdvae.rollout(model, x, [])


@pytest.mark.parametrize("bad, message", [
    (dict(horizon=0), "horizon"),
    (dict(jump=0), "jump"),
    (dict(context=torch.rand(2, 1, 4, 8, 8) * 2 - 1), r"\[0, 1\]"),
    (dict(context=torch.rand(2, 4, 8, 8)), "shape"),
    (dict(context=torch.rand(2, 3, 4, 8, 8)), "grey"),
    (dict(context=torch.rand(2, 1, 4, 32, 32)), "8x8"),
])
def test_predict_names_what_is_wrong(bad: dict, message: str) -> None:
    model = tdvae.build(small_config())
    args = {"context": torch.rand(2, 1, 4, 8, 8), "horizon": 3, "jump": 1, **bad}
    with pytest.raises(ValueError, match=message):
        tdvae.predict(model, args["context"], args["horizon"], jump=args["jump"])


def test_predict_sends_an_oscillator_model_to_rollout() -> None:
    with pytest.raises(ValueError, match="rollout"):
        tdvae.predict(tdvae.build(tdvae.Config.preset("oscillator")), torch.rand(1, 1, 4, 28, 28), 2)


def test_train_runs_the_shared_recipe() -> None:
    config = dataclasses.replace(tdvae.Config.preset("oscillator"), pre_hidden=8, belief_size=8, batch_size=4)
    model, metrics = tdvae.train(config, 3, progress=False)
    assert not model.training and metrics["steps"] == 3
    assert set(metrics) == {"final/loss", "final/recon_nll", "final/kl_smoothing", "final/kl_transition",
                            "steps", "train_wall_time_s"}
    _, metrics = tdvae.train(config, 50, progress=False, time_limit_s=0)
    assert metrics["steps"] == 1  # stopped by the time limit after its first step


def test_load_pretrained_with_a_missing_file_says_how_to_train(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="python -m vidgen_lib train tdvae"):
        tdvae.load_pretrained(path=tmp_path / "nothing.pt")


# --- data and measurements ---------------------------------------------------------------------

def test_shifting_digits_roll_one_pixel_per_frame() -> None:
    data = ShiftingDigits("test", num_videos=4, num_frames=5)
    item = data[2]
    video = item["video"][0]
    assert video.shape == (5, 28, 28) and set(video.unique().tolist()) <= {0.0, 1.0}
    for t in range(4):
        assert torch.equal(video[t + 1], torch.roll(video[t], item["direction"], dims=-1))
    assert torch.equal(data[2]["video"], item["video"])  # a pure function of the index


def test_shift_estimate_and_direction_score() -> None:
    frames = torch.rand(3, 12, 12)
    assert tdvae_eval.shift_between(frames, torch.roll(frames, 2, dims=-1)).tolist() == [2, 2, 2]
    assert tdvae_eval.shift_between(frames, frames).tolist() == [0, 0, 0]
    clf = nn.Sequential(nn.Flatten(), nn.Linear(144, 10))
    context = torch.rand(3, 1, 2, 12, 12)
    future = roll_frames(context[:, 0, -1], torch.tensor([-1, 1, 1]), 4)[:, :, 1:]
    scores = tdvae_eval.identity_and_direction(context, future, torch.zeros(3, dtype=torch.long),
                                               torch.tensor([-1, 1, -1]), clf)
    assert scores["direction"] == pytest.approx(2 / 3)


def test_oscillator_fit_recovers_frequency_and_amplitude() -> None:
    data = oscillator_batch(4, 60, generator=torch.Generator().manual_seed(0), obs_noise=0.0, phase_noise=0.0)
    omega, amplitude = fit_sinusoid(data["x"][..., 0])
    assert torch.allclose(omega, data["omega"], atol=0.005)
    assert torch.allclose(amplitude, data["amplitude"], atol=0.02)


# --- exercise checks ---------------------------------------------------------------------------

def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 6.N: a stub")


@pytest.mark.parametrize("exercise_id", ["6.1", "6.2", "6.4"])
def test_checks_report_a_stub(exercise_id: str) -> None:
    with pytest.raises(ExerciseError, match="not implemented yet"):
        EXERCISES[exercise_id](stub)


def test_check_6_1(capsys) -> None:
    EXERCISES["6.1"](lambda n, T, D: tdvae.sample_time_pairs(n, T, D))
    assert "✓" in capsys.readouterr().out

    def zero_jumps(n, T, D):
        dt = torch.randint(0, D + 1, (n,))
        t1 = (torch.rand(n) * (T - dt)).long()
        return t1, t1 + dt

    with pytest.raises(ExerciseError, match="at least"):
        EXERCISES["6.1"](zero_jumps)


def test_check_6_2(capsys) -> None:
    EXERCISES["6.2"](lambda pd, pb1, pt, pb2, qs: -(pd + pb1 + pt - pb2 - qs).mean())
    assert "✓" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="minus sign"):
        EXERCISES["6.2"](lambda pd, pb1, pt, pb2, qs: -(pd + pb1 + pt + pb2 + qs).mean())


def test_check_6_4(capsys) -> None:
    def mine(model, x, jumps, sample_transition=True):
        z = model.belief.sample(model.beliefs(x)[:, -1])[0]
        frames = []
        for dt in jumps:
            cond = torch.cat([z, *model.jump_code(torch.full((len(x),), dt))], -1)
            z = model.transition.sample(cond, None if sample_transition else torch.zeros_like(z))[0]
            frames.append(model.decode_mean(z))
        return torch.stack(frames, 1)

    EXERCISES["6.4"](mine)
    assert "✓" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="differ"):
        EXERCISES["6.4"](lambda model, x, jumps: mine(model, x, jumps, sample_transition=False))


def test_config_round_trips_through_a_card() -> None:
    config = tdvae.Config.preset("oscillator")
    assert tdvae.Config(**dataclasses.asdict(config)) == config


def test_oscillator_scores_of_a_perfect_rollout() -> None:
    data = oscillator_batch(50, 60, generator=torch.Generator().manual_seed(0), omega_range=(0.25, 0.35),
                            phase_noise=0.0)
    times = torch.arange(20, 60)
    clean = data["clean"][..., 0]
    result = {"observed": data["x"][:, :20, 0], "truth": clean, "times": times, "rollout": clean[:, times],
              "omega": data["omega"], "amplitude": data["amplitude"]}
    s = tdvae_eval.oscillator_scores(result)
    assert s["rmse/tdvae"] == 0 and s["rmse/zero"] > 0.4 and s["rmse/copy_last"] > 0.4
    assert s["omega_error/tdvae"] < 0.005 and s["amplitude_error/tdvae"] < 0.02
    assert s["amplitude_corr/tdvae"] > 0.99
    assert abs(s["omega/tdvae"] - float(data["omega"].mean())) < 0.005


def test_linear_probe_r2() -> None:
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(400, 5, generator=gen)
    targets = torch.stack([features @ torch.arange(5.0) + 2, torch.randn(400, generator=gen)], dim=1)
    r2 = tdvae_eval.linear_probe_r2(features[:300], targets[:300], features[300:], targets[300:])
    assert r2[0] > 0.999 and abs(float(r2[1])) < 0.1


def test_direct_rollouts_jump_once_from_the_same_state() -> None:
    torch.manual_seed(0)
    model = tdvae.build(dataclasses.replace(tdvae.Config.preset("oscillator"), pre_hidden=8, belief_size=8))
    direct = tdvae_eval.oscillator_rollouts(model, 3, context=6, first_jump=2, unit_steps=3, mean=True,
                                            direct=True)
    for k in range(4):
        one = tdvae.rollout(model, direct["observed"][..., None], [2 + k], mean=True)[:, 0, 0]
        assert torch.allclose(direct["rollout"][:, k], one)
    chained = tdvae_eval.oscillator_rollouts(model, 3, context=6, first_jump=2, unit_steps=3, mean=True)
    assert torch.equal(chained["rollout"][:, 0], direct["rollout"][:, 0])  # the first jump is the same
    assert torch.equal(chained["truth"], direct["truth"]) and direct["rollout"].shape == (3, 4)
    assert set(tdvae_eval.oscillator_belief_probe(model, 40, context=6)) == {"x_now", "x_next", "amplitude"}
    scores = tdvae_eval.evaluate(model, 4)  # an oscillator model: the rollout scores
    assert scores["eval_videos"] == 4 and {"rmse/tdvae", "rmse/zero", "rmse/copy_last"} <= set(scores)


def test_evaluate_gives_the_cards_numbers_by_name() -> None:
    """On a few test videos, with a quickly trained classifier: the same keys as the shipped card."""
    model = tdvae.load_pretrained("cpu")
    classifier = tdvae_eval.train_digit_classifier(steps=20)
    scores = tdvae_eval.evaluate(model, 6, classifier=classifier, horizon=4)
    card = read_card(vidgen_lib.CHECKPOINT_DIR / "tdvae.pt")
    assert list(scores) == [k for k in card["metrics"] if not k.startswith("final/")]
    assert scores["direction/copy_last"] == 0 and scores["direction/truth"] == 1
    assert scores["eval_videos"] == 6
    assert scores["identity/copy_last"] == scores["identity/truth"]  # the last real frame, repeated
    with pytest.raises(ValueError, match="n must be"):
        tdvae_eval.evaluate(model, 0)


def test_classifier_training_is_seeded_and_leaves_the_global_generator_alone() -> None:
    state = torch.get_rng_state()
    a, b = tdvae_eval.train_digit_classifier(steps=2), tdvae_eval.train_digit_classifier(steps=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
