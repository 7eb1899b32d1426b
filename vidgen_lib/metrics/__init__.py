"""How good is a generated video? Plain maths on tensors, taught in notebook 04.

- :mod:`~vidgen_lib.metrics.distances`: the Fréchet distance (FVD's formula) and KVD, between
  two sets of features;
- :mod:`~vidgen_lib.metrics.fidelity`: PSNR and SSIM of a prediction against the truth;
- :mod:`~vidgen_lib.metrics.likelihood`: nats per frame and bits per dimension;
- :mod:`~vidgen_lib.metrics.content`: MoCoGAN's average content distance (ACD);
- :mod:`~vidgen_lib.metrics.baselines`: static, shuffled, noise and copy-last-frame videos, measured
  like a model's.

This package imports nothing of the library but :mod:`vidgen_lib.video`: which network turns videos
into features, and which protocol a model card follows, live above it in :mod:`vidgen_lib.evaluation`.
"""
from vidgen_lib.metrics.baselines import (add_noise, baseline_videos, copy_last_frame, frame_differences,
                                          noise_baseline, shuffle_frames, shuffled_baseline, static_baseline)
from vidgen_lib.metrics.content import acd
from vidgen_lib.metrics.distances import (frechet_distance, frechet_distance_diagonal, fvd_from_features,
                                          gaussian_stats, kvd)
from vidgen_lib.metrics.fidelity import psnr, ssim
from vidgen_lib.metrics.likelihood import bits_per_dim, nats_per_frame
from vidgen_lib.video import validate_video

__all__ = ["validate_video", "gaussian_stats", "frechet_distance", "frechet_distance_diagonal",
           "fvd_from_features", "kvd", "psnr", "ssim", "nats_per_frame", "bits_per_dim", "acd",
           "static_baseline", "shuffled_baseline", "noise_baseline", "copy_last_frame", "add_noise",
           "shuffle_frames", "baseline_videos", "frame_differences"]
