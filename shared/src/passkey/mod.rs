//! Passkeys (WebAuthn, with webauthn-rs): registering one to a signed-in account, signing in
//! with one (for an email, or discoverable: usernameless and autofill), and the account's
//! list of them. The settings are read in every function; the rest is built only into the
//! `passkey` function.
//!
//! - `ceremony`: the relying party, and each ceremony's state kept between options and
//!   verification, found by the challenge the browser signed, used once.
//! - `credential`: the stored passkeys, their counters, and who owns a credential id.
//!
//! Options for an email without passkeys (or without an account) name decoy credentials
//! derived from the email by a keyed hash, the same on every ask, so the answer does not
//! tell who has an account; nothing can finish such a ceremony.

pub mod settings;

#[cfg(feature = "passkey")]
pub mod ceremony;
#[cfg(feature = "passkey")]
pub mod credential;

#[cfg(feature = "passkey")]
pub use flows::*;

#[cfg(feature = "passkey")]
mod flows {
    use serde_json::{Value, json};
    use webauthn_rs::prelude::{
        Passkey, PublicKeyCredential, RegisterPublicKeyCredential, WebauthnError,
    };

    use super::ceremony::{self, CEREMONY_INVALID, CREDENTIAL_MALFORMED, State};
    use super::credential::{self, Credential, CredentialId};
    use crate::events::Event;
    use crate::identity::identifier::Identifier;
    use crate::identity::user::{self, PasskeyCount, SignInMethod, User, UserChange, UserField};
    use crate::session::refresh_family::{self, Account, Device, SignedIn};
    use crate::store::{Step, TransactError, Transaction};
    use crate::{AuthError, Context};

    /// The account has `PASSKEY_MAX_CREDENTIALS` passkeys already.
    pub const PASSKEY_LIMIT: AuthError = AuthError::Conflict {
        code: "passkey_limit",
        detail: "This account has as many passkeys as it may. Delete one first.",
    };

    /// The credential is registered already, to this account or another.
    pub const PASSKEY_TAKEN: AuthError = AuthError::Conflict {
        code: "passkey_taken",
        detail: "This passkey is registered already.",
    };

    /// Deleting this passkey would leave the account no way in.
    pub const LAST_WAY_IN: AuthError = AuthError::Conflict {
        code: "last_way_in",
        detail: "This passkey is the account's only way in. Add another way to sign in first.",
    };

    /// A registration the relying party refuses (origin, RP id, user verification...).
    pub const REGISTRATION_REFUSED: AuthError = AuthError::BadRequest {
        code: "passkey_invalid",
        detail: "The passkey could not be verified.",
    };

    /// A sign-in with a passkey that is not valid for this account (or for any).
    pub const SIGN_IN_REFUSED: AuthError = AuthError::Unauthorized {
        code: "authentication_failed",
        detail: "The passkey could not be verified.",
    };

    /// No passkey of the caller's has this id.
    pub const NOT_FOUND: AuthError = AuthError::NotFound;

    /// Characters of a passkey's name.
    pub const NAME_LIMIT: usize = 64;

    fn malformed<T>(_: T) -> AuthError {
        CREDENTIAL_MALFORMED
    }

    /// Options to register a passkey to `user`'s account (its passkeys excluded), as
    /// `navigator.credentials.create` takes them: `{"publicKey": ...}`.
    pub async fn register_options(ctx: &Context, user: &User) -> Result<Value, AuthError> {
        let existing = credential::of(ctx, &user.id).await?;
        if existing.len() >= ctx.settings.passkey.max_credentials as usize {
            return Err(PASSKEY_LIMIT);
        }
        let user_id =
            uuid::Uuid::parse_str(&user.id).map_err(|e| AuthError::unavailable("user id", &e))?;
        let exclude = existing
            .iter()
            .map(|c| c.passkey.cred_id().clone())
            .collect();
        let display = user.name.as_deref().unwrap_or(user.known_as());
        let (options, state) = ceremony::relying_party(ctx)?
            .start_passkey_registration(user_id, user.known_as(), display, Some(exclude))
            .map_err(|e| AuthError::unavailable("passkey options", &e))?;
        let state = State::Register {
            user_id: user.id.clone(),
            state,
        };
        ceremony::keep(ctx, &options.public_key.challenge, &state).await?;
        let mut options = serde_json::to_value(options)
            .map_err(|e| AuthError::unavailable("passkey options", &e))?;
        // A discoverable credential, so that it can sign in without an email.
        let selection = &mut options["publicKey"]["authenticatorSelection"];
        selection["residentKey"] = json!("required");
        selection["requireResidentKey"] = json!(true);
        Ok(options)
    }

