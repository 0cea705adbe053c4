"""Federated text: each client embeds its own texts (frozen MiniLM), FedAvg over the head."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pandas as pd
import pytest

from lepton_core.runs import FederatedConfig, run_federated

_GOOD = ["wonderful", "moving", "brilliant", "charming", "funny", "beautiful"]
_BAD = ["dull", "awful", "boring", "clumsy", "tedious", "lifeless"]


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    """Short seeded reviews with their sentiment and the reviewer's region."""
    rng = random.Random(0)
    rows = []
    for i in range(120):
        good = i % 2 == 0
        words = rng.sample(_GOOD if good else _BAD, 2)
        rows.append(
            {
                "review": f"a {words[0]} film , {words[1]} from start to finish",
                "region": rng.choice(["north", "south"]),
                "sentiment": "positive" if good else "negative",
            }
        )
    path = tmp_path_factory.mktemp("fed_text") / "reviews.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_text_clients_train_one_quick_head_registered_as_a_text_model(reviews, workspace):
    result = run_federated(
        FederatedConfig(
            data=reviews, target="sentiment", sensitive=["region"], model="text",
            text_column="review", split_by="region", clients=2, rounds=3, min_client_rows=10,
            learning_rate=1e-2, register=True, model_name="fed-text", explain_rows=1,
        ),
        workspace=workspace,
    )  # fmt: skip
    assert [c["name"] for c in result.clients] in (["north", "south"], ["south", "north"])
    received = [set(c["rows"]) for c in result.clients]
    assert received[0].isdisjoint(received[1])
    assert result.federated["accuracy"] >= 0.9 and result.centralised["accuracy"] >= 0.9
    run = workspace.get_run(result.run_id)
    assert run.family == "text"
    # The registered Quick model (encoder + the federated head) scores as the federation did.
    assert run.metrics["test_accuracy"] == pytest.approx(result.federated["accuracy"])
    assert run.metrics["test_roc_auc"] == pytest.approx(result.federated["roc_auc"], abs=1e-4)
    model = workspace.load_model("fed-text", result.model_version)
    assert model.mode == "quick" and list(model.classes_) == ["negative", "positive"]
    assert list(model.predict(pd.DataFrame({"review": ["a wonderful , charming film"]}))) == [
        "positive"
    ]


def test_a_text_data_set_offers_the_quick_head_on_the_page_and_the_cli(
    reviews, workspace, monkeypatch, capsys
):
    from test_pages import _ok, _page

    from app_pages import _federated
    from app_pages._common import Keys
    from lepton_core import runs
    from lepton_core.cli import main
    from lepton_core.runs import TrainConfig, resolve_dataset

    started = []
    job = SimpleNamespace(id="job1")  # the job itself is the test above's run
    monkeypatch.setattr(_federated, "start_job", lambda config, **_: started.append(config) or job)
    monkeypatch.setattr(_federated, "federated_panel", lambda job_id: None)
    info, _, _ = resolve_dataset(
        TrainConfig(data=reviews, target="sentiment", model="text", text_column="review"), workspace
    )
    at = _page("train")
    at.session_state[Keys.DATASET_ID] = info.id
    _ok(at.run())
    model = at.selectbox(key="federated_model_text")
    assert model.options == ["text model, Quick mode (each group reads only its own texts)"]
    next(b for b in at.button if b.label == "Start federated training").click()
    _ok(at.run())
    assert started[0].model == "text" and started[0].data == f"dataset:{info.id}"

    asked = []

    class Done:  # the real run is the test above: here the options
        def to_dict(self):
            return {}

    monkeypatch.setattr(runs, "run_federated", lambda config, **_: asked.append(config) or Done())
    args = ["--workspace", str(workspace.root), "federated", "--data", reviews, "--json"]
    assert main([*args, "--model", "text", "--text-column", "review"]) == 0, capsys.readouterr()
    assert (asked[0].model, asked[0].text_column) == ("text", "review")
