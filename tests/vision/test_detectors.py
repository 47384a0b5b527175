"""Detectors: accuracy smoke tests on real photos, batching, the parcel fixture, ONNX YOLO
decoding on a graph built here, and the registry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from numpy.typing import NDArray
from onnx import TensorProto, helper

from orin.vision.detectors import registry
from orin.vision.detectors import ssd_coco as ssd_coco_module
from orin.vision.detectors.base import Detection, Detector, DetectorUnavailable, Image
from orin.vision.detectors.coco import COCO_TF_LABELS
from orin.vision.detectors.config import OnnxYoloConfig, OpenImagesSsdConfig, SsdCocoConfig
from orin.vision.detectors.onnx_yolo import OnnxYoloDetector
from orin.vision.detectors.open_images_ssd import OpenImagesSsdDetector
from orin.vision.detectors.packed_assets import checkout_node_modules
from orin.vision.detectors.registry import build_detector, register_detector
from orin.vision.detectors.ssd_coco import SsdCocoDetector
from tests.fixtures.package_image import package_image

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _read(name: str) -> Image:
    image = cv2.imread(str(DATA / name))
    assert image is not None, f"test media {DATA / name} missing (../shared beside the checkout)"
    return image.astype(np.uint8)


def _first_frame() -> Image:
    capture = cv2.VideoCapture(str(DATA / "vtest.avi"))
    try:
        ok, frame = capture.read()
    finally:
        capture.release()
    assert ok, f"cannot read {DATA / 'vtest.avi'}"
    return np.asarray(frame, dtype=np.uint8)


def _vtest_frames(indices: range) -> list[Image]:
    """vtest.avi's frames at ``indices``."""
    capture = cv2.VideoCapture(str(DATA / "vtest.avi"))
    frames: list[Image] = []
    try:
        for index in range(indices.stop):
            ok, frame = capture.read()
            assert ok, f"cannot read frame {index} of {DATA / 'vtest.avi'}"
            if index in indices:
                frames.append(np.asarray(frame, dtype=np.uint8))
    finally:
        capture.release()
    return frames