    /// Registers the browser's new credential (`toJSON()`) to `user`'s account.
    pub async fn register(
        ctx: &Context,
        user: User,
        credential: Value,
        name: Option<String>,
    ) -> Result<Credential, AuthError> {
        let credential: RegisterPublicKeyCredential =
            serde_json::from_value(credential).map_err(malformed)?;
        let State::Register { user_id, state } =
            ceremony::take(ctx, &credential.response.client_data_json).await?
        else {
            return Err(CEREMONY_INVALID);
        };
        // Another account's ceremony: a credential made for them is not registered here.
        if user_id != user.id {
            return Err(CEREMONY_INVALID);
        }
        let passkey =
            match ceremony::relying_party(ctx)?.finish_passkey_registration(&credential, &state) {
                Ok(passkey) => passkey,
                Err(e) => {
                    // One of the account's own, which its options excluded (webauthn-rs 0.6.2
                    // reports that as CredentialAlteredAlgFromRequest).
                    let own = credential::of(ctx, &user.id)
                        .await?
                        .iter()
                        .any(|c| c.passkey.cred_id().as_slice() == credential.raw_id.as_slice());
                    if own {
                        return Err(PASSKEY_TAKEN);
                    }
                    tracing::warn!(error = %e, "passkey registration refused");
                    return Err(REGISTRATION_REFUSED);
                }
            };
        let transports = credential
            .response
            .transports
            .iter()
            .flatten()
            .filter_map(|t| serde_json::to_value(t).ok()?.as_str().map(str::to_owned))
            .collect();
        let stored = Credential::new(
            &user.id,
            name.unwrap_or_else(|| "Passkey".into()),
            transports,
            passkey,
        );
        let mut user = user;
        let change = UserChange {
            set: vec![UserField::Method(SignInMethod::Passkey)],
            passkeys: PasskeyCount::Added {
                max: ctx.settings.passkey.max_credentials,
            },
            ..Default::default()
        };
        let steps = Transaction::new()
            .step(
                Step::Claim,
                user::claim(&CredentialId(stored.passkey.cred_id()), &user.id),
            )
            .step(Step::Credential, stored.create()?)
            .step(Step::UserChange, change.apply(&mut user));
        match ctx.store.transact(steps).await {
            Ok(()) => {
                let (user_id, passkey_id) = (user.id.as_str(), stored.id.as_str());
                ctx.events
                    .publish(Event::PasskeyRegistered {
                        user_id,
                        passkey_id,
                    })
                    .await;
                Ok(stored)
            }
            Err(TransactError::Refused(refused)) if refused.by(Step::Claim) => Err(PASSKEY_TAKEN),
            Err(TransactError::Refused(_)) => Err(PASSKEY_LIMIT),
            Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
        }
    }

    /// Options to sign in with a passkey, as `navigator.credentials.get` takes them: for an
    /// email, its passkeys (or decoys: see the module's opening); without one,
    /// discoverable, with `mediation: "conditional"` for autofill.
    pub async fn sign_in_options(
        ctx: &Context,
        email: Option<&Identifier>,
    ) -> Result<Value, AuthError> {
        let relying_party = ceremony::relying_party(ctx)?;
        let (options, state) = match email {
            None => {
                let (options, state) = relying_party
                    .start_discoverable_authentication()
                    .map_err(|e| AuthError::unavailable("passkey options", &e))?;
                (options, State::Discoverable { state })
            }
            Some(email) => {
                let (user_id, passkeys) = passkeys_for(ctx, email).await?;
                let passkeys = match passkeys.is_empty() {
                    true => decoys(ctx, email),
                    false => passkeys,
                };
                let (options, state) = relying_party
                    .start_passkey_authentication(&passkeys)
                    .map_err(|e| AuthError::unavailable("passkey options", &e))?;
                (options, State::Authenticate { user_id, state })
            }
        };
        ceremony::keep(ctx, &options.public_key.challenge, &state).await?;
        serde_json::to_value(options).map_err(|e| AuthError::unavailable("passkey options", &e))
    }

