"""tocns.outbox."""
