"""What-if, counterfactuals and the fairness of recourse: the Explain and Evaluate sections."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app_pages._common import fmt, guard, python_cell, workspace
from app_pages._i18n import language, say, tr
from lepton_core.core import cache_entries, is_classification
from lepton_core.explain import friendly_name, reason_sentences, to_probability
from lepton_core.recourse import (
    RecourseConstraints,
    counterfactuals,
    load_constraints,
    recourse_fairness,
    save_constraints,
    store_recourse,
    stored_recourse,
)
from lepton_core.runs import ModelBundle, Prediction, load_bundle, load_test_rows
from lepton_core.workspace import RunSummary

#: Turned-down test rows searched for the recourse figures, and the time they may take.
RECOURSE_ROWS = 60
RECOURSE_SECONDS = 90.0


class RecourseKeys:
    """Session-state keys of these sections (one set per run and row)."""

    VARIANTS = "whatif_variants"  # {run id: list of (name, record, chance)}
    FOUND = "whatif_counterfactuals"  # {(run id, record as text): CounterfactualSet}


@st.cache_resource(show_spinner=False, max_entries=cache_entries(4), ttl=3600)
def _bundle(root: str, name: str, version: int) -> ModelBundle:
    return load_bundle(workspace(), name, version)


def _inputs(bundle: ModelBundle, start: dict[str, Any], key: str) -> dict[str, Any]:
    """One widget per feature, starting at the row's values; returns the edited record."""
    record: dict[str, Any] = {}
    columns = st.columns(3)
    for i, field in enumerate(bundle.input_schema.fields):
        value = start.get(field.name, field.default)
        box = columns[i % 3]
        label = friendly_name(field.name)
        widget = f"{key}:{field.name}"
        if field.kind == "numeric":
            number = None if value is None or pd.isna(value) else float(value)
            if field.integer:  # whole numbers shown as such ("40", not "40.00")
                number = None if number is None else round(number)
            record[field.name] = box.number_input(
                label, value=number, step=1 if field.integer else None, key=widget
            )
        elif field.choices:
            choices = list(dict.fromkeys([*field.choices, *([str(value)] if value else [])]))
            index = choices.index(str(value)) if value is not None else None
            record[field.name] = box.selectbox(label, choices, index=index, key=widget)
        else:
            record[field.name] = box.text_input(
                label, "" if value is None else str(value), key=widget
            )
    return record


def _answer(prediction: Prediction) -> str:
    """The model's answer with its chance: "<=50K (94%)"."""
    if not prediction.probabilities:
        return fmt(prediction.label)
    return f"{fmt(prediction.label)} ({prediction.probabilities[str(prediction.label)]:.0%})"


def _variants_table(
    bundle: ModelBundle, start: dict[str, Any], variants: list[tuple[str, dict, str]]
) -> None:
    """The variants side by side: their answers, then only the values some variant changed."""
    changed = [
        name
        for name in start
        if any(_shown(rec.get(name)) != _shown(start[name]) for _, rec, _ in variants)
    ]
    table = {
        tr("This row"): {
            tr("Answer"): _answer(guard(bundle.predict, [start])[0]),
            **{friendly_name(n): _shown(start[n]) for n in changed},
        }
    }
    for title, rec, answer in variants:
        table[title] = {tr("Answer"): answer, **{friendly_name(n): _shown(rec[n]) for n in changed}}
    st.dataframe(pd.DataFrame(table))