    /// The email's account and its passkeys: two reads whether or not it has an account,
    /// so the time taken tells nobody which.
    async fn passkeys_for(
        ctx: &Context,
        email: &Identifier,
    ) -> Result<(Option<String>, Vec<Passkey>), AuthError> {
        let user_id = user::owner(ctx, email).await?;
        let credentials = credential::of(ctx, user_id.as_deref().unwrap_or(user::NOBODY)).await?;
        let passkeys = credentials.into_iter().map(|c| c.passkey).collect();
        Ok((user_id, passkeys))
    }

    /// One to three stand-in passkeys for an email that has none: credential ids from a
    /// keyed hash of the email, so they are the same on every ask and nobody else's.
    fn decoys(ctx: &Context, email: &Identifier) -> Vec<Passkey> {
        let seed = ctx.keyed_hash(&format!("passkey decoy\n{}", email.key()));
        let count = match u8::from_str_radix(&seed[..2], 16).unwrap_or(0) {
            0..=153 => 1,
            154..=229 => 2,
            _ => 3,
        };
        (0..count)
            .filter_map(|i| {
                let id = ctx.keyed_hash(&format!("passkey decoy {i}\n{}", email.key()));
                decoy(&id[..32])
            })
            .collect()
    }

    /// A passkey of this credential id (hex) and a public key nobody holds.
    fn decoy(id_hex: &str) -> Option<Passkey> {
        let id: Vec<u8> = (0..id_hex.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(id_hex.get(i..i + 2)?, 16).ok())
            .collect();
        serde_json::from_value(json!({
            "cred": {
                "cred_id": base64_url(&id),
                "cred": {
                    "type_": "ES256",
                    "key": {"EC_EC2": {"curve": "SECP256R1", "x": vec![1u8; 32], "y": vec![2u8; 32]}}
                },
                "counter": 0,
                // As for a real passkey with "none" attestation: webauthn-rs keeps
                // transports only from an attestation it trusts.
                "transports": null,
                "user_verified": true,
                "backup_eligible": true,
                "backup_state": true,
                "registration_policy": "required",
                "extensions": {
                    "cred_protect": "NotRequested",
                    "hmac_create_secret": "NotRequested",
                    "appid": "NotRequested",
                    "cred_props": "Ignored"
                },
                "attestation": {"data": "None", "metadata": "None"},
                "attestation_format": "none"
            }
        }))
        .ok()
    }

