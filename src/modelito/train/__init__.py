"""Training modelito's own tokenizers and tiny models."""
