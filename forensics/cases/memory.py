"""Memory across cases: what an analyst has seen before, more like this, and families.

Every analysed item keeps the detector's final layer-normed CLS (`Analysis.embedding`) and the
identity of what made it (`extractor`: model revision, weights SHA-256, layer, transform). Items
of different extractors are never compared by embedding.

- seen before: an item against every live item of the OTHER cases the acting user may see:
  "identical" (same SHA-256), "near-duplicate" (the perceptual hashes of duplicates.py), or
  "similar" (embedding cosine >= `SIMILAR_COSINE`). Computed on read, so a later mark (truth
  "ai", status "warning") shows at once; a match so marked makes the item "notable".
- similar: the nearest items by cosine, in the case or in every case the user may see.
- families: agglomerative clustering of a case's embeddings (cosine, average linkage,
  `FAMILY_DISTANCE`): visually and forensically similar families, never generator attribution.

Isolation: every query is limited to the cases the user owns or was given (`store._visible`);
another analyst's unshared case is never compared, named or counted.

Search: exact, in NumPy, over the visible items (float32 matrix products, chunked). On
PostgreSQL with pgvector (migration 0004 creates `item_vectors` when the extension can be made),
`similar` asks the database instead, through HNSW indexes that `build_vector_index` builds after
bulk loads (an index present while loading makes inserts several times slower).
"""
from __future__ import annotations

import hashlib
import weakref
from collections import Counter
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
from sqlalchemy import and_, cast, func, inspect, select, text

from ..core.errors import InputError
from . import duplicates
from .schema import cases, item_vectors, items

# Cosine at or above which two items of one extractor are "similar". Measured with the test
# detectors (bench/bench_memory.py, docs/CASES.md): with tests' tiny ViT, a JPEG q70 copy at 0.6x
# scale keeps >= 0.9998 of 30 scenes' cosine, while 870 pairs of different scenes reach at most
# 0.9978 (median 0.94). A model's embedding geometry is its own: an analyst can pass another
# threshold (`--min-similarity`) measured on their material. Not measured on the pinned weights.
SIMILAR_COSINE = 0.999
# Average-linkage cosine distance below which families merge. Measured with the tiny ViT:
# crops of one scene sit at distances <= 0.007 (median 0.001), different scenes at a median 0.06.
FAMILY_DISTANCE = 0.02
MAX_MATCHES = 10            # seen-before matches kept per item, strongest first
LAYER = "final-cls"
RELATIONS = ("identical", "near-duplicate", "similar", "nearest")   # strongest first; "nearest":
# among the closest by cosine (`similar`), but below the threshold
_CHUNK = 256                # query rows per matrix product: bounds memory at 10^5 stored items


def extractor_of(analysis) -> str | None:
    """The identity of what made `analysis.embedding` (None when it has none)."""
    if getattr(analysis, "embedding", None) is None:
        return None
    return extractor_for(analysis.model, analysis.preprocessing)


def extractor_for(model, transform) -> str:
    """The identity of the embeddings a detector with this model (`ModelInfo`) and input transform
    makes: revision, weights, layer, transform."""
    return f"{model.revision or 'local'}:{model.weights_sha256 or model.source}:{LAYER}:{transform.name}"[:200]