def _iou(a: Detection, b: tuple[float, float, float, float]) -> float:
    w = min(a.x2, b[2]) - max(a.x1, b[0])
    h = min(a.y2, b[3]) - max(a.y1, b[1])
    inter = max(0.0, w) * max(0.0, h)
    return inter / (a.area + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _box(d: Detection) -> tuple[float, float, float, float]:
    return (d.x1, d.y1, d.x2, d.y2)


def _of(found: list[Detection], label: str, floor: float = 0.0) -> list[Detection]:
    return [d for d in found if d.label == label and d.confidence >= floor]


def _assert_inside(found: list[Detection], image: Image) -> None:
    height, width = image.shape[:2]
    for d in found:
        assert 0 <= d.x1 < d.x2 <= width, d
        assert 0 <= d.y1 < d.y2 <= height, d


@pytest.fixture(scope="module")
def ssd_coco() -> Detector:
    return build_detector(SsdCocoConfig(threads=2))


@pytest.fixture(scope="module")
def open_images() -> Detector:
    return build_detector(OpenImagesSsdConfig(threads=2))


@pytest.fixture(scope="module")
def messi() -> Image:
    return _read("messi5.jpg")


@pytest.fixture(scope="module")
def basketball() -> Image:
    return _read("basketball1.png")


# --- SSD COCO ---------------------------------------------------------------------------


def test_registry_builds_the_packaged_models(ssd_coco: Detector, open_images: Detector) -> None:
    assert isinstance(ssd_coco, SsdCocoDetector)
    assert isinstance(open_images, OpenImagesSsdDetector)
    assert {"person", "car", "truck", "handbag", "suitcase"} <= ssd_coco.labels
    assert "traffic light" not in ssd_coco.labels  # only what guards can ask for, by default
    assert {"person", "car", "package", "dog", "bicycle"} <= open_images.labels
    assert ssd_coco.input_size == open_images.input_size == (300, 300)


def test_ssd_coco_finds_the_players(ssd_coco: Detector, basketball: Image) -> None:
    (found,) = ssd_coco.detect([basketball])
    people = _of(found, "person", 0.5)
    assert len(people) >= 2
    _assert_inside(found, basketball)
    height, width = basketball.shape[:2]
    for person in people:
        assert 0.02 * width * height < person.area < 0.6 * width * height
        assert person.y2 - person.y1 > person.x2 - person.x1  # standing players are tall


def test_ssd_coco_finds_the_footballer_and_the_ball(messi: Image) -> None:
    with_ball = build_detector(SsdCocoConfig(threads=2, classes=("person", "sports ball")))
    assert with_ball.labels == {"person", "sports ball"}
    (found,) = with_ball.detect([messi])
    _assert_inside(found, messi)
    height, width = messi.shape[:2]
    # The model is sure of the footballer only: the blurred players behind score ~0.3.
    (player,) = _of(found, "person", 0.5)
    assert player.confidence > 0.9
    assert 0.3 * width * height < player.area < 0.9 * width * height
    (ball,) = _of(found, "sports ball", 0.5)
    assert ball.x1 > width / 2
    assert ball.y1 > height / 2
    assert ball.area < 0.05 * width * height


def test_ssd_coco_batch_equals_single_images(
    ssd_coco: Detector, messi: Image, basketball: Image
) -> None:
    batch = ssd_coco.detect([messi, basketball, messi])
    singles = [ssd_coco.detect([image])[0] for image in (messi, basketball, messi)]
    assert len(batch) == 3
    for together, alone in zip(batch, singles, strict=True):
        assert [d.label for d in together] == [d.label for d in alone]
        for a, b in zip(together, alone, strict=True):
            assert a.confidence == pytest.approx(b.confidence, abs=1e-4)
            assert _box(a) == pytest.approx(_box(b), abs=0.5)
    assert ssd_coco.detect([]) == []


def _full_graph_detections(
    net: cv2.dnn.Net, image: Image, labels: frozenset[str], floor: float
) -> list[tuple[str, float, tuple[float, float, float, float]]]:
    """What the model's own graph, detection-output layer included, finds in ``image``."""
    net.setInput(cv2.dnn.blobFromImage(image, 1.0, (300, 300), (0, 0, 0), swapRB=True))
    height, width = image.shape[:2]
    found = []
    for _, class_id, score, x1, y1, x2, y2 in net.forward().reshape(-1, 7).tolist():
        label = COCO_TF_LABELS.get(int(class_id))
        if label not in labels or score < floor:
            continue
        box = (
            min(max(x1, 0.0), 1.0) * width,
            min(max(y1, 0.0), 1.0) * height,
            min(max(x2, 0.0), 1.0) * width,
            min(max(y2, 0.0), 1.0) * height,
        )
        if box[2] > box[0] and box[3] > box[1]:
            found.append((label, score, box))
    return sorted(found, key=lambda item: -item[1])


@pytest.mark.parametrize("classes", [None, tuple(COCO_TF_LABELS.values())])
def test_ssd_coco_class_heads_match_the_full_graph(
    classes: tuple[str, ...] | None, messi: Image, basketball: Image
) -> None:
    """The class heads computed outside OpenCV, for the configured classes, give what the
    whole graph (heads and detection output in OpenCV) gives for those classes."""
    config = (
        SsdCocoConfig(threads=2) if classes is None else SsdCocoConfig(threads=2, classes=classes)
    )
    detector = build_detector(config)
    folder = ssd_coco_module._models_dir()
    net = cv2.dnn.readNetFromTensorflow(
        str(folder / ssd_coco_module._GRAPH), str(folder / ssd_coco_module._TEXT_GRAPH)
    )
    images = [messi, basketball, _read("licenseplate_motion.jpg")]
    for frame in _vtest_frames(range(0, 100, 20)):
        images.append(frame)
        images += [frame[y : y + 300, x : x + 300] for y, x in ((0, 0), (100, 200), (200, 300))]
    compared = 0
    for image in images:
        (got,) = detector.detect([image])
        want = _full_graph_detections(net, image, detector.labels, config.score_threshold)
        assert [d.label for d in got] == [label for label, _, _ in want]
        for detection, (_, score, box) in zip(got, want, strict=True):
            assert detection.confidence == pytest.approx(score, abs=1e-3)
            assert _box(detection) == pytest.approx(box, abs=1.0)
        compared += len(want)
    assert compared >= 30  # the footballer, the players, people all over the vtest frames


# --- Open Images SSD ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["messi5.jpg", "basketball1.png"])
def test_open_images_finds_people_where_coco_does(
    open_images: Detector, ssd_coco: Detector, name: str
) -> None:
    image = _read(name)
    (found,) = open_images.detect([image])
    _assert_inside(found, image)
    people = _of(found, "person")
    assert people
    coco_people = _of(ssd_coco.detect([image])[0], "person", 0.5)
    for person in people[:1]:  # the best one lands on a person COCO sees too
        assert max(_iou(person, _box(other)) for other in coco_people) > 0.5


def test_open_images_batch_equals_single_images(
    open_images: Detector, messi: Image, basketball: Image
) -> None:
    assert open_images.detect([messi, basketball]) == [
        open_images.detect([messi])[0],
        open_images.detect([basketball])[0],
    ]


def _mask_box(mask: NDArray[np.bool_]) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(mask)
    return (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))


