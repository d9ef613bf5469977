"""Reading articles over HTTP: fetching, robots.txt, charsets, feeds and sitemaps."""
