"""What every ORIN process shares: adapters, roles, leases, heartbeats."""
