"""The ``spec`` stage: YAML episode specs in, validated and resolved ``Episode`` objects out.

``load_episodes`` reads every file (with positions), merges ``extends`` chains, checks the JSON Schema and
the semantic rules, and resolves defaults; ``Episode`` and its parts are what the ``compile`` stage takes.
``text`` holds the rules of a line's text (vocal tags, the lexicon) that later stages apply.
"""

from podpipe.spec.rules import ModelRules
from podpipe.spec.episode import Episode, Feed, Funding, MusicBed, Output, Owner, Person, Segment, Sound, Speaker, Turn
from podpipe.spec.image import ImageInfo, read_image_info
from podpipe.spec.load import LoadResult, load_episodes
from podpipe.spec.schema import load_schema
from podpipe.spec.text import Lexicon, LexiconEntry

__all__ = ["Episode", "Feed", "Funding", "ImageInfo", "Lexicon", "LexiconEntry", "LoadResult", "ModelRules", "MusicBed", "Output",
           "Owner", "Person", "Segment", "Sound", "Speaker", "Turn", "load_episodes", "load_schema", "read_image_info"]