def embedding_bytes(vector) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def embedding_from(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")


def embedding_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Match:
    """An item met elsewhere: where, how, and what the analyst said about it there."""
    case: str                     # its case ("owner/name" when another user owns it)
    item: int
    relation: str                 # one of RELATIONS
    similarity: float | None      # embedding cosine (None: different extractors or no embedding)
    truth: str | None
    status: str
    file_name: str = ""
    fake_probability: float | None = None
    verdict: str | None = None

    @property
    def marked(self) -> str:
        """What the analyst said about it in its case, in words ("" when nothing)."""
        return ", ".join((["marked AI-generated"] if self.truth == "ai" else [])
                         + (["marked real"] if self.truth == "real" else [])
                         + (["status warning"] if self.status == "warning" else []))

    def describe(self) -> str:
        """One line for a report: "case A item 3 (near-duplicate, cosine 0.9998), marked AI-generated"."""
        how = self.relation + ("" if self.similarity is None else f", cosine {self.similarity:.4f}")
        return f"case {self.case} item {self.item} ({how})" + (f", {self.marked}" if self.marked else "")

    @property
    def notable(self) -> bool:
        """Marked AI-generated or "warning" in its case (the Autopsy "notable" pattern)."""
        return self.truth == "ai" or self.status == "warning"

    def to_json(self) -> dict:
        return asdict(self)


class StoredEmbeddings(NamedTuple):
    item_ids: np.ndarray      # (n,) int64
    matrix: np.ndarray        # (n, d) float32, as stored (not normalised)
    extractor: str | None


@dataclass(frozen=True)
class Family:
    """Items whose embeddings cluster together: visually and forensically similar."""
    id: int                          # its first item
    items: tuple[int, ...]
    p_min: float | None
    p_max: float | None
    truths: dict                     # {"ai": n, "real": n} of the marked ones

    @property
    def spread(self) -> float | None:
        return None if self.p_min is None else self.p_max - self.p_min

    def to_json(self) -> dict:
        return {**asdict(self), "spread": self.spread}


# -- the items a user may compare with -----------------------------------------------------------
_POOL_COLUMNS = ("id", "case_id", "sha256", "phash", "dhash", "truth", "status", "file_name",
                 "fake_probability", "verdict", "extractor")


def _pool(conn, store, user: str, *, case_id=None, exclude_case=None) -> list:
    """Live items of the cases `user` may see (only `case_id`, or all but `exclude_case`), without
    their embeddings (`_vectors` reads those apart: a join that carries blobs is slow on SQLite)."""
    visible = select(cases.c.id).where(store._visible(user))
    if case_id is not None:
        visible = visible.where(cases.c.id == case_id)
    if exclude_case is not None:
        visible = visible.where(cases.c.id != exclude_case)
    ids = list(conn.execute(visible).scalars())
    if not ids:
        return []
    # the cases first, then their items without a join: SQLite sorts a join's rows through a temp table
    return conn.execute(select(*[items.c[n] for n in _POOL_COLUMNS]).where(
        items.c.case_id.in_(ids), items.c.removed.is_(False)).order_by(items.c.id)).all()


def _labels(conn, store, user: str) -> dict[int, str]:
    """{case id: how `user` names it} for the cases they may see ("owner/name" when not theirs)."""
    return {r.id: r.name if r.owner == user else f"{r.owner}/{r.name}"
            for r in conn.execute(select(cases.c.id, cases.c.name, cases.c.owner).where(store._visible(user)))}


def _vectors(conn, rows, cache: dict | None = None) -> dict[int, bytes]:
    """{item id: embedding bytes} of those `rows` that have one (rows come from `_pool`, so the
    user may see them all); `cache` (the store's `embedding_cache`) is read first and filled."""
    wanted = {r.id for r in rows if r.extractor}
    if not wanted:
        return {}
    found = {} if cache is None else {i: cache[i] for i in wanted if i in cache}
    missing = [r for r in rows if r.extractor and r.id not in found]
    if missing:
        ids = {r.id for r in missing}
        query = select(items.c.id, items.c.embedding).where(items.c.embedding.is_not(None),
                                                             items.c.removed.is_(False))
        if len(ids) <= 500:
            query = query.where(items.c.id.in_(ids))
        else:
            query = query.where(items.c.extractor.in_({r.extractor for r in missing}),
                                items.c.case_id.in_({r.case_id for r in missing}))
        fetched = {i: e for i, e in conn.execute(query).all() if i in ids}
        if cache is not None:
            cache.update(fetched)
        found.update(fetched)
    return found


def _hash_ints(rows, column: str) -> np.ndarray:
    """Hex perceptual hashes -> uint64 (0 with a mask of False where absent)."""
    return np.array([int(getattr(r, column), 16) if getattr(r, column) else 0 for r in rows], dtype=np.uint64)


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1)


