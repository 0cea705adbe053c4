"""Values sent to a model later are read the way the training table's were: its dates, and
the data set's clean-ups."""

from __future__ import annotations

import pandas as pd
import pytest

from lepton_core.data import InputSchema, infer_schema

DAYS = pd.Timestamp("1970-01-01", tz="UTC")


def _schema(dates: list[str]) -> InputSchema:
    raw = pd.DataFrame(
        {
            "when": dates * 10,
            "amount": [2.5, 7.0, 1.25] * (10 * len(dates) // 3) + [2.5] * (10 * len(dates) % 3),
        }
    )
    schema = InputSchema.from_frame(raw, infer_schema(raw), ["when", "amount"])
    return InputSchema.from_dict(schema.to_dict())  # as stored with the model and read back


@pytest.mark.parametrize(
    ("training", "read_as"),
    [
        (["25/03/2021", "14/11/2020", "01/02/2021"], "2021-04-03"),  # day-first table
        (["03/25/2021", "11/14/2020", "02/01/2021"], "2021-03-04"),  # month-first table
    ],
)
def test_one_ambiguous_record_is_read_like_the_training_dates(training, read_as):
    schema = _schema(training)
    field = next(f for f in schema.fields if f.name == "when")
    assert field.kind == "datetime" and field.dayfirst is (read_as == "2021-04-03")
    # "03/04/2021" alone says nothing about its order; the training table decided.
    frame = schema.to_frame([{"when": "03/04/2021", "amount": 1}])
    expected = (pd.Timestamp(read_as, tz="UTC") - DAYS) / pd.Timedelta(days=1)
    assert frame["when"].iloc[0] == pytest.approx(expected)


def test_a_schema_stored_before_the_choice_was_kept_still_reads_dates():
    stored = _schema(["25/03/2021", "14/11/2020"]).to_dict()
    for field in stored["fields"]:
        field.pop("dayfirst", None)
    frame = InputSchema.from_dict(stored).to_frame([{"when": "25/03/2021", "amount": 1}])
    assert frame["when"].notna().all()


def test_values_sent_later_get_the_data_sets_clean_ups():
    from lepton_core.core import DataError
    from lepton_core.data import apply_cleanups, suggest_cleanups

    raw = pd.DataFrame(
        {
            "income": ["$78,693", "$3,000", "$12,500", "n/a", "$40,000"] * 20,
            "employment": ["Full-time", "full time ", "Part-time", "Full-time", "part time"] * 20,
        }
    )
    steps = suggest_cleanups(raw)
    assert {s.column for s in steps} == {"income", "employment"}
    cleaned = apply_cleanups(raw, steps)
    schema = InputSchema.from_frame(cleaned, infer_schema(cleaned), ["income", "employment"], steps)
    schema = InputSchema.from_dict(schema.to_dict())  # stored with the model, read back
    frame = schema.to_frame(
        [{"income": "$3,000", "employment": "full time "}, {"income": 2500, "employment": None}]
    )
    assert list(frame["income"]) == [3000.0, 2500.0]
    assert frame["employment"].iloc[0] == "Full-time"
    with pytest.raises(DataError, match="income"):  # what no clean-up reads is still refused
        schema.to_frame([{"income": "about three grand", "employment": "Full-time"}])
