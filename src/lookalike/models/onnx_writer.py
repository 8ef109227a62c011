"""Writing an ONNX graph by hand with onnx.helper (no torch exporter), shared by the
pretrained CNN's converter (`models.efficientnet_lite`) and the trained heads
(`train.onnx_graph`): one opset and IR version, named nodes and constants, and a checked
model whose serialisation is the same bytes for the same inputs.

onnx is imported where a graph is written, not with this module: serving loads the
converted model from the cache with onnxruntime alone (importing onnx costs more than the
rest of a search's start-up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Sequence

import numpy as np

if TYPE_CHECKING:
    import onnx

OPSET: Final = 17
IR_VERSION: Final = 8  # the IR version that goes with opset 17; loadable by every onnxruntime lookalike supports

Shape = Sequence[int | str]


class GraphWriter:
    """Nodes and initializers with readable, deterministic names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, output: str | None = None, **attributes: Any) -> str:
        """Append one node called `name` with one output (called `output`, else `name` too);
        returns the output's name."""
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output or name], name=name, **attributes))
        return output or name

    def model(self, graph_name: str, inputs: Sequence[tuple[str, Shape]], outputs: Sequence[tuple[str, Shape]],
              producer_name: str, producer_version: str = "") -> onnx.ModelProto:
        """The float32 graph from `inputs` to `outputs` ((name, shape) each), checked."""
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            self.nodes,
            graph_name,
            inputs=[helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)) for name, shape in inputs],
            outputs=[helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)) for name, shape in outputs],
            initializer=self.initializers,
        )
        version = {"producer_version": producer_version} if producer_version else {}
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=producer_name,
                                  ir_version=IR_VERSION, **version)
        onnx.checker.check_model(model, full_check=True)
        return model
