"""One ONNX graph for an ensemble: every member's graph side by side, their outputs averaged.

Each member keeps the graph its family converts (:meth:`LeptonModel.to_onnx`) and its
own input, ``member0_input``, ``member1_input``, ..., since members encode the table
differently (LightGBM: category codes; the pipelines and the MLP: one-hot, scaled
numbers). Every member's output is first made the same kind, class probabilities
``(n, k)`` (an MLP's logits through the logistic or softmax) or the value ``(n, 1)``,
then weighted and summed as :meth:`EnsembleModel._raw` does (in float32 here).
:class:`EnsembleOnnxScorer` feeds each input with its member's ``transform``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lepton_core.core import Message, ModelError
from lepton_core.models._onnx import OPSET, OnnxScorer

if TYPE_CHECKING:
    from lepton_core.data import InputSchema
    from lepton_core.models._base import LeptonModel

__all__ = ["EnsembleOnnxScorer", "ensemble_to_onnx", "member_input"]

_PREFIX = "member{}_"


def member_input(position: int) -> str:
    """The name of the graph input that member ``position`` (from 0) reads."""
    return f"{_PREFIX.format(position)}input"


def ensemble_to_onnx(model: Any) -> tuple[bytes, str]:
    """The fitted :class:`EnsembleModel` as one ONNX graph, and what its output holds.

    The output is ``"probabilities"`` (``(n, k)``, classifiers) or ``"value"``
    (``(n, 1)``, regression), named as it says.

    Raises
    ------
    ModelError
        A member's family has no ONNX form (the message names the member).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    regression = model.task == "regression"
    result = "value" if regression else "probabilities"
    nodes: list[Any] = []
    inputs: list[Any] = []
    initializers: list[Any] = []
    value_info: list[Any] = []
    functions: list[Any] = []
    opsets: dict[str, int] = {"": OPSET}
    ir_version = 0
    weighted: list[str] = []
    for i, (member, weight) in enumerate(zip(model.members_, model.weights_, strict=True)):
        prefix = _PREFIX.format(i)
        proto, output = _member_graph(member, i)
        graph = proto.graph
        initializer_names = {t.name for t in graph.initializer}
        # Old IR versions list initializers among the inputs too; the real input is the rest.
        real = [v for v in graph.input if v.name not in initializer_names]
        if len(real) != 1:
            raise ValueError(f"Member {i} has {len(real)} graph inputs; expected one.")
        if real[0].name != member_input(i):
            raise ValueError(f"Member {i} reads {real[0].name!r}, not {member_input(i)!r}.")
        inputs += real
        nodes += graph.node
        initializers += graph.initializer
        value_info += graph.value_info
        functions += proto.functions
        for entry in proto.opset_import:
            opsets[entry.domain] = max(opsets.get(entry.domain, 0), entry.version)
        ir_version = max(ir_version, proto.ir_version)
        names = [o.name for o in graph.output]
        # Classifiers converted with their link name their probabilities so (LightGBM's and
        # skl2onnx's alike, after "label"); the MLP's only output is its logits or value.
        wanted = f"{prefix}probabilities"
        out = wanted if output == "probabilities" and wanted in names else names[-1]
        if output == "raw":
            out = _probabilities_from_logits(nodes, initializers, out, prefix, proto)
        elif output == "value":
            shaped = f"{prefix}value_column"
            initializers.append(
                numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), f"{prefix}column_shape")
            )
            nodes.append(helper.make_node("Reshape", [out, f"{prefix}column_shape"], [shaped]))
            out = shaped
        initializers.append(
            numpy_helper.from_array(np.array(weight, dtype=np.float32), f"{prefix}weight")
        )
        nodes.append(helper.make_node("Mul", [out, f"{prefix}weight"], [f"{prefix}weighted"]))
        weighted.append(f"{prefix}weighted")
    nodes.append(helper.make_node("Sum", weighted, [result]))
    width = 1 if regression else len(model.classes_)
    graph = helper.make_graph(
        nodes,
        "lepton_ensemble",
        inputs,
        [helper.make_tensor_value_info(result, TensorProto.FLOAT, [None, width])],
        initializer=initializers,
        value_info=value_info,
    )
    combined = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(domain, v) for domain, v in sorted(opsets.items())],
        producer_name="lepton",
        functions=functions,
    )
    combined.ir_version = max(ir_version, combined.ir_version)
    onnx.checker.check_model(combined)
    return combined.SerializeToString(), result


def _member_graph(member: LeptonModel, position: int) -> tuple[Any, str]:
    """Member ``position``'s graph at :data:`OPSET`, its names prefixed, and its output kind."""
    import onnx
    from onnx import compose, version_converter

    refused = ModelError(
        Message("ensemble.member_no_onnx", position=position + 1, family=member.title)
    )
    compression = member.compression_
    if compression is not None:
        # An ONNX int8 member answers with its int8 graph (as its own export would); a
        # PyTorch int8 one has no graph.
        if compression.graph is None:
            raise refused
        graph, output = compression.graph, "value" if member.task == "regression" else "raw"
    else:
        try:
            graph, output = member.to_onnx()
        except ModelError:
            raise refused from None
    proto = onnx.load_from_string(graph)
    default = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), OPSET)
    if default < OPSET:
        # One opset for the whole graph: older members' operators are brought up to it.
        proto = version_converter.convert_version(proto, OPSET)
    return compose.add_prefix(proto, _PREFIX.format(position)), output


def _probabilities_from_logits(
    nodes: list[Any], initializers: list[Any], logits: str, prefix: str, proto: Any
) -> str:
    """Nodes that turn an MLP's logits into probabilities as ``probabilities_from_raw``:
    the logistic of one log-odds column (binary), else the softmax."""
    from onnx import helper, numpy_helper

    out = f"{prefix}probabilities_from_raw"
    width = _output_width(proto)
    if width != 1:
        nodes.append(helper.make_node("Softmax", [logits], [out], axis=1))
        return out
    positive, negative, one = f"{prefix}positive", f"{prefix}negative", f"{prefix}one"
    initializers.append(numpy_helper.from_array(np.array(1.0, dtype=np.float32), one))
    nodes += [
        helper.make_node("Sigmoid", [logits], [positive]),
        helper.make_node("Sub", [one, positive], [negative]),
        helper.make_node("Concat", [negative, positive], [out], axis=1),
    ]
    return out


def _output_width(proto: Any) -> int | None:
    """The width of the graph's last output, when its shape says it."""
    dims = proto.graph.output[-1].type.tensor_type.shape.dim
    return dims[1].dim_value if len(dims) == 2 and dims[1].HasField("dim_value") else None


class EnsembleOnnxScorer(OnnxScorer):
    """Scores like the ensemble with its one graph in onnxruntime, each member's input
    made by that member's :meth:`~LeptonModel.transform`."""

    def _feed(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        return {
            member_input(i): np.ascontiguousarray(member.transform(X), dtype=np.float32)
            for i, member in enumerate(self.model.members_)
        }

    def _run(self, inputs: Any) -> np.ndarray:
        return np.asarray(self.session.run([self._output], inputs)[0], dtype=np.float64)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self._proba(self._run(self._feed(X)))

    def predict_scored(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """As :meth:`LeptonModel.predict_scored`: labels and probabilities in one pass."""
        return self._scored(self._feed(X))

    def predict_records(
        self, records: list[dict[str, Any]], schema: InputSchema
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """As :meth:`LeptonModel.predict_records`."""
        schema.check(records)
        return self._scored(self._feed(schema.to_frame(records)))
