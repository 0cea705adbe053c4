"""Monitor: how a deployed model fares since it went live, and whether new data still fits it."""

from __future__ import annotations

import contextlib

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
from app_pages._team import may
from lepton_core.core import LeptonError

header(
    tr("6 · Monitor"),
    tr(
        "A model is only as good as the data it meets. See what a published model has "
        "answered since it went live, whether it is still as accurate and as fair as at "
        "training, or upload new records (say, this month's) to see how far they have moved "
        "from the data the model learned from."
    ),
)

# Imported after the heading is on screen: the first visit imports the plotting stack.
from lepton_core.data import load_table  # noqa: E402
from lepton_core.monitoring import (  # noqa: E402
    Limits,
    compare_with_training,
    live_from_log,
    save_check,
    workspace_limits,
)
from lepton_core.plots import (  # noqa: E402
    drift_column_figure,
    drift_overview_figure,
    fairness_trend_figure,
    live_report_html,
    performance_trend_figure,
    traffic_figure,
)
from lepton_core.runs import NO_NAMES  # noqa: E402
from lepton_core.workspace import Role  # noqa: E402

LEVELS = {"none": tr("no real change"), "moderate": tr("moderate"), "major": tr("major")}
WINDOWS = {"1h": tr("Hour"), "1D": tr("Day"), "7D": tr("Week")}


def _p_value(value: float | None) -> str:
    return "" if value is None else "< 0.001" if value < 0.001 else f"{value:.3f}"


def _drift_views(report, key: str) -> None:
    """The drift verdict, chart, one column's detail and the table, for either tab."""
    if report.drifted:
        st.warning(say(report.summary()), icon=":material/warning:")
    else:
        st.success(say(report.summary()), icon=":material/check_circle:")
    st.plotly_chart(drift_overview_figure(report, language=language()), key=f"{key}-overview")
    column = st.selectbox(
        tr("Look at one column"), [f.column for f in report.features], key=f"{key}-column"
    )
    st.plotly_chart(
        drift_column_figure(report.feature(column), language=language()), key=f"{key}-one"
    )
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
        key=f"{key}-table",
        column_config={
            "PSI": st.column_config.NumberColumn(
                help=tr(
                    "How far the column moved: below 0.1 no real change, above 0.2 a major one."
                )
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
                "deciles, categories keep its 20 most common values, and free text is compared by "
                "its length in characters. The **p-value** comes from "
                "a Kolmogorov–Smirnov test (numbers) or a chi-square test (categories): with "
                "many rows even a trifling change gets a tiny p-value, so the verdict follows "
                "PSI."
            )
        )


@st.cache_data(ttl=30, max_entries=8, show_spinner=False)
def _live(root: str, model: str, every: str, limits: dict):
    """The live report, computed at most every 30 s per model and window; its alerts are
    stored as the version's latest check, which the dashboard shows."""
    report = live_from_log(workspace(), model, every=every, limits=Limits.from_dict(limits))
    with contextlib.suppress(LeptonError):  # only the dashboard's banner waits for the next
        save_check(workspace(), report)
    return report


def _limits_editor(name: str, limits: Limits) -> None:
    """The model's alert limits, for editors."""
    with st.expander(tr("Alert limits for this model")), st.form(f"limits-{name}"):
        psi = st.number_input(
            tr("A column has drifted when its PSI reaches"), 0.05, 5.0, limits.psi, 0.05
        )
        drop = st.number_input(
            tr("Alert when accuracy falls this far below training"),
            0.0, 1.0, limits.accuracy_drop, 0.01,
        )  # fmt: skip
        gap = st.number_input(
            tr("Alert when the gap between groups widens beyond its training value by"),
            0.0, 1.0, limits.fairness_gap, 0.01,
        )  # fmt: skip
        hook = st.text_input(
            tr("Also send alerts to (a web address, optional)"),
            value=guard(workspace().model_setting, name, "alert_webhook") or "",
            help=tr(
                "An incoming-webhook address of your chat or pager tool. Alerts are sent when "
                "`lepton monitor --live --check` runs, say every hour from a scheduler."
            ),
        )
        if st.form_submit_button(tr("Save limits")):
            if hook.strip() and not hook.strip().startswith(("https://", "http://")):
                st.error(tr("The web address must start with https:// or http://."))
                st.stop()
            new = Limits(psi=psi, accuracy_drop=drop, fairness_gap=gap)
            guard(workspace().set_model_setting, name, "alert_limits", new.to_dict())
            guard(workspace().set_model_setting, name, "alert_webhook", hook.strip() or None)
            _live.clear()
            st.rerun()


