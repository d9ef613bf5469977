"""Store chunks, embed them, and search them (FAISS + BM25) by index generations."""
