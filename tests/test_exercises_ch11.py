"""The checks of notebook 11 pass on the solutions, report stubs, and name the typical mistakes."""
from __future__ import annotations

import pytest
import torch

from vidgen_lib.exercises import ExerciseError, load_all
from vidgen_lib.exercises import ch11_diffusion as ch11
from vidgen_lib.nn.diffusion import alpha_sigma, cosine_log_snr, ddim_step, eps_from_x, guided


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 11.M: a stub")


def per_clip(v: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, 1, 1, 1, 1)


def test_checks_are_registered():
    checks = load_all()
    expected = [ch11.check_noised, ch11.check_prediction_experiment, ch11.check_ddim_step,
                ch11.check_guided_v]
    assert [checks[f"11.{i}"] for i in range(1, 5)] == expected


def test_noised_passes_the_reference_and_names_the_mistakes(capsys):
    ch11.check_noised(ch11.noised)
    assert capsys.readouterr().out.startswith("✓ Exercise 11.1 passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch11.check_noised(stub)
    variances = lambda x, t, e: (per_clip(torch.sigmoid(cosine_log_snr(t))) * x  # noqa: E731
                                 + per_clip(torch.sigmoid(-cosine_log_snr(t))) * e)
    with pytest.raises(ExerciseError, match="square root"):
        ch11.check_noised(variances)
    one_minus = lambda x, t, e: (per_clip(alpha_sigma(cosine_log_snr(t))[0]) * x  # noqa: E731
                                 + per_clip(1 - alpha_sigma(cosine_log_snr(t))[0]) * e)
    with pytest.raises(ExerciseError, match="alpha² \\+ sigma² = 1"):
        ch11.check_noised(one_minus)
    first_t = lambda x, t, e: ch11.noised(x, t[:1].expand(len(t)), e)  # noqa: E731
    with pytest.raises(ExerciseError, match="its own t"):
        ch11.check_noised(first_t)


def test_ddim_step_passes_the_reference_and_names_the_mistakes(capsys):
    ch11.check_ddim_step(ddim_step)
    assert capsys.readouterr().out.startswith("✓ Exercise 11.3 passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch11.check_ddim_step(stub)
    with pytest.raises(ExerciseError, match="new"):
        ch11.check_ddim_step(lambda z, x, lt, ls: z)
    with pytest.raises(ExerciseError, match="drops the noise"):
        ch11.check_ddim_step(lambda z, x, lt, ls: per_clip(alpha_sigma(ls)[0]) * x)
    old_level = lambda z, x, lt, ls: (per_clip(alpha_sigma(ls)[0]) * x  # noqa: E731
                                      + per_clip(alpha_sigma(lt)[1]) * eps_from_x(z, x, lt))
    with pytest.raises(ExerciseError, match="same noise's path"):
        ch11.check_ddim_step(old_level)


def test_guided_v_passes_the_reference_and_names_the_mistakes(capsys):
    ch11.check_guided_v(ch11.guided_v)
    assert capsys.readouterr().out.startswith("✓ Exercise 11.4 passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch11.check_guided_v(stub)
    with pytest.raises(ExerciseError, match="ran once"):
        ch11.check_guided_v(lambda net, z, l, tok, w: net(z, l, tok))
    with pytest.raises(ExerciseError, match="empty caption"):
        ch11.check_guided_v(lambda net, z, l, tok, w: guided(net(z, l, tok), net(z, l, tok.flip(1)), w))
    blend = lambda net, z, l, tok, w: w * net(z, l, tok) + (1 - w) * net(z, l, torch.zeros_like(tok))  # noqa: E731
    with pytest.raises(ExerciseError, match="w = 0"):
        ch11.check_guided_v(blend)
    too_weak = lambda net, z, l, tok, w: guided(net(z, l, tok), net(z, l, torch.zeros_like(tok)), w / 2)  # noqa: E731
    with pytest.raises(ExerciseError, match="wrong at w"):
        ch11.check_guided_v(too_weak)


def test_prediction_experiment_checks_the_direction(capsys):
    results = {"eps": {0.5: 0.1, 0.99: 3.0}, "v": {0.5: 0.12, 0.99: 0.2}}
    assert ch11.check_prediction_experiment(lambda target: results[target]) == results
    assert capsys.readouterr().out.startswith("✓ Exercise 11.2 passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch11.check_prediction_experiment(stub)
    with pytest.raises(ExerciseError, match="x_from_eps"):
        ch11.check_prediction_experiment(lambda target: {0.5: 0.1, 0.99: 0.2})
    with pytest.raises(ExerciseError, match="same times"):
        ch11.check_prediction_experiment(lambda target: results[target] if target == "v" else {0.9: 3.0})


def test_the_experiments_reference_passes_its_check():
    from vidgen_lib.models import diffusion

    config = diffusion.Config(num_frames=4, frame_size=12, widths=(8, 16), heads=2, embed_dim=32,
                              batch_size=4)
    data = diffusion.dataset(config, num_videos=40)
    clips = torch.stack([data[i]["video"] for i in range(40)]) * 2 - 1
    tokens = diffusion.tokenize([data[i]["caption"] for i in range(40)])
    experiment = ch11.x_error_experiment(config, clips, tokens, steps=5, times=(0.5, 0.99))
    results = ch11.check_prediction_experiment(experiment)
    assert set(results["v"]) == {0.5, 0.99}
