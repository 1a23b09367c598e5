"""Cases: many items kept byte for byte with a tamper-evident chain of custody.

    from forensics.cases import CaseStore
    store = CaseStore.open("store-dir")             # or db_url="postgresql+psycopg://..."
    store.add_user("alice", "secret")               # argon2id hash; store.authenticate("alice", "secret")
    store.create_case("exhibit-7", owner="alice", title="Reported uploads")
    result = store.add_files("exhibit-7", ["photos/", "bundle.zip"], detector, user="alice",
                             progress=lambda done, source: ...)
    result.added, result.duplicates                 # [(item id, source, error)], [(source, item id)]
    for item in store.items("exhibit-7", "alice"):  # Item: id, file_name, sha256, fake_probability,
        item.evidence_path                          # verdict, status, truth, group, hints, c2pa, ...
    store.record("exhibit-7", item.id, "alice")     # the stored JSON record of one item
    store.mark("exhibit-7", item.id, "alice", status="warning", note="cropped", truth="ai")
    store.remove("exhibit-7", item.id, "alice"); store.purge("exhibit-7", "alice")
    store.share("exhibit-7", "bob", user="alice")
    store.list_cases("bob")                         # [Case]: own and shared, last changed first
    store.verify("exhibit-7", "alice").ok           # Verification: .problems [(item, message)]
    store.report("exhibit-7", "out/", "alice")      # Report: .pdf, .bundle
    store.labelled("exhibit-7", "alice")            # [(evidence path, "real"|"ai", file name)]

Every function that reads or changes a case takes the acting user and raises
`CaseAccessError` (an `InputError`) for a case that user neither owns nor was given.
Modules: schema (tables), store (open, transactions, users, cases), casestore (items),
evidence (the content-addressed folder), audit (the hash chain), intake (files, folders,
bounded zips), duplicates (perceptual hashes, groups; flat pictures left out), clips (a clip as
an item: the clip rule, its record) and clip_pages (its report pages), verify, report (PDF and
bundle), users (argon2), migrations/ (Alembic; run on open).
"""
from .casestore import AddResult, CaseStore, Item
from .store import (DB_FILE, ENV_DB, ENV_STORE, ENV_USER, STATUSES, TRUTHS, Case, CaseAccessError, acting_user,
                    default_store)
from .verify import Problem, Verification

__all__ = ["CaseStore", "Case", "Item", "AddResult", "Verification", "Problem", "CaseAccessError",
           "acting_user", "default_store", "STATUSES", "TRUTHS", "DB_FILE", "ENV_STORE", "ENV_DB", "ENV_USER"]
