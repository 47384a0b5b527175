"""Decoded detect frames from the camera's own FFmpeg, over a pipe.

The same FFmpeg that copies the stream to HLS also decodes it (or the camera's detect
sub-stream, a second input of that same process — never a second connection per consumer) at the
detect rate and size, and writes YUV4MPEG2 (4:2:0) to an inherited pipe. Y4M describes its size
in a header, so the reader never has to guess the height FFmpeg chose to keep the aspect
ratio, and its luma plane is the grey image motion gating needs without a conversion.

Each frame is stamped with the wall-clock time it was read: recordings are named by the same
clock, so clips of a catch line up with it to within a frame interval plus FFmpeg's buffering.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

Y4M_MAGIC = b"YUV4MPEG2"
_MAX_HEADER = 1024


class FrameFormatError(Exception):
    """The pipe did not carry the YUV4MPEG2 4:2:0 stream FFmpeg was asked for."""


@dataclass(frozen=True, slots=True)
class FrameOutput:
    """What the camera's FFmpeg decodes for detection."""

    fd: int
    """The write end of the pipe, inherited by FFmpeg as ``pipe:<fd>``."""
    fps: float
    width: int
    height: int | None = None
    """None keeps the aspect ratio (even height)."""
    detect_url: str | None = None
    """A sub-stream to decode instead of the main stream (a second input of the same FFmpeg)."""


@dataclass(slots=True, eq=False)
class Frame:
    """One decoded frame: I420 planes in one buffer, and the time it arrived."""

    t: float
    width: int
    height: int
    yuv: NDArray[np.uint8]
    """Shape ``(height * 3 // 2, width)``: the luma plane, then the two chroma planes."""
    seq: int = 0
    _bgr: NDArray[np.uint8] | None = field(default=None, repr=False)

    @property
    def gray(self) -> NDArray[np.uint8]:
        """The luma plane (a view, no copy)."""
        return self.yuv[: self.height]

    def bgr(self) -> NDArray[np.uint8]:
        """The frame as BGR (converted once, then cached)."""
        if self._bgr is None:
            self._bgr = np.asarray(cv2.cvtColor(self.yuv, cv2.COLOR_YUV2BGR_I420), np.uint8)
        return self._bgr


def parse_header(line: bytes) -> tuple[int, int]:
    """Width and height from a Y4M stream header; 4:2:0 chroma only."""
    parts = line.strip().split(b" ")
    if not parts or parts[0] != Y4M_MAGIC:
        raise FrameFormatError(f"not a YUV4MPEG2 stream: {line[:40]!r}")
    width = height = 0
    chroma = b"420"
    for part in parts[1:]:
        tag, value = part[:1], part[1:]
        if tag == b"W":
            width = int(value)
        elif tag == b"H":
            height = int(value)
        elif tag == b"C":
            chroma = value
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise FrameFormatError(f"bad frame size {width}x{height}")
    if not chroma.startswith(b"420"):
        raise FrameFormatError(f"chroma {chroma.decode(errors='replace')} is not 4:2:0")
    return width, height


FrameSink = Callable[[Frame], None]


class FrameReader:
    """Reads frames from the pipe's read end and hands each to ``sink`` as it arrives.

    The sink must not block: FFmpeg writes live HLS from the same process, so a reader that
    fell behind would stall the camera's live view. Sinks keep the latest frame and drop the
    rest (see `orin.vision.pipeline`, whose sink also spends about a millisecond of CPU on the
    frame's motion: no I/O, and well inside the pipe's buffer of several frames).
    """

    def __init__(self, read_fd: int, sink: FrameSink) -> None:
        self.read_fd = read_fd
        self.sink = sink
        self.frames = 0

    async def run(self) -> None:
        """Read until FFmpeg closes the pipe; closes the read end."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_MAX_HEADER * 4)
        pipe = os.fdopen(self.read_fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            with contextlib.suppress(asyncio.IncompleteReadError):
                width, height = parse_header(await reader.readuntil(b"\n"))
                size = width * height * 3 // 2
                while True:
                    tag = await reader.readuntil(b"\n")
                    if not tag.startswith(b"FRAME"):
                        raise FrameFormatError(f"expected FRAME, got {tag[:20]!r}")
                    data = await reader.readexactly(size)
                    yuv = np.frombuffer(data, np.uint8).reshape(height * 3 // 2, width)
                    self.frames += 1
                    self.sink(Frame(time.time(), width, height, yuv, seq=self.frames))
        finally:
            transport.close()


def open_pipe() -> tuple[int, int]:
    """A (read, write) pipe pair; the write end is inheritable by FFmpeg, the read end not."""
    read_fd, write_fd = os.pipe()
    os.set_inheritable(write_fd, True)
    # A larger pipe buffer absorbs a frame or two while the event loop is busy.
    with contextlib.suppress(OSError):
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    return read_fd, write_fd
