"""Multi-object tracking for one camera, ByteTrack style: detections per frame in, tracks out.

Each track's box follows a constant-velocity Kalman filter on (cx, cy, w, h); frames arrive at
irregular times, so prediction uses the real time step and losing a track is timed in seconds.
Association per frame, always within one label (a person never continues a car's track):

1. high-score detections (≥ ``high_score``) to confirmed and lost tracks, by IoU (Hungarian);
2. low-score detections (``low_score`` ≤ score < ``high_score``: partly hidden, blurred) to the
   tracks still unmatched — they keep a track alive but never start one;
3. the remaining high-score detections to tentative tracks; what is still left starts new
   tentative tracks, confirmed after ``min_hits`` matches (at once when the score reaches
   ``confirm_score``). A tentative track missed once is dropped.

A lost track is predicted from its motion, and also matched against the last box it was seen
at (an object that stopped behind something reappears where it was).

**Unobserved is not missed.** The detector runs only on some regions of a frame (motion, tracked
objects), so a still object gets no new detections simply because nobody looked. `Tracker.update`
takes the regions that were run through the detector (``observed_regions``): a track whose last
box does not lie (``observed_fraction`` of its area) in one of them is not counted as missed for
that frame, keeps its state, and does not age toward removal. ``None`` means the whole frame was
observed. Only the time of observed frames counts (``Track.missed_s``), so the caller should
include the boxes of moving and lost tracks (`TrackUpdate.lost`) in the regions it detects on,
and refresh stationary ones now and then, or such tracks are never timed out.

**Track confidence** (`Track.confidence`) is the median of the ``confidence_frames`` best scores
the track has had, missing ones counted as 0. With the default 5 it is the third best score:
the detector must have reached it in at least 3 frames, so one lucky frame does not make a track
confident, while a steady series at 0.8 gives 0.8. When a second detector confirms a track
found by a fast screening model (`orin.vision.screening`), its scores are kept apart
(`Track.confirm`) and the confidence is the higher of the two medians: the confirming
detector's agreement on an object the screen already followed for several frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from orin.vision.detectors.base import Detection
from orin.vision.regions import Box, Region

__all__ = ["Sample", "Track", "TrackState", "TrackUpdate", "Tracker", "TrackerConfig"]

Float = NDArray[np.float64]

# Kalman noise, as fractions of the box's mean side: measurement std, and the variance a second
# adds to position, velocity and size velocity (velocities in box sides per second).
_MEASURE_STD = 0.05
_POSITION_RATE = 0.05**2
_VELOCITY_RATE = 0.5**2
_SIZE_VELOCITY_RATE = 0.1**2


class TrackerConfig(BaseModel):
    """How the tracker associates, confirms and forgets (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    high_score: float = Field(0.5, gt=0, le=1, description="Detections that can start tracks.")
    low_score: float = Field(0.1, ge=0, le=1, description="Below this, detections are ignored.")
    confirm_score: float = Field(
        0.75, gt=0, le=1, description="A new track scoring this is confirmed at once."
    )
    min_hits: int = Field(3, ge=1, le=100, description="Matches that confirm a tentative track.")
    match_iou: float = Field(0.2, gt=0, le=1, description="Least IoU of a high-score match.")
    low_match_iou: float = Field(0.4, gt=0, le=1, description="Least IoU of a low-score match.")
    max_lost_s: float = Field(
        5.0, gt=0, description="Observed-but-missed seconds before a track is removed."
    )
    stationary_after_s: float = Field(
        10.0, gt=0, description="Seconds within the radius that make a track stationary."
    )
    stationary_radius: float = Field(
        0.1, gt=0, le=10, description="Movement radius of a still object, x its mean box side."
    )
    confidence_frames: int = Field(
        5, ge=1, le=100, description="Best scores whose median is the track's confidence."
    )
    path_interval_s: float = Field(0.5, ge=0, description="Least time between kept path samples.")
    path_max: int = Field(512, ge=4, le=100_000, description="Most samples a path keeps.")
    observed_fraction: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Share of a box inside a detected region to count as looked at.",
    )


class TrackState(StrEnum):
    """Where a track is in its life."""

    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"
    REMOVED = "removed"


class Sample(NamedTuple):
    """One observation of a track: frame time, box in frame pixels, detector score."""

    t: float
    x1: float
    y1: float
    x2: float
    y2: float
    confidence: float

    @property
    def box(self) -> Box:
        return Box(self.x1, self.y1, self.x2, self.y2)


