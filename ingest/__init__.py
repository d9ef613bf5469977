"""Turn files into articles and chunks with character offsets."""
