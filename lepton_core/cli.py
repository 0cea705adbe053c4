"""Command line: ``python -m lepton_core {train,audit,profile,explain,predict,feedback,...} ...``.

Every subcommand prints a short human summary, or with ``--json`` the result
object as JSON. A user error exits with status 2 and one sentence on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lepton_core.core import LeptonError, ProgressBarCallback, disk_full_error

__all__ = ["CHECK_FAILED", "main"]

#: The exit status of ``monitor --check`` when a limit is broken (1 is an unexpected error).
CHECK_FAILED = 3

# Each command imports the engine packages it uses inside its function: `lepton --help`
# and a mistyped option answer at once instead of after the seconds that pandas,
# scikit-learn and MLflow take to import.


def _param(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"'{text}' is not KEY=VALUE")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lepton", description="Lepton: self-service ML.")
    parser.add_argument("--workspace", help="workspace folder (default: $LEPTON_WORKSPACE)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.add_argument("--workspace", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return p

    p = add("train", "Train, evaluate (with fairness), explain and register a model.")
    p.add_argument("--data", help="table file, sample:NAME, dataset:ID or hub:ID[:CONFIG][@SPLIT]")
    p.add_argument("--test", help="a separate test file (default: hold out part of --data)")
    p.add_argument("--target", help="column to predict (default: suggested)")
    p.add_argument("--sensitive", nargs="*", help="columns to compare groups by")
    p.add_argument(
        "--model",
        default="",
        help="lightgbm | logistic | tree | mlp | ngram | text (default: n-grams for a table "
        "whose input is free text, else lightgbm)",
    )
    p.add_argument("--text-column", help="text: the free-text column (default: the first)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", dest="model_name", help="registered model name")
    p.add_argument("--param", type=_param, action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--config", help="a TrainConfig JSON file (overrides the options above)")
    p.add_argument("--job", help=argparse.SUPPRESS)  # set by the job runner
    p.add_argument("--auto", action="store_true", help="search families and parameters (Optuna)")
    p.add_argument("--budget", type=float, default=60.0, help="Auto: seconds of search")
    p.add_argument("--metric", help="Auto: validation metric to rank by (default by task)")
    p.add_argument(
        "--fairness-limit", type=float, help="Auto: rank models within this fairness gap first"
    )
    p.add_argument(
        "--fairness-metric",
        default="demographic_parity_difference",
        help="Auto: demographic_parity_difference | equalized_odds_difference",
    )

    p = add("mitigate", "Make a fairer version of a trained model (fairlearn) as a new version.")
    p.add_argument("--run", dest="run_id", help="the trained run to mitigate")
    p.add_argument("--sensitive", help="the sensitive column to mitigate for")
    p.add_argument(
        "--method",
        default="threshold_dp",
        help="threshold_dp | threshold_eo | expgrad_dp | expgrad_eo",
    )
    p.add_argument("--config", help="a MitigationConfig JSON file (overrides the options above)")
    p.add_argument("--job", help=argparse.SUPPRESS)  # set by the job runner

    p = add(
        "federated",
        "Train without pooling the rows: simulated clients train locally, only weights are "
        "averaged (FedAvg or FedProx); registers the federated model.",
    )
    p.add_argument("--data", help="table file, sample:NAME or dataset:ID")
    p.add_argument("--target", help="column to predict (default: suggested)")
    p.add_argument("--sensitive", nargs="*", help="columns to compare groups by")
    p.add_argument("--split-by", help="the column that puts each row in a client (default: random)")
    p.add_argument("--clients", type=int, default=5, help="how many clients (default: %(default)s)")
    p.add_argument(
        "--rounds", type=int, default=10, help="rounds of averaging (default: %(default)s)"
    )
    p.add_argument(
        "--model",
        choices=["logistic", "mlp", "text"],
        default="logistic",
        help="text: the text model's Quick head on frozen MiniLM embeddings",
    )
    p.add_argument("--text-column", help="the text column of a text model (default: suggested)")
    p.add_argument("--strategy", choices=["fedavg", "fedprox"], default="fedavg")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", dest="model_name", help="registered model name")
    p.add_argument("--no-register", action="store_true", help="compare only; register no model")
    p.add_argument("--config", help="a FederatedConfig JSON file (overrides the options above)")
    p.add_argument("--job", help=argparse.SUPPRESS)  # set by the job runner

    p = add("compress", "Quantise a model version to int8 as a new version, with before/after.")
    p.add_argument("--model", required=True, help="NAME[:VERSION] (an MLP or text model)")
    p.add_argument("--method", default="torch-int8", help="torch-int8 | onnx-int8")

    p = add("fuse", "Average two or more model versions of one data set as a new version.")
    p.add_argument("--models", nargs="+", required=True, help="NAME:VERSION of each model")
    p.add_argument(
        "--weights", nargs="+", type=float, help="one per model (default: fitted on validation)"
    )
    p.add_argument("--metric", help="the validation metric the weights are fitted for")
    p.add_argument("--name", dest="model_name", help="registered model name (default: the first's)")

    p = add("audit", "Fairness and accuracy of predictions made elsewhere.")
    p.add_argument("--data", required=True)
    p.add_argument("--label", required=True, help="column with the true labels")
    p.add_argument("--prediction", required=True, help="column with predicted labels or scores")
    p.add_argument("--positive", help="the positive label (default: inferred)")
    p.add_argument("--threshold", type=float, help="threshold for a score column")
    p.add_argument("--sensitive", nargs="+", required=True)

    p = add("profile", "Schema, suggestions and profile of a table.")
    p.add_argument("--data", required=True)

    p = add("explain", "SHAP values of a registered model for rows of a table.")
    p.add_argument("--model", required=True, help="NAME[:VERSION]")
    p.add_argument("--data", required=True)
    p.add_argument("--rows", type=int, default=100)

    p = add(
        "counterfactuals",
        "The smallest changes to rows of a table that would turn a classifier's answer.",
    )
    p.add_argument("--model", required=True, help="NAME[:VERSION]")
    p.add_argument("--data", required=True, help="table file of records")
    p.add_argument("--rows", type=int, default=5, help="the first N rows (default: %(default)s)")
    p.add_argument("--count", type=int, default=3, help="counterfactuals per row (at most 10)")
    p.add_argument("--seconds", type=float, default=5.0, help="time budget per row")

    p = add("predict", "Score a table with a registered model: prediction, probability, reasons.")
    p.add_argument("--model", required=True, help="NAME[:VERSION]")
    p.add_argument("--data", required=True, help="table file to score")
    p.add_argument("--out", required=True, help="output file (.csv, .tsv, .parquet or .jsonl)")
    p.add_argument(
        "--no-log",
        action="store_true",
        help="do not log the predictions in the prediction log (e.g. for a huge file)",
    )

    p = add("feedback", "Join true answers from a file to logged predictions of a model.")
    p.add_argument("--model", required=True, help="NAME[:VERSION] (without VERSION: any version)")
    p.add_argument("--file", required=True, help="table file with prediction ids and true answers")
    p.add_argument(
        "--id-column",
        default="prediction_id",
        help="column of prediction ids (default: %(default)s)",
    )
    p.add_argument(
        "--label-column", default="label", help="column of true answers (default: %(default)s)"
    )
    p.add_argument(
        "--key-column", help="match on this input column of the records instead of prediction ids"
    )

    p = add(
        "monitor",
        "How a model fares since it went live (--live), or how far a file of new records "
        "moved from its training data (--data).",
    )
    p.add_argument("--model", required=True, help="NAME[:VERSION]")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="table file of new records")
    source.add_argument(
        "--live", action="store_true", help="what the model answered, from the prediction log"
    )
    p.add_argument("--every", default="1D", help="window length with --live (1h, 1D, 7D...)")
    p.add_argument(
        "--psi", type=float, help="a column whose PSI reaches this drifted (default: the model's)"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help=f"exit with status {CHECK_FAILED} when a limit is broken (for a scheduler)",
    )
    p.add_argument(
        "--webhook",
        help="post broken limits to this web address (default: the model's, set on Monitor)",
    )

    p = add("notebook", "Write a Jupyter notebook that trains a run again with lepton_core calls.")
    p.add_argument("--run", dest="run_id", required=True, help="the run's id")
    p.add_argument("--out", required=True, help="the .ipynb file to write")
    p.add_argument("--language", choices=["en", "zh"], default="en", help="its explanations")

    p = add("serve", "Serve the workspace's models as a REST API (needs an API key per call).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument(
        "--runtime",
        choices=["native", "onnx"],
        default="native",
        help="predict with the model itself or with its ONNX export in onnxruntime",
    )
    return parser


def _workspace(args: argparse.Namespace) -> Any:
    from lepton_core.workspace import Workspace

    return Workspace(args.workspace) if getattr(args, "workspace", None) else Workspace()


def _train(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.runs import AutoConfig, TrainConfig, run_auto, train

    if args.config and args.auto:
        config: Any = AutoConfig.from_json(Path(args.config).read_text(encoding="utf-8"))
    elif args.config:
        config = TrainConfig.from_json(Path(args.config).read_text(encoding="utf-8"))
    elif args.data:
        config = TrainConfig(
            data=args.data,
            test=args.test,
            target=args.target,
            sensitive=args.sensitive,
            model=args.model,
            seed=args.seed,
            model_name=args.model_name,
            params=dict(args.param),
            text_column=args.text_column,
        )
    else:
        raise LeptonError("Nothing to train on; give --data PATH (or sample:adult).")
    workspace = _workspace(args)
    callbacks: list[Any] = [] if args.json else [ProgressBarCallback()]
    if args.job:
        from lepton_core.jobs import run_job

        return run_job(args.job, workspace=workspace, callbacks=callbacks)
    if args.auto:
        if not args.config:
            config = AutoConfig(
                base=config,
                budget_s=args.budget,
                metric=args.metric,
                fairness_metric=args.fairness_metric,
                fairness_limit=args.fairness_limit,
            )
        return run_auto(config, callbacks=callbacks, workspace=workspace).winner.to_dict()
    return train(config, callbacks=callbacks, workspace=workspace).to_dict()


def _mitigate(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.runs import MitigationConfig

    workspace = _workspace(args)
    if args.job:
        from lepton_core.jobs import run_job

        return run_job(args.job, workspace=workspace)
    if args.config:
        config = MitigationConfig.from_json(Path(args.config).read_text(encoding="utf-8"))
    elif args.run_id and args.sensitive:
        config = MitigationConfig(run_id=args.run_id, sensitive=args.sensitive, method=args.method)
    else:
        raise LeptonError("Name the run and the column: --run RUN_ID --sensitive COLUMN.")
    return config.run(workspace).to_dict()


def _federated(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.runs import FederatedConfig, run_federated

    workspace = _workspace(args)
    callbacks: list[Any] = [] if args.json else [ProgressBarCallback()]
    if args.job:
        from lepton_core.jobs import run_job

        return run_job(args.job, workspace=workspace, callbacks=callbacks)
    if args.config:
        config = FederatedConfig.from_json(Path(args.config).read_text(encoding="utf-8"))
    elif args.data:
        config = FederatedConfig(
            data=args.data,
            target=args.target,
            sensitive=args.sensitive,
            model=args.model,
            text_column=args.text_column,
            clients=args.clients,
            split_by=args.split_by,
            rounds=args.rounds,
            strategy=args.strategy,
            seed=args.seed,
            register=not args.no_register,
            model_name=args.model_name,
        )
    else:
        raise LeptonError("Nothing to train on; give --data PATH (or sample:adult).")
    return run_federated(config, callbacks=callbacks, workspace=workspace).to_dict()


def _size(n_bytes: float) -> str:
    """Bytes in KB or MB (1,000-based, as a file manager shows them)."""
    return f"{n_bytes / 1e6:,.1f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:,.1f} KB"


def _compress(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.runs import compress
    from lepton_core.workspace import parse_model_ref

    name, version = parse_model_ref(args.model)
    return compress(_workspace(args), name, version, method=args.method).to_dict()


def _fuse(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.runs import fuse_versions

    return fuse_versions(
        _workspace(args),
        args.models,
        weights=args.weights,
        metric=args.metric,
        model_name=args.model_name,
    ).to_dict()


def _notebook(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.runs import notebook_bytes

    data = notebook_bytes(_workspace(args), args.run_id, language=args.language)
    try:
        Path(args.out).write_bytes(data)
    except OSError as exc:
        raise LeptonError(
            f"Cannot write {args.out} ({exc.strerror}); pick another --out."
        ) from None
    return {"run_id": args.run_id, "out": args.out}


def _audit(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.data import load_table
    from lepton_core.evaluation import audit_predictions

    report = audit_predictions(
        load_table(args.data),
        label=args.label,
        prediction=args.prediction,
        sensitive=args.sensitive,
        positive=args.positive,
        threshold=args.threshold,
    )
    return report.to_dict()


def _profile(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.data import load_table, profile_table

    return profile_table(load_table(args.data)).to_dict()


def _explain(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.data import load_table
    from lepton_core.explain import explain
    from lepton_core.workspace import parse_model_ref

    workspace = _workspace(args)
    name, version = parse_model_ref(args.model)
    model = workspace.load_model(name, version)
    schema = workspace.load_input_schema(workspace.model_version(name, version).run_id)
    features = schema.prepare(load_table(args.data))
    return explain(model, features, max_rows=args.rows).to_dict()


def _counterfactuals(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.data import load_table
    from lepton_core.recourse import counterfactuals, load_constraints
    from lepton_core.workspace import parse_model_ref

    workspace = _workspace(args)
    name, version = parse_model_ref(args.model)
    info = workspace.model_version(name, version)
    model = workspace.load_model(info.name, info.version)
    schema = workspace.load_input_schema(info.run_id)
    constraints = load_constraints(workspace, workspace.get_run(info.run_id).dataset_id)
    table = load_table(args.data).head(max(0, args.rows))
    found = [
        counterfactuals(
            model, schema, table.iloc[[i]], constraints, count=args.count, seconds=args.seconds
        ).to_dict()
        for i in range(len(table))
    ]
    return {"model": info.ref, "rows": found}


def _predict(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.data import load_table
    from lepton_core.runs import load_bundle, score_table, write_table
    from lepton_core.workspace import capture_enabled, parse_model_ref, prediction_log

    name, version = parse_model_ref(args.model)
    workspace = _workspace(args)
    bundle = load_bundle(workspace, name, version)
    log = prediction_log(workspace) if capture_enabled() and not args.no_log else None
    scored = score_table(bundle, load_table(args.data), log=log)
    out = write_table(scored, args.out)
    return {"model": bundle.version.ref, "rows": len(scored), "out": str(out)}


def _feedback(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.core import DataError, Message
    from lepton_core.data import load_table
    from lepton_core.workspace import parse_model_ref, prediction_log

    workspace = _workspace(args)
    name, ref = parse_model_ref(args.model)
    version = workspace.model_version(name, ref).version if ref else None
    table = load_table(args.file)
    keys = args.key_column or args.id_column
    for column, what, option in (
        (
            keys,
            Message("predictions.what.ids"),
            "--key-column" if args.key_column else "--id-column",
        ),
        (args.label_column, Message("predictions.what.labels"), "--label-column"),
    ):
        if column not in table.columns:
            raise DataError(
                Message("predictions.error.no_column", column=column, what=what, option=option)
            )
    labels = zip(table[keys].tolist(), table[args.label_column].tolist(), strict=True)
    result = prediction_log(workspace).add_labels(
        name, labels, key_column=args.key_column, version=version
    )
    return {"model": args.model, **result.to_dict()}


def _monitor(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.data import load_table
    from lepton_core.monitoring import (
        check_alerts,
        compare_with_training,
        live_from_log,
        save_check,
        send_alerts,
        workspace_limits,
    )
    from lepton_core.workspace import parse_model_ref

    workspace = _workspace(args)
    name = parse_model_ref(args.model)[0]
    limits = workspace_limits(workspace, name)
    if args.psi is not None:
        limits = dataclasses.replace(limits, psi=args.psi)
    if args.live:
        report = live_from_log(workspace, args.model, every=args.every, limits=limits)
        result = {"model": report.model, "live": report.to_dict()}
        alerts = report.alerts
        if args.psi is None:  # judged by the model's own limits: the dashboard shows it
            save_check(workspace, report)
    else:
        drift = compare_with_training(workspace, args.model, load_table(args.data))
        result = {"model": args.model, "drift": drift.to_dict()}
        alerts = check_alerts(drift=drift, limits=limits)
    webhook = args.webhook or workspace.model_setting(name, "alert_webhook")
    if alerts and webhook:
        send_alerts(webhook, result["model"], alerts)
    return {
        **result,
        "alerts": [a.to_dict() for a in alerts],
        "sent_to": webhook if alerts else None,
    }


def _serve(args: argparse.Namespace) -> dict[str, Any]:
    from lepton_core.serving import serve

    serve(_workspace(args), host=args.host, port=args.port, runtime=args.runtime)
    return {"stopped": f"http://{args.host}:{args.port}"}


def _words(value: Any) -> Any:
    """Engine text in a result dict (a Message is written as its id, text and values)."""
    return value["text"] if isinstance(value, dict) and {"id", "text"} <= set(value) else value


def _summary(command: str, result: dict[str, Any]) -> str:
    if command == "predict":
        return f"{result['rows']:,} rows scored with {result['model']} → {result['out']}"
    if command == "serve":
        return f"stopped serving {result['stopped']}"
    if command == "notebook":
        return f"notebook of run {result['run_id']} → {result['out']}"
    if command == "counterfactuals":
        lines = []
        for i, row in enumerate(result["rows"]):
            lines.append(f"row {i}: {row['label']} ({row['probability']:.0%} {row['desired']})")
            lines += [f"  {_words(cf['sentence'])}" for cf in row["counterfactuals"]]
            if row["note"]:
                lines.append(f"  {_words(row['note'])}")
        return "\n".join(lines)
    if command == "feedback":
        line = f"{result['labelled']:,} predictions of {result['model']} labelled"
        if result["unknown"]:
            line += f"; {result['unknown']:,} ids matched none (e.g. {result['examples'][0]})"
        return line
    if command == "train":
        lines = [f"run {result['run_id']}  model {result['model_name']}:{result['model_version']}"]
        lines += [f"  {k:<20} {v:.4f}" for k, v in result["evaluation"]["metrics"].items()]
        for report in result["fairness"]:
            dpd, eod = report["demographic_parity_difference"], report["equalized_odds_difference"]
            if dpd is not None:
                lines.append(f"  fairness by {report['attribute']}: DPD {dpd:.3f}, EOD {eod:.3f}")
        if result.get("energy"):
            from lepton_core.runs import EnergyReport

            lines.append(f"  {EnergyReport.from_dict(result['energy']).sentence()}")
        return "\n".join(lines)
    if command == "mitigate":
        lines = [f"run {result['run_id']}  model {result['model_name']}:{result['model_version']}"]
        lines += [
            f"  {_words(row['metric']):<28} {row['before']} → {row['after']}"
            for row in result["rows"]
        ]
        if result.get("energy"):
            from lepton_core.runs import EnergyReport

            lines.append(f"  {EnergyReport.from_dict(result['energy']).sentence()}")
        return "\n".join(lines)
    if command == "federated":
        config = result["config"]
        split = f"by {config['split_by']}" if config["split_by"] else "at random"
        lines = [
            f"federated {config['model']} ({config['strategy']}): {len(result['clients'])} "
            f"clients {split}, {len(result['history'])} rounds (best {result['best_round']}), "
            f"{_size(result['bytes_exchanged'])} exchanged, {result['seconds']:.1f} s"
        ]
        if result.get("model_name"):
            lines.append(
                f"  run {result['run_id']}  model {result['model_name']}:{result['model_version']}"
            )
        lines.append(f"  {'test':<20} {'centralised':>12} {'federated':>10}")
        for metric, value in result["federated"].items():
            central = result["centralised"].get(metric, float("nan"))
            lines.append(f"  {metric:<20} {central:>12.4f} {value:>10.4f}")
        lines.append(f"  {'client':<20} {'train rows':>12} {'test rows':>10} {'accuracy':>9}")
        for client in result["clients"]:
            accuracy = client["accuracy"]
            lines.append(
                f"  {str(client['name'])[:20]:<20} {client['n_train']:>12,} "
                f"{client['n_test']:>10,} {'-' if accuracy is None else f'{accuracy:.4f}':>9}"
            )
        if privacy := result.get("privacy"):
            each = ", ".join(f"{c['name']} {c['epsilon']:.2f}" for c in privacy["clients"])
            lines.append(
                f"  DP-SGD in every client: ε {privacy['epsilon']:.2f} (the largest; {each}), "
                f"δ {privacy['delta']:.0e}, {privacy['accountant'].upper()} accountant"
            )
        return "\n".join(lines)
    if command == "fuse":
        lines = [f"run {result['run_id']}  model {result['model_name']}:{result['model_version']}"]
        lines += [
            f"  {m['model']:<24} weight {m['weight']:.3f}  validation {m['score']:.4f}"
            for m in result["members"]
        ]
        lines.append(f"  ensemble validation {result['metric']} {result['valid_score']:.4f}")
        lines += [f"  test {k:<15} {v:.4f}" for k, v in result["evaluation"]["metrics"].items()]
        return "\n".join(lines)
    if command == "compress":
        lines = [f"model {result['model']}:{result['new_version']}  ({result['method']})"]
        for variant in (result["before"], result["after"]):
            metric = "accuracy" if "accuracy" in variant["metrics"] else "r2"
            lines.append(
                f"  {_words(variant['name']):<24} {variant['size_bytes'] / 1024:,.0f} KiB  "
                f"{variant['latency_ms']:.1f} ms  {metric} {variant['metrics'][metric]:.4f}"
            )
        return "\n".join(lines)
    if command == "profile":
        s = result["suggestions"]
        return (
            f"{result['n_rows']:,} rows × {result['n_columns']} columns; suggested target "
            f"{s['target']!r} ({s['task']}), sensitive {s['sensitive']}"
        )
    if command == "monitor":
        from lepton_core.monitoring import Alert, DriftReport, LiveReport

        if "live" in result:
            live = LiveReport.from_dict(result["live"])
            lines = [f"{result['model']}: {live.summary()}"]
            lines += [f"  {Alert.from_dict(a).summary()}" for a in result["alerts"]]
        else:
            report = DriftReport.from_dict(result["drift"])
            lines = [f"{result['model']}: {report.summary()}"]
            lines += [f"  {f.column:<24} PSI {f.psi:6.3f}  {f.level}" for f in report.features[:10]]
        if result["sent_to"]:
            lines.append(f"  alerts sent to {result['sent_to']}")
        return "\n".join(lines)
    if command == "audit":
        metrics = result["evaluation"]["metrics"]
        lines = [f"{result['n_rows']:,} rows; accuracy {metrics.get('accuracy', float('nan')):.4f}"]
        for report in result["fairness"]:
            lines.append(
                f"  {report['attribute']}: DPD {report['demographic_parity_difference']}, "
                f"EOD {report['equalized_odds_difference']}"
            )
        return "\n".join(lines)
    return json.dumps(result)[:2000]


_COMMANDS = {
    "train": _train,
    "mitigate": _mitigate,
    "federated": _federated,
    "compress": _compress,
    "fuse": _fuse,
    "audit": _audit,
    "profile": _profile,
    "explain": _explain,
    "counterfactuals": _counterfactuals,
    "predict": _predict,
    "feedback": _feedback,
    "monitor": _monitor,
    "serve": _serve,
    "notebook": _notebook,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        result = _COMMANDS[args.command](args)
    except LeptonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:
        full = disk_full_error(exc)
        print(
            f"error: {full}"
            if full
            else "error: an unexpected error occurred; run again with LEPTON_DEBUG=1 for details.",
            file=sys.stderr,
        )
        # A job's log keeps the details; so does a debugging user's terminal.
        if getattr(args, "job", None) or os.environ.get("LEPTON_DEBUG") == "1":
            traceback.print_exc()
        return 1
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        print(_summary(args.command, result))
    return CHECK_FAILED if getattr(args, "check", False) and result.get("alerts") else 0
