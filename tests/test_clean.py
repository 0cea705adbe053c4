"""Tests of lepton_core.data's clean-ups: numbers written as text, spellings, column types."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import DataError
from lepton_core.data import (
    TYPE_CHOICES,
    CleanupStep,
    InputSchema,
    add_cleanup,
    apply_cleanups,
    fingerprint,
    infer_schema,
    prepare_features,
    profile_table,
    read_number,
    read_numbers,
    set_type,
    suggest_cleanups,
)

# The loans table of the finding: incomes as people type them.
INCOMES = ["$78,693", "34k", "n/a", "1.2M", "52000", "$41,250.50", "61K", None, "73,100", "-"]
INCOME_VALUES = [78693, 34000, np.nan, 1.2e6, 52000, 41250.5, 61000, np.nan, 73100, np.nan]
EMPLOYMENT = ["Full-time", "full time ", "Full time", "Part-time", "part time", "Full-time"]


def _loans(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "income": INCOMES * n,
            "employment": (EMPLOYMENT * (10 * n))[: 10 * n],
            "city": ["Paris", "Rome", "3", "Oslo", "Lyon", "Nice", "Bonn", "5", "Turin", "Graz"]
            * n,
            "approved": rng.choice(["yes", "no"], 10 * n),
        }
    )


def _step(steps: list[CleanupStep], column: str) -> CleanupStep:
    return next(s for s in steps if s.column == column)


# ------------------------------------------------------------------------ one value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$78,693", 78693.0),
        ("34k", 34000.0),
        ("1.2M", 1.2e6),
        ("2.5bn", 2.5e9),
        ("€ 12", 12.0),
        ("12€", 12.0),
        ("£1,000,000", 1e6),
        ("USD 5,000", 5000.0),
        ("(1,234.50)", -1234.5),
        ("-$5", -5.0),
        ("$-5", -5.0),
        ("45%", 0.45),
        ("1 234", 1234.0),
        ("1'234'567", 1234567.0),
        ("3e5", 3e5),
        ("￥3,000", 3000.0),
        ("5万", 50000.0),
        ("1.5亿", 1.5e8),
        ("５万元", 50000.0),  # full-width digit, amount and currency word
        ("１２,３４５", 12345.0),
    ],
)
def test_read_number_understands_how_people_write_numbers(text, expected):
    assert read_number(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text", ["n/a", "N/A", "NA", "-", "--", "?", "none", "NULL", "无", "空", " "]
)
def test_words_for_no_value_read_as_missing(text):
    assert math.isnan(read_number(text))


@pytest.mark.parametrize("text", ["abc", "2021-03-04", "+44 20 7946", "3-5", "1,23,456", "A12"])
def test_text_that_is_not_a_number_is_not_read(text):
    assert read_number(text) is None


def test_decimal_comma_and_percent_as_number():
    assert read_number("1.234,5", decimal=",") == 1234.5
    assert read_number("€1.234,5") is None  # with a decimal point, not a number
    assert read_number("45%", percent="number") == 45.0
    with pytest.raises(ValueError, match="decimal"):
        read_number("1", decimal=";")


# ------------------------------------------------------------------------ columns


def test_incomes_become_a_number_column_with_the_right_values():
    df = _loans()
    assert infer_schema(df).kind("income") == "categorical"  # the finding
    steps = suggest_cleanups(df)
    step = _step(steps, "income")
    assert step.action == "numbers"
    # 300 rows: 30 already blank, 60 written 'n/a' or '-', 210 read.
    assert step.description.startswith("income: 210 of 270 values read as numbers")
    assert "currency signs as in '$78,693'" in step.description
    assert "amounts as in '34k'" in step.description
    assert "60 like 'n/a' or '-' become blanks" in step.description
    out = apply_cleanups(df, [step])
    assert out["income"].dtype == "float64"
    np.testing.assert_allclose(out["income"].to_numpy()[:10], INCOME_VALUES)
    assert infer_schema(out).kind("income") == "numeric"
    assert prepare_features(out, infer_schema(out), "approved")["income"].iloc[3] == 1.2e6


def test_the_api_example_asks_for_a_number_once_incomes_are_cleaned():
    df = _loans()
    out = apply_cleanups(df, suggest_cleanups(df))
    (field,) = InputSchema.from_frame(out, infer_schema(out), ["income"]).fields
    assert (field.kind, field.default) == ("numeric", 61000)
    (before,) = InputSchema.from_frame(df, infer_schema(df), ["income"]).fields
    assert before.kind == "categorical"  # the finding: {"income": "$78,693"}


def test_values_that_do_not_read_are_named_and_become_blanks():
    values = [f"${n:,}" for n in range(1000, 1095)] + ["ask me", "ten", "ask me", "ask me", "?"]
    step = _step(suggest_cleanups(pd.DataFrame({"pay": values})), "pay")
    assert "95 of 100 values read as numbers" in step.description
    assert "4 could not be read and become blanks: 'ask me', 'ten'" in step.description
    assert step.unread == {"ask me": 3, "ten": 1}
    out = apply_cleanups(pd.DataFrame({"pay": values}), [step])
    assert out["pay"].isna().sum() == 5


def test_a_text_column_with_a_few_numbers_is_not_converted():
    df = _loans()
    assert not [s for s in suggest_cleanups(df) if s.column == "city"]
    words = ["red", "green", "12", "blue", "7", "teal", "pink", "3", "grey", "navy"] * 3
    assert suggest_cleanups(pd.DataFrame({"colour": words})) == []


def test_plain_number_codes_are_left_to_the_type_rules():
    # "1"/"2" codes stay categories unless the user says they are numbers.
    codes = pd.DataFrame({"grade": ["1", "2", "3", "n/a", "2", "1"] * 5})
    assert suggest_cleanups(codes) == []
    assert infer_schema(codes).kind("grade") == "categorical"


def test_chinese_money_amounts_and_blanks():
    pay = ["￥3,000", "5万", "无", "４,５００", "￥12,000元", "8千", "2.5万", "空", "6000"]
    df = pd.DataFrame({"月薪": [*pay, "￥3,500"]})
    step = _step(suggest_cleanups(df), "月薪")
    assert step.description.startswith("月薪: 8 of 10 values read as numbers")
    assert "full-width digits as in '４,５００'" in step.description
    assert "2 like 'n/a' or '-' become blanks" in step.description
    out = apply_cleanups(df, [step])
    expected = [3000, 50000, np.nan, 4500, 12000, 8000, 25000, np.nan, 6000, 3500]
    np.testing.assert_allclose(out["月薪"].to_numpy(), expected)


def test_european_numbers_when_unambiguous_and_points_when_not():
    eu = pd.DataFrame({"price": ["1.234,5", "€ 12,99", "3,5", "1.000.000", "7"] * 4})
    step = _step(suggest_cleanups(eu), "price")
    assert step.decimal == ","
    assert "decimal commas as in '1.234,5'" in step.description
    assert apply_cleanups(eu, [step])["price"].tolist()[:5] == [1234.5, 12.99, 3.5, 1e6, 7.0]
    # "1,234" alone is read the English way: one thousand two hundred and thirty-four.
    assert read_numbers(pd.Series(["1,234", "$2,500", "3,000"])).numbers.tolist() == [
        1234.0,
        2500.0,
        3000.0,
    ]


def test_percentages_read_as_fractions_or_numbers_and_say_which():
    alone = pd.DataFrame({"rate": ["45%", "12.5%", "3%", "0.5", "1%"] * 4})
    step = _step(suggest_cleanups(alone), "rate")
    assert step.percent == "fraction"
    assert "percentages as fractions: '45%' → 0.45" in step.description
    assert apply_cleanups(alone, [step])["rate"].tolist()[:2] == [0.45, 0.125]
    beside_numbers = pd.DataFrame({"rate": ["45%", "12.5%", "30", "20", "1%"] * 4})
    step = _step(suggest_cleanups(beside_numbers), "rate")
    assert step.percent == "number"
    assert "percentages as numbers: '45%' → 45" in step.description
    assert apply_cleanups(beside_numbers, [step])["rate"].tolist()[:3] == [45.0, 12.5, 30.0]


def test_spelling_variants_of_one_category_collapse():
    df = _loans()
    assert df["employment"].nunique() == 5
    step = _step(suggest_cleanups(df), "employment")
    assert step.action == "categories"
    assert step.mapping == {"full time": "Full-time", "part time": "Part-time"}
    assert step.description.startswith("employment: 5 spellings become 2 categories")
    assert "'full time ', 'Full time' → 'Full-time'" in step.description
    out = apply_cleanups(df, [step])
    assert sorted(out["employment"].unique()) == ["Full-time", "Part-time"]
    assert out["employment"].value_counts()["Full-time"] == 200


def test_a_test_table_spelling_seen_only_there_is_tidied_too():
    step = _step(suggest_cleanups(_loans()), "employment")
    test = pd.DataFrame({"employment": ["FULL-TIME", "part_time", "Retired", None]})
    assert apply_cleanups(test, [step])["employment"].tolist()[:3] == [
        "Full-time",
        "Part-time",
        "Retired",
    ]


# ------------------------------------------------------------------------ steps


def test_steps_round_trip_through_json_and_apply_as_a_pure_function():
    df = _loans()
    before = df.copy()
    steps = [*suggest_cleanups(df), set_type(df, "approved", "category")]
    again = [CleanupStep.from_json(s.to_json()) for s in steps]
    assert again == steps
    out = apply_cleanups(df, again)
    pd.testing.assert_frame_equal(df, before)  # the input is not changed
    pd.testing.assert_frame_equal(out, apply_cleanups(df, steps))
    assert "CleanupStep('income', 'numbers', decimal='.', percent='fraction')" in [
        s.as_code() for s in steps
    ]


def test_undo_is_applying_the_other_steps_to_the_table_as_loaded():
    df = _loans()
    numbers, spellings = suggest_cleanups(df)[:2]
    both = apply_cleanups(df, [numbers, spellings])
    undone = apply_cleanups(df, [spellings])
    assert both["income"].dtype == "float64"
    pd.testing.assert_series_equal(undone["income"], df["income"])
    pd.testing.assert_series_equal(undone["employment"], both["employment"])


def test_add_cleanup_replaces_a_step_of_the_same_column_and_action():
    df = _loans()
    steps = add_cleanup([], set_type(df, "city", "text"))
    steps = add_cleanup(steps, set_type(df, "city", "category"))
    assert [(s.column, s.kind) for s in steps] == [("city", "category")]


def test_a_column_whose_type_the_user_chose_is_not_proposed_again():
    df = _loans()
    as_text = apply_cleanups(df, [set_type(df, "income", "category")])
    assert [s.column for s in suggest_cleanups(as_text)] == ["employment"]


def test_bad_steps_are_refused():
    with pytest.raises(ValueError, match="action"):
        CleanupStep("x", "shuffle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        CleanupStep("x", "type", kind="money")
    with pytest.raises(DataError, match="no column 'nope'"):
        set_type(_loans(), "nope", "number")


# ------------------------------------------------------------------------ column types


def test_type_override_for_every_choice():
    df = pd.DataFrame(
        {
            "rating": [str(i % 30) for i in range(60)],
            "zip": [10000 + i for i in range(60)],
            "note": ["ok", "late", "fine"] * 20,
            "day": ["2024-03-05", "2024-03-06", "soon"] * 20,
            "junk": ["x"] * 60,
        }
    )
    assert infer_schema(df).kind("rating") == "numeric"  # 30 distinct number strings
    steps = [
        set_type(df, "rating", "category"),
        set_type(df, "zip", "category"),
        set_type(df, "note", "text"),
        set_type(df, "day", "date"),
        set_type(df, "junk", "leave out"),
    ]
    out = apply_cleanups(df, steps)
    schema = infer_schema(out)
    assert [c.kind for c in schema.columns] == ["categorical", "categorical", "text", "datetime"]
    assert "junk" not in out.columns
    assert out["zip"].iloc[0] == "10000"
    assert out["day"].isna().sum() == 20
    assert "40 of 60 values read as dates; 20 could not be read" in steps[3].description
    assert steps[4].description == "junk: left out of the table (models will not use it)"
    assert schema.feature_columns(None) == ["rating", "zip", "day"]
    # Choices given in code win over the rules and over the table's own.
    assert infer_schema(out, {"rating": "numeric"}).kind("rating") == "numeric"
    with pytest.raises(ValueError, match="unknown column kinds"):
        infer_schema(out, {"rating": "money"})  # type: ignore[dict-item]


def test_number_type_reads_what_it_can():
    df = pd.DataFrame({"customer_id": [f"{i}" for i in range(1, 41)]})
    assert infer_schema(df).kind("customer_id") == "identifier"
    step = set_type(df, "customer_id", "number")
    assert step.description == (
        "customer_id: 40 of 40 values read as numbers; every value is a number; used as a number"
    )
    out = apply_cleanups(df, [step])
    assert infer_schema(out).kind("customer_id") == "numeric"
    assert profile_table(out).columns[0].kind == "numeric"


def test_chosen_types_travel_with_the_parquet_file_and_change_the_fingerprint():
    df = _loans()
    out = apply_cleanups(df, [set_type(df, "city", "text")])
    buffer = io.BytesIO()
    out.to_parquet(buffer)
    back = pd.read_parquet(io.BytesIO(buffer.getvalue()))
    assert infer_schema(back).kind("city") == "text"
    assert fingerprint(back) == fingerprint(out) != fingerprint(df)
    assert set(TYPE_CHOICES) == {"number", "category", "text", "date", "leave out"}


def test_suggestions_on_adult_propose_nothing(adult_small):
    assert suggest_cleanups(adult_small) == []


def test_a_confirmed_data_set_keeps_the_chosen_types_for_training(workspace):
    from lepton_core.workspace import confirm_dataset

    df = _loans()
    steps = [*suggest_cleanups(df), set_type(df, "city", "text")]
    info = confirm_dataset(
        workspace, apply_cleanups(df, steps), name="loans", target="approved", cleanups=steps
    )
    # The clean-ups are recorded with the data set (and survive a reload of its record).
    record = workspace.get_dataset(info.id)
    assert [CleanupStep.from_dict(d) for d in record.cleanups] == steps
    stored, _ = workspace.load_dataset(info.id)
    schema = infer_schema(stored)  # what training sees
    assert [schema.kind(c) for c in ("income", "employment", "city")] == [
        "numeric",
        "categorical",
        "text",
    ]
    assert schema.feature_columns("approved") == ["income", "employment"]
