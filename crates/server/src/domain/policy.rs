//! The code policy: declarative rules (TOML) that decide, per parcel, whether a delivery
//! code is needed and on what terms. Every decision carries its reasons.
//!
//! Rules only make things stricter: when several match, a code is required if any rule
//! requires one, offline handover is allowed only if no rule forbids it, photos (and every
//! step at the door: signature, open-box check, ID check) are required if any rule requires
//! them, a method is offered only if no rule forbids it, and the smallest attempt limit and
//! validity, the highest minimum age and the longest code win. So adding a rule can never
//! weaken another.
//!
//! The door steps are decided per method: the parcel's own method, each alternative the
//! shipper allows, and always "into the recipient's hands" are put to the rules in turn (so
//! `method_in` picks the rules of a method), and the courier may hand the parcel over only by
//! a method that comes out offered.
//!
//! ```toml
//! [defaults]
//! code_required = false
//! code_digits = 6          # random digits, 6 to 12; the check digit comes on top
//! max_attempts = 5         # per code, across all phones; 1 to 10
//! validity_days = 1        # 1 = until the end of the delivery day, at most 7
//! offline_allowed = true
//! photo_required = false
//! resend_min_interval_secs = 60
//! max_resends = 5
//!
//! [[rule]]
//! name = "high value"
//! when = { declared_value_at_least = "500.00" }
//! then = { code_required = true, photo_required = true }
//! ```

use doorstep_protocol::wire::{DeliveryMethod, DoorMethod};
use serde::{Deserialize, Serialize};

/// A policy file or policy value that breaks a rule; the message names the field and the
/// allowed range.
#[derive(Debug, thiserror::Error)]
#[error("policy: {0}")]
pub struct PolicyError(pub String);

/// The whole policy file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// What applies when no rule says otherwise.
    #[serde(default)]
    pub defaults: Defaults,
    /// The rules, in any order (they combine in the strict direction).
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

/// Defaults of the policy.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    /// Whether a code is needed when no rule asks for one.
    pub code_required: bool,
    /// Random digits of a code (6–12); the Damm check digit is added.
    pub code_digits: u8,
    /// Failed attempts before the stop locks (1–10).
    pub max_attempts: u32,
    /// Days the code stays valid, counting the delivery day (1–7).
    pub validity_days: u32,
    /// Whether a typed code may be recorded offline.
    pub offline_allowed: bool,
    /// Whether a proof photo is required.
    pub photo_required: bool,
    /// Seconds between two resends of a stop's code.
    pub resend_min_interval_secs: u32,
    /// Resends per stop.
    pub max_resends: u32,
    /// Whether the recipient signs on the screen.
    pub signature_required: bool,
    /// What follows a failed delivery: another attempt on the next delivery day, or back
    /// to the depot.
    pub on_failure: OnFailure,
    /// Failed attempts after which the parcel goes back to the depot (1–5).
    pub max_delivery_attempts: u32,
}

/// What follows a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// On the next day's manifest again (the customer is told when).
    Reattempt,
    /// Back to the depot at the end of the day.
    Return,
}

impl OnFailure {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Reattempt => "reattempt",
            OnFailure::Return => "return",
        }
    }
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            code_required: false,
            code_digits: 6,
            max_attempts: 5,
            validity_days: 1,
            offline_allowed: true,
            photo_required: false,
            resend_min_interval_secs: 60,
            max_resends: 5,
            signature_required: false,
            on_failure: OnFailure::Reattempt,
            max_delivery_attempts: 2,
        }
    }
}

/// One rule: when all conditions hold, the outcome applies.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name for people.
    pub name: String,
    /// Conditions (all must hold; an empty `when` always holds).
    #[serde(default)]
    pub when: Conditions,
    /// What the rule asks for.
    #[serde(default)]
    pub then: Outcome,
}