def _shown(value: Any) -> str:
    """A value as the table shows it: 25.0 as "25", so equal numbers read the same."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def whatif_section(run: RunSummary, start: dict[str, Any], output: int) -> None:
    """Edit a row, see the chance and the reasons move, keep variants; counterfactuals."""
    st.subheader(tr("What if"))
    st.write(
        tr(
            "Change any value of this row and see the model's answer, its chance and the "
            "reasons update. Keep the variants you try to compare them side by side."
        )
    )
    bundle = guard(_bundle, str(workspace().root), run.model_name, run.model_version)
    key = f"whatif:{run.run_id}:{hash(tuple(map(str, start.values())))}"
    record = _inputs(bundle, start, key)
    [prediction] = guard(bundle.predict, [record])
    c1, c2 = st.columns(2)
    c1.metric(tr("Predicted"), fmt(prediction.label))
    if prediction.probabilities:
        chance = prediction.probabilities[str(prediction.label)]
        c2.metric(tr("Chance of {label}").format(label=prediction.label), f"{chance:.0%}")
    answer = _answer(prediction)
    expl = to_probability(prediction.explanation)
    reasons = reason_sentences(expl, 0, min(output, len(expl.outputs) - 1))
    if reasons:
        st.markdown(
            tr("**Top reasons**")
            + "\n"
            + "".join("\n- " + tr("{reason}.").format(reason=say(r)) for r in reasons)
        )
    variants = st.session_state.setdefault(RecourseKeys.VARIANTS, {}).setdefault(run.run_id, [])
    b1, b2 = st.columns(2)
    if b1.button(tr("Keep this variant"), icon=":material/add:"):
        variants.append((tr("Variant {n}").format(n=len(variants) + 1), dict(record), answer))
    if variants and b2.button(tr("Clear the variants")):
        variants.clear()
    if variants:
        _variants_table(bundle, start, variants)

    if not is_classification(bundle.model.task) or bundle.model.reads != "table":
        return
    st.subheader(tr("Smallest changes that turn the answer"))
    constraints = guard(load_constraints, workspace(), run.dataset_id)
    _rules_editor(run, bundle, constraints)
    if st.button(
        tr("Find counterfactuals"),
        type="primary",
        icon=":material/alt_route:",
        help=tr(
            "A counterfactual is a copy of this row with a few values changed, just enough "
            "for the model to give the answer people want."
        ),
    ):
        with st.spinner(tr("Searching for the smallest changes…")):
            found = guard(
                counterfactuals,
                bundle.model,
                bundle.input_schema,
                record,
                constraints,
                count=3,
                seconds=10.0,
            )
        st.session_state[RecourseKeys.FOUND] = (run.run_id, str(record), found)
    kept = st.session_state.get(RecourseKeys.FOUND)
    if kept and kept[:2] == (run.run_id, str(record)):
        found = kept[2]
        if found.note:
            st.info(say(found.note))
        for cf in found.counterfactuals:
            st.markdown("- " + say(cf.sentence))
        if found.counterfactuals:
            st.caption(
                tr(
                    "Each was scored again by the model and keeps the rules above. Distance: "
                    "the share of each changed number's range, plus 1 per changed category."
                )
            )
    python_cell(
        f"""
from lepton_core.recourse import counterfactuals, load_constraints
from lepton_core.runs import load_bundle
from lepton_core.workspace import Workspace
ws = Workspace()
bundle = load_bundle(ws, {run.model_name!r}, {run.model_version!r})
rules = load_constraints(ws, {run.dataset_id!r})
found = counterfactuals(bundle.model, bundle.input_schema, {record!r}, rules)
for cf in found.counterfactuals:
    print(cf.sentence)
"""
    )


def _rules_editor(run: RunSummary, bundle: ModelBundle, rules: RecourseConstraints) -> None:
    """The data set's rules for counterfactuals, set once and stored with it."""
    names = bundle.input_schema.names
    numbers = [f.name for f in bundle.input_schema.fields if f.kind == "numeric"]
    title = tr("What may change (rules for this data set)")
    with st.expander(title, icon=":material/rule:"), st.form(f"rules:{run.dataset_id}"):
        immutable = st.multiselect(
            tr("Never changes"),
            names,
            default=[n for n in rules.immutable if n in names],
            help=tr("Sensitive columns are here by default: recourse never asks for them."),
        )
        only_up = st.multiselect(
            tr("Can only go up"),
            numbers,
            default=[n for n in rules.only_up if n in numbers],
            help=tr("Years of education or age, say."),
        )
        bounds = st.data_editor(
            _bounds_table(rules, numbers),
            disabled=[tr("Column")],
            hide_index=True,
            key=f"bounds:{run.dataset_id}",
        )
        st.caption(
            tr(
                "Lowest and highest: the values a change may reach (empty: those seen in "
                "training). Step: changes come in whole multiples of it (empty: 1 for whole "
                "numbers)."
            )
        )
        classes = [str(c) for c in bundle.model.classes_]
        desired = st.selectbox(
            tr("The answer people want"),
            classes,
            index=classes.index(rules.desired) if rules.desired in classes else len(classes) - 1,
        )
        if st.form_submit_button(tr("Save the rules")):
            ranges, steps = _bounds_from(bounds, bundle)
            new = RecourseConstraints(
                immutable=immutable, only_up=only_up, ranges=ranges, steps=steps, desired=desired
            )
            guard(save_constraints, workspace(), run.dataset_id, new, bundle.input_schema)
            st.session_state.pop(RecourseKeys.FOUND, None)
            st.rerun()


