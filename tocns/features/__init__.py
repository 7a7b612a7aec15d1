"""tocns.features."""
