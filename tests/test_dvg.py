"""DVG (action-conditioned SVG-LP): shapes, the prior's causality, actions, the KL, gradients, overfitting."""
from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vidgen_lib.datasets import ActionShapes, apply_actions
from vidgen_lib.models import dvg, get


def tiny_config(**changes) -> dvg.Config:
    """A DVG small enough to train in seconds: 16x16 frames, 2 + 4 frames."""
    base = dict(frame_size=16, context=2, horizon=4, width=8, g_dim=16, z_dim=4, rnn_size=32,
                latent_rnn_size=16, batch_size=4, eval_videos=0, action_maps=True)
    return dvg.Config(**{**base, **changes})


def tiny_batch(config: dvg.Config, n: int = 4) -> dict[str, torch.Tensor]:
    data = ActionShapes("train", num_videos=n, num_frames=config.num_frames, frame_size=config.frame_size)
    return {"video": torch.stack([data[i]["video"] for i in range(n)]),
            "actions": torch.stack([data[i]["actions"] for i in range(n)])}


@pytest.fixture(scope="module")
def model() -> dvg.DVG:
    torch.manual_seed(0)
    return dvg.build(tiny_config()).eval()


def test_registered_and_presets_build():
    assert get("dvg") is dvg
    tutorial, full = dvg.Config.preset("tutorial"), dvg.Config.preset("full")
    assert (tutorial.frame_size, tutorial.context, tutorial.horizon, tutorial.beta) == (32, 2, 8, 1e-4)
    assert full.frame_size == 64
    dvg.build(full)
    with pytest.raises(ValueError, match="preset"):
        dvg.Config.preset("huge")


def test_forward_and_predict_shapes_and_ranges(model):
    c = model.config
    batch = tiny_batch(c)
    out = model(batch["video"], batch["actions"])
    assert out["recon"].shape == (4, 3, c.num_frames - 1, 16, 16)
    for key in ("mu_q", "logvar_q", "mu_p", "logvar_p"):
        assert out[key].shape == (4, c.num_frames - 1, c.z_dim)
    pred = dvg.predict(model, batch["video"][:, :, :2], 5, actions=torch.zeros(4, 6, dtype=torch.long), seed=0)
    assert pred.shape == (4, 3, 5, 16, 16)
    assert pred.min() >= 0 and pred.max() <= 1
    again = dvg.predict(model, batch["video"][:, :, :2], 5, actions=torch.zeros(4, 6, dtype=torch.long), seed=0)
    assert torch.equal(pred, again)  # a seed makes the draw of z repeatable
    with pytest.raises(ValueError, match="Tc - 1 \\+ horizon"):
        dvg.predict(model, batch["video"][:, :, :2], 5, actions=torch.zeros(4, 5, dtype=torch.long))


def test_prior_never_sees_the_current_frame(model):
    batch = tiny_batch(model.config)
    video, t = batch["video"], 3
    changed = video.clone()
    changed[:, :, t] = torch.rand_like(changed[:, :, t])
    a, b = model(video, batch["actions"]), model(changed, batch["actions"])
    # index t - 1 holds z_t: its prior sees frames < t only, its posterior sees frame t
    assert torch.allclose(a["mu_p"][:, : t], b["mu_p"][:, : t])
    assert torch.allclose(a["logvar_p"][:, : t], b["logvar_p"][:, : t])
    assert not torch.allclose(a["mu_q"][:, t - 1], b["mu_q"][:, t - 1])
    assert not torch.allclose(a["mu_p"][:, t], b["mu_p"][:, t])  # ... and the prior of z_{t+1} does see it


def test_the_prior_sees_the_action_of_its_step_and_none_later(model):
    batch = tiny_batch(model.config)
    changed = batch["actions"].clone()
    changed[:, 2] = (changed[:, 2] + 1) % 5  # a_3, the action that moves frame 2 to frame 3
    a, b = model(batch["video"], batch["actions"]), model(batch["video"], changed)
    assert torch.allclose(a["mu_p"][:, :2], b["mu_p"][:, :2])  # z_1, z_2 do not see a_3
    assert not torch.allclose(a["mu_p"][:, 2], b["mu_p"][:, 2])  # z_3's prior does
    assert torch.allclose(a["mu_q"], b["mu_q"])  # the posterior sees frames only


def test_a_changed_action_changes_the_prediction(model):
    batch = tiny_batch(model.config)
    context = batch["video"][:, :, :2]
    left = torch.full((4, 5), 3)
    right = torch.full((4, 5), 4)
    a = dvg.predict(model, context, 4, actions=left, seed=0)
    b = dvg.predict(model, context, 4, actions=right, seed=0)
    assert (a - b).abs().max() > 1e-4


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu_q, logvar_q, mu_p, logvar_p = torch.randn(4, 3, 5).unbind(0)  # each (3, 5)
    want = kl_divergence(Normal(mu_q, (0.5 * logvar_q).exp()), Normal(mu_p, (0.5 * logvar_p).exp())).sum(-1)
    assert torch.allclose(dvg.gaussian_kl(mu_q, logvar_q, mu_p, logvar_p), want, atol=1e-5)
    assert torch.allclose(dvg.gaussian_kl(mu_q, logvar_q, mu_q, logvar_q), torch.zeros(3), atol=1e-6)


