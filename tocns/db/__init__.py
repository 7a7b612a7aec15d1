"""tocns.db."""
