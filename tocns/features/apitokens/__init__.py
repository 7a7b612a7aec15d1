"""tocns.features.apitokens."""