/// Conditions of a rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Declared value at least this (decimal, e.g. "500.00").
    pub declared_value_at_least: Option<String>,
    /// Only for this currency (ISO 4217), if set.
    pub currency: Option<String>,
    /// Delivery method is one of these.
    pub method_in: Option<Vec<DeliveryMethod>>,
    /// Postal code starts with one of these.
    pub postal_code_prefix_in: Option<Vec<String>>,
    /// The parcel's location lies within `radius_km` of a point.
    pub near: Option<Area>,
    /// Age-restricted goods.
    pub age_restricted: Option<bool>,
    /// The recipient asked for a code.
    pub recipient_opt_in: Option<bool>,
    /// The shipper asked for a code.
    pub shipper_requires_code: Option<bool>,
}

/// A circle on the map.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// Centre latitude, degrees.
    pub lat: f64,
    /// Centre longitude, degrees.
    pub lon: f64,
    /// Radius in kilometres.
    pub radius_km: f64,
}

/// Great-circle distance in km.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

/// What a rule asks for.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// Require a code.
    pub code_required: Option<bool>,
    /// Random digits of the code.
    pub code_digits: Option<u8>,
    /// Attempt limit.
    pub max_attempts: Option<u32>,
    /// Validity in days.
    pub validity_days: Option<u32>,
    /// Allow offline handover.
    pub offline_allowed: Option<bool>,
    /// Require a photo.
    pub photo_required: Option<bool>,
    /// Require the recipient's signature on the screen.
    pub signature_required: Option<bool>,
    /// Before the code, the customer opens the box and confirms the photographed contents.
    pub open_box_check: Option<bool>,
    /// The courier checks an ID of an accepted type.
    pub id_check: Option<bool>,
    /// The recipient must be at least this old (the courier checks an ID for it).
    pub minimum_age: Option<u8>,
    /// `false`: the parcel may not be handed over by the matched method.
    pub method_allowed: Option<bool>,
    /// `return`: a failed delivery sends the parcel back to the depot (no reattempt).
    pub on_failure: Option<OnFailure>,
}

/// What the policy is asked about.
#[derive(Debug, Clone)]
pub struct ParcelFacts<'a> {
    /// Declared value in minor units (cents).
    pub declared_value_minor: Option<i64>,
    /// Currency of the value.
    pub currency: Option<&'a str>,
    /// Delivery method.
    pub method: DeliveryMethod,
    /// Postal code.
    pub postal_code: &'a str,
    /// Latitude/longitude, if the shipper gave them.
    pub location: Option<(f64, f64)>,
    /// Age-restricted goods.
    pub age_restricted: bool,
    /// Recipient asked for a code.
    pub recipient_opt_in: bool,
    /// Shipper asked for a code.
    pub shipper_requires_code: bool,
    /// Other methods the shipper allows at the door.
    pub alternatives: &'a [DeliveryMethod],
}

/// The policy's decision for one parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether a code is needed.
    pub code_required: bool,
    /// Random digits of the code.
    pub code_digits: u8,
    /// Attempt limit.
    pub max_attempts: u32,
    /// Validity in days.
    pub validity_days: u32,
    /// Offline handover allowed.
    pub offline_allowed: bool,
    /// Photo required.
    pub photo_required: bool,
    /// The methods the parcel may be handed over by, the parcel's own first, each with its
    /// steps at the door.
    pub methods: Vec<DoorMethod>,
    /// What follows a failed delivery.
    pub on_failure: OnFailure,
    /// Failed attempts before the parcel goes back to the depot.
    pub max_delivery_attempts: u32,
    /// Why, in words.
    pub reasons: Vec<String>,
}

/// Parses "612.00", "612", "612.5" into minor units.
pub fn parse_amount(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 12 {
        return None;
    }
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = format!("{frac:0<2}");
    Some(whole.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?)
}

/// Formats minor units as "612.00".
pub fn format_amount(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn method_name(m: DeliveryMethod) -> &'static str {
    match m {
        DeliveryMethod::HandToRecipient => "hand to recipient",
        DeliveryMethod::Neighbour => "neighbour",
        DeliveryMethod::SafePlace => "safe place",
        DeliveryMethod::PickupPoint => "pickup point",
    }
}

impl Default for Policy {
    /// The built-in policy.
    fn default() -> Self {
        toml::from_str(DEFAULT_POLICY).expect("the built-in policy parses")
    }
}

