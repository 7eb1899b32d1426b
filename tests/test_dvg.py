"""DVG (action-conditioned SVG-LP): shapes, the prior's causality, actions, the KL, free bits, gradients,
overfitting, predict's input checks, the recipe, the random distractor, the measurements of
``evaluation.dvg``, and the shipped model's samples."""
from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

import vidgen_lib
from vidgen_lib import evaluation
from vidgen_lib.checkpoints import read_card
from vidgen_lib.datasets import ActionShapes, apply_actions
from vidgen_lib.datasets.base import bounce_in_box
from vidgen_lib.datasets.shapes import RGB
from vidgen_lib.evaluation import dvg as dvg_eval
from vidgen_lib.models import dvg, get
from vidgen_lib.nn.gaussian import reparameterize
from vidgen_lib.train import Trainer


def tiny_config(**changes) -> dvg.Config:
    """A DVG small enough to train in seconds: 16x16 frames, 2 + 4 frames."""
    base = {"frame_size": 16, "context": 2, "horizon": 4, "width": 8, "g_dim": 16, "z_dim": 4, "rnn_size": 32,
            "latent_rnn_size": 16, "batch_size": 4, "eval_videos": 0, "action_maps": True, "z_maps": True}
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
    stay = torch.zeros(4, 6, dtype=torch.long)
    pred = dvg.predict(model, batch["video"][:, :, :2], 5, actions=stay, seed=0)
    assert pred.shape == (4, 3, 5, 16, 16)
    assert pred.min() >= 0 and pred.max() <= 1
    again = dvg.predict(model, batch["video"][:, :, :2], 5, actions=stay, seed=0)
    assert torch.equal(pred, again)  # a seed makes the draw of z repeatable
    with pytest.raises(ValueError, match="Tc - 1 \\+ horizon"):
        dvg.predict(model, batch["video"][:, :, :2], 5, actions=torch.zeros(4, 5, dtype=torch.long))
    context, horizon, task = dvg.prediction_task(model, 3)
    assert context.shape == (3, 3, c.context, 16, 16) and horizon.shape == (3, 3, c.horizon, 16, 16)
    assert dvg.predict(model, context, c.horizon, **task).shape == horizon.shape
    with pytest.raises(ValueError, match="n must be a positive"):
        dvg.prediction_task(model, 0)


@pytest.mark.parametrize("change, message", [
    ({"horizon": 0}, "horizon must be a positive"),
    ({"context": torch.rand(2, 3, 2, 16, 16) * 2}, "context must be .* values in \\[0, 1\\]"),
    ({"context": torch.rand(2, 3, 16, 16)}, "context must be .* 4 dimensions"),
    ({"context": torch.rand(2, 1, 2, 16, 16)}, "context must be 3 channels, .* got 1 channels"),
    ({"context": torch.rand(2, 3, 2, 32, 32)}, "must have 16x16 frames .* got 32x32"),
    ({"actions": torch.zeros(2, 4)}, "integer tensor .*float32"),
    ({"actions": torch.zeros(2, 4, dtype=torch.bool)}, "integer tensor"),
    ({"actions": [0, 1, 2, 3]}, "integer tensor"),
    ({"actions": torch.full((2, 4), 9)}, "in \\[0, 5\\) .* got values in \\[9, 9\\]"),
    ({"actions": torch.full((2, 4), -1)}, "in \\[0, 5\\)"),
])
def test_predict_names_what_it_expected(model, change, message):
    args = {"context": torch.rand(2, 3, 2, 16, 16), "horizon": 3,
            "actions": torch.zeros(2, 4, dtype=torch.long), **change}
    with pytest.raises(ValueError, match=message):
        dvg.predict(model, args["context"], args["horizon"], actions=args["actions"])
    assert not model.training  # eval mode kept (and restored on error)


def test_predict_restores_training_mode_and_accepts_any_integer_dtype():
    m = dvg.build(tiny_config()).train()
    actions = torch.zeros(2, 4, dtype=torch.int32)
    pred = dvg.predict(m, torch.rand(2, 3, 2, 16, 16), 3, actions=actions, seed=0)
    assert pred.shape == (2, 3, 3, 16, 16) and m.training


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


