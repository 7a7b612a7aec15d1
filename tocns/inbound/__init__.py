"""tocns.inbound."""
