//! A new parcel as a shipper sends it, checked: [`NewParcel::check`] turns a
//! [`CreateParcelRequest`] into a value the store accepts, or says what is wrong, before any
//! SQL runs. Pure: no clock, no randomness, no I/O.

use doorstep_protocol::Barcode;
use doorstep_protocol::CourierId;
use doorstep_protocol::wire::{CreateParcelRequest, DeliveryMethod, Location};
use sha2::{Digest, Sha256};

use crate::domain::messages::Lang;
use crate::domain::policy::{ParcelFacts, parse_amount};
use crate::domain::zone::is_date;

/// A parcel whose every field was checked: what the store creates.
#[derive(Debug, Clone)]
pub struct NewParcel {
    /// The label as the shipper sent it (trimmed).
    pub barcode_raw: String,
    /// What a scan of the label resolves to ([`Barcode::key`]).
    pub barcode_key: String,
    /// The recipient's name (trimmed, 1 to 200 characters).
    pub name: String,
    /// Their mobile number in E.164 form.
    pub phone: Option<String>,
    /// Their email address.
    pub email: Option<String>,
    /// The language their messages and page are in.
    pub language: Option<Lang>,
    /// The address (trimmed, 1 to 500 characters).
    pub address: String,
    /// The postal code (trimmed).
    pub postal_code: String,
    /// Where the address is, if the shipper knows.
    pub location: Option<Location>,
    /// What the parcel holds, as the shipper describes it.
    pub description: Option<String>,
    /// The declared value in minor units, and its currency (upper case).
    pub value: Option<(i64, String)>,
    /// How the shipper wants it handed over.
    pub method: DeliveryMethod,
    /// Other methods the shipper allows.
    pub alternatives: Vec<DeliveryMethod>,
    /// The shipper's safe places (trimmed, empty ones dropped).
    pub safe_places: Vec<String>,
    /// The delivery day, `YYYY-MM-DD`.
    pub delivery_date: String,
    /// Age-restricted goods.
    pub age_restricted: bool,
    /// The recipient asked for a code.
    pub recipient_requested_code: bool,
    /// The shipper asked for a code.
    pub shipper_requires_code: bool,
    /// The courier whose route it is on, if assigned.
    pub courier_id: Option<CourierId>,
    /// Delivery days later the customer may move the delivery by (0 to 7).
    pub reschedule_days: u8,
}

/// Delivery days a customer may move a parcel by when the shipper does not say.
pub const DEFAULT_RESCHEDULE_DAYS: u8 = 5;

impl NewParcel {
    /// Checks every field of `req`; the error says which field and what it must be.
    pub fn check(req: &CreateParcelRequest) -> Result<Self, String> {
        let barcode_key = Barcode::parse(&req.barcode)
            .map_err(|e| format!("barcode: {e}"))?
            .key();
        let name = req.recipient.name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err("recipient.name must have 1 to 200 characters".into());
        }
        if req.address.trim().is_empty() || req.address.len() > 500 {
            return Err("address must have 1 to 500 characters".into());
        }
        if req.postal_code.len() > 20 {
            return Err("postal_code is too long".into());
        }
        if req.description.as_ref().is_some_and(|d| d.len() > 200) {
            return Err("description is too long".into());
        }
        let value = req.declared_value.as_ref().map(money).transpose()?;
        if req.alternatives.len() > 4 {
            return Err("alternatives may name each of the 4 methods once".into());
        }
        let safe_places: Vec<String> = req
            .safe_places
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if req.safe_places.len() > 10 || safe_places.iter().any(|p| p.chars().count() > 100) {
            return Err("safe_places may hold up to 10 places of up to 100 characters".into());
        }
        let language = req.recipient.language.as_deref().map(str::trim);
        let language = match language.filter(|l| !l.is_empty()) {
            None => None,
            Some(l) if is_language_tag(l) => Some(Lang::for_tag(l)),
            Some(_) => {
                return Err("recipient.language must be a language tag like es or es-MX".into());
            }
        };
        let reschedule_days = req.reschedule_days.unwrap_or(DEFAULT_RESCHEDULE_DAYS);
        if reschedule_days > crate::domain::customer::MAX_RESCHEDULE_DAYS {
            return Err("reschedule_days must be 0 to 7 delivery days".into());
        }
        if !is_date(&req.delivery_date) {
            return Err("delivery_date must be YYYY-MM-DD".into());
        }
        let phone = trimmed(req.recipient.phone.as_deref());
        if phone.as_deref().is_some_and(|p| !is_e164(p)) {
            return Err(
                "recipient.phone must be a mobile number in E.164 form, like +31612345678".into(),
            );
        }
        let email = trimmed(req.recipient.email.as_deref());
        if email.as_deref().is_some_and(|e| !is_email(e)) {
            return Err("recipient.email is not a valid email address".into());
        }
        Ok(Self {
            barcode_raw: req.barcode.trim().to_string(),
            barcode_key,
            name: name.to_string(),
            phone,
            email,
            language,
            address: req.address.trim().to_string(),
            postal_code: req.postal_code.trim().to_string(),
            location: req.location,
            description: req.description.clone(),
            value,
            method: req.method,
            alternatives: req.alternatives.clone(),
            safe_places,
            delivery_date: req.delivery_date.clone(),
            age_restricted: req.age_restricted,
            recipient_requested_code: req.recipient_requested_code,
            shipper_requires_code: req.shipper_requires_code,
            courier_id: req.courier_id,
            reschedule_days,
        })
    }

    /// What the policy decides on.
    pub fn facts(&self) -> ParcelFacts<'_> {
        ParcelFacts {
            declared_value_minor: self.value.as_ref().map(|(v, _)| *v),
            currency: self.value.as_ref().map(|(_, c)| c.as_str()),
            method: self.method,
            postal_code: &self.postal_code,
            location: self.location.map(|l| (l.lat, l.lon)),
            age_restricted: self.age_restricted,
            recipient_opt_in: self.recipient_requested_code,
            shipper_requires_code: self.shipper_requires_code,
            alternatives: &self.alternatives,
        }
    }

    /// The key that groups parcels into one stop: the same recipient at the same address for
    /// the same shipper (so a stop — one code, one attempt counter, one customer page — never
    /// mixes two shippers' parcels). Hex SHA-256, case-insensitive where people are.
    pub fn recipient_key(&self, shipper_id: &str) -> String {
        let text = format!(
            "{}\0{}\0{}\0{}\0{}\0{}",
            shipper_id,
            self.name.to_lowercase(),
            self.phone.as_deref().unwrap_or(""),
            self.email.as_deref().unwrap_or("").to_lowercase(),
            self.address.to_lowercase(),
            self.postal_code.to_lowercase()
        );
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

/// A declared value: an ISO 4217 currency and a decimal amount, in minor units.
fn money(m: &doorstep_protocol::wire::Money) -> Result<(i64, String), String> {
    if m.currency.len() != 3 || !m.currency.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err("declared_value.currency must be an ISO 4217 code".into());
    }
    let minor = parse_amount(&m.amount)
        .ok_or_else(|| "declared_value.amount must be a decimal like 612.00".to_string())?;
    Ok((minor, m.currency.to_ascii_uppercase()))
}

