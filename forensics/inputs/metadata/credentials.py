"""C2PA content credentials through c2pa-python: signature, trust, actions and ingredients.

Nothing is fetched from the network: remote manifests and OCSP are switched off.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Optional

from .limits import MAX_C2PA_ITEMS, MAX_C2PA_JSON, UNREADABLE, clean_text, join_words, short_reason
from .parts import C2paAction, C2paIngredient, C2paPart, JpegPart

ENV_C2PA_TRUST = "FORENSICS_C2PA_TRUST"  # a PEM file of trust anchors, when read_metadata gets none
_SIGNING_TIME_NOTE = "not timestamped (no trusted signing time)"
NO_TRUST_LIST = "signature valid; signer not checked against a trust list"

_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
         "TIFF": "image/tiff", "HEIF": "image/heif", "AVIF": "image/avif"}

_CONTEXTS: dict = {}


def _trust_source(trust) -> Optional[Path]:
    trust = trust if trust is not None else os.environ.get(ENV_C2PA_TRUST) or None
    return Path(trust) if trust else None


def _context(trust: Optional[Path]):
    import c2pa

    pem = None
    if trust is not None:
        pem = trust.read_text(encoding="utf-8", errors="replace")
        if "BEGIN CERTIFICATE" not in pem:
            raise ValueError(f"trust list {trust.name} holds no PEM certificate")
    key = (os.getpid(), pem or "")  # a context does not survive fork()
    if key not in _CONTEXTS:
        settings: dict = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False,
                                     "verify_trust": pem is not None}}
        if pem is not None:
            settings["trust"] = {"trust_anchors": pem}
        _CONTEXTS[key] = c2pa.Context(c2pa.Settings.from_dict(settings))
    return _CONTEXTS[key]


def read_c2pa(data: bytes, fmt: Optional[str], trust, jpeg: Optional[JpegPart]) -> C2paPart:
    try:
        import c2pa
    except Exception as exc:  # noqa: BLE001
        return C2paPart(error=f"{UNREADABLE}C2PA: c2pa-python is not available ({short_reason(exc)})")
    trust_path = _trust_source(trust)
    try:
        ctx = _context(trust_path)
    except OSError as exc:
        return C2paPart(error=f"{UNREADABLE}C2PA: trust list {trust_path} could not be read "
                              f"({exc.strerror or exc})")
    mime = _MIME.get(fmt or "")
    if mime is None:
        return C2paPart(trust="format not supported for content credentials")
    try:
        reader = c2pa.Reader(mime, io.BytesIO(data), context=ctx)
    except c2pa.C2paError.ManifestNotFound:
        if jpeg is not None and "APP11 JUMBF (C2PA)" in jpeg.app_segments:
            return C2paPart(present=True, error=f"{UNREADABLE}C2PA: the file has a JUMBF (APP11) segment "
                                                "but no manifest could be read from it (corrupt or truncated)")
        return C2paPart()
    with reader:
        report = reader.json()
        if len(report) > MAX_C2PA_JSON:
            return C2paPart(present=True, error=f"{UNREADABLE}C2PA: manifest report over "
                                                f"{MAX_C2PA_JSON >> 20} MB; not parsed")
        state = reader.get_validation_state()
        results = reader.get_validation_results() or {}
    return _c2pa_part(json.loads(report), state, results, trust_path)


def _c2pa_part(store: dict, state: Optional[str], results: dict, trust: Optional[Path]) -> C2paPart:
    manifests = store.get("manifests") or {}
    active_label = store.get("active_manifest")
    active = manifests.get(active_label) or {}
    failures, trust_failed = [], False
    for item in (results.get("activeManifest") or {}).get("failure") or []:
        code = str(item.get("code"))
        if code.startswith("signingCredential.untrusted"):
            trust_failed = True
            if trust is None:  # no anchors configured: "untrusted" says nothing; the trust line says so
                continue
        failures.append(f"{code}: {item.get('explanation', '')}".strip(": "))
    for delta in results.get("ingredientDeltas") or []:
        for item in ((delta.get("validationDeltas") or {}).get("failure") or []):
            failures.append(f"ingredient {item.get('code')}: {item.get('explanation', '')}".strip(": "))
    if not results:  # older reports: a flat validation_status list
        for item in store.get("validation_status") or []:
            code = str(item.get("code"))
            if code.startswith("signingCredential.untrusted") and trust is None:
                continue
            failures.append(f"{code}: {item.get('explanation', '')}".strip(": "))
    sig = active.get("signature_info") or {}
    actions = []
    for label, manifest in [(active_label, active)] + [(k, v) for k, v in manifests.items() if k != active_label]:
        for assertion in manifest.get("assertions") or []:
            if str(assertion.get("label", "")).split(".v")[0] not in ("c2pa.actions",):
                continue
            for act in ((assertion.get("data") or {}).get("actions") or [])[:MAX_C2PA_ITEMS]:
                if len(actions) >= MAX_C2PA_ITEMS or not isinstance(act, dict):
                    break
                agent = act.get("softwareAgent")
                if isinstance(agent, dict):
                    agent = join_words(agent.get("name"), agent.get("version"))
                actions.append(C2paAction(
                    action=clean_text(act.get("action"), 120) or "?",
                    digital_source_type=clean_text(act.get("digitalSourceType"), 300),
                    software_agent=clean_text(agent, 200), when=clean_text(act.get("when"), 80),
                    manifest="active" if label == active_label else clean_text(label, 120) or "?"))
    ingredients = tuple(
        C2paIngredient(title=clean_text(i.get("title"), 200), format=clean_text(i.get("format"), 60),
                       relationship=clean_text(i.get("relationship"), 40),
                       has_manifest=bool(i.get("active_manifest") or i.get("manifest_data")))
        for i in (active.get("ingredients") or [])[:MAX_C2PA_ITEMS] if isinstance(i, dict))
    trust_name = trust.name if trust is not None else None
    if state == "Trusted":
        line = f"signature valid; signer chains to the configured trust list ({trust_name})"
    elif state == "Valid" and trust is None:
        line = NO_TRUST_LIST
    elif state == "Valid" or (state == "Invalid" and trust_failed and len(failures) == 1):
        line = f"signature valid; signer NOT on the configured trust list ({trust_name})"
    else:
        line = ("content credentials FAILED validation: " + "; ".join(failures[:3])) if failures else \
            f"content credentials did not validate (state {state})"
    return C2paPart(
        present=True, validation_state=state, trust=line, failures=tuple(failures[:MAX_C2PA_ITEMS]),
        claim_generator=_claim_generator(active), signer=clean_text(sig.get("common_name"), 200),
        issuer=clean_text(sig.get("issuer"), 200), algorithm=clean_text(sig.get("alg"), 40),
        signing_time=clean_text(sig.get("time"), 80) or _SIGNING_TIME_NOTE, title=clean_text(active.get("title"), 200),
        actions=tuple(actions), ingredients=ingredients, manifests=len(manifests), trust_list=trust_name)


def _claim_generator(manifest: dict) -> Optional[str]:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        return clean_text(join_words(str(info[0].get("name") or ""), str(info[0].get("version") or "")), 200)
    return clean_text(manifest.get("claim_generator"), 200)
