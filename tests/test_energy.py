"""Energy and CO₂ per run: measured offline, stored with the run, never sent anywhere."""

from __future__ import annotations

import socket
from types import SimpleNamespace

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


# ---------------------------------------------------------------- Auto and mitigation
@pytest.fixture(scope="module")
def auto_runs(small_csv, workspace, tmp_path_factory):
    """Two short Auto searches, 1 and 6 trials, with no network and in an empty folder."""
    from lepton_core.runs import AutoConfig, run_auto

    folder = tmp_path_factory.mktemp("auto_energy")
    mp = pytest.MonkeyPatch()
    mp.setenv("LEPTON_COUNTRY", "fra")
    mp.chdir(folder)  # CodeCarbon must leave no emissions.csv behind
    attempts = _no_network(mp)
    base = TrainConfig(data=str(small_csv), target="Y", sensitive=["sex"], explain_rows=20)
    try:
        runs = {
            n: run_auto(
                AutoConfig(
                    base=base,
                    budget_s=60,
                    max_trials=n,
                    families=["lightgbm"],
                    refit=False,
                    ensemble=False,
                ),
                workspace=workspace,
            )
            for n in (1, 6)
        }
    finally:
        mp.undo()
    assert attempts == [] and list(folder.iterdir()) == []
    return runs


def test_an_auto_run_stores_what_its_search_used(auto_runs, workspace):
    result = auto_runs[6]
    energy = result.winner.energy
    search = energy.search
    assert energy.measured and search is not None and search.measured, energy
    assert search.trials == result.n_trials == 6
    assert 0 < search.energy_kwh < energy.energy_kwh and 0 < search.co2_g < energy.co2_g
    assert search.duration_s < energy.duration_s
    assert energy.co2_g == pytest.approx(energy.energy_kwh * energy.intensity_g_per_kwh)
    # The run stores the whole: the search and the winner's own training.
    stored = EnergyReport.from_dict(workspace.load_report(result.winner.run_id, "energy"))
    assert stored == energy
    metrics = workspace.get_run(result.winner.run_id).metrics
    assert metrics["energy_kwh"] == pytest.approx(energy.energy_kwh)
    assert metrics["search_energy_kwh"] == pytest.approx(search.energy_kwh)
    assert ", of which the search of 6 trials used" in energy.sentence()
    assert "6 次试验的搜索用了" in energy.sentence().render("zh")
    card = model_card(workspace, result.winner.model_name, result.winner.model_version)
    assert "of which the search of 6 trials used" in card.to_markdown()


def test_the_search_part_grows_with_its_trials(auto_runs):
    one, six = (auto_runs[n].winner.energy.search for n in (1, 6))
    assert one.trials == 1 and six.trials == 6
    assert "the search of 1 trial used" in auto_runs[1].winner.energy.sentence()
    assert 0 < one.energy_kwh < six.energy_kwh and one.duration_s < six.duration_s


def test_trials_outside_this_process_are_said_not_to_be_counted():
    import subprocess
    import sys

    from lepton_core.runs._auto import _search_part
    from lepton_core.runs._energy import with_search
    from lepton_core.runs._search import _measurable

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        # This process and its children are measured; init (pid 1) stands for a Ray worker
        # this process did not start.
        assert _measurable(None) and _measurable(child.pid) and not _measurable(1)
    finally:
        child.kill()
        child.wait()

    board = SimpleNamespace(rows=[{}, {}, {}], uncounted=2)  # 2 of 3 trials ran elsewhere
    final = EnergyReport(measured=True, energy_kwh=2e-4, co2_g=0.01, country="FRA")
    measured = EnergyReport(measured=True, energy_kwh=5e-4, co2_g=0.03, duration_s=4.0)
    search = _search_part(measured, board)
    assert not search.measured and search.trials == 3 and search.duration_s == 4.0
    energy = with_search(final, search)
    assert energy.energy_kwh == final.energy_kwh  # a part is not passed off as the whole
    assert "search_energy_kwh" not in energy.metrics()
    text = energy.sentence()
    assert "by the final training alone; the search of 3 trials was not measured" in text
    assert "2 of its trials ran in Ray workers outside this process" in text
    assert EnergyReport.from_dict(energy.to_dict()) == energy


