"""The core package's shape: no streamlit, a public API behind __all__."""

from __future__ import annotations

import subprocess
import sys


def test_core_never_imports_streamlit():
    code = (
        "import sys, lepton_core, lepton_core.runs, lepton_core.jobs, lepton_core.cli, "
        "lepton_core.plots\n"
        "assert 'streamlit' not in sys.modules, 'lepton_core imported streamlit'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api_is_explicit():
    import lepton_core

    assert "train" in lepton_core.__all__
    for name in lepton_core.__all__:
        assert hasattr(lepton_core, name), name
