"""callsteer's application package. Importing it puts the wire-text escaping filter on the app's loggers."""

from shared import logsafe as _logsafe

_logsafe.install()
