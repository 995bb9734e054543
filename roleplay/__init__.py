"""Roleplay: the book's characters speak in their own voice, grounded in its passages (Character Card V2)."""