class _BoxFilter:
    """Constant-velocity Kalman filter on (cx, cy, w, h), noise scaled by the box's size.

    The motion model only links each of the four measured values with its own velocity, and
    the noises are diagonal, so the 8-state filter is four independent 2-state filters, one per
    (value, velocity) pair: the same estimates as the matrix form, in plain floats (a few
    microseconds a frame per track instead of tens with 8x8 arrays)."""

    __slots__ = ("pp", "pv", "vv", "x")

    def __init__(self, box: Box) -> None:
        cx, cy = box.center
        self.x = [cx, cy, box.width, box.height, 0.0, 0.0, 0.0, 0.0]
        """Values (cx, cy, w, h), then their velocities, in pixels and pixels per second."""
        s2 = self._size() ** 2
        self.pp = [0.01 * s2] * 4
        """Variance of each value."""
        self.pv = [0.0] * 4
        """Covariance of each value with its velocity."""
        self.vv = [1.0 * s2, 1.0 * s2, 0.1 * s2, 0.1 * s2]
        """Variance of each velocity."""

    def _size(self) -> float:
        return max((self.x[2] + self.x[3]) / 2, 1.0)

    def predict(self, dt: float) -> None:
        if dt <= 0:
            return
        s2dt = self._size() ** 2 * dt
        x, pp, pv, vv = self.x, self.pp, self.pv, self.vv
        for i in range(4):
            velocity_rate = _VELOCITY_RATE if i < 2 else _SIZE_VELOCITY_RATE
            x[i] += x[i + 4] * dt
            pp[i] += dt * (2 * pv[i] + dt * vv[i]) + _POSITION_RATE * s2dt
            pv[i] += dt * vv[i]
            vv[i] += velocity_rate * s2dt
        x[2] = max(x[2], 1.0)
        x[3] = max(x[3], 1.0)

    def update(self, box: Box) -> None:
        cx, cy = box.center
        measured = (cx, cy, box.width, box.height)
        noise = (_MEASURE_STD * self._size()) ** 2
        x, pp, pv, vv = self.x, self.pp, self.pv, self.vv
        for i in range(4):
            s = pp[i] + noise
            gain_value, gain_velocity = pp[i] / s, pv[i] / s
            innovation = measured[i] - x[i]
            x[i] += gain_value * innovation
            x[i + 4] += gain_velocity * innovation
            vv[i] -= gain_velocity * pv[i]
            pv[i] -= gain_value * pv[i]
            pp[i] -= gain_value * pp[i]
        x[2] = max(x[2], 1.0)
        x[3] = max(x[3], 1.0)

    @property
    def box(self) -> Box:
        cx, cy, w, h = self.x[:4]
        return Box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _median(values: list[float]) -> float:
    """Median of a short list (``np.median`` costs ~20 µs of checks on five numbers)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


class Track:
    """One object followed over frames. Read its attributes; only the tracker changes them."""

    def __init__(self, track_id: str, detection: Detection, t: float, config: TrackerConfig):
        box = Box.of(detection)
        sample = Sample(t, *box, detection.confidence)
        self.id = track_id
        """Stable per camera: ``f"{camera_key}-{n}"``."""
        self.label = detection.label
        self.first_seen = t
        self.last_seen = t
        """Time of the last matched detection."""
        self.box = box
        """The last matched detection's box (frame pixels)."""
        self.path: list[Sample] = [sample]
        """Observations, about one per ``path_interval_s`` plus the latest; at most ``path_max``
        (when full, every other older sample is dropped)."""
        self.hits = 1
        self.state = TrackState.TENTATIVE
        self.stationary = False
        self.stationary_since: float | None = None
        """When the object stopped (start of the still period), while ``stationary``."""
        self.best = sample
        """The best sample for a snapshot (score * sqrt(area)); ``t`` names the frame to keep."""
        self._config = config
        self._filter = _BoxFilter(box)
        self._top: list[float] = [detection.confidence]
        self._confirmations: list[float] = []
        self._missed_s = 0.0
        self._anchor = box.center
        self._anchor_t = t

    def __repr__(self) -> str:
        return f"Track({self.id!r}, {self.label!r}, {self.state.value}, hits={self.hits})"

    @property
    def confidence(self) -> float:
        """The track's event confidence: median of its best scores, or of its confirming
        detector's scores when higher (module docstring)."""
        k = self._config.confidence_frames
        own = _median(self._top + [0.0] * (k - len(self._top)))
        if not self._confirmations:
            return own
        return max(own, _median(self._confirmations))

    @property
    def confirmed(self) -> bool:
        """Whether a confirming detector has found this object (`confirm`)."""
        return bool(self._confirmations)

    def confirm(self, score: float) -> None:
        """Record the score a confirming detector gave this object (its best few are kept)."""
        self._confirmations.append(score)
        self._confirmations.sort(reverse=True)
        del self._confirmations[self._config.confidence_frames :]

    @property
    def predicted(self) -> Box:
        """The filter's box at the tracker's latest update time."""
        return self._filter.box

    @property
    def velocity(self) -> tuple[float, float]:
        """Estimated centre velocity in pixels per second."""
        return (self._filter.x[4], self._filter.x[5])

    @property
    def missed_s(self) -> float:
        """Seconds the track was looked for (observed) and not found since its last match."""
        return self._missed_s

    def _observe(self, detection: Detection, t: float) -> None:
        box = Box.of(detection)
        self._filter.update(box)
        self.box = box
        self.last_seen = max(self.last_seen, t)
        self.hits += 1
        self._missed_s = 0.0
        self._add_score(detection.confidence)
        sample = Sample(t, *box, detection.confidence)
        self._add_sample(sample)
        if _snapshot_score(sample) > _snapshot_score(self.best):
            self.best = sample
        self._check_stationary(t)

    def _add_score(self, score: float) -> None:
        k = self._config.confidence_frames
        if len(self._top) < k or score > self._top[-1]:
            self._top.append(score)
            self._top.sort(reverse=True)
            del self._top[k:]

    def _add_sample(self, sample: Sample) -> None:
        path = self.path
        if len(path) >= 2 and path[-1].t - path[-2].t < self._config.path_interval_s:
            path[-1] = sample  # the latest is kept only until it is far enough from the last kept
        else:
            path.append(sample)
        if len(path) > self._config.path_max:
            self.path = [*path[:-1][::2], path[-1]]

    def _check_stationary(self, t: float) -> None:
        box = self._filter.box
        cx, cy = box.center
        radius = self._config.stationary_radius * (box.width + box.height) / 2
        if math.hypot(cx - self._anchor[0], cy - self._anchor[1]) > radius:
            self._anchor = (cx, cy)
            self._anchor_t = t
            self.stationary = False
            self.stationary_since = None
        elif not self.stationary and t - self._anchor_t >= self._config.stationary_after_s:
            self.stationary = True
            self.stationary_since = self._anchor_t


