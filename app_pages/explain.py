"""Step 4 · Explain: why the model predicts what it does, overall and for one row (SHAP)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._common import (
    fmt,
    guard,
    header,
    pick_run,
    python_cell,
    run_explanation,
    workspace,
)
from app_pages._i18n import language, say, tr

header(
    tr("4 · Explain"),
    tr(
        "Why the model predicts what it does: for each column (each word for a text model), "
        "how much it pushed a prediction up or down from the starting point, the prediction "
        "for an average row."
    ),
)

# Imported after the heading is on screen: the first visit imports the plotting stack.
from app_pages._energy import notebook_button  # noqa: E402
from app_pages._images import explain_section, is_image_family  # noqa: E402
from app_pages._ner import ner_explain_section  # noqa: E402
from app_pages._recourse import whatif_section  # noqa: E402
from app_pages._text import token_highlights  # noqa: E402
from lepton_core.explain import (  # noqa: E402
    LINK_SPACES,
    Explanation,
    explain,
    friendly_name,
    reason_sentences,
    row_outcome,
    to_probability,
)
from lepton_core.plots import (  # noqa: E402
    beeswarm_figure,
    dependence_figure,
    importance_figure,
    token_importance_figure,
    waterfall_figure,
)

#: Dots drawn per column in the beeswarm and dependence plots: every dot is an SVG shape
#: the browser draws (the beeswarm of 500 rows by 12 columns took 0.4-0.6 s to draw in
#: Chromium, of 300 by 10 columns 0.2 s).
PLOT_ROWS = 300
#: Columns in the beeswarm (shap's own beeswarm shows 10 too); the bars show them all.
PLOT_COLUMNS = 10

run = pick_run()
if run.task == "ner":  # names in text: one name at a time, no stored explanation
    ner_explain_section(run)
    st.stop()
with st.spinner(tr("Loading the explanation…")):
    raw = run_explanation(run.run_id, probability=False)
    predictions = workspace().find_report(run.run_id, "test_predictions")
notebook_button(run.run_id)
expert = False
if raw.output_space in LINK_SPACES:
    expert = st.toggle(
        tr("Expert view: SHAP values in log-odds"),
        help=tr(
            "By default contributions are shown as percentage points of the chance. The model "
            "itself adds up log-odds (the logarithm of p / (1 − p)); experts may prefer those."
        ),
    )
expl = raw if expert else run_explanation(run.run_id, probability=True)
chances = expl.output_space == "probability"
output = 0
if len(expl.outputs) > 1:
    output = st.selectbox(
        tr("Explain the chance of") if chances else tr("Explain the score of class"),
        range(len(expl.outputs)),
        format_func=lambda i: expl.outputs[i],
    )
label = expl.outputs[output]
if chances:
    st.write(
        tr(
            "Numbers are **percentage points of the chance of “{label}”**: +5 means a column "
            "raised this chance by 5 points (say from 20% to 25%)."
        ).format(label=label)
    )
with st.expander(tr("Expert details"), icon=":material/science:"):
    st.caption(
        tr(
            "{explainer} on {rows:,} test rows; values are in {space} of “{label}”. "
            "Additivity check: base value + contributions match the model's output to "
            "within {error:.1e}. {note}"
        ).format(
            explainer=expl.explainer,
            rows=len(expl.values),
            space=expl.output_space,
            label=label,
            error=expl.additivity_error(),
            note=say(expl.note),
        )
    )


def row_summary(expl: Explanation, row: int, output: int) -> None:
    """The predicted label with its chance, the true label, and the top reasons in words."""
    outcome = row_outcome(expl, row, predictions=predictions)
    c1, c2, c3 = st.columns(3)
    c1.metric(tr("Predicted"), fmt(outcome.predicted))
    if outcome.probability is not None:
        c2.metric(
            tr("Chance of {label}").format(label=outcome.predicted),
            f"{outcome.probability:.0%}",
            help=tr("How sure the model is of its prediction for this row."),
        )
    if outcome.actual is not None:
        verdict = {
            True: tr("the model was right"),
            False: tr("the model was wrong"),
            None: None,
        }[outcome.correct]
        c3.metric(
            tr("Actually"),
            fmt(outcome.actual),
            delta=verdict,
            delta_color="normal" if outcome.correct else "inverse",
            delta_arrow="off",
        )
    reasons = reason_sentences(expl, row, output)
    if reasons:
        st.markdown(
            tr("**Top reasons**")
            + "\n"
            + "".join("\n- " + tr("{reason}.").format(reason=say(r)) for r in reasons)
        )


if is_image_family(run.family):  # pictures: heat maps over them instead of columns
    explain_section(run, output, row_summary)
    st.stop()

if expl.is_text:  # a text model: words instead of columns
    st.plotly_chart(token_importance_figure(expl, output=output, language=language()))
    if predictions and len(expl.values) < len(predictions["y_true"]):
        st.caption(
            tr(
                "Word importance from {n} of the {total:,} test texts, picked at random (each "
                "text takes about a second to explain); explain any other text below."
            ).format(n=len(expl.values), total=len(predictions["y_true"]))
        )
    st.subheader(tr("One text"))
    texts = [next(iter(record.values())) for record in expl.data]
    row = st.selectbox(
        tr("Text (one of the {n} explained test texts)").format(n=len(texts)),
        range(len(texts)),
        format_func=lambda i: texts[i] if len(texts[i]) <= 90 else texts[i][:89] + "…",
    )
    row_summary(expl, row, output)
    token_highlights(expl, row, output)

    st.subheader(tr("Your own text"))
    own = st.text_area(tr("Text to explain"), placeholder=tr("Type or paste a text…"))
    if own.strip() and st.button(tr("Explain this text"), type="primary"):
        model = guard(workspace().load_model, run.model_name, run.model_version)
        frame = pd.DataFrame({expl.feature_names[0]: [own]})
        mine = guard(explain, model, frame)
        mine = mine if expert else to_probability(mine)
        row_summary(mine, 0, output)
        token_highlights(mine, 0, output)
    python_cell(
        f"""