def test_z_reaches_the_decoder_through_its_maps(model):
    batch = tiny_batch(model.config)
    h, skips = model.encode(batch["video"])
    skip = [s[:, 0] for s in skips]
    g, action = torch.zeros(4, model.config.g_dim), batch["actions"][:, 0]
    z = torch.zeros(4, model.config.z_dim)
    with torch.no_grad():
        a = model.decoder(g, skip, model.decoder_maps(action, z))
        b = model.decoder(g, skip, model.decoder_maps(action, z + 1))  # same g: only the maps differ
    assert (a - b).abs().max() > 1e-4
    assert model.decoder_maps(action, z).shape == (4, 5 + model.config.z_dim)


def test_free_bits_charge_at_least_lambda_per_dim_and_step():
    torch.manual_seed(0)
    video = torch.rand(3, 3, 5, 8, 8)
    # each (B, T-1, z_dim)
    mu_q, logvar_q, mu_p, logvar_p = (torch.randn(3, 4, 2, requires_grad=True) for _ in range(4))
    out = {"recon": video[:, :, 1:].clone(), "mu_q": mu_q, "logvar_q": logvar_q, "mu_p": mu_q,
           "logvar_p": logvar_q}
    free = dvg.dvg_loss(out, video, beta=2.0, free_bits=0.25)  # posterior = prior: KL 0; perfect recon
    assert free["kl"].item() == 0 and free["recon_mse"].item() == 0
    assert free["loss"].item() == pytest.approx(2.0 * 0.25 * 4 * 2)  # lambda for each of 4 steps x 2 dims

    def grads(free_bits: float, shift: float) -> tuple[torch.Tensor, torch.Tensor]:
        out.update(mu_p=mu_p + shift, logvar_p=logvar_p)
        loss = dvg.dvg_loss(out, video, beta=2.0, free_bits=free_bits)["loss"]
        return torch.autograd.grad(loss, [mu_q, mu_p])

    # a large KL: free bits change nothing
    assert all(torch.allclose(a, b) for a, b in zip(grads(0.0, 3.0), grads(0.25, 3.0)))
    # a KL below lambda: nothing pulls the posterior, but the prior still learns to match it
    with torch.no_grad():
        mu_p.copy_(mu_q + 0.05)
        logvar_p.copy_(logvar_q)
    to_q, to_p = grads(0.25, 0.0)
    assert to_q.abs().max() == 0 and to_p.abs().max() > 0
    assert torch.allclose(to_p, grads(0.0, 0.0)[1])


def test_the_loss_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu_q, logvar_q, mu_p, logvar_p = torch.randn(4, 3, 5, 2).unbind(0)  # each (B, T-1, z_dim)
    video = torch.rand(3, 3, 6, 8, 8)
    out = {"recon": video[:, :, 1:], "mu_q": mu_q, "logvar_q": logvar_q, "mu_p": mu_p, "logvar_p": logvar_p}
    want = kl_divergence(Normal(mu_q, (0.5 * logvar_q).exp()), Normal(mu_p, (0.5 * logvar_p).exp()))
    assert torch.allclose(dvg.dvg_loss(out, video, beta=1.0)["kl"], want.sum(dim=(1, 2)).mean(), atol=1e-5)


def test_reparameterize_and_kl_weight():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.full((20000, 2), 1.5), torch.full((20000, 2), 2 * torch.log(torch.tensor(0.5)))
    z = reparameterize(mu, logvar, g)  # the sample DVG draws z_t with
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
    optimizer = torch.optim.Adam(m.parameters(), lr=m.config.lr)
    trainer = Trainer({"model": m}, {"model": optimizer}, grad_clip=1.0, device=torch.device("cpu"),
                      progress=False)
    batch = tiny_batch(m.config)
    mse = []
    for _ in range(60):
        values = dvg.training_step(m, trainer, batch)
        trainer.step += 1
        mse.append(values["recon_mse"])
    assert mse[-1] < 0.3 * mse[0], mse[::10]


def test_train_runs_the_recipe(tmp_path):
    model, metrics = dvg.train(tiny_config(num_videos=8), steps=2, run_dir=tmp_path, progress=False)
    assert not model.training and metrics["steps"] == 2
    assert set(metrics) == {"final/recon_mse", "final/kl", "steps", "train_wall_time_s"}
    _, again = dvg.train(tiny_config(num_videos=8), steps=10, run_dir=tmp_path, progress=False,
                         time_limit_s=0)
    assert again["steps"] == 3  # resumed at step 2, stopped after the first step past the time limit