fn trimmed(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(String::from)
}

/// A BCP 47-shaped tag: letters, digits, `-` and `_`, at most 35 characters.
fn is_language_tag(l: &str) -> bool {
    l.len() <= 35
        && l.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A phone number in E.164 form: `+`, a country code not starting with 0, 7 to 15 digits.
fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// An email address the SMTP client can send to (RFC 5321 syntax, as `lettre` parses it),
/// with a dot in the domain (no local-only addresses for customers).
fn is_email(s: &str) -> bool {
    s.len() <= 254
        && s.parse::<lettre::Address>()
            .is_ok_and(|a| a.domain().contains('.') && !a.domain().ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CreateParcelRequest {
        serde_json::from_value(serde_json::json!({
            "barcode": "(00)095212342611250016",
            "recipient": { "name": " Ada Lovelace ", "phone": "+31612345678", "email": "ada@example.com" },
            "address": "Keizersgracht 1, Amsterdam",
            "postal_code": "1015",
            "declared_value": { "amount": "612.00", "currency": "eur" },
            "method": "hand_to_recipient",
            "delivery_date": "2026-12-07",
        }))
        .unwrap()
    }

    #[test]
    fn a_good_request_becomes_a_parcel_with_its_fields_trimmed_and_its_value_in_cents() {
        let p = NewParcel::check(&request()).unwrap();
        assert_eq!(p.name, "Ada Lovelace");
        assert_eq!(p.barcode_key, "00095212342611250016");
        assert_eq!(p.value, Some((61_200, "EUR".to_string())));
    }

    /// A field's name and a change of the request that breaks it.
    type Breakage = (&'static str, Box<dyn Fn(&mut CreateParcelRequest)>);

    #[test]
    fn each_broken_field_is_named_in_the_refusal() {
        let cases: Vec<Breakage> = vec![
            (
                "barcode",
                Box::new(|r| r.barcode = "(00)095212342611250017".into()),
            ),
            (
                "recipient.name",
                Box::new(|r| r.recipient.name = "  ".into()),
            ),
            ("address", Box::new(|r| r.address = String::new())),
            ("postal_code", Box::new(|r| r.postal_code = "1".repeat(21))),
            (
                "declared_value.currency",
                Box::new(|r| r.declared_value.as_mut().unwrap().currency = "EURO".into()),
            ),
            (
                "declared_value.amount",
                Box::new(|r| r.declared_value.as_mut().unwrap().amount = "six".into()),
            ),
            (
                "recipient.phone",
                Box::new(|r| r.recipient.phone = Some("0612345678".into())),
            ),
            (
                "recipient.email",
                Box::new(|r| r.recipient.email = Some("ada@localhost".into())),
            ),
            (
                "recipient.language",
                Box::new(|r| r.recipient.language = Some("<es>".into())),
            ),
            (
                "delivery_date",
                Box::new(|r| r.delivery_date = "07-12-2026".into()),
            ),
            (
                "safe_places",
                Box::new(|r| r.safe_places = vec!["x".repeat(101)]),
            ),
        ];
        for (field, break_it) in cases {
            let mut req = request();
            break_it(&mut req);
            let err = NewParcel::check(&req).unwrap_err();
            assert!(err.starts_with(field), "{field}: {err}");
        }
    }

    #[test]
    fn the_same_recipient_of_another_shipper_is_another_stop() {
        let p = NewParcel::check(&request()).unwrap();
        assert_eq!(p.recipient_key("a"), p.recipient_key("a"));
        assert_ne!(p.recipient_key("a"), p.recipient_key("b"));
        let mut shouting = request();
        shouting.recipient.name = "ADA LOVELACE".into();
        assert_eq!(
            NewParcel::check(&shouting).unwrap().recipient_key("a"),
            p.recipient_key("a")
        );
    }
}
