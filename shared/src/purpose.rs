//! What a one-time code is for. A leaf module: codes, messages and settings all name it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Signup,
    Login,
    PasswordReset,
    EmailChange,
    WalletEmail,
}

impl Purpose {
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Signup => "signup",
            Purpose::Login => "login",
            Purpose::PasswordReset => "password_reset",
            Purpose::EmailChange => "email_change",
            Purpose::WalletEmail => "wallet_email",
        }
    }
}