def test_reparameterize_and_kl_weight():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.full((20000, 2), 1.5), torch.full((20000, 2), 2 * torch.log(torch.tensor(0.5)))
    z = dvg.reparameterize(mu, logvar, g)
    assert abs(z.mean().item() - 1.5) < 0.02 and abs(z.std().item() - 0.5) < 0.02
    assert [dvg.kl_weight(s, 1e-4, 100) for s in (0, 50, 100, 500)] == [0.0, 5e-5, 1e-4, 1e-4]
    assert dvg.kl_weight(0, 1e-4, 0) == 1e-4


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    m = dvg.build(tiny_config())
    batch = tiny_batch(m.config)
    dvg.dvg_loss(m(batch["video"], batch["actions"]), batch["video"], beta=1.0)["loss"].backward()
    missing = [name for name, p in m.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, missing


def test_a_tiny_model_overfits_a_tiny_batch():
    torch.manual_seed(0)
    m = dvg.build(tiny_config(lr=3e-3, warmup_steps=10))
    trainer = dvg.make_trainer(m, progress=False)
    batch = tiny_batch(m.config)
    losses = []
    for _ in range(60):
        values = dvg.training_step(m, trainer, batch)
        trainer.step += 1
        losses.append(values["recon_mse"])
    assert losses[-1] < 0.3 * losses[0], losses[::10]


def test_agent_centroids_follow_apply_actions():
    data = ActionShapes("test", num_videos=2, num_frames=6, frame_size=32)
    item = data[0]
    video, color = item["video"][None], item["color"][:1]
    found = dvg.agent_centroids(video, color)[0]  # (T, 2)
    positions = apply_actions(item["positions"][0], item["actions"], 32, data.shape_size, data.step)
    moves = found[1:] - found[:-1]
    assert torch.allclose(moves, positions[1:] - positions[:-1], atol=1e-4)  # the centroid moves with the agent
    assert dvg.position_error(video, video, color).item() == 0.0


def test_load_pretrained_with_a_missing_file_says_how_to_train(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m vidgen_lib train dvg"):
        dvg.load_pretrained(path=tmp_path / "nope.pt")


# --- the notebook's exercise checks ------------------------------------------------------------

def _stub(*args: object) -> None:
    raise NotImplementedError("Exercise 7.N: a stub")


def _predictor_input(h, z, action, num_actions):
    return torch.cat([h, z, dvg.action_one_hot(action, num_actions)], dim=-1)


SOLUTIONS = {"7.1": dvg.gaussian_kl, "7.2": lambda mu, logvar, eps: mu + torch.exp(0.5 * logvar) * eps,
             "7.4": dvg.kl_weight, "7.3": _predictor_input}


@pytest.mark.parametrize("exercise_id", sorted(SOLUTIONS))
def test_checks_pass_on_the_solution_and_report_a_stub(exercise_id, capsys):
    from vidgen_lib.exercises import EXERCISES, ExerciseError, load_all

    load_all()
    EXERCISES[exercise_id](SOLUTIONS[exercise_id])
    assert capsys.readouterr().out.startswith(f"✓ Exercise {exercise_id} passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        EXERCISES[exercise_id](_stub)


@pytest.mark.parametrize("exercise_id, mistake, message", [
    ("7.1", lambda mq, lq, mp, lp: dvg.gaussian_kl(mp, lp, mq, lq), "KL\\(p ‖ q\\)"),
    ("7.1", lambda mq, lq, mp, lp: 2 * dvg.gaussian_kl(mq, lq, mp, lp), "factor 1/2"),
    ("7.2", lambda mu, logvar, eps: mu + torch.exp(logvar) * eps, "standard deviation"),
    ("7.2", lambda mu, logvar, eps: (mu + torch.exp(0.5 * logvar) * eps).detach(), "no gradient"),
    ("7.4", lambda step, beta, warmup: beta * step / warmup, "cap it at beta"),
    ("7.4", lambda step, beta, warmup: beta, "switched off"),
    ("7.3", lambda h, z, a, n: torch.cat([z, h, dvg.action_one_hot(a, n)], -1), "order"),
    ("7.3", lambda h, z, a, n: torch.cat([h, z, a[:, None].float().repeat(1, n)], -1), "one_hot"),
])
def test_checks_name_typical_mistakes(exercise_id, mistake, message):
    from vidgen_lib.exercises import EXERCISES, ExerciseError, load_all

    load_all()
    with pytest.raises(ExerciseError, match=message):
        EXERCISES[exercise_id](mistake)