def _snapshot_score(sample: Sample) -> float:
    return sample.confidence * math.sqrt(sample.box.area)


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What one `Tracker.update` changed."""

    active: list[Track]
    """Confirmed tracks (seen this frame, or not looked at), not lost."""
    new: list[Track]
    """Tracks confirmed by this update (also in ``active``)."""
    ended: list[Track]
    """Confirmed tracks removed by this update (lost too long)."""
    lost: list[Track]
    """Confirmed tracks missed lately, still matchable for up to ``max_lost_s``."""


class Tracker:
    """The tracks of one camera. Call `update` once per processed frame, in time order."""

    def __init__(
        self, camera_key: str, config: TrackerConfig | None = None, *, first_number: int = 1
    ) -> None:
        """``first_number`` numbers the first track; pass one beyond the last used (e.g. a
        stored counter) to keep ids unique across restarts."""
        self.camera_key = camera_key
        self.config = config or TrackerConfig()
        self._next = first_number
        self._tracks: list[Track] = []
        self._t: float | None = None

    @property
    def tracks(self) -> list[Track]:
        """Every live track (tentative, confirmed, lost)."""
        return list(self._tracks)

    @property
    def active(self) -> list[Track]:
        """The confirmed tracks, as in the last update's ``active``."""
        return [tr for tr in self._tracks if tr.state is TrackState.CONFIRMED]

    def get(self, track_id: str) -> Track | None:
        """The live track with this id, if any."""
        return next((tr for tr in self._tracks if tr.id == track_id), None)

    def update(
        self,
        detections: Sequence[Detection],
        t: float,
        observed_regions: Sequence[Region | Sequence[float]] | None = None,
    ) -> TrackUpdate:
        """Advance to time ``t`` (seconds) with this frame's detections (frame pixels).

        ``observed_regions``: the regions (`Region` or ``(x1, y1, x2, y2)``) the detector ran
        on for this frame; tracks outside all of them are not counted as missed. ``None``: the
        whole frame was observed.
        """
        cfg = self.config
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t if self._t is None else max(self._t, t)
        for track in self._tracks:
            track._filter.predict(dt)

        usable = [d for d in detections if d.confidence >= cfg.low_score and d.area > 0]
        high = [d for d in usable if d.confidence >= cfg.high_score]
        low = [d for d in usable if d.confidence < cfg.high_score]
        matched: set[int] = set()

        followed = [tr for tr in self._tracks if tr.state is not TrackState.TENTATIVE]
        pairs, rest, high = _associate(followed, high, cfg.match_iou)
        pairs2, _, _ = _associate(rest, low, cfg.low_match_iou)
        tentative = [tr for tr in self._tracks if tr.state is TrackState.TENTATIVE]
        pairs3, _, high = _associate(tentative, high, cfg.match_iou)

        new: list[Track] = []
        for track, det in pairs + pairs2 + pairs3:
            track._observe(det, t)
            matched.add(id(track))
            if track.state is TrackState.LOST:
                track.state = TrackState.CONFIRMED
            elif track.state is TrackState.TENTATIVE and track.hits >= cfg.min_hits:
                track.state = TrackState.CONFIRMED
                new.append(track)

        ended: list[Track] = []
        regions = None if observed_regions is None else [_as_box(r) for r in observed_regions]
        for track in self._tracks:
            if id(track) in matched:
                continue
            if track.state is TrackState.TENTATIVE:
                if _observed(track.box, regions, cfg.observed_fraction) or (
                    t - track.last_seen > cfg.max_lost_s
                ):
                    track.state = TrackState.REMOVED
            elif _observed(track.box, regions, cfg.observed_fraction):
                track._missed_s += dt
                if track._missed_s > cfg.max_lost_s:
                    track.state = TrackState.REMOVED
                    ended.append(track)
                else:
                    track.state = TrackState.LOST

        for det in high:
            track = Track(f"{self.camera_key}-{self._next}", det, t, cfg)
            self._next += 1
            if det.confidence >= cfg.confirm_score or cfg.min_hits <= 1:
                track.state = TrackState.CONFIRMED
                new.append(track)
            self._tracks.append(track)

        self._tracks = [tr for tr in self._tracks if tr.state is not TrackState.REMOVED]
        return TrackUpdate(
            active=self.active,
            new=new,
            ended=ended,
            lost=[tr for tr in self._tracks if tr.state is TrackState.LOST],
        )

    def end_all(self) -> list[Track]:
        """Remove every track (the camera stopped); returns the confirmed and lost ones."""
        ended = [tr for tr in self._tracks if tr.state is not TrackState.TENTATIVE]
        for track in self._tracks:
            track.state = TrackState.REMOVED
        self._tracks = []
        return ended


