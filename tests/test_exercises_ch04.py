"""The checks of notebook 04 pass on the solutions, report stubs, and name the typical mistakes."""
from __future__ import annotations

import pytest
import torch

from vidgen_lib.exercises import ExerciseError
from vidgen_lib.exercises import ch04_evaluation as ch04


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 4.M: a stub")


def frechet_diagonal(mu1, var1, mu2, var2):
    return float(((mu1 - mu2) ** 2).sum() + ((var1.sqrt() - var2.sqrt()) ** 2).sum())


def kvd_unbiased(x, y):
    d, m, n = x.shape[1], x.shape[0], y.shape[0]
    k_xx, k_yy, k_xy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    return float((k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
                 + (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1)) - 2 * k_xy.mean())


def average_content_distance(features):
    t = features.shape[1]
    return float((torch.cdist(features, features).triu(1).sum(dim=(1, 2)) / (t * (t - 1) / 2)).mean())


@pytest.mark.parametrize("check, solution, exercise_id", [
    (ch04.check_frechet_diagonal, frechet_diagonal, "4.1"),
    (ch04.check_kvd_unbiased, kvd_unbiased, "4.2"),
    (ch04.check_average_content_distance, average_content_distance, "4.3"),
])
def test_checks_pass_solutions_and_report_stubs(check, solution, exercise_id, capsys):
    check(solution)
    assert capsys.readouterr().out.startswith(f"✓ Exercise {exercise_id} passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        check(stub)


@pytest.mark.parametrize("mistake, message", [
    (lambda m1, v1, m2, v2: float(((m1 - m2) ** 2).sum() + ((v1 - v2) ** 2).sum()), "compared variances"),
    (lambda m1, v1, m2, v2: float(((v1.sqrt() - v2.sqrt()) ** 2).sum()), "mean term"),
    (lambda m1, v1, m2, v2: frechet_diagonal(m1, v1, m2, v2) ** 0.5, "its square"),
    (lambda m1, v1, m2, v2: (m1 - m2) ** 2, "single number"),
])
def test_frechet_diagonal_names_mistakes(mistake, message):
    with pytest.raises(ExerciseError, match=message):
        ch04.check_frechet_diagonal(mistake)


def test_kvd_names_biased_and_unscaled_estimates():
    def biased(x, y):
        d = x.shape[1]
        return float(((x @ x.T / d + 1) ** 3).mean() + ((y @ y.T / d + 1) ** 3).mean()
                     - 2 * ((x @ y.T / d + 1) ** 3).mean())

    def unscaled(x, y):
        return kvd_unbiased(x * x.shape[1] ** 0.5, y * y.shape[1] ** 0.5)

    with pytest.raises(ExerciseError, match="biased estimate"):
        ch04.check_kvd_unbiased(biased)
    with pytest.raises(ExerciseError, match="divide the dot product by D"):
        ch04.check_kvd_unbiased(unscaled)


def test_acd_names_all_pairs_and_squared_distances():
    with pytest.raises(ExerciseError, match="T² pairs"):
        ch04.check_average_content_distance(lambda f: float(torch.cdist(f, f).mean()))
    with pytest.raises(ExerciseError, match="squared distances"):
        ch04.check_average_content_distance(
            lambda f: float((torch.cdist(f, f) ** 2).triu(1).sum(dim=(1, 2)).mean()
                            / (f.shape[1] * (f.shape[1] - 1) / 2)))
