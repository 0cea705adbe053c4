"""Property test: no record, however odd, gets a 5xx from the REST API (issue 14).

Random values (text with any code point, lone surrogates included; floats with inf, NaN
and huge ones; integers past 2**53; numbers as text; nested objects; wrong types) and
random keys (unknown, huge, surrogates) go to predict, explain, v2 infer and the ONNX
runtime of one small model trained once for this module. Every answer must be 2xx or
4xx, valid UTF-8 JSON, short when it is an error, and non-finite numbers must never get
a prediction.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lepton_core.serving import create_app

MAX_EXAMPLES = 150
STATUSES: list[int] = []


@pytest.fixture(scope="module")
def served(adult_small, workspace, tmp_path_factory):
    """A small LightGBM model, its default record and clients (native, ONNX) without keys."""
    from lepton_core.runs import TrainConfig, train

    data = tmp_path_factory.mktemp("records") / "adult_1500.csv"
    adult_small.head(1500).to_csv(data, index=False)
    run = train(
        TrainConfig(
            data=str(data),
            target="Y",
            sensitive=["sex"],
            params={"n_estimators": 20},
            model_name="records-property",
            explain_rows=20,
        ),
        workspace=workspace,
    )
    schema = workspace.load_input_schema(run.run_id)
    clients = {
        "native": TestClient(create_app(workspace, require_key=False)),
        "onnx": TestClient(create_app(workspace, require_key=False, runtime="onnx")),
    }
    return run, schema, clients


# ---------------------------------------------------------------- strategies
ANY_CHAR = st.characters(exclude_categories=[])  # every code point, lone surrogates too
NUMBER_TEXT = st.sampled_from(
    [
        *("inf", "-inf", "Infinity", "NaN", "nan", "1e309", "-1e309", "1e308", "", " 12 "),
        *("0x10", "1_000", "\u0661\u0662", "12", "-0", "4e-320", "\ud800", "\u200b12"),
    ]
)
PLAIN = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 2.0**53 + 2, 5e-324]),
    st.text(ANY_CHAR, max_size=30),
    NUMBER_TEXT,
)
VALUES = st.recursive(
    PLAIN,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
KEYS = st.one_of(
    st.text(ANY_CHAR, min_size=1, max_size=20),
    st.integers(1, 200_000).map(lambda n: "k" * n),
    st.sampled_from(["\ud800", "\u200bage", "age\n", "", "__proto__"]),
)


@st.composite
def records(draw: st.DrawFn, defaults: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(1, 2))):
        record = dict(defaults)
        for name in draw(st.lists(st.sampled_from(sorted(defaults)), max_size=3, unique=True)):
            # Mostly plain values, so that many requests get as far as a prediction.
            record[name] = draw(PLAIN if draw(st.integers(0, 9)) else VALUES)
        if draw(st.integers(0, 9)) == 0:
            record[draw(KEYS)] = draw(VALUES)
        if draw(st.integers(0, 9)) == 0:
            record.pop(draw(st.sampled_from(sorted(defaults))))
        out.append(record)
    return out


def _non_finite(value: Any, numeric: bool) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if numeric and isinstance(value, str):
        try:
            return not math.isfinite(float(value))
        except ValueError:
            return False
    return False


def _must_refuse(rows: list[dict[str, Any]], numeric: set[str]) -> bool:
    return any(_non_finite(v, k in numeric) for row in rows for k, v in row.items())


def _v2_body(rows: list[dict[str, Any]]) -> dict[str, Any]:
    names = list(dict.fromkeys(k for row in rows for k in row))
    inputs = [
        {"name": n, "shape": [len(rows)], "datatype": "BYTES", "data": [r.get(n) for r in rows]}
        for n in names
    ]
    return {"id": "property", "inputs": inputs}


# ---------------------------------------------------------------- the property
def test_no_record_gets_a_5xx(served):
    run, schema, clients = served
    defaults = schema.defaults()
    numeric = {f.name for f in schema.fields if f.kind == "numeric"}
    base = f"/models/{run.model_name}/versions/{run.model_version}"
    routes = [
        ("native", base + "/predict", False),
        ("native", base + "/explain", False),
        ("native", f"/v2/models/{run.model_name}/infer", True),
        ("onnx", base + "/predict", False),
    ]

    known = [  # the values the attack pass found, on every route, then random ones
        dict(defaults, workclass=1e308),
        {**defaults, "\ud800": 1},
        dict(defaults, age="\ud800"),
        dict(defaults, workclass="\udfff"),
        dict(defaults, age="inf"),
        dict(defaults, age="NaN"),
        dict(defaults, age="1e309"),
        {**defaults, "k" * 1_000_000: 1},
    ]

    def check(rows: list[dict[str, Any]], route: tuple[str, str, bool]) -> None:
        runtime, path, v2 = route
        body = _v2_body(rows) if v2 else {"records": rows}
        # ensure_ascii writes lone surrogates as \ud800 escapes, as a client's JSON would.
        content = json.dumps(body, allow_nan=True).encode()
        response = clients[runtime].post(
            path, content=content, headers={"Content-Type": "application/json"}
        )
        STATUSES.append(response.status_code)
        assert response.status_code < 500, (path, rows, response.text[:300])
        answer = json.loads(response.content.decode("utf-8"))  # valid UTF-8 JSON
        if response.status_code >= 400:
            assert len(response.content) < 4_000, response.content[:300]
            message = answer.get("detail") or answer.get("error")
            assert isinstance(message, str) and message.endswith("."), answer
        if _must_refuse(rows, numeric):
            assert response.status_code == 422, (path, rows, answer)

    for row in known:
        for route in routes:
            check = example(rows=[row], route=route)(check)
    run_all = settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )(given(rows=records(defaults), route=st.sampled_from(routes))(check))
    run_all()
    assert len(STATUSES) >= len(known) * len(routes) + MAX_EXAMPLES // 2
    assert STATUSES.count(200) > 10 and STATUSES.count(422) > 10, STATUSES
    assert not [s for s in STATUSES if s >= 500]
