"""Differential privacy: accounting facts, calibration, and a tiny end-to-end DP run."""

from __future__ import annotations

import itertools

import pytest

from lepton_core.core import TrainingError
from lepton_core.dp import (
    PrivacyOptions,
    default_delta,
    epsilon_spent,
    make_private_model,
)
from lepton_core.models import MLPModel, make_model


def test_default_delta_is_one_over_n_rounded_down_to_a_power_of_ten():
    assert default_delta(26_048) == pytest.approx(1e-5)
    assert default_delta(100) == pytest.approx(1e-2)
    assert default_delta(101) == pytest.approx(1e-3)
    assert default_delta(1) == 1.0


@pytest.mark.parametrize("accountant", ["prv", "rdp"])
def test_epsilon_never_decreases_as_steps_grow(accountant):
    values = [
        epsilon_spent([(1.1, 0.01, steps)], 1e-5, accountant) for steps in range(100, 1100, 200)
    ]
    assert all(b >= a for a, b in itertools.pairwise(values)), values
    assert values[-1] > values[0]


def test_known_configuration_matches_the_accountant_library():
    from opacus.accountants import RDPAccountant
    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

    # Abadi et al.'s MNIST setting: σ = 1.1, q = 256/60000, 60 epochs.
    q, sigma, steps, delta = 256 / 60_000, 1.1, 60 * 60_000 // 256, 1e-5
    ours = epsilon_spent([(sigma, q, steps)], delta, "rdp")
    alphas = RDPAccountant.DEFAULT_ALPHAS
    direct, _ = get_privacy_spent(
        orders=alphas,
        rdp=compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=alphas),
        delta=delta,
    )
    assert ours == pytest.approx(direct, rel=1e-9)
    assert 2.0 < ours < 4.0  # published: about 3 (RDP bound) for this setting


def test_a_failing_accountant_is_an_error_not_a_number():
    with pytest.raises(TrainingError, match="accountant"):
        epsilon_spent([(0.0, 0.5, 10)], 1e-5, "rdp")  # no noise: no finite guarantee


def test_bad_options_and_families_are_refused():
    with pytest.raises(TrainingError, match="positive number"):
        PrivacyOptions(epsilon=0).check()
    with pytest.raises(TrainingError, match="between 0 and 1"):
        PrivacyOptions(delta=2).check()
    with pytest.raises(TrainingError, match="mlp"):
        make_private_model(make_model("lightgbm", "binary"), PrivacyOptions())


def test_dp_fit_reports_spent_epsilon_within_target(adult_small):
    X, y = adult_small.drop(columns=["Y"]).iloc[:2000], adult_small["Y"].to_numpy()[:2000]
    model = make_private_model(make_model("mlp", "binary", max_epochs=3), PrivacyOptions(epsilon=2))
    model.fit(X, y)
    report = model.privacy_
    assert report.delta == pytest.approx(default_delta(report.n_train))
    assert report.epsilon == max(report.epsilon_by_accountant.values())
    assert report.epsilon_by_accountant["prv"] <= 2.0 + 0.05  # calibrated to the target
    assert report.steps <= report.planned_steps and report.noise_multiplier > 0
    assert report.sample_rate == pytest.approx(report.expected_batch_size / report.n_train)
    assert type(model.final_estimator_).__name__ == "Sequential"  # unwrapped from Opacus
    assert (model.predict(X.head(50)) == model.predict(X.head(50))).all()


def test_tiny_end_to_end_dp_run_saves_a_plain_mlp(workspace, adult_csv):
    from lepton_core.runs import TrainConfig, train

    result = train(
        TrainConfig(
            data=str(adult_csv),
            model="mlp",
            params={"max_epochs": 2},
            privacy=PrivacyOptions(epsilon=4.0),
            sensitive=["sex"],
            explain_rows=20,
        ),
        workspace=workspace,
    )
    assert result.privacy is not None and 0 < result.privacy.epsilon <= 4.0 * 1.2
    stored = workspace.load_report(result.run_id, "privacy")
    assert stored["epsilon"] == pytest.approx(result.privacy.epsilon)
    run = workspace.get_run(result.run_id)
    assert run.metrics["privacy_epsilon"] == pytest.approx(result.privacy.epsilon)
    model = workspace.load_model(result.model_name, result.model_version)
    assert isinstance(model, MLPModel)
    again = TrainConfig.from_json(result.config.to_json())
    assert again.privacy == PrivacyOptions(epsilon=4.0)