def _bounds_table(rules: RecourseConstraints, numbers: list[str]) -> pd.DataFrame:
    """One row per numeric column: its stored range and step, empty where none is set."""
    low, high, step = tr("Lowest"), tr("Highest"), tr("Step")
    return pd.DataFrame(
        {
            tr("Column"): numbers,
            low: [rules.ranges.get(n, [None, None])[0] for n in numbers],
            high: [rules.ranges.get(n, [None, None])[1] for n in numbers],
            step: [rules.steps.get(n) for n in numbers],
        },
        dtype=object,
    ).astype({low: float, high: float, step: float})


def _bounds_from(
    table: pd.DataFrame, bundle: ModelBundle
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Ranges and steps from the edited table; a range with one end empty takes the other
    end from training (``save_constraints`` refuses a low above its high, a step of 0)."""
    seen = {f.name: f for f in bundle.input_schema.fields}
    ranges, steps = {}, {}
    for row in table.itertuples(index=False):
        name, low, high, step = row
        if pd.notna(low) or pd.notna(high):
            field = seen[name]
            low = float(low) if pd.notna(low) else field.minimum
            high = float(high) if pd.notna(high) else field.maximum
            if low is not None and high is not None:
                ranges[name] = [float(low), float(high)]
        if pd.notna(step):
            steps[name] = float(step)
    return ranges, steps


def recourse_section(run: RunSummary, attribute: str | None) -> None:
    """The Evaluate page's recourse figures by group, computed on demand and kept."""
    from lepton_core.plots import recourse_figure

    st.subheader(tr("Recourse by group"))
    st.write(
        tr(
            "For test rows the model turns down: how much would have to change for it to say "
            "yes, per group. A fair model asks no more of one group than of another."
        )
    )
    report = guard(stored_recourse, workspace(), run.run_id)
    if st.button(
        tr("Compute recourse") if report is None else tr("Compute it again"),
        help=tr("Searches up to {rows} turned-down test rows, in about a minute.").format(
            rows=RECOURSE_ROWS
        ),
    ):
        bundle = guard(_bundle, str(workspace().root), run.model_name, run.model_version)
        X, _, sensitive = guard(load_test_rows, workspace(), run.run_id)
        bar = st.progress(0.0, text=tr("Searching for the smallest changes…"))
        report = guard(
            recourse_fairness,
            bundle.model,
            bundle.input_schema,
            X,
            sensitive,
            guard(load_constraints, workspace(), run.dataset_id),
            max_rows=RECOURSE_ROWS,
            seconds=RECOURSE_SECONDS,
            progress=lambda done, planned: bar.progress(done / max(planned, 1)),
        )
        bar.empty()
        guard(store_recourse, workspace(), run.run_id, report)
    if report is None:
        return
    shown = attribute if attribute in report.by_attribute else next(iter(report.by_attribute), None)
    for note in report.notes:  # the notes on other attributes wait until those are picked
        if note.values.get("attribute", shown) == shown:
            st.caption(say(note))
    if shown is None:
        return
    st.plotly_chart(recourse_figure(report, shown, language=language()))
    gap = report.gaps.get(shown)
    st.caption(
        tr(
            "{searched} of {denied} turned-down rows searched in {seconds:.0f} s. Bar labels: "
            "median distance · median number of features changed."
        ).format(searched=report.searched, denied=report.denied, seconds=report.seconds)
        + ("" if gap is None else " " + tr("Gap between groups: {gap:.3f}.").format(gap=gap))
    )
