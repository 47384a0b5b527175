"""Request rate limits and security response headers."""
