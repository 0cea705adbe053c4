"""The team dashboard: figures, filters, blanks, JSON, the two ways of reading, the page."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lepton_core.runs import (
    BoardRow,
    TrainConfig,
    board_tradeoff,
    filter_board,
    model_board,
    train,
)
from lepton_core.workspace import ShareLinks, Workspace

ROOT = Path(__file__).resolve().parents[1]


def _version_without_metrics(ws: Workspace, name: str, *, report: list | None) -> str:
    """A version recorded the way older Lepton did: accuracy only, gaps in the report (or none)."""
    import mlflow

    client = ws.client
    mlflow.set_tracking_uri(ws.tracking_uri)
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name)
    run = client.create_run(
        ws.experiment_id,
        tags={
            "lepton.dataset_id": hashlib.sha256(name.encode()).hexdigest()[:12],
            "lepton.dataset_name": name,
            "lepton.family": "logistic",
            "lepton.task": "binary",
        },
    )
    run_id = run.info.run_id
    client.log_param(run_id, "sensitive", "sex")
    client.log_metric(run_id, "test_accuracy", 0.8)
    if report is not None:
        client.log_text(run_id, json.dumps(report), "fairness.json")
    logged = client.create_logged_model(ws.experiment_id, name="model", source_run_id=run_id)
    client.create_model_version(
        name,
        source=f"models:/{logged.model_id}",
        run_id=run_id,
        tags={"lepton.sha256": "0" * 64, "lepton.run_id": run_id},
        model_id=logged.model_id,
    )
    client.set_terminated(run_id, "FINISHED")
    return run_id


@pytest.fixture(scope="module")
def board_ws(tmp_path_factory, adult_small):
    """A workspace with a yes/no model (Adult, by sex and race) and a regression model."""
    ws = Workspace(tmp_path_factory.mktemp("board-ws"))
    csv = tmp_path_factory.mktemp("board-data") / "adult.csv"
    adult_small.head(1500).to_csv(csv, index=False)
    binary = train(
        TrainConfig(
            data=str(csv), target="Y", sensitive=["sex", "race"], model="logistic", explain_rows=10
        ),
        workspace=ws,
    )
    regression = train(
        TrainConfig(data="sample:diabetes", model="tree", explain_rows=10), workspace=ws
    )
    older = _version_without_metrics(
        ws,
        "older",
        report=[
            {
                "attribute": "sex",
                "demographic_parity_difference": 0.125,
                "equalized_odds_difference": 0.25,
                "worst_group": {"gap": 0.05},
            }
        ],
    )
    bare = _version_without_metrics(ws, "bare", report=None)
    return ws, binary, regression, older, bare


def test_the_board_lists_both_data_sets_with_their_figures(board_ws):
    ws, binary, regression, _, _ = board_ws
    rows = {r.run_id: r for r in model_board(ws)}
    yes = rows[binary.run_id]
    assert (yes.model, yes.version, yes.dataset, yes.task) == (
        binary.model_name,
        binary.model_version,
        "adult",
        "binary",
    )
    assert yes.family == "logistic" and yes.family_title != "logistic"
    assert yes.accuracy == pytest.approx(binary.evaluation.metrics["accuracy"])
    assert yes.roc_auc == pytest.approx(binary.evaluation.metrics["roc_auc"])
    assert [g.attribute for g in yes.gaps] == ["sex", "race"]
    for report in binary.fairness:  # the stored reports' figures, small-group rule included
        gap = yes.gap(report.attribute)
        assert gap.demographic_parity_difference == pytest.approx(
            report.demographic_parity_difference
        )
        assert gap.equalized_odds_difference == pytest.approx(report.equalized_odds_difference)
    assert yes.size_bytes and yes.size_bytes > 1000
    assert yes.epsilon is None and yes.latency_ms is None
    assert not yes.published and yes.live_links == 0

    number = rows[regression.run_id]
    assert number.task == "regression" and number.accuracy is None
    assert number.rmse == pytest.approx(regression.evaluation.metrics["rmse"])
    assert number.r2 == pytest.approx(regression.evaluation.metrics["r2"])
    assert number.headline() == {"rmse": number.rmse, "mae": number.mae, "r2": number.r2}


def test_published_versions_and_live_links_show(board_ws):
    ws, binary, *_ = board_ws
    ws.set_published(binary.model_name, binary.model_version)
    links = ShareLinks(ws)
    links.create(binary.model_name, binary.model_version, expires_in=3600)
    revoked = links.create(binary.model_name, binary.model_version, expires_in=3600)
    links.revoke(revoked.id)
    try:
        (row,) = model_board(ws, published=True)
        assert row.run_id == binary.run_id and row.live_links == 1
    finally:
        ws.set_published(binary.model_name, binary.model_version, published=False)


def test_filters_search_and_sort(board_ws):
    ws, binary, regression, older, bare = board_ws
    rows = model_board(ws)
    assert {r.run_id for r in rows} == {binary.run_id, regression.run_id, older, bare}
    assert [r.run_id for r in model_board(ws, dataset="adult")] == [binary.run_id]
    assert [r.run_id for r in model_board(ws, dataset=rows[0].dataset_id)] == [rows[0].run_id]
    assert model_board(ws, published=True) == []
    largest = next(r for r in rows if r.run_id == binary.run_id).largest_gap
    assert {r.run_id for r in model_board(ws, max_gap=1.0)} == {binary.run_id, older}
    assert binary.run_id not in {r.run_id for r in model_board(ws, max_gap=largest - 1e-9)}
    assert [r.run_id for r in model_board(ws, search="DIABETES tree")] == [regression.run_id]
    by_accuracy = model_board(ws, sort="accuracy", descending=False)
    assert by_accuracy[-1].run_id == regression.run_id  # no accuracy: last either way
    assert filter_board(rows, owner="someone") == []
    owned = model_board(ws, owners={binary.run_id: "ana"}, owner="ana")
    assert [r.owner for r in owned] == ["ana"]
    with pytest.raises(ValueError, match="cannot sort"):
        model_board(ws, sort="colour")
    with pytest.raises(ValueError, match="max_gap"):
        model_board(ws, max_gap=-0.1)


def test_older_runs_fall_back_to_the_report_and_missing_figures_are_blank(board_ws):
    ws, _, _, older, bare = board_ws
    rows = {r.run_id: r for r in model_board(ws)}
    gap = rows[older].gap("sex")
    assert (gap.demographic_parity_difference, gap.equalized_odds_difference) == (0.125, 0.25)
    assert rows[older].largest_gap == 0.25
    blank = rows[bare]
    assert blank.accuracy == 0.8 and blank.roc_auc is None
    assert blank.gap("sex").demographic_parity_difference is None and blank.largest_gap is None
    assert blank.size_bytes is None or blank.size_bytes >= 0


def test_rows_round_trip_through_json(board_ws):
    ws, *_ = board_ws
    for row in model_board(ws):
        again = BoardRow.from_json(row.to_json())
        assert again == row and again.gaps == row.gaps


def test_the_database_reading_agrees_with_mlflows_client(board_ws):
    from lepton_core.runs import _dashboard

    ws, *_ = board_ws
    fast, slow = _dashboard._sql_snapshot(ws), _dashboard._api_snapshot(ws)
    key = lambda v: (v.name, v.version)  # noqa: E731
    assert sorted(fast.versions, key=key) == sorted(slow.versions, key=key)
    assert fast.runs == slow.runs


def test_tradeoff_across_the_boards_versions(board_ws):
    ws, binary, *_ = board_ws
    rows = model_board(ws)
    trade = board_tradeoff(rows, binary.dataset_id, attribute="sex")
    (point,) = trade.points
    assert point.run_id == binary.run_id and point.pareto


def test_the_page_shows_the_table_and_filters_it(board_ws, monkeypatch):
    from app_pages import _common

    ws, binary, *_ = board_ws
    monkeypatch.setenv("LEPTON_WORKSPACE", str(ws.root))
    _common._workspace.clear()
    try:
        at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
        at.switch_page("app_pages/dashboard.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.title[0].value == "Team dashboard"
        table = at.dataframe[0].value
        assert len(table) == 4 and {"Accuracy", "Parity gap · sex", "ε"} <= set(table.columns)
        # No version is private: ε is a column of blanks (floats), not of "None"s.
        assert table["ε"].dtype == float and table["ε"].isna().all()
        assert set(table["Task"]) <= {"binary", "regression"}
        at.selectbox(key="board_dataset").set_value("adult").run()
        assert not at.exception, [e.value for e in at.exception]
        assert list(at.dataframe[0].value["Model"]) == [
            f"{binary.model_name}:{binary.model_version}"
        ]
        at.text_input(key="board_search").set_value("no such model").run()
        assert not at.exception and len(at.dataframe[0].value) == 0
    finally:
        _common._workspace.clear()