    fn base64_url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Signs in with the browser's assertion (`toJSON()`): a new session of the passkey's
    /// account, from `device`.
    pub async fn sign_in(
        ctx: &Context,
        assertion: Value,
        device: &Device,
    ) -> Result<SignedIn, AuthError> {
        let assertion: PublicKeyCredential =
            serde_json::from_value(assertion).map_err(malformed)?;
        let state = ceremony::take(ctx, &assertion.response.client_data_json).await?;
        let relying_party = ceremony::relying_party(ctx)?;
        // Whose passkey: the ceremony's account, or (discoverable) the one the
        // authenticator names, which must own the credential.
        let user_id = match &state {
            // An email without passkeys (decoys) reads the passkeys of nobody, as many
            // reads as a real account's, and finds none: the time tells nobody which.
            State::Authenticate { user_id, .. } => {
                user_id.clone().unwrap_or_else(|| user::NOBODY.to_owned())
            }
            State::Discoverable { .. } => {
                let (user_id, _) = relying_party
                    .identify_discoverable_authentication(&assertion)
                    .map_err(|_| SIGN_IN_REFUSED)?;
                user_id.to_string()
            }
            State::Register { .. } => return Err(CEREMONY_INVALID),
        };
        let stored = credential::of(ctx, &user_id)
            .await?
            .into_iter()
            .find(|c| c.passkey.cred_id().as_slice() == assertion.get_credential_id())
            .ok_or(SIGN_IN_REFUSED)?;
        let verified =
            match state {
                State::Authenticate { state, .. } => {
                    relying_party.finish_passkey_authentication(&assertion, &state)
                }
                State::Discoverable { state } => relying_party
                    .finish_discoverable_authentication_v2(&assertion, state, &stored.passkey),
                State::Register { .. } => return Err(CEREMONY_INVALID),
            };
        let result = verified.map_err(|e| {
            if matches!(e, WebauthnError::CredentialPossibleCompromise) {
                tracing::warn!(
                    user_id = %user_id,
                    credential = %stored.id,
                    "passkey counter went backwards: a cloned authenticator?"
                );
            } else {
                tracing::info!(error = %e, "passkey sign-in refused");
            }
            SIGN_IN_REFUSED
        })?;
        let user = user::get(ctx, &user_id).await?.ok_or(SIGN_IN_REFUSED)?;
        let (_, used) = stored.used(&result)?;
        let steps = Transaction::new().step(Step::Credential, used);
        let change = UserChange {
            set: vec![UserField::Method(SignInMethod::Passkey)],
            ..Default::default()
        };
        let method = SignInMethod::Passkey;
        match refresh_family::sign_in(ctx, user, steps, Account::Existing(change), method, device)
            .await
        {
            Ok(signed_in) => Ok(signed_in),
            // The counter moved meanwhile: another sign-in with this counter value won.
            Err(TransactError::Refused(refused)) if refused.by(Step::Credential) => {
                Err(SIGN_IN_REFUSED)
            }
            Err(TransactError::Refused(_)) => Err(user::CHANGED_MEANWHILE),
            Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
        }
    }

    /// The caller's passkeys: `{count, credentials}`.
    pub async fn list(ctx: &Context, user: &User) -> Result<Value, AuthError> {
        let credentials = credential::of(ctx, &user.id).await?;
        Ok(json!({
            "count": credentials.len(),
            "credentials": credentials.iter().map(Credential::view).collect::<Vec<_>>(),
        }))
    }

    /// Renames the caller's passkey `id`.
    pub async fn rename(
        ctx: &Context,
        user: &User,
        id: &str,
        name: &str,
    ) -> Result<Value, AuthError> {
        let id = uuid::Uuid::parse_str(id)
            .map_err(|_| NOT_FOUND)?
            .to_string();
        if !credential::rename(ctx, &user.id, &id, name).await? {
            return Err(NOT_FOUND);
        }
        credential::of(ctx, &user.id)
            .await?
            .iter()
            .find(|c| c.id == id)
            .map(Credential::view)
            .ok_or(NOT_FOUND)
    }

    /// Deletes the caller's passkey `id`, unless it is the account's last way in.
    pub async fn delete(ctx: &Context, user: User, id: &str) -> Result<(), AuthError> {
        let credentials = credential::of(ctx, &user.id).await?;
        let found = credentials.iter().find(|c| c.id == id).ok_or(NOT_FOUND)?;
        if credentials.len() == 1 && !user.has_way_in_besides_passkeys() {
            return Err(LAST_WAY_IN);
        }
        let mut user = user;
        let change = UserChange {
            passkeys: PasskeyCount::Removed,
            ..Default::default()
        };
        let steps = Transaction::new()
            .step(Step::Credential, found.remove())
            .step(
                Step::Release,
                user::release(&CredentialId(found.passkey.cred_id()), &user.id),
            )
            .step(Step::UserChange, change.apply(&mut user));
        match ctx.store.transact(steps).await {
            Ok(()) => {
                let (user_id, passkey_id) = (user.id.as_str(), id);
                ctx.events
                    .publish(Event::PasskeyRemoved {
                        user_id,
                        passkey_id,
                    })
                    .await;
                Ok(())
            }
            Err(TransactError::Refused(refused)) if refused.by(Step::Credential) => Err(NOT_FOUND),
            // Another passkey went meanwhile, and this one is now the last way in.
            Err(TransactError::Refused(_)) => Err(user::CHANGED_MEANWHILE),
            Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
        }
    }
}
