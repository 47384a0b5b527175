"""Platform operator views (admin role only)."""
