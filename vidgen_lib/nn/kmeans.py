"""Hierarchical k-means: a tree of centroids that turns feature vectors into discrete tokens.

VideoBERT (Sun et al., ICCV 2019, Sec. 3.2) quantises clip features into "visual words" this way: cluster
all features into ``k`` groups, cluster each group again into ``k``, and so on for ``depth`` levels. A
vector's token is the leaf it reaches by walking down the tree, always to the nearest child centroid, so
the token's base-``k`` digits are its path from the root. ``k ** depth`` words cost only ``k * depth``
distance computations per vector.

The tree is stored level by level: ``levels[l]`` is ``(k ** (l + 1), D)``, and the children of node ``i``
of level ``l`` are nodes ``i * k .. i * k + k - 1`` of level ``l + 1``.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import Tensor


def fit_hierarchical_kmeans(features: Tensor, branching: int, depth: int, seed: int = 0) -> list[Tensor]:
    """The tree of centroids of ``features`` ``(N, D)``: ``depth`` tensors, level l ``(k ** (l+1), D)``.

    Each node's members are clustered into ``branching`` groups by scikit-learn's k-means (seeded, so the
    tree is a pure function of its input). A node with fewer members than ``branching`` gives its
    children copies of its own centroid (those leaves are never the nearest, so they stay unused).
    """
    if features.ndim != 2 or len(features) < branching:
        raise ValueError(f"features must be (N, D) with N >= branching = {branching}, "
                         f"got {tuple(features.shape)}.")
    x = features.double().numpy()
    levels, groups = [], [np.arange(len(x))]  # groups: the member indices of each node of the level above
    for level in range(depth):
        centroids, children = [], []
        for node, members in enumerate(groups):
            if len(members) >= branching:
                kmeans = KMeans(branching, n_init=4, random_state=seed + 1000 * level + node).fit(x[members])
                centroids.append(kmeans.cluster_centers_)
                children += [members[kmeans.labels_ == j] for j in range(branching)]
            else:
                centre = x[members].mean(0) if len(members) else levels[-1][node].numpy()
                centroids.append(np.repeat(centre[None], branching, axis=0))
                children += [members] + [members[:0]] * (branching - 1)
        levels.append(torch.from_numpy(np.concatenate(centroids)).float())
        groups = children
    return levels


def assign_tokens(features: Tensor, levels: list[Tensor]) -> Tensor:
    """The leaf (token) of each vector of ``features`` ``(N, D)``, walking down ``levels``: ``(N,)`` int64.

    At each level only the ``k`` children of the current node are compared (nearest in Euclidean distance).
    """
    branching = len(levels[0])
    node = torch.zeros(len(features), dtype=torch.long)
    for centroids in levels:
        first = node * branching  # the first child of each vector's node (the root is node 0)
        children = centroids[first[:, None] + torch.arange(branching)]  # (N, k, D)
        distances = (features[:, None].float() - children).pow(2).sum(-1)  # (N, k)
        node = first + distances.argmin(-1)
    return node


def token_path(token: int, branching: int, depth: int) -> tuple[int, ...]:
    """The child chosen at each level on the way to leaf ``token``: its ``depth`` base-``k`` digits."""
    if not 0 <= token < branching ** depth:
        raise ValueError(f"token must be in [0, {branching ** depth}), got {token}.")
    return tuple(token // branching ** (depth - 1 - level) % branching for level in range(depth))
