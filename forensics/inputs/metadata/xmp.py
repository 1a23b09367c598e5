"""XMP packets, parsed with defusedxml (no DTDs, no entities): digital source type, creator tool,
credit and edit history."""
from __future__ import annotations

from typing import Optional

from .limits import MAX_HISTORY, MAX_XMP, UNREADABLE, clean_text
from .parts import XmpPart

_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
}


def _q(prefix: str, name: str) -> str:
    return f"{{{_NS[prefix]}}}{name}"


def _find_xmp(data: bytes, pil, png_xmp: Optional[bytes]) -> Optional[bytes]:
    if png_xmp:
        return png_xmp
    if pil is not None:
        packet = pil.info.get("xmp") or pil.info.get("XML:com.adobe.xmp")
        if isinstance(packet, str):
            packet = packet.encode("utf-8", errors="replace")
        if packet:
            return packet
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        start = data.find(b"<?xpacket begin")
    if start < 0:
        return None
    end = data.find(b"</x:xmpmeta>", start, start + MAX_XMP + 64)
    if end < 0:
        return data[start:start + MAX_XMP + 1]  # too long or unterminated: the size check decides
    return data[start:end + len(b"</x:xmpmeta>")]


def read_xmp(data: bytes, pil, png_xmp: Optional[bytes]) -> XmpPart:
    packet = _find_xmp(data, pil, png_xmp)
    if not packet:
        return XmpPart()
    if len(packet) > MAX_XMP:
        return XmpPart(present=True, num_bytes=len(packet),
                       error=f"{UNREADABLE}XMP: packet of {len(packet):,} bytes is over the "
                             f"{MAX_XMP >> 20} MB limit; not parsed")
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    text = packet.strip(b"\x00 \t\r\n")
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        return XmpPart(present=True, num_bytes=len(packet),
                       error=f"{UNREADABLE}XMP: refused ({type(exc).__name__}: entities and DTDs are "
                             "never expanded)")
    dst, creator, credit, history = [], None, None, []
    for el in root.iter():
        for name, value in el.attrib.items():
            if name == _q("Iptc4xmpExt", "DigitalSourceType"):
                dst.append(value)
            elif name == _q("xmp", "CreatorTool"):
                creator = creator or value
            elif name == _q("photoshop", "Credit"):
                credit = credit or value
        if el.tag == _q("Iptc4xmpExt", "DigitalSourceType"):
            value = el.get(_q("rdf", "resource")) or _el_text(el)
            if value:
                dst.append(value)
        elif el.tag == _q("xmp", "CreatorTool"):
            creator = creator or _el_text(el)
        elif el.tag == _q("photoshop", "Credit"):
            credit = credit or _el_text(el)
        elif el.tag == _q("xmpMM", "History"):
            for li in el.iter(_q("rdf", "li")):
                if len(history) < MAX_HISTORY:
                    history.append(_history_event(li))
    return XmpPart(present=True, num_bytes=len(packet),
                   digital_source_types=tuple(dict.fromkeys(clean_text(d, 300) for d in dst if clean_text(d))),
                   creator_tool=clean_text(creator), credit=clean_text(credit), history=tuple(h for h in history if h))


def _el_text(el) -> Optional[str]:
    """An XMP simple value, or the first rdf:li of an rdf:Alt / rdf:Seq / rdf:Bag."""
    if el.text and el.text.strip():
        return el.text.strip()
    for li in el.iter(_q("rdf", "li")):
        if li.text and li.text.strip():
            return li.text.strip()
    return None


def _history_event(li) -> str:
    fields = {}
    for name in ("action", "softwareAgent", "when", "changed", "parameters"):
        value = li.get(_q("stEvt", name))
        if value is None:
            child = li.find(".//" + _q("stEvt", name))
            value = child.text if child is not None else None
        if value:
            fields[name] = value.strip()
    return clean_text("; ".join(f"{k} {v}" for k, v in fields.items()), 300) or ""
