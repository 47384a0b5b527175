"""Recordings: segments uploaded from the ingest node, indexed, played back, and expired."""
