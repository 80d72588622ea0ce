"""The city website: the channel, its pages, its feeds and CAP 1.2."""
