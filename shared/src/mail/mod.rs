//! Where messages go: SES v2 for mail and SNS for SMS in AWS, or the local outbox, which
//! writes each message as a file and prints one line naming the recipient (like Django's
//! file and console mail backends).

pub mod delivery;
pub mod messages;
pub mod settings;
pub mod templates;

use crate::error::AuthError;
use crate::identity::identifier::Identifier;
use crate::purpose::Purpose;

/// One message, in every form a channel may need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The short form for SMS.
    pub sms: String,
    /// The code it carries, shown on the local console only (and given to your delivery).
    pub code: Option<String>,
    /// Which template it was made from.
    pub kind: templates::Kind,
    /// What the code it carries, or the request it answers, is for.
    pub purpose: Option<Purpose>,
}

impl Message {
    fn about(mut self, purpose: Purpose) -> Self {
        self.purpose = Some(purpose);
        self
    }
}

pub enum Mailer {
    /// A function that sends nothing (built without the `mail` capability): a message sent
    /// anyway is a defect, answered 503 and logged.
    Disabled,
    #[cfg(feature = "mail")]
    Aws {
        ses: aws_sdk_sesv2::Client,
        sns: aws_sdk_sns::Client,
        from: String,
        /// `SES_CONFIGURATION_SET`: the set every mail names (suppression of addresses that
        /// bounced or complained), if any.
        configuration_set: Option<String>,
    },
    /// Your own delivery (`DELIVERY`): a Lambda function, an SQS queue or a webhook.
    Courier(Box<delivery::Courier>),
    #[cfg(feature = "local")]
    Outbox(Outbox),
}

impl Mailer {
    /// Sends `message` to `to`: an email by mail, a phone number by SMS.
    pub async fn send(&self, to: &Identifier, message: &Message) -> Result<(), AuthError> {
        match self {
            Mailer::Disabled => {
                let _ = (to, message);
                Err(AuthError::unavailable(
                    "mail",
                    &"this function was built without the mail capability",
                ))
            }
            #[cfg(feature = "mail")]
            Mailer::Aws {
                ses,
                sns,
                from,
                configuration_set,
            } => match to {
                Identifier::Email(address) => {
                    send_mail(ses, from, configuration_set.as_deref(), address, message).await
                }
                Identifier::Phone(number) => send_sms(sns, number, message).await,
            },
            Mailer::Courier(courier) => courier.send(to, message).await,
            #[cfg(feature = "local")]
            Mailer::Outbox(outbox) => outbox.write(to, message),
        }
    }
}

#[cfg(feature = "mail")]
async fn send_mail(
    ses: &aws_sdk_sesv2::Client,
    from: &str,
    configuration_set: Option<&str>,
    to: &str,
    message: &Message,
) -> Result<(), AuthError> {
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as SesMessage};
    let content = |text: &str| {
        Content::builder()
            .data(text)
            .charset("UTF-8")
            .build()
            .map_err(|e| AuthError::unavailable("ses request", &e))
    };
    let body = Body::builder()
        .text(content(&message.text)?)
        .html(content(&message.html)?)
        .build();
    let simple = SesMessage::builder()
        .subject(content(&message.subject)?)
        .body(body)
        .build();
    ses.send_email()
        .from_email_address(from)
        .set_configuration_set_name(configuration_set.map(str::to_owned))
        .destination(Destination::builder().to_addresses(to).build())
        .content(EmailContent::builder().simple(simple).build())
        .send()
        .await
        .map_err(|e| {
            AuthError::unavailable("ses", &aws_sdk_sesv2::error::DisplayErrorContext(e))
        })?;
    Ok(())
}

#[cfg(feature = "mail")]
async fn send_sms(
    sns: &aws_sdk_sns::Client,
    number: &str,
    message: &Message,
) -> Result<(), AuthError> {
    sns.publish()
        .phone_number(number)
        .message(&message.sms)
        .send()
        .await
        .map_err(|e| AuthError::unavailable("sns", &aws_sdk_sns::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// The local outbox: one `.eml` (or `.sms.txt`) file per message in a folder.
#[cfg(feature = "local")]
pub struct Outbox {
    pub dir: std::path::PathBuf,
    pub from: String,
    /// Print a console line per message.
    pub announce: bool,
}

#[cfg(feature = "local")]
impl Outbox {
    fn write(&self, to: &Identifier, message: &Message) -> Result<(), AuthError> {
        // Nanoseconds first, so that the files sort in the order they were written.
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (name, content) = match to {
            Identifier::Email(address) => (
                format!("{stamp:020}-{id}.eml"),
                eml(&self.from, address, message, &id),
            ),
            Identifier::Phone(number) => (
                format!("{stamp:020}-{id}.sms.txt"),
                format!("To: {number}\n\n{}\n", message.sms),
            ),
        };
        let path = self.dir.join(name);
        std::fs::create_dir_all(&self.dir)
            .and_then(|_| std::fs::write(&path, content))
            .map_err(|e| AuthError::unavailable("outbox", &e))?;
        if self.announce {
            let code = message
                .code
                .as_ref()
                .map(|c| format!(" code {c} |"))
                .unwrap_or_default();
            println!(
                "outbox | to {to} | {} |{code} {}",
                message.subject,
                path.display()
            );
        }
        Ok(())
    }
}

/// A minimal MIME message with text and HTML alternatives.
#[cfg(feature = "local")]
fn eml(from: &str, to: &str, message: &Message, boundary: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n\
         --{boundary}--\r\n",
        subject = message.subject,
        text = message.text,
        html = message.html,
    )
}
