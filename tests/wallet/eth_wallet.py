"""A real Ethereum wallet for the tests: eth-account signs, siwe builds EIP-4361 messages.

    python eth_wallet.py vectors > vectors.json   # the committed test vectors
    python eth_wallet.py sign LABEL < message      # prints the EIP-191 signature of stdin

Keys are not secrets: each is the Keccak-256 of a public label, so the Rust tests derive
the same keys ("blockauth test wallet 1", ...).
"""

import json
import sys

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from siwe import SiweMessage

# The order of secp256k1's group: s above N/2 is a malleated ("high-s") signature.
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def key(label):
    return keccak(text=label)


def sign(label, message):
    signed = Account.sign_message(encode_defunct(text=message), key(label))
    return "0x" + bytes(signed.signature).hex()


def high_s(signature):
    raw = bytes.fromhex(signature[2:])
    r, s, v = raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]
    flipped = (N - s).to_bytes(32, "big")
    return "0x" + (r + flipped + bytes([55 - v])).hex()  # 27 <-> 28


def zero_one_v(signature):
    raw = bytes.fromhex(signature[2:])
    return "0x" + (raw[:64] + bytes([raw[64] - 27])).hex()


def messages(address):
    base = dict(
        domain="localhost:3000",
        address=address,
        uri="http://localhost:3000",
        version="1",
        chain_id=1,
        nonce="Fixture0Nonce123",
        issued_at="2026-11-24T10:00:00Z",
    )
    yield "siwe, no statement", SiweMessage(**base).prepare_message()
    yield "siwe, statement", SiweMessage(
        **base, statement="Sign in to BlockAuth."
    ).prepare_message()
    full = SiweMessage(
        **{**base, "domain": "app.example.com", "uri": "https://app.example.com/login"},
        scheme="https",
        statement="I accept the Terms: https://app.example.com/tos",
        expiration_time="2026-11-24T10:05:00.000Z",
        not_before="2026-11-24T09:59:00Z",
        request_id="req-7",
        resources=["https://app.example.com/a", "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"],
    ).prepare_message()
    yield "siwe, every field", full
    yield "siwe, CRLF", full.replace("\n", "\r\n")
    yield "plain text", "hello, world"


def vectors():
    out = []
    for n in (1, 2, 3):
        label = f"blockauth test wallet {n}"
        address = Account.from_key(key(label)).address
        for kind, message in messages(address):
            signature = sign(label, message)
            out.append(
                {
                    "label": label,
                    "kind": kind,
                    "address": address,
                    "message": message,
                    "signature": signature,
                    "signature_v01": zero_one_v(signature),
                    "signature_high_s": high_s(signature),
                }
            )
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["vectors"]:
        json.dump(vectors(), sys.stdout, indent=1)
        print()
    elif len(sys.argv) == 3 and sys.argv[1] == "sign":
        print(sign(sys.argv[2], sys.stdin.read()))
    else:
        sys.exit(__doc__)
