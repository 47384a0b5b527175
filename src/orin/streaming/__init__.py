"""Streaming on the API side: live HLS behind signed URLs, probe, snapshots."""
