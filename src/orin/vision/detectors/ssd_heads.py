"""The COCO SSD's class heads for chosen classes only, outside OpenCV.

SSD-MobileNet-v2's class heads are one 3x3 convolution per feature map, to 91 classes x that
map's anchors (1917 anchors in all). On OpenCV DNN they cost about half of the model's time
(35 ms a 300x300 crop on a 2-core host; 15 ms without them). ORIN reports 18 of the classes.

So the text graph is split (`split_text_graph`): OpenCV runs the graph without the class heads
and the detection-output layer behind them, and returns the six feature maps the heads read,
the box encodings and the prior boxes. `ClassHeads` holds the head weights of the chosen
classes (taken from the full graph once) and computes their logits for each map.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

Float = NDArray[np.float32]

_NO_TERM: Float = np.empty((0, 0), np.float32)
"""The unused added term of ``cv2.gemm`` (its weight is 0)."""

_HEAD_CONV = re.compile(r"^BoxPredictor_(\d+)/ClassPredictor/Conv2D$")
_DROPPED = re.compile(r"(^|/)ClassPredictor(/|$)|^detection_out$")
"""Nodes of the class heads, their concatenation and sigmoid, and the detection output."""


@dataclass(frozen=True, slots=True)
class SplitGraph:
    """A text graph without its class heads, and what the heads read."""

    text: str
    head_layers: tuple[str, ...]
    """The class-head convolutions, by feature map (``BoxPredictor_<k>/ClassPredictor/Conv2D``)."""
    feature_maps: tuple[str, ...]
    """The layer each head reads, in the same order."""


def split_text_graph(text: str) -> SplitGraph:
    """``text`` (an OpenCV TF text graph) without the class-head nodes and the detection output."""
    kept: list[str] = []
    heads: dict[int, tuple[str, str]] = {}
    for block in _node_blocks(text):
        name = _field(block, "name")
        match = _HEAD_CONV.match(name)
        if match:
            heads[int(match.group(1))] = (name, _field(block, "input"))
        if not _DROPPED.search(name):
            kept.append(block)
    if not heads or sorted(heads) != list(range(len(heads))):
        raise ValueError("the text graph has no BoxPredictor_<k>/ClassPredictor/Conv2D heads")
    ordered = [heads[k] for k in range(len(heads))]
    return SplitGraph(
        text="\n".join(kept) + "\n",
        head_layers=tuple(name for name, _ in ordered),
        feature_maps=tuple(source for _, source in ordered),
    )


def _node_blocks(text: str) -> list[str]:
    """The top-level ``node { ... }`` blocks of a protobuf text graph (other blocks dropped)."""
    blocks: list[str] = []
    depth = 0
    start = 0
    for match in re.finditer(r"[{}]", text):
        if match.group() == "{":
            if depth == 0:
                start = text.rfind("\n", 0, match.start()) + 1
            depth += 1
        else:
            depth -= 1
            if depth == 0 and text[start:].lstrip().startswith("node"):
                blocks.append(text[start : match.end()])
    return blocks


def _field(block: str, key: str) -> str:
    match = re.search(rf'^\s*{key}: "([^"]+)"', block, re.MULTILINE)
    return match.group(1) if match else ""


@dataclass(frozen=True, slots=True)
class _Head:
    taps: Float
    """``(9 * anchors * classes, channels)``: one row per kernel tap (dy, dx), anchor, class."""
    bias: Float
    """``(anchors * classes,)``."""
    anchors: int


class ClassHeads:
    """Logits of the chosen classes for every anchor, from the feature maps."""

    def __init__(
        self,
        weights: Sequence[tuple[NDArray[np.float32], NDArray[np.float32]]],
        classes: Sequence[int],
        num_classes: int,
    ) -> None:
        """``weights``: each head's convolution weights ``(anchors * num_classes, channels, 3,
        3)`` and bias; ``classes``: the class ids (columns) to compute."""
        self.classes = tuple(classes)
        self._heads: list[_Head] = []
        for kernel, bias in weights:
            outputs, channels, kh, kw = kernel.shape
            if (kh, kw) != (3, 3) or outputs % num_classes:
                raise ValueError(f"unexpected class head shape {kernel.shape}")
            anchors = outputs // num_classes
            rows = [a * num_classes + c for a in range(anchors) for c in self.classes]
            chosen = kernel[rows]  # (anchors * classes, channels, 3, 3)
            taps = chosen.transpose(2, 3, 0, 1).reshape(9 * len(rows), channels)
            self._heads.append(
                _Head(
                    np.ascontiguousarray(taps, np.float32),
                    np.asarray(bias, np.float32).reshape(-1)[rows],
                    anchors,
                )
            )

    def logits(self, feature_maps: Sequence[Float]) -> Float:
        """``(anchors, classes)`` logits for one image's feature maps (each ``(C, H, W)``), in
        the graph's anchor order: map by map, then row, column, anchor."""
        pairs = zip(self._heads, feature_maps, strict=True)
        return np.concatenate([self._head(head, fmap) for head, fmap in pairs])

    def _head(self, head: _Head, fmap: Float) -> Float:
        """A 3x3 convolution with zero padding of 1 (TF ``SAME`` at stride 1), chosen rows only:
        one matrix product of every tap with the padded map, then the taps' shifted sum."""
        channels, height, width = fmap.shape
        padded = np.pad(fmap, ((0, 0), (1, 1), (1, 1)))
        rows = head.bias.shape[0]
        # OpenCV's product, not numpy's: BLAS threads spin after a product and would take the
        # cores from the network's next forward pass (27 ms against 14 ms measured).
        product = np.asarray(
            cv2.gemm(head.taps, padded.reshape(channels, -1), 1.0, _NO_TERM, 0.0), np.float32
        ).reshape(3, 3, rows, height + 2, width + 2)
        out = np.empty((rows, height, width), np.float32)
        out[:] = head.bias[:, None, None]
        for dy in range(3):
            for dx in range(3):
                out += product[dy, dx, :, dy : dy + height, dx : dx + width]
        # (rows, H, W) → (H, W, anchors, classes) → (H * W * anchors, classes)
        return out.transpose(1, 2, 0).reshape(-1, len(self.classes))
