"""The shared building blocks: shapes, what each one guarantees, and the averaging of weights."""
import pytest
import torch
from torch import nn

from vidgen_lib.nn.conv import bilinear_init, conv_block, normal_init, up_block
from vidgen_lib.nn.ema import ema_update, recalibrate_batchnorm
from vidgen_lib.nn.gaussian import GatedGaussianHead, reparameterize
from vidgen_lib.nn.masked import MaskedConv2d, causal_mask
from vidgen_lib.nn.recurrent import ConvLSTMCell, GaussianLSTM, StackedLSTM


def test_conv_blocks_double_or_halve_every_axis_and_drop_the_bias_before_a_norm():
    assert up_block(8, 4, dims=3)(torch.randn(2, 8, 2, 4, 4)).shape == (2, 4, 4, 8, 8)
    down = conv_block(3, 16, norm="group", act="lrelu")
    assert down(torch.randn(2, 3, 16, 16)).shape == (2, 16, 8, 8)
    assert down[0].bias is None and isinstance(down[1], nn.GroupNorm) and isinstance(down[2], nn.LeakyReLU)
    assert conv_block(3, 4, norm="none")[0].bias is not None
    with pytest.raises(ValueError, match="norm must be"):
        conv_block(3, 4, norm="layer")


def test_normal_init_draws_conv_weights_with_the_given_std_and_zero_biases():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(64, 64, 4), nn.BatchNorm2d(64))
    net.apply(lambda m: normal_init(m, std=0.01))
    assert net[0].weight.std().item() == pytest.approx(0.01, rel=0.05) and net[0].bias.abs().sum() == 0
    assert net[1].weight.mean().item() == pytest.approx(1.0, abs=0.01) and net[1].bias.abs().sum() == 0


def test_bilinear_init_makes_every_kernel_a_scaled_bilinear_upsampling():
    torch.manual_seed(0)
    conv = nn.ConvTranspose3d(8, 4, 4, 2, 1, bias=False)
    bilinear_init(conv)
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 4
    kernel = taps[:, None, None] * taps[None, :, None] * taps[None, None, :]  # (4, 4, 4), sums to 8
    scale = conv.weight.detach().sum(dim=(2, 3, 4), keepdim=True) / kernel.sum()  # (8, 4, 1, 1, 1)
    assert torch.allclose(conv.weight.detach(), scale * kernel, atol=0.005)  # up to the small noise
    conv.apply(lambda m: normal_init(m, std=0.01))  # a random start has no such structure
    scale = conv.weight.detach().sum(dim=(2, 3, 4), keepdim=True) / kernel.sum()
    assert not torch.allclose(conv.weight.detach(), scale * kernel, atol=0.005)


def test_causal_mask_hides_the_future_and_mask_a_hides_the_centre():
    a, b = causal_mask(3, "A"), causal_mask(3, "B")
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]] and b[1, 1] == 1
    conv = MaskedConv2d(1, 1, 3, "A")
    x = torch.zeros(1, 1, 5, 5, requires_grad=True)
    conv(x)[0, 0, 2, 2].backward()
    seen = x.grad[0, 0] != 0
    assert not seen[2, 2:].any() and not seen[3:].any()  # itself, right of it and below: never seen


def test_reparameterize_is_repeatable_and_lets_gradients_reach_mean_and_log_variance():
    mu, logvar = torch.zeros(4, 3, requires_grad=True), torch.zeros(4, 3, requires_grad=True)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert torch.equal(z, reparameterize(mu, logvar, torch.Generator().manual_seed(0)))
    z.sum().backward()
    assert torch.equal(mu.grad, torch.ones(4, 3)) and logvar.grad.abs().sum() > 0


def test_recurrent_blocks_keep_their_state_shapes():
    lstm = StackedLSTM(5, 8, 3, layers=2)
    out, state = lstm(torch.randn(4, 5), lstm.initial_state(4, torch.zeros(1)))
    assert out.shape == (4, 3) and len(state) == 2 and state[1][0].shape == (4, 8)
    mu, logvar, _ = GaussianLSTM(5, 8, 2)(torch.randn(4, 5),
                                          GaussianLSTM(5, 8, 2).initial_state(4, torch.zeros(1)))
    assert mu.shape == logvar.shape == (4, 2)
    head_mu, head_logvar = GatedGaussianHead(5, 8, 2)(torch.randn(4, 5))
    assert head_mu.shape == head_logvar.shape == (4, 2)
    cell = ConvLSTMCell(3, 6)
    x = torch.randn(2, 3, 7, 7)
    h, c = cell(x, cell.initial_state(x))
    assert h.shape == c.shape == (2, 6, 7, 7) and cell.conv.bias[6:12].eq(1).all()  # forget gate starts open


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
    # (0 + 1 + 2 + 5) / 4: cumulative, not momentum
    assert torch.allclose(norm[0].running_mean, torch.full((2,), 2.0))
    assert norm[0].momentum == 0.1 and not norm.training  # momentum and eval mode as before
