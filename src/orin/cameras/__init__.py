"""Cameras: stream addresses, the SSRF policy for them, zones and privacy masks."""