@pytest.mark.parametrize("size", [128, 320])
def test_package_fixture_is_a_package(open_images: Detector, size: int) -> None:
    image, mask = package_image(size)
    assert image.shape == (size, size, 3)
    assert mask.shape == (size, size)
    assert 0.3 < mask.mean() < 0.8
    (parcel,) = _of(open_images.detect([image])[0], "package", 0.6)
    assert _iou(parcel, _mask_box(mask)) > 0.7


def _paste_and_crop(
    frame: Image, image: Image, mask: NDArray[np.bool_], x: int, y: int, side: int
) -> tuple[Image, tuple[float, float, float, float]]:
    """The fixture pasted at (x, y) at ``side`` px, cropped with a 25 % margin (a motion ROI)."""
    scaled = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    shape = cv2.resize(mask.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST) > 0
    scene = frame.copy()
    scene[y : y + side, x : x + side][shape] = scaled[shape]
    x1, y1, x2, y2 = _mask_box(shape)
    margin_x, margin_y = 0.25 * (x2 - x1), 0.25 * (y2 - y1)
    left, top = max(0, int(x + x1 - margin_x)), max(0, int(y + y1 - margin_y))
    right = min(scene.shape[1], int(x + x2 + margin_x))
    bottom = min(scene.shape[0], int(y + y2 + margin_y))
    box = (x + x1 - left, y + y1 - top, x + x2 - left, y + y2 - top)
    return scene[top:bottom, left:right], box


def test_package_fixture_in_the_cctv_scene(open_images: Detector) -> None:
    frame = _first_frame()
    image, mask = package_image(320)
    placements = [(100, 330, 120), (300, 400, 140), (520, 300, 160), (590, 380, 130)]
    placements += [(200, 180, 150), (40, 400, 160), (380, 250, 120)]
    crops = [_paste_and_crop(frame, image, mask, *placement) for placement in placements]
    results = open_images.detect([crop for crop, _ in crops])
    for placement, (_, box), found in zip(placements, crops, results, strict=True):
        parcels = _of(found, "package", 0.6)
        assert parcels, (placement, found)
        assert _iou(parcels[0], box) > 0.6, (placement, parcels[0], box)


# --- ONNX YOLO ----------------------------------------------------------------------------

CLASSES = ["Person", "car", "box"]
# Anchors (cx, cy, w, h in input pixels) and their scores per class.
ANCHORS = [
    ((20.0, 30.0, 10.0, 12.0), (0.90, 0.01, 0.01)),  # person
    ((21.0, 30.0, 10.0, 12.0), (0.80, 0.02, 0.01)),  # the same person again: suppressed
    ((20.0, 30.0, 10.0, 12.0), (0.01, 0.70, 0.01)),  # a car on the same spot: kept
    ((40.0, 30.0, 10.0, 10.0), (0.01, 0.01, 0.20)),  # a package under the score floor
    ((60.0, 44.0, 16.0, 8.0), (0.01, 0.02, 0.60)),  # a package half off the image's edge
]


def _yolo_output() -> NDArray[np.float32]:
    rows = [list(box) + list(scores) for box, scores in ANCHORS]
    return np.asarray(rows, dtype=np.float32).T[np.newaxis]  # [1, 4 + classes, anchors]


def _yolo_model(path: Path, *, batch: int | str, transposed: bool = False) -> Path:
    """An ONNX graph in YOLOv8 export form whose output is ANCHORS whatever the input."""
    output = _yolo_output().transpose(0, 2, 1) if transposed else _yolo_output()
    channels, anchors = output.shape[1:]
    nodes = [
        helper.make_node("Constant", [], ["table"], value=onnx.numpy_helper.from_array(output)),
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node(
            "Constant", [], ["zero"], value=helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])
        ),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Squeeze", ["nothing", "axis"], ["per_image"]),
        helper.make_node("Add", ["table", "per_image"], ["output0"]),
    ]
    axis = onnx.numpy_helper.from_array(np.asarray([3], dtype=np.int64), "axis")
    graph = helper.make_graph(
        nodes,
        "yolo_stub",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, 64, 64])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, channels, anchors])],
        initializer=[axis],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize(("batch", "transposed"), [("batch", False), (1, False), ("batch", True)])
def test_onnx_yolo_decodes_letterboxed_boxes(
    tmp_path: Path, batch: int | str, transposed: bool
) -> None:
    path = _yolo_model(tmp_path / "yolo.onnx", batch=batch, transposed=transposed)
    detector = build_detector(
        OnnxYoloConfig(path=str(path), class_names=CLASSES, input_size=640, threads=1)
    )
    assert isinstance(detector, OnnxYoloDetector)
    assert detector.input_size == (64, 64)  # the model's fixed spatial size wins
    assert detector.labels == {"person", "car", "package"}
    # 128x64 → scaled by 0.5 to 64x32, padded 16 px above and below.
    image = np.full((64, 128, 3), 90, dtype=np.uint8)
    results = detector.detect([image, image])
    assert results[0] == results[1]
    person, car, parcel = results[0]
    assert (person.label, car.label, parcel.label) == ("person", "car", "package")
    assert person.confidence == pytest.approx(0.9)
    assert car.confidence == pytest.approx(0.7)
    assert _box(person) == pytest.approx((30.0, 16.0, 50.0, 40.0))
    assert _box(car) == _box(person)
    assert parcel.confidence == pytest.approx(0.6)
    assert _box(parcel) == pytest.approx((104.0, 48.0, 128.0, 64.0))  # clipped at the edge


