"""The vision pipeline: frames → motion gating → detection → tracking → guard evaluation."""
