"""The interaction network (chapter 12): equivariance over balls, what edges let a ball see, one step and
rollouts against hand-computed states, rendering that reproduces the dataset, kinetic energy, position
error, gradients, overfitting, the predictor API and its input checks."""
from __future__ import annotations

import inspect

import pytest
import torch

from vidgen_lib.models import interaction_net as ig
from vidgen_lib.train import Trainer


def tiny_config(**changes) -> ig.Config:
    """A network small enough to train in seconds, on 8-frame clips of 16x16."""
    base = {"num_frames": 8, "frame_size": 16, "relation_width": 32, "effect_dim": 16, "object_width": 32,
            "batch_size": 4, "train_videos": 8, "eval_videos": 0}
    return ig.Config(**{**base, **changes})


def clips(config: ig.Config, n: int = 4, split: str = "train") -> dict[str, torch.Tensor]:
    """The first ``n`` clips of the config's world, stacked: video (n, 1, T, H, W), states (n, T, 3, 2)."""
    data = ig.dataset(config, split, n)
    items = [data[i] for i in range(n)]
    return {key: torch.stack([item[key] for item in items]) for key in ("video", "positions", "velocities")}


def random_state(b: int = 2, n: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, n, 2, generator=g) * 10, torch.randn(b, n, 2, generator=g) * 0.3


@pytest.fixture(scope="module", params=[True, False], ids=["edges", "no_edges"])
def model(request) -> ig.InteractionNetwork:
    torch.manual_seed(0)
    return ig.build(tiny_config(use_edges=request.param)).eval()


def test_the_model_api_signatures_and_presets():
    P, K, E = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty
    params = lambda fn: [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]  # noqa: E731
    assert params(ig.train) == [("config", P, E), ("steps", P, None), ("run_dir", K, None), ("seed", K, 0),
                                ("progress", K, True), ("time_limit_s", K, None)]
    assert params(ig.load_pretrained) == [("device", P, None), ("path", K, None)]
    assert params(ig.predict)[:4] == [("model", P, E), ("context", P, E), ("horizon", P, E),
                                      ("seed", K, None)]
    assert params(ig.prediction_task) == [("model", P, E), ("n", P, E)]
    for name in ("tutorial", "full"):
        config = ig.Config.preset(name)
        assert config.steps > 0 and config.eval_videos > 0 and config.num_balls == 3 and config.use_edges
        ig.build(config)
    with pytest.raises(ValueError, match="preset"):
        ig.Config.preset("huge")
    with pytest.raises(FileNotFoundError, match="train interaction_net"):
        ig.load_pretrained("cpu", path="no_such_checkpoint.pt")


def test_permuting_the_balls_permutes_the_predictions(model):
    positions, velocities = random_state(b=3, n=4)
    perm = torch.tensor([2, 0, 3, 1])
    out = model(positions, velocities)
    assert out.shape == (3, 4, 4)
    permuted = model(positions[:, perm], velocities[:, perm])
    torch.testing.assert_close(permuted, out[:, perm], rtol=0, atol=1e-6)


def test_effects_are_phi_r_summed_over_the_other_balls():
    torch.manual_seed(0)
    net = ig.build(tiny_config())
    objects = torch.randn(2, 3, 4)
    by_hand = torch.stack([sum(net.relation(torch.cat([objects[:, i], objects[:, j]], -1))
                               for j in range(3) if j != i) for i in range(3)], dim=1)  # Sec. 2, pair by pair
    torch.testing.assert_close(net.effects(objects), by_hand)


def test_without_edges_a_ball_ignores_the_others_and_with_edges_it_feels_a_close_one():
    positions = torch.tensor([[[5.0, 5.0], [5.0, 7.3], [2.0, 2.0]]])  # balls 0 and 1 almost touch
    velocities = torch.tensor([[[0.0, 0.3], [0.0, -0.3], [0.1, 0.1]]])
    moved = positions.clone()
    moved[0, 1] += torch.tensor([0.2, 0.1])  # only ball 1 moves
    torch.manual_seed(0)
    alone, pairs = ig.build(tiny_config(use_edges=False)), ig.build(tiny_config(use_edges=True))
    assert torch.equal(alone(moved, velocities)[:, [0, 2]], alone(positions, velocities)[:, [0, 2]])
    # An untrained network has no sense of distance yet: this checks that the edges carry ball 1's state to
    # ball 0 (about 1e-4 here, float round-off is about 1e-7); the chapter shows close against far, trained.
    change = (pairs(moved, velocities) - pairs(positions, velocities))[0, 0].abs().max()
    assert change > 1e-5
    assert not any(name.startswith("relation") for name, _ in alone.named_parameters())  # phi_O alone


