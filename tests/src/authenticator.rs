//! A software passkey authenticator for the HTTP tests: it answers the API's options as a
//! browser with a platform authenticator would (`PublicKeyCredential.toJSON()`), with a
//! P-256 key (aws-lc-rs), "none" attestation, and a signature counter the test controls.
//! The browser tests use Chromium's own virtual authenticator; this one lets a test forge
//! what a browser would never send (another origin, another RP id, a counter going back).

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// One passkey on the authenticator.
pub struct Authenticator {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    /// The user handle it was made for (the account's id, as options give it).
    pub user_handle: Vec<u8>,
    /// The signature counter it reports next (0: a synced passkey that never counts).
    pub counter: u32,
    /// Where the browser says it runs (`clientDataJSON`'s origin).
    pub origin: String,
    /// The RP id it signs for (its hash opens `authenticatorData`).
    pub rp_id: String,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .expect("base64url")
}

/// CBOR (RFC 8949) of the few shapes attestation objects use.
enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(&'static str),
    Map(Vec<(Cbor, Cbor)>),
}

impl Cbor {
    fn encode(&self, out: &mut Vec<u8>) {
        fn head(out: &mut Vec<u8>, major: u8, n: u64) {
            let major = major << 5;
            match n {
                0..=23 => out.push(major | n as u8),
                24..=0xff => out.extend([major | 24, n as u8]),
                _ => {
                    out.push(major | 25);
                    out.extend((n as u16).to_be_bytes());
                }
            }
        }
        match self {
            Cbor::Int(n) if *n >= 0 => head(out, 0, *n as u64),
            Cbor::Int(n) => head(out, 1, (-1 - *n) as u64),
            Cbor::Bytes(b) => {
                head(out, 2, b.len() as u64);
                out.extend(b);
            }
            Cbor::Text(t) => {
                head(out, 3, t.len() as u64);
                out.extend(t.as_bytes());
            }
            Cbor::Map(entries) => {
                head(out, 5, entries.len() as u64);
                for (k, v) in entries {
                    k.encode(out);
                    v.encode(out);
                }
            }
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

// authenticatorData flags: user present, user verified, backup eligible and state,
// attested credential data.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

impl Authenticator {
    /// Makes a passkey for the API's registration `options` (`{"publicKey": ...}`) at
    /// `origin`; returns it and the credential to post (`toJSON()`).
    pub fn create(options: &Value, origin: &str) -> (Authenticator, Value) {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"].as_str().expect("rp.id").to_owned();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .expect("a key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
            .expect("the key");
        let credential_id: Vec<u8> = digest(&SHA256, pkcs8.as_ref()).as_ref()[..16].to_vec();
        let mut authenticator = Authenticator {
            key,
            credential_id,
            user_handle: unb64(public_key["user"]["id"].as_str().expect("user.id")),
            counter: 0,
            origin: origin.to_owned(),
            rp_id,
        };
        let credential = authenticator.attest(public_key["challenge"].as_str().expect("challenge"));
        (authenticator, credential)
    }

    /// The registration credential for `challenge` (base64url), as a browser posts it.
    pub fn attest(&mut self, challenge: &str) -> Value {
        let client_data = self.client_data("webauthn.create", challenge);
        let point = self.key.public_key().as_ref(); // 0x04 || x || y
        let cose_key = Cbor::Map(vec![
            (Cbor::Int(1), Cbor::Int(2)),  // kty: EC2
            (Cbor::Int(3), Cbor::Int(-7)), // alg: ES256
            (Cbor::Int(-1), Cbor::Int(1)), // crv: P-256
            (Cbor::Int(-2), Cbor::Bytes(point[1..33].to_vec())),
            (Cbor::Int(-3), Cbor::Bytes(point[33..65].to_vec())),
        ])
        .bytes();
        let mut auth_data = self.auth_data(UP | UV | BE | BS | AT);
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(cose_key);
        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt"), Cbor::Text("none")),
            (Cbor::Text("attStmt"), Cbor::Map(Vec::new())),
            (Cbor::Text("authData"), Cbor::Bytes(auth_data.clone())),
        ])
        .bytes();
        self.credential(json!({
            "clientDataJSON": b64(client_data.as_bytes()),
            "attestationObject": b64(&attestation),
            "transports": ["internal", "hybrid"],
        }))
    }

    /// Signs in for the API's sign-in `options`, as a browser posts the assertion.
    pub fn assert(&mut self, options: &Value) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("challenge");
        let client_data = self.client_data("webauthn.get", challenge);
        let auth_data = self.auth_data(UP | UV | BE | BS);
        let mut signed = auth_data.clone();
        signed.extend(digest(&SHA256, client_data.as_bytes()).as_ref());
        let signature = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .expect("a signature");
        self.credential(json!({
            "clientDataJSON": b64(client_data.as_bytes()),
            "authenticatorData": b64(&auth_data),
            "signature": b64(signature.as_ref()),
            "userHandle": b64(&self.user_handle),
        }))
    }

    /// `clientDataJSON` as the browser writes it for a ceremony of `kind`.
    fn client_data(&self, kind: &str, challenge: &str) -> String {
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
    }

    /// The credential with `response`, as `PublicKeyCredential.toJSON()` gives it.
    fn credential(&self, response: Value) -> Value {
        let id = b64(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }

    /// rpIdHash, flags, and the counter (which then moves on, unless it is 0).
    fn auth_data(&mut self, flags: u8) -> Vec<u8> {
        let mut data = digest(&SHA256, self.rp_id.as_bytes()).as_ref().to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        if self.counter > 0 {
            self.counter += 1;
        }
        data
    }
}
