"""podpipe: declarative YAML episode specs to finished podcast episodes with Gemini text-to-speech."""

__version__ = "0.1.0"
