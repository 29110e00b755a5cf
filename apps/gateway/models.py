"""The gateway has no tables of its own: it decides and records through the apps below it."""
