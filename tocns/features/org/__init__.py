"""tocns.features.org."""
