"""Text utilities: tokenisation and normalisation for tweets, reviews and comments."""
