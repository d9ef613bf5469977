"""Facts extracted from an article: events, sessions, people and their roles, with offsets."""
