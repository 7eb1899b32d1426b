"""TD-VAE's own measurements: do jumpy rollouts keep the digit and its direction? (Gregor et al. 2019,
Sec. 5.2), and do they follow the noisy oscillator? (Sec. 5.3).

- shifting digits: a digit classifier that a cyclic shift cannot fool judges the *identity* of every
  predicted frame, a cross-correlation the *direction* of motion; both next to copy-last-frame and to the
  true future (:func:`evaluate`, the numbers of the model card);
- the oscillator: rollouts against the clean signal, sinusoids fitted to them, and a linear probe of the
  belief (:func:`oscillator_rollouts`, :func:`oscillator_scores`, :func:`oscillator_belief_probe`).

Taught in ``notebooks/06_tdvae.ipynb``; the model is :mod:`vidgen_lib.models.tdvae`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from vidgen_lib.datasets.digits import load_digit_sprites
from vidgen_lib.datasets.shifting import ShiftingDigits, fit_sinusoid, oscillator_batch
from vidgen_lib.metrics import copy_last_frame
from vidgen_lib.models.tdvae import TDVAE, predict, rollout
from vidgen_lib.runtime import eval_mode, model_device, rng

__all__ = ["ShiftInvariantDigitClassifier", "evaluate", "identity_and_direction", "linear_probe_r2",
           "oscillator_belief_probe", "oscillator_rollouts", "oscillator_scores", "shift_between",
           "test_videos", "train_digit_classifier"]


# --- identity and direction (Sec. 5.2: "rollouts keep the digit and its direction") --------------

class ShiftInvariantDigitClassifier(nn.Module):
    """A digit classifier that cannot be fooled by a cyclic horizontal shift.

    Its input is |FFT| of every row along the width, which a cyclic roll leaves unchanged, so a
    rolled digit is the same digit for it (2-layer MLP on (28 rows x 15 frequencies)).
    """

    def __init__(self, size: int = 28) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(size * (size // 2 + 1), 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, frames: Tensor) -> Tensor:
        """frames (N, H, W) in [0, 1] -> logits (N, 10)."""
        spectrum = torch.fft.rfft(frames, dim=-1).abs()
        return self.net(rearrange(spectrum, "n h f -> n (h f)"))


def train_digit_classifier(steps: int = 600, batch_size: int = 128,
                           seed: int = 0) -> ShiftInvariantDigitClassifier:
    """Train the identity classifier on train sprites (grey and binarised, alternately), in a few seconds.

    ``seed`` fixes the initial weights and the batches; the caller's random state is left as it was.
    """
    images, labels = (torch.from_numpy(a) for a in load_digit_sprites("train"))
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, restored global generator after
        torch.manual_seed(seed)
        clf = ShiftInvariantDigitClassifier(images.shape[-1])
    gen = rng(seed)
    opt = torch.optim.Adam(clf.parameters(), lr=2e-3, weight_decay=1e-4)
    for step in range(steps):
        k = torch.randint(len(images), (batch_size,), generator=gen)
        x = images[k] if step % 2 == 0 else (torch.rand(images[k].shape, generator=gen) < images[k]).float()
        loss = F.cross_entropy(clf(x), labels[k])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return clf.eval()


def shift_between(a: Tensor, b: Tensor, max_shift: int = 5) -> Tensor:
    """The cyclic horizontal shift s in [−max_shift, max_shift] that best maps frames a onto b.

    a, b: (N, H, W). Returns (N,) integers: argmax_s sum(b * roll(a, s)) (cross-correlation).
    A tie (e.g. identical frames, s = 0 wins ties) gives 0: no motion seen.
    """
    shifts = list(range(-max_shift, max_shift + 1))
    scores = torch.stack([(b * torch.roll(a, s, dims=-1)).sum((-2, -1)) for s in shifts], dim=-1)
    zero = scores[:, max_shift:max_shift + 1]
    best = scores.argmax(-1)
    best = torch.where(scores.max(-1).values > zero[:, 0] + 1e-6, best, torch.full_like(best, max_shift))
    return best - max_shift


def test_videos(n: int, num_frames: int = 20) -> dict[str, Tensor]:
    """n test-split shifting-digit videos (test sprites): ``video`` (n, 1, T, 28, 28) in {0, 1},
    ``label`` (n,) the digit class and ``direction`` (n,) −1 or +1."""
    data = ShiftingDigits("test", num_videos=n, num_frames=num_frames)
    items = [data[i] for i in range(n)]
    return {"video": torch.stack([it["video"] for it in items]),
            "label": torch.tensor([it["label"] for it in items]),
            "direction": torch.tensor([it["direction"] for it in items])}


def identity_and_direction(context: Tensor, future: Tensor, labels: Tensor, directions: Tensor,
                           classifier: nn.Module) -> dict[str, float]:
    """How well predicted frames keep the digit's identity and direction.

    Args:
        context: (N, 1, T_ctx, H, W) observed frames; future: (N, 1, K, H, W) predicted frames, in [0, 1].
        labels, directions: (N,) true digit class and direction (−1 or +1).
        classifier: frames (M, H, W) -> logits (M, 10), e.g. :func:`train_digit_classifier`'s.
    Returns:
        ``identity``: fraction of predicted frames the classifier labels as the true digit;
        ``direction``: fraction of videos whose summed predicted displacement (last context frame,
        then frame to frame) has the true sign (no motion counts as wrong).
    """
    frames = future[:, 0]  # (N, K, H, W)
    with eval_mode(classifier):
        pred = classifier(rearrange(frames, "n k h w -> (n k) h w")).argmax(-1)
    identity = (rearrange(pred, "(n k) -> n k", n=len(frames)) == labels[:, None]).float().mean()
    seq = torch.cat([context[:, 0, -1:], frames], dim=1)
    moves = [shift_between(seq[:, k], seq[:, k + 1]) for k in range(seq.shape[1] - 1)]
    total = torch.stack(moves, -1).sum(-1)
    direction = (torch.sign(total) == directions).float().mean()
    return {"identity": float(identity), "direction": float(direction)}


def evaluate(model: TDVAE, n: int, *, seed: int = 0, context_frames: int = 10, horizon: int = 10,
             classifier: nn.Module | None = None) -> dict[str, float]:
    """The model card's numbers, on ``n`` test videos (an oscillator model: ``n`` test sequences).

    Digits: identity and direction of jumpy rollouts of ``horizon`` frames after ``context_frames``
    observed ones, with jumps of 1 (``tdvae``) and of 2 (``tdvae_jump2``), next to copy-last-frame and the
    true future (``truth``: the classifier's ceiling). Keys ``identity/<row>``, ``direction/<row>`` and
    ``eval_videos``. ``seed`` seeds the rollouts; ``classifier`` defaults to :func:`train_digit_classifier`.
    Oscillator: :func:`oscillator_scores` of the mean rollouts after 30 observations (one jump of 10,
    then 30 steps of 1).
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of test videos, got {n}.")
    if model.config.data == "oscillator":
        result = oscillator_rollouts(model, n, context=30, first_jump=10, unit_steps=30, seed=seed, mean=True)
        return {**{k: round(v, 4) for k, v in oscillator_scores(result).items()}, "eval_videos": float(n)}
    classifier = classifier or train_digit_classifier()
    data = test_videos(n, context_frames + 2 * horizon)
    video, labels, dirs = data["video"], data["label"], data["direction"]
    context, truth = video[:, :, :context_frames], video[:, :, context_frames:context_frames + horizon]
    out = {}
    for name, future in [("tdvae", predict(model, context, horizon, jump=1, seed=seed)),
                         ("tdvae_jump2", predict(model, context, horizon, jump=2, seed=seed)),
                         ("copy_last", copy_last_frame(context, horizon)),
                         ("truth", truth)]:
        scores = identity_and_direction(context, future, labels, dirs, classifier)
        out[f"identity/{name}"], out[f"direction/{name}"] = scores["identity"], scores["direction"]
    return {**{k: round(v, 4) for k, v in out.items()}, "eval_videos": float(n)}


# --- the noisy oscillator (Sec. 5.3) --------------------------------------------------------------

def oscillator_rollouts(model: TDVAE, n: int = 200, *, context: int = 40, first_jump: int = 20,
                        unit_steps: int = 30, seed: int = 0, data_seed: int = 1,
                        mean: bool = False, direct: bool = False) -> dict[str, Tensor]:
    """Observe ``context`` steps, jump ``first_jump`` ahead in one go, then take ``unit_steps`` steps of 1.

    With ``direct=True`` every one of those times is instead reached by a single jump from the same
    state drawn from the belief (jumps of first_jump, first_jump + 1, ...; no step is chained).
    ``data_seed`` picks the sequences, ``seed`` the rollout's random draws.
    Returns ``observed`` (n, context), ``truth`` (n, T) the clean signal over the whole span,
    ``times`` (unit_steps + 1,) and ``rollout`` (n, unit_steps + 1) the imagined values at those times,
    and the true ``omega`` and ``amplitude`` (n,); all on the CPU.
    """
    total = context + first_jump + unit_steps
    data = oscillator_batch(n, total, generator=rng(data_seed), omega_range=model.config.omega_range)
    observed = data["x"][:, :context]
    if direct:  # the same seed gives the same draw from p_B for every jump
        rollout_x = torch.cat([rollout(model, observed, [first_jump + k], seed=seed, mean=mean)
                               for k in range(unit_steps + 1)], dim=1)[..., 0]
    else:
        rollout_x = rollout(model, observed, [first_jump] + [1] * unit_steps, seed=seed, mean=mean)[..., 0]
    times = context - 1 + first_jump + torch.arange(unit_steps + 1)
    return {"observed": data["x"][:, :context, 0], "truth": data["clean"][..., 0], "times": times,
            "rollout": rollout_x.cpu(), "omega": data["omega"], "amplitude": data["amplitude"]}


def oscillator_scores(result: dict[str, Tensor]) -> dict[str, float]:
    """How well rollouts match the truth: RMSE to the clean signal, and the fitted frequency and amplitude.

    ``result`` is :func:`oscillator_rollouts`'. Rows: ``tdvae`` (the rollouts) and, measured the same way,
    ``zero`` (predicting 0, the signal's mean), ``copy_last`` (repeating the last observation) and, for
    frequency and amplitude, ``guess`` (the middle of the data's ranges: omega 0.3, amplitude 0.75).
    ``omega/tdvae`` and ``amplitude/tdvae`` are the fitted values averaged over rollouts;
    ``amplitude_corr/tdvae`` is their correlation with the true amplitudes (0: one size for every sequence).
    """
    truth = result["truth"][:, result["times"]]
    last = result["observed"][:, -1:].expand_as(truth)
    omega, amplitude = fit_sinusoid(result["rollout"])  # needs a rollout over at least one period
    rmse = lambda pred: float(((pred - truth) ** 2).mean().sqrt())  # noqa: E731
    amplitude_corr = torch.corrcoef(torch.stack([amplitude, result["amplitude"]]))[0, 1]
    return {"rmse/tdvae": rmse(result["rollout"]), "rmse/zero": rmse(torch.zeros_like(truth)),
            "rmse/copy_last": rmse(last),
            "omega_error/tdvae": float((omega - result["omega"]).abs().mean()),
            "omega_error/guess": float((0.3 - result["omega"]).abs().mean()),
            "amplitude_error/tdvae": float((amplitude - result["amplitude"]).abs().mean()),
            "amplitude_error/guess": float((0.75 - result["amplitude"]).abs().mean()),
            "omega/tdvae": float(omega.mean()), "amplitude/tdvae": float(amplitude.mean()),
            "amplitude_corr/tdvae": float(amplitude_corr)}


def linear_probe_r2(train_features: Tensor, train_targets: Tensor, test_features: Tensor,
                    test_targets: Tensor) -> Tensor:
    """R² on test data of a least-squares linear read-out (with bias) fitted on training data.

    features (N, F), targets (N, K) -> (K,): 1 = the targets are a linear function of the features,
    0 = no better than predicting their mean.
    """
    ones = lambda f: torch.cat([f, torch.ones(len(f), 1, dtype=f.dtype)], dim=1)  # noqa: E731
    weights = torch.linalg.lstsq(ones(train_features.double()), train_targets.double()).solution
    residual = ones(test_features.double()) @ weights - test_targets.double()
    return (1 - residual.pow(2).mean(0) / test_targets.double().var(0, unbiased=False)).float()


def oscillator_belief_probe(model: TDVAE, n: int = 2000, *, context: int = 30,
                            seed: int = 2) -> dict[str, float]:
    """Does the belief after ``context`` noisy observations know where the oscillator is and where it goes?

    A linear read-out of b_T (fitted on 3/4 of n sequences, scored on the rest) for the clean value now
    (``x_now``), at the next step (``x_next``: with x_now, the phase) and the amplitude. Returns R² for each.
    """
    data = oscillator_batch(n, context + 1, generator=rng(seed), omega_range=model.config.omega_range)
    with eval_mode(model):
        belief = model.beliefs(data["x"][:, :context].to(model_device(model)))[:, -1].cpu()  # (n, belief)
    clean = data["clean"][..., 0]
    targets = torch.stack([clean[:, context - 1], clean[:, context], data["amplitude"]], dim=1)  # (n, 3)
    k = 3 * n // 4
    r2 = linear_probe_r2(belief[:k], targets[:k], belief[k:], targets[k:])
    return dict(zip(["x_now", "x_next", "amplitude"], r2.tolist()))
