"""Call recordings: naming, the media files themselves, the index."""