def test_a_mitigation_stores_its_energy(small_csv, workspace, monkeypatch):
    from lepton_core.runs import mitigate_run

    monkeypatch.setenv("LEPTON_COUNTRY", "fra")
    run = train(
        TrainConfig(data=str(small_csv), target="Y", model="logistic", explain_rows=10),
        workspace=workspace,
    )
    attempts = _no_network(monkeypatch)
    result = mitigate_run(workspace, run.run_id, sensitive="sex", method="threshold_dp")
    assert attempts == []
    energy = result.energy
    assert energy is not None and energy.measured and energy.energy_kwh > 0, energy
    assert EnergyReport.from_dict(workspace.load_report(result.run_id, "energy")) == energy
    assert workspace.get_run(result.run_id).metrics["energy_kwh"] == pytest.approx(
        energy.energy_kwh
    )
    card = model_card(workspace, result.model_name, result.model_version, n_resamples=20)
    assert "## Energy" in card.to_markdown()
    assert energy.sentence() in _evaluate_page(result.run_id)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_evaluate_page_says_what_the_search_used(auto_runs, language):
    text = _evaluate_page(auto_runs[6].winner.run_id, language)
    wanted = ", of which the search of 6 trials used" if language == "en" else "6 次试验的搜索用了"
    assert wanted in text


def _evaluate_page(run_id: str, language: str = "en") -> str:
    """The Evaluate page's text for one run."""
    from streamlit.testing.v1 import AppTest

    from app_pages._common import Keys
    from tests.test_pages import ROOT, TIMEOUT

    at = AppTest.from_file(ROOT / "app.py", default_timeout=TIMEOUT)
    at = at.switch_page("app_pages/evaluate.py")
    at.session_state[Keys.RUN_ID] = run_id
    at.session_state["language"] = language
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return "\n".join(str(m.value) for m in at.markdown)


def test_a_child_started_between_samples_counts_from_its_start():
    """CodeCarbon takes a new child's CPU time at the first sample that sees it as zero
    work; a child that the previous sample did not list (a Ray worker, a federated
    client started since) must count from its start, and the others from that sample."""
    from lepton_core.runs._energy import _count_children_from_birth

    cpu = SimpleNamespace(
        _last_measurement_time=100.0,
        _last_cpu_times={1: 1.0, 2: 3.0},
        _get_process_cpu_times=lambda: {1: 2.0, 2: 3.5, 3: 0.7},
    )
    _count_children_from_birth(SimpleNamespace(_hardware=[cpu, SimpleNamespace()]))
    assert cpu._get_process_cpu_times() == {1: 2.0, 2: 3.5, 3: 0.7}
    # CodeCarbon reads each pid's starting point with .get(pid, now).
    assert cpu._last_cpu_times == {1: 1.0, 2: 3.0, 3: 0.0}
    first = SimpleNamespace(
        _last_measurement_time=None, _last_cpu_times={}, _get_process_cpu_times=lambda: {1: 2.0}
    )
    _count_children_from_birth(SimpleNamespace(_hardware=[first]))
    first._get_process_cpu_times()
    assert first._last_cpu_times == {}  # no sample before: nothing to count from


def test_the_meter_hooks_codecarbon_s_process_tracking():
    """If a CodeCarbon upgrade renames what the hook wraps, this says so."""
    from lepton_core.runs._energy import EnergyMeter

    meter = EnergyMeter("FRA", every_s=1).start()
    try:
        cpus = [h for h in meter._tracker._hardware if type(h).__name__ == "CPU"]
        assert cpus and all(c._get_process_cpu_times.__name__ == "read_from_birth" for c in cpus)
    finally:
        report = meter.stop()
    assert report.duration_s > 0
