"""Screening: a fast model looks at every region, the accurate one confirms what it follows.

The accurate default detector (COCO SSD via OpenCV DNN) costs ~50 ms a crop on this class of
CPU; the Open Images SSD ~8 ms. On a busy scene (people moving in every frame) running the
accurate model on every region holds 2 cameras at 5 fps on two cores. With a *screen*
detector (``vision.screen_detector``, the Open Images model by default):

- for the labels both models report (person, car, dog, ...), regions go only to the screen;
  its detections feed the tracker as usual;
- once the tracker confirms such a track, the label's own detector (the first other detector
  configured for it) is run on a model-sized crop around it; a detection of the same label
  overlapping the track confirms it (`Track.confirm`). Unconfirmed tracks are tried again with
  a growing pause (0.5 s, 1 s, 2 s, ... capped at the full-frame interval);
- guards only see confirmed tracks of such labels, and the track's confidence becomes the
  confirming detector's when higher, so guard thresholds keep the accurate model's scale;
- full-frame checks go through the screen too: an object they find is confirmed on a crop of
  its own, where the accurate model sees it at its native size (the whole frame shrunk to the
  model's 300 px loses small people);
- labels only the screen reports (``package``) are taken from it directly, as before.

Without a screen detector (``vision.screen_detector`` null, or not configured), each label's
first detector runs on every region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from orin.vision.detectors.base import Detection
from orin.vision.regions import box_iou
from orin.vision.tracker import Track, TrackState
from orin.vision.transport.base import DetectionService

CONFIRM_IOU = 0.3
"""Least IoU between a confirming detection and the track's box."""
FIRST_RETRY_S = 0.5

DetectorUse = tuple[str, frozenset[str]]
"""A detector's name and the labels it is used for."""


@dataclass(frozen=True)
class DetectorPlan:
    """Which detectors one camera runs, and for which labels."""

    regions: tuple[DetectorUse, ...]
    """Run on the regions of every frame (and on full-frame checks)."""
    confirm_by: dict[str, str] = field(default_factory=dict)
    """Label → detector that confirms the screen's tracks of that label."""

    def needs_confirmation(self, track: Track) -> bool:
        """Whether guards must wait for ``track`` to be confirmed."""
        return track.label in self.confirm_by and not track.confirmed

    def confirming(self, detector: str) -> frozenset[str]:
        """The labels ``detector`` confirms."""
        return frozenset(label for label, name in self.confirm_by.items() if name == detector)


def plan_detectors(
    service: DetectionService, wanted: Iterable[str], screen: str | None
) -> DetectorPlan:
    """The plan for a camera whose guards want ``wanted`` labels (see the module docstring)."""
    needed = set(wanted)
    if screen is None or screen not in service.names:
        return DetectorPlan(regions=_first_detectors(service, needed, exclude=None))
    own = _first_detectors(service, needed, exclude=screen)
    screened = needed & service.labels(screen)
    confirm_by = {label: name for name, labels in own for label in labels if label in screened}
    # The screen for everything it reports; the others for the rest.
    direct = _first_detectors(service, needed - screened, exclude=screen)
    regions = ((screen, frozenset(screened)), *direct) if screened else direct
    return DetectorPlan(regions=regions, confirm_by=confirm_by)


def _first_detectors(
    service: DetectionService, needed: set[str], *, exclude: str | None
) -> tuple[DetectorUse, ...]:
    """For each label, the first configured detector (other than ``exclude``) reporting it."""
    left = set(needed)
    chosen: list[DetectorUse] = []
    for name in service.names:
        if name == exclude:
            continue
        covered = left & service.labels(name)
        if covered:
            chosen.append((name, frozenset(covered)))
            left -= covered
    return tuple(chosen)


class Confirmations:
    """When each screened track was last tried by its confirming detector (one camera)."""

    def __init__(self, max_pause_s: float) -> None:
        self.max_pause_s = max_pause_s
        self._tries: dict[str, tuple[int, float]] = {}

    def due(self, plan: DetectorPlan, tracks: Sequence[Track], t: float) -> list[Track]:
        """Confirmed-by-the-tracker, unconfirmed tracks seen in this frame and due a try."""
        due: list[Track] = []
        for track in tracks:
            if (
                track.state is not TrackState.CONFIRMED
                or track.last_seen != t
                or not plan.needs_confirmation(track)
            ):
                continue
            tries, last = self._tries.get(track.id, (0, -1e9))
            pause = min(FIRST_RETRY_S * 2 ** max(tries - 1, 0), self.max_pause_s)
            if tries == 0 or t - last >= pause:
                due.append(track)
        return due

    def tried(self, track: Track, t: float) -> None:
        tries, _ = self._tries.get(track.id, (0, t))
        self._tries[track.id] = (tries + 1, t)

    def forget(self, track_ids: Iterable[str]) -> None:
        for track_id in track_ids:
            self._tries.pop(track_id, None)


def confirm_tracks(
    tracks: Sequence[Track], detections: Sequence[Detection], *, min_iou: float = CONFIRM_IOU
) -> list[Track]:
    """Confirm each track with the best same-label detection overlapping it; returns them."""
    confirmed: list[Track] = []
    for track in tracks:
        best: float | None = None
        for detection in detections:
            if detection.label != track.label:
                continue
            if box_iou(track.box, (detection.x1, detection.y1, detection.x2, detection.y2)) < (
                min_iou
            ):
                continue
            if best is None or detection.confidence > best:
                best = detection.confidence
        if best is not None:
            track.confirm(best)
            confirmed.append(track)
    return confirmed
