"""Developer scripts: the benchmark (`python -m scripts.bench`) and demo-PDF builder."""
