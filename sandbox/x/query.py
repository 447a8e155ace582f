"""X's search query language, the subset the sandbox serves: keywords, "exact phrases",
#hashtag, $cashtag, @mention, from:, conversation_id:, is:retweet / is:reply / is:quote,
negation with ``-``, ``OR``, parentheses and implicit AND (which binds tighter than OR,
as X evaluates it). The same parser checks filtered-stream rules.

``parse(text)`` returns a predicate over a post's searchable view (``Searchable``) or raises
QueryError with X's message; the API answers that with 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_QUERY_LENGTH = 512  # recent search, and a filtered-stream rule on X's self-serve tiers
OPERATORS = {"from", "conversation_id", "is"}
IS_VALUES = {"retweet", "reply", "quote"}


class QueryError(ValueError):
    pass


@dataclass
class Searchable:
    """What the matcher sees of a post: lower-cased words and entity values."""

    words: list[str]
    hashtags: set[str]
    cashtags: set[str]
    mentions: set[str]
    author_id: str
    author_username: str
    conversation_id: str
    kinds: set[str] = field(default_factory=set)  # "retweet", "reply", "quote"


Match = Callable[[Searchable], bool]


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


# ---- tokens -----------------------------------------------------------------------------
TOKEN = re.compile(r'\s+|\(|\)|-?"[^"]*"|"|-|[^\s()"]+')


@dataclass
class Token:
    kind: str  # "(", ")", "OR", "-", "phrase", "term"
    text: str


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        m = TOKEN.match(query, pos)
        assert m is not None  # the last alternative takes any other character
        piece = m.group(0)
        pos = m.end()
        if piece.isspace():
            continue
        if piece == '"':
            raise QueryError("There is an unclosed quote in your query.")
        if piece.startswith("-") and len(piece) > 1:
            tokens.append(Token("-", "-"))
            piece = piece[1:]
        if piece in "()-":
            tokens.append(Token(piece, piece))
        elif piece == "OR":
            tokens.append(Token("OR", piece))
        elif piece.startswith('"'):
            tokens.append(Token("phrase", piece[1:-1]))
        else:
            tokens.append(Token("term", piece))
    return tokens


# ---- grammar: expr := and ("OR" and)* ; and := unary+ ; unary := "-" unary | atom --------
class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expr(self) -> tuple[Match, bool]:
        """The predicate and whether it has a positive (non-negated) clause."""
        match, positive = self.conjunction()
        alternatives = [match]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            other, other_positive = self.conjunction()
            alternatives.append(other)
            positive = positive and other_positive
        if len(alternatives) == 1:
            return match, positive
        return (lambda post: any(alt(post) for alt in alternatives)), positive

    def conjunction(self) -> tuple[Match, bool]:
        parts: list[Match] = []
        positive = False
        while (token := self.peek()) is not None and token.kind not in {"OR", ")"}:
            match, is_positive = self.unary()
            parts.append(match)
            positive = positive or is_positive
        if not parts:
            token = self.peek()
            where = f"'{token.text}'" if token else "the end of the query"
            raise QueryError(f"There is a missing clause before {where} in your query.")
        if len(parts) == 1:
            return parts[0], positive
        return (lambda post: all(part(post) for part in parts)), positive

    def unary(self) -> tuple[Match, bool]:
        token = self.take()
        if token.kind == "-":
            following = self.peek()
            if following is None or following.kind in {"OR", ")", "-"}:
                raise QueryError("Negation ('-') must be followed by a clause.")
            inner, _ = self.unary()
            return (lambda post: not inner(post)), False
        if token.kind == "(":
            match, positive = self.expr()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QueryError("There are mismatched parentheses in your query.")
            self.take()
            return match, positive
        if token.kind == ")":
            raise QueryError("There are mismatched parentheses in your query.")
        if token.kind == "phrase":
            return _phrase(token.text), True
        return _term(token.text), True


def _phrase(text: str) -> Match:
    wanted = words_of(text)
    if not wanted:
        raise QueryError("An exact phrase must contain at least one word.")
    n = len(wanted)
    return lambda post: any(post.words[i : i + n] == wanted for i in range(len(post.words) - n + 1))


def _term(text: str) -> Match:
    if text[0] in "#$@" and len(text) > 1:
        value = text[1:].lower()
        if text[0] == "#":
            return lambda post: value in post.hashtags
        if text[0] == "$":
            return lambda post: value in post.cashtags
        return lambda post: value in post.mentions
    name, colon, value = text.partition(":")
    if colon and name and re.fullmatch(r"[a-z_]+", name):
        if name not in OPERATORS:
            raise QueryError(f"Reference to invalid operator '{name}'. Operator is not available.")
        if not value:
            raise QueryError(f"The operator '{name}:' must be followed by a value.")
        if name == "from":
            handle = value.removeprefix("@").lower()
            return lambda post: handle in {post.author_username.lower(), post.author_id}
        if name == "conversation_id":
            return lambda post: post.conversation_id == value
        if value not in IS_VALUES:
            raise QueryError(f"Reference to invalid operator 'is:{value}'.")
        return lambda post: value in post.kinds
    return _phrase(text)  # a keyword: its words, in order (X tokenizes keywords the same way)


def parse(query: str, max_length: int = MAX_QUERY_LENGTH) -> Match:
    """A predicate for ``query``, or QueryError with what X says about it."""
    if not query.strip():
        raise QueryError("The query must not be empty.")
    if len(query) > max_length:
        raise QueryError(f"Query is too long: {len(query)} characters (the limit is {max_length}).")
    parser = _Parser(tokenize(query))
    match, positive = parser.expr()
    if parser.peek() is not None:
        raise QueryError("There are mismatched parentheses in your query.")
    if not positive:
        raise QueryError("Rules must contain a non-negation term.")
    return match
