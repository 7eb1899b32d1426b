import pytest
import torch
from torch import nn

from vidgen_lib.train import NonFiniteLossError, Trainer, ema_update, infinite_batches, recalibrate_batchnorm


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


def test_ema_update_averages_parameters_and_copies_buffers():
    average, model = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with torch.no_grad():
        model.weight.fill_(3.0), model.running_mean.fill_(5.0)  # average: weight 1, running mean 0
    ema_update(average, model, decay=0.75)
    assert torch.allclose(average.weight, torch.full((3,), 0.75 * 1 + 0.25 * 3))
    assert torch.equal(average.running_mean, model.running_mean)  # statistics are copied, not averaged


def test_recalibrate_batchnorm_gives_the_mean_over_all_batches_and_restores_the_module():
    norm = nn.Sequential(nn.BatchNorm1d(2)).eval()
    norm[0].running_mean.fill_(100.0)  # stale statistics, to be replaced
    offsets = iter([0.0, 1.0, 2.0, 5.0])  # batch means: every batch is constant plus an offset

    def run_batch(generator: torch.Generator) -> None:
        x = torch.randn(8, 2, generator=generator)
        norm(x - x.mean(dim=0) + next(offsets))  # batch mean exactly the offset

    recalibrate_batchnorm(norm, run_batch, batches=4)
    assert torch.allclose(norm[0].running_mean, torch.full((2,), 2.0))  # (0 + 1 + 2 + 5) / 4: cumulative, not momentum
    assert norm[0].momentum == 0.1 and not norm.training  # momentum and eval mode as before
