"""tocns.core."""