def test_agent_centroids_follow_apply_actions():
    data = ActionShapes("test", num_videos=2, num_frames=6, frame_size=32)
    item = data[0]
    video, color = item["video"][None], item["color"][:1]
    found = dvg_eval.agent_centroids(video, color)[0]  # (T, 2)
    positions = apply_actions(item["positions"][0], item["actions"], 32, data.shape_size, data.step)
    moves = found[1:] - found[:-1]
    assert torch.allclose(moves, positions[1:] - positions[:-1], atol=1e-4)  # the centroid moves with it
    assert dvg_eval.position_error(video, video, color).item() == 0.0


def test_the_turning_distractor_is_an_option_and_repeatable():
    plain = ActionShapes("test", num_videos=8, num_frames=12, frame_size=32)
    room = 32 - plain.shape_size
    path = next(p for p in (plain[i]["distractor_positions"].double() for i in range(8))
                if ((p[0] > 2) & (p[0] < room - 2)).all())  # (T, 2), far from the walls: no bounce at once
    straight, _ = bounce_in_box(path[0].numpy(), (path[1] - path[0]).numpy(), 12, room)
    assert torch.allclose(path, torch.from_numpy(straight), atol=1e-4)  # default: one straight bouncing path
    turning = ActionShapes("test", num_videos=2, num_frames=12, frame_size=32, distractor_turn_prob=1.0)
    item = turning[0]
    moves = item["distractor_positions"].diff(dim=0)
    assert (moves.norm(dim=-1) <= 2.0 + 1e-4).all()  # never faster than its speed (slower where it bounces)
    free = moves[(moves.norm(dim=-1) - 2.0).abs() < 1e-4] / 2.0  # unit directions of moves without a bounce
    assert (free.abs() - free[0].abs()).abs().max() > 0.1  # ... not one velocity with reflected signs
    again = turning.with_actions(0, torch.zeros(11, dtype=torch.long))
    assert torch.equal(again["distractor_positions"], item["distractor_positions"])  # actions do not move it
    assert torch.equal(plain[1]["video"], ActionShapes("test", num_videos=8, num_frames=12, frame_size=32,
                                                       distractor_turn_prob=0.0)[1]["video"])
    with pytest.raises(ValueError, match="distractor_turn_prob"):
        ActionShapes("test", num_videos=2, distractor_turn_prob=1.5)


def test_diversity_is_zero_for_identical_samples_and_sees_a_moved_distractor():
    config = tiny_config(frame_size=32)
    batch = dvg_eval.heldout_batch(config, 3)
    future = batch["video"][:, :, config.context:]
    same = dvg_eval.diversity(torch.stack([future, future]), batch)
    assert same["spread_px/agent"] == 0 and same["spread_px/distractor"] == 0
    assert same["distractor_error_px/one_sample"] == pytest.approx(0, abs=1e-5)
    assert same["distractor_error_px/best_of_k"] == same["distractor_error_px/one_sample"]
    data = dvg.training_data(config, "test", 3)
    shifted = future.clone()
    for i in range(3):  # erase the distractor (where the agent is not) in the second sample
        masks = data[i]["masks"][config.context:]
        shifted[i][:, masks == 2] = 0
    diverse = dvg_eval.diversity(torch.stack([future, shifted]), batch)
    assert diverse["spread_px/agent"] == 0 and diverse["spread_px/distractor"] > 0
    assert diverse["distractor_error_px/best_of_k"] < diverse["distractor_error_px/one_sample"]


def test_the_shipped_model_is_stochastic_and_follows_the_actions():
    model = dvg.load_pretrained()
    batch = dvg_eval.heldout_batch(model.config, 32)
    found = dvg_eval.diversity(dvg_eval.sample_futures(model, batch, k=4, seed=0), batch)
    assert found["spread_px/distractor"] > 0.5  # samples under the same actions differ ...
    # ... and one can be right
    assert found["distractor_error_px/best_of_k"] < found["distractor_error_px/one_sample"]
    preds = dvg_eval.baseline_predictions(model, batch, seed=0)
    future = batch["video"][:, :, model.config.context:]
    errors = {name: dvg_eval.position_error(pred, future, batch["color"]).mean().item()
              for name, pred in preds.items()}
    assert errors["dvg"] < errors["copy_last"] and errors["dvg"] < 0.7 * errors["random_actions"], errors
    torch.manual_seed(0)
    with torch.no_grad():
        post = model(batch["video"], batch["actions"])
        prior = model(batch["video"], batch["actions"], use_prior=True)
    kl = dvg.dvg_loss(post, batch["video"], beta=0.0)["kl"]
    assert kl > 1.0  # nats per clip: the posterior did not collapse onto the prior ...
    mse = [dvg.dvg_loss(out, batch["video"], beta=0.0)["recon_mse"] for out in (post, prior)]
    assert mse[0] < mse[1]  # ... and what z learned from frame t helps the decoder


