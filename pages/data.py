"""Step 1 · Data: load a table, look at it, and confirm target, task and sensitive columns."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lepton_core.data import (
    check_sensitive,
    check_target,
    fingerprint,
    load_table,
    profile_table,
)
from lepton_core.plots import class_balance_figure, column_distribution_figure
from lepton_core.samples import list_samples, load_sample
from lepton_core.tasks import TASKS
from pages._common import Keys, guard, header, python_cell, workspace

header(
    "1 · Data",
    "Upload a table or pick a sample, check what Lepton made of each column, then say what "
    "to predict and which columns describe groups of people whose treatment should be fair.",
)
upload_limit_mb = st.get_option("server.maxUploadSize")


@st.cache_data(show_spinner="Profiling the table…", max_entries=8)
def _profile(_df: pd.DataFrame, key: str, target: str | None = None):
    # The leading underscore keeps Streamlit from hashing the table; ``key`` is its fingerprint.
    return profile_table(_df, target=target)


source = st.radio("Source", ["Sample", "Upload a file"], horizontal=True)
if source == "Sample":
    name = st.selectbox("Sample", list_samples())
    if st.button("Load sample", type="primary"):
        sample = guard(load_sample, name)
        st.session_state[Keys.DRAFT] = {
            "name": sample.name,
            "df": sample.train,
            "test": sample.test,
            "source": f"sample:{sample.name}",
            "target": sample.target,
            "sensitive": sample.sensitive,
            "about": f"{sample.title}: {sample.description} Source: {sample.source}",
        }
else:
    upload = st.file_uploader(
        "Table (CSV, TSV, Parquet or JSONL)", type=["csv", "tsv", "txt", "parquet", "jsonl", "json"]
    )
    test_upload = st.file_uploader(
        "Optional test table (same columns); otherwise part of the table is held out",
        type=["csv", "tsv", "txt", "parquet", "jsonl", "json"],
    )
    if upload is not None and st.button("Load file", type="primary"):
        limit = upload_limit_mb * 1024 * 1024
        df = guard(load_table, upload.getvalue(), filename=upload.name, max_bytes=limit)
        test = None
        if test_upload is not None:
            test = guard(
                load_table, test_upload.getvalue(), filename=test_upload.name, max_bytes=limit
            )
        st.session_state[Keys.DRAFT] = {
            "name": upload.name.rsplit(".", 1)[0],
            "df": df,
            "test": test,
            "source": upload.name,
            "target": None,
            "sensitive": None,
            "about": f"Uploaded file {upload.name}.",
        }

draft = st.session_state.get(Keys.DRAFT)
if draft is None:
    st.info("Pick a sample or upload a file to begin.")
    python_cell(
        """
from lepton_core.data import load_table, profile_table
df = load_table("my_table.csv")
profile = profile_table(df)
"""
    )
    st.stop()

df: pd.DataFrame = draft["df"]
key = fingerprint(df)
profile = _profile(df, key)
st.caption(draft["about"])
c1, c2, c3, c4 = st.columns(4)
c1.metric("Rows", f"{profile.n_rows:,}")
c2.metric("Columns", profile.n_columns)
missing = sum(c.missing_share for c in profile.columns) / max(len(profile.columns), 1)
c3.metric("Missing values", f"{missing:.1%}")
c4.metric("Test rows", f"{len(draft['test']):,}" if draft["test"] is not None else "held out")

st.subheader("Preview")
st.dataframe(df.head(200), height=260)

st.subheader("Columns")
st.dataframe(
    pd.DataFrame(
        {
            "column": [c.name for c in profile.columns],
            "type": [c.kind for c in profile.columns],
            "missing": [c.missing_share for c in profile.columns],
            "distinct": [c.distinct for c in profile.columns],
        }
    ),
    column_config={"missing": st.column_config.ProgressColumn("missing", format="percent")},
    hide_index=True,
)
left, right = st.columns(2)
with left:
    shown = st.selectbox("Distribution of", [c.name for c in profile.columns])
    column = next(c for c in profile.columns if c.name == shown)
    st.plotly_chart(column_distribution_figure(column))

st.subheader("What to predict")
names = list(df.columns)
suggested = draft["target"] or profile.suggestions.target
target = st.selectbox(
    "Target column", names, index=names.index(suggested) if suggested in names else len(names) - 1
)
inferred = guard(check_target, df, target)
task = st.radio(
    "Task",
    TASKS,
    index=TASKS.index(inferred),
    horizontal=True,
    help="Inferred from the target column; change it only if Lepton guessed wrong.",
)
default_sensitive = draft["sensitive"]
if default_sensitive is None:
    default_sensitive = profile.suggestions.sensitive
sensitive = st.multiselect(
    "Sensitive columns (fairness is compared across their groups)",
    [n for n in names if n != target],
    default=[s for s in default_sensitive if s != target and s in names],
)
with right:
    if task != "regression":
        st.plotly_chart(class_balance_figure(guard(_profile, df, key, target)))

if st.button("Use this data", type="primary"):
    guard(check_target, df, target, task)
    guard(check_sensitive, df, sensitive)
    info = guard(
        workspace().save_dataset,
        df,
        name=draft["name"],
        target=target,
        task=task,
        sensitive=sensitive,
        fingerprint=key,
        test=draft["test"],
        source=draft["source"],
    )
    st.session_state[Keys.DATASET_ID] = info.id
    st.success(f"Data set **{info.name}** is ready ({info.n_rows:,} rows); next, train a model.")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")

if draft["source"].startswith("sample:"):
    load_code = f"df = load_sample({draft['name']!r}).train"
else:
    load_code = f"df = load_table({draft['source']!r})"
python_cell(
    f"""
from lepton_core.data import load_table, profile_table, check_target
from lepton_core.samples import load_sample
{load_code}
profile = profile_table(df, target={target!r})
task = check_target(df, {target!r}, {task!r})
# then train: TrainConfig(data={draft["source"]!r}, target={target!r}, sensitive={sensitive!r})
"""
)
