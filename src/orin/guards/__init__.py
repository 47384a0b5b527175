"""Guards: plain-words watch instructions compiled into validated rules."""