def test_evaluate_gives_the_cards_metric_keys():
    model = dvg.load_pretrained()
    found = evaluation.evaluate("dvg", model, 3, seed=0)
    card = read_card(vidgen_lib.CHECKPOINT_DIR / "dvg.pt")
    assert set(found) == {k for k in card["metrics"] if not k.startswith("final/")}
    assert found["eval_videos"] == 3 and found["samples_k"] == 8
    assert dvg_eval.evaluate(model, 3, seed=0, k=2)["samples_k"] == 2
    with pytest.raises(ValueError, match="n must be a positive"):
        dvg_eval.evaluate(model, 0)


def test_load_pretrained_with_a_missing_file_says_how_to_train(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m vidgen_lib train dvg"):
        dvg.load_pretrained(path=tmp_path / "nope.pt")


# --- the notebook's exercise checks ------------------------------------------------------------

def _stub(*args: object) -> None:
    raise NotImplementedError("Exercise 7.N: a stub")


def _predictor_input(h, z, action, num_actions):
    return torch.cat([h, z, dvg.action_one_hot(action, num_actions)], dim=-1)


def _charged_kl(kl, free_bits):
    return kl.mean(dim=0).clamp(min=free_bits).sum()


def _centroid(video, rgb):
    """The agent's centroid through the library's measurement, from its colour index."""
    index = (torch.as_tensor(RGB)[None] == rgb[:, None]).all(-1).float().argmax(-1)
    return dvg_eval.agent_centroids(video, index)


SOLUTIONS = {"7.1": _charged_kl, "7.2": _predictor_input, "7.3": dvg.kl_weight, "7.5": _centroid}


@pytest.mark.parametrize("exercise_id", sorted(SOLUTIONS))
def test_checks_pass_on_the_solution_and_report_a_stub(exercise_id, capsys):
    from vidgen_lib.exercises import EXERCISES, ExerciseError, load_all

    load_all()
    EXERCISES[exercise_id](SOLUTIONS[exercise_id])
    assert capsys.readouterr().out.startswith(f"✓ Exercise {exercise_id} passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        EXERCISES[exercise_id](_stub)


@pytest.mark.parametrize("exercise_id, mistake, message", [
    ("7.1", lambda kl, free_bits: kl.clamp(min=free_bits).mean(dim=0).sum(), "before averaging"),
    ("7.1", lambda kl, free_bits: kl.sum(dim=0).clamp(min=free_bits).sum(), "do not sum it"),
    ("7.2", lambda h, z, a, n: torch.cat([z, h, dvg.action_one_hot(a, n)], -1), "order"),
    ("7.2", lambda h, z, a, n: torch.cat([h, z, a[:, None].float().repeat(1, n)], -1), "one_hot"),
    ("7.3", lambda step, beta, warmup: beta * step / warmup, "cap it at beta"),
    ("7.3", lambda step, beta, warmup: beta, "switched off"),
    ("7.5", lambda video, rgb: _centroid(video, rgb).flip(-1), "swapped"),
])
def test_checks_name_typical_mistakes(exercise_id, mistake, message):
    from vidgen_lib.exercises import EXERCISES, ExerciseError, load_all

    load_all()
    with pytest.raises(ExerciseError, match=message):
        EXERCISES[exercise_id](mistake)


def test_a_prior_that_does_not_see_the_action_gives_the_same_z_under_any_action():
    """``prior_sees_action=False`` is SVG-LP's prior p(z_t | x_<t): the action reaches only the predictor."""
    torch.manual_seed(0)
    h, stay, turn = torch.randn(3, 16), torch.zeros(3, dtype=torch.long), torch.full((3,), 2)
    for sees, same in [(False, True), (True, False)]:
        prior = dvg.build(tiny_config(prior_sees_action=sees)).eval()
        state = prior.prior.initial_state(3, h)
        with torch.no_grad():
            mu_stay, mu_turn = prior.prior_step(h, stay, state)[0], prior.prior_step(h, turn, state)[0]
        assert torch.equal(mu_stay, mu_turn) == same
