"""Events: catches and system events, stored, listed, reviewed, searched and counted."""