def _as_box(region: Region | Sequence[float]) -> Box:
    if isinstance(region, Region):
        return region.box
    return Box(*region[:4])


def _observed(box: Box, regions: list[Box] | None, fraction: float) -> bool:
    """Whether the detector looked at ``box`` (``fraction`` of it inside one region)."""
    if regions is None:
        return True
    area = box.area
    if area <= 0:
        cx, cy = box.center
        return any(r.x1 <= cx <= r.x2 and r.y1 <= cy <= r.y2 for r in regions)
    return any(_overlap(box, r) >= fraction * area for r in regions)


def _overlap(a: Box, b: Box) -> float:
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    return w * h if w > 0 and h > 0 else 0.0


def _iou_matrix(a: Float, b: Float) -> Float:
    """IoU of every box in ``a`` (Nx4) with every box in ``b`` (Mx4)."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: Float = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
    return out


def _associate(
    tracks: list[Track], detections: list[Detection], min_iou: float
) -> tuple[list[tuple[Track, Detection]], list[Track], list[Detection]]:
    """Hungarian matching on IoU within each label: pairs, unmatched tracks, unmatched dets."""
    if not tracks or not detections:
        return [], tracks, detections
    dets = np.array([(d.x1, d.y1, d.x2, d.y2) for d in detections], np.float64)
    iou = _iou_matrix(np.array([tr.predicted for tr in tracks], np.float64), dets)
    lost = [i for i, tr in enumerate(tracks) if tr.state is TrackState.LOST]
    if lost:
        last = np.array([tracks[i].box for i in lost], np.float64)
        iou[lost] = np.maximum(iou[lost], _iou_matrix(last, dets))
    labels_t = np.array([tr.label for tr in tracks], object)
    labels_d = np.array([d.label for d in detections], object)
    iou[labels_t[:, None] != labels_d[None, :]] = 0.0
    # Pairs below the gate cost more than any valid set, so they never displace a valid pair.
    cost = np.where(iou >= min_iou, 1.0 - iou, 1e6)
    rows, cols = _assignment_solver()(cost)
    pairs: list[tuple[Track, Detection]] = []
    used_t: set[int] = set()
    used_d: set[int] = set()
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        if iou[r, c] >= min_iou:
            pairs.append((tracks[r], detections[c]))
            used_t.add(r)
            used_d.add(c)
    return (
        pairs,
        [tr for i, tr in enumerate(tracks) if i not in used_t],
        [d for j, d in enumerate(detections) if j not in used_d],
    )


def _assignment_solver() -> Callable[[Float], tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """SciPy's Hungarian solver, imported on first use: scipy.optimize takes ~0.65 s to import,
    which every process that merely imports the pipeline (api, worker) would pay at start."""
    from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

    solver: Callable[[Float], tuple[NDArray[np.intp], NDArray[np.intp]]] = linear_sum_assignment
    return solver


def load_solver() -> None:
    """Import the assignment solver now. A process that is about to track objects calls this
    in a thread, so its first tracked frame does not block the event loop for the import."""
    _assignment_solver()
