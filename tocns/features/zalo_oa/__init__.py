"""Zalo Official Account: the OAuth v4 token store and the operator commands (`tocns zalo-oa`)."""
