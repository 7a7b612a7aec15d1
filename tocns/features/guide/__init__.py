"""tocns.features.guide."""
