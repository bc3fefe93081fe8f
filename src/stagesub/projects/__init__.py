"""Projects (productions in a given week), their needs, and each project's own ranking lists."""