def _embeddings(rows, vectors: dict, extractor: str) -> tuple[np.ndarray, np.ndarray]:
    """-> (positions in rows of `extractor`'s items, their unit embeddings (m, d) float32)."""
    at = [i for i, r in enumerate(rows) if r.extractor == extractor and r.id in vectors]
    if not at:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    blobs = [vectors[rows[i].id] for i in at]
    return np.array(at), _unit(np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(at), -1))


def _match(row, labels, relation, similarity) -> Match:
    return Match(labels[row.case_id], row.id, relation, None if similarity is None else round(float(similarity), 6),
                 row.truth, row.status, row.file_name, row.fake_probability, row.verdict)


def compare(queries, pool, labels: dict, vectors: dict, threshold: float = SIMILAR_COSINE,
            limit: int = MAX_MATCHES) -> dict:
    """Each query row (with id, sha256, phash, dhash, extractor) against the pool rows (`vectors`:
    {item id: embedding bytes} of both) -> {query id: [Match]} for those with matches, strongest
    relation first, then by cosine."""
    if not queries or not pool:
        return {}
    found: dict[int, dict[int, tuple]] = {q.id: {} for q in queries}   # query -> pool position -> (rank, cos)
    by_sha: dict[str, list[int]] = {}
    for q in queries:
        if q.sha256:
            by_sha.setdefault(q.sha256, []).append(q.id)
    for j, r in enumerate(pool):
        for qid in by_sha.get(r.sha256, ()):
            found[qid][j] = (0, None)
    # near-duplicates: both hashes within their bit limits (duplicates.near), vectorised
    has = np.array([bool(r.phash and r.dhash) for r in pool])
    if has.any():
        pp, pd = _hash_ints(pool, "phash"), _hash_ints(pool, "dhash")
        hashed = [q for q in queries if q.phash and q.dhash]
        for start in range(0, len(hashed), _CHUNK):
            part = hashed[start:start + _CHUNK]
            qp, qd = _hash_ints(part, "phash")[:, None], _hash_ints(part, "dhash")[:, None]
            near = ((np.bitwise_count(qp ^ pp) <= duplicates.PHASH_BITS)
                    & (np.bitwise_count(qd ^ pd) <= duplicates.DHASH_BITS) & has)   # (chunk, N)
            for q, js in zip(part, near):
                for j in np.flatnonzero(js):
                    found[q.id].setdefault(int(j), (1, None))
    # similar: cosine within one extractor only
    for extractor in {q.extractor for q in queries if q.extractor and q.id in vectors}:
        at, unit = _embeddings(pool, vectors, extractor)
        if not len(at):
            continue
        qs = [q for q in queries if q.extractor == extractor and q.id in vectors]
        for start in range(0, len(qs), _CHUNK):
            part = qs[start:start + _CHUNK]
            cos = _unit(np.stack([embedding_from(vectors[q.id]) for q in part])) @ unit.T   # (chunk, m)
            for q, row in zip(part, cos):
                mine = found[q.id]
                for j in at[np.flatnonzero(row >= threshold)]:
                    mine.setdefault(int(j), (2, None))
                for j in mine:   # the cosine of every match this extractor can measure
                    k = np.searchsorted(at, j)
                    if k < len(at) and at[k] == j:
                        mine[j] = (mine[j][0], row[k])
    out = {}
    for qid, mine in found.items():
        if mine:
            ranked = sorted(mine.items(), key=lambda kv: (kv[1][0], -(kv[1][1] or 0), pool[kv[0]].id))[:limit]
            out[qid] = [_match(pool[j], labels, RELATIONS[rank], cos) for j, (rank, cos) in ranked]
    return out


# -- the store's face ------------------------------------------------------------------------------
def seen_before(store, case: str, user: str, item_ids=None, threshold: float = SIMILAR_COSINE) -> dict:
    """{item id: [Match]} for the case's live items (or just `item_ids`) met in the OTHER cases
    `user` may see; items with no match are absent."""
    with store._read() as conn:
        row = store._case_row(conn, case, user)
        mine = _pool(conn, store, user, case_id=row.id)
        if item_ids is not None:
            wanted = {int(i) for i in item_ids}
            mine = [r for r in mine if r.id in wanted]
        if not mine:
            return {}
        others = _pool(conn, store, user, exclude_case=row.id)
        vectors = _vectors(conn, mine, store.embedding_cache) if others else {}
        if vectors:
            extractors = {m.extractor for m in mine}
            vectors.update(_vectors(conn, [r for r in others if r.extractor in extractors], store.embedding_cache))
        labels = _labels(conn, store, user)
    return compare(mine, others, labels, vectors, threshold)


