"""Federated against centralised training on UCI Adult, split into clients by a column.

Adult's training rows are split by ``race`` (or ``--by native-country``) into 5
clients, each its own process; FedAvg (or ``--strategy fedprox``) trains the
logistic model and the MLP, and the kept round is scored on adult.test next to the
same network trained on the pooled rows in the same run. Goal: federated accuracy
within 1 point of centralised.

``--models text`` trains the text family's Quick head on SST-2 instead (each client
embeds its own reviews with the frozen MiniLM; clients at random), against the same
head trained on the pooled embeddings.

Run: ``python bench/federated.py [--models logistic mlp | text] [--by race] [--rounds 10]
[--strategy fedavg] [--epsilon E]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["logistic", "mlp"])
    parser.add_argument("--by", default="race", help="the column that makes the clients")
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--strategy", default="fedavg", choices=["fedavg", "fedprox"])
    parser.add_argument("--epsilon", type=float, help="DP-SGD in every client to this ε")
    args = parser.parse_args()

    from lepton_core.dp import PrivacyOptions
    from lepton_core.runs import FederatedConfig, run_federated
    from lepton_core.workspace import Workspace

    print(f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "ws")
        for model in args.models:
            text = model == "text"
            config = FederatedConfig(
                data="sample:sst2" if text else "sample:adult",
                sensitive=None if text else ["sex"],
                model=model,
                clients=args.clients,
                split_by=None if text else args.by,
                rounds=args.rounds,
                strategy=args.strategy,
                privacy=PrivacyOptions(epsilon=args.epsilon) if args.epsilon else None,
            )
            result = run_federated(config, workspace=workspace)
            fed, central = result.federated["accuracy"], result.centralised["accuracy"]
            auc, central_auc = result.federated["roc_auc"], result.centralised["roc_auc"]
            print(
                f"{model}: federated accuracy {fed:.4f} (ROC AUC {auc:.4f}) "
                f"vs centralised {central:.4f} ({central_auc:.4f}): "
                f"{100 * (fed - central):+.2f} points, ratio {fed / central:.4f} (goal ≥ -1 point)"
            )
            print(
                f"  {result.best_round} of {config.rounds} rounds kept, "
                f"{result.bytes_exchanged / 1e6:.2f} MB exchanged, {result.seconds:.0f} s"
            )
            if result.privacy is not None:  # the model's: the largest ε a client spent
                print(
                    f"  DP-SGD: model ε {result.privacy.epsilon:.2f} (target {args.epsilon:g}), "
                    f"δ {result.privacy.delta:.0e}"
                )
            for c in result.clients:
                gap = "—" if c["fairness"] is None else f"{c['fairness']:.3f}"
                eps = "" if c["epsilon"] is None else f", ε {c['epsilon']:.2f}"
                line = f"  {c['name']:<20} {c['n_train']:>6,} rows  accuracy {c['accuracy']:.4f}"
                print(line + ("" if text else f"  sex DPD {gap}") + eps)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
