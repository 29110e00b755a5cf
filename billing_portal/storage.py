"""Static files as production serves them: WhiteNoise's compressed, content-hashed copies."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's storage, leaving `sourceMappingURL` comments alone: the bundled, minified Chart.js names a
    source map we do not ship, and rewriting that comment would fail `collectstatic`. Every other reference (CSS
    `url()`, `@import`) still gets its hashed name."""

    patterns = tuple(
        (glob, tuple(pattern for pattern in rules if "sourceMappingURL" not in str(pattern)))
        for glob, rules in CompressedManifestStaticFilesStorage.patterns
    )
