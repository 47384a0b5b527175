"""The tracker on synthetic boxes: crossing, losing and finding, labels, low scores, confidence,
stationary objects, unobserved objects, path bounds."""

from __future__ import annotations

import itertools
import math

import pytest

from orin.vision.detectors.base import Detection
from orin.vision.regions import Region
from orin.vision.tracker import Tracker, TrackerConfig, TrackState, TrackUpdate

FPS = 5.0


def box(label: str, cx: float, cy: float, w: float, h: float, score: float = 0.9) -> Detection:
    return Detection(label, score, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def person(cx: float, cy: float, score: float = 0.9) -> Detection:
    return box("person", cx, cy, 40, 100, score)


def run(
    tracker: Tracker, frames: list[list[Detection]], t0: float = 0.0, fps: float = FPS
) -> list[TrackUpdate]:
    return [tracker.update(dets, t0 + i / fps) for i, dets in enumerate(frames)]


def ids(update: TrackUpdate) -> set[str]:
    return {track.id for track in update.active}


def test_a_confident_detection_starts_a_confirmed_track_with_a_camera_id() -> None:
    tracker = Tracker("cam1")
    update = tracker.update([person(100, 100)], 0.0)
    assert [t.id for t in update.new] == ["cam1-1"]
    assert update.active == update.new
    track = update.active[0]
    assert (track.label, track.state, track.hits) == ("person", TrackState.CONFIRMED, 1)
    assert (track.first_seen, track.last_seen) == (0.0, 0.0)
    update = tracker.update([person(104, 100)], 0.2)
    assert update.new == []
    assert ids(update) == {"cam1-1"}
    assert track.hits == 2
    assert track.box.x1 == pytest.approx(84)


def test_a_middling_detection_needs_min_hits_to_confirm() -> None:
    tracker = Tracker("cam", TrackerConfig(min_hits=3))
    updates = run(tracker, [[person(100 + 3 * i, 100, 0.6)] for i in range(4)])
    assert [len(u.new) for u in updates] == [0, 0, 1, 0]
    assert [len(u.active) for u in updates] == [0, 0, 1, 1]
    assert tracker.tracks[0].id == "cam-1"
    # A tentative track missed once is dropped, and never reported as ended.
    tracker = Tracker("cam")
    updates = run(tracker, [[person(100, 100, 0.6)], [], [person(100, 100, 0.6)]])
    assert all(u.ended == [] and u.active == [] for u in updates)
    assert [t.id for t in tracker.tracks] == ["cam-2"]


def test_two_people_crossing_keep_their_ids() -> None:
    tracker = Tracker("cam")
    start = tracker.update([person(100, 200), person(580, 225, 0.8)], 0.0)
    left_to_right = min(start.active, key=lambda t: t.box.x1).id
    for i in range(1, 40):
        a = person(100 + 12 * i, 200)  # left to right
        b = person(580 - 12 * i, 225, 0.8)  # right to left, a little lower
        update = tracker.update([b, a], i / FPS)
        assert len(update.active) == 2
        assert update.ended == []
    first = {t.id for t in start.active}
    last = {t.id: t.box.center[0] for t in update.active}
    assert set(last) == first
    assert last[left_to_right] > 500  # the one that started on the left is now on the right
    vx = {t.id: t.velocity[0] for t in update.active}
    assert vx[left_to_right] == pytest.approx(60, rel=0.1)  # 12 px per frame at 5 fps


def test_a_lost_object_found_within_max_lost_keeps_its_id() -> None:
    tracker = Tracker("cam", TrackerConfig(max_lost_s=3.0))
    walk = [[person(100 + 5 * i, 200)] for i in range(10)]
    updates = run(tracker, walk)
    (track,) = updates[-1].active
    gone = run(tracker, [[] for _ in range(10)], t0=2.0)  # 2 s unseen
    assert gone[-1].active == []
    assert gone[-1].lost == [track]
    assert track.state is TrackState.LOST
    assert round(track.missed_s, 6) == 2.0
    # It comes back where its motion predicts (5 px per frame for 20 frames).
    back = tracker.update([person(100 + 5 * 20, 200)], 4.0)
    assert back.active == [track]
    assert back.new == []
    assert (track.state, track.missed_s, track.last_seen) == (TrackState.CONFIRMED, 0, 4.0)


def test_an_object_stopped_behind_something_is_found_where_it_was() -> None:
    tracker = Tracker("cam")
    run(tracker, [[person(100 + 10 * i, 200)] for i in range(10)])
    (track,) = tracker.tracks
    run(tracker, [[] for _ in range(10)], t0=2.0)  # the prediction ran 100 px further
    back = tracker.update([person(190, 200)], 4.0)
    assert back.active == [track]


def test_lost_longer_than_max_lost_ends_the_track() -> None:
    tracker = Tracker("cam", TrackerConfig(max_lost_s=1.0))
    tracker.update([person(100, 100)], 0.0)
    (track,) = tracker.tracks
    updates = run(tracker, [[] for _ in range(8)], t0=0.2)
    ended_at = [i for i, u in enumerate(updates) if u.ended]
    assert ended_at == [5]  # first update more than 1 s after the last sighting (1.2 s)
    assert updates[5].ended == [track]
    assert track.state is TrackState.REMOVED
    assert tracker.tracks == []
    again = tracker.update([person(100, 100)], 2.0)
    assert [t.id for t in again.new] == ["cam-2"]


def test_labels_never_share_a_track() -> None:
    tracker = Tracker("cam")
    tracker.update([box("car", 300, 300, 200, 100)], 0.0)
    update = tracker.update([box("person", 300, 300, 200, 100)], 0.2)
    assert [t.label for t in update.new] == ["person"]
    assert [t.label for t in update.lost] == ["car"]
    both = tracker.update([box("car", 300, 300, 200, 100), box("person", 302, 300, 200, 100)], 0.4)
    assert sorted(t.label for t in both.active) == ["car", "person"]
    assert len(tracker.tracks) == 2


def test_low_scores_extend_tracks_but_never_start_them() -> None:
    tracker = Tracker("cam")
    updates = run(tracker, [[person(100, 100, 0.3)] for _ in range(10)])
    assert tracker.tracks == []
    assert all(u.active == [] for u in updates)
    # A confident start, then the person is half hidden: low scores keep the track.
    tracker = Tracker("cam")
    tracker.update([person(100, 100, 0.9)], 0.0)
    (track,) = tracker.tracks
    updates = run(tracker, [[person(100 + 4 * i, 100, 0.3)] for i in range(1, 10)], t0=0.2)
    assert all(u.active == [track] and u.lost == [] for u in updates)
    assert track.hits == 10
    # Below the low floor, a detection is ignored altogether.
    tracker.update([person(140, 100, 0.05)], 2.2)
    assert track.state is TrackState.LOST


def test_one_lucky_frame_does_not_make_a_confident_track_a_steady_series_does() -> None:
    tracker = Tracker("cam", TrackerConfig(confidence_frames=5))
    far_apart = 1000
    frames = [
        [
            person(100 + 2 * i, 100, 0.95 if i == 0 else 0.55),
            person(100 + far_apart + 2 * i, 100, 0.8),
        ]
        for i in range(10)
    ]
    run(tracker, frames)
    lucky, steady = sorted(tracker.tracks, key=lambda t: t.box.x1)
    assert lucky.confidence == pytest.approx(0.55)
    assert steady.confidence == pytest.approx(0.8)
    # A new track is not confident yet, however high its first score.
    tracker.update([person(3000, 100, 0.99)], 2.0)
    newest = max(tracker.tracks, key=lambda t: t.box.x1)
    assert newest.confidence == 0.0
    run(tracker, [[person(3000, 100, 0.99)]] * 2, t0=2.2)
    assert newest.confidence == pytest.approx(0.99)


def test_the_best_sample_weighs_score_and_size() -> None:
    tracker = Tracker("cam")
    frames = [
        [box("person", 100, 100, 20, 50, 0.95)],  # confident but small
        [box("person", 100, 100, 40, 100, 0.7)],  # big and good: the snapshot
        [box("person", 100, 100, 44, 110, 0.3)],  # big and poor
    ]
    run(tracker, frames)
    (track,) = tracker.tracks
    assert (track.best.t, track.best.confidence) == (0.2, 0.7)


def test_a_still_object_becomes_stationary_after_the_set_time() -> None:
    config = TrackerConfig(stationary_after_s=3.0)
    tracker = Tracker("cam", config)
    walk = [[box("car", 100 + 20 * i, 300, 160, 80)] for i in range(10)]
    run(tracker, walk)
    (car,) = tracker.tracks
    assert (car.stationary, car.stationary_since) == (False, None)
    parked_at = 2.0
    jitter = [1.5, -1.0, 0.5, -1.5, 1.0]
    parked = [[box("car", 280 + jitter[i % 5], 300 + jitter[i % 3], 160, 80)] for i in range(25)]
    run(tracker, parked, t0=parked_at)
    assert car.stationary
    assert parked_at - 0.2 <= (car.stationary_since or 0.0) <= parked_at + 1.0
    tracker.update([box("car", 330, 300, 160, 80)], 7.2)  # drives off
    tracker.update([box("car", 380, 300, 160, 80)], 7.4)
    assert (car.stationary, car.stationary_since) == (False, None)


def test_an_unobserved_still_object_is_not_aged_out() -> None:
    config = TrackerConfig(max_lost_s=2.0, stationary_after_s=1.0)
    tracker = Tracker("cam", config)
    run(tracker, [[box("package", 200, 400, 50, 40)] for _ in range(10)])
    (package,) = tracker.tracks
    assert package.stationary
    # Motion elsewhere only: the detector never looks at the package for a minute.
    elsewhere = [Region(400, 0, 300, 300)]
    for i in range(300):
        update = tracker.update([], 2.0 + i / FPS, observed_regions=elsewhere)
        assert update.active == [package]
    assert package.missed_s == 0
    assert package.state is TrackState.CONFIRMED
    # A region that covers it only partly is not a look either.
    tracker.update([], 62.2, observed_regions=[(0, 0, 210, 480)])
    assert package.state is TrackState.CONFIRMED
    # Looked at and not found: now it ages, and ends after max_lost_s of looking.
    over_it = [Region(100, 250, 300, 300)]
    ends = [tracker.update([], 62.4 + i / FPS, observed_regions=over_it) for i in range(15)]
    ended_at = next(i for i, u in enumerate(ends) if u.ended)
    assert ends[ended_at].ended == [package]
    assert ended_at == 10  # 11 looks, 0.2 s apart: 2.2 s > 2 s


def test_without_observed_regions_the_whole_frame_counts_as_looked_at() -> None:
    tracker = Tracker("cam", TrackerConfig(max_lost_s=1.0))
    tracker.update([person(100, 100)], 0.0)
    updates = run(tracker, [[] for _ in range(10)], t0=0.2)
    assert any(u.ended for u in updates)


def test_the_path_is_thinned_and_bounded() -> None:
    config = TrackerConfig(path_interval_s=0.5, path_max=64)
    tracker = Tracker("cam", config)
    fps = 10.0
    frames = [[person(100 + 20 * math.sin(i / 20), 200)] for i in range(3000)]  # 5 min, 10 fps
    run(tracker, frames, fps=fps)
    (track,) = tracker.tracks
    path = track.path
    assert len(path) <= 64
    assert path[0].t == 0.0  # the first sighting is kept
    assert path[-1].t == pytest.approx(2999 / fps)  # and so is the latest
    gaps = [b.t - a.t for a, b in itertools.pairwise(path[:-1])]
    assert min(gaps) >= 0.5 - 1e-9
    assert track.hits == 3000
    # Short tracks keep about one sample per half second plus the latest.
    tracker = Tracker("cam", config)
    run(tracker, [[person(100, 200)] for _ in range(11)], fps=fps)  # 1 s
    assert [round(s.t, 1) for s in tracker.tracks[0].path] == [0.0, 0.5, 1.0]


def test_irregular_frame_times_and_end_all() -> None:
    tracker = Tracker("cam", first_number=41)
    times = [0.0, 0.1, 0.5, 0.55, 1.4, 1.5, 2.6]
    for t in times:
        tracker.update([person(100 + 30 * t, 100)], t)
    (track,) = tracker.tracks
    assert track.id == "cam-41"
    assert track.velocity[0] == pytest.approx(30, rel=0.2)
    assert tracker.active == [track]
    assert tracker.get("cam-41") is track
    assert tracker.get("cam-1") is None
    assert tracker.end_all() == [track]
    assert track.state is TrackState.REMOVED
    assert tracker.tracks == []
