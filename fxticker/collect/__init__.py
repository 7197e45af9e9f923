"""Collection: sources, the one HTTP core, the web archive, and the drivers that turn pages into
observations."""