def test_onnx_yolo_score_floor_is_configurable(tmp_path: Path) -> None:
    path = _yolo_model(tmp_path / "yolo.onnx", batch="batch")
    config = OnnxYoloConfig(path=str(path), class_names=CLASSES, score_threshold=0.1)
    (found,) = build_detector(config).detect([np.zeros((64, 64, 3), dtype=np.uint8)])
    assert sorted(d.label for d in found) == ["car", "package", "package", "person"]


def test_onnx_yolo_rejects_class_names_that_do_not_fit(tmp_path: Path) -> None:
    path = _yolo_model(tmp_path / "yolo.onnx", batch="batch")
    with pytest.raises(DetectorUnavailable, match=r"2 class_names need \[batch, 6, anchors\]"):
        build_detector(OnnxYoloConfig(path=str(path), class_names=["person", "car"]))


def test_onnx_yolo_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.onnx"
    with pytest.raises(DetectorUnavailable, match=r"nothing\.onnx not found"):
        build_detector(OnnxYoloConfig(path=str(missing), class_names=CLASSES))


# --- registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EchoConfig:
    type: str = "test_echo"
    label: str = "person"


class EchoDetector(Detector):
    """A plugin: one whole-image detection per image."""

    type_key = "test_echo"

    def __init__(self, config: EchoConfig) -> None:
        self.config = config

    @property
    def labels(self) -> frozenset[str]:
        return frozenset({self.config.label})

    @property
    def input_size(self) -> tuple[int, int]:
        return (32, 32)

    def detect(self, images: Sequence[Image]) -> list[list[Detection]]:
        return [[Detection(self.config.label, 1.0, 0, 0, i.shape[1], i.shape[0])] for i in images]


@pytest.fixture
def plugin_table(monkeypatch: pytest.MonkeyPatch) -> dict[str, type[Detector]]:
    """A copy of the registry's table for one test to change."""
    table = dict(registry.DETECTOR_TYPES)
    monkeypatch.setattr(registry, "DETECTOR_TYPES", table)
    return table


def test_registry_knows_the_builtin_types() -> None:
    for cls in (SsdCocoDetector, OpenImagesSsdDetector, OnnxYoloDetector):
        assert registry.DETECTOR_TYPES[cls.type_key] is cls
    assert {"ssd_coco", "open_images_ssd", "onnx_yolo"} <= set(registry.DETECTOR_TYPES)


def test_a_plugin_registers_and_builds(plugin_table: dict[str, type[Detector]]) -> None:
    with pytest.raises(DetectorUnavailable, match="no detector of type 'test_echo'"):
        build_detector(EchoConfig())
    assert register_detector(EchoDetector) is EchoDetector
    detector = build_detector(EchoConfig(label="cat"))
    assert isinstance(detector, EchoDetector)
    (found,) = detector.detect([np.zeros((10, 20, 3), dtype=np.uint8)])
    assert found == [Detection("cat", 1.0, 0, 0, 20, 10)]


def test_a_plugin_cannot_silently_take_a_builtin_key(
    plugin_table: dict[str, type[Detector]],
) -> None:
    class Impostor(EchoDetector):
        type_key = "ssd_coco"

    with pytest.raises(ValueError, match="already SsdCocoDetector"):
        register_detector(Impostor)
    register_detector(Impostor, replace=True)
    assert plugin_table["ssd_coco"] is Impostor


def test_missing_npm_package_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(DetectorUnavailable, match=r"@mediapipe/objectron not found.*make setup"):
        build_detector(OpenImagesSsdConfig(npm_dir=str(tmp_path)))


def test_truncated_npm_package_is_unavailable(tmp_path: Path) -> None:
    source = checkout_node_modules()
    assert source is not None
    package = tmp_path / "@mediapipe" / "objectron"
    package.mkdir(parents=True)
    loader = "objectron_solution_packed_assets_loader.js"
    (package / loader).write_bytes((source / "@mediapipe" / "objectron" / loader).read_bytes())
    (package / "objectron_solution_packed_assets.data").write_bytes(b"???\nPerson\n")
    with pytest.raises(DetectorUnavailable, match="truncated"):
        build_detector(OpenImagesSsdConfig(npm_dir=str(tmp_path)))
