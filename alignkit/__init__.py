"""alignkit: an executable course on aligning language models."""