def _live_tab(model: str) -> None:
    name = model.split(":", 1)[0]
    every = (
        st.segmented_control(
            tr("One point per"), list(WINDOWS), format_func=WINDOWS.get, default="1D"
        )
        or "1D"
    )
    limits = guard(workspace_limits, workspace(), name)
    with st.spinner(tr("Reading what the model answered…")):
        report = guard(_live, str(workspace().root), model, every, limits.to_dict())
    if not report.rows and not report.traffic:
        st.info(say(report.summary()))
        if may(Role.EDITOR):
            _limits_editor(name, limits)
        return
    if report.alerts:
        st.warning(say(report.summary()), icon=":material/warning:")
        for alert in report.alerts:
            st.markdown(f"- {say(alert.summary())}")
    else:
        st.success(say(report.summary()), icon=":material/check_circle:")
    requests, errors = report.requests, report.errors
    latest = report.traffic[-1] if report.traffic else None
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(tr("Requests"), f"{requests:,}")
    c2.metric(tr("Failed"), f"{errors / requests:.1%}" if requests else "–")
    c3.metric(
        tr("Typical time, latest"),
        f"{latest.p50_ms:.0f} ms" if latest and latest.p50_ms is not None else "–",
    )
    if not report.finds_names:  # an entity model's answers are not scored (see below)
        c4.metric(
            tr("True answers received"),
            f"{report.labelled:,}",
            help=tr("Send them back through the API's feedback address or `lepton feedback`."),
        )
    if report.sampled:
        st.caption(
            tr(
                "Figures other than traffic are read from a random sample of {rows:,} predictions."
            ).format(rows=report.rows)
        )
    st.plotly_chart(
        traffic_figure(report.traffic, every=report.every, language=language()),
        key="live-traffic",
    )
    if report.finds_names:
        st.info(
            tr(
                "This model finds names in text, so there is no accuracy over time here: one "
                "true answer sent back per prediction cannot score the names found in a "
                "sentence. Its F1 on the test sentences is on the Evaluate page."
            )
        )
    if report.performance is not None:
        st.plotly_chart(
            performance_trend_figure(report.performance, language=language()), key="live-perf"
        )
        st.caption(
            tr(
                "The dashed line estimates accuracy from the model's own confidence; it needs "
                "no true answers but is only right when the model's chances are well "
                "calibrated. The solid line is measured, with its 95 % range."
            )
        )
    if report.fairness:
        column = st.selectbox(
            tr("Fairness over time, by"), [t.attribute for t in report.fairness], key="live-fair"
        )
        trend = next(t for t in report.fairness if t.attribute == column)
        st.plotly_chart(fairness_trend_figure(trend, language=language()), key="live-fairness")
    if report.answers is not None:
        if report.finds_names:
            said = tr(
                "Change in the kinds of name it finds since its test sentences: {level} "
                "(PSI {psi:.3f}). Each answer counts as the kinds found in it ({none} when it "
                "found no name)."
            )
        else:
            said = tr("Change in the model's answers since training: {level} (PSI {psi:.3f}).")
        level, psi = LEVELS[report.answers.level], report.answers.psi
        st.caption(said.format(level=level, psi=psi, none=NO_NAMES))
        st.plotly_chart(
            drift_column_figure(report.answers, answers=True, language=language()),
            key="live-answers",
        )
    if report.drift is not None:
        st.subheader(tr("Did the records it was sent change?"))
        drift = report.drift
        if report.latest_drift is not None:
            latest = tr("The latest {window} only").format(window=WINDOWS[every].lower())
            scope = st.segmented_control(
                tr("Compare with the training data"),
                [latest, tr("Everything since it went live")],
                default=latest,
                help=tr("Drift alerts follow the latest window: a change shows there first."),
            )
            drift = report.latest_drift if scope == latest else report.drift
        _drift_views(drift, "live")
    st.download_button(
        tr("Download this report (HTML)"),
        live_report_html(report, language=language()),
        file_name=f"monitor-{model.replace(':', '-')}.html",
        mime="text/html",
        icon=":material/download:",
    )
    if may(Role.EDITOR):
        _limits_editor(name, limits)
    python_cell(
        f"""from lepton_core.monitoring import live_from_log
from lepton_core.workspace import Workspace

report = live_from_log(Workspace(), {model!r}, every={every!r})
print(report.summary())
for alert in report.alerts:
    print(alert.summary())
# or from a shell, for a scheduler: lepton monitor --model {model} --live --check"""
    )


def _file_tab(model: str) -> None:
    upload = st.file_uploader(
        tr("New records: a table with the columns the model was trained on"),
        type=UPLOAD_TYPES,
    )
    if upload is None:
        return
    limit = st.get_option("server.maxUploadSize") * 1024 * 1024
    records = guard(load_table, upload.getvalue(), filename=upload.name, max_bytes=limit)
    with st.spinner(tr("Comparing with the training data…")):
        report = guard(compare_with_training, workspace(), model, records)
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
    _drift_views(report, "file")
    python_cell(
        f"""from lepton_core.data import load_table
from lepton_core.monitoring import compare_with_training
from lepton_core.workspace import Workspace

report = compare_with_training(Workspace(), {model!r}, load_table({upload.name!r}))
print(report.summary())
# or from a shell, for a scheduler: lepton monitor --model {model} --data {upload.name} --check"""
    )


versions = model_versions()
if not versions:
    st.info(tr("There is no model yet; train one on the Train page first."))
    st.stop()
refs = [v.ref for v in versions]
asked = st.query_params.get("model")  # from the dashboard's alert banner
model = st.selectbox(tr("Model"), refs, index=refs.index(asked) if asked in refs else 0)
if asked is not None and asked != model:
    st.query_params["model"] = model  # the address names what is on screen
live_tab, file_tab = st.tabs([tr("Since it went live"), tr("Check a file")])
with live_tab:
    _live_tab(model)
with file_tab:
    _file_tab(model)
