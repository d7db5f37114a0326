"""Retrieval over a workspace's own data: chunking, embeddings stored with the data, cosine search.

Domains index what people may ask about (records, documents, messages, knowledge)::

    index_document(workspace_id=ws, source_type="note", source_id=str(note.id), title=note.title,
                   text=note.body, metadata={"url": ...})
    search(workspace_id=ws, query="roof repair quote", k=8) -> [Hit(...)]

Texts are split on paragraphs into chunks of about `CHUNK_CHARS` characters, each starting with the
tail (`OVERLAP_CHARS`) of the previous one, so a sentence cut at a boundary is still found whole.
Embeddings come from the local embedder (deterministic, so stored vectors and query vectors always
match); they are unit vectors, so cosine similarity is a dot product. Search loads the workspace's
chunks and scores them in Python (numpy when installed): fine for thousands of chunks per
workspace. Indexing is part of the caller's transaction.
"""

import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from narrative.ai import embedder
from narrative.ai.models import AiChunk
from narrative.extensions import db

try:  # optional speed-up; the pure-Python path gives the same scores
    import numpy
except ImportError:  # pragma: no cover - depends on the environment
    numpy = None

CHUNK_CHARS = 800
OVERLAP_CHARS = 120
MIN_SCORE = 0.05


@dataclass
class Hit:
    source_type: str
    source_id: str
    title: str | None
    text: str
    score: float
    metadata: dict = field(default_factory=dict)


def _pieces(paragraph, size):
    """A paragraph longer than a chunk is cut at sentence ends, then at spaces."""
    if len(paragraph) <= size:
        return [paragraph]
    pieces, current = [], ""
    for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
        while len(sentence) > size:
            cut = sentence.rfind(" ", 0, size)
            cut = cut if cut > size // 2 else size
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > size:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def chunk_text(text, *, size=CHUNK_CHARS, overlap=OVERLAP_CHARS):
    """Paragraph-aligned chunks of about `size` characters, each led by the previous one's tail."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    pieces = [piece for paragraph in paragraphs for piece in _pieces(paragraph, size)]
    chunks, current = [], ""
    for piece in pieces:
        if current and len(current) + 2 + len(piece) > size:
            chunks.append(current)
            tail = current[-overlap:]
            tail = tail[tail.find(" ") + 1 :] if " " in tail else tail
            current = f"{tail}\n\n{piece}" if overlap else piece
        else:
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def remove_document(*, workspace_id, source_type, source_id):
    db.session.execute(
        sa.delete(AiChunk).where(
            AiChunk.workspace_id == workspace_id,
            AiChunk.source_type == source_type,
            AiChunk.source_id == str(source_id),
        )
    )


def index_document(*, workspace_id, source_type, source_id, text, title=None, metadata=None):
    """(Re)index one document: its old chunks are replaced. Returns the number of chunks."""
    remove_document(workspace_id=workspace_id, source_type=source_type, source_id=source_id)
    chunks = chunk_text(text)
    if title and not chunks:
        chunks = [title]
    # The title is embedded with each chunk: a question naming the document finds it.
    vectors = embedder.embed_texts([f"{title or ''}\n{chunk}" for chunk in chunks])
    for position, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True)):
        db.session.add(
            AiChunk(
                workspace_id=workspace_id,
                source_type=source_type,
                source_id=str(source_id),
                position=position,
                title=(title or "")[:500] or None,
                text=chunk,
                embedder=embedder.NAME,
                embedding=[round(v, 6) for v in vector],
                chunk_metadata=metadata or None,
            )
        )
    db.session.flush()
    return len(chunks)


def _scores(query_vector, vectors):
    if numpy is not None and vectors:
        return (numpy.asarray(vectors, dtype=float) @ numpy.asarray(query_vector, dtype=float)).tolist()
    return [sum(a * b for a, b in zip(query_vector, vector, strict=False)) for vector in vectors]


def search(*, workspace_id, query, k=8, source_types=None, min_score=MIN_SCORE):
    """The `k` chunks of this workspace most similar to `query`, best first (one workspace only)."""
    if not (query or "").strip():
        return []
    stmt = sa.select(
        AiChunk.source_type,
        AiChunk.source_id,
        AiChunk.title,
        AiChunk.text,
        AiChunk.embedding,
        AiChunk.chunk_metadata,
    ).where(AiChunk.workspace_id == workspace_id, AiChunk.embedder == embedder.NAME)
    if source_types:
        stmt = stmt.where(AiChunk.source_type.in_(list(source_types)))
    rows = db.session.execute(stmt).all()
    if not rows:
        return []
    scores = _scores(embedder.embed_text(query), [row.embedding for row in rows])
    ranked = sorted(zip(scores, range(len(rows)), strict=True), key=lambda pair: (-pair[0], pair[1]))
    hits = []
    for score, index in ranked:
        if score < min_score or len(hits) >= k:
            break
        row = rows[index]
        hits.append(
            Hit(
                source_type=row.source_type,
                source_id=row.source_id,
                title=row.title,
                text=row.text,
                score=round(float(score), 4),
                metadata=row.chunk_metadata or {},
            )
        )
    return hits


def stats(*, workspace_id=None):
    """Chunk and document counts for the RAG health check: of `workspace_id`, else of the workspace
    in scope (the caller's, in a request)."""
    stmt = sa.select(
        sa.func.count(AiChunk.id),
        sa.func.count(sa.distinct(AiChunk.source_type + ":" + AiChunk.source_id)),
    )
    if workspace_id is not None:
        stmt = stmt.where(AiChunk.workspace_id == workspace_id)
    chunks, documents = db.session.execute(stmt).one()
    return {"chunks": chunks, "documents": documents}