def stored_embeddings(store, case: str, user: str, extractor: str | None = None) -> StoredEmbeddings:
    """The case's live embeddings of one extractor (default: the one most of its items have) ->
    (item ids (n,), matrix float32 (n, d), extractor). Items of other extractors are left out."""
    with store._read() as conn:
        row = store._case_row(conn, case, user)
        rows = conn.execute(select(items.c.id, items.c.extractor, items.c.embedding).where(
            items.c.case_id == row.id, items.c.removed.is_(False), items.c.embedding.is_not(None))
            .order_by(items.c.id)).all()
    if extractor is None and rows:
        extractor = Counter(r.extractor for r in rows).most_common(1)[0][0]
    rows = [r for r in rows if r.extractor == extractor]
    if not rows:
        return StoredEmbeddings(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32), extractor)
    return StoredEmbeddings(np.array([r.id for r in rows], dtype=np.int64),
                            np.stack([embedding_from(r.embedding) for r in rows]).astype(np.float32), extractor)


def similar(store, case: str, item, user: str, all_cases: bool = False, top: int = 10,
            threshold: float = SIMILAR_COSINE) -> list[Match]:
    """The `top` items nearest to `item` by embedding cosine, in its case (or, `all_cases`, in
    every case `user` may see), nearest first; relation says identical / near-duplicate /
    similar (>= threshold) / nearest (below it). Only items of the same extractor."""
    if top < 1:
        raise InputError(f"--top must be 1 or more, got {top}")
    with store._read() as conn:
        case_row = store._case_row(conn, case, user)
        query = store._item_row(conn, case_row.id, item)
        if query.removed:
            raise InputError(f"item {query.id} was removed from the case")
        if query.embedding is None:
            raise InputError(f"item {query.id} has no stored embedding (not analysed, or added before this "
                             "version): nothing to compare it with")
        scope = {} if all_cases else {"case_id": case_row.id}
        if _vectors_enabled(conn):
            pool = _pool_by_vector(conn, store, user, query, top + 1, **scope)
        else:
            pool = _pool(conn, store, user, **scope)
        pool = [r for r in pool if r.id != query.id and r.extractor == query.extractor]
        vectors = _vectors(conn, pool, store.embedding_cache)
        labels = _labels(conn, store, user)
    vectors[query.id] = query.embedding
    at, unit = _embeddings(pool, vectors, query.extractor)
    if not len(at):
        return []
    cos = unit @ _unit(embedding_from(query.embedding)[None])[0]
    order = np.argsort(-cos, kind="stable")[:top]
    nearest = [pool[at[k]] for k in order]
    relations = compare([query], nearest, labels, vectors, threshold, limit=len(nearest)).get(query.id, [])
    relation = {m.item: m.relation for m in relations}
    return [_match(r, labels, relation.get(r.id, "nearest"), cos[k]) for k, r in zip(order, nearest)]


def families(store, case: str, user: str, distance_threshold: float = FAMILY_DISTANCE) -> list[Family]:
    """The case's analysed items (of its main extractor) clustered by embedding (scikit-learn
    AgglomerativeClustering, cosine, average linkage) -> families, largest first; an item alone
    is a family of one."""
    ids, matrix, _ = stored_embeddings(store, case, user)
    if not len(ids):
        return []
    if len(ids) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        from sklearn.cluster import AgglomerativeClustering
        labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                         distance_threshold=distance_threshold).fit_predict(matrix)
    about = {i.id: i for i in store.items(case, user, seen_before=False)}
    out = []
    for label in np.unique(labels):
        members = tuple(int(i) for i in ids[labels == label])
        ps = [about[i].fake_probability for i in members if about[i].fake_probability is not None]
        truths = dict(Counter(about[i].truth for i in members if about[i].truth))
        out.append(Family(members[0], members, min(ps) if ps else None, max(ps) if ps else None, truths))
    return sorted(out, key=lambda f: (-len(f.items), f.id))