def test_next_state_integrates_the_predicted_corrections_to_free_flight(model):
    positions, velocities = random_state()
    a, b = (model(positions, velocities) * model.config.speed).chunk(2, dim=-1)
    x, v = ig.next_state(model, positions, velocities)
    torch.testing.assert_close(x, positions + velocities + a)
    torch.testing.assert_close(v, velocities + b)


def test_the_loss_of_a_model_that_predicts_free_flight_is_what_free_flight_misses():
    config = tiny_config()
    batch = clips(config)
    net = ig.build(config)
    last = net.object[-1]
    torch.nn.init.zeros_(last.weight)  # phi_O outputs 0: the model is constant-velocity extrapolation
    torch.nn.init.zeros_(last.bias)
    x, v = batch["positions"], batch["velocities"]
    missed = torch.cat([x[:, 1:] - x[:, :-1] - v[:, :-1], v[:, 1:] - v[:, :-1]], dim=-1) / config.speed
    torch.testing.assert_close(ig.one_step_loss(net, x, v), (missed**2).mean())
    assert (missed != 0).any()  # the clips hold bounces, which free flight misses
    px, pv = ig.rollout(net, x[:, 0], v[:, 0], 3)
    cx, cv = ig.constant_velocity(x[:, 0], v[:, 0], 3)
    torch.testing.assert_close(px, cx)
    torch.testing.assert_close(pv, cv)
    torch.testing.assert_close(cx[:, 2], x[:, 0] + 3 * v[:, 0])


def test_rollout_shapes_and_its_first_step_is_one_model_step(model):
    positions, velocities = random_state(b=2, n=3)
    xs, vs = ig.rollout(model, positions, velocities, 5)
    assert xs.shape == vs.shape == (2, 5, 3, 2) and not xs.requires_grad
    x1, v1 = ig.next_state(model, positions, velocities)
    torch.testing.assert_close(xs[:, 0], x1.detach())
    torch.testing.assert_close(vs[:, 0], v1.detach())
    x2, _ = ig.next_state(model, x1, v1)
    torch.testing.assert_close(xs[:, 1], x2.detach())  # predictions are fed back
    with pytest.raises(ValueError, match="horizon"):
        ig.rollout(model, positions, velocities, 0)
    with pytest.raises(ValueError, match=r"\(B, num_balls, 2\)"):
        ig.rollout(model, positions[0], velocities[0], 3)


def test_rendering_the_true_states_gives_the_datasets_frames():
    config = tiny_config()
    batch = clips(config, 3, "test")
    video = ig.render(config, batch["positions"])
    assert video.shape == batch["video"].shape == (3, 1, 8, 16, 16) and video.dtype == torch.float32
    torch.testing.assert_close(video, batch["video"], rtol=0, atol=1e-4)


def test_prediction_task_and_predict(model):
    c = model.config
    context, future, condition = ig.prediction_task(model, 3)
    assert context.shape == (3, 1, c.context, 16, 16)
    assert future.shape == (3, 1, c.num_frames - c.context, 16, 16)
    assert condition["positions"].shape == condition["velocities"].shape == (3, 3, 2)
    test = clips(c, 3, "test")
    torch.testing.assert_close(condition["positions"], test["positions"][:, c.context - 1])
    state = torch.get_rng_state()
    prediction = ig.predict(model, context, future.shape[2], seed=0, **condition)
    assert torch.equal(torch.get_rng_state(), state)
    assert prediction.shape == future.shape and 0 <= prediction.min() and prediction.max() <= 1
    xs, _ = ig.rollout(model, condition["positions"], condition["velocities"], future.shape[2])
    torch.testing.assert_close(prediction, ig.render(c, xs))
    with pytest.raises(ValueError, match="n must be a positive"):
        ig.prediction_task(model, 0)


@pytest.mark.parametrize("change, message", [
    ({"horizon": 0}, "horizon must be a positive"),
    ({"context": lambda x: x * 2 - 1}, r"\[0, 1\]"),
    ({"context": lambda x: x.repeat(1, 2, 1, 1, 1)}, "grey"),
    ({"context": lambda x: torch.nn.functional.interpolate(x, scale_factor=(1, 2, 2))}, "frame"),
    ({"positions": lambda x: x[:2], "velocities": lambda x: x[:2]}, "one row per context clip"),
    ({"velocities": lambda x: x[:, :2]}, "same shape"),
])
def test_predict_names_what_is_wrong_with_bad_input(model, change, message):
    context, future, condition = ig.prediction_task(model, 3)
    args = {"context": context, "horizon": future.shape[2], **condition}
    for key, value in change.items():
        args[key] = value(args[key]) if callable(value) else value
    with pytest.raises(ValueError, match=message):
        ig.predict(model, **args)


