"""No user-visible English outside a translation tag in the portal's templates.

Each template is split by Django's own lexer; the text between tags (outside {% translate %},
{% blocktranslate %}…{% endblocktranslate %}, comments, <script> and <style>) is read as HTML, and its visible
text and visible attributes (aria-label, placeholder, title, alt) must hold no word. Product and model names,
units and punctuation are allowed. Every template under templates/ is checked, the invoice documents and the
e-mail templates included.
"""

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.template.base import Lexer, TokenType

TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"
OWNED = sorted(path for path in TEMPLATES_DIR.rglob("*") if path.suffix in (".html", ".txt"))
ALLOWED_WORDS = {"billing_portal", "USD", "UTC", "Claude", "Code", "Chat", "Cowork",
                 "PDF", "CSV", "HTTP", "webhook-id"}  # file formats, the protocol, a header's name
VISIBLE_ATTRIBUTES = {"aria-label", "placeholder", "title", "alt"}
HOLE = "\x00"  # where a {{ variable }} or {% tag %} was (spaced, so that a tag inside <tr{% if %} …> stays a tag)
PUNCTUATION = ".,:;·–—…()[]“”\"'/%$+×✎↑↓→◆|?!&"


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden_depth += 1
        self.chunks.extend(value for name, value in attrs if name in VISIBLE_ATTRIBUTES and value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden_depth = max(0, self._hidden_depth - 1)

    def handle_data(self, data):
        if not self._hidden_depth:
            self.chunks.append(data)


def untranslated_text(source: str) -> list[str]:
    """The visible words of a template that are not inside a translation tag."""
    parts, skip_until = [], None
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            if skip_until:
                if name == skip_until:
                    skip_until = None
                continue
            if name in ("blocktranslate", "blocktrans"):
                skip_until = "endblocktranslate" if name == "blocktranslate" else "endblocktrans"
            elif name == "comment":
                skip_until = "endcomment"
            parts.append(f" {HOLE} ")
        elif skip_until:
            continue
        elif token.token_type == TokenType.TEXT:
            parts.append(token.contents)
        elif token.token_type == TokenType.VAR:
            parts.append(HOLE)
    parser = _Visible()
    parser.feed("".join(parts))
    words = []
    for chunk in parser.chunks:
        for piece in chunk.split(HOLE):
            for word in piece.split():
                stripped = word.strip(PUNCTUATION)
                if any(c.isalpha() for c in stripped) and stripped not in ALLOWED_WORDS:
                    words.append(stripped)
    return words


@pytest.mark.parametrize("path", OWNED, ids=lambda p: str(p.relative_to(TEMPLATES_DIR)))
def test_template_has_no_english_outside_translation_tags(path):
    words = untranslated_text(path.read_text())
    assert not words, f"{path.relative_to(TEMPLATES_DIR)} shows untranslated text: {words}"


def test_the_check_finds_a_literal():
    assert untranslated_text('<p>Hello {{ name }}</p><input placeholder="Search">') == ["Hello", "Search"]
    translated = '<p>{% translate "Hello" %}</p><p>{% blocktranslate %}Hi {{ x }}{% endblocktranslate %}</p>'
    assert untranslated_text(translated) == []
