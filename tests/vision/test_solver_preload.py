"""Starting the vision service loads the tracker's assignment solver, so the first tracked
frame does not import SciPy on the event loop (0.65 s on a 2-core host)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# In a fresh interpreter: this test process has long imported SciPy through other tests.
SCRIPT = textwrap.dedent(
    """
    import asyncio
    import sys
    from typing import cast

    from orin.config import Settings
    from orin.db import Database
    from orin.storage.base import ObjectStorage
    from orin.vision.detectors.config import SsdCocoConfig
    from orin.vision.service import Vision
    from orin.vision.transport.base import DetectionService


    class IdleService(DetectionService):
        async def start(self):
            return None  # nothing to load: only the solver matters here

        async def close(self):
            return None

        async def detect(self, detector, images):
            return [[] for _ in images]


    async def main():
        vision = Vision(
            cast(Database, None),
            cast(ObjectStorage, None),
            Settings(),
            service=IdleService({"coco": SsdCocoConfig()}),
        )
        before = "scipy.optimize" in sys.modules
        await vision.start()
        print(before, "scipy.optimize" in sys.modules)
        await vision.close()


    asyncio.run(main())
    """
)


def test_vision_start_loads_the_solver_that_pipeline_import_does_not() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
