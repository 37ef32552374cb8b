"""Request body parsers of the API: DRF's, with JSON nested too deeply for Python's parser
(e.g. 100,000 ``[``) refused as a 400 like any other malformed JSON, not a server error."""
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
