"""Building blocks shared by the models: each defined once, here.

- :mod:`~vidgen_lib.nn.conv`: convolution + normalisation + activation blocks (2-D and 3-D, up and
  down) and the initialisations the papers use;
- :mod:`~vidgen_lib.nn.recurrent`: a stacked LSTM stepped frame by frame, its Gaussian head, a ConvLSTM;
- :mod:`~vidgen_lib.nn.masked`: PixelCNN's causal masks and masked convolution;
- :mod:`~vidgen_lib.nn.multiplicative`: the Video Pixel Network's gated multiplicative units and blocks;
- :mod:`~vidgen_lib.nn.gaussian`: the reparameterised sample, diagonal Gaussian heads;
- :mod:`~vidgen_lib.nn.ema`: moving averages of weights and BatchNorm recalibration (GAN sampling);
- :mod:`~vidgen_lib.nn.warp`: backward warping of images by an optical flow field (Vid2Vid);
- :mod:`~vidgen_lib.nn.attention`: multi-head self-attention and the Transformer encoder (VideoBERT), and
  factorised space-time attention for videos (video diffusion);
- :mod:`~vidgen_lib.nn.diffusion`: the Gaussian diffusion process (cosine log-SNR schedule, the v/eps/x
  conversions), classifier-free guidance and DDIM sampling;
- :mod:`~vidgen_lib.nn.kmeans`: hierarchical k-means, features to discrete tokens (VideoBERT's visual words).

Imports nothing above it: a block knows tensors, not videos or models.
"""
