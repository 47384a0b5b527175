"""Where a camera's live HLS and recording segments live on the ingest node's disk.

``<live_dir>/<camera>/index.m3u8`` with ``seg_<n>.ts`` beside it is the live edge (the API
serves it behind signed URLs); ``<live_dir>/<camera>/rec/`` holds finished recording segments
(named by their UTC start) until the uploader moves them to object storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orin.config import Settings

PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%d.ts"
RECORDING_DIR = "rec"
RECORDING_PATTERN = "%Y%m%dT%H%M%SZ.ts"
RECORDING_LIST = "segments.csv"
LADDER_RENDITIONS = ("source", "low")
"""Sub-folders of the live folder when a camera's adaptive ladder is on (`ingest.command`)."""


def live_root(settings: Settings) -> Path:
    return Path(settings.ingest.live_dir or Path(settings.data_dir) / "live")


@dataclass(frozen=True, slots=True)
class CameraFiles:
    """The files of one camera under the live root."""

    root: Path

    @classmethod
    def of(cls, settings: Settings, camera_id: str) -> CameraFiles:
        return cls(live_root(settings) / camera_id)

    @property
    def playlist(self) -> Path:
        return self.root / PLAYLIST

    @property
    def source_segments(self) -> Path:
        """Where the camera's own (copied) live segments are: the ladder's ``source/`` when
        that folder exists, else the live folder itself."""
        source = self.root / LADDER_RENDITIONS[0]
        return source if source.is_dir() else self.root

    @property
    def recordings(self) -> Path:
        return self.root / RECORDING_DIR

    @property
    def recording_list(self) -> Path:
        return self.recordings / RECORDING_LIST

    def prepare(self) -> None:
        """Create the folders and drop a stale live playlist (the edge restarts with FFmpeg)."""
        self.recordings.mkdir(parents=True, exist_ok=True)
        for folder in (self.root, *(self.root / name for name in LADDER_RENDITIONS)):
            for stale in [*folder.glob("seg_*.ts"), folder / PLAYLIST]:
                stale.unlink(missing_ok=True)
            if folder != self.root and folder.is_dir():
                folder.rmdir()
