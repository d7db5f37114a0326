"""The local embedder: feature hashing of word unigrams and bigrams, deterministic and offline.

Each word and each pair of neighbouring words is hashed (BLAKE2b, stable across processes, unlike
Python's `hash`) to one of `DIMENSIONS` buckets with a sign; the vector is L2-normalised so a dot
product is the cosine similarity. Texts that share words and phrases land close together, which is
what retrieval over a workspace's own data needs, with no model to download.
"""

import hashlib
import itertools
import math
import re

DIMENSIONS = 384
NAME = f"local-hash-{DIMENSIONS}"
BIGRAM_WEIGHT = 0.5
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# Words too common to say anything about a text's subject.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "about",
        "please",
        "tell",
        "show",
        "give",
        "find",
        "any",
        "all",
    ]
)


def words(text):
    return [w for w in _WORD.findall((text or "").lower()) if w not in STOPWORDS]


def _bucket(feature):
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    return value % DIMENSIONS, (1.0 if (value >> 63) & 1 else -1.0)


def embed_text(text):
    vector = [0.0] * DIMENSIONS
    tokens = words(text)
    for token in tokens:
        index, sign = _bucket(token)
        vector[index] += sign
    for first, second in itertools.pairwise(tokens):
        index, sign = _bucket(f"{first} {second}")
        vector[index] += sign * BIGRAM_WEIGHT
    norm = math.sqrt(sum(v * v for v in vector))
    if norm:
        vector = [v / norm for v in vector]
    return vector


def embed_texts(texts):
    return [embed_text(text) for text in texts]
