"""Energy and CO₂ per run: measured offline, stored with the run, never sent anywhere."""

from __future__ import annotations

import socket

import pandas as pd
import pytest

from lepton_core.evaluation import tradeoff
from lepton_core.runs import (
    EnergyMeter,
    EnergyReport,
    TrainConfig,
    model_board,
    model_card,
    train,
)


@pytest.fixture(scope="module")
def small_csv(adult_small: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("energy") / "adult_energy.csv"
    adult_small.head(800).to_csv(path, index=False)
    return path


def _no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and refuse) every attempt to reach another machine."""
    attempts: list[str] = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args[:2]))
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    import requests

    monkeypatch.setattr(requests.Session, "request", refuse)
    return attempts


def test_a_run_stores_its_energy_and_sends_nothing(small_csv, workspace, monkeypatch, tmp_path):
    monkeypatch.setenv("LEPTON_COUNTRY", "fra")
    monkeypatch.chdir(tmp_path)  # CodeCarbon must leave no emissions.csv behind
    attempts = _no_network(monkeypatch)
    result = train(
        TrainConfig(data=str(small_csv), target="Y", sensitive=["sex"], explain_rows=20),
        workspace=workspace,
    )
    assert attempts == []
    assert list(tmp_path.iterdir()) == []
    energy = result.energy
    assert energy is not None and energy.measured, energy
    assert energy.energy_kwh > 0 and energy.co2_g > 0 and energy.duration_s > 0
    assert energy.country == "FRA" and energy.country_name == "France"
    assert energy.co2_g == pytest.approx(energy.energy_kwh * energy.intensity_g_per_kwh)
    assert energy.cpu_method  # how the processor's share was found is recorded
    run = workspace.get_run(result.run_id)
    assert run.metrics["energy_kwh"] == pytest.approx(energy.energy_kwh)
    assert run.metrics["co2_g"] == pytest.approx(energy.co2_g)
    stored = EnergyReport.from_dict(workspace.load_report(result.run_id, "energy"))
    assert stored == energy
    assert "France" in energy.sentence() and "France" in energy.method()
    assert energy.sentence().render("zh").startswith("耗电")
    # Next to accuracy and fairness: the board, the trade-off and the model card.
    (row,) = [r for r in model_board(workspace) if r.run_id == result.run_id]
    assert row.energy_wh == pytest.approx(energy.energy_kwh * 1000)
    trade = tradeoff(workspace, result.dataset_id, attribute="sex")
    (point,) = [p for p in trade.points if p.run_id == result.run_id]
    assert point.energy_wh == pytest.approx(energy.energy_kwh * 1000)
    card = model_card(workspace, result.model_name, result.model_version, n_resamples=20)
    assert "## Energy" in card.to_markdown() and "## 耗电" in card.to_markdown(language="zh")


def test_more_work_uses_more_energy():
    # CodeCarbon skips a stretch under 50 ms: even the small one lasts longer than that.
    small, large = _measure(1_500_000), _measure(6_000_000)
    assert 0 < small.energy_kwh < large.energy_kwh
    assert small.duration_s < large.duration_s


def _measure(rounds: int) -> EnergyReport:
    meter = EnergyMeter("USA").start()
    total = 0
    for i in range(rounds):
        total += i * i
    return meter.stop()


def test_an_unknown_country_is_not_measured_and_says_why():
    report = EnergyMeter("XYZ").start().stop()
    assert not report.measured and report.metrics() == {}
    assert "LEPTON_COUNTRY" in report.reason
    assert report.sentence().startswith("Energy not measured")
    assert EnergyReport.from_dict(report.to_dict()) == report


def test_a_failing_tracker_never_fails_the_run(small_csv, workspace, monkeypatch):
    import codecarbon

    def broken(*args, **kwargs):
        raise RuntimeError("no sensors")

    monkeypatch.setattr(codecarbon, "OfflineEmissionsTracker", broken)
    result = train(
        TrainConfig(data=str(small_csv), target="Y", model="logistic", explain_rows=10),
        workspace=workspace,
    )
    assert result.evaluation.metrics["accuracy"] > 0.7
    assert not result.energy.measured and "no sensors" in result.energy.reason
    assert "energy_kwh" not in workspace.get_run(result.run_id).metrics


def test_the_country_is_named_in_the_readers_language():
    from lepton_core.runs._energy import EnergyReport, country_name

    report = EnergyReport(
        measured=True, energy_kwh=3e-4, co2_g=0.12, country="DEU", country_name="Germany"
    )
    assert "estimated for Germany" in report.sentence()
    chinese = report.sentence().render("zh")
    assert "德国" in chinese and "Germany" not in chinese
    assert "德国" in report.method().render("zh")
    assert country_name("XYZ") == "XYZ"  # not a country: the code, no failure
