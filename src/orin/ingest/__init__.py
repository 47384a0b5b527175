"""`orin ingest`: one FFmpeg per camera, leased through the database: live view, recording."""
