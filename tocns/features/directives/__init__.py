"""tocns.features.directives."""
