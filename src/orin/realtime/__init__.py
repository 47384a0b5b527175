"""Live updates over a WebSocket, fanned out across API processes by pub/sub."""