/// Fewest random digits a code may have (NIST SP 800-63B); the check digit comes on top.
pub const MIN_CODE_DIGITS: u8 = 6;
/// Most random digits a code may have (a courier types them at the door).
pub const MAX_CODE_DIGITS: u8 = 12;
/// Highest attempt limit per code.
pub const MAX_ATTEMPTS: u32 = 10;
/// Longest validity of a code, days.
pub const MAX_VALIDITY_DAYS: u32 = 7;
/// Highest minimum age a rule may ask for.
pub const MAX_MINIMUM_AGE: u8 = 25;

/// The built-in policy, also a template for a policy file.
pub const DEFAULT_POLICY: &str = r#"
[defaults]
code_required = false
code_digits = 6          # random digits, 6 to 12; the Damm check digit comes on top
max_attempts = 5         # per code, across all phones; 1 to 10
validity_days = 1        # until the end of the delivery day (fleet time zone); 1 to 7
offline_allowed = true
photo_required = false
resend_min_interval_secs = 60
max_resends = 5
signature_required = false
on_failure = "reattempt"     # after a failed delivery: "reattempt" (next delivery day) or "return"
max_delivery_attempts = 2    # failed attempts before the parcel goes back to the depot; 1 to 5

[[rule]]
name = "valuable parcel"
when = { declared_value_at_least = "500.00" }
then = { code_required = true, photo_required = true }

[[rule]]
name = "very valuable parcel"
when = { declared_value_at_least = "1000.00" }
then = { code_required = true, offline_allowed = false, open_box_check = true, signature_required = true, on_failure = "return" }

[[rule]]
name = "age-restricted goods"
when = { age_restricted = true }
then = { code_required = true, offline_allowed = false, minimum_age = 18 }

[[rule]]
name = "age-restricted goods only to the recipient"
when = { age_restricted = true, method_in = ["neighbour", "safe_place"] }
then = { method_allowed = false }

[[rule]]
name = "neighbour signs"
when = { method_in = ["neighbour"] }
then = { signature_required = true }

[[rule]]
name = "safe place photo"
when = { method_in = ["safe_place"] }
then = { photo_required = true }

[[rule]]
name = "recipient opt-in"
when = { recipient_opt_in = true }
then = { code_required = true }

[[rule]]
name = "shipper requirement"
when = { shipper_requires_code = true }
then = { code_required = true }
"#;