from lepton_core.explain import explain, reason_sentences, to_probability
from lepton_core.workspace import Workspace
import pandas as pd
model = Workspace().load_model({run.model_name!r}, {run.model_version!r})
expl = explain(model, pd.DataFrame({{{expl.feature_names[0]!r}: ["a text to explain"]}}))
print(reason_sentences(to_probability(expl), 0, {output}))
"""
    )
    st.stop()

# The dot plots draw a seeded sample of the rows; the importance bars use them all.
dots = expl
if len(expl.values) > PLOT_ROWS:
    dots = expl.subset(
        sorted(np.random.default_rng(0).choice(len(expl.values), PLOT_ROWS, replace=False).tolist())
    )
left, right = st.columns(2)
left.plotly_chart(importance_figure(expl, output=output, language=language()))
right.plotly_chart(beeswarm_figure(dots, output=output, top=PLOT_COLUMNS, language=language()))
notes = []
if dots is not expl:
    notes.append(
        tr("One dot per row, for {shown:,} of the {total:,} explained rows.").format(
            shown=PLOT_ROWS, total=len(expl.values)
        )
    )
if len(expl.feature_names) > PLOT_COLUMNS:
    notes.append(tr("The {top} columns that matter most.").format(top=PLOT_COLUMNS))
if notes:
    right.caption(" ".join(notes))

st.subheader(tr("One column's effect"))
ranked = [name for name, _ in expl.global_importance(output)]
feature = st.selectbox(tr("Column"), ranked, format_func=friendly_name)
st.plotly_chart(dependence_figure(dots, feature, output=output, language=language()))

st.subheader(tr("One row"))
row = st.number_input(
    tr("Row (0–{last})").format(last=len(expl.values) - 1), 0, len(expl.values) - 1, 0
)
row_summary(expl, row, output)
c1, c2 = st.columns([2, 1])
c1.plotly_chart(waterfall_figure(expl, row, output=output, language=language()))
with c2:
    values = expl.data[row]
    st.dataframe(pd.DataFrame({tr("value"): {friendly_name(k): str(v) for k, v in values.items()}}))
whatif_section(run, expl.data[row], output)

python_cell(
    f"""
from lepton_core.explain import reason_sentences, row_outcome, to_probability
from lepton_core.workspace import Workspace
expl = to_probability(load_explanation(Workspace(), {run.run_id!r}))
print(expl.global_importance({output}))
print(row_outcome(expl, {row}))
print(reason_sentences(expl, {row}, {output}))
"""
)
