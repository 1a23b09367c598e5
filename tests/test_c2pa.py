"""Content credentials (C2PA) on fixtures signed here: a JPEG signed with a throwaway ES256
chain (c2pa-python Builder, certificates made with `cryptography`) whose manifest says
trainedAlgorithmicMedia, the same file with one byte of image data flipped, a trust list that
does or does not hold the signer's root, and a corrupt manifest segment.
"""
import datetime
import io
import json
from pathlib import Path

import pytest

from forensics import metadata
from forensics.inputs.images import load_image
from forensics.inputs.metadata import UNREADABLE
from test_metadata import TRAINED, picture, read, save


def _chain(tmp: Path, name: str):
    """A throwaway ES256 root CA and signer certificate; -> (chain PEM, key PEM, root PEM path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def dn(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{name} Test Org")])

    now = datetime.datetime.now(datetime.timezone.utc)
    usage = dict(content_commitment=False, key_encipherment=False, data_encipherment=False,
                 key_agreement=False, encipher_only=False, decipher_only=False)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(dn(f"{name} Root CA")).issuer_name(dn(f"{name} Root CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **usage),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(dn(f"{name} Signer")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    root = tmp / f"{name.lower()}-root.pem"
    root.write_bytes(pem(ca))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem(leaf) + pem(ca), key_pem, root


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """-> (signed JPEG bytes, the root CA PEM that signs it, an unrelated root CA PEM)."""
    import c2pa

    tmp = tmp_path_factory.mktemp("c2pa")
    chain, key, root = _chain(tmp, "Forensics")
    _, _, other_root = _chain(tmp, "Other")
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain, key, None))
    manifest = {"claim_generator_info": [{"name": "forensics-test-generator", "version": "1.0"}],
                "title": "generated.jpg",
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                    {"action": "c2pa.created", "digitalSourceType": TRAINED}]}}]}
    src, dst = io.BytesIO(save(picture(160, 120), "JPEG", quality=90)), io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, "image/jpeg", src, dst)
    return dst.getvalue(), root, other_root


def flip_image_byte(jpeg: bytes) -> bytes:
    """One byte of entropy-coded image data changed (never creating or breaking a 0xFF marker)."""
    sos = jpeg.rfind(b"\xff\xda")
    pos = sos + (len(jpeg) - sos) // 2
    while jpeg[pos] in (0xFF, 0xFE, 0x00) or jpeg[pos - 1] == 0xFF:
        pos += 1
    data = bytearray(jpeg)
    data[pos] ^= 0x01
    return bytes(data)


def test_signed_jpeg_reads_valid_with_trained_algorithmic_media(signed):
    data, _, _ = signed
    meta = read(data, trust="")  # no trust list, whatever the environment says
    c = meta.c2pa
    assert c.present and c.error is None and c.valid and c.validation_state == "Valid"
    assert c.trust == "signature valid; signer not checked against a trust list"
    assert c.failures == ()
    assert c.signer == "Forensics Signer" and c.issuer == "Forensics Test Org" and c.algorithm
    assert c.claim_generator.startswith("forensics-test-generator")
    assert c.signing_time.startswith("not timestamped")
    assert [(a.action, a.digital_source_type) for a in c.actions] == [("c2pa.created", TRAINED)]
    hint = next(h for h in meta.hints if h.field.startswith("C2PA action"))
    assert hint.text == TRAINED and hint.generator == "generative AI"
    record = json.loads(json.dumps(meta.to_record()))
    assert record["c2pa"]["validation_state"] == "Valid"
    assert record["generator_hints"][0]["text"] == TRAINED


def test_flipped_image_byte_fails_validation(signed):
    data, _, _ = signed
    c = read(flip_image_byte(data), trust="").c2pa
    assert c.present and not c.valid and c.validation_state == "Invalid"
    assert any(f.startswith("assertion.dataHash.mismatch") for f in c.failures)
    assert c.trust.startswith("content credentials FAILED validation")


def test_trust_list_decides_trusted_or_not(signed, tmp_path, monkeypatch):
    data, root, other = signed
    trusted = read(data, trust=root).c2pa
    assert trusted.validation_state == "Trusted" and "chains to the configured trust list" in trusted.trust
    untrusted = read(data, trust=other).c2pa
    assert untrusted.validation_state != "Trusted" and "NOT on the configured trust list" in untrusted.trust
    assert any("untrusted" in f for f in untrusted.failures)
    monkeypatch.setenv(metadata.ENV_C2PA_TRUST, str(root))  # the environment variable, as the CLI uses it
    assert read(data).c2pa.validation_state == "Trusted"
    missing = read(data, trust=tmp_path / "nope.pem").c2pa
    assert missing.error.startswith(UNREADABLE + "C2PA: trust list")


def test_corrupt_c2pa_segment_is_unreadable_not_absent(signed):
    data, _, _ = signed
    start = data.find(b"\xff\xeb")  # APP11: JUMBF
    bad = bytearray(data)
    bad[start + 30:start + 400] = b"A" * 370
    meta = read(bytes(bad), trust="")
    assert meta.c2pa.error and meta.c2pa.error.startswith(UNREADABLE + "C2PA")
    rgb, info = load_image(bytes(bad), name="corrupt-c2pa.jpg")  # the pixels still load
    assert rgb.size == (160, 120) and info.metadata.c2pa.error


def test_no_c2pa_says_absent():
    meta = read(save(picture(), "PNG"))
    assert not meta.c2pa.present and meta.c2pa.error is None
    assert meta.c2pa.summary().startswith("No content credentials")



def test_cli_c2pa_trust_option(signed, tiny_model_dir, tmp_path):
    from forensics import cli

    data, root, _ = signed
    (tmp_path / "signed.jpg").write_bytes(data)
    out = tmp_path / "out"
    assert cli.main(["analyze", str(tmp_path / "signed.jpg"), "--out", str(out), "--model", str(tiny_model_dir),
                     "--format", "json", "--c2pa-trust", str(root)]) == 0
    c = json.loads((out / "signed.json").read_text(encoding="utf-8"))["metadata"]["c2pa"]
    assert c["validation_state"] == "Trusted" and c["trust_list"] == root.name
    with pytest.raises(SystemExit):
        cli.main(["analyze", str(tmp_path), "--out", str(out), "--demo", "--c2pa-trust", str(tmp_path / "signed.jpg")])