# -- pgvector (PostgreSQL with the extension) ----------------------------------------------------------
_VECTOR_TABLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _vectors_enabled(conn) -> bool:
    """Whether this database has `item_vectors` (PostgreSQL with pgvector; asked once per engine)."""
    engine = conn.engine
    if engine not in _VECTOR_TABLES:
        _VECTOR_TABLES[engine] = (conn.dialect.name == "postgresql" and inspect(conn).has_table("item_vectors"))
    return _VECTOR_TABLES[engine]


def keep_vector(conn, item_id: int, extractor: str | None, data: bytes | None) -> None:
    """Also file the embedding as a pgvector value, where the store has the table."""
    if extractor and data is not None and _vectors_enabled(conn):
        conn.execute(item_vectors.insert().values(item_id=item_id, extractor=extractor,
                                                  embedding=embedding_from(data)))


def _index_name(extractor: str) -> str:
    return "ix_item_vectors_hnsw_" + hashlib.sha256(extractor.encode()).hexdigest()[:12]


def _as_dimension(column, dimension: int):
    from pgvector.sqlalchemy import VECTOR
    return cast(column, VECTOR(dimension))


def build_vector_index(store) -> list[str]:
    """PostgreSQL with pgvector: file any embedding not yet in `item_vectors`, then build an HNSW
    cosine index per extractor (partial, on embedding::vector(d)) -> the index names. Run it
    after bulk loads; a no-op ([]) elsewhere."""
    from sqlalchemy import Index
    with store._write() as conn:
        if not _vectors_enabled(conn):
            return []
        # an anti-join, not NOT IN (subquery): PostgreSQL runs the latter row by row once it
        # cannot hash the subquery in work_mem (quadratic at 10^5 items)
        filed = select(item_vectors.c.item_id).where(item_vectors.c.item_id == items.c.id).exists()
        missing = conn.execute(select(items.c.id, items.c.extractor, items.c.embedding).where(
            items.c.embedding.is_not(None), ~filed)).all()
        if missing:
            conn.execute(item_vectors.insert(), [{"item_id": r.id, "extractor": r.extractor,
                                                  "embedding": embedding_from(r.embedding)} for r in missing])
        # pgvector builds fast only while the graph fits in maintenance_work_mem (64 MB by default:
        # about 30,000 vectors of 384); 512 MB holds ~250,000 for this one transaction
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        names = []
        for extractor, dimension in conn.execute(select(item_vectors.c.extractor,
                                                        func.min(func.vector_dims(item_vectors.c.embedding)))
                                                 .group_by(item_vectors.c.extractor)).all():
            name = _index_name(extractor)
            Index(name, _as_dimension(item_vectors.c.embedding, dimension).label("embedding"),
                  postgresql_using="hnsw", postgresql_ops={"embedding": "vector_cosine_ops"},
                  postgresql_where=item_vectors.c.extractor == extractor).create(conn, checkfirst=True)
            names.append(name)
        return names


def _pool_by_vector(conn, store, user: str, query, k: int, case_id=None) -> list:
    """The `k` nearest visible items of the query's extractor by pgvector's cosine distance."""
    dimension = len(embedding_from(query.embedding))
    conn.execute(text("SET LOCAL hnsw.ef_search = 200"))
    # filtered HNSW scans go on until enough rows pass the filter (pgvector >= 0.8; ignored before)
    conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
    distance = _as_dimension(item_vectors.c.embedding, dimension).cosine_distance(embedding_from(query.embedding))
    cols = [items.c[n] for n in _POOL_COLUMNS]
    q = (select(*cols).select_from(item_vectors.join(items, items.c.id == item_vectors.c.item_id)
                                   .join(cases, items.c.case_id == cases.c.id))
         .where(and_(item_vectors.c.extractor == query.extractor, store._visible(user),
                     items.c.removed.is_(False)))
         .order_by(distance).limit(k))
    if case_id is not None:
        q = q.where(items.c.case_id == case_id)
    return conn.execute(q).all()
