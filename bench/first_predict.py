"""A demo visitor's first text prediction in a fresh app process: cold, or with shap's
code compiled in the background while the visitor types (what the demo page now does).

One n-gram text model on SST-2 is trained and registered once. Then, alternating, a
fresh Python process (as a freshly started app process would be) loads the version,
waits ``--typing`` seconds (a visitor reading the page and typing a sentence) and times
its first ``ModelBundle.predict`` of one sentence, which explains it with token SHAP:

- **cold**: nothing happens while the visitor types, as before;
- **warm**: ``compile_shap(only="partition")`` runs in a thread from the moment the
  page opens (``app_pages._common.warm_explainer``).

The ratio is of medians, warm / cold, from the same run on the same machine.

Run: ``python bench/first_predict.py [--repeats 3] [--typing 8]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "a gorgeous , funny and deeply moving film"

_VISIT = """
import sys, threading, time
from lepton_core.runs import load_bundle
from lepton_core.workspace import Workspace

bundle = load_bundle(Workspace(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
if sys.argv[4] == "warm":
    from lepton_core.explain import compile_shap

    threading.Thread(target=compile_shap, kwargs={"only": "partition"}, daemon=True).start()
time.sleep(float(sys.argv[5]))
start = time.perf_counter()
bundle.predict([{"sentence": sys.argv[6]}])
print(f"{time.perf_counter() - start:.3f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--typing", type=float, default=8.0, help="seconds before Predict")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from lepton_core.runs import TrainConfig, train
    from lepton_core.workspace import Workspace

    with tempfile.TemporaryDirectory() as folder:
        run = train(
            TrainConfig(data="sample:sst2", model="ngram", explain_rows=5),
            workspace=Workspace(folder),
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        times: dict[str, list[float]] = {"cold": [], "warm": []}
        for _ in range(args.repeats):
            for how in times:
                version = str(run.model_version)
                visit = [folder, run.model_name, version, how, str(args.typing), SENTENCE]
                done = subprocess.run(
                    [sys.executable, "-c", _VISIT, *visit],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                )
                times[how].append(float(done.stdout.split()[-1]))
                load = os.getloadavg()[0]
                print(f"{how}: first Predict {times[how][-1]:.2f} s (load {load:.1f})")
    cold, warm = (statistics.median(times[h]) for h in ("cold", "warm"))
    print(f"typing {args.typing:.0f} s; median first Predict: cold {cold:.2f} s, warm {warm:.2f} s")
    print(f"  ratio warm / cold {warm / cold:.2f}")


if __name__ == "__main__":
    main()
