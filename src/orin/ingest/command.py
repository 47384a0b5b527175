"""The FFmpeg argv for one camera: RTSP in, stream copy out to live HLS and recording segments.

No transcoding: the camera's H.264/H.265 is copied, so a camera costs little CPU. Live HLS uses
short independent segments with program date time, so players can start at any segment and
know wall-clock time; recording segments are cut at key frames every
``record_segment_s`` seconds and named by their UTC start.
"""

from __future__ import annotations

from orin.config import IngestSettings
from orin.ingest.layout import RECORDING_PATTERN, SEGMENT_PATTERN, CameraFiles


def input_args(url: str, settings: IngestSettings) -> list[str]:
    """Options that open the camera: RTSP transport and timeouts (file URLs loop forever)."""
    if url.startswith("file://"):
        return ["-re", "-stream_loop", "-1", "-i", url.removeprefix("file://")]
    timeout_us = str(int(settings.io_timeout_s * 1_000_000))
    return [
        "-rtsp_transport",
        settings.rtsp_transport,
        "-timeout",
        timeout_us,
        "-fflags",
        "+genpts",
        "-i",
        url,
    ]


def camera_command(
    url: str, files: CameraFiles, settings: IngestSettings, *, record: bool
) -> list[str]:
    """The whole argv: ``ffmpeg <input> <live HLS> [<recording segments>]``."""
    argv = [
        settings.ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "level+warning",
        "-progress",
        "pipe:1",
        "-stats_period",
        "1",
        *input_args(url, settings),
        "-map",
        "0:v:0",
        "-c",
        "copy",
        "-f",
        "hls",
        "-hls_time",
        f"{settings.hls_segment_s:g}",
        "-hls_list_size",
        str(settings.hls_list_size),
        "-hls_flags",
        "independent_segments+program_date_time+delete_segments+temp_file",
        "-hls_segment_filename",
        str(files.root / SEGMENT_PATTERN),
        str(files.playlist),
    ]
    if record:
        argv += [
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-f",
            "segment",
            "-segment_time",
            str(settings.record_segment_s),
            "-segment_format",
            "mpegts",
            "-segment_list",
            str(files.recording_list),
            "-segment_list_type",
            "csv",
            "-reset_timestamps",
            "1",
            "-strftime",
            "1",
            str(files.recordings / RECORDING_PATTERN),
        ]
    return argv