impl Policy {
    /// Parses and checks a policy file's text.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let policy: Policy =
            toml::from_str(text).map_err(|e| PolicyError(e.message().to_string()))?;
        policy.check()?;
        Ok(policy)
    }

    /// Checks the limits a policy may not go past, naming the field and the allowed range:
    /// at least [`MIN_CODE_DIGITS`] random digits (NIST SP 800-63B §5.1.3: a look-up secret
    /// of fewer than 6 random digits is too easy to guess), at most [`MAX_ATTEMPTS`] attempts
    /// per code (with 6 digits and 10 attempts a guesser wins once in 100,000 parcels), and a
    /// validity of 1 to 7 days. [`Policy::from_toml`] runs it; the server runs it again at
    /// start for a policy built in code.
    pub fn check(&self) -> Result<(), PolicyError> {
        let digits_ok = |d: u8| (MIN_CODE_DIGITS..=MAX_CODE_DIGITS).contains(&d);
        let attempts_ok = |a: u32| (1..=MAX_ATTEMPTS).contains(&a);
        let days_ok = |d: u32| (1..=MAX_VALIDITY_DAYS).contains(&d);
        let digits_msg = |field: &str, d: u8| {
            format!(
                "{field} is {d}; it must be {MIN_CODE_DIGITS} to {MAX_CODE_DIGITS} random digits \
                 (NIST SP 800-63B asks for at least 6; the check digit comes on top)"
            )
        };
        let attempts_msg = |field: &str, a: u32| {
            format!("{field} is {a}; it must be 1 to {MAX_ATTEMPTS} attempts per code")
        };
        let days_msg = |field: &str, d: u32| {
            format!("{field} is {d}; it must be 1 to {MAX_VALIDITY_DAYS} days")
        };
        let d = &self.defaults;
        if !digits_ok(d.code_digits) {
            return Err(PolicyError(digits_msg(
                "defaults.code_digits",
                d.code_digits,
            )));
        }
        if !attempts_ok(d.max_attempts) {
            return Err(PolicyError(attempts_msg(
                "defaults.max_attempts",
                d.max_attempts,
            )));
        }
        if !days_ok(d.validity_days) {
            return Err(PolicyError(days_msg(
                "defaults.validity_days",
                d.validity_days,
            )));
        }
        if !(1..=5).contains(&d.max_delivery_attempts) {
            return Err(PolicyError(format!(
                "defaults.max_delivery_attempts is {}; it must be 1 to 5 failed attempts",
                d.max_delivery_attempts
            )));
        }
        for r in &self.rules {
            let field = |f: &str| format!("rule {:?}: {f}", r.name);
            if let Some(v) = &r.when.declared_value_at_least
                && parse_amount(v).is_none()
            {
                return Err(PolicyError(format!(
                    "{} is {v:?}, not an amount like \"500.00\"",
                    field("declared_value_at_least")
                )));
            }
            if let Some(n) = r.then.code_digits.filter(|n| !digits_ok(*n)) {
                return Err(PolicyError(digits_msg(&field("code_digits"), n)));
            }
            if let Some(n) = r.then.max_attempts.filter(|n| !attempts_ok(*n)) {
                return Err(PolicyError(attempts_msg(&field("max_attempts"), n)));
            }
            if let Some(n) = r.then.validity_days.filter(|n| !days_ok(*n)) {
                return Err(PolicyError(days_msg(&field("validity_days"), n)));
            }
            if let Some(n) = r
                .then
                .minimum_age
                .filter(|n| !(1..=MAX_MINIMUM_AGE).contains(n))
            {
                return Err(PolicyError(format!(
                    "{} is {n}; it must be 1 to {MAX_MINIMUM_AGE} years",
                    field("minimum_age")
                )));
            }
        }
        Ok(())
    }

    /// Decides for one parcel: the stop's terms (code, attempts, offline, photo) by the
    /// parcel's own method, and the steps at the door for that method and each alternative.
    pub fn decide(&self, facts: &ParcelFacts<'_>) -> Decision {
        let own = self.decide_method(facts, facts.method);
        let mut out = Decision {
            code_required: own.code_required,
            code_digits: own.code_digits,
            max_attempts: own.max_attempts,
            validity_days: own.validity_days,
            offline_allowed: own.offline_allowed,
            photo_required: own.door.photo_required,
            methods: Vec::new(),
            on_failure: own.on_failure,
            max_delivery_attempts: self.defaults.max_delivery_attempts,
            reasons: own.reasons.clone(),
        };
        // Into the recipient's own hands is always offered (with its own steps): it is the
        // strongest handover, and the customer may be home after all.
        let mut candidates = vec![facts.method];
        for m in facts
            .alternatives
            .iter()
            .chain([&DeliveryMethod::HandToRecipient])
        {
            if !candidates.contains(m) {
                candidates.push(*m);
            }
        }
        for method in candidates {
            let d = if method == facts.method {
                own.clone()
            } else {
                self.decide_method(facts, method)
            };
            let name = method_name(method);
            let refused = if !d.allowed {
                Some("the policy does not allow it".to_string())
            } else if d.door.code_required && !own.code_required {
                Some("it needs a code and the customer is sent none".to_string())
            } else if d.door.code_required
                && matches!(
                    method,
                    DeliveryMethod::SafePlace | DeliveryMethod::PickupPoint
                )
            {
                Some("it needs a code and nobody there has it".to_string())
            } else {
                None
            };
            if method != facts.method {
                for r in &d.reasons {
                    if !out.reasons.contains(r) && !r.starts_with("no rule") {
                        out.reasons.push(format!("{name}: {r}"));
                    }
                }
            }
            match refused {
                Some(why) => out.reasons.push(format!("{name} not offered: {why}")),
                None => out.methods.push(d.door),
            }
        }
        out
    }

    /// Whether the rules allow handing the parcel over by `method`, and whether that method
    /// needs the code at the door: the customer's page offers a method only when it is
    /// allowed and, for a safe place or a pickup point, needs no code.
    pub fn method_terms(&self, facts: &ParcelFacts<'_>, method: DeliveryMethod) -> (bool, bool) {
        let d = self.decide_method(facts, method);
        (d.allowed, d.door.code_required)
    }

    /// The rules' answer for one method.
    fn decide_method(&self, facts: &ParcelFacts<'_>, method: DeliveryMethod) -> MethodDecision {
        let facts = ParcelFacts {
            method,
            ..facts.clone()
        };
        let d = &self.defaults;
        let mut out = MethodDecision {
            code_required: d.code_required,
            code_digits: d.code_digits,
            max_attempts: d.max_attempts.min(MAX_ATTEMPTS),
            validity_days: d.validity_days,
            offline_allowed: d.offline_allowed,
            allowed: true,
            on_failure: d.on_failure,
            door: DoorMethod {
                code_required: d.code_required,
                photo_required: d.photo_required,
                signature_required: d.signature_required,
                ..DoorMethod::plain(method)
            },
            reasons: Vec::new(),
        };
        for rule in &self.rules {
            let Some(why) = matches(&rule.when, &facts) else {
                continue;
            };
            let t = &rule.then;
            let mut effects = Vec::new();
            let mut flag = |want: Option<bool>, field: &mut bool, text: &'static str| {
                if want == Some(true) {
                    *field = true;
                    effects.push(text.to_string());
                }
            };
            flag(t.code_required, &mut out.code_required, "code required");
            flag(
                t.photo_required,
                &mut out.door.photo_required,
                "photo required",
            );
            flag(
                t.signature_required,
                &mut out.door.signature_required,
                "signature required",
            );
            flag(
                t.open_box_check,
                &mut out.door.open_box_check,
                "open-box check",
            );
            flag(t.id_check, &mut out.door.id_check, "ID check");
            if t.offline_allowed == Some(false) {
                out.offline_allowed = false;
                effects.push("no offline handover".into());
            }
            if let Some(age) = t.minimum_age {
                out.door.minimum_age = out.door.minimum_age.max(Some(age));
                effects.push(format!("minimum age {age}"));
            }
            if t.on_failure == Some(OnFailure::Return) {
                out.on_failure = OnFailure::Return;
                effects.push("back to the depot after a failed attempt".into());
            }
            if t.method_allowed == Some(false) {
                out.allowed = false;
                effects.push(format!("not by {}", method_name(method)));
            }
            if let Some(n) = t.code_digits {
                out.code_digits = out.code_digits.max(n);
            }
            if let Some(n) = t.max_attempts {
                out.max_attempts = out.max_attempts.min(n);
            }
            if let Some(n) = t.validity_days {
                out.validity_days = out.validity_days.min(n);
            }
            let effects = if effects.is_empty() {
                String::new()
            } else {
                format!(" → {}", effects.join(", "))
            };
            out.reasons
                .push(format!("{}: {}{}", rule.name, why.join(" and "), effects));
        }
        out.door.code_required = out.code_required;
        if out.reasons.is_empty() {
            out.reasons.push(if out.code_required {
                "the fleet's default asks for a code".to_string()
            } else {
                "no rule asks for a code".to_string()
            });
        }
        out
    }
}

