"""Prometheus metrics of the realtime WebSocket, registered in the app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class RealtimeMetrics:
    """The realtime metric families of one process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.connections = Gauge(
            "orin_ws_connections",
            "Authenticated WebSocket connections open on this process.",
            registry=registry,
        )
        self.slow_clients_dropped = Counter(
            "orin_ws_slow_clients_dropped",
            "Connections closed (1013) because the client read too slowly and its outgoing "
            "queue filled up.",
            registry=registry,
        )
        self.closes = Counter(
            "orin_ws_closes",
            "Connections the server closed, by close code (client-initiated closes are not "
            "counted).",
            ["code"],
            registry=registry,
        )
        self.delivered = Counter(
            "orin_ws_messages_delivered",
            "Live updates queued to clients after the subscription and access checks, by type.",
            ["type"],
            registry=registry,
        )
        self.fanout_seconds = Histogram(
            "orin_ws_fanout_seconds",
            "Time to route one published update to the queues of every matching local client.",
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
            registry=registry,
        )
