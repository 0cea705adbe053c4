"""Monitor: do new records still look like the data a model learned from?"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._common import (
    UPLOAD_TYPES,
    guard,
    header,
    model_versions,
    python_cell,
    workspace,
)
from app_pages._i18n import language, say, tr

header(
    tr("6 · Monitor"),
    tr(
        "A model is only as good as the data it meets. Upload new records (say, this month's) "
        "to see, column by column, how far they have moved from the data the model learned "
        "from."
    ),
)

# Imported after the heading is on screen: the first visit imports the plotting stack.
from lepton_core.data import load_table  # noqa: E402
from lepton_core.monitoring import compare_with_training  # noqa: E402
from lepton_core.plots import drift_column_figure, drift_overview_figure  # noqa: E402


def _p_value(value: float | None) -> str:
    return "" if value is None else "< 0.001" if value < 0.001 else f"{value:.3f}"


versions = model_versions()
if not versions:
    st.info(tr("There is no model yet; train one on the Train page first."))
    st.stop()
model = st.selectbox(tr("Model"), [v.ref for v in versions])
upload = st.file_uploader(
    tr("New records: a table with the columns the model was trained on"),
    type=UPLOAD_TYPES,
)
if upload is None:
    st.stop()

limit = st.get_option("server.maxUploadSize") * 1024 * 1024
records = guard(load_table, upload.getvalue(), filename=upload.name, max_bytes=limit)
with st.spinner(tr("Comparing with the training data…")):
    report = guard(compare_with_training, workspace(), model, records)

LEVELS = {"none": tr("no real change"), "moderate": tr("moderate"), "major": tr("major")}
if report.drifted:
    st.warning(say(report.summary()), icon=":material/warning:")
else:
    st.success(say(report.summary()), icon=":material/check_circle:")
c1, c2, c3 = st.columns(3)
c1.metric(tr("Columns compared"), len(report.features))
c2.metric(tr("Changed markedly"), len(report.drifted))
c3.metric(tr("New rows compared"), f"{report.current_rows:,}")
if report.sampled:
    st.caption(
        tr("Large tables are compared on a random sample of {rows:,} rows each.").format(
            rows=max(report.reference_rows, report.current_rows)
        )
    )

st.plotly_chart(drift_overview_figure(report, language=language()))
column = st.selectbox(tr("Look at one column"), [f.column for f in report.features])
st.plotly_chart(drift_column_figure(report.feature(column), language=language()))

st.dataframe(
    pd.DataFrame(
        {
            tr("Column"): [f.column for f in report.features],
            tr("Change"): [LEVELS[f.level] for f in report.features],
            "PSI": [round(f.psi, 3) for f in report.features],
            tr("p-value"): [_p_value(f.p_value) for f in report.features],
        }
    ),
    hide_index=True,
    column_config={
        "PSI": st.column_config.NumberColumn(
            help=tr("How far the column moved: below 0.1 no real change, above 0.2 a major one.")
        ),
        tr("p-value"): st.column_config.TextColumn(
            help=tr("How likely a change this large is by chance alone; see Expert details.")
        ),
    },
)
with st.expander(tr("Expert details")):
    st.write(
        tr(
            "**PSI** (population stability index) measures how far a column's distribution "
            "moved, whatever the number of rows: below 0.1 is no real change, 0.1 to 0.2 a "
            "moderate one, above 0.2 a major one. Numbers are cut at the training data's "
            "deciles, categories keep its 20 most common values. The **p-value** comes from "
            "a Kolmogorov–Smirnov test (numbers) or a chi-square test (categories): with "
            "many rows even a trifling change gets a tiny p-value, so the verdict follows PSI."
        )
    )

python_cell(
    f"""from lepton_core.data import load_table
from lepton_core.monitoring import compare_with_training
from lepton_core.workspace import Workspace

report = compare_with_training(Workspace(), {model!r}, load_table({upload.name!r}))
print(report.summary())
# or from a shell, for a scheduler: lepton monitor --model {model} --data {upload.name} --check"""
)
