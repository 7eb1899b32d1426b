import pytest
import torch
from torch import nn

from vidgen_lib.train import NonFiniteLossError, Trainer, TrainingSnapshots, infinite_batches, run


def _regression(run_dir=None, lr=0.1, grad_clip=None):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    trainer = Trainer({"model": model}, {"model": torch.optim.SGD(model.parameters(), lr=lr)},
                      run_dir=run_dir, log_every=5, progress=False, grad_clip=grad_clip)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])

    def step(trainer, batch):
        return {"loss": trainer.update("model", (model(x) - y).pow(2).mean())}

    return trainer, step, model


def test_training_reduces_the_loss_and_logs_history():
    trainer, step, _ = _regression()
    history = trainer.fit(step, iter(int, 1), steps=50)
    assert [h["step"] for h in history] == list(range(5, 51, 5))
    assert history[-1]["loss"] < 0.01 * history[0]["loss"]
    assert trainer.step == 50


def test_nan_loss_is_detected_with_the_step_and_name():
    trainer, _, model = _regression()

    def step(trainer, batch):
        loss = model(torch.ones(1, 3)).sum() * (float("nan") if trainer.step == 3 else 1.0)
        return {"loss": trainer.update("model", loss)}

    with pytest.raises(NonFiniteLossError, match="'model' is nan at step 3"):
        trainer.fit(step, iter(int, 1), steps=10)


def test_resume_continues_the_step_count_and_matches_an_uninterrupted_run(tmp_path):
    trainer, step, model = _regression(run_dir=tmp_path)
    trainer.fit(step, iter(int, 1), steps=20)
    assert (tmp_path / "train_state.pt").exists()

    resumed, step2, model2 = _regression(run_dir=tmp_path)
    resumed.fit(step2, iter(int, 1), steps=30)
    assert resumed.step == 30 and resumed.history[-1]["step"] == 30

    straight, step3, model3 = _regression()
    straight.fit(step3, iter(int, 1), steps=30)
    assert torch.allclose(model2.weight, model3.weight, atol=1e-6)


def test_gradient_clipping_bounds_the_update():
    trainer, _, model = _regression(lr=1.0, grad_clip=0.1)
    before = model.weight.detach().clone()

    def step(trainer, batch):
        return {"loss": trainer.update("model", 1000 * model(torch.ones(1, 3)).sum())}

    trainer.fit(step, iter(int, 1), steps=1)
    assert (model.weight - before).norm() <= 0.1 + 1e-6  # lr 1 x clipped gradient norm 0.1


def test_infinite_batches_cycles_and_rejects_empty_loaders():
    batches = infinite_batches([1, 2])
    assert [next(batches) for _ in range(5)] == [1, 2, 1, 2, 1]
    with pytest.raises(ValueError, match="no batches"):
        next(infinite_batches([]))


def _line_fit():
    """A model, its optimiser and a step that fits y = 2x: the recipe's smallest customer."""
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    x = torch.linspace(-1, 1, 16)[:, None]

    def step(model, trainer, batch):
        return {"mse": trainer.update("model", (model(x) - 2 * x).pow(2).mean())}

    return model, {"model": torch.optim.SGD(model.parameters(), lr=0.3)}, step


def test_run_trains_and_returns_the_model_in_eval_mode_with_its_training_metrics():
    model, optimizers, step = _line_fit()
    trained, metrics = run(model, optimizers, step, iter(lambda: None, 1), 60, progress=False, log_every=10)
    assert trained is model and not model.training
    assert set(metrics) == {"final/mse", "steps", "train_wall_time_s"} and metrics["steps"] == 60
    assert metrics["final/mse"] < 1e-3 and abs(model.weight.item() - 2) < 0.05
    with pytest.raises(ValueError, match="steps must be a positive"):
        run(model, optimizers, step, iter(lambda: None, 1), 0, progress=False)


def test_run_takes_snapshots_along_the_way_and_at_the_end_after_finish():
    model, optimizers, step = _line_fit()
    model.snapshots = TrainingSnapshots(1, (1, 1, 1, 1))
    finished = []
    draw = lambda: torch.full((1, 1, 1, 1, 1), 0.5 if finished else 0.25)  # noqa: E731
    run(model, optimizers, step, iter(lambda: None, 1), 20, progress=False, snapshot=draw,
        finish=lambda: finished.append(True))
    steps, videos = model.snapshots.taken()
    assert steps == [2, 6, 20]  # after 10% and 30% of the steps, and at the end
    assert videos[:, 0].flatten().tolist() == pytest.approx([64 / 255, 64 / 255,
                                                              128 / 255])  # the last after finish