def test_kinetic_energy_and_position_error_against_hand_computed_values():
    velocities = torch.tensor([[[3.0, 4.0], [1.0, 0.0]]])  # (1, n=2, 2)
    assert ig.kinetic_energy(velocities).tolist() == [13.0]  # (9 + 16 + 1) / 2
    true = clips(tiny_config(), 2)["velocities"]  # the world conserves energy: 0.5 * speed^2 at every frame
    torch.testing.assert_close(ig.kinetic_energy(true), torch.full((2, 8), 0.5 * 0.5**2))
    pred = torch.zeros(2, 4, 3, 2)
    truth = pred + torch.tensor([3.0, 4.0]) * torch.arange(4.0)[None, :, None, None]  # off by 5 * t
    torch.testing.assert_close(ig.position_error(pred, truth), torch.tensor([0.0, 5.0, 10.0, 15.0]))
    with pytest.raises(ValueError, match=r"\(B, T, n, 2\)"):
        ig.position_error(pred, truth[:, :3])


@pytest.mark.parametrize("use_edges", [True, False])
def test_every_parameter_gets_a_gradient(use_edges):
    torch.manual_seed(0)
    config = tiny_config(use_edges=use_edges)
    net, batch = ig.build(config), clips(config)
    ig.one_step_loss(net, batch["positions"], batch["velocities"]).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_a_tiny_batch_is_overfitted():
    torch.manual_seed(0)
    config = tiny_config(lr=3e-3)
    net, batch = ig.build(config), clips(config)
    trainer = Trainer({"model": net}, {"model": torch.optim.Adam(net.parameters(), lr=config.lr)},
                      device=torch.device("cpu"), progress=False)
    first = ig.training_step(net, trainer, batch)["step_mse"]
    for _ in range(300):
        last = ig.training_step(net, trainer, batch)["step_mse"]
    assert last < 0.05 * first


def test_train_runs_the_recipe():
    model, metrics = ig.train(tiny_config(), steps=3, progress=False)
    assert metrics["steps"] == 3 and metrics["final/step_mse"] > 0 and not model.training


def test_input_noise_moves_the_inputs_and_keeps_the_true_next_state_as_the_target():
    config = tiny_config()
    batch = clips(config)
    net = ig.build(config)
    torch.nn.init.zeros_(net.object[-1].weight)  # phi_O outputs 0: the loss is what free flight misses
    torch.nn.init.zeros_(net.object[-1].bias)
    x, v = batch["positions"], batch["velocities"]
    torch.manual_seed(5)
    noisy_loss = ig.one_step_loss(net, x, v, noise=0.3)
    torch.manual_seed(5)  # the same draws, by hand: noise on x then v, of std 0.3 * speed
    x0, v0 = x[:, :-1].reshape(-1, *x.shape[2:]), v[:, :-1].reshape(-1, *v.shape[2:])
    x0 = x0 + 0.3 * config.speed * torch.randn_like(x0)
    v0 = v0 + 0.3 * config.speed * torch.randn_like(v0)
    x1, v1 = x[:, 1:].reshape(-1, *x.shape[2:]), v[:, 1:].reshape(-1, *v.shape[2:])
    missed = torch.cat([x1 - x0 - v0, v1 - v0], dim=-1) / config.speed
    torch.testing.assert_close(noisy_loss, (missed**2).mean())
    assert noisy_loss > ig.one_step_loss(net, x, v)  # the noise is something to undo


def test_the_cards_rollout_scores_name_the_model_and_match_the_error_curves(model):
    from vidgen_lib.evaluation import interaction_net as graph_eval

    scores = graph_eval.evaluate(model, 8)
    errors = graph_eval.rollout_errors(model, 8)
    last = model.config.num_frames - model.config.context
    name = "interaction_net" if model.config.use_edges else "interaction_net_no_edges"
    assert scores[f"position_error_step{last}/{name}"] == round(errors["model"][-1].item(), 4)
    assert scores["position_error_step1/constant_velocity"] == round(errors["constant_velocity"][0].item(), 4)
    assert scores[f"energy_ratio_step{last}/{name}"] == round(errors["energy"][-1].item(), 4)
    positions, velocities = graph_eval.test_states(model, 8)
    k = model.config.context
    true_energy = ig.kinetic_energy(velocities[:, k:])  # conserved by the world: the ratio of the truth is 1
    start = ig.kinetic_energy(velocities[:, k - 1])[:, None]
    torch.testing.assert_close(true_energy, start.expand_as(true_energy), rtol=1e-4, atol=1e-5)