/// What the rules say for one method.
#[derive(Debug, Clone)]
struct MethodDecision {
    code_required: bool,
    code_digits: u8,
    max_attempts: u32,
    validity_days: u32,
    offline_allowed: bool,
    allowed: bool,
    on_failure: OnFailure,
    door: DoorMethod,
    reasons: Vec<String>,
}

/// The reasons a rule's conditions hold, or None if one fails.
fn matches(c: &Conditions, f: &ParcelFacts<'_>) -> Option<Vec<String>> {
    let mut why = Vec::new();
    if let Some(min) = &c.declared_value_at_least {
        let min = parse_amount(min)?;
        let value = f.declared_value_minor?;
        if let Some(cur) = &c.currency
            && !f.currency.is_some_and(|fc| fc.eq_ignore_ascii_case(cur))
        {
            return None;
        }
        if value < min {
            return None;
        }
        why.push(format!(
            "declared value {} ≥ {}",
            format_amount(value),
            format_amount(min)
        ));
    } else if let Some(cur) = &c.currency {
        if !f.currency.is_some_and(|fc| fc.eq_ignore_ascii_case(cur)) {
            return None;
        }
        why.push(format!("currency {cur}"));
    }
    if let Some(methods) = &c.method_in {
        if !methods.contains(&f.method) {
            return None;
        }
        why.push(format!("delivery method {}", method_name(f.method)));
    }
    if let Some(prefixes) = &c.postal_code_prefix_in {
        let p = prefixes
            .iter()
            .find(|p| f.postal_code.starts_with(p.as_str()))?;
        why.push(format!("postal code {} in area {p}", f.postal_code));
    }
    if let Some(area) = &c.near {
        let here = f.location?;
        let d = distance_km(here, (area.lat, area.lon));
        if !d.is_finite() || d > area.radius_km {
            return None;
        }
        why.push(format!(
            "location {d:.1} km from {:.4},{:.4} (within {} km)",
            area.lat, area.lon, area.radius_km
        ));
    }
    let flag = |want: Option<bool>, have: bool, text: &str, why: &mut Vec<String>| match want {
        None => Some(()),
        Some(w) if w == have => {
            why.push(if have {
                text.to_string()
            } else {
                format!("not {text}")
            });
            Some(())
        }
        Some(_) => None,
    };
    flag(
        c.age_restricted,
        f.age_restricted,
        "age-restricted goods",
        &mut why,
    )?;
    flag(
        c.recipient_opt_in,
        f.recipient_opt_in,
        "recipient asked for a code",
        &mut why,
    )?;
    flag(
        c.shipper_requires_code,
        f.shipper_requires_code,
        "shipper requires a code",
        &mut why,
    )?;
    if why.is_empty() {
        why.push("always".into());
    }
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(value: Option<i64>) -> ParcelFacts<'static> {
        ParcelFacts {
            declared_value_minor: value,
            currency: Some("EUR"),
            method: DeliveryMethod::HandToRecipient,
            postal_code: "1011",
            location: Some((52.3731, 4.8926)),
            age_restricted: false,
            recipient_opt_in: false,
            shipper_requires_code: false,
            alternatives: &[],
        }
    }

    #[test]
    fn high_value_needs_a_code_and_says_why() {
        let d = Policy::default().decide(&facts(Some(61200)));
        assert!(d.code_required && d.photo_required && d.offline_allowed);
        assert!(
            d.reasons[0].contains("declared value 612.00 ≥ 500.00"),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn cheap_parcel_needs_no_code() {
        let d = Policy::default().decide(&facts(Some(1999)));
        assert!(!d.code_required);
        assert_eq!(d.reasons, vec!["no rule asks for a code".to_string()]);
    }

    #[test]
    fn attempt_limits_above_10_are_refused_naming_the_field_and_range() {
        let err = Policy::from_toml("[defaults]\nmax_attempts = 11\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("defaults.max_attempts is 11; it must be 1 to 10"),
            "{err}"
        );
        assert!(Policy::from_toml("[defaults]\nmax_attempts = 10\n").is_ok());
    }

    #[test]
    fn the_built_in_policy_passes_its_own_checks() {
        Policy::default().check().unwrap();
    }

    #[test]
    fn the_readme_shows_the_built_in_policy_word_for_word() {
        assert!(include_str!("../../README.md").contains(DEFAULT_POLICY.trim()));
    }

    fn offered(d: &Decision) -> Vec<DeliveryMethod> {
        d.methods.iter().map(|m| m.method).collect()
    }

    #[test]
    fn each_method_gets_its_own_steps_and_the_reasons_say_why() {
        let alternatives = [DeliveryMethod::Neighbour, DeliveryMethod::SafePlace];
        let d = Policy::default().decide(&ParcelFacts {
            alternatives: &alternatives,
            ..facts(Some(1999))
        });
        assert_eq!(
            offered(&d),
            [
                DeliveryMethod::HandToRecipient,
                DeliveryMethod::Neighbour,
                DeliveryMethod::SafePlace
            ]
        );
        assert!(d.methods[1].signature_required && !d.methods[0].signature_required);
        assert!(d.methods[2].photo_required && !d.photo_required);
        assert!(
            d.reasons.iter().any(|r| r
                == "neighbour: neighbour signs: delivery method neighbour → signature required"),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn a_very_valuable_parcel_asks_for_the_open_box_check_and_a_signature_and_no_safe_place() {
        let alternatives = [DeliveryMethod::SafePlace];
        let d = Policy::default().decide(&ParcelFacts {
            alternatives: &alternatives,
            ..facts(Some(149_900))
        });
        assert_eq!(offered(&d), [DeliveryMethod::HandToRecipient]);
        assert!(d.methods[0].open_box_check && d.methods[0].signature_required);
        assert!(
            d.reasons
                .iter()
                .any(|r| r == "safe place not offered: it needs a code and nobody there has it"),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn age_restricted_goods_go_only_into_the_recipients_hands_at_the_minimum_age() {
        let alternatives = [DeliveryMethod::Neighbour, DeliveryMethod::SafePlace];
        let d = Policy::default().decide(&ParcelFacts {
            age_restricted: true,
            alternatives: &alternatives,
            ..facts(Some(4500))
        });
        assert_eq!(offered(&d), [DeliveryMethod::HandToRecipient]);
        assert_eq!(d.methods[0].minimum_age, Some(18));
        assert!(
            d.reasons
                .iter()
                .any(|r| r == "neighbour not offered: the policy does not allow it"),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn rules_for_an_id_check_and_a_higher_age_combine_strictly() {
        let policy = Policy::from_toml(
            "[[rule]]\nname = \"spirits\"\nwhen = { age_restricted = true }\nthen = { minimum_age = 21, id_check = true }\n\
             [[rule]]\nname = \"beer\"\nwhen = { age_restricted = true }\nthen = { minimum_age = 16 }\n",
        )
        .unwrap();
        let d = policy.decide(&ParcelFacts {
            age_restricted: true,
            ..facts(None)
        });
        assert_eq!(d.methods[0].minimum_age, Some(21));
        assert!(d.methods[0].id_check);
        let err =
            Policy::from_toml("[[rule]]\nname = \"x\"\nthen = { minimum_age = 40 }\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("minimum_age is 40; it must be 1 to 25 years"),
            "{err}"
        );
    }

    #[test]
    fn amounts_parse_to_minor_units() {
        assert_eq!(parse_amount("612.00"), Some(61200));
        assert_eq!(parse_amount("5.5"), Some(550));
        assert_eq!(parse_amount("-1"), None);
        assert_eq!(parse_amount("1.234"), None);
    }
}

#[cfg(test)]
mod area_tests {
    use super::*;

    #[test]
    fn a_rule_on_an_area_matches_parcels_inside_it_and_says_how_far() {
        let policy = Policy::from_toml(
            "[[rule]]\nname = \"city centre\"\nwhen = { near = { lat = 52.3731, lon = 4.8926, radius_km = 2.0 } }\nthen = { code_required = true }\n",
        )
        .unwrap();
        let facts = |loc| ParcelFacts {
            declared_value_minor: None,
            currency: None,
            method: DeliveryMethod::SafePlace,
            postal_code: "",
            location: loc,
            age_restricted: false,
            recipient_opt_in: false,
            shipper_requires_code: false,
            alternatives: &[],
        };
        let inside = policy.decide(&facts(Some((52.3702, 4.8952))));
        assert!(inside.code_required);
        assert!(
            inside.reasons[0].contains("km from 52.3731,4.8926 (within 2 km)"),
            "{:?}",
            inside.reasons
        );
        assert!(
            !policy.decide(&facts(Some((52.0907, 5.1214)))).code_required,
            "Utrecht is outside"
        );
        assert!(
            !policy.decide(&facts(None)).code_required,
            "no location, no match"
        );
    }
}
