"""Answering: extractive and LLM answerers, question cues, retrieval, evaluation."""
