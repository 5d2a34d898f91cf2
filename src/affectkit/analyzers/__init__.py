"""Analyzers of every generation: lexicon, classic ML, (later) neural and transformer."""
